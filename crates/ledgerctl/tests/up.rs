//! `ledgerctl up` as a user runs it: the real binary, a fresh data directory, Ctrl-C to stop.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ledgerly_api::testing::ApiClient;
use serde_json::json;

struct Running {
    child: Child,
    url: String,
}

fn start(data_dir: &std::path::Path) -> Running {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &std::path::Path, args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("LEDGERLY__DATABASE__URL")
        .env_remove("LEDGERLY__EXTRACTOR__BACKEND")
        .env_remove("GEMINI_API_KEY")
        .env_remove("LEDGERLY__EXTRACTOR__API_KEY")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("Ledgerly is running at ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running { child, url }
}

/// Sends Ctrl-C (SIGINT) and waits for a clean exit.
fn interrupt(mut running: Running) {
    let status = Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = running.child.try_wait().unwrap() {
            assert!(status.success(), "ledgerctl up exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    running.child.kill().ok();
    panic!("ledgerctl up did not stop within 10 s of Ctrl-C");
}

#[tokio::test]
async fn up_serves_the_app_keeps_data_in_its_folder_and_stops_on_ctrl_c() {
    let data_dir = std::env::temp_dir().join(format!("ledgerctl-up-{}", uuid::Uuid::new_v4()));
    let client = reqwest::Client::new();

    let first = start(&data_dir);
    let health = client
        .get(format!("{}/healthz", first.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The dashboard is served at the root, with its stylesheet and script.
    let landing = client.get(format!("{}/", first.url)).send().await.unwrap();
    assert_eq!(landing.status(), 200);
    assert!(
        landing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = landing.text().await.unwrap();
    assert!(page.contains("Create an account"), "{page}");
    for asset in ["/static/app.css", "/static/app.js"] {
        let response = client
            .get(format!("{}{asset}", first.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let registered = client
        .post(format!("{}/api/v1/auth/register", first.url))
        .json(
            &json!({ "email": "local@example.com", "password": "correct horse", "name": "Local" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    interrupt(first);
    assert!(data_dir.join("ledgerly.db").exists());

    // A second run finds the account.
    let second = start(&data_dir);
    let login = client
        .post(format!("{}/api/v1/auth/login", second.url))
        .json(&json!({ "email": "local@example.com", "password": "correct horse" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    interrupt(second);
    std::fs::remove_dir_all(&data_dir).ok();
}

/// Every variable `ledgerctl up --help` shows is one `up` reads: set together (a settings file
/// among them, which leaves the data folder to `LEDGERLY_DATA_DIR`), up starts and keeps its data
/// in the folder it says.
#[test]
fn up_starts_with_every_variable_its_help_shows() {
    let help = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["up", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    let shown: Vec<&str> = help
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap())
        .collect();
    assert!(shown.len() >= 10, "{help}");
    let dir = std::env::temp_dir().join(format!("ledgerctl-up-env-{}", uuid::Uuid::new_v4()));
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ledgerly.toml");
    std::fs::write(&config, "[auth]\nsession_hours = 48\n").unwrap();
    let value = |name: &str| -> String {
        match name {
            "LEDGERLY_PORT" => "0".into(),
            "LEDGERLY_BIND" => "127.0.0.1".into(),
            "LEDGERLY_DATA_DIR" => data_dir.display().to_string(),
            "LEDGERLY_CONFIG" => config.display().to_string(),
            "LEDGERLY__WORKER__CONCURRENCY" => "2".into(),
            // A paid API's backend, pointed at a port nothing listens on: it is built, never
            // called.
            "LEDGERLY__EXTRACTOR__BACKEND" => "openai".into(),
            "LEDGERLY__EXTRACTOR__MODELS_DIR" => dir.join("models").display().to_string(),
            "LEDGERLY__EXTRACTOR__MODEL" => "gpt-4o-mini".into(),
            "LEDGERLY__EXTRACTOR__API_KEY" => "sk-test".into(),
            "LEDGERLY__EXTRACTOR__BASE_URL" => "http://127.0.0.1:9/v1".into(),
            "LEDGERLY__EXTRACTOR__TIMEOUT_SECONDS" => "5".into(),
            "LEDGERLY__EXTRACTOR__MAX_RETRIES" => "1".into(),
            "LEDGERLY__EXTRACTOR__LANGUAGES" => "eng".into(),
            other => panic!("`ledgerctl up --help` shows {other}: give it a value in this test"),
        }
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("up")
        .envs(shown.iter().map(|name| (*name, value(name))))
        .env_remove("LEDGERLY__DATABASE__URL")
        .env_remove("LEDGERLY__STORAGE__PATH")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let Some(Ok(first)) = lines.next() else {
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        panic!("ledgerctl up did not start: {stderr}");
    };
    assert!(first.starts_with("Ledgerly is running at "), "{first}");
    let said: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert!(
        said.contains(&format!("Data: {}", data_dir.display())),
        "{said:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("OCR: openai")),
        "{said:?}"
    );
    std::thread::spawn(move || for _ in lines {});
    assert!(data_dir.join("ledgerly.db").exists());
    interrupt(Running {
        child,
        url: String::new(),
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_data_directory_that_cannot_be_created_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args([
            "up",
            "--port",
            "0",
            "--data-dir",
            "/proc/ledgerly-cannot-exist",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot create the data directory /proc/ledgerly-cannot-exist"),
        "{stderr}"
    );
}

#[tokio::test]
async fn up_reads_an_uploaded_receipt_with_its_in_process_worker() {
    let data_dir = std::env::temp_dir().join(format!("ledgerctl-up-{}", uuid::Uuid::new_v4()));
    let running = start(&data_dir);
    let fonts = ledgerly_ocr::synth::Fonts::load().unwrap();
    let receipt = ledgerly_ocr::synth::receipt(&fonts, 7, 3);
    let user = ApiClient::register(
        &running.url,
        "ocr@example.com",
        receipt.total.currency().code(),
    )
    .await;
    let uploaded = user.upload(receipt.image.clone()).await;
    let shown = user
        .wait_for_ocr(uploaded["id"].as_str().unwrap(), 30)
        .await;
    assert_eq!(shown["status"], "done", "{shown}");
    let expense = user.expense_of(&shown).await;
    assert_eq!(expense["amount"], receipt.total.to_decimal_string());
    assert_eq!(expense["needs_review"], true);
    let metrics = reqwest::get(format!("{}/metrics", running.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"ledgerly_ocr_extractions_total{backend="paddle",outcome="read"} 1"#),
        "{metrics}"
    );
    interrupt(running);
    std::fs::remove_dir_all(&data_dir).ok();
}

#[tokio::test]
async fn without_an_ocr_backend_up_still_runs_and_receipts_wait_in_the_queue() {
    let data_dir = std::env::temp_dir().join(format!("ledgerctl-up-{}", uuid::Uuid::new_v4()));
    // Gemini without a key cannot start: the app runs without OCR.
    let running = start_with(&data_dir, &["--ocr-backend", "gemini"]);
    let user = ApiClient::register(&running.url, "queue@example.com", "INR").await;
    let uploaded = user.upload(b"\x89PNG\r\n\x1a\n-a receipt-".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown = user.receipt(uploaded["id"].as_str().unwrap()).await;
    assert_eq!(shown["status"], "pending", "{shown}");
    interrupt(running);
    std::fs::remove_dir_all(&data_dir).ok();
}
