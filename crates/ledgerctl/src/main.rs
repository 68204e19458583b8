//! `ledgerctl`: run Ledgerly locally, and (as the work lands) provision, deploy and operate it.

mod commands;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ledgerctl",
    version,
    about = "Run, provision, deploy and operate Ledgerly"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Up(commands::up::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    ledgerly_api::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
