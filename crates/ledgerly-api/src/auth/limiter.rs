//! The login rate limiter, counted in fixed windows in the database (so every API instance
//! behind a load balancer counts the same attempts). Refusals carry the seconds until the window
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
//! email shares one key. Counts whose window has ended are deleted hourly.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ledgerly_core::{Email, UserId};
use ledgerly_store::{Limit, Store};

use crate::error::ApiError;

/// The account-wide limit, in multiples of the per-address one.
const ACCOUNT_WIDE: u32 = 10;

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

#[derive(Debug, Clone)]
pub struct LoginLimiter {
    store: Store,
    window: Duration,
    per_ip: u32,
    per_account_ip: u32,
    per_account: u32,
}

/// The keys an attempt is counted under.
fn ip_key(ip: IpAddr) -> String {
    format!("ip {}", network(ip))
}

fn account_key(account: &str) -> String {
    format!("account {account}")
}

fn account_ip_key(account: &str, ip: IpAddr) -> String {
    format!("account {account} from {}", network(ip))
}

fn refused(retry_after: u64) -> ApiError {
    ApiError::TooManyRequests { retry_after }
}

impl LoginLimiter {
    pub fn new(
        store: Store,
        attempts_per_ip: u32,
        failures_per_account: u32,
        window: std::time::Duration,
    ) -> Self {
        Self {
            store,
            window: Duration::from_std(window).unwrap_or(Duration::minutes(15)),
            per_ip: attempts_per_ip,
            per_account_ip: failures_per_account,
            per_account: failures_per_account.saturating_mul(ACCOUNT_WIDE),
        }
    }

    /// How long a window lasts.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Counts one against `key`; a refusal is 429 with the seconds left.
    async fn take(&self, key: &str, limit: u32, at: DateTime<Utc>) -> Result<(), ApiError> {
        self.store
            .take_attempt(Limit { key, limit }, at, self.window)
            .await?
            .map_err(refused)
    }

    /// Counts an attempt from `ip` for `account` before its password is checked; 429 with
    /// `Retry-After` when the address, the account from this address, or the account is over its
    /// limit.
    pub async fn attempt<'a>(
        &self,
        ip: IpAddr,
        account: impl Into<Account<'a>>,
        at: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let account = account.into().key();
        let pair = account_ip_key(&account, ip);
        let account = account_key(&account);
        let blocked = self
            .store
            .attempts_blocked(
                &[
                    Limit {
                        key: &pair,
                        limit: self.per_account_ip,
                    },
                    Limit {
                        key: &account,
                        limit: self.per_account,
                    },
                ],
                at,
                self.window,
            )
            .await?;
        if let Some(wait) = blocked {
            return Err(refused(wait));
        }
        self.take(&ip_key(ip), self.per_ip, at).await?;
        self.take(&pair, self.per_account_ip, at).await?;
        self.take(&account, self.per_account, at).await
    }

    /// Counts an attempt from `ip` that names no account (a registration); 429 when the address
    /// is over its limit.
    pub async fn attempt_from(&self, ip: IpAddr, at: DateTime<Utc>) -> Result<(), ApiError> {
        self.take(&ip_key(ip), self.per_ip, at).await
    }

    /// The password was right: the account's attempts from `ip`, and its account-wide count, start
    /// over.
    pub async fn succeeded<'a>(
        &self,
        ip: IpAddr,
        account: impl Into<Account<'a>>,
    ) -> Result<(), ApiError> {
        let account = account.into().key();
        let pair = account_ip_key(&account, ip);
        let account = account_key(&account);
        Ok(self.store.clear_attempts(&[&pair, &account]).await?)
    }
}

#[cfg(test)]
mod tests {
    use ledgerly_store::on_both_backends;
    use ledgerly_store::testing::{Backend, TestDatabase};

    use super::*;

    const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

    fn seconds(n: i64) -> Duration {
        Duration::seconds(n)
    }

    fn wait(result: Result<(), ApiError>) -> Option<u64> {
        match result {
            Ok(()) => None,
            Err(ApiError::TooManyRequests { retry_after }) => Some(retry_after),
            Err(other) => panic!("{other:?}"),
        }
    }

    on_both_backends!(
        an_account_is_locked_for_an_address_after_its_attempts_until_the_window_ends,
        a_stranger_cannot_lock_the_owner_out_but_a_spread_guess_is_slowed,
        an_address_is_limited_across_accounts_and_ipv6_counts_by_its_64,
        instances_sharing_a_database_share_the_counts,
        parallel_guesses_all_count,
    );

    async fn an_account_is_locked_for_an_address_after_its_attempts_until_the_window_ends(
        backend: Backend,
    ) {
        let db = TestDatabase::new(backend).await;
        let limiter = LoginLimiter::new(db.store.clone(), 100, 3, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 1]);
        let t0 = Utc::now();
        // Counted before the password is checked: three guesses in flight at once use them up.
        for _ in 0..3 {
            limiter.attempt(ip, "a@x.io", t0).await.unwrap();
        }
        assert_eq!(
            wait(limiter.attempt(ip, "A@X.io", t0 + seconds(20)).await),
            Some(40),
            "the email is counted as parsed"
        );
        // Another account from the same address is not affected, nor the account from elsewhere.
        assert!(limiter.attempt(ip, "b@x.io", t0).await.is_ok());
        let elsewhere = IpAddr::from([10, 0, 0, 9]);
        assert!(limiter.attempt(elsewhere, "a@x.io", t0).await.is_ok());
        assert!(
            limiter
                .attempt(ip, "a@x.io", t0 + seconds(60))
                .await
                .is_ok()
        );
        // A right password clears the account's count from that address.
        for _ in 0..2 {
            limiter
                .attempt(ip, "c@x.io", t0 + seconds(60))
                .await
                .unwrap();
        }
        limiter.succeeded(ip, "c@x.io").await.unwrap();
        for _ in 0..3 {
            limiter
                .attempt(ip, "c@x.io", t0 + seconds(60))
                .await
                .unwrap();
        }
        // Windows that have ended are swept.
        assert!(
            db.store
                .delete_stale_attempts(t0 + seconds(60) - limiter.window())
                .await
                .unwrap()
                >= 1
        );
        db.cleanup().await;
    }

    async fn a_stranger_cannot_lock_the_owner_out_but_a_spread_guess_is_slowed(backend: Backend) {
        let db = TestDatabase::new(backend).await;
        let limiter = LoginLimiter::new(db.store.clone(), 100, 2, WINDOW);
        let t0 = Utc::now();
        let stranger = IpAddr::from([203, 0, 113, 7]);
        let owner = IpAddr::from([198, 51, 100, 1]);
        while limiter.attempt(stranger, "a@x.io", t0).await.is_ok() {}
        limiter.attempt(owner, "a@x.io", t0).await.unwrap();
        limiter.succeeded(owner, "a@x.io").await.unwrap();
        // Ten addresses' worth of failures (2 × 10) stop the account for everyone until the
        // window ends.
        for host in 0..10u8 {
            for _ in 0..2 {
                limiter
                    .attempt(IpAddr::from([192, 0, 2, host]), "b@x.io", t0)
                    .await
                    .unwrap();
            }
        }
        assert!(limiter.attempt(owner, "b@x.io", t0).await.is_err());
        assert!(
            limiter
                .attempt(owner, "b@x.io", t0 + seconds(60))
                .await
                .is_ok()
        );
        db.cleanup().await;
    }

    async fn an_address_is_limited_across_accounts_and_ipv6_counts_by_its_64(backend: Backend) {
        let db = TestDatabase::new(backend).await;
        let limiter = LoginLimiter::new(db.store.clone(), 2, 5, WINDOW);
        let t0 = Utc::now();
        let ip = IpAddr::from([10, 0, 0, 2]);
        limiter.attempt(ip, "a@x.io", t0).await.unwrap();
        limiter.attempt(ip, "b@x.io", t0).await.unwrap();
        assert!(limiter.attempt(ip, "c@x.io", t0).await.is_err());
        let other = IpAddr::from([10, 0, 0, 3]);
        assert!(limiter.attempt(other, "c@x.io", t0).await.is_ok());
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limiter.attempt(one, "a@x.io", t0).await.unwrap();
        limiter.attempt(same_64, "b@x.io", t0).await.unwrap();
        assert!(limiter.attempt(same_64, "c@x.io", t0).await.is_err());
        assert!(limiter.attempt(next_64, "c@x.io", t0).await.is_ok());
        // A registration counts against its address only.
        let fresh = IpAddr::from([10, 0, 0, 4]);
        limiter.attempt_from(fresh, t0).await.unwrap();
        limiter.attempt_from(fresh, t0).await.unwrap();
        assert!(limiter.attempt_from(fresh, t0).await.is_err());
        db.cleanup().await;
    }

    async fn instances_sharing_a_database_share_the_counts(backend: Backend) {
        let db = TestDatabase::new(backend).await;
        let first = LoginLimiter::new(db.store.clone(), 100, 2, WINDOW);
        let second = LoginLimiter::new(db.store.clone(), 100, 2, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 5]);
        let t0 = Utc::now();
        first.attempt(ip, "a@x.io", t0).await.unwrap();
        second.attempt(ip, "a@x.io", t0).await.unwrap();
        assert!(first.attempt(ip, "a@x.io", t0).await.is_err());
        assert!(second.attempt(ip, "a@x.io", t0).await.is_err());
        db.cleanup().await;
    }

    async fn parallel_guesses_all_count(backend: Backend) {
        let db = TestDatabase::new(backend).await;
        let limiter = LoginLimiter::new(db.store.clone(), 1000, 5, WINDOW);
        let ip = IpAddr::from([10, 0, 0, 6]);
        let t0 = Utc::now();
        let guesses = (0..20).map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.attempt(ip, "a@x.io", t0).await.is_ok() })
        });
        let mut let_through = 0;
        for guess in guesses {
            if guess.await.unwrap() {
                let_through += 1;
            }
        }
        assert_eq!(let_through, 5, "exactly the limit gets through");
        db.cleanup().await;
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
        // An IPv4 address written as IPv6 is the IPv4 address.
        let mapped: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(network(mapped), IpAddr::from([10, 0, 0, 2]));
    }
}
