use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    the_profile_is_read_and_changed_field_by_field,
    a_password_change_needs_the_current_password_and_signs_out_other_sessions,
    an_email_change_needs_the_password_and_a_free_address,
    deleting_the_account_needs_the_password_and_removes_everything,
    the_password_recheck_is_limited_like_a_login,
    an_email_change_signs_out_the_other_sessions,
    the_theme_follows_the_device_until_chosen,
);

async fn the_password_recheck_is_limited_like_a_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let failures = app.settings.auth.failed_logins_per_account.get();
    for _ in 0..failures {
        let wrong = app
            .put(
                "/api/v1/me/password",
                &priya.token,
                &json!({ "current_password": "guess", "new_password": "a new password" }),
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    }
    // Past the limit even the right password waits, on every route that re-checks it.
    for (path, body) in [
        (
            "/api/v1/me/password",
            json!({ "current_password": "correct horse", "new_password": "a new password" }),
        ),
        (
            "/api/v1/me/email",
            json!({ "email": "p@example.org", "password": "correct horse" }),
        ),
    ] {
        let limited = app.put(path, &priya.token, &body).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(limited.headers().contains_key("retry-after"), "{path}");
    }
    let me = expect(app.get("/api/v1/me", &priya.token).await, StatusCode::OK).await;
    assert_eq!(me["email"], "priya@example.com", "nothing changed");
    app.stop().await;
}

async fn an_email_change_signs_out_the_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let elsewhere = expect(
        app.login("priya@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let elsewhere = elsewhere["token"].as_str().unwrap().to_owned();
    expect(
        app.put(
            "/api/v1/me/email",
            &priya.token,
            &json!({ "email": "p@example.org", "password": "correct horse" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.get("/api/v1/me", &elsewhere).await.status(),
        StatusCode::UNAUTHORIZED
    );
    expect(app.get("/api/v1/me", &priya.token).await, StatusCode::OK).await;
    app.stop().await;
}

async fn the_profile_is_read_and_changed_field_by_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let me = expect(app.get("/api/v1/me", &priya.token).await, StatusCode::OK).await;
    assert_eq!(me, priya.user);
    let changed = expect(
        app.patch(
            "/api/v1/me",
            &priya.token,
            &json!({ "timezone": "Europe/Berlin" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (changed["timezone"].as_str(), changed["name"].as_str()),
        (Some("Europe/Berlin"), Some("Priya Sharma"))
    );
    let changed = expect(
        app.patch(
            "/api/v1/me",
            &priya.token,
            &json!({ "name": "Priya S", "currency": "eur" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (changed["name"].as_str(), changed["currency"].as_str()),
        (Some("Priya S"), Some("EUR"))
    );
    for (body, field) in [
        (json!({ "timezone": "Nowhere" }), "timezone"),
        (json!({ "currency": "XYZ" }), "currency"),
        (json!({ "name": "" }), "name"),
    ] {
        let error = expect_error(
            app.patch("/api/v1/me", &priya.token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            field,
        )
        .await;
        assert_eq!(error["error"]["field"], field);
    }
    let sneaky = app
        .patch(
            "/api/v1/me",
            &priya.token,
            &json!({ "email": "x@example.com" }),
        )
        .await;
    expect_error(sneaky, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "email").await;
    app.stop().await;
}

async fn a_password_change_needs_the_current_password_and_signs_out_other_sessions(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let phone = expect(
        app.login("priya@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let phone = phone["token"].as_str().unwrap();
    let wrong = app
        .put(
            "/api/v1/me/password",
            &priya.token,
            &json!({ "current_password": "nope", "new_password": "battery staple" }),
        )
        .await;
    expect_error(wrong, StatusCode::FORBIDDEN, "wrong_password", "wrong").await;
    let short = app
        .put(
            "/api/v1/me/password",
            &priya.token,
            &json!({ "current_password": "correct horse", "new_password": "short" }),
        )
        .await;
    expect_error(
        short,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "new_password",
    )
    .await;
    let ok = app
        .put(
            "/api/v1/me/password",
            &priya.token,
            &json!({ "current_password": "correct horse", "new_password": "battery staple" }),
        )
        .await;
    expect(ok, StatusCode::NO_CONTENT).await;
    expect(app.get("/api/v1/me", &priya.token).await, StatusCode::OK).await;
    assert_eq!(
        app.get("/api/v1/me", phone).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("priya@example.com", "correct horse")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("priya@example.com", "battery staple")
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn an_email_change_needs_the_password_and_a_free_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    app.register("ravi@example.com").await;
    let wrong = app
        .put(
            "/api/v1/me/email",
            &priya.token,
            &json!({ "email": "p@example.org", "password": "nope" }),
        )
        .await;
    expect_error(wrong, StatusCode::FORBIDDEN, "wrong_password", "wrong").await;
    let taken = app
        .put(
            "/api/v1/me/email",
            &priya.token,
            &json!({ "email": "RAVI@example.com", "password": "correct horse" }),
        )
        .await;
    expect_error(taken, StatusCode::CONFLICT, "email_taken", "already exists").await;
    let invalid = app
        .put(
            "/api/v1/me/email",
            &priya.token,
            &json!({ "email": "nope", "password": "correct horse" }),
        )
        .await;
    expect_error(
        invalid,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "email",
    )
    .await;
    let moved = expect(
        app.put(
            "/api/v1/me/email",
            &priya.token,
            &json!({ "email": "P@Example.org", "password": "correct horse" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["email"], "p@example.org");
    assert_eq!(
        app.login("p@example.org", "correct horse").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn deleting_the_account_needs_the_password_and_removes_everything(backend: Backend) {
    let app = spawn_app(backend).await;
    // The instance's first account, its administrator, stays.
    app.register("admin@example.com").await;
    let priya = app.register("priya@example.com").await;
    let ravi = app.register("ravi@example.com").await;
    app.create_expense(
        &priya.token,
        json!({ "date": "2026-01-02", "category": "food", "vendor": "Cafe", "amount": "120" }),
    )
    .await;
    let refused = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&priya.token),
            Some(&json!({ "password": "nope" })),
        )
        .await;
    expect_error(refused, StatusCode::FORBIDDEN, "wrong_password", "wrong").await;
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&priya.token),
            Some(&json!({ "password": "correct horse" })),
        )
        .await;
    expect(deleted, StatusCode::NO_CONTENT).await;
    assert_eq!(
        app.get("/api/v1/me", &priya.token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("priya@example.com", "correct horse")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    expect(app.get("/api/v1/me", &ravi.token).await, StatusCode::OK).await;
    // The address is free again.
    app.register("priya@example.com").await;
    app.stop().await;
}

async fn the_theme_follows_the_device_until_chosen(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    assert_eq!(priya.user["theme"], "system");
    let changed = expect(
        app.patch("/api/v1/me", t, &json!({"theme": "dark"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["theme"], "dark");
    assert_eq!(changed["name"], "Priya Sharma", "the rest stays");
    let body = expect_error(
        app.patch("/api/v1/me", t, &json!({"theme": "sepia"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "`sepia` is not a theme",
    )
    .await;
    assert_eq!(body["error"]["field"], "theme");
    let me = expect(app.get("/api/v1/me", t).await, StatusCode::OK).await;
    assert_eq!(me["theme"], "dark");
    app.stop().await;
}
