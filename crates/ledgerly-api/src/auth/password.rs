//! Password hashing with argon2id, off the async threads (a hash takes tens of milliseconds), at
//! most one per core at a time.
//!
//! Each hash holds 19 MiB for its tens of milliseconds. Unbounded, a burst of logins ran a hash
//! per request on its own blocking thread and held gigabytes; bounded, a burst queues (fairly,
//! first come first served) and whatever waits longer than [`QUEUE_WAIT`] is answered 503 with
//! `Retry-After`, so memory stays at a few hashes' worth whatever the load.

use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// How long a request waits for a turn to hash before it is answered 503.
pub const QUEUE_WAIT: Duration = Duration::from_secs(3);

/// The hashes that may run at once: one per core.
static TURNS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// Runs `work` on a blocking thread once a turn is free. The turn is held by the thread, not the
/// request: a client that hangs up mid-hash does not free a turn while its hash still runs.
async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    in_turn_of(&TURNS, QUEUE_WAIT, work).await
}

async fn in_turn_of<T: Send + 'static>(
    turns: &'static Semaphore,
    wait: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let turn = tokio::time::timeout(wait, turns.acquire())
        .await
        .map_err(|_| ApiError::Busy {
            what: "password checking",
            retry_after: 1,
        })?
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        work()
    })
    .await
    .map_err(ApiError::internal)
}

/// The shortest and longest passwords accepted. The upper bound keeps hashing cheap to refuse.
pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 1024;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length; the message says what is needed.
pub fn check_new(field: &'static str, password: &SecretString) -> Result<(), ApiError> {
    let password = password.expose_secret();
    if password.chars().count() < MIN_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {MAX_BYTES} bytes"),
        ));
    }
    Ok(())
}

pub async fn hash(password: SecretString) -> Result<String, ApiError> {
    in_turn(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password failed: {e}")))
    })
    .await?
}

/// Whether `password` matches `hash`. A hash that does not parse never matches.
pub async fn verify(password: SecretString, hash: String) -> Result<bool, ApiError> {
    in_turn(move || {
        let password = password.expose_secret();
        if password.len() > MAX_BYTES {
            return false;
        }
        PasswordHash::new(&hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// A valid hash of a random password: verifying against it for unknown emails makes a wrong
/// email take as long as a wrong password.
pub fn decoy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$bGVkZ2VybHlkZWNveXNhbHQ$7f2Zb0w3q0v1d6pGm4m0m5c8n0r2Yc3b8VbH0XzD6oQ"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse".into(), hash.clone()).await.unwrap());
        assert!(!verify("correct hors".into(), hash).await.unwrap());
        assert!(!verify("x".into(), "not a hash".into()).await.unwrap());
    }

    #[tokio::test]
    async fn the_decoy_hash_parses_and_matches_nothing_typed() {
        assert!(PasswordHash::new(decoy_hash()).is_ok());
        assert!(
            !verify("password".into(), decoy_hash().into())
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_wait_for_a_turn_and_past_the_wait_the_answer_is_busy() {
        static TWO: Semaphore = Semaphore::const_new(2);
        let wait = Duration::from_millis(300);
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (running, most) = (running.clone(), most.clone());
            tasks.push(tokio::spawn(in_turn_of(&TWO, wait, move || {
                use std::sync::atomic::Ordering::SeqCst;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, SeqCst);
            })));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);

        // Both turns held past the wait: 503 with Retry-After.
        let held = TWO.acquire_many(2).await.unwrap();
        let refused = in_turn_of(&TWO, wait, || ()).await.unwrap_err();
        assert!(matches!(refused, ApiError::Busy { retry_after: 1, .. }));
        let response = axum::response::IntoResponse::into_response(refused);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        drop(held);
        assert!(in_turn_of(&TWO, wait, || ()).await.is_ok());
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new("password", &"1234567".into()).is_err());
        assert!(check_new("password", &"12345678".into()).is_ok());
        assert!(check_new("password", &"x".repeat(MAX_BYTES + 1).into()).is_err());
    }
}
