//! Fresh databases for tests, shared by this crate's suite and the API's: a new PostgreSQL
//! database on the server `LEDGERLY_TEST_DATABASE_URL` names (which `scripts/test` starts), or a
//! new SQLite file. A test that cannot get its PostgreSQL database fails and says how to get one —
//! silently skipping the real database would prove nothing.

use std::path::PathBuf;

use sqlx::{Connection, Executor, PgConnection};

use crate::Store;

/// The environment variable naming the test PostgreSQL server (an admin URL).
pub const TEST_DATABASE_URL: &str = "LEDGERLY_TEST_DATABASE_URL";

/// Defines `$name::postgres` and `$name::sqlite`, each running `async fn $name(backend: Backend)`
/// on its backend: how every suite that takes a [`Backend`] runs on both. With `store:` first,
/// each runs `async fn $name(store: &Store)` on a fresh database of its backend, removed after.
#[macro_export]
macro_rules! on_both_backends {
    (store: $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::testing::TestDatabase::postgres().await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::testing::TestDatabase::sqlite().await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::testing::Backend::Postgres).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::testing::Backend::Sqlite).await;
                }
            }
        )*
    };
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub store: Store,
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Postgres { admin_url: String, name: String },
    Sqlite { path: PathBuf },
}

/// The admin URL of the test PostgreSQL server; panics with instructions when it is not set.
pub fn admin_url() -> String {
    std::env::var(TEST_DATABASE_URL).unwrap_or_else(|_| {
        panic!(
            "{TEST_DATABASE_URL} is not set. Run the suite with scripts/test, which starts \
             PostgreSQL, or point the variable at a server where this user may create databases \
             (e.g. postgres://ledgerly@127.0.0.1:54329/postgres)."
        )
    })
}

/// `admin_url` with its database replaced by `name`.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    format!("{root}/{name}{query}")
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite().await,
        }
    }

    /// A new, migrated PostgreSQL database.
    pub async fn postgres() -> TestDatabase {
        let admin_url = admin_url();
        let name = format!("ledgerly_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let store = Store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database: {e:?}"));
        TestDatabase {
            store,
            url,
            kind: Kind::Postgres { admin_url, name },
        }
    }

    /// A new, migrated SQLite file in the system's temporary folder.
    pub async fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join("ledgerly-tests");
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database: {e:?}"));
        TestDatabase {
            store,
            url,
            kind: Kind::Sqlite { path },
        }
    }

    /// The URL the database can be opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Removes the database. Call it when a test passes; a failed test's database is left for
    /// inspection (scripts/test drops leftovers before each run).
    pub async fn cleanup(self) {
        self.store.close().await;
        match self.kind {
            Kind::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await
                        .ok();
                }
            }
            Kind::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
                }
            }
        }
    }
}

/// Runs one SQL statement, written for PostgreSQL and for SQLite, with `$1` bound to `user`, on
/// the store's own pool; returns the rows it affected. For tests that write as a writer other
/// than the store would — a bulk load in plain SQL — and check the store copes.
pub async fn execute_as_sql(
    store: &Store,
    [postgres, sqlite]: [&'static str; 2],
    user: ledgerly_core::UserId,
) -> u64 {
    crate::with_db!(store, |pool, d| {
        sqlx::query(d.pick(postgres, sqlite))
            .bind(user.as_uuid())
            .execute(pool)
            .await
            .expect("the test's SQL runs")
            .rows_affected()
    })
}

/// Runs a script of SQL statements, written for PostgreSQL and for SQLite, on the store's own
/// pool. For tests that set a database up as no store call would — as an older release left it.
pub async fn execute_script(store: &Store, [postgres, sqlite]: [&'static str; 2]) {
    crate::with_db!(store, |pool, d| {
        sqlx::raw_sql(d.pick(postgres, sqlite))
            .execute(pool)
            .await
            .expect("the test's SQL script runs");
    })
}

/// The OCR text `user`'s receipt keeps for search (`receipts.ocr_text`), as stored; `None` when
/// it is NULL. Panics when there is no such receipt.
pub async fn receipt_ocr_text(
    store: &Store,
    user: ledgerly_core::UserId,
    receipt: ledgerly_core::ReceiptId,
) -> Option<String> {
    crate::with_db!(store, |pool, d| {
        sqlx::query_scalar("SELECT ocr_text FROM receipts WHERE user_id = $1 AND id = $2")
            .bind(user.as_uuid())
            .bind(receipt.as_uuid())
            .fetch_one(pool)
            .await
            .expect("the receipt's OCR text is read")
    })
}

/// Loads `count` expenses for `user` in one SQL statement, as a bulk import would: all in the
/// user's first category by name, in INR, spread over 2025's days and 97 vendors (`Vendor 0` to
/// `Vendor 96`), every fifth awaiting review. Returns how many were written.
pub async fn load_expenses(store: &Store, user: ledgerly_core::UserId, count: i32) -> u64 {
    let sql = [
        "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, amount_minor, \
         currency, needs_review, created_at, updated_at) \
         SELECT gen_random_uuid(), $1, (SELECT id FROM categories WHERE user_id = $1 \
         ORDER BY name LIMIT 1), DATE '2025-01-01' + (g % 365), 'Vendor ' || (g % 97), \
         100 + (g::bigint * 7919) % 200000, 'INR', g % 5 = 0, now(), now() \
         FROM generate_series(1, $2) AS g",
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $2) \
         INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, amount_minor, \
         currency, needs_review, created_at, updated_at) \
         SELECT randomblob(16), $1, (SELECT id FROM categories WHERE user_id = $1 \
         ORDER BY name LIMIT 1), date('2025-01-01', '+' || (n % 365) || ' days'), \
         'Vendor ' || (n % 97), 100 + (n * 7919) % 200000, 'INR', n % 5 = 0, \
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM g",
    ];
    crate::with_db!(store, |pool, d| {
        sqlx::query(d.pick(sql[0], sql[1]))
            .bind(user.as_uuid())
            .bind(count)
            .execute(pool)
            .await
            .expect("the expenses load")
            .rows_affected()
    })
}

/// `store`'s database as its schema now is, for a test that took the schema back to an earlier
/// release's and writes as that release would. On SQLite that is a new pool that does not
/// migrate: connections opened before a schema change can fail their first write that fires
/// the FTS5 search triggers with "no such table" (seen with the bundled SQLite) — a release's
/// process never sees that, as it opens its connections after migrating. PostgreSQL: the same
/// store.
pub async fn as_the_schema_is(store: &Store, url: &str) -> Store {
    match &store.db {
        crate::Db::Postgres(_) => store.clone(),
        crate::Db::Sqlite(_) => {
            let connect =
                crate::sqlite_options(url, &crate::StoreOptions::default()).expect("a SQLite URL");
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .connect_with(connect)
                .await
                .expect("open the SQLite file");
            Store {
                db: crate::Db::Sqlite(pool),
            }
        }
    }
}
