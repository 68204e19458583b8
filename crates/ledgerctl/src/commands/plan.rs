//! `ledgerctl plan`: what `provision` would change, resource by resource — `+` create, `~` update
//! (each field: what AWS has → what the stack file wants), `…` waiting (for the first deploy) —
//! changing nothing. For an ECS stack without a hosted zone, where to point the domain.

use std::io::Write as _;

use super::stack::{Output, StackArgs, json_report, summary};
use crate::stack::survey::Survey;

/// Show what provision would change, and change nothing.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    /// Exit 0 with no changes, 2 with changes (or resources waiting), 1 on error (for CI).
    #[arg(long)]
    detailed_exitcode: bool,
}

/// The process exit code.
pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let opened = args.stack.open().await?;
    let survey = Survey::take(&opened.aws, &opened.config, opened.public_key).await?;
    let all = survey.changes();
    let pending: Vec<_> = all
        .iter()
        .filter(|c| c.is_change() || c.is_waiting())
        .cloned()
        .collect();
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(out, "{:#}", json_report(&pending, &opened.aws))?,
        Output::Text => {
            if !args.stack.quiet {
                for change in &all {
                    writeln!(out, "{change}")?;
                }
                writeln!(out)?;
            }
            writeln!(
                out,
                "Plan for stack {}: {}.",
                opened.config.stack,
                summary(&pending, false)
            )?;
            if let Some(note) = crate::aws::route53::by_hand(&opened.config, survey.known()) {
                writeln!(out, "{note}")?;
            }
        }
    }
    Ok(if args.detailed_exitcode && !pending.is_empty() {
        2
    } else {
        0
    })
}
