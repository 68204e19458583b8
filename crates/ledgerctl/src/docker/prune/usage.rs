//! The engine's disk use as Docker counts it: its images, containers, volumes and build cache.
//! The filesystem the engine keeps them on is not in its API.

use std::collections::HashSet;
use std::fmt;

use anyhow::Context as _;
use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, ImageSummary};
use bollard::query_parameters::{
    DataUsageOptions, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
};
use serde::Serialize;

use super::{non_negative, own_bytes};

/// One kind of the engine's disk use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    pub(crate) count: u64,
    /// How many are in use: images by a container, containers running, volumes mounted.
    pub(crate) active: u64,
    pub(crate) bytes: u64,
    /// What removing the unused ones would free.
    pub(crate) reclaimable: u64,
}

/// The engine's disk use as Docker counts it — not the filesystem's, which the engine's API does
/// not give.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct DiskUsage {
    pub(crate) images: Usage,
    pub(crate) containers: Usage,
    /// Unknown (`None`) from an engine older than API 1.52, which bollard cannot read the
    /// usage of; images and containers then come from their lists.
    pub(crate) volumes: Option<Usage>,
    pub(crate) build_cache: Option<Usage>,
    /// Whether the images' bytes count shared layers once (the engine's own figure); from the
    /// lists, each image counts all its layers, so the total is an upper bound.
    pub(crate) exact: bool,
}

/// The engine's disk use: its own figures (`/system/df`) when it gives them in the form bollard
/// reads (API 1.52 on), else counted from its images and containers.
pub(crate) async fn disk_usage(docker: &Docker) -> anyhow::Result<DiskUsage> {
    let version = docker.client_version();
    let df = if (version.major_version, version.minor_version) >= (1, 52) {
        docker
            .df(None::<DataUsageOptions>)
            .await
            .context("reading the engine's disk use")?
    } else {
        bollard::models::SystemDataUsageResponse::default()
    };
    let usage =
        |count: Option<i64>, active: Option<i64>, size: Option<i64>, free: Option<i64>| Usage {
            count: non_negative(count),
            active: non_negative(active),
            bytes: non_negative(size),
            reclaimable: non_negative(free),
        };
    if let Some(images) = df.image_usage.as_ref().filter(|i| i.total_size.is_some()) {
        let containers = df.container_usage.unwrap_or_default();
        return Ok(DiskUsage {
            images: usage(
                images.total_count,
                images.active_count,
                images.total_size,
                images.reclaimable,
            ),
            containers: usage(
                containers.total_count,
                containers.active_count,
                containers.total_size,
                containers.reclaimable,
            ),
            volumes: df
                .volume_usage
                .map(|v| usage(v.total_count, v.active_count, v.total_size, v.reclaimable)),
            build_cache: df
                .build_cache_usage
                .map(|b| usage(b.total_count, b.active_count, b.total_size, b.reclaimable)),
            exact: true,
        });
    }
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .size(true)
                .build(),
        ))
        .await
        .context("listing the engine's containers")?;
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .shared_size(true)
                .build(),
        ))
        .await
        .context("listing the engine's images")?;
    Ok(counted(&containers, &images))
}

/// [`DiskUsage`] counted from the engine's lists.
pub(super) fn counted(containers: &[ContainerSummary], images: &[ImageSummary]) -> DiskUsage {
    let used: HashSet<&str> = containers
        .iter()
        .filter_map(|c| c.image_id.as_deref())
        .collect();
    let mut usage = DiskUsage::default();
    for image in images {
        let active = used.contains(image.id.as_str());
        usage.images.count += 1;
        usage.images.active += u64::from(active);
        usage.images.bytes += non_negative(Some(image.size));
        if !active {
            usage.images.reclaimable += own_bytes(image);
        }
    }
    for container in containers {
        let running = container.state == Some(ContainerSummaryStateEnum::RUNNING);
        let bytes = non_negative(container.size_rw);
        usage.containers.count += 1;
        usage.containers.active += u64::from(running);
        usage.containers.bytes += bytes;
        if !running {
            usage.containers.reclaimable += bytes;
        }
    }
    usage
}

/// Bytes for people: `512 B`, `3.4 MB`, `1.2 GB` (powers of 1000, as docker shows them).
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn shown_usage(f: &mut fmt::Formatter<'_>, what: &str, usage: Option<&Usage>) -> fmt::Result {
    match usage {
        Some(u) => write!(
            f,
            "{what} {} ({} in use): {}, {} reclaimable",
            u.count,
            u.active,
            human(u.bytes),
            human(u.reclaimable)
        ),
        None => write!(f, "{what}: not known from this engine"),
    }
}

impl fmt::Display for DiskUsage {
    /// One line per kind: `images 12 (4 in use): 3.4 GB, 2.1 GB reclaimable`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        shown_usage(f, "images", Some(&self.images))?;
        if !self.exact {
            write!(f, " (shared layers counted with each image)")?;
        }
        writeln!(f)?;
        shown_usage(f, "containers", Some(&self.containers))?;
        writeln!(f)?;
        shown_usage(f, "volumes", self.volumes.as_ref())?;
        writeln!(f)?;
        shown_usage(f, "build cache", self.build_cache.as_ref())
    }
}
