//! Login sessions. Only a hash of each token is stored, so a copy of the database holds no
//! usable credential.

use chrono::{DateTime, Utc};
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
}

impl Store {
    /// Records a session for `user` whose token hashes to `token_hash`.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_session(
        &self,
        user: UserId,
        token_hash: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<Session> {
        let session = Session {
            id: SessionId::new(),
            user_id: user,
            created_at: now(),
            expires_at: micros(expires_at),
        };
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
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
        Ok(session)
    }

    /// The live session for `token_hash` and its user: `None` when the token is unknown,
    /// revoked or expired at `at`.
    #[tracing::instrument(skip_all, err)]
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            session_id: Uuid,
            session_created_at: DateTime<Utc>,
            expires_at: DateTime<Utc>,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let row: Option<Row> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT s.id AS session_id, s.created_at AS session_created_at, s.expires_at, \
                 u.id, u.email, u.name, u.currency, u.time_zone, u.created_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(micros(at))
            .fetch_optional(pool)
            .await?
        });
        row.map(|row| {
            let user: User = row.user.try_into()?;
            Ok((
                Session {
                    id: row.session_id.into(),
                    user_id: user.id,
                    created_at: row.session_created_at,
                    expires_at: row.expires_at,
                },
                user,
            ))
        })
        .transpose()
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

    /// Deletes sessions that expired before `at`, or were revoked before it. Returns how many.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_stale_sessions(&self, at: DateTime<Utc>) -> Result<u64> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at <= $1")
                .bind(micros(at))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done)
    }
}
