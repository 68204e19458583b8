//! `ledgerctl provision`: makes the stack what its file says — creating what is missing, fixing
//! what drifted, touching nothing else. A second run makes no mutating call; a run interrupted
//! anywhere converges when run again.

use std::io::Write as _;

use super::stack::{Output, StackArgs, Survey, json_report, summary};

/// Create or update the stack's AWS resources to match the stack file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let (config, aws) = args.stack.open().await?;
    let survey = Survey::take(&aws, &config).await?;
    let text = args.stack.output == Output::Text;
    let changes = survey
        .apply(&aws, |change| {
            if text {
                // Progress: each resource as it is done.
                let mut out = std::io::stdout().lock();
                writeln!(out, "{change}").ok();
            }
        })
        .await?;
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(out, "{:#}", json_report(&changes, &aws))?,
        Output::Text => writeln!(
            out,
            "Stack {}: {} ({} AWS calls, {} of them changes).",
            config.stack,
            if changes.is_empty() {
                "no changes".to_owned()
            } else {
                format!("done, {}", summary(&changes))
            },
            aws.log.reads() + aws.log.writes(),
            aws.log.writes()
        )?,
    }
    Ok(())
}
