//! Personal API tokens: what a script or an app signs in with instead of a login session. Each
//! is named, can read or read and write, expires, and records when it was last used. Only a hash
//! of its secret is kept; the secret is shown once, when it is made.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApiTokenId, UserId};
use crate::text::TokenName;

/// The secret's prefix: it tells a personal token from a session's (and a secret scanner can
/// find one in a leaked file).
pub const SECRET_PREFIX: &str = "lgy_";
/// The days a token lasts when none are asked for, and the most it may.
pub const DEFAULT_DAYS: u32 = 90;
pub const MAX_DAYS: u32 = 3650;
/// The most tokens one account holds, expired ones included (they are deleted by revoking).
pub const MAX_PER_USER: u64 = 50;
/// How stale `last_used_at` may get before a use writes it again.
pub const LAST_USED_PRECISION: Duration = Duration::minutes(1);

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TokenScope {
    /// `GET` (and `HEAD`, `OPTIONS`) requests only.
    Read,
    /// Everything the account can do through the API, except managing its sign-in: the
    /// password, the email, tokens and deleting the account need a login session.
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::ReadWrite => "read_write",
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope that is neither `read` nor `read_write`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a scope: give `read` or `read_write`")]
pub struct UnknownScope(pub String);

impl FromStr for TokenScope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "read" => Ok(TokenScope::Read),
            "read_write" => Ok(TokenScope::ReadWrite),
            other => Err(UnknownScope(other.to_owned())),
        }
    }
}

/// A token as kept: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: TokenName,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was last used, to within [`LAST_USED_PRECISION`]; `None` before its first use.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_expired(&self, at: DateTime<Utc>) -> bool {
        self.expires_at <= at
    }
}

/// Why a lifetime in days is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a token lasts from 1 to {MAX_DAYS} days (got {0})")]
pub struct BadLifetime(pub u32);

/// How long a token asked to last `days` (default [`DEFAULT_DAYS`]) lasts.
pub fn lifetime(days: Option<u32>) -> Result<Duration, BadLifetime> {
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(BadLifetime(days));
    }
    Ok(Duration::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_back_and_others_are_refused() {
        for scope in [TokenScope::Read, TokenScope::ReadWrite] {
            assert_eq!(scope.as_str().parse::<TokenScope>(), Ok(scope));
        }
        assert_eq!(
            "write".parse::<TokenScope>(),
            Err(UnknownScope("write".into()))
        );
        assert_eq!(
            serde_json::to_string(&TokenScope::ReadWrite).unwrap(),
            "\"read_write\""
        );
    }

    #[test]
    fn a_lifetime_is_one_day_to_ten_years_and_ninety_by_default() {
        assert_eq!(lifetime(None), Ok(Duration::days(90)));
        assert_eq!(lifetime(Some(1)), Ok(Duration::days(1)));
        assert_eq!(lifetime(Some(MAX_DAYS)), Ok(Duration::days(3650)));
        assert_eq!(lifetime(Some(0)), Err(BadLifetime(0)));
        assert_eq!(lifetime(Some(MAX_DAYS + 1)), Err(BadLifetime(3651)));
    }
}
