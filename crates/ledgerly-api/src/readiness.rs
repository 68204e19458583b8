//! What `/readyz` and `/metrics` report about the server's dependencies, kept fresh by one
//! background task rather than worked out per request: anonymous callers (a scanner, a
//! misconfigured probe polling every millisecond) cost a read of a few atomics, never a database
//! ping plus an S3 call, nor a count over the jobs table.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ledgerly_store::objects::Storage;
use ledgerly_store::{JobCounts, Store};

/// How often the database and storage are checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
/// A check older than this is no check: the server is reported unavailable.
const STALE_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct Readiness {
    database: AtomicBool,
    storage: AtomicBool,
    /// When the last check finished, in milliseconds since the Unix epoch; 0 before the first.
    checked_at: AtomicI64,
    jobs: Mutex<Option<JobCounts>>,
}

/// The last check's findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub database: bool,
    pub storage: bool,
    /// The last check is recent enough to go by.
    pub fresh: bool,
}

impl Readiness {
    pub fn snapshot(&self) -> Snapshot {
        let age = chrono::Utc::now().timestamp_millis() - self.checked_at.load(Ordering::Acquire);
        Snapshot {
            database: self.database.load(Ordering::Acquire),
            storage: self.storage.load(Ordering::Acquire),
            fresh: u128::try_from(age).is_ok_and(|age| age <= STALE_AFTER.as_millis()),
        }
    }

    /// The OCR job counts of the last count, if there was one.
    pub fn jobs(&self) -> Option<JobCounts> {
        self.jobs.lock().map_or(None, |jobs| *jobs)
    }

    /// Checks the database and storage now, each within a short deadline.
    pub async fn check(&self, store: &Store, storage: &Storage) {
        let deadline = CHECK_EVERY;
        let (database, files) = tokio::join!(
            tokio::time::timeout(deadline, store.ping()),
            tokio::time::timeout(deadline, storage.check()),
        );
        let database = match database {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "readiness check: database unavailable");
                false
            }
            Err(_) => {
                tracing::warn!("readiness check: the database did not answer in time");
                false
            }
        };
        let files = match files {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "readiness check: storage unavailable");
                false
            }
            Err(_) => {
                tracing::warn!("readiness check: storage did not answer in time");
                false
            }
        };
        self.database.store(database, Ordering::Release);
        self.storage.store(files, Ordering::Release);
        self.checked_at
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Release);
    }

    /// Counts the OCR jobs by state now.
    pub async fn count_jobs(&self, store: &Store) {
        match store.ocr_job_counts().await {
            Ok(counts) => {
                if let Ok(mut jobs) = self.jobs.lock() {
                    *jobs = Some(counts);
                }
            }
            Err(err) => tracing::warn!(error = ?err, "metrics: cannot count OCR jobs"),
        }
    }

    /// Checks every [`CHECK_EVERY`] and counts jobs every `count_jobs_every` until the
    /// readiness it reports to is dropped (the server is gone).
    pub fn keep_fresh(
        readiness: &Arc<Readiness>,
        store: Store,
        storage: Storage,
        count_jobs_every: Duration,
    ) {
        let readiness: Weak<Readiness> = Arc::downgrade(readiness);
        tokio::spawn(async move {
            let mut checks = tokio::time::interval(CHECK_EVERY.min(count_jobs_every));
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut counted: Option<tokio::time::Instant> = None;
            loop {
                checks.tick().await;
                let Some(readiness) = readiness.upgrade() else {
                    return;
                };
                readiness.check(&store, &storage).await;
                if counted.is_none_or(|at| at.elapsed() >= count_jobs_every) {
                    readiness.count_jobs(&store).await;
                    counted = Some(tokio::time::Instant::now());
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_checked_is_not_fresh() {
        let readiness = Readiness::default();
        assert_eq!(
            readiness.snapshot(),
            Snapshot {
                database: false,
                storage: false,
                fresh: false
            }
        );
        assert!(readiness.jobs().is_none());
        readiness.database.store(true, Ordering::Release);
        readiness.storage.store(true, Ordering::Release);
        readiness.checked_at.store(
            chrono::Utc::now().timestamp_millis() - 60_000,
            Ordering::Release,
        );
        assert!(!readiness.snapshot().fresh, "a minute-old check is stale");
        readiness
            .checked_at
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Release);
        assert!(readiness.snapshot().fresh);
    }
}
