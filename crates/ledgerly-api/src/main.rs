//! `ledgerly-api [config.toml]`: the API server, as run in the server image.
//! `ledgerly-api healthcheck [url]`: exit 0 when the server at `url` (default: this container's
//! own `/readyz`) answers 200, 1 otherwise — the image's health check, which has no curl.
//! `ledgerly-api migrate [config.toml]`: apply the database migrations and exit — what a deploy
//! runs before it starts a new server.
//! `ledgerly-api backup DIR [config.toml]` and `ledgerly-api restore DIR [config.toml]`: every
//! account of the instance, with its receipts, to a directory and back (`ledgerly_api::instance`).
//! `ledgerly-api invite [--days N] [--note TEXT] [--origin URL]`: an invite to register, printed
//! as its link — how an operator lets the first account in when registration is by invitation.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ledgerly_api::{Application, Settings, telemetry};

// mimalloc gives freed memory back to the system: after a burst of logins (each argon2id hash
// holds 19 MiB) glibc's per-thread arenas kept the process at its peak (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ledgerly's API server. Settings come from the file given (see config/ledgerly.toml) and
/// `LEDGERLY__SECTION__KEY` variables, which win over it.
#[derive(Debug, Parser)]
#[command(name = "ledgerly-api", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// The settings file (TOML).
    #[arg(env = "LEDGERLY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Exit 0 when the server at URL answers 200, 1 otherwise: the image's health check, which
    /// has no curl.
    Healthcheck {
        /// Default: this container's own /readyz (LEDGERLY__SERVER__PORT, else 8080).
        url: Option<String>,
    },
    /// Apply the database migrations and exit: what a deploy runs before it starts a new server.
    /// Run it as the database's owner; with --app-role it then creates (or updates) the role the
    /// server connects as, which can read and write rows and nothing more.
    Migrate {
        /// The settings file (TOML).
        #[arg(env = "LEDGERLY_CONFIG")]
        config: Option<PathBuf>,
        /// The application role to create or update (PostgreSQL), e.g. ledgerly_app.
        #[arg(long, env = "LEDGERLY_APP_ROLE", requires = "app_role_password")]
        app_role: Option<String>,
        /// Its password (at least 16 characters).
        #[arg(long, env = "LEDGERLY_APP_ROLE_PASSWORD", hide_env_values = true)]
        app_role_password: Option<secrecy::SecretString>,
    },
    /// Back up every account of the instance into DIR (new or empty): one zip per account, as
    /// the dashboard's backup makes, and `instance.json` listing them with their password hashes
    /// — keep the directory as secret as the database.
    Backup {
        /// Where to write the backup.
        dir: PathBuf,
        /// The settings file (TOML).
        #[arg(env = "LEDGERLY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Make an invite to register and print its link (on stdout, alone; when it expires goes to
    /// stderr). One account registers with it; on an empty instance that account is the
    /// administrator.
    Invite {
        /// How many days it lasts: 1 to 30.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Whom it is for, shown in the administrator's list.
        #[arg(long)]
        note: Option<String>,
        /// The server's address, put before the link's path (e.g. https://ledgerly.example.com).
        #[arg(long, default_value = "")]
        origin: String,
        /// Record an invite whose secret was made elsewhere, given as its SHA-256 in hex (as
        /// `ledgerctl invite` does): nothing secret is printed, or passes through this command.
        #[arg(long, value_name = "HEX", value_parser = sha256_hex, conflicts_with = "origin")]
        secret_sha256: Option<Sha256Digest>,
        /// The settings file (TOML).
        #[arg(env = "LEDGERLY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Restore an instance backup from DIR: each account that does not exist is created (same
    /// email and password) and filled; one that exists gets what it lacks.
    Restore {
        /// The directory `ledgerly-api backup` wrote.
        dir: PathBuf,
        /// The settings file (TOML).
        #[arg(env = "LEDGERLY_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// A SHA-256, as given on the command line.
#[derive(Debug, Clone)]
struct Sha256Digest(Vec<u8>);

/// 64 hex digits: a SHA-256.
fn sha256_hex(text: &str) -> Result<Sha256Digest, String> {
    let text = text.trim();
    if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("give the SHA-256 as 64 hex digits".into());
    }
    (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()
        .map(Sha256Digest)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Healthcheck { url }) => {
            let url = url.unwrap_or_else(|| {
                let port =
                    std::env::var("LEDGERLY__SERVER__PORT").unwrap_or_else(|_| "8080".into());
                format!("http://127.0.0.1:{port}/readyz")
            });
            match healthcheck(&url) {
                Ok(()) => std::process::exit(0),
                Err(reason) => {
                    eprintln!("unhealthy: {reason}");
                    std::process::exit(1);
                }
            }
        }
        Some(Command::Migrate {
            config,
            app_role,
            app_role_password,
        }) => {
            telemetry::init();
            let settings = Settings::from_env(config.as_deref()).context("invalid settings")?;
            let store = ledgerly_store::Store::connect_with(
                secrecy::ExposeSecret::expose_secret(&settings.database.url),
                &ledgerly_store::StoreOptions {
                    max_connections: 1,
                    ..ledgerly_store::StoreOptions::default()
                },
            )
            .await
            .context("failed to migrate the database (database.url)")?;
            if let (Some(role), Some(password)) = (app_role, app_role_password) {
                store
                    .grant_app_role(&role, &password)
                    .await
                    .with_context(|| format!("failed to set up the application role {role}"))?;
                tracing::info!(role, "the application role is current");
            }
            store.close().await;
            tracing::info!("the database is migrated");
            Ok(())
        }
        Some(Command::Backup { dir, config }) => {
            telemetry::init();
            let settings = Settings::from_env(config.as_deref()).context("invalid settings")?;
            let done = ledgerly_api::instance::backup(settings, &dir).await?;
            writeln!(
                std::io::stdout(),
                "Backed up {} account(s), {} expense(s) and {} receipt file(s) to {}",
                done.accounts,
                done.expenses,
                done.receipts,
                dir.display()
            )?;
            Ok(())
        }
        Some(Command::Invite {
            days,
            note,
            origin,
            secret_sha256,
            config,
        }) => {
            telemetry::init();
            let settings = Settings::from_env(config.as_deref()).context("invalid settings")?;
            let made = ledgerly_api::instance::invite(
                settings,
                Some(days),
                note,
                secret_sha256.map(|Sha256Digest(hash)| hash),
            )
            .await?;
            if let Some(path) = made.path {
                writeln!(std::io::stdout(), "{}{path}", origin.trim_end_matches('/'),)?;
            }
            writeln!(
                std::io::stderr(),
                "The invite registers one account, until {} UTC.",
                made.expires_at.format("%Y-%m-%d %H:%M")
            )?;
            Ok(())
        }
        Some(Command::Restore { dir, config }) => {
            telemetry::init();
            let settings = Settings::from_env(config.as_deref()).context("invalid settings")?;
            let done = ledgerly_api::instance::restore(settings, &dir).await?;
            writeln!(
                std::io::stdout(),
                "Restored {} account(s) ({} created): {} expense(s) and {} receipt(s) written",
                done.accounts,
                done.accounts_created,
                done.expenses,
                done.receipts
            )?;
            Ok(())
        }
        None => {
            telemetry::init();
            let settings = Settings::from_env(cli.config.as_deref()).context("invalid settings")?;
            // Listening for SIGTERM before saying it listens: a stop sent at once is not lost.
            let signal = ledgerly_process::listen_for_shutdown();
            let app = Application::build(settings).await?;
            tracing::info!(address = %app.local_addr()?, "ledgerly-api listening");
            app.serve(signal).await.context("the server failed")?;
            Ok(())
        }
    }
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
