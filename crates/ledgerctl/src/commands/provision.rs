//! `ledgerctl provision`: makes the stack what its file says — creating what is missing, fixing
//! what drifted, touching nothing else. A second run makes no mutating call; a run interrupted
//! anywhere converges when run again.

use std::io::Write as _;

use super::progress::Progress;
use super::stack::{Output, StackArgs, json_report, summary};
use crate::stack::survey::Survey;

/// Create or update the stack's AWS resources to match the stack file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let aws = &opened.aws;
    let survey = Survey::take(aws, &opened.config, opened.public_key.clone()).await?;
    let planned = survey.changes();
    let waiting: Vec<_> = planned.iter().filter(|c| c.is_waiting()).cloned().collect();
    let text = args.stack.output == Output::Text;
    let progress = Progress::new(
        &format!("provisioning {}", opened.config.stack),
        planned.iter().filter(|c| c.is_change()).count(),
        text && !args.stack.quiet,
    );
    let result = survey
        .apply(aws, &|change| progress.done(&change.to_string()))
        .await;
    progress.finish();
    let mut changes = result?;
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => {
            changes.extend(waiting);
            writeln!(out, "{:#}", json_report(&changes, aws))?;
        }
        Output::Text => {
            if !args.stack.quiet {
                for change in &waiting {
                    writeln!(out, "{change}")?;
                }
            }
            changes.extend(waiting);
            writeln!(
                out,
                "Stack {}: {} ({} AWS calls, {} of them changes).",
                opened.config.stack,
                summary(&changes, true),
                aws.log.reads() + aws.log.writes(),
                aws.log.writes()
            )?;
        }
    }
    Ok(())
}
