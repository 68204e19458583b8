//! Recurring expenses from the dashboard: a monthly one started two months back makes what fell
//! due at once (the table marks its expenses, the upcoming panel lists the next one); its next
//! date skipped and the skip taken back; its amount changed for the expenses it already made
//! too; paused and resumed; a bad form refused beside its fields; deleted, its expenses staying.
//! At laptop and at phone width, nothing wider than the window.

use chrono::{Duration, Months, NaiveDate};
use ledgerly_core::UserTimeZone;
use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

/// A date as the pages write it: `05 Apr 2026`.
fn shown(date: NaiveDate) -> String {
    date.format("%d %b %Y").to_string()
}

/// The number of rows in the expenses table.
async fn rows(browser: &Browser) -> usize {
    browser.wait_for("#expenses-table").await;
    browser.count("#expenses-table tbody tr").await
}

/// How many rows of the expenses table carry the recurring mark.
async fn marked(browser: &Browser) -> usize {
    browser.wait_for("#expenses-table").await;
    browser
        .count("#expenses-table td.vendor a.recurring-badge")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recurring_expense_is_made_skipped_changed_paused_and_deleted_from_the_dashboard() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    for (width, name, email) in [
        (1280, "Rhea", "rhea@example.com"),
        (375, "Sam", "sam@example.com"),
    ] {
        recurring_at(&browser, width, name, email).await;
    }
    browser.set_width(1280).await;
    browser.close().await;
    server.stop().await;
}

/// The whole story at `width` px, for a new account.
async fn recurring_at(browser: &Browser, width: u32, name: &str, email: &str) {
    browser.set_width(width).await;
    browser.sign_up(name, email).await;
    assert_eq!(
        browser.count(".upcoming").await,
        0,
        "no panel without recurring expenses"
    );

    // The navigation leads to the page: nothing recurs yet, and the form's defaults are every
    // month from today, in the account's currency.
    browser.click_link("Recurring").await;
    browser.wait_url_is("/recurring").await;
    browser.wait_text("h1", "Recurring expenses").await;
    assert_eq!(
        browser
            .attr(".topbar nav a[href='/recurring']", "aria-current")
            .await
            .as_deref(),
        Some("page")
    );
    assert!(browser.text("#recurring").await.contains("None yet"));
    let today = UserTimeZone::KOLKATA.today();
    assert_eq!(browser.value("#new-every").await, "1");
    assert_eq!(browser.value("#new-unit").await, "month");
    assert_eq!(browser.value("#new-currency").await, "INR");
    assert_eq!(browser.value("#new-starts_on").await, today.to_string());

    // Monthly from two months (and five days) back: three dates have come, the fourth is within
    // the upcoming panel's 30 days whatever the month's length.
    let starts = (today - Duration::days(5))
        .checked_sub_months(Months::new(2))
        .unwrap();
    let next = starts.checked_add_months(Months::new(3)).unwrap();
    let after = starts.checked_add_months(Months::new(4)).unwrap();
    browser
        .fill_form(
            "new",
            &[
                ("vendor", "Cloud Storage"),
                ("amount", "1500"),
                ("note", "Team plan"),
            ],
        )
        .await;
    browser.select("#new-category", "work").await;
    browser.select("#new-unit", "month(s)").await;
    browser
        .set_date("#new-starts_on", &starts.to_string())
        .await;
    browser.submit("form[action='/recurring']").await;
    browser
        .wait_text(".notice", "Made 3 expenses up to today")
        .await;
    browser.wait_url_is("/recurring?done=created&made=3").await;
    assert_eq!(browser.count(".recurring-list li.recurring").await, 1);
    let id = browser
        .attr(".recurring-list li.recurring", "data-recurring")
        .await
        .unwrap();
    let rule = format!("#recurring-{id}");
    let text = browser.text(&rule).await;
    for expected in [
        "Cloud Storage".to_owned(),
        "₹1,500.00".to_owned(),
        "work".to_owned(),
        "Every month on the".to_owned(),
        "Team plan".to_owned(),
        format!("Next: {}", shown(next)),
        "3 expenses made".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected} is not in {text}");
    }
    assert_eq!(
        browser
            .text(&format!("form[action='/recurring/{id}/skip'] button"))
            .await,
        format!("Skip next ({})", shown(next))
    );
    let inline = browser
        .execute("return document.querySelectorAll('script:not([src]), style, [style]').length")
        .await;
    assert_eq!(inline, json!(0), "no inline script or style");
    browser.screenshot("recurring", width).await;
    browser.assert_fits("/recurring").await;

    // The dashboard: its three expenses, each marked, and its next date coming up.
    browser.goto("/dashboard").await;
    assert_eq!(rows(browser).await, 3);
    assert_eq!(marked(browser).await, 3);
    let mark = "#expenses-table a.recurring-badge";
    assert_eq!(
        browser.attr(mark, "title").await.as_deref(),
        Some("Made by a recurring expense")
    );
    assert_eq!(
        browser.attr(mark, "aria-label").await.as_deref(),
        Some("Made by a recurring expense")
    );
    assert_eq!(
        browser.attr(mark, "href").await.as_deref(),
        Some("/recurring")
    );
    let table = browser.text("#expenses-table").await;
    assert_eq!(table.matches("Cloud Storage").count(), 3, "{table}");
    assert_eq!(table.matches("₹1,500.00").count(), 3, "{table}");
    browser.wait_text(".upcoming h2", "Upcoming").await;
    assert_eq!(browser.count(".upcoming-list li").await, 1);
    let coming = browser.text(".upcoming-list li").await;
    for expected in [shown(next), "Cloud Storage".to_owned(), "₹1,500".to_owned()] {
        assert!(coming.contains(&expected), "{expected} is not in {coming}");
    }
    assert_eq!(browser.count(".upcoming-list li.skipped").await, 0);
    browser.screenshot("dashboard-upcoming", width).await;
    browser.assert_fits("/dashboard").await;

    // Skip the next date: listed as skipped on the page and marked in the panel; the one after
    // is next.
    browser.click_link("Manage recurring").await;
    browser.wait_url_is("/recurring").await;
    browser
        .submit(&format!("form[action='/recurring/{id}/skip']"))
        .await;
    browser.wait_text(".notice", "Skipped").await;
    let skips = browser.text(&format!("{rule} .recurring-skips")).await;
    assert!(skips.contains(&shown(next)), "{skips}");
    assert_eq!(
        browser
            .attr(&format!("{rule} .skip-list button"), "aria-label")
            .await,
        Some(format!("Unskip {}", shown(next)))
    );
    assert!(
        browser
            .text(&rule)
            .await
            .contains(&format!("Next: {}", shown(after)))
    );
    browser.screenshot("recurring-skipped", width).await;
    browser.assert_fits("/recurring (a skipped date)").await;
    browser.goto("/dashboard").await;
    browser.wait_for(".upcoming-list li.skipped").await;
    let skipped = browser.text(".upcoming-list li.skipped").await;
    assert!(
        skipped.contains(&shown(next)) && skipped.contains("Skipped"),
        "{skipped}"
    );

    // Take the skip back: the date is the next again.
    browser.goto("/recurring").await;
    browser
        .submit(&format!("{rule} form[action='/recurring/{id}/unskip']"))
        .await;
    browser.wait_text(".notice", "Skip taken back").await;
    assert_eq!(browser.count(&format!("{rule} .recurring-skips")).await, 0);
    assert!(
        browser
            .text(&rule)
            .await
            .contains(&format!("Next: {}", shown(next)))
    );

    // Edit: a bad amount is refused beside its field, the form open with what was sent; then a
    // new amount for the expenses already made from the first date on too.
    let amount = format!("#edit-{id}-amount");
    let edit = format!("form[action='/recurring/{id}']");
    browser
        .tap(&format!("{rule} details.recurring-edit summary"))
        .await;
    assert_eq!(browser.value(&amount).await, "1500.00");
    browser.fill(&amount, "lots").await;
    browser.submit(&edit).await;
    browser.wait_for(&format!("#edit-{id}-amount-error")).await;
    assert_eq!(
        browser
            .count(&format!("{rule} details.recurring-edit[open]"))
            .await,
        1
    );
    assert_eq!(browser.value(&amount).await, "lots");
    assert_eq!(
        browser.attr(&amount, "aria-invalid").await.as_deref(),
        Some("true")
    );
    browser.screenshot("recurring-edit-error", width).await;
    browser.assert_fits("/recurring (the edit form)").await;
    browser.fill(&amount, "1650").await;
    browser
        .set_date(&format!("#edit-{id}-from"), &starts.to_string())
        .await;
    browser.submit(&edit).await;
    browser.wait_text(".notice", "Changed 3 expenses").await;
    assert!(browser.text(&rule).await.contains("₹1,650.00"));
    browser.goto("/dashboard").await;
    let table = browser.text("#expenses-table").await;
    assert_eq!(table.matches("₹1,650.00").count(), 3, "{table}");
    assert!(!table.contains("₹1,500.00"), "{table}");
    assert!(browser.text(".upcoming-list").await.contains("₹1,650"));

    // Pause: no next date, nothing coming; resume: the next date is back.
    browser.goto("/recurring").await;
    browser
        .submit(&format!("form[action='/recurring/{id}/pause']"))
        .await;
    browser.wait_text(".notice", "Paused").await;
    browser
        .wait_text(&format!("{rule} .recurring-state"), "Paused")
        .await;
    assert_eq!(
        browser
            .count(&format!("form[action='/recurring/{id}/skip']"))
            .await,
        0
    );
    browser.goto("/dashboard").await;
    browser.wait_for("#expenses-table").await;
    assert_eq!(
        browser.count(".upcoming").await,
        0,
        "a paused one makes nothing"
    );
    browser.goto("/recurring").await;
    browser
        .submit(&format!("form[action='/recurring/{id}/resume']"))
        .await;
    browser.wait_text(".notice", "Resumed").await;
    let text = browser.text(&rule).await;
    assert!(
        text.contains(&format!("Next: {}", shown(next))) && text.contains("3 expenses made"),
        "{text}"
    );

    // A bad new one: each field's problem beside it, what was typed kept; nothing recorded.
    browser
        .fill_form(
            "new",
            &[("vendor", "Gym"), ("amount", "abc"), ("every", "0")],
        )
        .await;
    browser.submit("form[action='/recurring']").await;
    browser.wait_for("#new-amount-error").await;
    assert!(!browser.text("#new-amount-error").await.is_empty());
    assert!(browser.text("#new-every-error").await.contains("1 or more"));
    for input in ["#new-amount", "#new-every"] {
        assert_eq!(
            browser.attr(input, "aria-invalid").await.as_deref(),
            Some("true"),
            "{input}"
        );
    }
    assert_eq!(browser.value("#new-vendor").await, "Gym");
    assert_eq!(browser.value("#new-amount").await, "abc");
    assert_eq!(browser.count(".recurring-list li.recurring").await, 1);
    browser.screenshot("recurring-errors", width).await;
    browser.assert_fits("/recurring (errors)").await;

    // Delete, after the dialog says what stays: the expenses, no longer marked.
    browser
        .click(&format!("a[href='/recurring?delete={id}']"))
        .await;
    browser.wait_for(".dialog").await;
    assert!(
        browser
            .text(".dialog")
            .await
            .contains("The 3 expenses it already made stay.")
    );
    browser
        .submit(&format!(".dialog form[action='/recurring/{id}/delete']"))
        .await;
    browser
        .wait_text(".notice", "Recurring expense deleted")
        .await;
    assert!(browser.text("#recurring").await.contains("None yet"));
    browser.goto("/dashboard").await;
    assert_eq!(rows(browser).await, 3);
    assert_eq!(marked(browser).await, 0);
    assert_eq!(browser.count(".upcoming").await, 0);
    assert_eq!(
        browser
            .text("#expenses-table")
            .await
            .matches("Cloud Storage")
            .count(),
        3
    );

    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
}
