use ledgerly_store::testing::Backend;
use reqwest::StatusCode;

use crate::helpers::*;

on_both_backends!(
    health_and_readiness_answer,
    unknown_routes_and_methods_use_the_error_shape,
    metrics_count_requests_by_route_and_status_and_jobs_by_state,
);

async fn metrics_count_requests_by_route_and_status_and_jobs_by_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    for _ in 0..3 {
        app.get(
            "/api/v1/expenses/00000000-0000-0000-0000-000000000000",
            &priya.token,
        )
        .await;
    }
    expect(
        app.upload(&priya.token, png("m"), "m.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    // Jobs are counted in the background (every second here): the upload's job shows within a
    // few.
    let mut text = String::new();
    for _ in 0..50 {
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        text = response.text().await.unwrap();
        if text.contains(r#"ledgerly_ocr_jobs{state="queued"} 1"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has(
            r#"ledgerly_http_requests_total{method="GET",route="/api/v1/expenses/{id}",status="404"} 3"#
        ),
        "{text}"
    );
    assert!(
        has(
            r#"ledgerly_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"ledgerly_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/api/v1/expenses/{id}"}"#), "{text}");
    assert!(
        has(
            r#"ledgerly_http_request_duration_seconds_count{method="POST",route="/api/v1/receipts"} 1"#
        ),
        "{text}"
    );
    assert!(has(r#"ledgerly_ocr_jobs{state="queued"} 1"#), "{text}");
    assert!(has(r#"ledgerly_ocr_jobs{state="failed"} 0"#), "{text}");
    assert!(!text.contains("00000000-0000"), "ids never become labels");
    app.stop().await;
}

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

/// While the database cannot be reached (its server restarting), requests that need it are
/// answered 503 with a message and `Retry-After`, not 500; once it is back, so is the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_out_of_reach_is_503_with_retry_after_until_it_is_back() {
    let mut relay = None;
    let app = spawn_app_with(Backend::Postgres, |s| {
        use secrecy::ExposeSecret as _;
        // The API reaches the database through a relay that the test can switch off.
        let url = s.database.url.expose_secret().to_owned();
        let (scheme, rest) = url.split_once("@").unwrap();
        let (server, path) = rest.split_once('/').unwrap();
        let to = Relay::to(server.parse().unwrap());
        s.database.url = format!("{scheme}@{}/{path}", to.address).into();
        s.database.acquire_timeout_seconds = std::num::NonZeroU32::MIN;
        relay = Some(to);
    })
    .await;
    let mut relay = relay.unwrap();
    let priya = app.register("priya@example.com").await;
    relay.off().await;
    let refused = app.get("/api/v1/expenses", &priya.token).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "2");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the database"),
        "{body}"
    );
    relay.on();
    expect(
        app.get("/api/v1/expenses", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    app.stop().await;
}
