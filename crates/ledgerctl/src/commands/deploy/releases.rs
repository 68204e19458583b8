//! The release history (`/<stack>/releases`) and each release's third-party image digests
//! (`/<stack>/images`), both within an SSM parameter's 4 KB.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::aws::{self, Aws};
use crate::stack::StackConfig;

/// One rolled-out release: the images by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Release {
    pub(crate) version: String,
    pub(crate) api: String,
    pub(crate) ocr: String,
    /// Unix seconds.
    pub(crate) at: u64,
    /// The SHA-256 of the RDS certificate bundle the release was deployed with: the pin the
    /// next deploy checks the fetched bundle against (unless the stack file gives one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ca_bundle_sha256: Option<String>,
}

pub(crate) async fn history(aws: &Aws, config: &StackConfig) -> anyhow::Result<Vec<Release>> {
    let name = aws::ssm::releases(config);
    match aws::ssm::read(aws, &name).await? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .with_context(|| format!("the release history {name} is not what ledgerctl wrote")),
    }
}

/// The bundle hash the current release was deployed with.
pub(crate) fn pinned(history: &[Release]) -> Option<&str> {
    history.first()?.ca_bundle_sha256.as_deref()
}

/// Puts `release` first in the history (unless it is already the current one, whose bundle
/// hash it then brings up to date).
pub(crate) async fn record(
    aws: &Aws,
    config: &StackConfig,
    release: &Release,
) -> anyhow::Result<()> {
    let history = history(aws, config).await?;
    let Some(history) = with_release(history, release, config.deploy.keep_releases as usize) else {
        return Ok(());
    };
    aws::ssm::write(
        aws,
        config,
        &aws::ssm::releases(config),
        &serde_json::to_string(&history)?,
        "Ledgerly: the releases ledgerctl deployed, newest first (for rollback)",
    )
    .await
}

/// `history` with `release` first and at most `keep` entries; `None` when nothing changes. Only
/// the newest keeps its bundle hash (the pin is read from it alone), which keeps the history
/// within an SSM parameter's 4 KB at the most releases the stack file allows.
fn with_release(mut history: Vec<Release>, release: &Release, keep: usize) -> Option<Vec<Release>> {
    match history.first_mut() {
        Some(current) if current.api == release.api && current.ocr == release.ocr => {
            if current.ca_bundle_sha256 == release.ca_bundle_sha256 {
                return None;
            }
            current.ca_bundle_sha256 = release.ca_bundle_sha256.clone();
        }
        _ => history.insert(0, release.clone()),
    }
    history.truncate(keep);
    for older in history.iter_mut().skip(1) {
        older.ca_bundle_sha256 = None;
    }
    Some(history)
}

/// Unix seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The third-party image digests of the recorded releases: one SSM parameter,
/// `/<stack>/images`, each distinct set of digests once and the releases pointing at theirs (a
/// set changes only when the template's tags do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ImageRecord {
    pub(crate) sets: Vec<BTreeMap<String, String>>,
    pub(crate) releases: BTreeMap<String, usize>,
}

/// Within an SSM parameter's 4 KB.
const IMAGE_RECORD_MAX: usize = 4000;

impl ImageRecord {
    /// With `version` running `pinned`, for the releases in `history` (newest first) only; the
    /// oldest releases' digests give way if they would not fit.
    fn with(
        mut self,
        version: &str,
        pinned: &BTreeMap<String, String>,
        history: &[String],
    ) -> Self {
        let index = match self.sets.iter().position(|set| set == pinned) {
            Some(index) => index,
            None => {
                self.sets.push(pinned.clone());
                self.sets.len() - 1
            }
        };
        self.releases.insert(version.to_owned(), index);
        let mut keep: Vec<String> = history.to_vec();
        if !keep.iter().any(|v| v == version) {
            keep.insert(0, version.to_owned());
        }
        loop {
            self.releases.retain(|v, _| keep.contains(v));
            // Only the sets still pointed at, renumbered.
            let mut used: Vec<usize> = self.releases.values().copied().collect();
            used.sort_unstable();
            used.dedup();
            self.sets = used.iter().map(|&i| self.sets[i].clone()).collect();
            for index in self.releases.values_mut() {
                *index = used.iter().position(|&u| u == *index).unwrap_or_default();
            }
            let fits = serde_json::to_string(&self).is_ok_and(|t| t.len() <= IMAGE_RECORD_MAX);
            if fits || keep.len() <= 1 {
                return self;
            }
            keep.pop();
        }
    }
}

async fn image_record(aws: &Aws, config: &StackConfig) -> anyhow::Result<ImageRecord> {
    let name = aws::ssm::images(config);
    match aws::ssm::read(aws, &name).await? {
        None => Ok(ImageRecord::default()),
        Some(text) => serde_json::from_str(&text)
            .with_context(|| format!("{name} is not what ledgerctl wrote")),
    }
}

/// The third-party image digests release `version` ran, by tag reference (empty for a release
/// recorded before deploy pinned them, or whose digests gave way to newer ones).
pub(crate) async fn recorded_images(
    aws: &Aws,
    config: &StackConfig,
    version: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let record = image_record(aws, config).await?;
    Ok(record
        .releases
        .get(version)
        .and_then(|&i| record.sets.get(i).cloned())
        .unwrap_or_default())
}

/// Records the digests release `version` runs beside those of the releases in the history.
pub(crate) async fn record_images(
    aws: &Aws,
    config: &StackConfig,
    version: &str,
    pinned: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let history: Vec<String> = history(aws, config)
        .await?
        .into_iter()
        .map(|r| r.version)
        .collect();
    let before = image_record(aws, config).await?;
    let after = before.clone().with(version, pinned, &history);
    if after == before {
        return Ok(());
    }
    aws::ssm::write(
        aws,
        config,
        &aws::ssm::images(config),
        &serde_json::to_string(&after)?,
        "Ledgerly: the third-party images the recorded releases ran, by digest",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_keeps_the_newest_pin_and_fits_an_ssm_parameter() {
        let release = |n: u64, pin: char| Release {
            version: format!("abc123def456-dirty-{n:012}"),
            api: format!("sha256:{:064x}", n),
            ocr: format!("sha256:{:064x}", n + 1000),
            at: 1_796_431_811 + n,
            ca_bundle_sha256: Some(pin.to_string().repeat(64)),
        };
        let mut history = Vec::new();
        for n in 0..40 {
            history = with_release(history, &release(n, 'a'), 15).unwrap();
        }
        assert_eq!(history.len(), 15);
        assert_eq!(history[0].version, release(39, 'a').version);
        assert_eq!(history[0].ca_bundle_sha256, Some("a".repeat(64)));
        assert!(history[1..].iter().all(|r| r.ca_bundle_sha256.is_none()));
        let text = serde_json::to_string(&history).unwrap();
        assert!(text.len() <= 4096, "{} bytes", text.len());

        // The same images again: nothing to write; with a newly accepted bundle, the pin moves.
        assert!(with_release(history.clone(), &release(39, 'a'), 15).is_none());
        let moved = with_release(history, &release(39, 'b'), 15).unwrap();
        assert_eq!(moved.len(), 15);
        assert_eq!(moved[0].ca_bundle_sha256, Some("b".repeat(64)));
    }

    #[test]
    fn image_digests_are_kept_once_per_set_for_the_releases_in_the_history() {
        let set = |n: u8| -> BTreeMap<String, String> {
            [
                "traefik:v3.3",
                "prom/prometheus:v2.55.1",
                "grafana/grafana:11.3.1",
                "gcr.io/cadvisor/cadvisor:v0.49.1",
                "busybox:1.37",
                "allinurl/goaccess:1.9.3",
                "prom/node-exporter:v1.8.2",
            ]
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    format!("sha256:{}", format!("{n:02x}").repeat(32)),
                )
            })
            .collect()
        };
        // Fifteen releases on one set of images: one set kept.
        let mut record = ImageRecord::default();
        let mut history: Vec<String> = Vec::new();
        for n in 0..15 {
            let version = format!("v{n}");
            history.insert(0, version.clone());
            record = record.with(&version, &set(1), &history);
        }
        assert_eq!(record.sets.len(), 1);
        assert_eq!(record.releases.len(), 15);
        // A release that fell off the history takes its entry along.
        history.pop();
        record = record.with("v15", &set(2), &{
            history.insert(0, "v15".to_owned());
            history.clone()
        });
        assert_eq!(record.sets.len(), 2);
        assert!(!record.releases.contains_key("v0"));
        assert_eq!(record.sets[record.releases["v15"]], set(2));
        assert_eq!(record.sets[record.releases["v14"]], set(1));
        // Many distinct sets: the oldest give way, the newest never, and it fits SSM's 4 KB.
        for n in 16..40u8 {
            let version = format!("v{n}");
            history.insert(0, version.clone());
            history.truncate(15);
            record = record.with(&version, &set(n), &history);
        }
        assert!(serde_json::to_string(&record).unwrap().len() <= IMAGE_RECORD_MAX);
        assert_eq!(record.sets[record.releases["v39"]], set(39));
        assert!(record.releases.len() >= 3, "{:?}", record.releases);
        assert!(record.releases.keys().all(|v| history.contains(v)));
    }
}
