//! Light and dark: a new account follows the device (headless Chromium reports light); the
//! topbar's button switches to light, then dark, remembered for the account (another browser
//! session sees it) and on the profile; every page passes WCAG AA contrast in both themes, with
//! notices, errors, badges and a drawer showing. The open drawer keeps the focus (Tab goes round
//! inside it) and Escape gives it back to the link that opened it. At laptop and phone width.

use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";

/// Every kind of page, with something of each kind of colour on it.
const PAGES: &[&str] = &[
    "/dashboard?done=added",
    "/dashboard?add=manual",
    "/dashboard?add=receipt",
    "/receipts",
    "/recurring",
    "/import",
    "/profile?done=token",
    // The test's account is the server's first: its administrator.
    "/admin?done=account-disabled",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_themes_pass_contrast_everywhere_and_drawers_keep_the_focus() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;

    // The landing page follows the device too.
    browser.goto("/").await;
    browser.wait_for("form[action='/signup']").await;
    assert_eq!(theme_of(&browser).await, "system");
    browser.assert_contrast("/ (system: light)").await;

    // The check finds grey on grey (a control: it can fail).
    browser
        .execute(
            "const p = document.createElement('p'); p.textContent = 'faint'; \
             p.style.color = '#777'; p.style.background = '#888'; document.body.append(p);",
        )
        .await;
    let failures = browser.contrast_failures().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].as_str().unwrap().contains("faint"),
        "{failures:?}"
    );

    browser.sign_up("Ines", "ines@example.com").await;
    assert_eq!(theme_of(&browser).await, "system");
    assert_eq!(
        background(&browser).await,
        "rgb(245, 246, 250)",
        "light, as the device"
    );
    seed(&browser).await;

    // The button cycles: light, then dark — back on the page it was pressed on.
    browser.goto("/receipts").await;
    browser.submit(".theme-toggle").await;
    browser.wait_url("/receipts").await;
    assert_eq!(theme_of(&browser).await, "light");
    for width in [1280, 375] {
        browser.set_width(width).await;
        every_page(&browser, &format!("light at {width} px")).await;
    }
    browser.set_width(1280).await;
    browser.goto("/dashboard").await;
    browser.submit(".theme-toggle").await;
    browser.wait_url("/dashboard").await;
    assert_eq!(theme_of(&browser).await, "dark");
    assert_eq!(background(&browser).await, "rgb(11, 15, 23)");
    for width in [1280, 375] {
        browser.set_width(width).await;
        every_page(&browser, &format!("dark at {width} px")).await;
    }
    browser.screenshot("dashboard-dark", 1280).await;
    browser.set_width(1280).await;

    // Remembered for the account: the profile shows it, and the API says it.
    browser.goto("/profile").await;
    assert_eq!(browser.value("#profile-theme").await, "dark");
    let (status, me) = browser.fetch("GET", "/api/v1/me", None, &[]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&me).unwrap()["theme"],
        "dark"
    );
    // Chosen on the profile: light.
    browser.select("#profile-theme", "Light").await;
    browser.submit("form[action='/profile']").await;
    browser.wait_text(".notice", "Profile saved").await;
    assert_eq!(theme_of(&browser).await, "light");
    browser.screenshot("profile-light", 1280).await;

    // The drawer keeps the focus, and gives it back.
    browser.goto("/dashboard").await;
    browser.wait_for("a[href$='add=manual']").await;
    browser
        .execute("document.querySelector(\"a[href$='add=manual']\").focus();")
        .await;
    browser.press(ENTER).await;
    browser.wait_url("add=manual").await;
    browser.wait_for(".drawer").await;
    assert!(
        browser.focused("active.closest('.drawer')").await,
        "the focus starts inside"
    );
    for _ in 0..40 {
        browser.press(TAB).await;
        assert!(
            browser.focused("active.closest('.drawer')").await,
            "Tab left the drawer"
        );
    }
    browser.press("\u{E008}\u{E004}").await; // Shift+Tab
    assert!(
        browser.focused("active.closest('.drawer')").await,
        "Shift+Tab left the drawer"
    );
    browser.press(ESCAPE).await;
    browser.wait_for("main").await;
    for _ in 0..50 {
        if !browser.url().await.contains("add=manual") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!browser.url().await.contains("add=manual"));
    browser.wait_for("a[href$='add=manual']").await;
    assert!(
        browser
            .focused("active.matches(\"a[href$='add=manual']\")")
            .await,
        "the focus is back on the link that opened the drawer"
    );
    browser.close().await;
    server.stop().await;
}

async fn theme_of(browser: &Browser) -> String {
    browser
        .execute("return document.documentElement.dataset.theme;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn background(browser: &Browser) -> String {
    browser
        .execute("return getComputedStyle(document.body).backgroundColor;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// What makes the pages show their colours: an expense with tags, one in a currency no rate
/// converts (the notice and "no rate"), a budget, a recurring rule, a token made.
async fn seed(browser: &Browser) {
    let csrf = browser.csrf().await;
    let headers = [
        ("content-type", "application/json"),
        ("x-csrf-token", csrf.as_str()),
    ];
    for (path, body) in [
        (
            "/api/v1/expenses",
            json!({"date": chrono::Utc::now().date_naive().to_string(), "category": "food",
                   "vendor": "Blue Tokai", "amount": "450", "tags": ["coffee", "work"],
                   "note": "with Omar"}),
        ),
        (
            "/api/v1/expenses",
            json!({"date": chrono::Utc::now().date_naive().to_string(), "category": "entertainment",
                   "vendor": "Airport taxi", "amount": "10", "currency": "USD"}),
        ),
        (
            "/api/v1/recurring",
            json!({"category": "work", "vendor": "Internet", "amount": "999", "unit": "month",
                   "starts_on": chrono::Utc::now().date_naive().to_string()}),
        ),
        ("/api/v1/tokens", json!({"name": "script", "scope": "read"})),
    ] {
        let (status, text) = browser
            .fetch("POST", path, Some(&body.to_string()), &headers)
            .await;
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
    }
    let (status, text) = browser
        .fetch(
            "PUT",
            "/api/v1/budget/categories/food",
            Some(&json!({"amount": "400"}).to_string()),
            &headers,
        )
        .await;
    assert!(
        (200..300).contains(&status),
        "category budget: {status} {text}"
    );
}

async fn every_page(browser: &Browser, theme: &str) {
    for page in PAGES {
        browser.goto(page).await;
        browser.wait_for("main").await;
        browser.assert_contrast(&format!("{page} ({theme})")).await;
    }
    // A form refused: its errors are text too.
    browser.goto("/profile").await;
    browser.fill("#profile-name", "").await;
    browser.submit("form[action='/profile']").await;
    browser.wait_for("#profile-name-error").await;
    browser
        .assert_contrast(&format!("/profile with an error ({theme})"))
        .await;
}
