//! `ledgerctl up`: the whole app in one process on this machine — SQLite in the user's data
//! directory, no cloud. Ctrl-C stops it cleanly.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use ledgerly_api::{Application, Settings, shutdown_signal};

/// Run Ledgerly locally: the API on SQLite, with its data in your data directory.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The port to listen on (0 picks a free one).
    #[arg(long, env = "LEDGERLY_PORT", default_value_t = 8080)]
    port: u16,
    /// The address to listen on. Use 0.0.0.0 to reach it from other machines.
    #[arg(long, env = "LEDGERLY_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Where the database and receipt files live; created on first run.
    /// Default: your data directory, e.g. ~/.local/share/ledgerly.
    #[arg(long, env = "LEDGERLY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A settings file (TOML, see config/ledgerly.toml); `LEDGERLY__SECTION__KEY` variables
    /// override it. The flags above win over both.
    #[arg(long, env = "LEDGERLY_CONFIG")]
    config: Option<PathBuf>,
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    match dirs::data_dir() {
        Some(dir) => Ok(dir.join("ledgerly")),
        None => bail!("cannot tell where your data directory is; pass --data-dir <folder>"),
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mut settings = Settings::from_env(args.config.as_deref())?;
    if args.config.is_none() {
        if std::env::var_os("LEDGERLY__DATABASE__URL").is_none() {
            settings.database.url = format!("sqlite://{}", data_dir.join("ledgerly.db").display());
        }
        if std::env::var_os("LEDGERLY__STORAGE__PATH").is_none() {
            settings.storage.path = data_dir.join("receipts");
        }
    }
    settings.server.bind = args.bind;
    settings.server.port = args.port;
    let app = Application::build(settings).await?;
    let address = app.local_addr()?;
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        address.ip().to_string()
    };
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Ledgerly is running at http://{host}:{}",
        address.port()
    )?;
    writeln!(out, "Data: {}", data_dir.display())?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    app.serve(shutdown_signal())
        .await
        .context("the server failed")?;
    writeln!(out, "Stopped.")?;
    Ok(())
}
