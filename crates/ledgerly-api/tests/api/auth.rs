use std::num::NonZeroU32;

use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    register_returns_201_a_token_and_an_http_only_session_cookie,
    register_refuses_a_taken_email_in_any_case_with_409,
    register_names_the_field_that_is_wrong,
    bodies_that_cannot_be_read_get_clear_4xx_answers,
    login_returns_the_same_401_for_a_wrong_password_and_an_unknown_email,
    login_is_rate_limited_per_account_with_retry_after,
    login_is_rate_limited_per_client_address,
    logout_revokes_the_token_and_clears_the_cookie,
    the_session_cookie_authenticates_like_the_bearer_token,
    under_tls_only_the_host_prefixed_cookie_is_a_session,
    an_expired_session_is_refused,
);

async fn register_returns_201_a_token_and_an_http_only_session_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": " Priya@Example.com ", "password": "correct horse", "name": "Priya",
                     "budget": "25000", "currency": "inr", "timezone": "Asia/Kolkata" }),
        )
        .await;
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("ledgerly_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "not configured for TLS: {cookie}"
    );
    let body = expect(response, StatusCode::CREATED).await;
    assert_eq!(body["user"]["email"], "priya@example.com");
    assert_eq!(body["user"]["currency"], "INR");
    assert_eq!(body["user"]["timezone"], "Asia/Kolkata");
    assert!(body["user"].get("password_hash").is_none());
    let token = body["token"].as_str().unwrap();
    let budget = expect(app.get("/api/v1/budget", token).await, StatusCode::OK).await;
    assert_eq!(
        (budget["amount"].as_str(), budget["currency"].as_str()),
        (Some("25000.00"), Some("INR"))
    );
    app.stop().await;
}

async fn register_refuses_a_taken_email_in_any_case_with_409(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("priya@example.com").await;
    let again = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "PRIYA@example.COM", "password": "another one", "name": "P" }),
        )
        .await;
    expect_error(again, StatusCode::CONFLICT, "email_taken", "already exists").await;
    app.stop().await;
}

async fn register_names_the_field_that_is_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = json!({ "email": "a@example.com", "password": "correct horse", "name": "A" });
    let cases = [
        ("email", json!("not-an-email"), "no @"),
        ("password", json!("short"), "at least 8"),
        ("name", json!("   "), "empty"),
        ("currency", json!("RUPEES"), "ISO 4217"),
        ("timezone", json!("Mars/Olympus"), "IANA"),
        ("budget", json!("-5"), "negative"),
        ("budget", json!("12.345"), "decimal places"),
        ("budget", json!("€5"), "EUR"),
    ];
    for (field, value, words) in cases {
        let mut body = base.clone();
        body[field] = value;
        let response = app.post_json("/api/v1/auth/register", None, &body).await;
        let error =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid", words).await;
        assert_eq!(error["error"]["field"], field, "{error}");
    }
    app.stop().await;
}

async fn bodies_that_cannot_be_read_get_clear_4xx_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/v1/auth/register");
    let missing = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "a@example.com" }),
        )
        .await;
    expect_error(
        missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "password",
    )
    .await;
    let wrong_type = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": 5, "password": "x", "name": "y" }),
        )
        .await;
    expect_error(
        wrong_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "email",
    )
    .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "a@example.com", "password": "correct horse", "name": "A", "user_id": "x" }),
        )
        .await;
    expect_error(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "user_id",
    )
    .await;
    let broken = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    expect_error(
        broken,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "not valid JSON",
    )
    .await;
    let form = app
        .client
        .post(&url)
        .form(&[("email", "a@example.com"), ("password", "correct horse")])
        .send()
        .await
        .unwrap();
    expect_error(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "application/json",
    )
    .await;
    let huge =
        json!({ "email": "a@example.com", "password": "x".repeat(1024 * 1024 + 100), "name": "A" });
    let too_large = app.post_json("/api/v1/auth/register", None, &huge).await;
    expect_error(
        too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "too large",
    )
    .await;
    app.stop().await;
}

async fn login_returns_the_same_401_for_a_wrong_password_and_an_unknown_email(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("priya@example.com").await;
    let ok = expect(
        app.login("PRIYA@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    assert!(ok["token"].as_str().unwrap().len() >= 43);
    assert_eq!(ok["user"]["email"], "priya@example.com");
    let wrong = expect_error(
        app.login("priya@example.com", "wrong horse").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "wrong email or password",
    )
    .await;
    let unknown = expect_error(
        app.login("nobody@example.com", "correct horse").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "wrong email or password",
    )
    .await;
    assert_eq!(wrong, unknown);
    let malformed = app.login("not an email", "x").await;
    expect_error(
        malformed,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
        "wrong",
    )
    .await;
    app.stop().await;
}

async fn login_is_rate_limited_per_account_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.failed_logins_per_account = NonZeroU32::new(3).unwrap();
    })
    .await;
    app.register("priya@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            app.login("priya@example.com", "guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login("priya@example.com", "correct horse").await;
    let retry_after: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    expect_error(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "try again",
    )
    .await;
    // Other accounts are not locked out.
    app.register("ravi@example.com").await;
    assert_eq!(
        app.login("ravi@example.com", "correct horse")
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn login_is_rate_limited_per_client_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.auth.login_attempts_per_ip = NonZeroU32::new(4).unwrap();
    })
    .await;
    // Registering counts against the address as well.
    app.register("priya@example.com").await;
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(
            app.login(email, "whatever1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login("priya@example.com", "correct horse").await;
    assert!(limited.headers().contains_key(RETRY_AFTER));
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

async fn logout_revokes_the_token_and_clears_the_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let other = expect(
        app.login("priya@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .post_json("/api/v1/auth/logout", Some(&priya.token), &json!({}))
        .await;
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    expect(response, StatusCode::NO_CONTENT).await;
    expect_error(
        app.get("/api/v1/me", &priya.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "log in",
    )
    .await;
    // The other session is untouched.
    expect(
        app.get("/api/v1/me", other["token"].as_str().unwrap())
            .await,
        StatusCode::OK,
    )
    .await;
    let again = app
        .post_json("/api/v1/auth/logout", Some(&priya.token), &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn under_tls_only_the_host_prefixed_cookie_is_a_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.auth.cookie_secure = true).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "t@example.com", "password": "correct horse", "name": "T" }),
        )
        .await;
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-ledgerly_session=") && cookie.contains("; Path=/;"),
        "{cookie}"
    );
    assert!(
        cookie.ends_with("; Secure") && !cookie.contains("Domain"),
        "{cookie}"
    );
    let token = expect(response, StatusCode::CREATED).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_cookie = |name: &str| {
        reqwest::Client::new()
            .get(app.url("/api/v1/me"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    let me = with_cookie("__Host-ledgerly_session").await.unwrap();
    assert_eq!(expect(me, StatusCode::OK).await["email"], "t@example.com");
    // The name without the prefix could have been set by a sibling subdomain or over plain HTTP.
    let planted = with_cookie("ledgerly_session").await.unwrap();
    assert_eq!(planted.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn the_session_cookie_authenticates_like_the_bearer_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let registered = client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": "c@example.com", "password": "correct horse", "name": "C" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let token = expect(registered, StatusCode::CREATED).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(expect(me, StatusCode::OK).await["email"], "c@example.com");
    // A state-changing call on the cookie alone could come from another site's page: it needs
    // the CSRF token too (the dashboard's pages carry it); a bearer token needs none.
    let forged = client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        expect(forged, StatusCode::FORBIDDEN).await["error"]["code"],
        "csrf_refused"
    );
    let wrong = client
        .post(app.url("/api/v1/auth/logout"))
        .header(
            "x-csrf-token",
            ledgerly_api::auth::csrf::token_for(&"another session".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let out = client
        .post(app.url("/api/v1/auth/logout"))
        .header(
            "x-csrf-token",
            ledgerly_api::auth::csrf::token_for(&token.clone().into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn an_expired_session_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let user_id: ledgerly_core::UserId = priya.user["id"].as_str().unwrap().parse().unwrap();
    let token = ledgerly_api::auth::token::generate();
    app.db
        .store
        .create_session(
            user_id,
            &ledgerly_api::auth::token::hash(&token),
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    expect_error(
        app.get("/api/v1/me", secrecy::ExposeSecret::expose_secret(&token))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "log in",
    )
    .await;
    app.stop().await;
}
