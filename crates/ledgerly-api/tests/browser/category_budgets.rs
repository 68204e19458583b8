//! Budgets per category: set beside each category on the profile, shown on the dashboard with
//! the share used and a warning from four fifths of it on, at phone width too; cleared, gone.

use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

/// A food budget set on the categories (a bad amount refused beside its field first), spent past
/// four fifths and then past the whole of it as the dashboard shows it; cleared, the dashboard
/// lists it no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_budget_warns_on_the_dashboard_and_goes_when_cleared() {
    let server = Server::start().await;
    let api = server.register("meera@example.com").await;
    let categories = api.get("/api/v1/categories").await;
    let food = categories
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "food")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let input = format!("#category-{food}-budget");
    let form = format!("form[action='/profile/categories/{food}/budget']");

    let browser = Browser::open(&server.url).await;
    browser.goto("/").await;
    browser
        .fill_form(
            "login",
            &[
                ("email", "meera@example.com"),
                ("password", "correct horse"),
            ],
        )
        .await;
    browser.click("form[action='/login'] button").await;
    browser.wait_url("/dashboard").await;
    // No budgets yet: only a line to where they are set.
    browser
        .wait_text(".budgets-empty", "Set a monthly budget per category")
        .await;
    assert_eq!(browser.count(".budgets").await, 0);

    // A bad amount is refused beside its field and kept; then one that reads is saved, and the
    // field shows the budget in force.
    browser
        .click_link("Set a monthly budget per category")
        .await;
    browser.wait_url("/profile").await;
    browser.fill(&input, "lots").await;
    browser.submit(&form).await;
    browser
        .wait_for(&format!("#category-{food}-budget-error"))
        .await;
    assert_eq!(
        browser.attr(&input, "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser.value(&input).await,
        "lots",
        "the amount sent is kept"
    );
    browser.fill(&input, "1000").await;
    browser.submit(&form).await;
    browser.wait_text(".notice", "Budget saved").await;
    assert_eq!(browser.value(&input).await, "1000.00");

    // 85% of it spent on food; entertainment has no budget and is not listed.
    for (vendor, amount, category) in [
        ("Green grocer", "600.00", "food"),
        ("Bakery", "250.00", "food"),
        ("Cinema", "900.00", "entertainment"),
    ] {
        api.post(
            "/api/v1/expenses",
            json!({"date": server.today(), "vendor": vendor, "amount": amount, "category": category}),
        )
        .await;
    }
    browser.goto("/dashboard").await;
    browser
        .wait_text(".budgets h2", "Budgets by category")
        .await;
    assert_eq!(browser.count(".budget-list li").await, 1);
    let row = browser.text(".budget-list li").await;
    assert!(row.contains("food"), "{row}");
    assert!(row.contains("₹850 of ₹1,000"), "{row}");
    assert!(row.contains("85% used · ₹150 left"), "{row}");
    assert!(
        row.contains("Nearly spent"),
        "the warning has a word: {row}"
    );
    assert_eq!(browser.count(".budget.warning").await, 1);
    assert_eq!(
        browser.attr(".budget-used", "width").await.as_deref(),
        Some("85.00")
    );
    browser.screenshot("dashboard-budgets", 1280).await;

    // Past the whole budget: the exact share and how far over; the bar stops at its end.
    api.post(
        "/api/v1/expenses",
        json!({"date": server.today(), "vendor": "Caterer", "amount": "400.00", "category": "food"}),
    )
    .await;
    browser.goto("/dashboard").await;
    let row = browser.text(".budget-list li").await;
    assert!(row.contains("125% used — ₹250 over"), "{row}");
    assert!(row.contains("Over budget"), "{row}");
    assert_eq!(browser.count(".budget.over").await, 1);
    assert_eq!(
        browser.attr(".budget-used", "width").await.as_deref(),
        Some("100.00")
    );
    let inline = browser
        .execute("return document.querySelectorAll('script:not([src]), style, [style]').length")
        .await;
    assert_eq!(inline, json!(0), "the bar is sized without inline style");

    // At phone width, nothing wider than the window, here or on the categories.
    browser.set_width(375).await;
    for (path, name) in [
        ("/dashboard", "dashboard-budgets"),
        ("/profile", "profile-budgets"),
    ] {
        browser.goto(path).await;
        browser.screenshot(name, 375).await;
        browser.assert_fits(path).await;
    }
    browser.set_width(1280).await;

    // Cleared: no budget from this month on, and the dashboard lists none.
    browser.goto("/profile").await;
    assert_eq!(browser.value(&input).await, "1000.00");
    browser.fill(&input, "").await;
    browser.submit(&form).await;
    browser.wait_text(".notice", "Budget removed").await;
    assert_eq!(browser.value(&input).await, "");
    browser.goto("/dashboard").await;
    browser.wait_for(".budgets-empty").await;
    assert_eq!(browser.count(".budget-list li").await, 0);

    browser.close().await;
    server.stop().await;
}
