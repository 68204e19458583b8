//! Password hashing with argon2id, off the async threads (a hash takes tens of milliseconds).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

/// The shortest and longest passwords accepted. The upper bound keeps hashing cheap to refuse.
pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 1024;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length; the message says what is needed.
pub fn check_new(field: &'static str, password: &str) -> Result<(), ApiError> {
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

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password failed: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `password` matches `hash`. A hash that does not parse never matches.
pub async fn verify(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
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
    .map_err(ApiError::internal)
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

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new("password", "1234567").is_err());
        assert!(check_new("password", "12345678").is_ok());
        assert!(check_new("password", &"x".repeat(MAX_BYTES + 1)).is_err());
    }
}
