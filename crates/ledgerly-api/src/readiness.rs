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
        let (database, files) = tokio::join!(
            tokio::time::timeout(CHECK_EVERY, store.ping()),
            tokio::time::timeout(CHECK_EVERY, storage.check()),
        );
        self.database
            .store(answered("database", database), Ordering::Release);
        self.storage
            .store(answered("storage", files), Ordering::Release);
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

    /// Checks the database and storage and counts the jobs now, so the first answers tell the
    /// truth; then, in the background, checks every [`CHECK_EVERY`] and counts every
    /// `count_jobs_every` until the readiness it reports to is dropped (the server is gone).
    pub async fn keep_fresh(
        readiness: &Arc<Readiness>,
        store: Store,
        storage: Storage,
        count_jobs_every: Duration,
    ) {
        readiness.check(&store, &storage).await;
        readiness.count_jobs(&store).await;
        let readiness: Weak<Readiness> = Arc::downgrade(readiness);
        tokio::spawn(async move {
            let period = CHECK_EVERY.min(count_jobs_every);
            let mut checks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut counted = tokio::time::Instant::now();
            loop {
                checks.tick().await;
                let Some(readiness) = readiness.upgrade() else {
                    return;
                };
                readiness.check(&store, &storage).await;
                if counted.elapsed() >= count_jobs_every {
                    readiness.count_jobs(&store).await;
                    counted = tokio::time::Instant::now();
                }
            }
        });
    }
}

/// Whether a dependency answered its check in time; why not is logged.
fn answered<E: std::fmt::Debug>(
    what: &str,
    result: Result<Result<(), E>, tokio::time::error::Elapsed>,
) -> bool {
    match result {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(error = ?err, "readiness check: {what} unavailable");
            false
        }
        Err(_) => {
            tracing::warn!("readiness check: {what} did not answer in time");
            false
        }
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
