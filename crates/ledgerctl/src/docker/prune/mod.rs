//! What a stack leaves on its engine over time, and clearing it: the stack's stopped containers
//! (one-shot runs, services stopped by hand; never the deploy lock), the images of the stack's
//! repositories that no container uses beyond the newest few of each (what a rollback can go
//! back to without a pull), and dangling images. [`plan`] decides from the engine's lists alone
//! (no engine: unit-tested); [`prune`] carries a plan out under the deploy lock;
//! [`prune_if_needed`] is deploy's way, after a roll-out. [`disk_usage`] (`usage.rs`) is the
//! engine's disk use as Docker counts it.
//!
//! The stack's repositories are those of the images its containers run, and those of the images
//! ledgerctl built for it (labelled `ledgerly.stack`). An image in use by any container, of any
//! stack, running or not, is kept; so is one also in a repository that is not the stack's.

mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, ImageSummary};
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptions,
    RemoveImageOptions,
};
use serde::Serialize;

use super::lock::{self, LOCK_LABEL, Lock};
use super::reconcile::{SERVICE_LABEL, STACK_LABEL};
use super::{conflict, not_found};

pub(crate) use usage::{DiskUsage, disk_usage, human};

/// Why something goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Reason {
    /// A container of the stack that is not running.
    Stopped,
    /// An image of the stack's repositories older than the newest kept, which nothing uses.
    Old,
    /// An image with no name at all, which nothing uses.
    Dangling,
}

/// A container or an image to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Item {
    pub(crate) id: String,
    /// A container's name, or an image's first reference (`<none>` for a dangling one).
    pub(crate) name: String,
    pub(crate) reason: Reason,
    /// What removing it frees, about: a container's writable layer, an image's layers that no
    /// other image shares (all of them when the engine does not say which it shares).
    pub(crate) bytes: u64,
}

/// What a prune removes, and what it keeps of the stack's repositories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Plan {
    pub(crate) containers: Vec<Item>,
    pub(crate) images: Vec<Item>,
    /// Per repository of the stack, how many of its images stay.
    pub(crate) kept: BTreeMap<String, usize>,
}

impl Plan {
    pub(crate) fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.images.is_empty()
    }

    /// About how many bytes it frees.
    pub(crate) fn bytes(&self) -> u64 {
        self.containers
            .iter()
            .chain(&self.images)
            .map(|i| i.bytes)
            .sum()
    }
}

/// What a prune did: what it removed, and what the engine refused to remove.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Pruned {
    pub(crate) removed: Plan,
    pub(crate) refused: Vec<Refused>,
}

/// Something the engine would not remove (someone started a container of the image meanwhile,
/// an image has children), and what it said.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Refused {
    #[serde(flatten)]
    pub(crate) item: Item,
    pub(crate) said: String,
}

/// When [`prune_if_needed`] prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trigger {
    /// More images to remove than this (beyond the kept ones).
    pub(crate) spare_images: usize,
    /// The engine's images taking more than this many bytes, by their sizes.
    pub(crate) image_bytes: u64,
}

impl Default for Trigger {
    fn default() -> Self {
        Self {
            spare_images: 3,
            image_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// The repositories an image is in: its tags' and digests' names (`<none>` left out).
fn repositories(image: &ImageSummary) -> BTreeSet<String> {
    let tagged = image.repo_tags.iter().map(|t| match t.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => t.as_str(),
    });
    let digested = image
        .repo_digests
        .iter()
        .filter_map(|d| d.split_once('@').map(|(name, _)| name));
    tagged
        .chain(digested)
        .filter(|name| *name != "<none>")
        .map(str::to_owned)
        .collect()
}

/// How an image is shown: its first tag, else its first digest reference, else `<none>`.
fn shown_name(image: &ImageSummary) -> String {
    image
        .repo_tags
        .iter()
        .chain(&image.repo_digests)
        .find(|r| !r.starts_with("<none>"))
        .cloned()
        .unwrap_or_else(|| "<none>".to_owned())
}

fn non_negative(bytes: Option<i64>) -> u64 {
    bytes
        .and_then(|b| u64::try_from(b).ok())
        .unwrap_or_default()
}

/// The bytes removing the image frees: those of its layers no other image has.
fn own_bytes(image: &ImageSummary) -> u64 {
    let shared = if image.shared_size > 0 {
        image.shared_size
    } else {
        0
    };
    non_negative(Some(image.size - shared))
}

fn labels(container: &ContainerSummary) -> Option<&HashMap<String, String>> {
    container.labels.as_ref()
}

/// What to remove for `stack`, from every container and image the engine has: its stopped
/// containers; the images of its repositories that no container (left) uses and that are not
/// among the newest `keep` of a repository; dangling images no container uses.
pub(crate) fn plan(
    stack: &str,
    containers: &[ContainerSummary],
    images: &[ImageSummary],
    keep: usize,
) -> Plan {
    let of_stack = |c: &ContainerSummary| {
        labels(c)
            .and_then(|l| l.get(STACK_LABEL))
            .map(String::as_str)
            == Some(stack)
    };
    let stopped = |c: &ContainerSummary| {
        matches!(
            c.state,
            Some(
                ContainerSummaryStateEnum::EXITED
                    | ContainerSummaryStateEnum::CREATED
                    | ContainerSummaryStateEnum::DEAD
            )
        )
    };
    let mut plan = Plan::default();
    let mut in_use = HashSet::new();
    let mut stack_images = HashSet::new();
    for container in containers {
        let image = container.image_id.clone().unwrap_or_default();
        if of_stack(container) {
            stack_images.insert(image.clone());
        }
        let is_lock = labels(container).is_some_and(|l| l.contains_key(LOCK_LABEL));
        if of_stack(container) && stopped(container) && !is_lock {
            plan.containers.push(Item {
                id: container.id.clone().unwrap_or_default(),
                name: container
                    .names
                    .as_ref()
                    .and_then(|n| n.first())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .or_else(|| labels(container)?.get(SERVICE_LABEL).cloned())
                    .unwrap_or_default(),
                reason: Reason::Stopped,
                bytes: non_negative(container.size_rw),
            });
        } else {
            in_use.insert(image);
        }
    }
    let ours: BTreeSet<String> = images
        .iter()
        .filter(|i| {
            stack_images.contains(&i.id)
                || i.labels.get(STACK_LABEL).map(String::as_str) == Some(stack)
        })
        .flat_map(repositories)
        .collect();
    // The newest `keep` of each of the stack's repositories, by creation.
    let mut newest: HashSet<&str> = HashSet::new();
    for repository in &ours {
        let mut of_repository: Vec<&ImageSummary> = images
            .iter()
            .filter(|i| repositories(i).contains(repository))
            .collect();
        of_repository.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        newest.extend(
            of_repository
                .iter()
                .copied()
                .take(keep)
                .map(|i| i.id.as_str()),
        );
        let staying = of_repository
            .iter()
            .enumerate()
            .filter(|(n, i)| *n < keep || in_use.contains(&i.id))
            .count();
        plan.kept.insert(repository.clone(), staying);
    }
    for image in images {
        if in_use.contains(&image.id) || newest.contains(image.id.as_str()) {
            continue;
        }
        let names = repositories(image);
        let reason = if names.is_empty() {
            Reason::Dangling
        } else if names.iter().all(|n| ours.contains(n)) {
            Reason::Old
        } else {
            continue;
        };
        plan.images.push(Item {
            id: image.id.clone(),
            name: shown_name(image),
            reason,
            bytes: own_bytes(image),
        });
    }
    plan.images
        .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    plan
}

/// Every container and image on the engine (the stack's containers with their sizes), and what
/// [`plan`] makes of them.
pub(crate) async fn read_plan(docker: &Docker, stack: &str, keep: usize) -> anyhow::Result<Plan> {
    let (containers, images) = lists(docker, stack).await?;
    Ok(plan(stack, &containers, &images, keep))
}

async fn lists(
    docker: &Docker,
    stack: &str,
) -> anyhow::Result<(Vec<ContainerSummary>, Vec<ImageSummary>)> {
    let mut containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default().all(true).build(),
        ))
        .await
        .context("listing the engine's containers")?;
    // Sizes cost the engine a walk of each writable layer: the stack's alone.
    let filters = HashMap::from([("label", vec![format!("{STACK_LABEL}={stack}")])]);
    let sized = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .size(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing the stack's containers")?;
    let sizes: HashMap<String, i64> = sized
        .into_iter()
        .filter_map(|c| Some((c.id?, c.size_rw?)))
        .collect();
    for container in &mut containers {
        if let Some(size) = container.id.as_ref().and_then(|id| sizes.get(id)) {
            container.size_rw = Some(*size);
        }
    }
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .shared_size(true)
                .build(),
        ))
        .await
        .context("listing the engine's images")?;
    Ok((containers, images))
}

/// The image the lock container is made from (it is never started, and what it uses stays):
/// a running container's of the stack, else any of the stack's containers', else any the
/// engine has; none when it has no image at all.
async fn lock_image(docker: &Docker, stack: &str) -> anyhow::Result<Option<String>> {
    let mut containers = super::reconcile::stack_containers(docker, stack).await?;
    containers.sort_by_key(|c| c.state != Some(ContainerSummaryStateEnum::RUNNING));
    if let Some(image) = containers.iter().find_map(|c| c.image_id.clone()) {
        return Ok(Some(image));
    }
    let images = docker
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .context("listing the engine's images")?;
    Ok(images.into_iter().next().map(|i| i.id))
}

/// Takes the deploy lock (waiting up to `lock_wait`), plans again under it and removes what the
/// plan says: containers first, so that their images are free to go. What the engine refuses
/// (an image someone started a container of meanwhile, one with children) is reported, not an
/// error.
pub(crate) async fn prune(
    docker: &Docker,
    stack: &str,
    keep: usize,
    lock_wait: Duration,
) -> anyhow::Result<Pruned> {
    let Some(image) = lock_image(docker, stack).await? else {
        return Ok(Pruned::default());
    };
    let lock = Lock::take_with(docker, stack, &image, lock_wait).await?;
    let result: anyhow::Result<Pruned> = async {
        let plan = read_plan(docker, stack, keep).await?;
        carry_out(docker, plan, &lock).await
    }
    .await;
    lock.release(docker).await?;
    result
}

async fn carry_out(docker: &Docker, plan: Plan, lock: &Lock) -> anyhow::Result<Pruned> {
    let mut pruned = Pruned {
        removed: Plan {
            kept: plan.kept,
            ..Plan::default()
        },
        refused: Vec::new(),
    };
    for container in plan.containers {
        lock.check()?;
        match docker
            .remove_container(&container.id, None::<RemoveContainerOptions>)
            .await
        {
            Ok(()) => pruned.removed.containers.push(container),
            Err(err) if not_found(&err) => {}
            Err(err) if conflict(&err) => pruned.refused.push(Refused {
                item: container,
                said: err.to_string(),
            }),
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("removing the container {}", container.name));
            }
        }
    }
    for image in plan.images {
        lock.check()?;
        match docker
            .remove_image(&image.id, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => pruned.removed.images.push(image),
            Err(err) if not_found(&err) => {}
            Err(err) if conflict(&err) => pruned.refused.push(Refused {
                item: image,
                said: err.to_string(),
            }),
            Err(err) => {
                return Err(err).with_context(|| format!("removing the image {}", image.name));
            }
        }
    }
    Ok(pruned)
}

/// After a roll-out: prunes `stack` when more than `trigger.spare_images` images would go, or
/// the engine's images take more than `trigger.image_bytes`; `None` when it did not (nothing
/// worth it, or another run holds the lock — the next deploy tries again).
pub(crate) async fn prune_if_needed(
    docker: &Docker,
    stack: &str,
    keep: usize,
    trigger: Trigger,
) -> anyhow::Result<Option<Pruned>> {
    let (containers, images) = lists(docker, stack).await?;
    let planned = plan(stack, &containers, &images, keep);
    let image_bytes: u64 = images.iter().map(|i| non_negative(Some(i.size))).sum();
    if planned.is_empty()
        || (planned.images.len() <= trigger.spare_images && image_bytes <= trigger.image_bytes)
    {
        return Ok(None);
    }
    if let Some(holder) = lock::holder(docker, stack).await?
        && !holder.expired()
    {
        tracing::info!(
            "not pruning {stack} now: {} holds its deploy lock",
            holder.owner
        );
        return Ok(None);
    }
    prune(docker, stack, keep, Duration::ZERO).await.map(Some)
}

#[cfg(test)]
mod tests;
