//! A phone as a scanner, in Chromium's phone emulation: the upload offers the camera (a capture
//! input) and takes several files at once; the app installs (manifest, icons, service worker);
//! with the server gone, a page says it is offline instead of failing.

use crate::browser::Browser;
use crate::server::{Server, another_receipt_png, receipt_png};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_takes_photos_uploads_several_and_knows_when_it_is_offline() {
    let server = Server::start().await;
    let browser = Browser::open_phone(&server.url).await;
    browser.sign_up("Omar", "omar@example.com").await;
    let width = browser
        .execute("return [window.innerWidth, matchMedia('(pointer: coarse)').matches];")
        .await;
    assert_eq!(
        width,
        serde_json::json!([412, true]),
        "a phone's screen and pointer"
    );

    // The upload: the camera first, or several files from the gallery.
    browser.goto("/dashboard?add=receipt").await;
    browser.wait_for("#upload-file").await;
    assert_eq!(
        browser.attr("#upload-camera", "capture").await.as_deref(),
        Some("environment")
    );
    assert_eq!(
        browser.attr("#upload-camera", "accept").await.as_deref(),
        Some("image/*")
    );
    assert!(
        browser
            .execute("return getComputedStyle(document.querySelector('.button.camera')).display !== 'none';")
            .await
            .as_bool()
            .unwrap(),
        "the camera button shows on a phone"
    );
    assert!(browser.attr("#upload-file", "multiple").await.is_some());
    browser.assert_fits("the upload on a phone").await;
    browser.screenshot("phone-upload", 412).await;

    let first = server.write_file("gallery-1.png", &receipt_png());
    let second = server.write_file("gallery-2.png", &another_receipt_png());
    browser.send_files("#upload-file", &[&first, &second]).await;
    browser.wait_url("/receipts?done=uploaded").await;
    browser.wait_text(".notice", "Receipts uploaded").await;
    assert_eq!(
        browser.count("main [data-status-text]").await,
        2,
        "both listed, being read"
    );
    server.release_ocr(2);

    // Installable: the manifest and its icons are linked, the service worker runs.
    assert_eq!(
        browser.attr("link[rel=manifest]", "href").await.as_deref(),
        Some("/manifest.webmanifest")
    );
    let ready = browser
        .execute_async(
            "const done = arguments[0]; \
             navigator.serviceWorker.ready.then(r => done(r.active ? r.active.scriptURL : null));",
        )
        .await;
    assert!(
        ready.as_str().is_some_and(|url| url.ends_with("/sw.js")),
        "{ready}"
    );
    // Loaded once under the worker, so the next navigation goes through it.
    browser.goto("/dashboard").await;
    browser.wait_for("main").await;

    // The server gone: a page says so, in the app's own style.
    server.stop().await;
    browser.goto("/dashboard").await;
    browser.wait_text("h1", "You are offline").await;
    browser.assert_fits("offline").await;
    browser.close().await;
}
