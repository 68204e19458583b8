//! A second user sees none of the first's data and cannot touch it; forms without their token
//! are refused; names with markup render as text; the pages' security headers.

use serde_json::json;

use crate::NASTY;
use crate::browser::Browser;
use crate::server::Server;

/// A second user sees none of the first's data and cannot touch it; forms without the CSRF
/// token are refused; names with markup render as text; the pages' security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_isolated_and_forms_need_their_token() {
    let server = Server::start().await;
    let first = server.register("first@example.com").await;
    let created = first
        .post(
            "/api/v1/expenses",
            json!({"date": server.today(), "vendor": "First's secret shop", "amount": "999.00", "category": "Food"}),
        )
        .await;
    let expense_id = created["id"].as_str().unwrap().to_owned();

    let browser = Browser::open(&server.url).await;
    browser.goto("/").await;
    browser
        .fill_form(
            "signup",
            &[
                ("name", NASTY),
                ("email", "second@example.com"),
                ("password", "correct horse"),
                ("timezone", "Asia/Kolkata"),
            ],
        )
        .await;
    browser.click("form[action='/signup'] button").await;
    browser.wait_url("/dashboard").await;
    assert_eq!(browser.text(".topbar .who").await, NASTY);
    assert!(browser.no_alert().await);
    let page = browser.text("main").await;
    assert!(page.contains("No expenses yet"), "{page}");
    assert!(!browser.source().await.contains("secret shop"));
    browser.goto("/receipts").await;
    assert!(browser.text("main").await.contains("No receipts yet"));

    // The first user's expense is not there for the second, whichever way it is asked for.
    let token = browser.csrf().await;
    browser.goto(&format!("/dashboard?edit={expense_id}")).await;
    assert!(browser.text("main").await.contains("expense not found"));
    let (status, _) = browser
        .fetch(
            "POST",
            &format!("/expenses/{expense_id}/delete"),
            Some(&format!("_csrf={token}&back=/dashboard")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = browser
        .fetch(
            "POST",
            &format!("/expenses/{expense_id}"),
            Some(&format!(
                "_csrf={token}&vendor=Mine&amount=1&date={}&back=/dashboard",
                server.today()
            )),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 404);
    let still = first.get(&format!("/api/v1/expenses/{expense_id}")).await;
    assert_eq!(still["vendor"], "First's secret shop");

    // Forms without the token, or with another's, are refused and change nothing.
    let form = format!("vendor=Forged&amount=5&date={}", server.today());
    let (status, body) = browser
        .fetch(
            "POST",
            "/expenses",
            Some(&form),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("reload the page"), "{body}");
    let (status, _) = browser
        .fetch(
            "POST",
            "/expenses",
            Some(&format!("{form}&_csrf={}", first.csrf_of_token())),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert_eq!(status, 403);
    // The JSON API with the cookie alone is refused too; with the page's token it works.
    let body =
        json!({"date": server.today(), "vendor": "Via the API", "amount": "5", "category": "Food"})
            .to_string();
    let (status, text) = browser
        .fetch(
            "POST",
            "/api/v1/expenses",
            Some(&body),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_refused"), "{text}");
    let (status, text) = browser
        .fetch(
            "POST",
            "/api/v1/expenses",
            Some(&body),
            &[
                ("content-type", "application/json"),
                ("x-csrf-token", &token),
            ],
        )
        .await;
    assert_eq!(status, 201, "{text}");
    browser.goto("/dashboard").await;
    let table = browser.text("#expenses-table").await;
    assert!(
        table.contains("Via the API") && !table.contains("Forged"),
        "{table}"
    );

    // Log-in forms need the browser's own anonymous token as well.
    let response = reqwest::Client::new()
        .post(format!("{}/login", server.url))
        .form(&[
            ("email", "second@example.com"),
            ("password", "correct horse"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // Odd addresses still show the page, with what was wrong where it matters.
    for (path, title) in [
        ("/receipts?page=abc&page=2", "Receipts"),
        ("/profile?done=nonsense&done=x", "Profile"),
        (
            "/dashboard?page=-1&per_page=x&year=99999&sort=price&cols=nope&from=yesterday",
            "Dashboard",
        ),
    ] {
        browser.goto(path).await;
        assert_eq!(browser.text("h1").await, title, "{path}");
    }
    assert!(
        browser
            .text("#filter-from-error")
            .await
            .contains("not a date")
    );
    assert!(
        browser
            .text(".filters .alert")
            .await
            .contains("sort by “price”")
    );

    // An address that leads nowhere is a page for a browser, JSON for a program.
    browser.goto("/dashbord").await;
    assert!(browser.text("main").await.contains("page not found"));
    let response = reqwest::get(format!("{}/dashbord", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    // Every page's security headers.
    let response = reqwest::get(format!("{}/", server.url)).await.unwrap();
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    // No inline script or style anywhere in the pages.
    for path in ["/dashboard", "/receipts", "/profile"] {
        browser.goto(path).await;
        let inline = browser
            .execute(
                "return Array.from(document.querySelectorAll('script:not([src]), style, [style]')).length",
            )
            .await;
        assert_eq!(inline, json!(0), "{path} has inline script or style");
    }

    browser.close().await;
    server.stop().await;
}
