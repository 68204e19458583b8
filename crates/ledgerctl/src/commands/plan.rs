//! `ledgerctl plan`: what `provision` would change, resource by resource — `+` create, `~` update
//! (each field: what AWS has → what the stack file wants), `-` delete — changing nothing.

use std::io::Write as _;

use super::stack::{Output, StackArgs, Survey, json_report, summary};

/// Show what provision would change, and change nothing.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    /// Exit 0 with no changes, 2 with changes, 1 on error (for CI).
    #[arg(long)]
    detailed_exitcode: bool,
}

/// The process exit code.
pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let (config, aws) = args.stack.open().await?;
    let survey = Survey::take(&aws, &config).await?;
    let all = survey.changes();
    let changes: Vec<_> = all.iter().filter(|c| c.is_change()).cloned().collect();
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(out, "{:#}", json_report(&changes, &aws))?,
        Output::Text => {
            for change in &all {
                writeln!(out, "{change}")?;
            }
            writeln!(
                out,
                "\nPlan for stack {}: {}.",
                config.stack,
                summary(&changes)
            )?;
        }
    }
    Ok(if args.detailed_exitcode && !changes.is_empty() {
        2
    } else {
        0
    })
}
