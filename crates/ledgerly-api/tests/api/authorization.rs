//! Every route touching user data: no token → 401; another user's token → 404 and not the data.

use ledgerly_store::testing::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    every_data_route_needs_a_session,
    another_users_token_gets_404_and_changes_nothing,
);

fn data_routes(expense: &str, category: &str) -> Vec<(Method, String, Value)> {
    let e = format!("/api/v1/expenses/{expense}");
    let c = format!("/api/v1/categories/{category}");
    // Any id: the session is checked before the import is looked up.
    let e_id = expense;
    vec![
        (Method::GET, "/api/v1/me".into(), Value::Null),
        (Method::PATCH, "/api/v1/me".into(), json!({ "name": "X" })),
        (
            Method::PUT,
            "/api/v1/me/password".into(),
            json!({ "current_password": "correct horse", "new_password": "stolen pass" }),
        ),
        (
            Method::PUT,
            "/api/v1/me/email".into(),
            json!({ "email": "x@example.com", "password": "correct horse" }),
        ),
        (
            Method::DELETE,
            "/api/v1/me".into(),
            json!({ "password": "correct horse" }),
        ),
        (Method::POST, "/api/v1/auth/logout".into(), Value::Null),
        (Method::GET, "/api/v1/expenses".into(), Value::Null),
        (
            Method::POST,
            "/api/v1/expenses".into(),
            json!({ "date": "2026-01-01", "category": "food", "vendor": "X", "amount": "1" }),
        ),
        (
            Method::GET,
            "/api/v1/expenses/export.csv".into(),
            Value::Null,
        ),
        (Method::GET, "/api/v1/export.zip".into(), Value::Null),
        (Method::GET, e.clone(), Value::Null),
        (Method::PATCH, e.clone(), json!({ "amount": "1" })),
        (Method::POST, format!("{e}/confirm"), Value::Null),
        (Method::DELETE, e, Value::Null),
        (Method::GET, "/api/v1/categories".into(), Value::Null),
        (
            Method::POST,
            "/api/v1/categories".into(),
            json!({ "name": "Mine" }),
        ),
        (Method::PATCH, c.clone(), json!({ "name": "Taken over" })),
        (Method::DELETE, c, Value::Null),
        (Method::GET, "/api/v1/budget".into(), Value::Null),
        (
            Method::PUT,
            "/api/v1/budget".into(),
            json!({ "amount": "1" }),
        ),
        (Method::GET, "/api/v1/budget/categories".into(), Value::Null),
        (
            Method::PUT,
            "/api/v1/budget/categories/food".into(),
            json!({ "amount": "1" }),
        ),
        (Method::GET, "/api/v1/summary".into(), Value::Null),
        (Method::GET, "/api/v1/stats/monthly".into(), Value::Null),
        (Method::GET, "/api/v1/stats/categories".into(), Value::Null),
        (Method::GET, "/api/v1/tags".into(), Value::Null),
        (
            Method::PATCH,
            format!("/api/v1/tags/{e_id}"),
            json!({ "name": "x" }),
        ),
        (Method::DELETE, format!("/api/v1/tags/{e_id}"), Value::Null),
        (
            Method::POST,
            format!("/api/v1/tags/{e_id}/merge"),
            json!({ "into": "x" }),
        ),
        (Method::GET, "/api/v1/stats/tags".into(), Value::Null),
        (Method::GET, "/api/v1/rates".into(), Value::Null),
        (
            Method::POST,
            "/api/v1/rates".into(),
            json!({ "currency": "USD", "rate": "80", "date": "2026-01-01" }),
        ),
        (
            Method::DELETE,
            "/api/v1/rates/USD/INR/2026-01-01".into(),
            Value::Null,
        ),
        (
            Method::PUT,
            "/api/v1/rates/ecb".into(),
            json!({ "enabled": true }),
        ),
        (Method::GET, "/api/v1/recurring".into(), Value::Null),
        (
            Method::POST,
            "/api/v1/recurring".into(),
            json!({ "category": "food", "vendor": "X", "amount": "1", "unit": "month",
                    "starts_on": "2026-01-01" }),
        ),
        (
            Method::GET,
            "/api/v1/recurring/upcoming".into(),
            Value::Null,
        ),
        (
            Method::GET,
            format!("/api/v1/recurring/{e_id}"),
            Value::Null,
        ),
        (
            Method::PATCH,
            format!("/api/v1/recurring/{e_id}"),
            json!({ "amount": "1" }),
        ),
        (
            Method::DELETE,
            format!("/api/v1/recurring/{e_id}"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/recurring/{e_id}/pause"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/recurring/{e_id}/resume"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/recurring/{e_id}/skips"),
            Value::Null,
        ),
        (
            Method::DELETE,
            format!("/api/v1/recurring/{e_id}/skips/2026-01-01"),
            Value::Null,
        ),
        (Method::GET, "/api/v1/tokens".into(), Value::Null),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            json!({ "name": "x", "scope": "read" }),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tokens/{e_id}"),
            Value::Null,
        ),
        (Method::GET, "/api/v1/admin/accounts".into(), Value::Null),
        (
            Method::PATCH,
            format!("/api/v1/admin/accounts/{e_id}"),
            json!({ "disabled": true }),
        ),
        (
            Method::DELETE,
            format!("/api/v1/admin/accounts/{e_id}"),
            Value::Null,
        ),
        (Method::GET, "/api/v1/admin/invites".into(), Value::Null),
        (Method::POST, "/api/v1/admin/invites".into(), json!({})),
        (
            Method::DELETE,
            format!("/api/v1/admin/invites/{e_id}"),
            Value::Null,
        ),
        (Method::POST, "/api/v1/imports".into(), Value::Null),
        (Method::GET, format!("/api/v1/imports/{e_id}"), Value::Null),
        (Method::PUT, format!("/api/v1/imports/{e_id}"), json!({})),
        (
            Method::DELETE,
            format!("/api/v1/imports/{e_id}"),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/imports/{e_id}/commit"),
            Value::Null,
        ),
    ]
}

async fn every_data_route_needs_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let expense = app
        .create_expense(
            &priya.token,
            json!({ "date": "2026-01-01", "category": "food", "vendor": "V", "amount": "1" }),
        )
        .await;
    let categories = expect(
        app.get("/api/v1/categories", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    let routes = data_routes(
        expense["id"].as_str().unwrap(),
        categories[0]["id"].as_str().unwrap(),
    );
    for (method, path, body) in routes {
        let body = (!body.is_null()).then_some(&body);
        for token in [None, Some("forged-token"), Some(""), Some("lgy_forged")] {
            let response = app.send(method.clone(), &path, token, body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {text}"
            );
            assert!(text.contains("\"unauthenticated\""), "{text}");
        }
    }
    app.stop().await;
}

async fn another_users_token_gets_404_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let ravi = app.register("ravi@example.com").await;
    let expense = app.create_expense(&priya.token, json!({ "date": "2026-01-01", "category": "food", "vendor": "Priya's", "amount": "42" })).await;
    let mine = expect(
        app.post_json(
            "/api/v1/categories",
            Some(&priya.token),
            &json!({ "name": "Private" }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let e = format!("/api/v1/expenses/{}", expense["id"].as_str().unwrap());
    let c = format!("/api/v1/categories/{}", mine["id"].as_str().unwrap());
    for (method, path, body) in [
        (Method::GET, e.clone(), None),
        (Method::PATCH, e.clone(), Some(json!({ "amount": "1" }))),
        (Method::POST, format!("{e}/confirm"), None),
        (Method::DELETE, e.clone(), None),
        (Method::PATCH, c.clone(), Some(json!({ "name": "Taken" }))),
        (Method::DELETE, c.clone(), None),
        (
            Method::PUT,
            format!("/api/v1/budget/categories/{}", mine["id"].as_str().unwrap()),
            Some(json!({ "amount": "1" })),
        ),
    ] {
        let response = app
            .send(method.clone(), &path, Some(&ravi.token), body.as_ref())
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert!(
            !text.contains("Priya's") && !text.contains("Private"),
            "{text}"
        );
    }
    // Ravi's lists and statistics show none of Priya's data, and his category filter cannot name hers.
    let list = expect(
        app.get("/api/v1/expenses", &ravi.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["total"], 0);
    let filtered = app
        .get(
            &format!("/api/v1/expenses?category={}", mine["id"].as_str().unwrap()),
            &ravi.token,
        )
        .await;
    expect_error(
        filtered,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "no category",
    )
    .await;
    let csv = app
        .get("/api/v1/expenses/export.csv", &ravi.token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains("Priya's"));
    let stats = expect(
        app.get("/api/v1/stats/monthly?year=2026", &ravi.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats, json!([]));
    let categories = expect(
        app.get("/api/v1/categories", &ravi.token).await,
        StatusCode::OK,
    )
    .await;
    assert!(!categories.to_string().contains("Private"));
    let under_hers = app
        .post_json(
            "/api/v1/expenses",
            Some(&ravi.token),
            &json!({ "date": "2026-01-01", "category": mine["id"], "vendor": "X", "amount": "1" }),
        )
        .await;
    expect_error(
        under_hers,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "no category",
    )
    .await;
    // Priya's data is as she left it.
    assert_eq!(
        expect(app.get(&e, &priya.token).await, StatusCode::OK).await,
        expense
    );
    let hers = expect(
        app.get("/api/v1/categories", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    assert!(hers.to_string().contains("Private"));
    app.stop().await;
}
