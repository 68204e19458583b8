//! The login rate limiter: attempts per client address and failures per account, each counted
//! in a fixed window. Refusals carry the seconds until the window ends (`Retry-After`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Window {
    started: Instant,
    count: u32,
}

#[derive(Debug)]
struct Counter<K> {
    limit: u32,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Window>> {
        // A poisoned lock only means another request panicked mid-update; the counts are still usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds to wait when `key` is at its limit.
    fn blocked(&self, key: &K, now: Instant, window: Duration) -> Option<u64> {
        let windows = self.lock();
        let w = windows.get(key)?;
        let elapsed = now.saturating_duration_since(w.started);
        (elapsed < window && w.count >= self.limit).then(|| (window - elapsed).as_secs().max(1))
    }

    fn record(&self, key: &K, now: Instant, window: Duration) {
        let mut windows = self.lock();
        if windows.len() > 100_000 {
            windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.saturating_duration_since(w.started) >= window {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        w.count += 1;
    }

    fn reset(&self, key: &K) {
        self.lock().remove(key);
    }
}

#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    per_ip: Counter<IpAddr>,
    per_account: Counter<String>,
}

impl LoginLimiter {
    pub fn new(attempts_per_ip: u32, failures_per_account: u32, window: Duration) -> Self {
        Self {
            window,
            per_ip: Counter::new(attempts_per_ip),
            per_account: Counter::new(failures_per_account),
        }
    }

    /// Counts an attempt from `ip` for `account`; `Err(seconds)` when either is over its limit.
    pub fn attempt(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), u64> {
        if let Some(wait) = self.per_ip.blocked(&ip, now, self.window) {
            return Err(wait);
        }
        if let Some(wait) = self
            .per_account
            .blocked(&account.to_owned(), now, self.window)
        {
            return Err(wait);
        }
        self.per_ip.record(&ip, now, self.window);
        Ok(())
    }

    pub fn failed(&self, account: &str, now: Instant) {
        self.per_account
            .record(&account.to_owned(), now, self.window);
    }

    pub fn succeeded(&self, account: &str) {
        self.per_account.reset(&account.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn an_account_is_locked_after_its_failures_until_the_window_ends() {
        let limiter = LoginLimiter::new(100, 3, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 1]);
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.attempt(ip, "a@x.io", t0).unwrap();
            limiter.failed("a@x.io", t0);
        }
        assert_eq!(
            limiter.attempt(ip, "a@x.io", t0 + Duration::from_secs(20)),
            Err(40)
        );
        // Another account from the same address is not affected.
        assert!(limiter.attempt(ip, "b@x.io", t0).is_ok());
        assert!(limiter.attempt(ip, "a@x.io", t0 + WINDOW).is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts_and_success_clears_the_account() {
        let limiter = LoginLimiter::new(2, 5, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 2]);
        let t0 = Instant::now();
        limiter.attempt(ip, "a@x.io", t0).unwrap();
        limiter.failed("a@x.io", t0);
        limiter.succeeded("a@x.io");
        limiter.attempt(ip, "b@x.io", t0).unwrap();
        assert!(limiter.attempt(ip, "c@x.io", t0).is_err());
        assert!(
            limiter
                .attempt(IpAddr::from([10, 0, 0, 3]), "c@x.io", t0)
                .is_ok()
        );
    }
}
