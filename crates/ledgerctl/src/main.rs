//! `ledgerctl`: run Ledgerly locally, and (as the work lands) provision, deploy and operate it.

mod aws;
mod commands;
mod stack;

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
    Plan(commands::plan::Args),
    Provision(commands::provision::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    ledgerly_api::telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(args).await.map(|()| 0),
        Command::Plan(args) => commands::plan::run(args).await,
        Command::Provision(args) => commands::provision::run(args).await.map(|()| 0),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
