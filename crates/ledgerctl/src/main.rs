//! `ledgerctl`: run Ledgerly locally; plan, provision and destroy its AWS stack; build, deploy, roll
//! back and watch it on its instance.

mod aws;
mod commands;
mod docker;
mod stack;

use clap::{ArgAction, CommandFactory as _, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ledgerctl",
    version,
    about = "Run, provision, deploy and operate Ledgerly"
)]
struct Cli {
    /// More detail in the log on standard error (-v: AWS calls, -vv: everything).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Up(commands::up::Args),
    Plan(commands::plan::Args),
    Provision(commands::provision::Args),
    Setup(commands::setup::Args),
    Destroy(commands::destroy::Args),
    Build(commands::build::Args),
    Deploy(commands::deploy::Args),
    Rollback(commands::deploy::RollbackArgs),
    Status(commands::status::Args),
    Reconcile(commands::reconcile::Args),
    Logs(commands::logs::Args),
    Tunnel(commands::tunnel::Args),
    Access(commands::access::Args),
    Exec(commands::exec::Args),
    Invite(commands::invite::Args),
    Restart(commands::restart::Args),
    Prune(commands::prune::Args),
    Lock(commands::lock::Args),
    Completions(commands::completions::Args),
    Man(commands::completions::ManArgs),
}

/// The operator commands log warnings and ledgerctl's own notes (IAM propagation, waits) by
/// default; `RUST_LOG` wins over the flags.
fn init_cli_logging(verbose: u8) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(match verbose {
            0 => "warn,ledgerctl=info",
            1 => "info,ledgerctl=debug,aws_smithy_runtime::client::orchestrator=debug",
            _ => "debug",
        })
    });
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
    drop(result);
}

// mimalloc gives freed memory back to the system: `ledgerctl up` runs the API and the OCR
// engine in this process, and glibc's per-thread arenas kept it at its peak after a burst.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(_) => ledgerly_api::telemetry::init(),
        _ => init_cli_logging(cli.verbose),
    }
    let result = match cli.command {
        Command::Up(args) => commands::up::run(args).await.map(|()| 0),
        Command::Plan(args) => commands::plan::run(args).await,
        Command::Provision(args) => commands::provision::run(args).await.map(|()| 0),
        Command::Setup(args) => commands::setup::run(args).await,
        Command::Destroy(args) => commands::destroy::run(args).await.map(|()| 0),
        Command::Build(args) => commands::build::run(args).await.map(|()| 0),
        Command::Deploy(args) => commands::deploy::run(args).await.map(|()| 0),
        Command::Rollback(args) => commands::deploy::rollback(args).await.map(|()| 0),
        Command::Status(args) => commands::status::run(args).await,
        Command::Reconcile(args) => commands::reconcile::run(args).await.map(|()| 0),
        Command::Logs(args) => commands::logs::run(args).await.map(|()| 0),
        Command::Tunnel(args) => commands::tunnel::run(args).await.map(|()| 0),
        Command::Access(args) => commands::access::run(args).await.map(|()| 0),
        Command::Exec(args) => commands::exec::run(args).await,
        Command::Invite(args) => commands::invite::run(args).await.map(|()| 0),
        Command::Restart(args) => commands::restart::run(args).await.map(|()| 0),
        Command::Prune(args) => commands::prune::run(args).await.map(|()| 0),
        Command::Lock(args) => commands::lock::run(args).await.map(|()| 0),
        Command::Completions(args) => commands::completions::run(&args, Cli::command()).map(|()| 0),
        Command::Man(args) => commands::completions::man(&args, Cli::command()).map(|()| 0),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
