//! A release rolled out on the engine: images pinned, the stack reconciled.

use std::collections::BTreeMap;
use std::time::Duration;

use super::RemoteArgs;
use super::facts::Facts;
use super::push::Pushing;
use super::reach::remote_target;
use super::releases::Release;
use super::render::{Pins, render};
use crate::commands::stack::{Opened, StackArgs};
use crate::docker::reconcile::{self, Action};
use crate::docker::{Engine, prune};

/// What a roll-out works from, whichever release it rolls out (deploy's new one, rollback's
/// earlier one).
pub(crate) struct Rollout<'a> {
    pub(crate) stack: &'a StackArgs,
    pub(crate) remote: &'a RemoteArgs,
    pub(crate) opened: &'a Opened,
    pub(crate) facts: &'a Facts,
    pub(crate) pushing: &'a Pushing,
    pub(crate) pins: Pins<'a>,
}

/// Renders the stack for `release` and reconciles it on the instance; the actions taken and the
/// third-party images as pinned.
pub(crate) async fn roll_out(
    rollout: &Rollout<'_>,
    release: &Release,
) -> anyhow::Result<(Vec<Action>, BTreeMap<String, String>)> {
    let Rollout {
        stack,
        remote,
        opened,
        facts,
        pushing,
        pins,
    } = rollout;
    let config = &opened.config;
    let mut spec = render(
        stack,
        opened,
        facts,
        &pushing.registry.address,
        release,
        pins.bundle,
    )?;
    let pinned = crate::docker::pin::pin(&mut spec, pins.images).await?;
    let target = remote_target(&opened.aws, remote, config, facts).await?;
    let engine = Engine::connect(&target, remote.connect_timeout).await?;
    let actions = reconcile::deploy(
        &engine.docker,
        &spec,
        pushing.pull_login.as_ref(),
        remote.lock_wait,
        Duration::from_secs(u64::from(config.deploy.health_timeout_seconds)),
    )
    .await?;
    // Each release leaves its images for a rollback; past the window they only fill the disk.
    let keep = usize::try_from(config.deploy.keep_releases).unwrap_or(usize::MAX);
    match prune::prune_if_needed(&engine.docker, &spec.stack, keep, prune::Trigger::default()).await
    {
        Ok(Some(pruned)) => tracing::info!(
            "pruned {} container(s) and {} image(s) from the instance ({})",
            pruned.removed.containers.len(),
            pruned.removed.images.len(),
            prune::human(pruned.removed.bytes())
        ),
        Ok(None) => {}
        Err(err) => tracing::warn!(
            "the release is out, but pruning the instance failed: {err:#}; ledgerctl prune tries again"
        ),
    }
    Ok((actions, pinned))
}
