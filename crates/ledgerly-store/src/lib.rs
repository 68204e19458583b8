//! Ledgerly's persistence: one [`Store`] over PostgreSQL and SQLite.
//!
//! Both backends run the same queries wherever the SQL dialects agree (sqlx binds `$1`-style
//! parameters on SQLite too), and each function states its SQL once; the few statements that
//! differ — month truncation, case-insensitive matching, `FOR UPDATE SKIP LOCKED` — are chosen by
//! [`Dialect`]. Migrations for each backend are embedded and applied on connect.
//!
//! Every function that reads or writes a user's data takes the [`UserId`] and filters by it in
//! SQL, and composite foreign keys keep one user's expense from pointing at another user's
//! category or receipt.
//!
//! [`UserId`]: ledgerly_core::UserId

mod accounts;
mod attempts;
mod backup;
mod budgets;
mod categories;
mod duplicates;
mod error;
mod expenses;
mod export;
mod imports;
mod jobs;
pub mod objects;
mod rates;
mod receipts;
mod recurring;
mod restore;
mod roles;
mod rows;
mod sessions;
mod stats;
mod tags;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod users;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use accounts::{Account, AccountChanges, INVITES_LISTED, Invite, NewInvite, PasswordReset};
pub use attempts::Limit;
pub use error::{Result, StoreError};
pub use expenses::{ExpenseQuery, ExpenseSort, SortDirection, SortField};
pub use imports::{ImportCommitted, ImportOutcome, StoredImport};
pub use jobs::{
    ClaimedJob, JobCounts, JobState, OCR_TEXT_MAX_CHARS, OcrJob, OcrOutcome, OcrResult,
};
pub use receipts::NewReceipt;
pub use recurring::MAX_MADE_PER_PASS;
pub use restore::{RestoreOutcome, RestoredFile};
pub use sessions::{LAST_SEEN_PRECISION, Session};
pub use stats::{RollupMismatch, StatsView};
pub use tokens::NewApiToken;
pub use users::{Credentials, NewUser, ProfileChanges};

/// A page of results and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// Picks the statement written for this dialect.
    pub(crate) fn pick(self, postgres: &'static str, sqlite: &'static str) -> &'static str {
        match self {
            Dialect::Postgres => postgres,
            Dialect::Sqlite => sqlite,
        }
    }

    /// SQLite transactions that will write take the write lock up front, so two writers wait
    /// for each other (busy timeout) instead of failing when one upgrades from reading.
    pub(crate) fn begin(self) -> &'static str {
        self.pick("BEGIN", "BEGIN IMMEDIATE")
    }
}

#[derive(Clone)]
enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool and `$dialect` to its [`Dialect`]. The
/// body is written once and compiled for each backend.
macro_rules! with_db {
    ($store:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match &$store.db {
            $crate::Db::Postgres($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::Dialect::Postgres;
                $body
            }
            $crate::Db::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::Dialect::Sqlite;
                $body
            }
        }
    };
}
pub(crate) use with_db;

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long to wait for a free connection, or for SQLite's write lock.
    pub acquire_timeout: Duration,
    /// Apply the migrations not yet applied. Off for a connection as the application role,
    /// which may not change the schema: the schema is then only checked to be current.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            migrate: true,
        }
    }
}

/// The migrations of `migrator` that `applied` (the versions in `_sqlx_migrations`) lacks.
fn missing_migrations(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> Vec<i64> {
    migrator
        .iter()
        .map(|m| m.version)
        .filter(|version| !applied.contains(version))
        .collect()
}

/// The error for a schema behind this release.
fn schema_behind(missing: &[i64]) -> StoreError {
    StoreError::Config(format!(
        "the database schema is behind this release (migrations {missing:?} are not applied): \
         run `ledgerly-api migrate` with the database owner's credentials"
    ))
}

/// How every SQLite connection is opened.
pub(crate) fn sqlite_options(url: &str, options: &StoreOptions) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(options.acquire_timeout))
}

/// Ledgerly's data, on PostgreSQL or SQLite.
#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

// Migrations applied by a newer release are not an error: a rollback runs the older binary
// against the newer schema, which is why migrations only ever add (expand, then contract a
// release later).
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("../../migrations/postgres")
};
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("../../migrations/sqlite")
};

impl Store {
    /// Connects to `url` — `postgres://…`, `sqlite://path/to/file.db` or `sqlite::memory:` — and
    /// applies any migrations not yet applied.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            if options.migrate {
                POSTGRES_MIGRATIONS.run(&pool).await?;
            } else {
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                        .fetch_all(&pool)
                        .await?;
                let missing = missing_migrations(&POSTGRES_MIGRATIONS, &applied);
                if !missing.is_empty() {
                    return Err(schema_behind(&missing));
                }
            }
            Store {
                db: Db::Postgres(pool),
            }
        } else if url.starts_with("sqlite:") {
            let connect = sqlite_options(url, options)?;
            // An in-memory database exists once per connection: keep it to one.
            let max = if url.contains(":memory:") || url.contains("mode=memory") {
                1
            } else {
                options.max_connections
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            // A SQLite file has no roles: whoever opens it owns it, and migrates it.
            SQLITE_MIGRATIONS.run(&pool).await?;
            Store {
                db: Db::Sqlite(pool),
            }
        } else {
            return Err(StoreError::Config(format!(
                "database URL `{}` must start with postgres://, postgresql:// or sqlite:",
                redact_url(url)
            )));
        };
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        match self.db {
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Checks the database answers: for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        with_db!(self, |pool, d| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        with_db!(self, |pool, d| pool.close().await)
    }

    /// The PostgreSQL pool, for tools that need raw SQL (benchmarks, `EXPLAIN`).
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.db {
            Db::Postgres(pool) => Some(pool),
            Db::Sqlite(_) => None,
        }
    }
}

/// The URL without its password, for messages and logs: the one in its user information
/// (`postgres://app:***@db/ledgerly`) and one given as a query parameter (`?password=***`, as
/// libpq and sqlx accept it).
pub fn redact_url(url: &str) -> String {
    const SECRET_PARAMETERS: &[&str] = &["password", "pass", "passwd", "pwd", "sslpassword"];
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (url, None),
    };
    let mut out = match address.find("://") {
        Some(scheme) => {
            let rest = &address[scheme + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let user = rest[..at].split(':').next().unwrap_or("");
                    format!("{}{user}:***{}", &address[..scheme + 3], &rest[at..])
                }
                None => address.to_owned(),
            }
        }
        None => address.to_owned(),
    };
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _))
                    if SECRET_PARAMETERS.contains(&key.to_ascii_lowercase().as_str()) =>
                {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&parameters.join("&"));
    }
    out
}

/// Now, to the microsecond: both backends keep microseconds, so what is written reads back equal.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_hide_the_password() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/ledgerly"),
            "postgres://app:***@db:5432/ledgerly"
        );
        assert_eq!(redact_url("mysql://localhost/x"), "mysql://localhost/x");
        assert_eq!(
            redact_url("postgres://app@db/ledgerly?sslmode=require&password=s3cret"),
            "postgres://app:***@db/ledgerly?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db/ledgerly?user=app&PASSWORD=s3cret&application_name=a@b"),
            "postgres://db/ledgerly?user=app&PASSWORD=***&application_name=a@b"
        );
        assert_eq!(
            redact_url("sqlite:///data/ledgerly.db?mode=rwc"),
            "sqlite:///data/ledgerly.db?mode=rwc"
        );
    }
}
