//! `ledgerctl up` as a user runs it: the real binary, a fresh data directory, Ctrl-C to stop.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

struct Running {
    child: Child,
    url: String,
}

fn start(data_dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .env_remove("LEDGERLY__DATABASE__URL")
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
