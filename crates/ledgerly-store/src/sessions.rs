//! Login sessions. Only a hash of each token is stored, so a copy of the database holds no
//! usable credential.

use chrono::{DateTime, Duration, Utc};
use ledgerly_core::{SessionId, User, UserId};
use uuid::Uuid;

use crate::rows::UserRow;
use crate::{Result, Store, micros, now, with_db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was last used, to within [`LAST_SEEN_PRECISION`].
    pub last_seen_at: DateTime<Utc>,
}

/// How stale a session's `last_seen_at` may get before a use writes it again: a signed-in
/// browser's every request would otherwise be a write.
pub const LAST_SEEN_PRECISION: Duration = Duration::minutes(1);

impl Store {
    /// Records a session for `user` whose token hashes to `token_hash`.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_session(
        &self,
        user: UserId,
        token_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<Session> {
        let created_at = now();
        let session = Session {
            id: SessionId::new(),
            user_id: user,
            created_at,
            expires_at: micros(expires_at),
            last_seen_at: created_at,
        };
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, \
                 last_seen_at) VALUES ($1, $2, $3, $4, $5, $4)",
            )
            .bind(session.id.as_uuid())
            .bind(user.as_uuid())
            .bind(token_hash)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(pool)
            .await
            .map_err(crate::error::missing("user"))?;
        });
        self.seen(user, created_at).await?;
        Ok(session)
    }

    /// The live session for `token_hash` and its user, used at `at`: `None` when the token is
    /// unknown, revoked, expired at `at`, or — with an `idle` limit — unused for longer than it,
    /// or when its account is disabled.
    /// A use is recorded (at most once per [`LAST_SEEN_PRECISION`]).
    #[tracing::instrument(skip_all, err)]
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
        idle: Option<Duration>,
    ) -> Result<Option<(Session, User)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            session_id: Uuid,
            session_created_at: DateTime<Utc>,
            expires_at: DateTime<Utc>,
            last_seen_at: DateTime<Utc>,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let at = micros(at);
        // Without a limit, any time since the epoch counts as recent enough.
        let seen_after = idle.map_or(DateTime::UNIX_EPOCH, |idle| at - idle);
        let row: Option<Row> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, \
                 s.last_seen_at, u.id, u.email, u.name, u.currency, u.time_zone, u.theme, u.role, u.created_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                 AND s.last_seen_at > $3 AND u.disabled_at IS NULL",
            )
            .bind(token_hash)
            .bind(at)
            .bind(seen_after)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let mut last_seen_at = row.last_seen_at;
        if at - last_seen_at >= LAST_SEEN_PRECISION {
            with_db!(self, |pool, d| {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
                    .bind(row.session_id)
                    .bind(at)
                    .execute(pool)
                    .await?;
            });
            self.seen(row.user.id.into(), at).await?;
            last_seen_at = at;
        }
        let user: User = row.user.try_into()?;
        Ok(Some((
            Session {
                id: row.session_id.into(),
                user_id: user.id,
                created_at: row.session_created_at,
                expires_at: row.expires_at,
                last_seen_at,
            },
            user,
        )))
    }

    /// Revokes the session with `token_hash` (logout). Revoking twice is not an error.
    #[tracing::instrument(skip_all, err)]
    pub async fn revoke_session(&self, token_hash: &[u8]) -> Result<bool> {
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    /// Revokes every session of `user` but `keep` (after a password change). Returns how many.
    #[tracing::instrument(skip_all, err)]
    pub async fn revoke_other_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<u64> {
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $3 \
                 WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2)",
            )
            .bind(user.as_uuid())
            .bind(keep.map(|k| k.as_uuid()))
            .bind(now())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Deletes sessions that expired before `at`, were revoked before it, or — with an `idle`
    /// limit — were last used longer than that before it. Returns how many.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_stale_sessions(
        &self,
        at: DateTime<Utc>,
        idle: Option<Duration>,
    ) -> Result<u64> {
        let at = micros(at);
        let seen_after = idle.map_or(DateTime::UNIX_EPOCH, |idle| at - idle);
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1 \
                 OR last_seen_at <= $2",
            )
            .bind(at)
            .bind(seen_after)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}
