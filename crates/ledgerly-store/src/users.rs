//! Accounts: created with the default categories, found by email for login, changed, deleted.

use chrono::{DateTime, Utc};
use ledgerly_core::category::default_category_names;
use ledgerly_core::{CategoryId, Currency, Email, PersonName, Role, User, UserId, UserTimeZone};
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{found, is_unique_violation};
use crate::rows::{UserRow, user_columns};
use crate::{Result, Store, StoreError, now, with_db};

/// A new account. The password arrives already hashed (argon2id, by the API).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: PersonName,
    pub password_hash: SecretString,
    pub currency: Currency,
    pub time_zone: UserTimeZone,
}

/// What login needs: the account and its password hash.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: SecretString,
    /// An administrator disabled the account: it may not sign in.
    pub disabled: bool,
}

/// Profile fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub name: Option<PersonName>,
    pub currency: Option<Currency>,
    pub time_zone: Option<UserTimeZone>,
    pub theme: Option<ledgerly_core::Theme>,
}

/// The advisory lock that registrations and changes to roles and access take on PostgreSQL (an
/// arbitrary constant), so the rules about administrators hold under concurrency.
pub(crate) const ACCOUNTS_LOCK: i64 = 0x6c65_6467_7265_6731;

fn email_taken(err: sqlx::Error) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::EmailTaken
    } else {
        err.into()
    }
}

impl Store {
    /// Creates an account and its default categories. An email already in use, in any case,
    /// is [`StoreError::EmailTaken`]. The instance's first account is its administrator.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        self.insert_user(new, None).await
    }

    /// Creates an account as [`Store::create_user`] does, using up the invite whose secret hashes
    /// to `invite_hash` in the same transaction: an unknown, used or expired invite is
    /// [`StoreError::InviteInvalid`] whatever the email, and a refused account leaves the invite
    /// unused.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_invited_user(&self, new: NewUser, invite_hash: &[u8]) -> Result<User> {
        self.insert_user(new, Some(invite_hash)).await
    }

    async fn insert_user(&self, new: NewUser, invite_hash: Option<&[u8]>) -> Result<User> {
        let id = UserId::new();
        let at = now();
        let role = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            // Registrations one at a time (SQLite's write lock does this by itself), so two
            // accounts made at once on an empty instance do not both become its administrator.
            if d == crate::Dialect::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(ACCOUNTS_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            // The invite first: whether it holds must not depend on the email.
            if let Some(hash) = invite_hash {
                let claimed = sqlx::query(
                    "UPDATE invites SET used_at = $2 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(hash)
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed == 0 {
                    return Err(StoreError::InviteInvalid);
                }
            }
            let first: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM users)")
                .fetch_one(&mut *tx)
                .await?;
            let role = if first { Role::Admin } else { Role::Member };
            sqlx::query(
                "INSERT INTO users (id, email, name, password_hash, currency, time_zone, role, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(id.as_uuid())
            .bind(new.email.as_str())
            .bind(new.name.as_str())
            .bind(new.password_hash.expose_secret())
            .bind(new.currency.code())
            .bind(new.time_zone.name())
            .bind(role.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(email_taken)?;
            if let Some(hash) = invite_hash {
                sqlx::query("UPDATE invites SET used_by = $2 WHERE token_hash = $1")
                    .bind(hash)
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
            }
            for name in default_category_names() {
                sqlx::query(
                    "INSERT INTO categories (id, user_id, name, name_key, is_default, created_at) \
                     VALUES ($1, $2, $3, $4, true, $5)",
                )
                .bind(CategoryId::new().as_uuid())
                .bind(id.as_uuid())
                .bind(name.as_str())
                .bind(name.key())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            role
        });
        Ok(User {
            id,
            email: new.email,
            name: new.name,
            currency: new.currency,
            time_zone: new.time_zone,
            theme: ledgerly_core::Theme::System,
            role,
            created_at: at,
        })
    }

    /// Records that `user` was seen at `at` (a sign-in, or a session or token in use).
    pub(crate) async fn seen(&self, user: UserId, at: DateTime<Utc>) -> Result<()> {
        with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE users SET last_seen_at = $2 \
                 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)",
            )
            .bind(user.as_uuid())
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        let row: Option<UserRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = $1"
            ))
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound("user"))?.try_into()
    }

    /// Every account, oldest first: for the operator's backup of a whole instance.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The account and password hash for `email`, for login; `None` when there is no such account.
    #[tracing::instrument(skip_all, err)]
    pub async fn credentials(&self, email: &Email) -> Result<Option<Credentials>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: UserRow,
            password_hash: String,
            disabled: bool,
        }
        let row: Option<Row> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                user_columns!(),
                ", password_hash, disabled_at IS NOT NULL AS disabled FROM users \
                 WHERE lower(email) = lower($1)"
            ))
            .bind(email.as_str())
            .fetch_optional(pool)
            .await?
        });
        row.map(|row| {
            Ok(Credentials {
                user: row.user.try_into()?,
                password_hash: row.password_hash.into(),
                disabled: row.disabled,
            })
        })
        .transpose()
    }

    /// The password hash of `id`, to check the current password before a change.
    #[tracing::instrument(skip_all, err)]
    pub async fn password_hash(&self, id: UserId) -> Result<String> {
        let hash: Option<String> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        hash.ok_or(StoreError::NotFound("user"))
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn update_profile(&self, id: UserId, changes: ProfileChanges) -> Result<User> {
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE users SET name = COALESCE($2, name), currency = COALESCE($3, currency), \
                 time_zone = COALESCE($4, time_zone), theme = COALESCE($6, theme), updated_at = $5 \
                 WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(changes.name.as_ref().map(|n| n.as_str()))
            .bind(changes.currency.map(|c| c.code()))
            .bind(changes.time_zone.map(|z| z.name()))
            .bind(now())
            .bind(changes.theme.map(ledgerly_core::Theme::as_str))
            .execute(pool)
            .await?
            .rows_affected()
        });
        found(done, "user")?;
        self.get_user(id).await
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<()> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(password_hash)
                .bind(now())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done, "user")?;
        Ok(())
    }

    /// Changes the account's email; [`StoreError::EmailTaken`] when another account has it.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_email(&self, id: UserId, email: &Email) -> Result<User> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("UPDATE users SET email = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(email.as_str())
                .bind(now())
                .execute(pool)
                .await
                .map_err(email_taken)?
                .rows_affected()
        });
        found(done, "user")?;
        self.get_user(id).await
    }

    /// Deletes the account and every row that belongs to it. Returns the object-storage keys of
    /// its receipts, which the caller deletes from storage. The instance's last administrator
    /// who can sign in is not deleted while other accounts remain ([`StoreError::LastAdmin`]).
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_user(&self, id: UserId) -> Result<Vec<String>> {
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            if d == crate::Dialect::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(ACCOUNTS_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            let standing: crate::accounts::AdminStanding =
                sqlx::query_as(crate::accounts::ADMIN_STANDING)
                    .bind(id.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
            if standing.is_sole_admin() && standing.others > 0 {
                return Err(StoreError::LastAdmin);
            }
            let keys: Vec<String> = sqlx::query_scalar(
                "SELECT object_key FROM receipts WHERE user_id = $1 ORDER BY object_key",
            )
            .bind(id.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            // Expenses first: they refer to the user's categories and receipts.
            for statement in [
                "DELETE FROM ocr_jobs WHERE user_id = $1",
                "DELETE FROM expenses WHERE user_id = $1",
                "DELETE FROM receipts WHERE user_id = $1",
                "DELETE FROM categories WHERE user_id = $1",
                "DELETE FROM budgets WHERE user_id = $1",
                "DELETE FROM sessions WHERE user_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
            }
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            found(done, "user")?;
            tx.commit().await?;
            Ok(keys)
        })
    }
}
