//! The `ledgerly-api` binary as the server image runs it: settings from the environment, and a
//! SIGTERM that lets the request in flight finish.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let dir = std::env::temp_dir().join(format!("ledgerly-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .env(
            "LEDGERLY__DATABASE__URL",
            format!("sqlite://{}", dir.join("ledgerly.db").display()),
        )
        .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
        .env("LEDGERLY__SERVER__PORT", "0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The JSON log line announcing the address.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server exits before listening")
            .unwrap();
        if line.contains("ledgerly-api listening") {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            break log["address"].as_str().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    // Half a request…
    let body = r#"{"email":"late@example.com","password":"correct horse","name":"Late"}"#;
    let (first, rest) = body.split_at(20);
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // …then SIGTERM, then the rest of it.
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    // No new connections once stopped.
    assert!(tokio::net::TcpStream::connect(&address).await.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_invalid_setting_stops_start_up_with_its_name() {
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .env("LEDGERLY__DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database.url"), "{stderr}");
}
