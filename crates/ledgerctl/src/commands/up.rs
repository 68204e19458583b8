//! `ledgerctl up`: the whole app in one process on this machine — the API, and an OCR worker
//! reading uploads from the job queue — with SQLite and receipt files in the user's data
//! directory, no cloud. Ctrl-C stops both cleanly: requests in flight finish, a receipt being
//! read is finished or handed back to the queue.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use ledgerly_api::{Application, Metrics, Settings};
use ledgerly_ocr::{BackendKind, ExtractorSettings, OcrMetrics, Worker, WorkerOptions};

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
    /// Receipts the OCR worker reads at once.
    #[arg(long, env = "LEDGERLY__WORKER__CONCURRENCY", default_value_t = 1)]
    ocr_concurrency: usize,
    #[command(flatten)]
    extractor: ExtractorSettings,
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
    // The data folder holds the database and the receipt files unless the settings file or the
    // environment put them elsewhere.
    let mut base = toml::Table::new();
    let mut section = |name: &str, key: &str, value: String| {
        let mut table = toml::Table::new();
        table.insert(key.to_owned(), toml::Value::String(value));
        base.insert(name.to_owned(), toml::Value::Table(table));
    };
    let database = format!("sqlite://{}", data_dir.join("ledgerly.db").display());
    let receipts = data_dir.join("receipts");
    section("database", "url", database.clone());
    section("storage", "path", receipts.display().to_string());
    // On one's own machine anyone who can reach it may make an account (the first is the
    // administrator); a settings file or LEDGERLY__AUTH__REGISTRATION says otherwise.
    section("auth", "registration", "open".into());
    let mut settings = Settings::from_env_over(base, args.config.as_deref())?;
    let local = settings.storage.backend == ledgerly_store::objects::StorageBackend::Local;
    let url = secrecy::ExposeSecret::expose_secret(&settings.database.url);
    let place = if url == database && local && settings.storage.path == receipts {
        format!("Data: {}", data_dir.display())
    } else {
        let files = if local {
            settings.storage.path.display().to_string()
        } else {
            format!("the bucket {}", settings.storage.bucket)
        };
        format!(
            "Database: {}\nReceipts: {files}",
            ledgerly_store::redact_url(url)
        )
    };
    settings.server.bind = args.bind;
    settings.server.port = args.port;
    let mut ocr_metrics = None;
    let metrics = Metrics::with(|registry| ocr_metrics = Some(OcrMetrics::register(registry)));
    let app = Application::build_with_metrics(settings, metrics).await?;
    // Without a backend the app still runs: uploads wait in the queue until OCR can read them.
    // The default engine's models, installed on first run.
    let models = if args.extractor.backend == BackendKind::Paddle {
        super::models::ensure(&args.extractor.models_dir())
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    } else {
        Ok(())
    };
    let built = match models {
        Ok(()) => args.extractor.build().await.map_err(|e| e.to_string()),
        Err(reason) => Err(reason),
    };
    let extractor = match built {
        Ok(extractor) => Some(extractor),
        Err(reason) => {
            tracing::warn!(%reason, "OCR is off");
            None
        }
    };
    // Listening for Ctrl-C before saying "Press Ctrl-C to stop".
    let signal = ledgerly_process::listen_for_shutdown();
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
    writeln!(
        out,
        "Open it in a browser to sign up; the API is under /api/v1 (reference at {})",
        ledgerly_api::openapi::DOCS_PATH
    )?;
    writeln!(out, "{place}")?;
    match &extractor {
        Some(extractor) => writeln!(out, "OCR: {}", extractor.name())?,
        None => writeln!(
            out,
            "OCR is off (see the warning above); receipts wait in the queue until it can run"
        )?,
    }
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;

    // One Ctrl-C stops the server and the worker.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        stop_tx.send(true).ok();
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        rx.wait_for(|stop| *stop).await.ok();
    };
    let worker = extractor.map(|extractor| {
        let state = app.state();
        let worker = Worker::new(
            state.store.clone(),
            state.storage.clone(),
            extractor,
            WorkerOptions {
                name: format!("up-{}", std::process::id()),
                concurrency: args.ocr_concurrency.max(1),
                ..WorkerOptions::default()
            },
        )
        .with_metrics(ocr_metrics.unwrap_or_default());
        tokio::spawn(worker.run(stopped(stop_rx.clone())))
    });
    // The server stops after the worker (which gets a few seconds to finish or hand back its
    // receipt), so the database stays open for it.
    let after_worker = async move {
        stopped(stop_rx).await;
        if let Some(worker) = worker
            && let Err(err) = worker.await
        {
            tracing::error!(error = %err, "the OCR worker failed");
        }
    };
    app.serve(after_worker).await.context("the server failed")?;
    writeln!(out, "Stopped.")?;
    Ok(())
}
