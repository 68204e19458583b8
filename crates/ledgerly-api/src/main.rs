//! `ledgerly-api [config.toml]`: the API server, as run in the server image.
//! `ledgerly-api healthcheck [url]`: exit 0 when the server at `url` (default: this container's
//! own `/readyz`) answers 200, 1 otherwise — the image's health check, which has no curl.
//! `ledgerly-api migrate [config.toml]`: apply the database migrations and exit — what a deploy
//! runs before it starts a new server.

use std::path::PathBuf;

use anyhow::Context as _;
use ledgerly_api::{Application, Settings, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        let port = std::env::var("LEDGERLY__SERVER__PORT").unwrap_or_else(|_| "8080".into());
        let url = std::env::args()
            .nth(2)
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}/readyz"));
        match healthcheck(&url) {
            Ok(()) => std::process::exit(0),
            Err(reason) => {
                eprintln!("unhealthy: {reason}");
                std::process::exit(1);
            }
        }
    }
    telemetry::init();
    let migrate_only = std::env::args().nth(1).as_deref() == Some("migrate");
    let path = std::env::args_os()
        .nth(if migrate_only { 2 } else { 1 })
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LEDGERLY_CONFIG").map(PathBuf::from));
    let settings = Settings::from_env(path.as_deref()).context("invalid settings")?;
    if migrate_only {
        let store = ledgerly_store::Store::connect_with(
            &settings.database.url,
            &ledgerly_store::StoreOptions {
                max_connections: 1,
                ..ledgerly_store::StoreOptions::default()
            },
        )
        .await
        .context("failed to migrate the database (database.url)")?;
        store.close().await;
        tracing::info!("the database is migrated");
        return Ok(());
    }
    let app = Application::build(settings).await?;
    tracing::info!(address = %app.local_addr()?, "ledgerly-api listening");
    app.serve(shutdown_signal())
        .await
        .context("the server failed")?;
    Ok(())
}

/// One plain-HTTP GET of `url` with a short timeout; Ok on a 200.
fn healthcheck(url: &str) -> Result<(), String> {
    use std::io::{Read as _, Write as _};
    use std::net::ToSocketAddrs as _;
    use std::time::Duration;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are checked"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let timeout = Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("{address}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: ledgerly-healthcheck\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream
        .take(4096)
        .read_to_end(&mut reply)
        .map_err(|e| e.to_string())?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("{url} answered {status:?}"))
    }
}
