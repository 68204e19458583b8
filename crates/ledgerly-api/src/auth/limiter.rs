//! The login rate limiter, counted in fixed windows. Refusals carry the seconds until the window
//! ends (`Retry-After`).
//!
//! - Attempts per client address (an IPv6 address counts as its /64: one host holds a whole /64).
//! - Attempts per account *from one address*, counted before the password is checked, so guesses
//!   sent in parallel cannot slip past while their hashes run; a success clears them. A stranger
//!   guessing someone's password from one address locks only that address out of that account,
//!   never the owner.
//! - Attempts per account from every address together, at ten times the per-address limit: a
//!   guess spread over many addresses is slowed too, and it takes ten addresses' worth of failures
//!   to make the owner wait out one window.
//!
//! Accounts are keyed by the email as parsed (lower case, at most 254 bytes); text that is not an
//! email shares one key. Each map holds at most [`MAX_KEYS`] keys: when it is full of live windows,
//! the oldest is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledgerly_core::{Email, UserId};

/// The most keys a counter keeps.
pub const MAX_KEYS: usize = 100_000;
/// The account-wide limit, in multiples of the per-address one.
const ACCOUNT_WIDE: u32 = 10;

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

    /// Counts one for `key`, checking and counting under one lock: `Err(seconds)` when it was
    /// already at its limit (nothing counted then).
    fn take(&self, key: &K, now: Instant, window: Duration) -> Result<(), u64> {
        let mut windows = self.lock();
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
            if windows.len() >= MAX_KEYS {
                let oldest = windows
                    .iter()
                    .min_by_key(|(_, w)| w.started)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    windows.remove(&oldest);
                }
            }
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            started: now,
            count: 0,
        });
        let elapsed = now.saturating_duration_since(w.started);
        if elapsed >= window {
            *w = Window {
                started: now,
                count: 0,
            };
        } else if w.count >= self.limit {
            return Err((window - elapsed).as_secs().max(1));
        }
        w.count += 1;
        Ok(())
    }

    fn reset(&self, key: &K) {
        self.lock().remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A client address as the limiter counts it: IPv4 as is, IPv6 by its /64.
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// The account an attempt is for.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// The email a login names, as typed.
    Named(&'a str),
    /// A signed-in account re-checking its password.
    User(UserId),
}

impl<'a> From<&'a str> for Account<'a> {
    fn from(email: &'a str) -> Self {
        Account::Named(email)
    }
}

impl Account<'_> {
    /// The key the account is counted under: the email as parsed, one shared key for text that is
    /// not an email (it cannot sign in, and must not grow the map), or the signed-in account's id.
    /// The three kinds never collide: an email holds an `@`, the others do not.
    fn key(self) -> String {
        match self {
            Account::Named(given) => Email::parse(given).map_or_else(
                |_| "(not an email)".to_owned(),
                |email| email.as_str().to_owned(),
            ),
            Account::User(id) => format!("user {id}"),
        }
    }
}

#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    per_ip: Counter<IpAddr>,
    per_account_ip: Counter<(String, IpAddr)>,
    per_account: Counter<String>,
}

impl LoginLimiter {
    pub fn new(attempts_per_ip: u32, failures_per_account: u32, window: Duration) -> Self {
        Self {
            window,
            per_ip: Counter::new(attempts_per_ip),
            per_account_ip: Counter::new(failures_per_account),
            per_account: Counter::new(failures_per_account.saturating_mul(ACCOUNT_WIDE)),
        }
    }

    /// Counts an attempt from `ip` for `account` before its password is checked; `Err(seconds)`
    /// when the address, the account from this address, or the account is over its limit.
    pub fn attempt<'a>(
        &self,
        ip: IpAddr,
        account: impl Into<Account<'a>>,
        now: Instant,
    ) -> Result<(), u64> {
        let ip = network(ip);
        let account = account.into().key();
        let pair = (account.clone(), ip);
        if let Some(wait) = self
            .per_account_ip
            .blocked(&pair, now, self.window)
            .or_else(|| self.per_account.blocked(&account, now, self.window))
        {
            return Err(wait);
        }
        self.per_ip.take(&ip, now, self.window)?;
        self.per_account_ip.take(&pair, now, self.window)?;
        self.per_account.take(&account, now, self.window)
    }

    /// Counts an attempt from `ip` that names no account (a registration); `Err(seconds)` when
    /// the address is over its limit.
    pub fn attempt_from(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        self.per_ip.take(&network(ip), now, self.window)
    }

    /// The password was right: the account's attempts from `ip`, and its account-wide count, start
    /// over.
    pub fn succeeded<'a>(&self, ip: IpAddr, account: impl Into<Account<'a>>) {
        let account = account.into().key();
        self.per_account_ip.reset(&(account.clone(), network(ip)));
        self.per_account.reset(&account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    #[test]
    fn an_account_is_locked_for_an_address_after_its_attempts_until_the_window_ends() {
        let limiter = LoginLimiter::new(100, 3, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 1]);
        let t0 = Instant::now();
        // Counted before the password is checked: three guesses in flight at once use them up.
        for _ in 0..3 {
            limiter.attempt(ip, "a@x.io", t0).unwrap();
        }
        assert_eq!(
            limiter.attempt(ip, "A@X.io", t0 + Duration::from_secs(20)),
            Err(40),
            "the email is counted as parsed"
        );
        // Another account from the same address is not affected, nor the account from elsewhere.
        assert!(limiter.attempt(ip, "b@x.io", t0).is_ok());
        assert!(
            limiter
                .attempt(IpAddr::from([10, 0, 0, 9]), "a@x.io", t0)
                .is_ok()
        );
        assert!(limiter.attempt(ip, "a@x.io", t0 + WINDOW).is_ok());
    }

    #[test]
    fn a_stranger_cannot_lock_the_owner_out_but_a_spread_guess_is_slowed() {
        let limiter = LoginLimiter::new(100, 2, WINDOW);
        let t0 = Instant::now();
        let stranger = IpAddr::from([203, 0, 113, 7]);
        let owner = IpAddr::from([198, 51, 100, 1]);
        while limiter.attempt(stranger, "a@x.io", t0).is_ok() {}
        limiter.attempt(owner, "a@x.io", t0).unwrap();
        limiter.succeeded(owner, "a@x.io");
        // Ten addresses' worth of failures (2 × 10) stop the account for everyone until the
        // window ends.
        for host in 0..10u8 {
            for _ in 0..2 {
                limiter
                    .attempt(IpAddr::from([192, 0, 2, host]), "b@x.io", t0)
                    .unwrap();
            }
        }
        assert!(limiter.attempt(owner, "b@x.io", t0).is_err());
        assert!(limiter.attempt(owner, "b@x.io", t0 + WINDOW).is_ok());
    }

    #[test]
    fn an_address_is_limited_across_accounts_and_ipv6_counts_by_its_64() {
        let limiter = LoginLimiter::new(2, 5, WINDOW);
        let t0 = Instant::now();
        let ip = IpAddr::from([10, 0, 0, 2]);
        limiter.attempt(ip, "a@x.io", t0).unwrap();
        limiter.attempt(ip, "b@x.io", t0).unwrap();
        assert!(limiter.attempt(ip, "c@x.io", t0).is_err());
        assert!(
            limiter
                .attempt(IpAddr::from([10, 0, 0, 3]), "c@x.io", t0)
                .is_ok()
        );
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limiter.attempt(one, "a@x.io", t0).unwrap();
        limiter.attempt(same_64, "b@x.io", t0).unwrap();
        assert!(limiter.attempt(same_64, "c@x.io", t0).is_err());
        assert!(limiter.attempt(next_64, "c@x.io", t0).is_ok());
        // A registration counts against its address only.
        let fresh = IpAddr::from([10, 0, 0, 4]);
        limiter.attempt_from(fresh, t0).unwrap();
        limiter.attempt_from(fresh, t0).unwrap();
        assert!(limiter.attempt_from(fresh, t0).is_err());
        // An IPv4 address written as IPv6 is the IPv4 address.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(network(mapped), ip);
    }

    #[test]
    fn keys_are_bounded() {
        let key = |given: &str| Account::Named(given).key();
        assert_eq!(key(" A@X.io "), "a@x.io");
        let long = format!("{}@x.io", "a".repeat(300));
        assert_eq!(key(&long), "(not an email)");
        assert_eq!(key("not an email"), "(not an email)");
        assert_eq!(key(""), "(not an email)");
        // Text that looks like a signed-in account's key is still only text.
        let id = UserId::new();
        assert_eq!(key(&format!("user {id}")), "(not an email)");
        assert_eq!(Account::User(id).key(), format!("user {id}"));
        let counter: Counter<u32> = Counter::new(1);
        let t0 = Instant::now();
        for key in 0..(MAX_KEYS as u32 + 10) {
            counter.take(&key, t0, WINDOW).ok();
        }
        assert_eq!(counter.len(), MAX_KEYS);
    }
}
