//! Exchange rates from the dashboard: an expense in another currency than the account's is not
//! counted (the dashboard says so, the table marks it) until a rate entered on the profile
//! converts it (the table shows its value, the month's total includes it); a bad rate is refused
//! beside its field with what was sent; the ECB's rates turned on and off (never fetched here:
//! no network); the rate deleted, the notice back. At laptop and at phone width, nothing wider
//! than the window.

use chrono::Datelike as _;
use ledgerly_core::UserTimeZone;
use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

/// The value on the dashboard's "Total expenses" card.
async fn total(browser: &Browser) -> String {
    browser.wait_for(".cards").await;
    browser
        .execute(
            "const card = Array.from(document.querySelectorAll('.cards .stat')) \
             .find(c => c.querySelector('h2').textContent.trim() === 'Total expenses'); \
             return card ? card.querySelector('.value').textContent.trim() : null;",
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no Total expenses card"))
        .to_owned()
}

/// The amount cell of the expenses table's only row.
async fn amount(browser: &Browser) -> String {
    browser.wait_for("#expenses-table").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 1);
    browser.text("#expenses-table tbody tr td.num").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expense_in_another_currency_counts_once_a_rate_converts_it() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    for (width, name, email) in [
        (1280, "Ines", "ines@example.com"),
        (375, "Omar", "omar@example.com"),
    ] {
        rates_at(&browser, width, name, email).await;
    }
    browser.set_width(1280).await;
    browser.close().await;
    server.stop().await;
}

/// The whole story at `width` px, for a new account (in INR).
async fn rates_at(browser: &Browser, width: u32, name: &str, email: &str) {
    browser.set_width(width).await;
    browser.sign_up(name, email).await;
    assert_eq!(
        browser.count(".not-counted").await,
        0,
        "no notice while every expense counts"
    );

    // 10 USD, added in the drawer: no rate converts it, so the month's figures leave it out and
    // say so; the table shows it in dollars, marked.
    browser.goto("/dashboard?add=manual").await;
    browser.wait_for("#add-currency").await;
    assert_eq!(browser.value("#add-currency").await, "INR");
    browser
        .fill_form(
            "add",
            &[
                ("vendor", "Airport taxi"),
                ("amount", "10"),
                ("currency", "USD"),
            ],
        )
        .await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_text(".notice", "Expense added").await;
    browser.wait_text(".not-counted", "Not counted").await;
    let notice = browser.text(".not-counted").await;
    assert!(
        notice.contains("1 expense in USD ($10.00) has no exchange rate for its day"),
        "{notice}"
    );
    assert_eq!(
        browser.attr(".not-counted a", "href").await.as_deref(),
        Some("/profile#rates")
    );
    let cell = amount(browser).await;
    assert!(
        cell.contains("$10.00") && cell.contains("no rate"),
        "{cell}"
    );
    assert_eq!(total(browser).await, "₹0");
    browser.screenshot("dashboard-not-counted", width).await;
    browser.assert_fits("/dashboard (not counted)").await;

    // The notice leads to the profile's card: nothing fetched, no rates, the new rate from
    // today.
    browser.click(".not-counted a").await;
    browser.wait_url("/profile").await;
    browser.wait_text("#rates h2", "Exchange rates").await;
    let card = browser.text("#rates").await;
    assert!(card.contains("Not fetched yet."), "{card}");
    assert!(card.contains("No rates of your own yet."), "{card}");
    assert_eq!(browser.count("#rates-ecb-enabled:checked").await, 0);
    let today = UserTimeZone::KOLKATA.today();
    let first = today.with_day(1).unwrap();
    assert_eq!(browser.value("#new-rate-date").await, today.to_string());

    // A rate that is not a number, then one of zero: each refused beside its field, what was
    // sent kept.
    let form = "form[action='/profile/rates']";
    browser
        .fill_form("new-rate", &[("currency", "USD"), ("rate", "abc")])
        .await;
    browser.set_date("#new-rate-date", &first.to_string()).await;
    browser.submit(form).await;
    browser.wait_for("#new-rate-rate-error").await;
    assert!(
        browser
            .text("#new-rate-rate-error")
            .await
            .contains("is not a rate")
    );
    assert_eq!(
        browser
            .attr("#new-rate-rate", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    assert_eq!(browser.count("#new-rate-currency-error").await, 0);
    assert_eq!(browser.value("#new-rate-currency").await, "USD");
    assert_eq!(browser.value("#new-rate-rate").await, "abc");
    assert_eq!(browser.value("#new-rate-date").await, first.to_string());
    browser.screenshot("profile-rates-error", width).await;
    browser.assert_fits("/profile (a refused rate)").await;
    browser.fill("#new-rate-rate", "0").await;
    browser.submit(form).await;
    browser
        .wait_text("#new-rate-rate-error", "greater than zero")
        .await;
    assert_eq!(browser.value("#new-rate-currency").await, "USD");
    assert_eq!(browser.value("#new-rate-rate").await, "0");
    assert_eq!(browser.value("#new-rate-date").await, first.to_string());
    // Refused with 422, as the other forms are.
    let token = browser.csrf().await;
    let (status, body) = browser
        .fetch(
            "POST",
            "/profile/rates",
            Some(&format!("_csrf={token}&currency=USD&rate=abc&date={first}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("new-rate-rate-error"), "{body}");

    // 1 USD = 80 INR from the start of the month: saved, listed, the form empty again.
    browser.fill("#new-rate-rate", "80").await;
    browser.submit(form).await;
    browser.wait_text(".notice", "Rate saved").await;
    browser.wait_url("/profile?done=rate").await;
    let listed = browser.text("#rates .rate-list").await;
    assert!(
        listed.contains(&format!("1 USD = 80 INR from {first}")),
        "{listed}"
    );
    assert_eq!(browser.value("#new-rate-rate").await, "");
    assert_eq!(browser.value("#new-rate-date").await, today.to_string());
    let inline = browser
        .execute("return document.querySelectorAll('script:not([src]), style, [style]').length")
        .await;
    assert_eq!(inline, json!(0), "no inline script or style");
    browser.screenshot("profile-rates", width).await;
    browser.assert_fits("/profile (a rate)").await;

    // The dashboard counts it: no notice, its value in rupees in the table and in the total.
    browser.goto("/dashboard").await;
    let cell = amount(browser).await;
    assert!(cell.contains("$10.00") && cell.contains("≈ ₹800"), "{cell}");
    assert!(!cell.contains("no rate"), "{cell}");
    assert_eq!(browser.count(".not-counted").await, 0);
    assert_eq!(total(browser).await, "₹800");
    browser.screenshot("dashboard-rates", width).await;
    browser.assert_fits("/dashboard (a converted amount)").await;

    // The ECB's rates on, then off: saved each time, never fetched here.
    browser.goto("/profile").await;
    let ecb = "form[action='/profile/rates/ecb']";
    browser.tap("#rates-ecb-enabled").await;
    browser.submit(ecb).await;
    browser.wait_text(".notice", "ECB rates on").await;
    assert_eq!(browser.count("#rates-ecb-enabled:checked").await, 1);
    assert!(
        browser
            .text("#rates-ecb-status")
            .await
            .contains("Not fetched yet.")
    );
    browser.tap("#rates-ecb-enabled").await;
    browser.submit(ecb).await;
    browser.wait_text(".notice", "ECB rates off").await;
    assert_eq!(browser.count("#rates-ecb-enabled:checked").await, 0);

    // Deleted: gone from the list, and the expense is not counted again.
    browser
        .submit("#rates form[action='/profile/rates/delete']")
        .await;
    browser.wait_text(".notice", "Rate deleted").await;
    assert!(
        browser
            .text("#rates")
            .await
            .contains("No rates of your own yet.")
    );
    // A rate that is not there (any more) is the 404 page.
    let token = browser.csrf().await;
    let (status, _) = browser
        .fetch(
            "POST",
            "/profile/rates/delete",
            Some(&format!("_csrf={token}&base=USD&quote=INR&date={first}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 404);
    browser.goto("/dashboard").await;
    browser
        .wait_text(".not-counted", "1 expense in USD ($10.00)")
        .await;
    assert!(amount(browser).await.contains("no rate"));
    assert_eq!(total(browser).await, "₹0");

    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
}
