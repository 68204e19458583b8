//! The `ledgerly-api` binary as the server image runs it: settings from the environment, a
//! SIGTERM that lets the request in flight finish (after a drain, when one is set), and
//! `ledgerly-api migrate`, which a deploy runs before starting a new server.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ledgerly-bin-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server on a free port with its data in `dir`; the process and its address.
fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .env(
            "LEDGERLY__DATABASE__URL",
            format!("sqlite://{}", dir.join("ledgerly.db").display()),
        )
        .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
        .env("LEDGERLY__SERVER__PORT", "0")
        .env("LEDGERLY__AUTH__REGISTRATION", "open")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
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
    (child, address)
}

fn sigterm(child: &std::process::Child) {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let dir = temp_dir();
    let (child, address) = start(&dir, &[]);

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
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    // No new connections once stopped.
    assert!(tokio::net::TcpStream::connect(&address).await.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// `invite` prints the link that lets the first account into a server whose registration is by
/// invitation; that account is the administrator.
#[tokio::test]
async fn an_invite_from_the_command_line_lets_the_first_account_in() {
    let dir = temp_dir();
    let invite = |args: &[&str], registration: &str| {
        Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .arg("invite")
            .args(args)
            .env_remove("LEDGERLY_CONFIG")
            .env(
                "LEDGERLY__DATABASE__URL",
                format!("sqlite://{}", dir.join("ledgerly.db").display()),
            )
            .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
            .env("LEDGERLY__AUTH__REGISTRATION", registration)
            .output()
            .unwrap()
    };
    let made = invite(
        &[
            "--days",
            "2",
            "--note",
            "the owner",
            "--origin",
            "https://ledgerly.example.com/",
        ],
        "invite",
    );
    assert!(made.status.success(), "{made:?}");
    let link = String::from_utf8(made.stdout).unwrap();
    let secret = link
        .trim_end()
        .strip_prefix("https://ledgerly.example.com/?invite=")
        .unwrap_or_else(|| panic!("not a link: {link}"))
        .to_owned();
    assert!(secret.len() >= 40 && !secret.contains('\n'), "{link}");
    let said = String::from_utf8_lossy(&made.stderr);
    assert!(said.contains("registers one account, until"), "{said}");

    // Bad input and closed registration: a clear error, a failing exit.
    let refused = invite(&["--days", "40"], "invite");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("1 to 30 days"), "{said}");
    let refused = invite(&[], "closed");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("registration is closed"), "{said}");

    let refused = invite(&["--secret-sha256", "not-a-hash"], "invite");
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("64 hex digits"));
    // A secret made elsewhere: only its hash is given, and nothing secret is printed.
    let elsewhere = "a-secret-made-by-ledgerctl";
    let hash: String = <sha2::Sha256 as sha2::Digest>::digest(elsewhere.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let recorded = invite(&["--secret-sha256", &hash], "invite");
    assert!(recorded.status.success(), "{recorded:?}");
    assert!(recorded.stdout.is_empty(), "{recorded:?}");

    let (child, address) = start(&dir, &[("LEDGERLY__AUTH__REGISTRATION", "invite")]);
    let http = reqwest::Client::new();
    let register = |invite: Option<&str>| {
        let mut body = serde_json::json!({
            "email": "owner@example.com", "password": "correct horse", "name": "Owner"
        });
        if let Some(invite) = invite {
            body["invite"] = invite.into();
        }
        http.post(format!("http://{address}/api/v1/auth/register"))
            .json(&body)
            .send()
    };
    assert_eq!(register(None).await.unwrap().status(), 403);
    let registered = register(Some(&secret)).await.unwrap();
    assert_eq!(registered.status(), 201);
    let session: serde_json::Value = registered.json().await.unwrap();
    assert_eq!(session["user"]["role"], "admin", "{session}");
    let second = http
        .post(format!("http://{address}/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": "second@example.com", "password": "correct horse", "name": "Second",
            "invite": elsewhere
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    sigterm(&child);
    let mut child = child;
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
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

#[tokio::test]
async fn a_drain_answers_not_ready_while_it_still_serves_then_exits() {
    let dir = temp_dir();
    let (mut child, address) = start(&dir, &[("LEDGERLY__SERVER__DRAIN_SECONDS", "2")]);
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    sigterm(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: not ready for a proxy's check, yet requests are still answered.
    let ready = http
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining", "{body}");
    let registered = http
        .post(format!("http://{address}/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": "drain@example.com", "password": "correct horse", "name": "Drain"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    assert!(
        child.try_wait().unwrap().is_none(),
        "it left before the drain ended"
    );
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(tokio::net::TcpStream::connect(&address).await.is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let dir = temp_dir();
    let database = dir.join("ledgerly.db");
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .arg("migrate")
        .env(
            "LEDGERLY__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let tables = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from _sqlx_migrations where success\").fetchone()[0])",
        ])
        .arg(&database)
        .output()
        .unwrap();
    let applied: u32 = String::from_utf8_lossy(&tables.stdout)
        .trim()
        .parse()
        .unwrap();
    let files = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "sql")
    })
    .count();
    assert_eq!(applied as usize, files, "every migration applied");

    // Unreachable: a clear error and a failing exit.
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .arg("migrate")
        .env(
            "LEDGERLY__DATABASE__URL",
            "sqlite:///nonexistent-ledgerly-dir/ledgerly.db",
        )
        .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("failed to migrate the database"),
        "{output:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_and_version_are_answered_not_read_as_a_settings_file() {
    let run = |arg: &str| {
        Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .arg(arg)
            .env_remove("LEDGERLY_CONFIG")
            .output()
            .unwrap()
    };
    let help = run("--help");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for part in [
        "Usage: ledgerly-api",
        "healthcheck",
        "migrate",
        "backup",
        "restore",
        "invite",
        "[CONFIG]",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    let version = run("--version");
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("ledgerly-api {}", env!("CARGO_PKG_VERSION"))
    );
    let wrong = run("--frobnicate");
    assert_eq!(wrong.status.code(), Some(2));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("--frobnicate") && !said.contains("backtrace"),
        "{said}"
    );
}

/// `migrate --app-role`, run as the database's owner, creates the role the server connects as:
/// the server works as it (migrations off, the schema checked), and the role can change rows but
/// not the schema, nor the migration history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_as_an_application_role_that_cannot_change_the_schema() {
    use ledgerly_store::testing::{Backend, TestDatabase};
    let db = TestDatabase::new(Backend::Postgres).await;
    let role = format!(
        "ledgerly_app_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = "an-application-password-of-some-length";
    let migrate = |role: &str, password: &str| {
        Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .arg("migrate")
            .env("LEDGERLY__DATABASE__URL", db.url())
            .env("LEDGERLY_APP_ROLE", role)
            .env("LEDGERLY_APP_ROLE_PASSWORD", password)
            .output()
            .unwrap()
    };
    let output = migrate(&role, password);
    assert!(output.status.success(), "{output:?}");
    // Again (every deploy migrates): the role is kept and its grants brought up to date.
    assert!(migrate(&role, password).status.success());
    let refused = migrate("Robert'); DROP TABLE users;--", password);
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("not a role name"),
        "{refused:?}"
    );

    // The owner's URL with the role's name and password instead.
    let (_, server) = db.url().split_once('@').unwrap();
    let as_app = format!("postgres://{role}:{password}@{server}");
    let dir = temp_dir();
    let (mut child, address) = start(
        &dir,
        &[
            ("LEDGERLY__DATABASE__URL", as_app.as_str()),
            ("LEDGERLY__DATABASE__MIGRATE", "false"),
        ],
    );
    let client = reqwest::Client::new();
    let session: serde_json::Value = client
        .post(format!("http://{address}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "app@example.com", "password": "correct horse", "name": "A"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = client
        .post(format!("http://{address}/api/v1/expenses"))
        .bearer_auth(session["token"].as_str().unwrap())
        .json(&serde_json::json!({"amount": "12.50", "date": "2026-05-02", "category": "food", "vendor": "Cafe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    sigterm(&child);
    child.wait().unwrap();

    let psql = |sql: &str| {
        Command::new("psql")
            .args([as_app.as_str(), "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
            .output()
            .unwrap()
    };
    let rows = psql("SELECT count(*) FROM expenses");
    assert_eq!(
        String::from_utf8_lossy(&rows.stdout).trim(),
        "1",
        "{rows:?}"
    );
    for sql in [
        "CREATE TABLE intruder (a int)",
        "DROP TABLE users",
        "ALTER TABLE users ADD COLUMN b int",
        "DELETE FROM _sqlx_migrations",
        "CREATE ROLE other",
    ] {
        let output = psql(sql);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success()
                && (said.contains("permission denied") || said.contains("must be owner")),
            "{sql}: {output:?}"
        );
    }
    // A schema behind the release stops the server with what to do.
    let forget = Command::new("psql")
        .args([db.url(), "-qAtc", "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)"])
        .output()
        .unwrap();
    assert!(forget.status.success(), "{forget:?}");
    let behind = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
        .env("LEDGERLY__DATABASE__URL", &as_app)
        .env("LEDGERLY__DATABASE__MIGRATE", "false")
        .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
        .env("LEDGERLY__SERVER__PORT", "0")
        .output()
        .unwrap();
    assert!(
        !behind.status.success()
            && String::from_utf8_lossy(&behind.stderr).contains("ledgerly-api migrate"),
        "{behind:?}"
    );

    let admin = Command::new("psql")
        .args([db.url(), "-qAtc", &format!("DROP OWNED BY {role}")])
        .output()
        .unwrap();
    assert!(admin.status.success(), "{admin:?}");
    db.cleanup().await;
    let dropped = Command::new("psql")
        .args([
            ledgerly_store::testing::admin_url().as_str(),
            "-qAtc",
            &format!("DROP ROLE {role}"),
        ])
        .output()
        .unwrap();
    assert!(dropped.status.success(), "{dropped:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `ledgerly-api backup DIR` and `restore DIR` run against the configured database and storage,
/// say what they did, and refuse a directory that already holds something with why.
#[test]
fn backup_and_restore_run_from_the_command_line() {
    let dir = temp_dir();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .args(args)
            .env(
                "LEDGERLY__DATABASE__URL",
                format!("sqlite://{}", dir.join("ledgerly.db").display()),
            )
            .env("LEDGERLY__STORAGE__PATH", dir.join("receipts"))
            .env_remove("LEDGERLY_CONFIG")
            .output()
            .unwrap()
    };
    let target = dir.join("backup");
    let target = target.to_str().unwrap();
    let backup = run(&["backup", target]);
    assert!(backup.status.success(), "{backup:?}");
    assert!(
        String::from_utf8_lossy(&backup.stdout).contains("Backed up 0 account(s)"),
        "{backup:?}"
    );
    assert!(dir.join("backup/instance.json").exists());
    let again = run(&["backup", target]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is not empty"),
        "{again:?}"
    );
    let restore = run(&["restore", target]);
    assert!(restore.status.success(), "{restore:?}");
    assert!(
        String::from_utf8_lossy(&restore.stdout).contains("Restored 0 account(s)"),
        "{restore:?}"
    );
    let missing = run(&["restore", dir.join("nothing").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("give the directory `ledgerly-api backup` wrote"),
        "{missing:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
