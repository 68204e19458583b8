//! Duplicate receipts on the dashboard: the very same file uploaded again leads to the receipt
//! the account has, with a notice; another photo of the same bill is read, and its review names
//! the expense the account has (both shown), whose link opens it, and "Delete this one" removes
//! the new one. At laptop and at phone width, nothing wider than the window.

use crate::browser::Browser;
use crate::server::{Server, another_receipt_png, receipt_png};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_twice_is_caught_and_a_second_photo_is_flagged_in_review() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    for (width, name, email) in [
        (1280, "Ines", "ines@example.com"),
        (375, "Omar", "omar@example.com"),
    ] {
        duplicates_at(&server, &browser, width, name, email).await;
    }
    browser.set_width(1280).await;
    browser.close().await;
    server.stop().await;
}

/// Uploads `file` from the dashboard's drawer and waits to be sent to its receipt.
async fn upload(browser: &Browser, file: &std::path::Path) -> String {
    browser.goto("/dashboard?add=receipt").await;
    browser.wait_for("#upload-file").await;
    browser.send_file("#upload-file", file).await;
    browser.wait_url("receipt=").await;
    browser.url().await
}

async fn duplicates_at(server: &Server, browser: &Browser, width: u32, name: &str, email: &str) {
    browser.set_width(width).await;
    browser.sign_up(name, email).await;
    let slip = server.write_file(&format!("slip-{width}.png"), &receipt_png());
    let photo = server.write_file(&format!("photo-{width}.png"), &another_receipt_png());

    // The first upload is read and confirmed: nothing to compare it with.
    let first = upload(browser, &slip).await;
    server.release_ocr(1);
    browser.wait_url("review=").await;
    browser.wait_for("#edit-vendor").await;
    assert_eq!(browser.count(".possible-duplicate").await, 0);
    browser.click(".drawer button[name=confirm]").await;
    browser.wait_text(".notice", "confirmed").await;

    // The very same file again: nothing new is kept; the page shows the receipt the account has.
    let again = upload(browser, &slip).await;
    let id_of = |url: &str| {
        url.split("receipt=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(id_of(&again), id_of(&first));
    browser
        .wait_text(".notice", "You uploaded this very file before")
        .await;
    browser
        .assert_fits("/dashboard (the same file again)")
        .await;

    // Another photo of the same bill: read, and its review shows the expense it may repeat.
    upload(browser, &photo).await;
    server.release_ocr(1);
    browser.wait_url("review=").await;
    browser
        .wait_text(".possible-duplicate h3", "Possible duplicate")
        .await;
    let flagged = browser.text(".possible-duplicate").await;
    assert!(
        flagged.contains("Corner Bakery") && flagged.contains("245.50"),
        "{flagged}"
    );
    assert_eq!(
        browser.count(".possible-duplicate .thumb").await,
        1,
        "the other expense's receipt"
    );
    assert_eq!(browser.count(".review-image .thumb").await, 1, "this one's");
    browser.screenshot("review-possible-duplicate", width).await;
    browser
        .assert_fits("/dashboard (a possible duplicate)")
        .await;

    // "Delete this one": the new expense goes, the first stays, confirmed.
    browser.click_link("Delete this one").await;
    browser.wait_text(".dialog", "Delete this expense?").await;
    browser.submit(".dialog form").await;
    browser.wait_text(".notice", "Expense deleted").await;
    let table = browser.text("#expenses-table").await;
    assert_eq!(table.matches("Corner Bakery").count(), 1, "{table}");
    assert!(!table.contains("Review"), "{table}");

    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
}
