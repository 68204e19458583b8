use ledgerly_store::testing::Backend;
use reqwest::StatusCode;

use crate::helpers::*;

on_both_backends!(
    health_and_readiness_answer,
    unknown_routes_and_methods_use_the_error_shape
);

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = expect(
        app.client.get(app.url("/healthz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["status"], "ok");
    let ready = expect(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready["database"], "ok");
    app.stop().await;
}

async fn unknown_routes_and_methods_use_the_error_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "not_found", "route").await;
    let wrong_method = app
        .client
        .put(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    expect_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method",
    )
    .await;
    app.stop().await;
}
