//! schemathesis fuzzes the API from its own OpenAPI document, signed in as a real user: every
//! response must be documented and match its schema, and nothing may answer 5xx.
//!
//! The CLI comes from `LEDGERLY_SCHEMATHESIS` (scripts/test installs it). The seed is fixed so a
//! failure reproduces; set `LEDGERLY_SCHEMATHESIS_SEED` to explore others.

use std::num::NonZeroU32;

use ledgerly_store::testing::Backend;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(the_api_keeps_its_documented_contract_under_fuzzing);

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

async fn the_api_keeps_its_documented_contract_under_fuzzing(backend: Backend) {
    let cli = std::env::var("LEDGERLY_SCHEMATHESIS").expect(
        "LEDGERLY_SCHEMATHESIS names the schemathesis CLI; scripts/test installs it and sets it",
    );
    let app = spawn_app_with(backend, |s| {
        s.ocr.callback_secret = "fuzzing-secret-of-at-least-32-characters".into();
        // Let the fuzzer past the login limiter, so the logic behind it is exercised too.
        s.auth.login_attempts_per_ip = NonZeroU32::new(1_000_000).unwrap();
        s.auth.failed_logins_per_account = NonZeroU32::new(1_000_000).unwrap();
        // A quarter of the connections may export at once: two, one for each worker, so two
        // exports at the same moment are not the documented 503 `busy`.
        s.database.max_connections = NonZeroU32::new(8).unwrap();
    })
    .await;
    let user = app.register("fuzz@example.com").await;
    // Some data for the read routes to show.
    app.create_expense(
        &user.token,
        json!({"date": "2026-11-02", "category": "Food", "vendor": "Blue Tokai", "amount": "450.00"}),
    )
    .await;
    app.upload(&user.token, png("fuzz"), "fuzz.png", None).await;
    let seed = std::env::var("LEDGERLY_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261124".into());
    let work = std::env::temp_dir()
        .join("ledgerly-tests")
        .join(format!("schemathesis-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).unwrap();
    let args = vec![
        "run".to_owned(),
        app.url("/api/v1/openapi.json"),
        "--header".into(),
        format!("Authorization: Bearer {}", user.token),
        "--checks".into(),
        CHECKS.into(),
        // Logging out would end the session the rest of the run uses.
        "--exclude-operation-id".into(),
        "logout".into(),
        "--max-examples".into(),
        "40".into(),
        "--seed".into(),
        seed.clone(),
        "--workers".into(),
        "2".into(),
        "--request-timeout".into(),
        "20".into(),
        "--no-color".into(),
        "--generation-database".into(),
        "none".into(),
    ];
    let dir = work.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&cli)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cli}: {e}"))
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&work).ok();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis (seed {seed}) found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    app.stop().await;
}
