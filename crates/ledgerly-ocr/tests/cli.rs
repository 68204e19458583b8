//! The `ledgerly-ocr` binary: `extract` on a file, and the standalone `worker` beside a real API
//! on both databases — upload, the worker reads it with tesseract, the expense awaits review;
//! SIGTERM stops it cleanly; its metrics count the job.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use ledgerly_api::testing::{ApiClient, RunningApi};
use ledgerly_ocr::synth::{self, Fonts};
use ledgerly_store::testing::{Backend, TestDatabase};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ledgerly-ocr");

#[test]
fn extract_prints_the_fields_as_json() {
    let receipt = synth::receipt(&Fonts::load().unwrap(), 7, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(format!("scan.{}", receipt.kind.extension()));
    std::fs::write(&path, &receipt.image).unwrap();
    let output = Command::new(BIN)
        .args(["extract", "--output", "json", "--currency"])
        .arg(receipt.total.currency().code())
        .arg(&path)
        .env_remove("LEDGERLY__EXTRACTOR__BACKEND")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let fields: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(fields["total"], receipt.total.to_decimal_string());
    assert_eq!(fields["currency"], receipt.total.currency().code());
    assert_eq!(fields["date"], receipt.date.to_string());
    assert_eq!(fields["vendor"], receipt.vendor);
    assert!(fields["confidence"].is_object());
}

#[test]
fn extract_explains_a_bad_file_and_a_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a receipt").unwrap();
    let output = Command::new(BIN)
        .arg("extract")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a JPEG, PNG, WebP, HEIC or PDF"),
        "{stderr}"
    );

    let png = dir.path().join("scan.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n").unwrap();
    let output = Command::new(BIN)
        .args(["extract", "--backend", "gemini"])
        .arg(&png)
        .env_remove("GEMINI_API_KEY")
        .env_remove("LEDGERLY__EXTRACTOR__API_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs an API key"), "{stderr}");
}

use ledgerly_store::on_both_backends;

on_both_backends!(the_standalone_worker_reads_an_upload_and_stops_on_sigterm);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The API on `db`, its receipts in `folder`.
async fn api(db: &TestDatabase, folder: &std::path::Path) -> RunningApi {
    let mut settings = ledgerly_api::Settings::default();
    settings.database.url = db.url().to_owned().into();
    settings.storage.path = folder.to_owned();
    RunningApi::start(settings).await
}

/// SIGTERM, then the exit status within 10 s.
async fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().ok();
    panic!("the worker did not stop within 10 s of SIGTERM")
}

async fn the_standalone_worker_reads_an_upload_and_stops_on_sigterm(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let folder = tempfile::tempdir().unwrap();
    let api = api(&db, folder.path()).await;
    let metrics_port = free_port();
    let mut worker = Command::new(BIN)
        .arg("worker")
        .env("LEDGERLY__DATABASE__URL", db.url())
        .env("LEDGERLY__STORAGE__PATH", folder.path())
        .env("LEDGERLY__EXTRACTOR__BACKEND", "tesseract")
        .env(
            "LEDGERLY__WORKER__METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        )
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let receipt = synth::receipt(&Fonts::load().unwrap(), 7, 3);
    let user = ApiClient::register(
        &api.url,
        "worker@example.com",
        receipt.total.currency().code(),
    )
    .await;
    let uploaded = user.upload(receipt.image.clone()).await;
    let id = uploaded["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker exited early"
    );
    let shown = user.wait_for_ocr(id, 30).await;
    assert_eq!(shown["status"], "done", "{shown}");
    let expense = user.expense_of(&shown).await;
    assert_eq!(expense["amount"], receipt.total.to_decimal_string());
    assert_eq!(expense["date"], receipt.date.to_string());
    assert_eq!(expense["needs_review"], true);

    // The job is counted just after it is closed, which the API may show first.
    let counted = r#"ledgerly_ocr_extractions_total{backend="tesseract",outcome="read"} 1"#;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(counted) || std::time::Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(metrics.contains(counted), "{metrics}");
    assert!(
        metrics
            .contains(r#"ledgerly_ocr_extraction_duration_seconds_count{backend="tesseract"} 1"#),
        "{metrics}"
    );
    let status = terminate(worker).await;
    assert!(status.success(), "{status:?}");
    api.stop().await;
    db.cleanup().await;
}

on_both_backends!(a_worker_reporting_through_the_api_has_its_results_applied_by_the_api);

/// The worker with `--api-url`: results go through the API's signed endpoint, which applies them
/// and closes the job; an unreadable receipt's failure goes the same way.
async fn a_worker_reporting_through_the_api_has_its_results_applied_by_the_api(backend: Backend) {
    const SECRET: &str = "a-shared-secret-of-at-least-32-characters";
    let db = TestDatabase::new(backend).await;
    let folder = tempfile::tempdir().unwrap();
    let mut settings = ledgerly_api::Settings::default();
    settings.database.url = db.url().to_owned().into();
    settings.storage.path = folder.path().to_owned();
    settings.ocr.callback_secret = SECRET.into();
    settings.server.metrics_refresh_seconds = std::num::NonZeroU32::MIN;
    settings.rates.ecb_url = String::new();
    let api = RunningApi::start(settings).await;
    let worker = Command::new(BIN)
        .arg("worker")
        .env("LEDGERLY__DATABASE__URL", db.url())
        .env("LEDGERLY__STORAGE__PATH", folder.path())
        .env("LEDGERLY__EXTRACTOR__BACKEND", "tesseract")
        .env("LEDGERLY_API_URL", &api.url)
        .env("LEDGERLY__OCR__CALLBACK_SECRET", SECRET)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let receipt = synth::receipt(&Fonts::load().unwrap(), 7, 3);
    let user = ApiClient::register(
        &api.url,
        "api-worker@example.com",
        receipt.total.currency().code(),
    )
    .await;
    let good = user.upload(receipt.image.clone()).await;
    let blank =
        ledgerly_ocr::image_prep::png(&image::GrayImage::from_pixel(300, 400, image::Luma([255])));
    let bad = user.upload(blank).await;
    let read = user.wait_for_ocr(good["id"].as_str().unwrap(), 30).await;
    assert_eq!(read["status"], "done", "{read}");
    assert_eq!(
        user.expense_of(&read).await["amount"],
        receipt.total.to_decimal_string()
    );
    let failed = user.wait_for_ocr(bad["id"].as_str().unwrap(), 30).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["failure_reason"]
            .as_str()
            .unwrap()
            .contains("no text"),
        "{failed}"
    );
    // Jobs are counted in the background (every second here).
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = reqwest::get(format!("{}/metrics", api.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let settled = [
            r#"ledgerly_ocr_jobs{state="done"} 1"#,
            r#"ledgerly_ocr_jobs{state="failed"} 1"#,
            r#"ledgerly_ocr_jobs{state="running"} 0"#,
        ];
        if settled
            .iter()
            .all(|line| metrics.lines().any(|l| l == *line))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let has = |line: &str| metrics.lines().any(|l| l == line);
    assert!(
        has(
            r#"ledgerly_http_requests_total{method="POST",route="/internal/ocr-results",status="204"} 2"#
        ),
        "{metrics}"
    );
    assert!(has(r#"ledgerly_ocr_jobs{state="done"} 1"#), "{metrics}");
    assert!(has(r#"ledgerly_ocr_jobs{state="failed"} 1"#), "{metrics}");
    assert!(has(r#"ledgerly_ocr_jobs{state="running"} 0"#), "{metrics}");
    let status = terminate(worker).await;
    assert!(status.success(), "{status:?}");
    api.stop().await;
    db.cleanup().await;
}

on_both_backends!(a_worker_killed_mid_job_loses_nothing_and_another_finishes_it_once);

/// A Gemini stand-in whose first request never answers (the worker holding it gets killed) and
/// whose later ones read the receipt.
async fn stalling_model() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/v1beta/models/{model}",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                }
                let text = r#"{"vendor": "Blue Tokai", "date": "2026-11-20", "total": "450.00", "currency": "INR"}"#;
                axum::Json(json!({
                    "candidates": [{ "content": { "parts": [{ "text": text }], "role": "model" }, "finishReason": "STOP" }]
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

fn start_worker(db: &TestDatabase, folder: &std::path::Path, model: &str) -> std::process::Child {
    Command::new(BIN)
        .args(["worker", "--lease-seconds", "3"])
        .env("LEDGERLY__DATABASE__URL", db.url())
        .env("LEDGERLY__STORAGE__PATH", folder)
        .env("LEDGERLY__EXTRACTOR__BACKEND", "gemini")
        .env("LEDGERLY__EXTRACTOR__API_KEY", "test-key")
        .env("LEDGERLY__EXTRACTOR__BASE_URL", model)
        .env("LEDGERLY__EXTRACTOR__MODEL", "gemini-test")
        .env("LEDGERLY__EXTRACTOR__TIMEOUT_SECONDS", "900")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn a_worker_killed_mid_job_loses_nothing_and_another_finishes_it_once(backend: Backend) {
    use std::sync::atomic::Ordering;
    let db = TestDatabase::new(backend).await;
    let folder = tempfile::tempdir().unwrap();
    let api = api(&db, folder.path()).await;
    let (model, calls) = stalling_model().await;
    let user = ApiClient::register(&api.url, "kill@example.com", "INR").await;
    let uploaded = user.upload(b"\x89PNG\r\n\x1a\n-scan-".to_vec()).await;
    let id = uploaded["id"].as_str().unwrap();

    let mut first = start_worker(&db, folder.path(), &model);
    for _ in 0..200 {
        if calls.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the first worker is reading the receipt"
    );
    // Killed outright: no chance to hand the job back.
    first.kill().unwrap();
    first.wait().unwrap();

    let second = start_worker(&db, folder.path(), &model);
    let shown = user.wait_for_ocr(id, 20).await;
    assert_eq!(shown["status"], "done", "{shown}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "read once more, not twice more"
    );
    let list = user.get("/api/v1/expenses").await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["amount"], "450.00");
    terminate(second).await;
    api.stop().await;
    db.cleanup().await;
}
