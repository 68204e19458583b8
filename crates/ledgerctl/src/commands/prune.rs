//! `ledgerctl prune`: clears what the stack left on its engine over time — its stopped
//! containers, the images of its repositories that nothing uses beyond the newest
//! `deploy.keep_releases` of each (a rollback to those needs no pull), dangling images — holding
//! the deploy lock, so that no deploy is halfway through meanwhile. `--dry-run` lists what would
//! go and changes nothing. The decisions are [`crate::docker::prune`]'s.

use std::io::Write as _;
use std::time::Duration;

use super::engine::duration;
use super::logs::StackEngineArgs;
use super::stack::Output;
use crate::docker::prune::{self, Item, Plan, Pruned, Reason, human};

/// How many images of each repository stay when neither `--keep` nor a stack file says.
const DEFAULT_KEEP: usize = 10;

/// Remove the stack's stopped containers and the images it no longer needs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many of the newest images of each of the stack's repositories stay, used or not
    /// (default: the stack file's `deploy.keep_releases`, else 10). Images in use always stay.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// List what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait while a deploy holds the stack's lock: 30s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration)]
    lock_wait: Duration,
    /// `text` for people, `json` for programs.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    engine: StackEngineArgs,
}

fn line(item: &Item) -> String {
    let what = match item.reason {
        Reason::Stopped => "container",
        Reason::Old => "image",
        Reason::Dangling => "dangling image",
    };
    let id = item.id.trim_start_matches("sha256:");
    format!(
        "- {what} {} ({}, {})",
        item.name,
        id.get(..12).unwrap_or(id),
        human(item.bytes)
    )
}

/// `2 containers and 3 images`.
fn counts(plan: &Plan) -> String {
    let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} and {}",
        plural(plan.containers.len(), "container"),
        plural(plan.images.len(), "image")
    )
}

fn report_plan(stack: &str, plan: &Plan, output: Output) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "dry_run": true,
                "containers": plan.containers,
                "images": plan.images,
                "kept": plan.kept,
                "bytes": plan.bytes(),
            })
        )?,
        Output::Text => {
            for item in plan.containers.iter().chain(&plan.images) {
                writeln!(out, "{}", line(item))?;
            }
            writeln!(
                out,
                "Would remove {} of {stack}, about {}; nothing was removed (--dry-run).",
                counts(plan),
                human(plan.bytes())
            )?;
        }
    }
    Ok(())
}

fn report_pruned(stack: &str, pruned: &Pruned, output: Output) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    let removed = &pruned.removed;
    match output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "dry_run": false,
                "containers": removed.containers,
                "images": removed.images,
                "kept": removed.kept,
                "refused": pruned.refused,
                "bytes": removed.bytes(),
            })
        )?,
        Output::Text => {
            for item in removed.containers.iter().chain(&removed.images) {
                writeln!(out, "{}", line(item))?;
            }
            for refused in &pruned.refused {
                writeln!(
                    out,
                    "! {} kept: the engine refused ({})",
                    refused.item.name, refused.said
                )?;
            }
            if removed.is_empty() {
                writeln!(out, "Nothing to remove from {stack}.")?;
            } else {
                writeln!(
                    out,
                    "Removed {} of {stack}: about {} reclaimed.",
                    counts(removed),
                    human(removed.bytes())
                )?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.engine.stack_file()?;
    let keep = args.keep.unwrap_or_else(|| {
        config.as_ref().map_or(DEFAULT_KEEP, |c| {
            usize::try_from(c.deploy.keep_releases).unwrap_or(DEFAULT_KEEP)
        })
    });
    let (engine, stack) = args.engine.connect(config.as_ref()).await?;
    let docker = &engine.docker;
    if args.dry_run {
        let plan = prune::read_plan(docker, &stack, keep).await?;
        return report_plan(&stack, &plan, args.output);
    }
    let pruned = prune::prune(docker, &stack, keep, args.lock_wait).await?;
    report_pruned(&stack, &pruned, args.output)?;
    if args.output == Output::Text {
        match prune::disk_usage(docker).await {
            Ok(usage) => writeln!(std::io::stdout(), "\nThe engine's disk use now:\n{usage}")?,
            Err(err) => tracing::warn!("{err:#}"),
        }
    }
    Ok(())
}
