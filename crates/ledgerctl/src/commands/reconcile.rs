//! `ledgerctl reconcile <stack.yaml>`: makes a Docker engine — this machine's, or the instance's
//! over SSH — run exactly the services of a stack spec (what `templates/` render to; see
//! docs/deploy.md). Unchanged services are left alone, changed ones replaced (rolling ones with
//! their new container healthy before the old one stops), removed ones removed; a lock keeps two
//! runs from interleaving. `deploy` runs the same engine after building and pushing the images.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::engine::EngineArgs;
use super::stack::Output;
use crate::docker::spec::StackSpec;
use crate::docker::{Engine, reconcile};

/// Make a Docker engine run exactly the services of a stack spec.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The stack spec (YAML).
    spec: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
    /// How long to wait for the engine to answer: 30s, 5m, … (a bare number is seconds).
    #[arg(long = "connect-timeout", alias = "wait-seconds", value_name = "DURATION", default_value = "2m", value_parser = super::engine::duration)]
    connect_timeout: Duration,
    /// How long to wait for another run's lock before giving up: 30s, 10m, … (a bare number is
    /// seconds).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::engine::duration)]
    lock_wait: Duration,
    /// How long a new container may take to become healthy: 60s, 2m, … (a bare number is
    /// seconds).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::engine::duration)]
    health_timeout: Duration,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let spec = StackSpec::load(&args.spec)?;
    let target = args.engine.target()?;
    let engine = Engine::connect(&target, args.connect_timeout).await?;
    let actions = reconcile::deploy(
        &engine.docker,
        &spec,
        None,
        args.lock_wait,
        args.health_timeout,
    )
    .await?;
    let mut out = std::io::stdout();
    match args.output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({ "stack": spec.stack, "actions": actions })
        )?,
        Output::Text => {
            for action in &actions {
                writeln!(out, "{action}")?;
            }
            if actions.is_empty() {
                writeln!(out, "Stack {}: no changes.", spec.stack)?;
            } else {
                writeln!(out, "Stack {}: {} changed.", spec.stack, actions.len())?;
            }
        }
    }
    Ok(())
}
