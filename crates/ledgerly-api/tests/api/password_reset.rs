//! Password reset: by email through a local SMTP server, and by the administrator's link where
//! the server sends no email.

use ledgerly_api::settings::SmtpSecurity;
use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::smtp::SmtpServer;

on_both_backends!(
    an_emailed_link_sets_the_password_once_and_signs_out_everywhere,
    without_email_the_administrator_makes_the_link,
);

/// How the emailed links start: `server.public_url` (its slash dropped), then the page.
const LINK: &str = "https://ledgerly.example.com/password-reset?token=";

async fn ask(app: &TestApp, email: &str) -> (StatusCode, String) {
    let response = app
        .post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({ "email": email }),
        )
        .await;
    (response.status(), response.text().await.unwrap())
}

async fn complete(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/password-reset/complete",
        None,
        &json!({ "token": token, "password": password }),
    )
    .await
}

/// The token of a reset link.
fn token_of(link: &str) -> String {
    link.split_once("token=")
        .unwrap_or_else(|| panic!("no token in {link}"))
        .1
        .to_owned()
}

async fn an_emailed_link_sets_the_password_once_and_signs_out_everywhere(backend: Backend) {
    let smtp = SmtpServer::start(Some(("ledgerly", "smtp-secret"))).await;
    let app = spawn_app_with(backend, |s| {
        s.smtp.host = "127.0.0.1".into();
        s.smtp.port = smtp.port;
        s.smtp.security = SmtpSecurity::None;
        s.smtp.username = "ledgerly".into();
        s.smtp.password = "smtp-secret".into();
        s.smtp.from = "Ledgerly <ledgerly@example.com>".into();
        s.server.public_url = "https://ledgerly.example.com/".into();
    })
    .await;
    let asha = app.register("asha@example.com").await;
    let other = expect(
        app.login("asha@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same answer for an account's email and for one with none.
    let known = ask(&app, "ASHA@example.com").await;
    let unknown = ask(&app, "nobody@example.com").await;
    assert_eq!(known.0, StatusCode::ACCEPTED, "{}", known.1);
    assert_eq!(known, unknown);
    expect_error(
        app.post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "not an email"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "email",
    )
    .await;

    let mails = smtp.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.from, "ledgerly@example.com");
    assert_eq!(mail.to, ["asha@example.com"]);
    assert!(
        mail.data.contains("Subject: Reset your Ledgerly password"),
        "{}",
        mail.data
    );
    let link = mail.link(LINK);
    let token = token_of(&link);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        smtp.mails().len(),
        1,
        "nothing is sent for an email with no account"
    );

    // Bad input first: the link stays usable.
    expect_error(
        complete(&app, &token, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "password",
    )
    .await;
    expect_error(
        complete(&app, "not-the-token", "battery staple").await,
        StatusCode::FORBIDDEN,
        "reset_invalid",
        "",
    )
    .await;
    expect(
        complete(&app, &token, "battery staple").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // Signed out everywhere; the old password is wrong, the new one right.
    for session in [&asha.token, &other] {
        expect_error(
            app.get("/api/v1/me", session).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "",
        )
        .await;
    }
    expect_error(
        app.login("asha@example.com", "correct horse").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "",
    )
    .await;
    expect(
        app.login("asha@example.com", "battery staple").await,
        StatusCode::OK,
    )
    .await;
    // Once only.
    expect_error(
        complete(&app, &token, "another password").await,
        StatusCode::FORBIDDEN,
        "reset_invalid",
        "used already or expired",
    )
    .await;

    // At most three emails an hour to one account, whatever is asked.
    for sent in 2..=3 {
        assert_eq!(ask(&app, "asha@example.com").await.0, StatusCode::ACCEPTED);
        smtp.wait_for(sent).await;
    }
    for _ in 0..2 {
        assert_eq!(ask(&app, "asha@example.com").await.0, StatusCode::ACCEPTED);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.mails().len(), 3);
    // A second link made stops working when another one is used.
    let mails = smtp.mails();
    let (second, third) = (
        token_of(&mails[1].link(LINK)),
        token_of(&mails[2].link(LINK)),
    );
    expect(
        complete(&app, &third, "third password").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_error(
        complete(&app, &second, "second password").await,
        StatusCode::FORBIDDEN,
        "reset_invalid",
        "",
    )
    .await;
    app.stop().await;
}

async fn without_email_the_administrator_makes_the_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let asha = app.register("asha@example.com").await;
    let omar = app.register("omar@example.com").await;
    expect_error(
        app.post_json(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "omar@example.com"}),
        )
        .await,
        StatusCode::CONFLICT,
        "no_email",
        "administrator",
    )
    .await;
    let omar_id = omar.user["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/accounts/{omar_id}/password-reset");
    expect_error(
        app.post_json(&path, Some(&omar.token), &json!({})).await,
        StatusCode::FORBIDDEN,
        "admin_only",
        "",
    )
    .await;
    expect_error(
        app.post_json(
            &format!(
                "/api/v1/admin/accounts/{}/password-reset",
                uuid::Uuid::new_v4()
            ),
            Some(&asha.token),
            &json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
        "",
    )
    .await;
    let made = expect(
        app.post_json(&path, Some(&asha.token), &json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let link = made["path"].as_str().unwrap();
    assert!(link.starts_with("/password-reset?token="), "{made}");
    let expires: chrono::DateTime<chrono::Utc> =
        made["expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "a day: {made}");
    expect(
        complete(&app, &token_of(link), "battery staple").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_error(
        app.get("/api/v1/me", &omar.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "",
    )
    .await;
    expect(
        app.login("omar@example.com", "battery staple").await,
        StatusCode::OK,
    )
    .await;
    app.stop().await;
}
