//! API tokens from the profile: a token made with a bad name is refused beside its field with
//! what was sent; a good one shows its secret once (gone on the next visit), is listed with its
//! scope and "never used", works as a bearer token against the API within its scope (then listed
//! as used), and once revoked stops working. At laptop and at phone width, nothing wider than the
//! window.

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::server::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_made_on_the_profile_works_until_revoked() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    for (width, name, email) in [
        (1280, "Ines", "ines@example.com"),
        (375, "Omar", "omar@example.com"),
    ] {
        tokens_at(&server, &browser, width, name, email).await;
    }
    browser.set_width(1280).await;
    browser.close().await;
    server.stop().await;
}

async fn api(server: &Server, method: reqwest::Method, path: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({"date": "2026-03-02", "category": "food", "vendor": "V", "amount": "1"}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn tokens_at(server: &Server, browser: &Browser, width: u32, name: &str, email: &str) {
    browser.set_width(width).await;
    browser.sign_up(name, email).await;
    browser.goto("/profile#tokens").await;
    browser.wait_text("#tokens h2", "API tokens").await;
    assert!(browser.text("#tokens").await.contains("No tokens yet."));
    assert_eq!(browser.value("#new-token-expires_in_days").await, "90");

    // No name: refused beside the field, the rest kept.
    let form = "form[action='/profile/tokens']";
    browser.select("#new-token-scope", "Read only").await;
    browser.fill("#new-token-expires_in_days", "30").await;
    browser.submit(form).await;
    browser.wait_for("#new-token-name-error").await;
    assert_eq!(
        browser
            .attr("#new-token-name", "aria-invalid")
            .await
            .as_deref(),
        Some("true")
    );
    assert_eq!(browser.value("#new-token-expires_in_days").await, "30");
    assert_eq!(browser.count("#new-token-secret").await, 0);
    browser.assert_fits("/profile (a refused token)").await;

    // Made: the secret shown once, the token listed as read only and never used.
    browser.fill("#new-token-name", "Spreadsheet").await;
    browser.submit(form).await;
    browser.wait_for("#new-token-secret").await;
    let secret = browser.value("#new-token-secret").await;
    assert!(secret.starts_with("lgy_"), "{secret}");
    assert!(
        browser
            .text(".token-made")
            .await
            .contains("not shown again")
    );
    let listed = browser.text("#tokens .token-list").await;
    assert!(
        listed.contains("Spreadsheet")
            && listed.contains("read only")
            && listed.contains("never used"),
        "{listed}"
    );
    browser.screenshot("profile-token-made", width).await;
    browser.assert_fits("/profile (a token made)").await;

    // It reads through the API, and may not write.
    assert_eq!(
        api(server, reqwest::Method::GET, "/api/v1/expenses", &secret).await,
        StatusCode::OK
    );
    assert_eq!(
        api(server, reqwest::Method::POST, "/api/v1/expenses", &secret).await,
        StatusCode::FORBIDDEN
    );

    // The next visit shows no secret, and the token as used.
    browser.goto("/profile").await;
    browser.wait_for("#tokens").await;
    assert_eq!(browser.count("#new-token-secret").await, 0);
    assert!(!browser.source().await.contains(&secret));
    let listed = browser.text("#tokens .token-list").await;
    assert!(listed.contains("last used"), "{listed}");

    // Revoked: gone from the list, refused by the API; revoking it again is the 404 page.
    let action = browser
        .attr("#tokens .token-item form", "action")
        .await
        .unwrap();
    browser.click("#tokens .token-item button.danger").await;
    browser.wait_text(".notice", "Token revoked").await;
    assert!(browser.text("#tokens").await.contains("No tokens yet."));
    assert_eq!(
        api(server, reqwest::Method::GET, "/api/v1/expenses", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let csrf = browser.csrf().await;
    let (status, _) = browser
        .fetch(
            "POST",
            &action,
            Some(&format!("_csrf={csrf}")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 404);
    browser.screenshot("profile-tokens", width).await;
    browser.assert_fits("/profile (tokens)").await;

    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
}
