//! Test databases: a fresh, migrated PostgreSQL database per test, or a fresh SQLite file.
//!
//! PostgreSQL comes from `LEDGERLY_TEST_DATABASE_URL`, which `scripts/test` sets after starting
//! a private server. Without it the PostgreSQL tests fail and say how to get one: a test that
//! silently skips its real database proves nothing.

use chrono::NaiveDate;
use ledgerly_core::{
    CategoryId, Currency, Email, Money, NewExpense, PersonName, User, UserTimeZone, Vendor,
};
use ledgerly_store::{NewUser, Store};
use sqlx::{Connection, Executor, PgConnection};

pub enum Backend {
    Postgres { admin_url: String, name: String },
    Sqlite { path: std::path::PathBuf },
}

pub struct TestDb {
    pub store: Store,
    backend: Backend,
}

pub fn admin_url() -> String {
    std::env::var("LEDGERLY_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "LEDGERLY_TEST_DATABASE_URL is not set. Run the suite with scripts/test, which starts \
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

impl TestDb {
    pub async fn postgres() -> TestDb {
        let admin_url = admin_url();
        let name = format!("ledgerly_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create a test database");
        admin.close().await.ok();
        let store = Store::connect(&database_url(&admin_url, &name))
            .await
            .expect("connect and migrate");
        TestDb {
            store,
            backend: Backend::Postgres { admin_url, name },
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join("ledgerly-store-tests");
        std::fs::create_dir_all(&dir).expect("create the SQLite test folder");
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        let store = Store::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("open and migrate");
        TestDb {
            store,
            backend: Backend::Sqlite { path },
        }
    }

    /// The URL the store was opened with.
    pub fn url(&self) -> String {
        match &self.backend {
            Backend::Postgres { admin_url, name } => database_url(admin_url, name),
            Backend::Sqlite { path } => format!("sqlite://{}", path.display()),
        }
    }

    /// Removes the database. Called when a test passes; a failed test leaves its database for
    /// inspection (scripts/test clears leftovers before each run).
    pub async fn cleanup(self) {
        self.store.close().await;
        match self.backend {
            Backend::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await
                        .ok();
                }
            }
            Backend::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
                }
            }
        }
    }
}

/// Defines `$name::postgres` and `$name::sqlite` from `async fn $name(store: &Store)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let db = $crate::harness::TestDb::postgres().await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = $crate::harness::TestDb::sqlite().await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub fn inr(minor: i64) -> Money {
    Money::from_minor(minor, Currency::INR)
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn vendor(s: &str) -> Vendor {
    Vendor::parse(s).unwrap()
}

pub async fn user(store: &Store, address: &str) -> User {
    user_in(store, address, UserTimeZone::KOLKATA).await
}

pub async fn user_in(store: &Store, address: &str, zone: UserTimeZone) -> User {
    store
        .create_user(NewUser {
            email: email(address),
            name: PersonName::parse("Test Person").unwrap(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            currency: Currency::INR,
            time_zone: zone,
        })
        .await
        .unwrap()
}

/// The id of the user's category called `name`.
pub async fn category(store: &Store, user: &User, name: &str) -> CategoryId {
    store
        .find_category(user.id, &ledgerly_core::CategoryName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no category {name}"))
        .id
}

pub fn expense(category: CategoryId, date: &str, vendor_name: &str, minor: i64) -> NewExpense {
    NewExpense::new(category, day(date), vendor(vendor_name), inr(minor)).unwrap()
}
