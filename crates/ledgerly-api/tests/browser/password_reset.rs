//! A forgotten password, reset by email: the log-in form's link asks for the email and says the
//! same for one with no account; the emailed link (from a local SMTP server) opens the form for
//! the new password, which signs every session out; the new password then logs in, and the link
//! does not work twice. At phone width, nothing wider than the window.

use ledgerly_api::settings::SmtpSecurity;

use crate::browser::Browser;
use crate::server::Server;
use crate::smtp::SmtpServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_by_email() {
    let smtp = SmtpServer::start(None).await;
    let server = Server::start_with(|s| {
        s.smtp.host = "127.0.0.1".into();
        s.smtp.port = smtp.port;
        s.smtp.security = SmtpSecurity::None;
        s.smtp.from = "ledgerly@example.com".into();
        s.server.public_url = "http://ledgerly.invalid".into();
    })
    .await;
    let browser = Browser::open(&server.url).await;
    browser.sign_up("Asha", "asha@example.com").await;
    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
    browser.set_width(375).await;

    // Asked for an email with no account: the same words, and no email.
    browser.click("a[href='/password-reset']").await;
    browser
        .wait_text("#reset-title", "Reset your password")
        .await;
    browser.assert_fits("/password-reset (375 px)").await;
    browser.fill("#reset-email", "nobody@example.com").await;
    browser.submit("form[action='/password-reset']").await;
    browser.wait_text("#reset-title", "Check your email").await;
    let said = browser.text("main").await;
    browser.goto("/password-reset").await;
    browser.fill("#reset-email", "asha@example.com").await;
    browser.submit("form[action='/password-reset']").await;
    browser.wait_text("#reset-title", "Check your email").await;
    assert_eq!(browser.text("main").await, said);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["asha@example.com"]);

    // The emailed link, on this server.
    let link = mails[0].link("http://ledgerly.invalid/password-reset?token=");
    let path = link
        .strip_prefix("http://ledgerly.invalid")
        .unwrap()
        .to_owned();
    browser.goto(&path).await;
    browser
        .wait_text("#reset-title", "Choose a new password")
        .await;
    browser.assert_fits("/password-reset?token (375 px)").await;
    browser.fill("#reset-password", "short").await;
    browser.fill("#reset-confirm", "short").await;
    browser
        .submit("form[action='/password-reset/complete']")
        .await;
    browser.wait_for("#reset-password-error").await;
    browser.fill("#reset-password", "battery staple").await;
    browser.fill("#reset-confirm", "battery staple").await;
    browser
        .submit("form[action='/password-reset/complete']")
        .await;
    browser.wait_text(".notice", "Password changed").await;
    browser
        .fill_form(
            "login",
            &[
                ("email", "asha@example.com"),
                ("password", "battery staple"),
            ],
        )
        .await;
    browser.click("form[action='/login'] button").await;
    browser.wait_url("/dashboard").await;

    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
    browser.goto(&path).await;
    browser.fill("#reset-password", "another password").await;
    browser.fill("#reset-confirm", "another password").await;
    browser
        .submit("form[action='/password-reset/complete']")
        .await;
    browser.wait_text("main", "used already or expired").await;
    // Back at the email form, to ask for another.
    assert_eq!(browser.count("form[action='/password-reset']").await, 1);

    browser.set_width(1280).await;
    browser.close().await;
    server.stop().await;
}
