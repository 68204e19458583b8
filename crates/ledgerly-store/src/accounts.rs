//! The administrator's view of an instance: every account with when it was last seen and what it
//! stores, roles and access changed, and the invites new accounts register with.
//!
//! An instance always keeps an administrator who can sign in: the changes and deletions that
//! would remove the last one are [`StoreError::LastAdmin`]. On PostgreSQL they take the same
//! advisory lock as registrations, so two at once cannot both pass that check.

use chrono::{DateTime, Duration, Utc};
use ledgerly_core::{InviteId, Role, User, UserId};
use uuid::Uuid;

use crate::rows::{UserRow, user_columns};
use crate::users::ACCOUNTS_LOCK;
use crate::{Result, Store, StoreError, now, with_db};

/// An account as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub user: User,
    /// When an administrator disabled it; a disabled account cannot sign in, and its sessions
    /// and tokens are refused.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Its last sign-in, or the last use of one of its sessions or tokens (to the minute).
    pub last_seen_at: Option<DateTime<Utc>>,
    pub expenses: i64,
    pub receipts: i64,
    /// The bytes of its receipt files.
    pub storage_bytes: i64,
}

/// What to change of an account; `None` leaves it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountChanges {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// An invite to register: single use, expiring. Only the hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: InviteId,
    /// Whom it is for, as its maker wrote (may be empty).
    pub note: String,
    /// The administrator who made it; `None` for the operator's command line, or once the
    /// maker's account is deleted.
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The email of the account it made, while that account exists.
    pub used_by: Option<String>,
}

impl Invite {
    /// Whether it can still be registered with at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > at
    }
}

/// An invite to record.
#[derive(Debug, Clone)]
pub struct NewInvite<'a> {
    pub note: String,
    pub created_by: Option<UserId>,
    pub lasts: Duration,
    pub token_hash: &'a [u8],
}

/// Whether an account is the instance's only administrator who can sign in, and how many other
/// accounts there are: read as [`ADMIN_STANDING`] with the account's id as `$1`.
#[derive(sqlx::FromRow)]
pub(crate) struct AdminStanding {
    pub(crate) role: Option<String>,
    pub(crate) disabled: Option<bool>,
    pub(crate) others: i64,
    pub(crate) other_admins: i64,
}

pub(crate) const ADMIN_STANDING: &str = "SELECT \
     (SELECT role FROM users WHERE id = $1) AS role, \
     (SELECT disabled_at IS NOT NULL FROM users WHERE id = $1) AS disabled, \
     (SELECT COUNT(*) FROM users WHERE id <> $1) AS others, \
     (SELECT COUNT(*) FROM users WHERE id <> $1 AND role = 'admin' AND disabled_at IS NULL) \
     AS other_admins";

impl AdminStanding {
    /// It is an administrator who can sign in, and no other account is.
    pub(crate) fn is_sole_admin(&self) -> bool {
        self.role.as_deref() == Some(Role::Admin.as_str())
            && self.disabled == Some(false)
            && self.other_admins == 0
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    #[sqlx(flatten)]
    user: UserRow,
    disabled_at: Option<DateTime<Utc>>,
    last_seen_at: Option<DateTime<Utc>>,
    expenses: i64,
    receipts: i64,
    storage_bytes: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self> {
        Ok(Account {
            user: row.user.try_into()?,
            disabled_at: row.disabled_at,
            last_seen_at: row.last_seen_at,
            expenses: row.expenses,
            receipts: row.receipts,
            storage_bytes: row.storage_bytes,
        })
    }
}

macro_rules! account_query {
    ($filter:literal) => {
        concat!(
            "SELECT ",
            user_columns!(),
            ", disabled_at, last_seen_at, \
             (SELECT COUNT(*) FROM expenses e WHERE e.user_id = users.id) AS expenses, \
             (SELECT COUNT(*) FROM receipts r WHERE r.user_id = users.id) AS receipts, \
             CAST((SELECT COALESCE(SUM(r.size_bytes), 0) FROM receipts r \
             WHERE r.user_id = users.id) AS BIGINT) AS storage_bytes \
             FROM users ",
            $filter
        )
    };
}

#[derive(sqlx::FromRow)]
struct InviteRow {
    id: Uuid,
    note: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    used_by: Option<String>,
}

impl From<InviteRow> for Invite {
    fn from(row: InviteRow) -> Self {
        Invite {
            id: row.id.into(),
            note: row.note,
            created_by: row.created_by.map(Into::into),
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            used_by: row.used_by,
        }
    }
}

macro_rules! invite_query {
    ($filter:literal) => {
        concat!(
            "SELECT i.id, i.note, i.created_by, i.created_at, i.expires_at, i.used_at, \
             u.email AS used_by FROM invites i LEFT JOIN users u ON u.id = i.used_by ",
            $filter
        )
    };
}

/// A password reset link made, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// How many invites the list shows: the newest.
pub const INVITES_LISTED: i64 = 200;

impl Store {
    /// Every account, oldest first, with what the administrator's page shows of it.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = with_db!(self, |pool, d| {
            sqlx::query_as(account_query!("ORDER BY created_at, id"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Account::try_from).collect()
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_account(&self, id: UserId) -> Result<Account> {
        let row: Option<AccountRow> = with_db!(self, |pool, d| {
            sqlx::query_as(account_query!("WHERE id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound("account"))?.try_into()
    }

    /// Changes an account's role or access. Disabling it also ends its sessions (its tokens are
    /// refused while it stays disabled). A change that would leave no administrator who can sign
    /// in is [`StoreError::LastAdmin`].
    #[tracing::instrument(skip_all, err)]
    pub async fn update_account(&self, id: UserId, changes: AccountChanges) -> Result<Account> {
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            if d == crate::Dialect::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(ACCOUNTS_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            let standing: AdminStanding = sqlx::query_as(ADMIN_STANDING)
                .bind(id.as_uuid())
                .fetch_one(&mut *tx)
                .await?;
            if standing.role.is_none() {
                return Err(StoreError::NotFound("account"));
            }
            let loses_admin = changes.role == Some(Role::Member) || changes.disabled == Some(true);
            if loses_admin && standing.is_sole_admin() {
                return Err(StoreError::LastAdmin);
            }
            if let Some(role) = changes.role {
                sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(role.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            match changes.disabled {
                Some(true) => {
                    sqlx::query(
                        "UPDATE users SET disabled_at = $2, updated_at = $2 \
                         WHERE id = $1 AND disabled_at IS NULL",
                    )
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                }
                Some(false) => {
                    sqlx::query(
                        "UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE id = $1",
                    )
                    .bind(id.as_uuid())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {}
            }
            tx.commit().await?;
        });
        self.get_account(id).await
    }

    /// Records an invite.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_invite(&self, new: NewInvite<'_>) -> Result<Invite> {
        let created_at = now();
        let invite = Invite {
            id: InviteId::new(),
            note: new.note,
            created_by: new.created_by,
            created_at,
            expires_at: created_at + new.lasts,
            used_at: None,
            used_by: None,
        };
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO invites (id, token_hash, note, created_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(invite.id.as_uuid())
            .bind(new.token_hash)
            .bind(&invite.note)
            .bind(invite.created_by.map(|id| id.as_uuid()))
            .bind(invite.created_at)
            .bind(invite.expires_at)
            .execute(pool)
            .await
            .map_err(crate::error::missing("user"))?;
        });
        Ok(invite)
    }

    /// The newest [`INVITES_LISTED`] invites, used and expired ones included.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_invites(&self) -> Result<Vec<Invite>> {
        let rows: Vec<InviteRow> = with_db!(self, |pool, d| {
            sqlx::query_as(invite_query!("ORDER BY i.created_at DESC, i.id LIMIT $1"))
                .bind(INVITES_LISTED)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Invite::from).collect())
    }

    /// The invite whose secret hashes to `token_hash`, used or not.
    #[tracing::instrument(skip_all, err)]
    pub async fn invite_by_hash(&self, token_hash: &[u8]) -> Result<Option<Invite>> {
        let row: Option<InviteRow> = with_db!(self, |pool, d| {
            sqlx::query_as(invite_query!("WHERE i.token_hash = $1"))
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(Invite::from))
    }

    /// Withdraws an invite not yet used: `NotFound` when there is no such invite or it was used.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_invite(&self, id: InviteId) -> Result<()> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM invites WHERE id = $1 AND used_at IS NULL")
                .bind(id.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound("unused invite"));
        }
        Ok(())
    }
}

impl Store {
    /// Records a password reset link for `user` (made by the administrator `created_by`, or
    /// asked for by email when `None`). With `at_most`, `Some((since, n))`, none is made when `n`
    /// were made for the account since `since` (`Ok(None)`), in the same statement.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_password_reset(
        &self,
        user: UserId,
        token_hash: &[u8],
        lasts: Duration,
        created_by: Option<UserId>,
        at_most: Option<(DateTime<Utc>, i64)>,
    ) -> Result<Option<PasswordReset>> {
        let created_at = now();
        let reset = PasswordReset {
            user_id: user,
            created_at,
            expires_at: created_at + lasts,
        };
        let (since, most) = at_most.unwrap_or((DateTime::UNIX_EPOCH, i64::MAX));
        let made = with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO password_resets (id, user_id, token_hash, created_by, created_at, \
                 expires_at) SELECT $1, $2, $3, $4, $5, $6 \
                 WHERE (SELECT COUNT(*) FROM password_resets \
                 WHERE user_id = $2 AND created_at > $7) < $8",
            )
            .bind(Uuid::new_v4())
            .bind(user.as_uuid())
            .bind(token_hash)
            .bind(created_by.map(|id| id.as_uuid()))
            .bind(reset.created_at)
            .bind(reset.expires_at)
            .bind(since)
            .bind(most)
            .execute(pool)
            .await
            .map_err(crate::error::missing("account"))?
            .rows_affected()
        });
        Ok((made > 0).then_some(reset))
    }

    /// Uses the reset link whose secret hashes to `token_hash` at `at`: the account's password
    /// becomes `password_hash`, every session of the account ends and every other link made for
    /// it stops working, in one transaction. An unknown, used or expired link is
    /// [`StoreError::ResetInvalid`]. Returns the account.
    #[tracing::instrument(skip_all, err)]
    pub async fn complete_password_reset(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<UserId> {
        let at = crate::micros(at);
        let user: Uuid = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let user: Option<Uuid> = sqlx::query_scalar(
                "UPDATE password_resets SET used_at = $2 \
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
            )
            .bind(token_hash)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(user) = user else {
                return Err(StoreError::ResetInvalid);
            };
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(user)
                .bind(password_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            user
        });
        Ok(user.into())
    }
}
