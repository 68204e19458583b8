//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ledgerly_store::Store;
use tokio::sync::Semaphore;

use crate::auth::limiter::LoginLimiter;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::readiness::Readiness;
use crate::settings::Settings;
use ledgerly_store::objects::Storage;

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub storage: Storage,
    pub settings: Arc<Settings>,
    pub limiter: Arc<LoginLimiter>,
    pub metrics: Arc<Metrics>,
    /// Set once shutdown has begun: `/readyz` answers 503 while requests are still served.
    pub draining: Arc<AtomicBool>,
    /// The database's and storage's state and the OCR job counts, kept fresh in the background.
    pub readiness: Arc<Readiness>,
    /// CSV exports running: each holds a database connection while its client downloads, so
    /// at most a quarter of the pool's connections (at least one) serve exports at once.
    pub exports: Arc<Semaphore>,
    /// What sends email; `None` without `smtp.host` (or with SMTP settings start-up refuses).
    pub mailer: Option<Mailer>,
}

impl AppState {
    pub fn new(store: Store, storage: Storage, settings: Settings) -> Self {
        Self::with_metrics(store, storage, settings, Metrics::new())
    }

    pub fn with_metrics(
        store: Store,
        storage: Storage,
        settings: Settings,
        metrics: Metrics,
    ) -> Self {
        let limiter = LoginLimiter::new(
            store.clone(),
            settings.auth.login_attempts_per_ip.get(),
            settings.auth.failed_logins_per_account.get(),
            Duration::from_secs(u64::from(settings.auth.rate_limit_window_seconds.get())),
        );
        let mailer = match Mailer::new(&settings.smtp) {
            Ok(mailer) => mailer,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "no email will be sent");
                None
            }
        };
        Self {
            exports: Arc::new(Semaphore::new(concurrent_exports(&settings))),
            mailer,
            store,
            storage,
            settings: Arc::new(settings),
            limiter: Arc::new(limiter),
            metrics: Arc::new(metrics),
            draining: Arc::new(AtomicBool::new(false)),
            readiness: Arc::new(Readiness::default()),
        }
    }
}

/// How many CSV exports may run at once: a quarter of the database pool, at least one.
fn concurrent_exports(settings: &Settings) -> usize {
    usize::try_from(settings.database.max_connections.get() / 4)
        .unwrap_or(usize::MAX)
        .max(1)
}
