//! `ledgerctl tunnel` to a service on the instance and to the database.

use std::process::Command;

use crate::common;
use crate::fixtures::*;

/// Starts `ledgerctl tunnel` and returns it with the line it printed.
pub(crate) fn tunnel(stack: &Stack, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("tunnel")
        .args(args)
        .arg("--config")
        .arg(stack.path("ledgerly.yaml"))
        .arg("--endpoint-url")
        .arg(endpoint())
        .args(["--ssh-host", &common::ssh_host()])
        .args(common::ssh_key_args())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[tokio::test]
async fn tunnel_forwards_a_local_port_to_a_service_on_the_instance_and_to_the_database() {
    let stack = Stack::new("tun");
    // Not provisioned yet: no address to reach.
    let output = stack.ledgerctl(&["tunnel", "grafana"], None);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!(
            "the stack {} has no Elastic IP yet; run ledgerctl provision first",
            stack.name
        )),
        "{output:?}"
    );
    stack.provision();

    // A service listening on the instance's loopback (this machine stands in for it).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remote = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            // The request's first bytes; its content does not matter here.
            let mut request = [0u8; 1024];
            let _read = stream.read(&mut request);
            stream
                .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 9\r\n\r\ntunnel-ok")
                .ok();
        }
    });
    let local = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut child, line) = tunnel(
        &stack,
        &[
            "goaccess",
            "--remote-port",
            &remote.to_string(),
            "--local-port",
            &local.to_string(),
        ],
    );
    assert_eq!(
        line.trim(),
        format!("goaccess: http://127.0.0.1:{local}/ → 127.0.0.1:{remote} on the instance")
    );
    let body = reqwest::get(format!("http://127.0.0.1:{local}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "tunnel-ok");
    child.kill().unwrap();
    child.wait().unwrap();

    // The database: reached through the instance, at the endpoint RDS gives.
    let endpoint = aws_sdk_rds::Client::new(&aws().await)
        .describe_db_instances()
        .db_instance_identifier(format!("{}-db", stack.name))
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_owned();
    let (mut child, line) = tunnel(&stack, &["db"]);
    assert!(
        line.starts_with("db: postgres://ledgerly@127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(&format!("→ {endpoint}:5432")), "{line}");
    assert!(
        line.contains(&format!("--name /{}/db-password", stack.name)),
        "{line}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
