//! Store benchmark on PostgreSQL: one user with 1,000,000 expenses over ten years (2016–2025),
//! a second user with 100,000, then the latency of the calls the dashboard makes — the year's
//! monthly totals, a month's breakdown, the month summary and 50-row pages of the list at
//! several depths — and of the CSV export's stream (a year, and everything) with the memory it
//! takes, through the Store API, with `EXPLAIN` for each query.
//!
//! Run with `scripts/bench-store` (it starts PostgreSQL). Needs `LEDGERLY_TEST_DATABASE_URL`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ledgerly_core::{Currency, Email, Month, PersonName, UserId, UserTimeZone};
use ledgerly_store::testing::database_url;
use ledgerly_store::{ExpenseQuery, NewUser, Store};
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};

const EXPENSES: i64 = 1_000_000;
const OTHER_USER_EXPENSES: i64 = 100_000;
const ITERATIONS: usize = 40;
/// An export of every row takes seconds: fewer runs of it.
const EXPORT_WARMUPS: usize = 1;
const EXPORT_ITERATIONS: usize = 10;

async fn new_user(store: &Store, email: &str) -> UserId {
    store
        .create_user(NewUser {
            email: Email::parse(email).unwrap(),
            name: PersonName::parse("Bench").unwrap(),
            password_hash: "x".into(),
            currency: Currency::INR,
            time_zone: UserTimeZone::KOLKATA,
        })
        .await
        .unwrap()
        .id
}

/// Bulk-loads `n` expenses for `user` across its categories, 2016-01-01 to 2025-12-31, in SQL.
async fn load(pool: &PgPool, user: UserId, n: i64) {
    sqlx::query(
        "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, amount_minor, currency, \
         needs_review, created_at, updated_at) \
         SELECT gen_random_uuid(), $1, cats.ids[1 + (g % array_length(cats.ids, 1))], \
         DATE '2016-01-01' + ((g * 7919) % 3653)::int, \
         'Vendor ' || (g % 997), 100 + (g * 104729) % 500000, 'INR', (g % 50 = 0), now(), now() \
         FROM generate_series(1, $2) AS g, \
         (SELECT array_agg(id ORDER BY id) AS ids FROM categories WHERE user_id = $1) AS cats",
    )
    .bind(user.as_uuid())
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
}

struct Stats {
    min: Duration,
    p50: Duration,
    p95: Duration,
    max: Duration,
}

async fn measure<F, Fut>(f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    measure_runs(3, ITERATIONS, f).await
}

async fn measure_runs<F, Fut>(warmups: usize, runs: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..warmups {
        f().await;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    Stats {
        min: times[0],
        p50: times[times.len() / 2],
        p95: times[times.len() * 95 / 100],
        max: times[times.len() - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Reads the export of `query` to its end, each row decoded and dropped; returns how many.
async fn drain(store: &Store, user: UserId, query: &ExpenseQuery) -> u64 {
    let mut rows = store.export_expenses(user, query);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        row.unwrap();
        n += 1;
    }
    n
}

/// A `kB` field of `/proc/self/status`: `VmRSS` (resident now) or `VmHWM` (the peak).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Sets the peak resident set (`VmHWM`) back to the current one (Linux 4.0+); false where it
/// cannot, and the peak is then the process's since it started.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The plan PostgreSQL chooses, with the index it uses and the time it reports.
async fn explain(pool: &PgPool, title: &str, sql: &str, user: UserId) {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"
    )))
    .bind(user.as_uuid())
    .fetch_all(pool)
    .await
    .unwrap();
    println!("\n#### {title}\n```");
    for row in rows {
        let line: String = row.get(0);
        println!("{line}");
    }
    println!("```");
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::var("LEDGERLY_TEST_DATABASE_URL")
        .expect("LEDGERLY_TEST_DATABASE_URL: run scripts/bench-store, which starts PostgreSQL");
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute("DROP DATABASE IF EXISTS ledgerly_bench WITH (FORCE)")
        .await
        .unwrap();
    admin
        .execute("CREATE DATABASE ledgerly_bench")
        .await
        .unwrap();
    admin.close().await.unwrap();

    let store = Store::connect(&database_url(&admin_url, "ledgerly_bench"))
        .await
        .unwrap();
    let pool = store.postgres_pool().unwrap().clone();
    let user = new_user(&store, "heavy@example.com").await;
    let other = new_user(&store, "other@example.com").await;

    let start = Instant::now();
    load(&pool, user, EXPENSES).await;
    load(&pool, other, OTHER_USER_EXPENSES).await;
    let loaded = start.elapsed();
    // Index-only scans need the visibility map; a vacuum racing autovacuum's analyze can leave
    // it unset, so vacuum until every page is marked all-visible.
    for _ in 0..10 {
        sqlx::query("VACUUM (FREEZE, ANALYZE) expenses")
            .execute(&pool)
            .await
            .unwrap();
        let (pages, visible): (i32, i32) = sqlx::query_as(
            "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'expenses'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if visible >= pages {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await
        .unwrap();

    println!("## Store on PostgreSQL {version}: one user with {EXPENSES} expenses");
    println!();
    println!(
        "Loaded {EXPENSES} + {OTHER_USER_EXPENSES} expenses in {:.1} s. Each call: 3 warm-up runs, then {ITERATIONS} timed runs through the Store API (connection pool, row decoding included).",
        loaded.as_secs_f64()
    );
    println!();
    println!("| call | rows | min ms | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|---|---|");

    let year = 2025;
    let totals = store
        .monthly_totals(user, year, Currency::INR)
        .await
        .unwrap();
    let s = measure(|| async {
        store
            .monthly_totals(user, year, Currency::INR)
            .await
            .unwrap();
    })
    .await;
    println!(
        "| `monthly_totals` (year {year}, ~{} expenses) | {} | {} | {} | {} | {} |",
        EXPENSES / 10,
        totals.len(),
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    let month: Month = "2025-06".parse().unwrap();
    let breakdown = store
        .category_breakdown(user, month, Currency::INR)
        .await
        .unwrap();
    let s = measure(|| async {
        store
            .category_breakdown(user, month, Currency::INR)
            .await
            .unwrap();
    })
    .await;
    println!(
        "| `category_breakdown` ({month}) | {} | {} | {} | {} | {} |",
        breakdown.len(),
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    let s = measure(|| async {
        store
            .month_summary(user, month, Currency::INR)
            .await
            .unwrap();
    })
    .await;
    println!(
        "| `month_summary` ({month}: user, budget, breakdown, previous month) | 1 | {} | {} | {} | {} |",
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    let s = measure(|| async {
        store
            .stats_view(user, month, year, Currency::INR)
            .await
            .unwrap();
    })
    .await;
    println!(
        "| `stats_view` (the dashboard's: {month}'s summary and breakdown, {year}'s monthly totals) | 1 | {} | {} | {} | {} |",
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    for page in [1u32, 2_000, 10_000, 20_000] {
        let query = ExpenseQuery {
            page,
            per_page: 50,
            ..ExpenseQuery::default()
        };
        let got = store.list_expenses(user, &query).await.unwrap();
        assert_eq!(got.total, EXPENSES as u64);
        let s = measure(|| async {
            store.list_expenses(user, &query).await.unwrap();
        })
        .await;
        println!(
            "| `list_expenses` page {page} of 50 (offset {}), newest first, with total count | {} | {} | {} | {} | {} |",
            (page - 1) * 50,
            got.items.len(),
            ms(s.min),
            ms(s.p50),
            ms(s.p95),
            ms(s.max)
        );
    }

    let filtered = ExpenseQuery {
        from: Some("2025-01-01".parse().unwrap()),
        to: Some("2025-12-31".parse().unwrap()),
        search: Some("Vendor 99".into()),
        page: 2,
        per_page: 50,
        ..ExpenseQuery::default()
    };
    let got = store.list_expenses(user, &filtered).await.unwrap();
    let s = measure(|| async {
        store.list_expenses(user, &filtered).await.unwrap();
    })
    .await;
    println!(
        "| `list_expenses` 2025, vendor contains \"Vendor 99\", page 2 (of {} matches) | {} | {} | {} | {} | {} |",
        got.total,
        got.items.len(),
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    // A word in no vendor, note or receipt: every one of the user's rows is checked.
    let nowhere = ExpenseQuery {
        search: Some("espresso".into()),
        ..ExpenseQuery::default()
    };
    let got = store.list_expenses(user, &nowhere).await.unwrap();
    assert_eq!(got.total, 0);
    let s = measure(|| async {
        store.list_expenses(user, &nowhere).await.unwrap();
    })
    .await;
    println!(
        "| `list_expenses` search \"espresso\" over all {EXPENSES} (no match: vendor, note and receipt text) | 0 | {} | {} | {} | {} |",
        ms(s.min),
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    );

    for (title, query) in [
        (
            "2025, newest first",
            ExpenseQuery {
                from: Some("2025-01-01".parse().unwrap()),
                to: Some("2025-12-31".parse().unwrap()),
                ..ExpenseQuery::default()
            },
        ),
        ("every row, newest first", ExpenseQuery::default()),
    ] {
        let rows = drain(&store, user, &query).await;
        let reset = reset_peak_rss();
        let before = status_kb("VmRSS");
        let s = measure_runs(EXPORT_WARMUPS, EXPORT_ITERATIONS, || async {
            drain(&store, user, &query).await;
        })
        .await;
        let grown = status_kb("VmHWM").saturating_sub(before);
        let peak = if reset {
            "peak RSS"
        } else {
            "peak RSS since start (could not reset)"
        };
        println!(
            "| `export_expenses` {title}, stream read to its end ({EXPORT_WARMUPS} warm-up, {EXPORT_ITERATIONS} runs; {peak} +{grown} kB over RSS {before} kB) | {rows} | {} | {} | {} | {} |",
            ms(s.min),
            ms(s.p50),
            ms(s.p95),
            ms(s.max)
        );
    }

    let started = Instant::now();
    let mismatches = store.rollup_mismatches().await.unwrap();
    assert!(mismatches.is_empty(), "rollups differ: {mismatches:?}");
    println!(
        "\nThe rollups after the bulk load equal a full aggregate of the {} expenses \
         (`Store::rollup_mismatches`, {:.1} s).",
        EXPENSES + OTHER_USER_EXPENSES,
        started.elapsed().as_secs_f64()
    );

    println!("\n### Plans (`EXPLAIN ANALYZE` of the statements the calls above run)");
    // These are the store's statements with their parameters written in (`$1` stays the user).
    explain(
        &pool,
        "monthly_totals, 2025: the year's rollup rows",
        "SELECT r.month, r.category_id, c.name AS category, r.total_minor, r.n \
         FROM expense_rollups r JOIN categories c ON c.id = r.category_id \
         WHERE r.user_id = $1 AND r.currency = 'INR' \
         AND r.month >= '2025-01-01' AND r.month < '2026-01-01' \
         AND ((r.month >= '2025-01-01' AND r.month < '2026-01-01') \
         OR r.month = '2025-01-01' OR r.month = '2025-01-01')",
        user,
    )
    .await;
    explain(
        &pool,
        "list_expenses page 1: the page and its total in one statement",
        "SELECT e.id, e.user_id, e.category_id, c.name AS category, e.spent_on, e.occurred_at, \
         e.vendor, e.amount_minor, e.currency, e.note, e.needs_review, e.receipt_id, \
         e.created_at, e.updated_at, \
         (SELECT COALESCE((SELECT n FROM expense_counts WHERE user_id = $1), 0)) AS total \
         FROM expenses e JOIN categories c ON c.id = e.category_id WHERE e.user_id = $1 \
         ORDER BY e.spent_on DESC, e.id DESC LIMIT 50 OFFSET 0",
        user,
    )
    .await;
    explain(
        &pool,
        "list_expenses page 20000 (the last): read from the other end",
        "SELECT e.id, e.vendor, e.amount_minor, c.name FROM expenses e \
         JOIN categories c ON c.id = e.category_id WHERE e.id IN (SELECT e.id FROM expenses e \
         WHERE e.user_id = $1 ORDER BY e.spent_on ASC, e.id ASC LIMIT 50 OFFSET 0) \
         ORDER BY e.spent_on ASC, e.id ASC",
        user,
    )
    .await;
    explain(
        &pool,
        "list_expenses page 10000 (the middle, the worst case)",
        "SELECT e.id, e.vendor, e.amount_minor, c.name FROM expenses e \
         JOIN categories c ON c.id = e.category_id WHERE e.id IN (SELECT e.id FROM expenses e \
         WHERE e.user_id = $1 ORDER BY e.spent_on DESC, e.id DESC LIMIT 50 OFFSET 499950) \
         ORDER BY e.spent_on DESC, e.id DESC",
        user,
    )
    .await;
    explain(
        &pool,
        "list_expenses search \"espresso\": the vendor's trigram index, the expenses' and the receipts' full-text indexes",
        "SELECT count(*) FROM expenses e WHERE e.user_id = $1 \
         AND (e.vendor ILIKE '%espresso%' ESCAPE '\\' \
         OR e.search @@ to_tsquery('simple', 'espresso:*') \
         OR e.receipt_id = ANY(ARRAY(SELECT r.id FROM receipts r WHERE r.user_id = $1 \
         AND r.ocr_search @@ to_tsquery('simple', 'espresso:*'))))",
        user,
    )
    .await;
    explain(
        &pool,
        "export_expenses 2025: one statement, read as a stream",
        "SELECT e.id, e.user_id, e.category_id, c.name AS category, e.spent_on, e.occurred_at, \
         e.vendor, e.amount_minor, e.currency, e.note, e.needs_review, e.receipt_id, \
         e.created_at, e.updated_at \
         FROM expenses e JOIN categories c ON c.id = e.category_id \
         WHERE e.user_id = $1 AND e.spent_on >= '2025-01-01' AND e.spent_on <= '2025-12-31' \
         ORDER BY e.spent_on DESC, e.id DESC",
        user,
    )
    .await;
    explain(
        &pool,
        "list_expenses with a filter (2025): the count (unfiltered lists read expense_counts)",
        "SELECT COUNT(*) FROM expenses e WHERE e.user_id = $1 \
         AND e.spent_on >= '2025-01-01' AND e.spent_on <= '2025-12-31'",
        user,
    )
    .await;

    store.close().await;
}
