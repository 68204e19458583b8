//! `ledgerctl provision`: makes the stack what its file says — creating what is missing, fixing
//! what drifted, touching nothing else. A second run makes no mutating call; a run interrupted
//! anywhere converges when run again. Like `terraform apply`, it shows the plan and asks before
//! changing anything: at a terminal, for `yes`; elsewhere it needs `--auto-approve`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;

use super::progress::Progress;
use super::stack::{Output, StackArgs, json_report, summary};
use crate::stack::ResourceChange;
use crate::stack::survey::Survey;

/// Create or update the stack's AWS resources to match the stack file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    /// Apply the plan without asking (needed when not at a terminal, as in CI).
    #[arg(long)]
    auto_approve: bool,
}

/// Shows the plan and asks for `yes` at a terminal; elsewhere, refuses.
fn approve(planned: &[ResourceChange], stack: &str, region: &str) -> anyhow::Result<()> {
    let count = planned.iter().filter(|c| c.is_change()).count();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "provision would make {count} change(s) to the stack {stack} (ledgerctl plan shows them); \
             pass --auto-approve to apply them when not at a terminal"
        );
    }
    let mut err = std::io::stderr();
    for change in planned.iter().filter(|c| c.is_change() || c.is_waiting()) {
        writeln!(err, "{change}")?;
    }
    writeln!(
        err,
        "\nPlan for stack {stack}: {}.",
        summary(planned, false)
    )?;
    write!(
        err,
        "Apply these changes to {stack} in {region}? Only 'yes' is accepted: "
    )?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not applied; nothing was changed");
    }
    Ok(())
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    apply(&args.stack, args.auto_approve).await
}

/// Provisions the stack `stack` names, asking first unless `auto_approve`, and reports it.
pub(crate) async fn apply(stack: &StackArgs, auto_approve: bool) -> anyhow::Result<()> {
    let opened = stack.open().await?;
    let aws = &opened.aws;
    let survey = Survey::take(aws, &opened.config, opened.public_key.clone()).await?;
    let planned = survey.changes();
    if !auto_approve && planned.iter().any(ResourceChange::is_change) {
        approve(&planned, &opened.config.stack, &aws.region)?;
    }
    let waiting: Vec<_> = planned.iter().filter(|c| c.is_waiting()).cloned().collect();
    let text = stack.output == Output::Text;
    let progress = Progress::new(
        &format!("provisioning {}", opened.config.stack),
        planned.iter().filter(|c| c.is_change()).count(),
        text && !stack.quiet,
    );
    let result = survey
        .apply(aws, &|change| progress.done(&change.to_string()))
        .await;
    progress.finish();
    let mut changes = result?;
    let mut out = std::io::stdout();
    match stack.output {
        Output::Json => {
            changes.extend(waiting);
            writeln!(out, "{:#}", json_report(&changes, aws))?;
        }
        Output::Text => {
            if !stack.quiet {
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
