//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ledgerly_store::Store;

use crate::auth::limiter::LoginLimiter;
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
        Self {
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
