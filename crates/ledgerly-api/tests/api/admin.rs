//! Registration control, invites and the administrator's routes.

use ledgerly_api::settings::Registration;
use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    registration_by_invitation_says_nothing_of_the_email_until_an_invite_holds,
    closed_registration_makes_no_account_and_no_invite,
    the_administrator_lists_disables_enables_and_deletes_accounts,
    invites_are_made_listed_and_withdrawn_by_the_administrator_alone,
    the_landing_page_offers_what_registration_allows,
);

fn person(email: &str, invite: Option<&str>) -> Value {
    let mut body = json!({"email": email, "password": "correct horse", "name": "Asha Rao"});
    if let Some(invite) = invite {
        body["invite"] = json!(invite);
    }
    body
}

/// The secret of an invite link's path (`/?invite=…`).
fn secret_of(path: &str) -> String {
    path.strip_prefix("/?invite=")
        .unwrap_or_else(|| panic!("not an invite path: {path}"))
        .to_owned()
}

/// The status and body of a registration attempt.
async fn attempt(app: &TestApp, body: &Value) -> (StatusCode, String) {
    let response = app.post_json("/api/v1/auth/register", None, body).await;
    (response.status(), response.text().await.unwrap())
}

async fn registration_by_invitation_says_nothing_of_the_email_until_an_invite_holds(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.auth.registration = Registration::Invite).await;
    // The operator's invite lets the first account in: it is the administrator.
    let first = ledgerly_api::instance::invite(app.settings.clone(), Some(1), None, None)
        .await
        .unwrap();
    let asha = app
        .register_with(person(
            "asha@example.com",
            Some(&secret_of(first.path.as_deref().unwrap())),
        ))
        .await;
    assert_eq!(asha.user["role"], "admin", "{}", asha.user);

    // No invite: the same answer for a taken email and a new one.
    let taken = attempt(&app, &person("asha@example.com", None)).await;
    let new = attempt(&app, &person("someone@example.com", None)).await;
    assert_eq!(taken.0, StatusCode::FORBIDDEN);
    assert!(taken.1.contains("invite_required"), "{}", taken.1);
    assert_eq!(taken, new);
    // A spent or unknown invite: also the same, whatever the email.
    for invite in [
        secret_of(first.path.as_deref().unwrap()),
        "not-an-invite".into(),
    ] {
        let taken = attempt(&app, &person("asha@example.com", Some(&invite))).await;
        let new = attempt(&app, &person("someone@example.com", Some(&invite))).await;
        assert_eq!(taken.0, StatusCode::FORBIDDEN);
        assert!(taken.1.contains("invite_invalid"), "{}", taken.1);
        assert_eq!(taken, new);
    }

    // An administrator's invite: a taken email is said only now, and leaves it unused.
    let made = expect(
        app.post_json(
            "/api/v1/admin/invites",
            Some(&asha.token),
            &json!({"note": "Ravi", "expires_in_days": 3}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["status"], "open");
    assert_eq!(made["note"], "Ravi");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(made["path"], format!("/?invite={secret}"));
    expect_error(
        app.post_json(
            "/api/v1/auth/register",
            None,
            &person("ASHA@example.com", Some(&secret)),
        )
        .await,
        StatusCode::CONFLICT,
        "email_taken",
        "already exists",
    )
    .await;
    let ravi = app
        .register_with(person("ravi@example.com", Some(&secret)))
        .await;
    assert_eq!(ravi.user["role"], "member");
    expect_error(
        app.post_json(
            "/api/v1/auth/register",
            None,
            &person("other@example.com", Some(&secret)),
        )
        .await,
        StatusCode::FORBIDDEN,
        "invite_invalid",
        "used already or expired",
    )
    .await;
    // An invite whose secret was made elsewhere (as `ledgerctl invite` makes them): only its
    // hash reaches the server.
    let secret = "made-elsewhere-and-never-sent";
    let hash = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()).to_vec();
    let recorded = ledgerly_api::instance::invite(
        app.settings.clone(),
        Some(2),
        Some("Zoe".into()),
        Some(hash),
    )
    .await
    .unwrap();
    assert_eq!(recorded.path, None);
    let zoe = app
        .register_with(person("zoe@example.com", Some(secret)))
        .await;
    assert_eq!(zoe.user["role"], "member");
    let invites = expect(
        app.get("/api/v1/admin/invites", &asha.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(invites[0]["note"], "Zoe", "{invites}");
    assert_eq!(invites[0]["used_by"], "zoe@example.com", "{invites}");
    let invites = &invites.as_array().unwrap()[1..];
    assert_eq!(invites[0]["status"], "used", "{invites:?}");
    assert_eq!(invites[0]["used_by"], "ravi@example.com", "{invites:?}");
    assert!(invites[0].get("secret").is_none(), "{invites:?}");
    app.stop().await;
}

async fn closed_registration_makes_no_account_and_no_invite(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.auth.registration = Registration::Closed).await;
    for body in [
        person("asha@example.com", None),
        person("asha@example.com", Some("anything")),
    ] {
        expect_error(
            app.post_json("/api/v1/auth/register", None, &body).await,
            StatusCode::FORBIDDEN,
            "registration_closed",
            "closed",
        )
        .await;
    }
    let refused = ledgerly_api::instance::invite(app.settings.clone(), None, None, None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("auth.registration = closed"),
        "{refused}"
    );
    app.stop().await;
}

async fn the_administrator_lists_disables_enables_and_deletes_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let asha = app.register("asha@example.com").await;
    let omar = app.register("omar@example.com").await;
    assert_eq!(asha.user["role"], "admin");
    assert_eq!(omar.user["role"], "member");
    let me = expect(app.get("/api/v1/me", &omar.token).await, StatusCode::OK).await;
    assert_eq!(me["role"], "member");
    let omar_id = omar.user["id"].as_str().unwrap().to_owned();
    let asha_id = asha.user["id"].as_str().unwrap().to_owned();
    expect(
        app.upload(&omar.token, png("omar"), "r.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let omar_token = expect(
        app.post_json(
            "/api/v1/tokens",
            Some(&omar.token),
            &json!({"name": "script", "scope": "read"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let accounts = expect(
        app.get("/api/v1/admin/accounts", &asha.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accounts.as_array().unwrap().len(), 2, "{accounts}");
    assert_eq!(accounts[0]["email"], "asha@example.com");
    assert_eq!(accounts[1]["role"], "member");
    assert_eq!(accounts[1]["receipts"], 1);
    assert!(
        accounts[1]["storage_bytes"].as_i64().unwrap() > 0,
        "{accounts}"
    );
    assert!(accounts[1]["last_seen_at"].is_string(), "{accounts}");
    assert_eq!(accounts[1]["disabled"], false);

    // Members, and tokens even of an administrator, may not.
    expect_error(
        app.get("/api/v1/admin/accounts", &omar.token).await,
        StatusCode::FORBIDDEN,
        "admin_only",
        "administrator",
    )
    .await;
    let asha_token = expect(
        app.post_json(
            "/api/v1/tokens",
            Some(&asha.token),
            &json!({"name": "script", "scope": "read_write"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        app.get("/api/v1/admin/accounts", &asha_token).await,
        StatusCode::FORBIDDEN,
        "session_required",
        "",
    )
    .await;

    // Disabled: the session, the token and the password are all refused.
    let path = format!("/api/v1/admin/accounts/{omar_id}");
    let disabled = expect(
        app.patch(&path, &asha.token, &json!({"disabled": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(disabled["disabled"], true);
    assert!(disabled["disabled_at"].is_string());
    for token in [&omar.token, &omar_token] {
        expect_error(
            app.get("/api/v1/expenses", token).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "",
        )
        .await;
    }
    expect_error(
        app.login("omar@example.com", "correct horse").await,
        StatusCode::FORBIDDEN,
        "account_disabled",
        "disabled",
    )
    .await;
    // A wrong password is still only wrong: the account's state is not told.
    expect_error(
        app.login("omar@example.com", "wrong horse!").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "",
    )
    .await;

    // Enabled: the token and the password work again.
    expect(
        app.patch(&path, &asha.token, &json!({"disabled": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect(
        app.get("/api/v1/expenses", &omar_token).await,
        StatusCode::OK,
    )
    .await;
    expect(
        app.login("omar@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;

    // One's own account: not disabled, not deleted here; the last administrator stays one.
    let own = format!("/api/v1/admin/accounts/{asha_id}");
    expect_error(
        app.patch(&own, &asha.token, &json!({"disabled": true}))
            .await,
        StatusCode::CONFLICT,
        "own_account",
        "",
    )
    .await;
    expect_error(
        app.patch(&own, &asha.token, &json!({"role": "member"}))
            .await,
        StatusCode::CONFLICT,
        "last_admin",
        "administrator",
    )
    .await;
    expect_error(
        app.delete(&own, &asha.token).await,
        StatusCode::CONFLICT,
        "own_account",
        "",
    )
    .await;
    expect_error(
        app.send(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&asha.token),
            Some(&json!({"password": "correct horse"})),
        )
        .await,
        StatusCode::CONFLICT,
        "last_admin",
        "",
    )
    .await;
    expect_error(
        app.patch(&path, &asha.token, &json!({"role": "owner"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "",
    )
    .await;
    expect_error(
        app.patch(
            &format!("/api/v1/admin/accounts/{}", uuid::Uuid::new_v4()),
            &asha.token,
            &json!({"disabled": true}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
        "",
    )
    .await;

    // Deleted: the rows and the receipt file go.
    let files = app
        .settings
        .storage
        .path
        .join(format!("receipts/{omar_id}"));
    assert!(std::fs::read_dir(&files).unwrap().next().is_some());
    expect(app.delete(&path, &asha.token).await, StatusCode::NO_CONTENT).await;
    assert!(
        std::fs::read_dir(&files).map_or(true, |mut d| d.next().is_none()),
        "the receipt file is gone"
    );
    expect_error(
        app.login("omar@example.com", "correct horse").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "",
    )
    .await;
    expect_error(
        app.delete(&path, &asha.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "",
    )
    .await;
    // Alone now, the administrator may delete their own account.
    expect(
        app.send(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&asha.token),
            Some(&json!({"password": "correct horse"})),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.stop().await;
}

async fn invites_are_made_listed_and_withdrawn_by_the_administrator_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let asha = app.register("asha@example.com").await;
    let omar = app.register("omar@example.com").await;
    for body in [
        json!({"expires_in_days": 0}),
        json!({"expires_in_days": 31}),
        json!({"note": "x".repeat(101)}),
        json!({"note": "line\nbreak"}),
    ] {
        expect_error(
            app.post_json("/api/v1/admin/invites", Some(&asha.token), &body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "",
        )
        .await;
    }
    expect_error(
        app.post_json("/api/v1/admin/invites", Some(&omar.token), &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "admin_only",
        "",
    )
    .await;
    let made = expect(
        app.post_json("/api/v1/admin/invites", Some(&asha.token), &json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["note"], "");
    let expires: chrono::DateTime<chrono::Utc> =
        made["expires_at"].as_str().unwrap().parse().unwrap();
    let created: chrono::DateTime<chrono::Utc> =
        made["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires - created,
        chrono::Duration::days(7),
        "a week by default"
    );
    let id = made["id"].as_str().unwrap().to_owned();
    let listed = expect(
        app.get("/api/v1/admin/invites", &asha.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "open");
    expect_error(
        app.get("/api/v1/admin/invites", &omar.token).await,
        StatusCode::FORBIDDEN,
        "admin_only",
        "",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/v1/admin/invites/{id}"), &omar.token)
            .await,
        StatusCode::FORBIDDEN,
        "admin_only",
        "",
    )
    .await;
    expect(
        app.delete(&format!("/api/v1/admin/invites/{id}"), &asha.token)
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_error(
        app.post_json(
            "/api/v1/auth/register",
            None,
            &person("ravi@example.com", Some(made["secret"].as_str().unwrap())),
        )
        .await,
        StatusCode::FORBIDDEN,
        "invite_invalid",
        "",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/v1/admin/invites/{id}"), &asha.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        "",
    )
    .await;
    app.stop().await;
}

async fn the_landing_page_offers_what_registration_allows(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.auth.registration = Registration::Invite).await;
    let page = |path: &str| {
        let url = app.url(path);
        let client = app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.unwrap()
        }
    };
    let without = page("/").await;
    assert!(
        without.contains("makes accounts by invitation"),
        "{without}"
    );
    assert!(!without.contains("action=\"/signup\""), "{without}");

    let invite = ledgerly_api::instance::invite(app.settings.clone(), None, None, None)
        .await
        .unwrap();
    let with = page(invite.path.as_deref().unwrap()).await;
    assert!(with.contains("action=\"/signup\""), "{with}");
    let secret = secret_of(invite.path.as_deref().unwrap());
    assert!(
        with.contains(&format!("name=\"invite\" value=\"{secret}\"")),
        "{with}"
    );
    let unknown = page("/?invite=made-up").await;
    assert!(unknown.contains("has been used, has expired"), "{unknown}");
    assert!(!unknown.contains("action=\"/signup\""), "{unknown}");
    // An odd address is a page without an invite, not an error.
    let odd = page("/?invite=a&invite=b&x=%ZZ").await;
    assert!(odd.contains("Log in"), "{odd}");
    app.stop().await;
}
