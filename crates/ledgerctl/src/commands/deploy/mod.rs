//! `ledgerctl deploy`: builds the API and OCR images from the workspace (no base image pulled),
//! pushes them to the stack's ECR repositories (with a fresh authorization token), points the OCR
//! Lambda at the pushed digest and waits for the update, then reconciles the stack rendered from
//! the template on the instance's Docker engine over SSH: migrations first, the API replaced
//! with no downtime, unchanged services left alone. On an ECS stack the API goes out through
//! ECS's APIs (`ecs`), and the instance runs the monitoring alone. Each release is recorded (SSM
//! `/<stack>/releases`) so that `ledgerctl rollback [version]` can go back along the same path.

mod ecs;
pub(crate) mod facts;
mod lambda;
mod push;
mod reach;
pub(crate) mod releases;
mod render;
mod rollout;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::commands::stack::{Output, StackArgs};
use crate::docker::reconcile::Action;
use crate::stack::config::Topology;
use lambda::{FunctionChange, update_function};
use push::{Image, images, pushing};
use releases::{record, record_images};
use render::Pins;
use rollout::{Rollout, roll_out};

pub(crate) use ecs::restart as restart_ecs_api;
pub(crate) use ecs::run_api_command as run_ecs_api_command;
pub(crate) use facts::ca_bundle;
pub(crate) use push::registry_address;
pub(crate) use reach::{SshOptions, instance_endpoint, reach_instance, remote_target};
pub(crate) use releases::{Release, now, pinned, recorded_images};
pub(crate) use render::render;

/// Push images to this registry (`host:port`, plain HTTP on loopback) instead of the one ECR
/// names, and record their manifests in the ECR repositories through the API: for an AWS
/// emulator, whose ECR has no registry to push to.
pub(crate) const REGISTRY_OVERRIDE: &str = "LEDGERCTL_REGISTRY";

/// Where the stack runs: the instance's engine and how long to wait for it and its lock.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RemoteArgs {
    /// The engine to deploy to, instead of ssh://<instance.ssh_user>@<Elastic IP>:<ssh_port>:
    /// `ssh://[user@]host[:port]`, `unix:///path/docker.sock` or `local`.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST")]
    pub(crate) docker_host: Option<String>,
    #[command(flatten)]
    pub(crate) ssh: SshOptions,
    /// How long to wait for the instance's engine to answer (a new instance installs Docker
    /// first): 30s, 5m, … (a bare number is seconds).
    #[arg(long = "connect-timeout", alias = "wait-seconds", value_name = "DURATION", default_value = "5m", value_parser = super::engine::duration)]
    pub(crate) connect_timeout: std::time::Duration,
    /// How long to wait while another deploy holds the stack's lock: 30s, 10m, … (a bare
    /// number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::engine::duration)]
    pub(crate) lock_wait: std::time::Duration,
}

/// Build, push and roll out the current workspace.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// The folder holding release builds of ledgerly-api and ledgerly-ocr. Default: build them
    /// now (`cargo build --release`) in the workspace this is run from.
    #[arg(long)]
    pub(crate) binaries: Option<PathBuf>,
    /// On an ECS stack, roll out the API alone and leave the ops instance's monitoring as it is:
    /// no SSH at all (the release workflow's way).
    #[arg(long)]
    pub(crate) skip_monitoring: bool,
}

/// Go back to an earlier release.
#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    /// The release to go back to (`--list` shows them). Default: the one before the current.
    pub(crate) version: Option<String>,
    /// List the recorded releases, newest first, and change nothing.
    #[arg(long)]
    pub(crate) list: bool,
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

fn report(
    output: Output,
    stack: &str,
    release: &Release,
    images: &[Image],
    function: &FunctionChange,
    actions: &[Action],
    verb: &str,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "release": release,
                "images": images,
                "function": function,
                "actions": actions,
                "changed": !actions.is_empty() || !matches!(function, FunctionChange::Unchanged),
            })
        )?,
        Output::Text => {
            print_images(&mut out, images)?;
            writeln!(out, "OCR function: {}", function_shown(function))?;
            for action in actions {
                writeln!(out, "{action}")?;
            }
            if actions.is_empty() {
                writeln!(out, "Stack {stack} at {}: no changes.", release.version)?;
            } else {
                writeln!(
                    out,
                    "{verb} {} to {stack}: {} changed.",
                    release.version,
                    actions.len()
                )?;
            }
        }
    }
    Ok(())
}

/// What deploy and rollback share on an ECS stack once the release is known: the release rolled
/// out through AWS's APIs alone (no SSH), recorded, then — with `monitoring` — the ops
/// instance's monitoring reconciled over SSH, and the report printed.
async fn release_to_ecs(
    rollout: &Rollout<'_>,
    release: &Release,
    images: &[Image],
    monitoring: bool,
    verb: &str,
) -> anyhow::Result<()> {
    let (opened, output) = (rollout.opened, rollout.stack.output);
    let outcome = ecs::release_to(opened, rollout.facts, rollout.pins.bundle, release).await?;
    record(&opened.aws, &opened.config, release).await?;
    let stack = &opened.config.stack;
    let actions = if monitoring {
        let (actions, pinned) = roll_out(rollout, release).await.with_context(|| {
            format!(
                "{} is out on {stack}'s tasks, but the ops instance's monitoring was not \
                 updated; deploy again when the instance is reachable (--skip-monitoring \
                 leaves the monitoring as it is)",
                release.version
            )
        })?;
        record_images(&opened.aws, &opened.config, &release.version, &pinned).await?;
        Some(actions)
    } else {
        None
    };
    let changed = outcome.changed() || actions.as_ref().is_some_and(|a| !a.is_empty());
    let mut out = std::io::stdout();
    match output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "release": release,
                "images": images,
                "function": outcome.function,
                "migrated": outcome.migrated,
                "service": outcome.service,
                "monitoring": actions,
                "changed": changed,
            })
        )?,
        Output::Text => {
            print_images(&mut out, images)?;
            writeln!(out, "OCR function: {}", function_shown(&outcome.function))?;
            if outcome.migrated {
                writeln!(out, "Migrations: run")?;
            }
            writeln!(out, "{}", outcome.service)?;
            match &actions {
                None => writeln!(out, "Monitoring on the ops instance: left as it is")?,
                Some(actions) if actions.is_empty() => {
                    writeln!(out, "Monitoring on the ops instance: no changes")?;
                }
                Some(actions) => {
                    for action in actions {
                        writeln!(out, "{action}")?;
                    }
                    writeln!(
                        out,
                        "Monitoring on the ops instance: {} changed",
                        actions.len()
                    )?;
                }
            }
            if changed {
                writeln!(out, "{verb} {} to {stack}.", release.version)?;
            } else {
                writeln!(out, "Stack {stack} at {}: no changes.", release.version)?;
            }
        }
    }
    Ok(())
}

/// The report's line for each image: built and pushed, or already in ECR.
fn print_images(out: &mut impl Write, images: &[Image]) -> std::io::Result<()> {
    for image in images {
        writeln!(
            out,
            "{} image {} ({}): {}",
            image.image,
            image.tag,
            &image.digest,
            if image.pushed {
                "built and pushed"
            } else {
                "already in ECR"
            }
        )?;
    }
    Ok(())
}

fn function_shown(function: &FunctionChange) -> &'static str {
    match function {
        FunctionChange::Updated => "now runs this release's OCR image",
        FunctionChange::Unchanged => "already runs this release's OCR image",
        FunctionChange::Created => "created from this release's OCR image",
    }
}

/// What deploy and rollback share once the release is known: the Lambda pointed at its OCR
/// image, the stack rolled out on the instance, the release recorded, the report printed.
async fn release_to(
    rollout: Rollout<'_>,
    release: &Release,
    images: &[Image],
    verb: &str,
) -> anyhow::Result<()> {
    let (opened, facts) = (rollout.opened, rollout.facts);
    let function = update_function(
        opened,
        facts,
        &format!("{}@{}", facts.repositories[1], release.ocr),
    )
    .await?;
    let (actions, pinned) = roll_out(&rollout, release).await?;
    record(&opened.aws, &opened.config, release).await?;
    record_images(&opened.aws, &opened.config, &release.version, &pinned).await?;
    report(
        rollout.stack.output,
        &opened.config.stack,
        release,
        images,
        &function,
        &actions,
        verb,
    )
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    super::build::check_host()?;
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let (root, binaries) = match &args.binaries {
        Some(folder) => (std::env::current_dir()?, folder.clone()),
        None => {
            let root = super::build::workspace_root()?;
            let binaries = super::build::build_binaries(&root)?;
            (root, binaries)
        }
    };
    let facts = facts::read(aws, config).await?;
    let history = releases::history(aws, config).await?;
    let bundle = ca_bundle(&opened, pinned(&history)).await?;
    // The third-party images the current release runs stay as they are for the same tags.
    let known = match history.first() {
        Some(current) => recorded_images(aws, config, &current.version).await?,
        None => BTreeMap::new(),
    };
    let pushing = pushing(aws, &facts).await?;
    let baked = (config.topology == Topology::Ecs).then_some(bundle.pem.as_str());
    let [api, ocr] = images(aws, config, &pushing, &binaries, &root, baked).await?;
    let release = Release {
        version: api.tag.clone(),
        api: api.digest.clone(),
        ocr: ocr.digest.clone(),
        at: now(),
        ca_bundle_sha256: Some(bundle.sha256.clone()),
    };
    let rollout = Rollout {
        stack: &args.stack,
        remote: &args.remote,
        opened: &opened,
        facts: &facts,
        pushing: &pushing,
        pins: Pins {
            bundle: &bundle,
            images: &known,
        },
    };
    if config.topology == Topology::Ecs {
        let images = [api, ocr];
        let monitoring = !args.skip_monitoring;
        return release_to_ecs(&rollout, &release, &images, monitoring, "Deployed").await;
    }
    release_to(rollout, &release, &[api, ocr], "Deployed").await
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let history = releases::history(aws, config).await?;
    if args.list {
        let mut out = std::io::stdout();
        match args.stack.output {
            Output::Json => writeln!(out, "{:#}", serde_json::json!({ "releases": history }))?,
            Output::Text => {
                if history.is_empty() {
                    writeln!(out, "No releases recorded for {} yet.", config.stack)?;
                }
                for (i, release) in history.iter().enumerate() {
                    writeln!(
                        out,
                        "{}{}  api {}  ocr {}  at {}",
                        if i == 0 { "* " } else { "  " },
                        release.version,
                        release.api,
                        release.ocr,
                        release.at
                    )?;
                }
            }
        }
        return Ok(());
    }
    let target = match &args.version {
        Some(version) => history
            .iter()
            .find(|r| &r.version == version)
            .cloned()
            .with_context(|| {
                format!(
                    "no release {version} in the last {} of {}; see ledgerctl rollback --list",
                    history.len(),
                    config.stack
                )
            })?,
        None => history.get(1).cloned().with_context(|| {
            format!(
                "{} has {} recorded release(s): there is none before the current one to go back to",
                config.stack,
                history.len()
            )
        })?,
    };
    let facts = facts::read(aws, config).await?;
    let bundle = ca_bundle(&opened, pinned(&history)).await?;
    // Exactly the third-party images the release ran.
    let known = recorded_images(aws, config, &target.version).await?;
    let pushing = pushing(aws, &facts).await?;
    let release = Release {
        at: now(),
        ca_bundle_sha256: Some(bundle.sha256.clone()),
        ..target
    };
    let rollout = Rollout {
        stack: &args.stack,
        remote: &args.remote,
        opened: &opened,
        facts: &facts,
        pushing: &pushing,
        pins: Pins {
            bundle: &bundle,
            images: &known,
        },
    };
    if config.topology == Topology::Ecs {
        // The API's tasks go back; the monitoring on the ops instance stays as it is.
        return release_to_ecs(&rollout, &release, &[], false, "Rolled back").await;
    }
    release_to(rollout, &release, &[], "Rolled back").await
}
