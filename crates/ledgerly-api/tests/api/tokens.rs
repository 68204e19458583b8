//! Personal API tokens through the API: made with a login session and shown once, listed without
//! their secret, accepted as `Authorization: Bearer`, held to their scope, never allowed to manage
//! the account's sign-in, left by a password change, gone when revoked or with the account.

use ledgerly_store::testing::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    a_token_is_made_once_listed_used_and_revoked,
    a_read_token_only_reads_and_no_token_manages_the_sign_in,
    bad_token_requests_are_refused_with_what_was_wrong,
    a_password_change_leaves_tokens_and_deleting_the_account_ends_them,
);

async fn make(app: &TestApp, session: &str, body: Value) -> Value {
    expect(
        app.post_json("/api/v1/tokens", Some(session), &body).await,
        StatusCode::CREATED,
    )
    .await
}

async fn a_token_is_made_once_listed_used_and_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let p = priya.token.as_str();
    let made = make(
        &app,
        p,
        json!({"name": "backup script", "scope": "read_write", "expires_in_days": 30}),
    )
    .await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lgy_") && secret.len() > 40, "{made}");
    assert_eq!(made["name"], "backup script");
    assert_eq!(made["scope"], "read_write");
    assert_eq!(made["expired"], false);
    assert_eq!(made["last_used_at"], Value::Null);
    let created =
        chrono::DateTime::parse_from_rfc3339(made["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(made["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(30));
    let default = make(&app, p, json!({"name": "phone", "scope": "read"})).await;
    let created =
        chrono::DateTime::parse_from_rfc3339(default["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(default["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(90));

    // The token works as a bearer token and acts for its account.
    let me = expect(app.get("/api/v1/me", &secret).await, StatusCode::OK).await;
    assert_eq!(me["email"], "priya@example.com");
    let expense = app
        .create_expense(
            &secret,
            json!({"date": "2026-03-02", "category": "food", "vendor": "From a script", "amount": "12"}),
        )
        .await;
    expect(
        app.get(
            &format!("/api/v1/expenses/{}", expense["id"].as_str().unwrap()),
            p,
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Listed newest first, without any secret, with its last use.
    let listed = expect(app.get("/api/v1/tokens", p).await, StatusCode::OK).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["name"], "phone");
    assert_eq!(listed[1]["id"], made["id"]);
    assert!(listed[1]["last_used_at"].is_string(), "{listed:?}");
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    let text = serde_json::to_string(listed).unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("secret"),
        "{text}"
    );

    // Another account cannot see or revoke it.
    let omar = app.register("omar@example.com").await;
    let omars = expect(app.get("/api/v1/tokens", &omar.token).await, StatusCode::OK).await;
    assert_eq!(omars, json!([]));
    let path = format!("/api/v1/tokens/{}", made["id"].as_str().unwrap());
    expect_error(
        app.delete(&path, &omar.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "API token",
    )
    .await;
    expect(app.get("/api/v1/me", &secret).await, StatusCode::OK).await;

    // Revoked: it stops working at once, and a second revoke is a 404.
    let response = app.delete(&path, p).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get("/api/v1/me", &secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "",
    )
    .await;
    expect(app.delete(&path, p).await, StatusCode::NOT_FOUND).await;
    let listed = expect(app.get("/api/v1/tokens", p).await, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn a_read_token_only_reads_and_no_token_manages_the_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let p = priya.token.as_str();
    let read = make(
        &app,
        p,
        json!({"name": "dashboard widget", "scope": "read"}),
    )
    .await;
    let read = read["secret"].as_str().unwrap().to_owned();
    let write = make(&app, p, json!({"name": "importer", "scope": "read_write"})).await;
    let write = write["secret"].as_str().unwrap().to_owned();

    for path in [
        "/api/v1/expenses",
        "/api/v1/summary",
        "/api/v1/categories",
        "/api/v1/me",
    ] {
        expect(app.get(path, &read).await, StatusCode::OK).await;
    }
    let expense = json!({"date": "2026-03-02", "category": "food", "vendor": "V", "amount": "1"});
    for (method, path, body) in [
        (Method::POST, "/api/v1/expenses", Some(expense.clone())),
        (Method::PATCH, "/api/v1/me", Some(json!({"name": "X"}))),
        (
            Method::POST,
            "/api/v1/categories",
            Some(json!({"name": "Travel"})),
        ),
        (
            Method::PUT,
            "/api/v1/rates/ecb",
            Some(json!({"enabled": true})),
        ),
    ] {
        expect_error(
            app.send(method, path, Some(&read), body.as_ref()).await,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "can only read",
        )
        .await;
    }
    let list = expect(app.get("/api/v1/expenses", p).await, StatusCode::OK).await;
    assert_eq!(list["total"], 0, "nothing was written: {list}");

    // Neither kind of token manages the account's sign-in.
    for token in [&read, &write] {
        for (method, path, body) in [
            (Method::GET, "/api/v1/tokens".to_owned(), None),
            (
                Method::POST,
                "/api/v1/tokens".to_owned(),
                Some(json!({"name": "wider", "scope": "read_write"})),
            ),
            (
                Method::PUT,
                "/api/v1/me/password".to_owned(),
                Some(
                    json!({"current_password": "correct horse", "new_password": "stolen account"}),
                ),
            ),
            (
                Method::PUT,
                "/api/v1/me/email".to_owned(),
                Some(json!({"email": "thief@example.com", "password": "correct horse"})),
            ),
            (
                Method::DELETE,
                "/api/v1/me".to_owned(),
                Some(json!({"password": "correct horse"})),
            ),
            (Method::POST, "/api/v1/auth/logout".to_owned(), None),
        ] {
            let response = app
                .send(method.clone(), &path, Some(token), body.as_ref())
                .await;
            let status = response.status();
            let body = response.json::<Value>().await.unwrap();
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
            // A read token is stopped by its scope first when the request writes.
            let code = body["error"]["code"].as_str().unwrap();
            assert!(
                code == "session_required" || (token == &read && code == "insufficient_scope"),
                "{method} {path}: {body}"
            );
        }
    }
    expect_error(
        app.get("/api/v1/tokens", &read).await,
        StatusCode::FORBIDDEN,
        "session_required",
        "sign in with the password",
    )
    .await;
    // Still the same account, password and tokens.
    expect(
        app.login("priya@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let listed = expect(app.get("/api/v1/tokens", p).await, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    expect(app.get("/api/v1/me", &write).await, StatusCode::OK).await;
    app.stop().await;
}

async fn bad_token_requests_are_refused_with_what_was_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let p = priya.token.as_str();
    for (body, field, words) in [
        (json!({"name": "  ", "scope": "read"}), "name", "name"),
        (
            json!({"name": "x".repeat(61), "scope": "read"}),
            "name",
            "60",
        ),
        (
            json!({"name": "a", "scope": "read", "expires_in_days": 0}),
            "expires_in_days",
            "1 to 3650",
        ),
        (
            json!({"name": "a", "scope": "read", "expires_in_days": 3651}),
            "expires_in_days",
            "1 to 3650",
        ),
    ] {
        let body = expect_error(
            app.post_json("/api/v1/tokens", Some(p), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            words,
        )
        .await;
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    for body in [
        json!({"name": "a", "scope": "write"}),
        json!({"name": "a"}),
        json!({"name": "a", "scope": "read", "owner": "someone"}),
        json!({"name": "a", "scope": "read", "expires_in_days": -1}),
    ] {
        expect_error(
            app.post_json("/api/v1/tokens", Some(p), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "",
        )
        .await;
    }
    make(&app, p, json!({"name": "Phone", "scope": "read"})).await;
    expect_error(
        app.post_json(
            "/api/v1/tokens",
            Some(p),
            &json!({"name": "phone", "scope": "read_write"}),
        )
        .await,
        StatusCode::CONFLICT,
        "token_exists",
        "phone",
    )
    .await;
    expect_error(
        app.delete("/api/v1/tokens/not-an-id", p).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "not found",
    )
    .await;
    let listed = expect(app.get("/api/v1/tokens", p).await, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    app.stop().await;
}

async fn a_password_change_leaves_tokens_and_deleting_the_account_ends_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let p = priya.token.as_str();
    let token = make(&app, p, json!({"name": "script", "scope": "read_write"})).await;
    let secret = token["secret"].as_str().unwrap().to_owned();
    let response = app
        .put(
            "/api/v1/me/password",
            p,
            &json!({"current_password": "correct horse", "new_password": "battery staple"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect(app.get("/api/v1/me", &secret).await, StatusCode::OK).await;

    let response = app
        .send(
            Method::DELETE,
            "/api/v1/me",
            Some(p),
            Some(&json!({"password": "battery staple"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get("/api/v1/me", &secret).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "",
    )
    .await;
    app.stop().await;
}
