//! The engine-wide deploy lock of one stack: a container named `<stack>-deploy-lock`, which only
//! one run can create. It names its owner (who, where, which process) and carries a lease: a
//! file in the container saying until when, by the engine's clock, the lock is held. The holder
//! renews the lease every quarter of its length while it runs, so a long deploy keeps its lock,
//! and a run that died — killed, its machine gone, its SSH cut — stops renewing: once the lease
//! has run out, the next run takes the lock over (removing that very container, by id, so two
//! runs taking over at once cannot both win). A holder that finds its lock gone or replaced stops
//! before its next step. Times are the engine's, never the runs' own clocks, which may differ.
//! [`holder`] reads who holds it and until when (`ledgerctl lock status`); [`release`] removes
//! it at once, for an operator sure its run is gone (`ledgerctl lock release`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, InspectContainerOptions,
    RemoveContainerOptionsBuilder,
};
use futures_util::TryStreamExt as _;

use super::spec::StackSpec;
use super::{conflict, not_found};

pub(crate) const LOCK_LABEL: &str = "ledgerly.lock";
/// Where the lease is kept in the lock container.
const LEASE_FILE: &str = "ledgerly-lease";
/// How long a lease lasts unless renewed.
const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Overrides the lease's length, in seconds (tests make it short).
pub(crate) const LEASE_OVERRIDE: &str = "LEDGERCTL_LOCK_LEASE_SECONDS";

fn lease_length() -> Duration {
    std::env::var(LEASE_OVERRIDE)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(DEFAULT_LEASE, Duration::from_secs)
}

/// A held lock; renewed in the background until released.
#[derive(Debug)]
pub(crate) struct Lock {
    id: String,
    lost: Arc<AtomicBool>,
    renewing: tokio::task::JoinHandle<()>,
}

/// Who takes the lock: the user, the machine, the process (and the GitHub run, in one).
pub(crate) fn owner() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "an unknown host".into());
    let mut owner = format!("{user}@{host} pid {}", std::process::id());
    if let Ok(run) = std::env::var("GITHUB_RUN_ID") {
        owner.push_str(&format!(" (GitHub run {run})"));
    }
    owner
}

/// The engine's time, in Unix seconds.
async fn engine_now(docker: &Docker) -> anyhow::Result<i64> {
    let info = docker.info().await.context("reading the engine's clock")?;
    let text = info
        .system_time
        .context("the engine did not say its time")?;
    Ok(chrono::DateTime::parse_from_rfc3339(&text)
        .with_context(|| format!("the engine's time `{text}` is not RFC 3339"))?
        .timestamp())
}

/// Writes the lease `expires` (engine Unix seconds) into the lock container `id`.
async fn write_lease(docker: &Docker, id: &str, expires: i64) -> anyhow::Result<()> {
    let files = BTreeMap::from([(format!("/{LEASE_FILE}"), format!("{expires}\n"))]);
    super::reconcile::write_files(docker, id, "the deploy lock", &files).await
}

/// The lease in the lock container `id`, if it has one yet.
async fn read_lease(docker: &Docker, id: &str) -> Option<i64> {
    let archive: Vec<u8> = docker
        .download_from_container(
            id,
            Some(
                DownloadFromContainerOptionsBuilder::default()
                    .path(&format!("/{LEASE_FILE}"))
                    .build(),
            ),
        )
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .ok()?;
    let mut entries = tar::Archive::new(archive.as_slice());
    let mut entry = entries.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    entry.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// The lock container as another run finds it.
struct Held {
    id: String,
    owner: String,
    /// When it was taken: the container's creation, engine Unix seconds.
    since: i64,
    /// Engine Unix seconds.
    expires: i64,
}

async fn held(docker: &Docker, name: &str) -> Option<Held> {
    let container = docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
        .ok()?;
    let id = container.id?;
    let owner = container
        .config
        .and_then(|c| c.labels?.get(LOCK_LABEL).cloned())
        .unwrap_or_else(|| "another run".into());
    // A lock taken an instant ago may have no lease written yet: its creation starts one.
    let created = container
        .created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c).ok())
        .map_or(0, |c| c.timestamp());
    let expires = match read_lease(docker, &id).await {
        Some(expires) => expires,
        None => created + i64::try_from(lease_length().as_secs()).unwrap_or(i64::MAX),
    };
    Some(Held {
        id,
        owner,
        since: created,
        expires,
    })
}

/// Who holds a stack's deploy lock, as `ledgerctl lock status` shows it; every time is the
/// engine's, in Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    /// The lock container's id.
    pub(crate) id: String,
    /// Who took it: `user@host pid N`, and the GitHub run in one.
    pub(crate) owner: String,
    /// When it was taken (its container's creation).
    pub(crate) since: i64,
    /// When its lease runs out unless its run renews it; once past, the next run takes over.
    pub(crate) expires: i64,
    /// The engine's clock when the lock was read.
    pub(crate) now: i64,
}

impl Holder {
    /// Whether its lease has run out: its run died, and the next run takes the lock over.
    pub(crate) fn expired(&self) -> bool {
        self.now > self.expires
    }
}

/// Who holds `stack`'s deploy lock on the engine, if anyone.
pub(crate) async fn holder(docker: &Docker, stack: &str) -> anyhow::Result<Option<Holder>> {
    let name = name(stack);
    match docker
        .inspect_container(&name, None::<InspectContainerOptions>)
        .await
    {
        Ok(_) => {}
        Err(err) if not_found(&err) => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading the deploy lock {name}")),
    }
    // Released in between: not held.
    let Some(found) = held(docker, &name).await else {
        return Ok(None);
    };
    let now = engine_now(docker).await?;
    Ok(Some(Holder {
        id: found.id,
        owner: found.owner,
        since: found.since,
        expires: found.expires,
        now,
    }))
}

/// Removes the lock `holder` describes — that very container, by id, so that a lock another run
/// has taken since is left alone; false when it was gone already. The run holding it finds its
/// lock gone and stops before its next step.
pub(crate) async fn release(docker: &Docker, holder: &Holder) -> anyhow::Result<bool> {
    match docker
        .remove_container(
            &holder.id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(err) if not_found(&err) => Ok(false),
        Err(err) => Err(err).context("removing the deploy lock"),
    }
}

pub(crate) fn name(stack: &str) -> String {
    format!("{stack}-deploy-lock")
}

impl Lock {
    /// Takes the lock, waiting up to `wait` for another run to release it or for its lease to
    /// run out.
    pub(crate) async fn take(
        docker: &Docker,
        spec: &StackSpec,
        wait: Duration,
    ) -> anyhow::Result<Lock> {
        let image = spec
            .services
            .values()
            .next()
            .map(|s| s.image.clone())
            .context("the stack has no services")?;
        Lock::take_with(docker, &spec.stack, &image, wait).await
    }

    /// Takes `stack`'s lock as [`Lock::take`] does, its container made from `image`: one the
    /// engine has already (the lock container is created, never started, and nothing is
    /// pulled), e.g. that of one of the stack's containers.
    pub(crate) async fn take_with(
        docker: &Docker,
        stack: &str,
        image: &str,
        wait: Duration,
    ) -> anyhow::Result<Lock> {
        let name = name(stack);
        let lease = lease_length();
        let lease_seconds = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
        let owner = owner();
        let started = Instant::now();
        loop {
            let body = ContainerCreateBody {
                image: Some(image.to_owned()),
                cmd: Some(vec!["lock".into()]),
                labels: Some(HashMap::from([
                    (super::reconcile::STACK_LABEL.to_owned(), stack.to_owned()),
                    (LOCK_LABEL.to_owned(), owner.clone()),
                ])),
                ..ContainerCreateBody::default()
            };
            match docker
                .create_container(
                    Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                    body,
                )
                .await
            {
                Ok(created) => {
                    let now = engine_now(docker).await?;
                    write_lease(docker, &created.id, now + lease_seconds)
                        .await
                        .context("writing the deploy lock's lease")?;
                    return Ok(Lock::renewed(docker.clone(), name, created.id, lease));
                }
                Err(err) if conflict(&err) => {
                    let Some(other) = held(docker, &name).await else {
                        // Released between our attempt and our look: try again at once.
                        continue;
                    };
                    let now = engine_now(docker).await?;
                    if now > other.expires {
                        tracing::warn!(
                            "the deploy lock of {} held by {} ran out {} s ago without being renewed (its run died); taking it over",
                            stack,
                            other.owner,
                            now - other.expires
                        );
                        match docker
                            .remove_container(
                                &other.id,
                                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                            )
                            .await
                        {
                            Ok(()) => {}
                            // Another run took it over first; the next attempt meets its lock.
                            Err(err) if not_found(&err) => {}
                            Err(err) => {
                                return Err(err).context("removing the expired deploy lock");
                            }
                        }
                        continue;
                    }
                    if started.elapsed() >= wait {
                        bail!(
                            "another deploy of {} holds the lock ({}; its lease runs out in {} s unless that run renews it); \
                             wait for it with --lock-wait 10m. A run that died releases it when its lease runs out; \
                             to release it at once, make sure no deploy is running and: ledgerctl lock release (docker rm {name} on the engine)",
                            stack,
                            other.owner,
                            other.expires - now
                        );
                    }
                    tracing::info!("another deploy holds the lock ({}); waiting", other.owner);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => return Err(err).context("taking the deploy lock"),
            }
        }
    }

    /// A lock just taken, with its lease renewed every quarter of `lease` from now on.
    fn renewed(docker: Docker, name: String, id: String, lease: Duration) -> Lock {
        let lost = Arc::new(AtomicBool::new(false));
        let renewing = tokio::spawn({
            let (lost, id) = (Arc::clone(&lost), id.clone());
            let lease_seconds = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
            async move {
                loop {
                    tokio::time::sleep(lease / 4).await;
                    // Still ours? Another run takes over only once the lease has run out.
                    let current = docker
                        .inspect_container(&name, None::<InspectContainerOptions>)
                        .await;
                    match current {
                        Ok(c) if c.id.as_deref() == Some(id.as_str()) => {}
                        Ok(_) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(err) if not_found(&err) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(err) => {
                            tracing::warn!("checking the deploy lock: {err}; trying again");
                            continue;
                        }
                    }
                    let renewed = match engine_now(&docker).await {
                        Ok(now) => write_lease(&docker, &id, now + lease_seconds).await,
                        Err(err) => Err(err),
                    };
                    if let Err(err) = renewed {
                        tracing::warn!("renewing the deploy lock's lease: {err:#}; trying again");
                    }
                }
            }
        });
        Lock { id, lost, renewing }
    }

    /// Fails if the lock is no longer this run's: its lease ran out while it could not be
    /// renewed, and another run may have taken over.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            bail!(
                "this run lost the deploy lock (its lease ran out while it could not be renewed) and \
                 stopped; another deploy may have taken over: see ledgerctl status"
            );
        }
        Ok(())
    }

    /// Releases the lock, if it is still this run's.
    pub(crate) async fn release(self, docker: &Docker) -> anyhow::Result<()> {
        self.renewing.abort();
        if self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
        match docker
            .remove_container(
                &self.id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(err) if not_found(&err) => Ok(()),
            Err(err) => Err(err).context("releasing the deploy lock"),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}
