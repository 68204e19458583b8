use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

on_both_backends!(
    the_document_describes_every_route_of_the_contract,
    the_docs_page_is_served_with_its_assets,
);

/// The routes the contract promises, as (method, path).
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("delete", "/api/v1/me"),
    ("put", "/api/v1/me/password"),
    ("put", "/api/v1/me/email"),
    ("get", "/api/v1/expenses"),
    ("post", "/api/v1/expenses"),
    ("get", "/api/v1/expenses/{id}"),
    ("patch", "/api/v1/expenses/{id}"),
    ("delete", "/api/v1/expenses/{id}"),
    ("post", "/api/v1/expenses/{id}/confirm"),
    ("get", "/api/v1/expenses/export.csv"),
    ("get", "/api/v1/export.zip"),
    ("get", "/api/v1/categories"),
    ("post", "/api/v1/categories"),
    ("patch", "/api/v1/categories/{id}"),
    ("delete", "/api/v1/categories/{id}"),
    ("get", "/api/v1/budget"),
    ("put", "/api/v1/budget"),
    ("get", "/api/v1/budget/categories"),
    ("put", "/api/v1/budget/categories/{category}"),
    ("get", "/api/v1/summary"),
    ("get", "/api/v1/tags"),
    ("patch", "/api/v1/tags/{id}"),
    ("delete", "/api/v1/tags/{id}"),
    ("post", "/api/v1/tags/{id}/merge"),
    ("get", "/api/v1/stats/tags"),
    ("get", "/api/v1/rates"),
    ("post", "/api/v1/rates"),
    ("delete", "/api/v1/rates/{base}/{quote}/{date}"),
    ("put", "/api/v1/rates/ecb"),
    ("get", "/api/v1/recurring"),
    ("post", "/api/v1/recurring"),
    ("get", "/api/v1/recurring/upcoming"),
    ("get", "/api/v1/recurring/{id}"),
    ("patch", "/api/v1/recurring/{id}"),
    ("delete", "/api/v1/recurring/{id}"),
    ("post", "/api/v1/recurring/{id}/pause"),
    ("post", "/api/v1/recurring/{id}/resume"),
    ("post", "/api/v1/recurring/{id}/skips"),
    ("delete", "/api/v1/recurring/{id}/skips/{date}"),
    ("post", "/api/v1/imports"),
    ("get", "/api/v1/imports/{id}"),
    ("put", "/api/v1/imports/{id}"),
    ("delete", "/api/v1/imports/{id}"),
    ("post", "/api/v1/imports/{id}/commit"),
    ("get", "/api/v1/stats/monthly"),
    ("get", "/api/v1/stats/categories"),
    ("post", "/api/v1/receipts"),
    ("get", "/api/v1/receipts"),
    ("get", "/api/v1/receipts/{id}"),
    ("delete", "/api/v1/receipts/{id}"),
    ("get", "/api/v1/receipts/{id}/image"),
    ("post", "/api/v1/receipts/{id}/retry"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/admin/accounts"),
    ("patch", "/api/v1/admin/accounts/{id}"),
    ("delete", "/api/v1/admin/accounts/{id}"),
    ("post", "/api/v1/admin/accounts/{id}/password-reset"),
    ("get", "/api/v1/admin/invites"),
    ("post", "/api/v1/admin/invites"),
    ("delete", "/api/v1/admin/invites/{id}"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/complete"),
    ("post", "/internal/ocr-results"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

/// What manages the account's sign-in: a login session, never an API token.
const SESSION_ONLY: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/logout"),
    ("put", "/api/v1/me/password"),
    ("put", "/api/v1/me/email"),
    ("delete", "/api/v1/me"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/admin/accounts"),
    ("patch", "/api/v1/admin/accounts/{id}"),
    ("delete", "/api/v1/admin/accounts/{id}"),
    ("get", "/api/v1/admin/invites"),
    ("post", "/api/v1/admin/invites"),
    ("delete", "/api/v1/admin/invites/{id}"),
    ("post", "/api/v1/admin/accounts/{id}/password-reset"),
];

const PUBLIC: &[&str] = &[
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/complete",
    "/internal/ocr-results",
    "/healthz",
    "/readyz",
    "/metrics",
];

async fn the_document_describes_every_route_of_the_contract(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ocr.callback_secret = "s".repeat(32).into();
    })
    .await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let doc = expect(response, StatusCode::OK).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = 0;
    for item in paths.values() {
        documented += item.as_object().unwrap().len();
    }
    assert_eq!(
        documented,
        CONTRACT.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (method, path) in CONTRACT {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} documents no success"
        );
        assert_eq!(
            operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{method} {path}"
        );
        let public = PUBLIC.contains(path);
        assert_eq!(
            responses.contains_key("401"),
            !public || *path == "/api/v1/auth/login" || *path == "/internal/ocr-results",
            "{method} {path}: 401"
        );
        let security = &operation["security"];
        if public {
            assert_eq!(
                security,
                &serde_json::json!([{}]),
                "{method} {path} must need no session"
            );
        } else if SESSION_ONLY.contains(&(method, path)) {
            assert_eq!(
                security,
                &serde_json::json!([{"bearer": []}, {"session_cookie": []}]),
                "{method} {path} must need a login session"
            );
        } else {
            assert!(
                security.is_null(),
                "{method} {path} uses the document's security"
            );
        }
    }
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids must be unique: {ids:?}");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    assert_eq!(schemes["session_cookie"]["name"], "ledgerly_session");
    assert_eq!(schemes["api_token"]["scheme"], "bearer");
    assert_eq!(schemes["api_token"]["bearerFormat"], "lgy_…");
    // The global requirement: a session's bearer token, the cookie, or a personal API token.
    assert_eq!(
        doc["security"],
        serde_json::json!([{"bearer": []}, {"session_cookie": []}, {"api_token": []}])
    );
    // Schemas referenced are defined.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{name} is referenced but not defined"
        );
    }
    let expense = &doc["components"]["schemas"]["ExpenseView"];
    assert_eq!(expense["properties"]["amount"]["type"], "string");
    assert_eq!(
        expense["properties"]["currency"]["$ref"],
        "#/components/schemas/Currency"
    );
    app.stop().await;
}

async fn the_docs_page_is_served_with_its_assets(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let config = app
        .client
        .get(app.url("/api/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), StatusCode::OK);
    let script = config.text().await.unwrap();
    assert!(script.contains("/api/v1/openapi.json"), "{script}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let response = app
            .client
            .get(app.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 10_000, "{asset}");
    }
    // No CDN: the page loads nothing from another host.
    assert!(!html.contains("https://"), "{html}");
    let _: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.stop().await;
}
