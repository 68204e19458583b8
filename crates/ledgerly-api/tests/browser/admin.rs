//! Registration by invitation and the administrator's page, as a self-hoster meets them: the
//! landing page offers no form without an invite; the operator's invite makes the first account,
//! the administrator; their page makes an invite (a bad one refused beside its field), whose link
//! signs up a member who sees no admin page; the administrator sees them listed with the used
//! invite, disables them (their sign-in refused), enables them, makes them an administrator,
//! makes them a password reset link (the server sends no email) which sets a new password once,
//! and deletes their account. At laptop and at phone width, nothing wider than the window.

use ledgerly_api::settings::Registration;

use crate::browser::Browser;
use crate::server::Server;

async fn log_in(browser: &Browser, email: &str) {
    browser.goto("/").await;
    browser
        .fill_form("login", &[("email", email), ("password", "correct horse")])
        .await;
    browser.click("form[action='/login'] button").await;
}

async fn log_out(browser: &Browser) {
    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_invites_and_manages_accounts() {
    let server = Server::start_with(|s| s.auth.registration = Registration::Invite).await;
    let browser = Browser::open(&server.url).await;

    // Without an invite there is no form to fill.
    browser.goto("/").await;
    browser
        .wait_text("#signup-title", "Create an account")
        .await;
    assert!(browser.text(".auth").await.contains("by invitation"));
    assert_eq!(browser.count("form[action='/signup']").await, 0);
    assert_eq!(
        browser.count(".hero-actions a[href='#signup-title']").await,
        0
    );

    // The operator's invite: the first account is the administrator.
    let first = ledgerly_api::instance::invite(server.settings.clone(), None, None, None)
        .await
        .unwrap();
    browser
        .sign_up_at(first.path.as_deref().unwrap(), "Asha", "asha@example.com")
        .await;
    browser.click(".topbar a[href='/admin']").await;
    browser.wait_text("h1", "Administration").await;
    assert!(
        browser
            .text("#registration")
            .await
            .contains("By invitation")
    );

    // A bad invite is refused beside its field; a good one shows its link once.
    let form = "form[action='/admin/invites']";
    browser.fill("#new-invite-note", "Omar").await;
    browser.fill("#new-invite-expires_in_days", "45").await;
    browser.submit(form).await;
    browser.wait_for("#new-invite-expires_in_days-error").await;
    assert_eq!(browser.value("#new-invite-note").await, "Omar");
    browser.fill("#new-invite-expires_in_days", "3").await;
    browser.submit(form).await;
    browser.wait_for("#new-invite-link").await;
    let link = browser.value("#new-invite-link").await;
    let path = link
        .strip_prefix(&server.url)
        .unwrap_or_else(|| panic!("{link} is not on {}", server.url))
        .to_owned();
    assert!(path.starts_with("/?invite="), "{link}");
    let listed = browser.text("#invites .token-list").await;
    assert!(
        listed.contains("Omar") && listed.contains("open"),
        "{listed}"
    );
    browser.assert_fits("/admin (an invite made)").await;
    browser.goto("/admin").await;
    assert_eq!(browser.count("#new-invite-link").await, 0, "shown once");

    // The link signs up a member, who has no admin page.
    log_out(&browser).await;
    browser.goto(&path).await;
    assert!(
        browser
            .text("form[action='/signup']")
            .await
            .contains("You were invited")
    );
    browser.sign_up_at(&path, "Omar", "omar@example.com").await;
    assert_eq!(browser.count(".topbar a[href='/admin']").await, 0);
    browser.goto("/admin").await;
    assert!(
        browser
            .text("main")
            .await
            .contains("only the server's administrator"),
        "{}",
        browser.text("main").await
    );
    // The used link makes no second account.
    browser.goto("/dashboard").await;
    log_out(&browser).await;
    browser.goto(&path).await;
    assert!(browser.text(".auth").await.contains("has been used"));
    assert_eq!(browser.count("form[action='/signup']").await, 0);

    // The administrator sees them, and the invite used by them.
    log_in(&browser, "asha@example.com").await;
    browser.wait_url("/dashboard").await;
    browser.goto("/admin").await;
    let row = "tr[data-email='omar@example.com']";
    let omar = browser.text(row).await;
    assert!(omar.contains("member") && !omar.contains("never"), "{omar}");
    let invites = browser.text("#invites .token-list").await;
    assert!(invites.contains("made omar@example.com"), "{invites}");
    // Their own row offers neither disabling nor deleting.
    let own = "tr[data-email='asha@example.com']";
    assert_eq!(
        browser
            .count(&format!("{own} form[action$='/access']"))
            .await,
        0
    );

    // Disabled: Omar cannot sign in.
    browser
        .click("button[aria-label='Disable omar@example.com']")
        .await;
    browser.wait_text(".notice", "Account disabled").await;
    assert!(browser.text(row).await.contains("disabled"));
    log_out(&browser).await;
    log_in(&browser, "omar@example.com").await;
    browser.wait_text("form[action='/login']", "disabled").await;

    // Enabled, made an administrator, then deleted after a confirmation.
    log_in(&browser, "asha@example.com").await;
    browser.wait_url("/dashboard").await;
    browser.goto("/admin").await;
    browser
        .click("button[aria-label='Enable omar@example.com']")
        .await;
    browser.wait_text(".notice", "Account enabled").await;
    browser
        .click("button[aria-label='Make omar@example.com an administrator']")
        .await;
    browser.wait_text(".notice", "Role changed").await;
    assert!(browser.text(row).await.contains("administrator"));
    for width in [1280, 375] {
        browser.set_width(width).await;
        browser.goto("/admin").await;
        browser.assert_fits(&format!("/admin at {width} px")).await;
    }
    browser.set_width(1280).await;

    // Omar forgot his password; the server sends no email, so the administrator makes the link.
    log_out(&browser).await;
    browser.click("a[href='/password-reset']").await;
    browser
        .wait_text("#reset-title", "Reset your password")
        .await;
    assert!(
        browser
            .text("main")
            .await
            .contains("This server sends no email")
    );
    log_in(&browser, "asha@example.com").await;
    browser.wait_url("/dashboard").await;
    browser.goto("/admin").await;
    browser
        .click("button[aria-label='Reset the password of omar@example.com']")
        .await;
    browser.wait_for("#reset-link").await;
    let link = browser.value("#reset-link").await;
    let reset = link
        .strip_prefix(&server.url)
        .unwrap_or_else(|| panic!("{link} is not on {}", server.url))
        .to_owned();
    log_out(&browser).await;
    browser.goto(&reset).await;
    browser
        .wait_text("#reset-title", "Choose a new password")
        .await;
    let form = "form[action='/password-reset/complete']";
    browser.fill("#reset-password", "battery staple").await;
    browser.fill("#reset-confirm", "battery stapel").await;
    browser.submit(form).await;
    browser.wait_for("#reset-confirm-error").await;
    browser.fill("#reset-password", "battery staple").await;
    browser.fill("#reset-confirm", "battery staple").await;
    browser.submit(form).await;
    browser.wait_text(".notice", "Password changed").await;
    browser
        .fill_form(
            "login",
            &[
                ("email", "omar@example.com"),
                ("password", "battery staple"),
            ],
        )
        .await;
    browser.click("form[action='/login'] button").await;
    browser.wait_url("/dashboard").await;
    // The link works once.
    log_out(&browser).await;
    browser.goto(&reset).await;
    browser.fill("#reset-password", "another password").await;
    browser.fill("#reset-confirm", "another password").await;
    browser.submit(form).await;
    browser.wait_text("main", "used already or expired").await;

    log_in(&browser, "asha@example.com").await;
    browser.wait_url("/dashboard").await;
    browser.goto("/admin").await;
    browser
        .click("a[aria-label='Delete omar@example.com']")
        .await;
    browser
        .wait_text("#dialog-title", "Delete this account?")
        .await;
    browser.click(".dialog form button.danger").await;
    browser.wait_text(".notice", "Account deleted").await;
    assert_eq!(browser.count(row).await, 0);

    browser.close().await;
    server.stop().await;
}
