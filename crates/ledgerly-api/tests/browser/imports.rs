//! Importing a CSV from the dashboard: an empty file refused beside the field, a bank statement
//! previewed (detected settings, ready rows, money in rejected with its line), its default
//! category changed, committed onto the dashboard; the same file again is all duplicates and is
//! cancelled. At phone width too.

use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

/// A bank's statement: money out and money in in two columns, day-first dates (the 14th and
/// the 20th tell), and one row of money in.
const STATEMENT: &str = "Date,Description,Money Out,Money In\n\
                         02/03/2026,Corner Bakery,4.85,\n\
                         03/03/2026,Salary ACME LTD,,2500.00\n\
                         14/03/2026,Metro Card Topup,23.10,\n\
                         20/03/2026,Book Nook,12.00,\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_statement_is_previewed_corrected_and_imported_onto_the_dashboard() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    browser.goto("/").await;
    browser
        .fill_form(
            "signup",
            &[
                ("name", "Ravi"),
                ("email", "ravi@example.com"),
                ("password", "correct horse"),
                ("budget", "40000"),
                ("currency", "INR"),
                ("timezone", "Asia/Kolkata"),
            ],
        )
        .await;
    browser.click("form[action='/signup'] button").await;
    browser.wait_url("/dashboard").await;
    assert_eq!(
        browser
            .count("#expenses-title + .actions a[href='/import']")
            .await,
        1,
        "the table links to the import beside its export"
    );

    // The navigation leads to the upload page.
    browser.click_link("Import").await;
    browser.wait_url_is("/import").await;
    browser.wait_text("h1", "Import a CSV").await;
    assert_eq!(
        browser
            .attr(".topbar nav a[href='/import']", "aria-current")
            .await
            .as_deref(),
        Some("page")
    );
    assert!(
        browser
            .text("main")
            .await
            .contains("Nothing is recorded until you confirm")
    );

    // An empty file is refused beside the field; the page is the upload page still.
    let empty = server.write_file("empty.csv", b"");
    browser.choose_file("#import-file", &empty).await;
    browser.submit("form.import-upload").await;
    browser.wait_for("#import-file-error").await;
    let error = browser.text("#import-file-error").await;
    assert!(error.to_lowercase().contains("empty"), "{error}");
    assert_eq!(
        browser
            .attr("#import-file", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    browser.wait_url_is("/import").await;
    browser.screenshot("import-error", 1280).await;

    // The statement: its preview shows what was detected, the rows to import and the row of
    // money in, with its line.
    let statement = server.write_file("statement.csv", STATEMENT.as_bytes());
    browser.choose_file("#import-file", &statement).await;
    browser.submit("form.import-upload").await;
    browser.wait_url("/import/").await;
    browser.wait_for("#import-ready").await;
    let preview = browser.url().await;
    assert!(browser.text("main").await.contains("statement.csv"));
    assert_eq!(browser.value("#settings-delimiter").await, "comma");
    assert_eq!(browser.value("#settings-date_order").await, "dmy");
    assert_eq!(browser.value("#settings-header_row").await, "1");
    assert_eq!(browser.value("#settings-column_debit").await, "2");
    assert_eq!(browser.value("#settings-column_credit").await, "3");
    assert_eq!(browser.text(".import-counts li.ready").await, "3 ready");
    let ready = browser.text("#import-ready").await;
    for shown in [
        "Corner Bakery",
        "Metro Card Topup",
        "Book Nook",
        "₹4.85",
        "14 Mar 2026",
        "other",
    ] {
        assert!(ready.contains(shown), "{shown} is not in {ready}");
    }
    assert!(!ready.contains("Salary"), "{ready}");
    let rejected = browser.text("#import-rejected tbody tr").await;
    assert!(rejected.starts_with('3'), "line 3: {rejected}");
    assert!(rejected.contains("money in"), "{rejected}");
    assert!(
        browser.text(".import-commit-card").await.contains("other"),
        "the new category is named"
    );
    let inline = browser
        .execute("return document.querySelectorAll('script:not([src]), style, [style]').length")
        .await;
    assert_eq!(inline, json!(0), "no inline script or style");
    browser.screenshot("import-preview", 1280).await;

    // Settings that do not pass are named on the form, which keeps what was chosen; the
    // preview stays as it was.
    browser.select("#settings-date_order", "MM/DD/YYYY").await;
    browser.fill("#settings-default_category", "").await;
    browser.submit("form.import-settings").await;
    browser.wait_for("#settings-default_category-error").await;
    assert_eq!(browser.value("#settings-date_order").await, "mdy");
    assert!(browser.text("#import-ready").await.contains("14 Mar 2026"));

    // An existing category as the default: the rows show it, and nothing new is created.
    browser.select("#settings-date_order", "DD/MM/YYYY").await;
    browser.fill("#settings-default_category", "food").await;
    browser.submit("form.import-settings").await;
    browser.wait_text("#import-ready", "food").await;
    assert!(!browser.text("#import-ready").await.contains("other"));
    assert_eq!(browser.value("#settings-default_category").await, "food");
    assert!(
        !browser
            .text(".import-commit-card")
            .await
            .contains("creates")
    );

    // At phone width, nothing wider than the window.
    browser.set_width(375).await;
    for (path, name) in [("/import", "import"), (preview.as_str(), "import-preview")] {
        browser.goto(path).await;
        browser.screenshot(name, 375).await;
        browser.assert_fits(path).await;
    }
    browser.set_width(1280).await;

    // An import that is not there (or is someone else's) is the usual not-found page.
    for path in [
        "/import/0190a8c4-0000-7000-8000-000000000000",
        "/import/not-an-id",
    ] {
        browser.goto(path).await;
        assert!(browser.text("main").await.contains("not found"), "{path}");
    }

    // The commit: the dashboard says how many and lists them.
    browser.goto(&preview).await;
    assert_eq!(
        browser.text("form.import-commit button").await,
        "Import 3 expenses"
    );
    browser.submit("form.import-commit").await;
    browser.wait_url("/dashboard").await;
    browser.wait_text(".notice", "Imported 3 expenses").await;
    let table = browser.text("#expenses-table").await;
    for vendor in ["Corner Bakery", "Metro Card Topup", "Book Nook"] {
        assert!(table.contains(vendor), "{vendor} is not in {table}");
    }
    assert!(!table.contains("Salary"), "{table}");

    // The import's page now says what it did; a second commit is refused.
    browser.goto(&preview).await;
    browser
        .wait_text(".import-done h2", "Done: 3 expenses imported")
        .await;
    assert_eq!(browser.count(".import-done a[href='/dashboard']").await, 1);
    let path = preview.trim_start_matches(&server.url).to_owned();
    let token = browser.csrf().await;
    let (status, body) = browser
        .fetch(
            "POST",
            &format!("{path}/commit"),
            Some(&format!("_csrf={token}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("committed already"), "{body}");
    browser.goto("/dashboard").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 3);

    // The same statement again: read as the last one was, every row already recorded; cancelled,
    // nothing changes.
    browser.goto("/import").await;
    browser.choose_file("#import-file", &statement).await;
    browser.submit("form.import-upload").await;
    browser.wait_for("#import-duplicates").await;
    assert!(
        browser
            .text(".import-remembered")
            .await
            .contains("remembered")
    );
    assert_eq!(browser.value("#settings-default_category").await, "food");
    assert!(
        browser
            .text("#import-duplicates")
            .await
            .contains("Corner Bakery")
    );
    assert_eq!(browser.text(".import-counts li.ready").await, "0 ready");
    browser.submit("form.import-cancel").await;
    browser.wait_url("/import?done=import-cancelled").await;
    browser.wait_text(".notice", "Import cancelled").await;
    browser.goto("/dashboard").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 3);

    browser.close().await;
    server.stop().await;
}
