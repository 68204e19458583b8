//! A backup from the dashboard: the profile offers the download, and the import page takes a
//! backup made by another account, restores it onto the dashboard, and the same backup again is
//! all duplicates; a broken one is refused beside the field. At phone width too.

use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_offered_on_the_profile_and_restored_through_the_import_page() {
    let server = Server::start().await;
    // Priya's account, made through the API, and its backup.
    let priya = server.register("priya@example.com").await;
    for (date, vendor, amount) in [
        ("2026-03-02", "Corner Bakery", "4.85"),
        ("2026-03-04", "Book Nook", "12.00"),
    ] {
        priya
            .post(
                "/api/v1/expenses",
                json!({"date": date, "category": "food", "vendor": vendor, "amount": amount,
                       "tags": ["restored"]}),
            )
            .await;
    }
    let zip = priya.get_bytes("/api/v1/export.zip").await;
    let backup = server.write_file("ledgerly-backup.zip", &zip);
    let broken = server.write_file("broken.zip", b"PK\x03\x04 but nothing after");

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

    // The profile offers this account's backup.
    browser.goto("/profile").await;
    browser.wait_for("#backup").await;
    assert_eq!(
        browser.attr("#download-backup", "href").await.as_deref(),
        Some("/api/v1/export.zip")
    );

    // A broken backup is refused beside the field.
    browser.goto("/import").await;
    browser.wait_text("h1", "Import a CSV or a backup").await;
    browser.choose_file("#import-file", &broken).await;
    browser.submit("form.import-upload").await;
    browser.wait_for("#import-file-error").await;
    let error = browser.text("#import-file-error").await;
    assert!(
        error.contains("not a backup Ledgerly can restore"),
        "{error}"
    );

    // Priya's backup lands on Ravi's dashboard at once.
    browser.choose_file("#import-file", &backup).await;
    browser.submit("form.import-upload").await;
    browser.wait_url("/dashboard").await;
    browser.wait_text(".notice", "Imported 2 expenses.").await;
    let table = browser.text("#expenses-table").await;
    assert!(
        table.contains("Corner Bakery") && table.contains("Book Nook"),
        "{table}"
    );

    // Again: nothing doubles.
    browser.goto("/import").await;
    browser.choose_file("#import-file", &backup).await;
    browser.submit("form.import-upload").await;
    browser.wait_url("/dashboard").await;
    browser
        .wait_text(".notice", "Imported 0 expenses (2 duplicates skipped).")
        .await;

    // At phone width, nothing wider than the window.
    browser.set_width(375).await;
    for (path, name) in [("/import", "import-backup"), ("/profile", "profile-backup")] {
        browser.goto(path).await;
        browser.screenshot(name, 375).await;
        browser.assert_fits(path).await;
    }
    browser.set_width(1280).await;

    browser.close().await;
    server.stop().await;
}
