//! Personal API tokens (`ledgerly_core::token`): made, listed and revoked by their owner, and
//! looked up by the hash of their secret on every request that sends one. Only the hash is kept,
//! so a copy of the database holds no usable token.

use chrono::{DateTime, Duration, Utc};
use ledgerly_core::token::{ApiToken, LAST_USED_PRECISION, MAX_PER_USER, TokenScope};
use ledgerly_core::{ApiTokenId, TokenName, User, UserId};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::rows::UserRow;
use crate::{Result, Store, StoreError, micros, now, with_db};

/// A token to record: its owner's choices and the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub name: TokenName,
    pub scope: TokenScope,
    /// How long it lasts from its making.
    pub lasts: Duration,
    pub token_hash: &'a [u8],
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token_id: Uuid,
    token_user_id: Uuid,
    token_name: String,
    scope: String,
    token_created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

/// The columns of [`TokenRow`], from `api_tokens` as `t`.
macro_rules! token_columns {
    () => {
        "t.id AS token_id, t.user_id AS token_user_id, t.name AS token_name, t.scope, \
         t.created_at AS token_created_at, t.expires_at, t.last_used_at"
    };
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self> {
        Ok(ApiToken {
            id: row.token_id.into(),
            user_id: row.token_user_id.into(),
            name: TokenName::parse(&row.token_name).map_err(StoreError::corrupt)?,
            scope: row.scope.parse().map_err(StoreError::corrupt)?,
            created_at: row.token_created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        })
    }
}

impl Store {
    /// Records a token for `user`. Refused when the user has a token of the same name (in any
    /// case) or holds [`MAX_PER_USER`] already.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_api_token(&self, user: UserId, new: NewApiToken<'_>) -> Result<ApiToken> {
        let created_at = now();
        let token = ApiToken {
            id: ApiTokenId::new(),
            user_id: user,
            name: new.name,
            scope: new.scope,
            created_at,
            expires_at: created_at + new.lasts,
            last_used_at: None,
        };
        let max = i64::try_from(MAX_PER_USER).unwrap_or(i64::MAX);
        let inserted = with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, name_key, scope, token_hash, \
                 created_at, expires_at) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
                 WHERE (SELECT COUNT(*) FROM api_tokens WHERE user_id = $2) < $9",
            )
            .bind(token.id.as_uuid())
            .bind(user.as_uuid())
            .bind(token.name.as_str())
            .bind(token.name.as_str().to_lowercase())
            .bind(token.scope.as_str())
            .bind(new.token_hash)
            .bind(token.created_at)
            .bind(token.expires_at)
            .bind(max)
            .execute(pool)
            .await
            .map_err(|err| {
                if is_unique_violation(&err) {
                    StoreError::TokenNameTaken(token.name.to_string())
                } else {
                    crate::error::missing("user")(err)
                }
            })?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::TooManyTokens(MAX_PER_USER));
        }
        Ok(token)
    }

    /// The user's tokens, newest first, expired ones included.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id"
            ))
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    /// Deletes the user's token `id`: `NotFound` when the user has no such token.
    #[tracing::instrument(skip_all, err)]
    pub async fn revoke_api_token(&self, user: UserId, id: ApiTokenId) -> Result<()> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(id.as_uuid())
                .bind(user.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound("API token"));
        }
        Ok(())
    }

    /// The live token whose secret hashes to `token_hash`, with its user, used at `at`: `None`
    /// when it is unknown, revoked or expired at `at`, or when its account is disabled. The use is recorded (at most once per
    /// [`LAST_USED_PRECISION`]).
    #[tracing::instrument(skip_all, err)]
    pub async fn api_token_user(
        &self,
        token_hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<Option<(ApiToken, User)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            token: TokenRow,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let at = micros(at);
        let row: Option<Row> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                token_columns!(),
                ", u.id, u.email, u.name, u.currency, u.time_zone, u.theme, u.role, u.created_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL"
            ))
            .bind(token_hash)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let mut token = ApiToken::try_from(row.token)?;
        if token
            .last_used_at
            .is_none_or(|last| at - last >= LAST_USED_PRECISION)
        {
            with_db!(self, |pool, d| {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(token.id.as_uuid())
                    .bind(at)
                    .execute(pool)
                    .await?;
            });
            token.last_used_at = Some(at);
            self.seen(token.user_id, at).await?;
        }
        Ok(Some((token, row.user.try_into()?)))
    }
}
