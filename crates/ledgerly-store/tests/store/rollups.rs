//! The rollups behind the statistics (`expense_rollups`, kept by triggers) against a full
//! aggregate of the expenses, after every step of random sequences of writes.

use ledgerly_core::{
    CategoryId, CategoryName, Currency, ExpenseChanges, ExpenseId, Money, NewExpense, User,
};
use ledgerly_store::Store;
use ledgerly_store::testing::{Backend, as_the_schema_is, execute_script};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};

use crate::harness::*;

on_both_backends!(
    store:
    rollups_match_a_full_aggregate_after_every_write,
    rollups_follow_a_deleted_account_and_a_bulk_load,
    opposite_moves_at_once_neither_deadlock_nor_drift,
);

on_both_backends!(the_migration_rolls_up_the_expenses_already_there);

/// One write, with indices into what exists when it runs (taken modulo the count).
#[derive(Debug, Clone)]
enum Write {
    Create {
        who: usize,
        day: i64,
        category: usize,
        minor: i64,
        in_usd: bool,
    },
    Change {
        pick: usize,
        day: Option<i64>,
        category: Option<usize>,
        amount: Option<(i64, bool)>,
        vendor: bool,
    },
    Delete {
        pick: usize,
    },
    /// Deletes a category, moving its expenses into another, then makes a new one.
    MoveCategory {
        who: usize,
        from: usize,
        to: usize,
    },
}

fn write() -> impl Strategy<Value = Write> {
    let day = 0i64..120;
    let minor = 1i64..1_000_000;
    prop_oneof![
        4 => (0usize..2, day.clone(), 0usize..8, minor.clone(), any::<bool>()).prop_map(
            |(who, day, category, minor, in_usd)| Write::Create { who, day, category, minor, in_usd }
        ),
        3 => (
            any::<usize>(),
            prop::option::of(day),
            prop::option::of(0usize..8),
            prop::option::of((minor, any::<bool>())),
            any::<bool>(),
        )
            .prop_map(|(pick, day, category, amount, vendor)| Write::Change {
                pick,
                day,
                category,
                amount,
                vendor
            }),
        2 => any::<usize>().prop_map(|pick| Write::Delete { pick }),
        1 => (0usize..2, 0usize..8, 0usize..8)
            .prop_map(|(who, from, to)| Write::MoveCategory { who, from, to }),
    ]
}

fn money(minor: i64, in_usd: bool) -> Money {
    Money::from_minor(minor, if in_usd { Currency::USD } else { Currency::INR })
}

async fn categories(store: &Store, user: &User) -> Vec<CategoryId> {
    store
        .list_categories(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

async fn assert_exact(store: &Store, step: usize, done: &[Write]) {
    let mismatches = store.rollup_mismatches().await.unwrap();
    assert!(
        mismatches.is_empty(),
        "after step {step} the rollups differ from the expenses: {mismatches:#?}\nwrites: {done:#?}"
    );
}

/// Random sequences of creates, changes (date, category, amount and currency, or only the
/// vendor), deletes and category moves, for two users and two currencies; the rollups equal a
/// full aggregate after each write.
async fn rollups_match_a_full_aggregate_after_every_write(store: &Store) {
    let users = [
        user(store, "priya@example.com").await,
        user(store, "arjun@example.com").await,
    ];
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let mut made = 0;
    for _sequence in 0..6 {
        let writes = prop::collection::vec(write(), 40)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut live: Vec<(usize, ExpenseId)> = Vec::new();
        for (step, w) in writes.iter().enumerate() {
            let base = day("2025-11-20");
            match w.clone() {
                Write::Create {
                    who,
                    day,
                    category,
                    minor,
                    in_usd,
                } => {
                    let cats = categories(store, &users[who]).await;
                    let new = NewExpense::new(
                        cats[category % cats.len()],
                        base + chrono::Duration::days(day),
                        vendor("Shop"),
                        money(minor, in_usd),
                    )
                    .unwrap();
                    let saved = store.create_expense(users[who].id, new).await.unwrap();
                    live.push((who, saved.id));
                }
                Write::Change {
                    pick,
                    day,
                    category,
                    amount,
                    vendor: new_vendor,
                } => {
                    let Some(&(who, id)) = live.get(pick % live.len().max(1)) else {
                        continue;
                    };
                    let cats = categories(store, &users[who]).await;
                    let changes = ExpenseChanges {
                        category_id: category.map(|c| cats[c % cats.len()]),
                        date: day.map(|d| base + chrono::Duration::days(d)),
                        vendor: new_vendor.then(|| vendor("Another shop")),
                        amount: amount.map(|(minor, in_usd)| money(minor, in_usd)),
                        ..ExpenseChanges::default()
                    };
                    store
                        .update_expense(users[who].id, id, changes)
                        .await
                        .unwrap();
                }
                Write::Delete { pick } => {
                    if live.is_empty() {
                        continue;
                    }
                    let (who, id) = live.remove(pick % live.len());
                    store.delete_expense(users[who].id, id).await.unwrap();
                }
                Write::MoveCategory { who, from, to } => {
                    let cats = categories(store, &users[who]).await;
                    let (from, to) = (cats[from % cats.len()], cats[to % cats.len()]);
                    if from == to {
                        continue;
                    }
                    store
                        .delete_category(users[who].id, from, Some(to))
                        .await
                        .unwrap();
                    made += 1;
                    let name = CategoryName::parse(&format!("made {made}")).unwrap();
                    store.create_category(users[who].id, &name).await.unwrap();
                }
            }
            assert_exact(store, step, &writes[..=step]).await;
        }
    }
}

/// Deleting an account takes its rollups with it; rows written in one SQL statement (a bulk load)
/// are rolled up as a whole.
async fn rollups_follow_a_deleted_account_and_a_bulk_load(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let arjun = user(store, "arjun@example.com").await;
    for who in [&priya, &arjun] {
        let food = category(store, who, "food").await;
        for (date, minor) in [("2026-01-03", 100), ("2026-01-30", 250), ("2026-02-01", 75)] {
            store
                .create_expense(who.id, expense(food, date, "Cafe", minor))
                .await
                .unwrap();
        }
    }
    store.delete_user(arjun.id).await.unwrap();
    assert_exact(store, 0, &[]).await;
    let january = "2026-01".parse().unwrap();
    let breakdown = store
        .category_breakdown(priya.id, january, Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (breakdown.len(), breakdown[0].amount, breakdown[0].count),
        (1, inr(350), 2)
    );

    // Every expense of the user copied in one statement: the statement's rows arrive together
    // (one trigger run on PostgreSQL, one per row on SQLite).
    let copied = ledgerly_store::testing::execute_as_sql(
        store,
        [
            "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, amount_minor, \
             currency, needs_review, created_at, updated_at) \
             SELECT gen_random_uuid(), user_id, category_id, spent_on, vendor, amount_minor, \
             currency, needs_review, created_at, updated_at FROM expenses WHERE user_id = $1",
            "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, amount_minor, \
             currency, needs_review, created_at, updated_at) \
             SELECT randomblob(16), user_id, category_id, spent_on, vendor, amount_minor, \
             currency, needs_review, created_at, updated_at FROM expenses WHERE user_id = $1",
        ],
        priya.id,
    )
    .await;
    assert_eq!(copied, 3);
    assert_exact(store, 1, &[]).await;
    assert_eq!(
        store
            .spent_in(priya.id, january, Currency::INR)
            .await
            .unwrap(),
        inr(700)
    );
}

/// Forty expenses moved at once between two categories, half each way: every move changes the
/// same two rollup rows in opposite orders, which deadlocks unless the rows are locked in one
/// order.
async fn opposite_moves_at_once_neither_deadlock_nor_drift(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    let mut moves = Vec::new();
    for i in 0..40 {
        let (from, to) = if i % 2 == 0 {
            (food, work)
        } else {
            (work, food)
        };
        let saved = store
            .create_expense(priya.id, expense(from, "2026-03-10", "Cafe", 100 + i))
            .await
            .unwrap();
        moves.push((saved.id, to));
    }
    let moved = moves.into_iter().map(|(id, to)| {
        let changes = ExpenseChanges {
            category_id: Some(to),
            ..ExpenseChanges::default()
        };
        store.update_expense(priya.id, id, changes)
    });
    futures_util::future::try_join_all(moved).await.unwrap();
    assert_exact(store, 0, &[]).await;
}

/// Migration 0007 and everything it made, taken out again: the schema as the release before it
/// left it (the record of the migration included, so the next connect applies it again).
const BEFORE_ROLLUPS: [&str; 2] = [
    "DROP TRIGGER expense_rollups_insert ON expenses; \
     DROP TRIGGER expense_rollups_delete ON expenses; \
     DROP TRIGGER expense_rollups_update ON expenses; \
     DROP FUNCTION expense_rollups_after_insert(); \
     DROP FUNCTION expense_rollups_after_delete(); \
     DROP FUNCTION expense_rollups_after_update(); \
     DROP FUNCTION expense_rollups_add(expense_rollup_delta[]); \
     DROP TYPE expense_rollup_delta; \
     DROP TABLE expense_rollups; \
     DELETE FROM _sqlx_migrations WHERE version = 7;",
    "DROP TRIGGER expense_rollups_insert; \
     DROP TRIGGER expense_rollups_delete; \
     DROP TRIGGER expense_rollups_update; \
     DROP TABLE expense_rollups; \
     DELETE FROM _sqlx_migrations WHERE version = 7;",
];

/// Expenses written before the rollups existed are rolled up by the migration that makes them.
async fn the_migration_rolls_up_the_expenses_already_there(backend: Backend) {
    let db = TestDb::new(backend).await;
    let priya = user(&db.store, "priya@example.com").await;
    let food = category(&db.store, &priya, "food").await;
    let work = category(&db.store, &priya, "work").await;
    execute_script(&db.store, BEFORE_ROLLUPS).await;
    let old = as_the_schema_is(&db.store, db.url()).await;
    for i in 0..30i64 {
        let mut new = expense(
            if i % 3 == 0 { work } else { food },
            &format!("2026-{:02}-{:02}", 1 + i % 4, 1 + i % 28),
            "Cafe",
            100 + i,
        );
        if i % 5 == 0 {
            new.amount = Money::from_minor(100 + i, Currency::USD);
        }
        old.create_expense(priya.id, new).await.unwrap();
    }
    let store = Store::connect(db.url()).await.unwrap();
    assert_exact(&store, 0, &[]).await;
    let march = store
        .category_breakdown(priya.id, "2026-03".parse().unwrap(), Currency::INR)
        .await
        .unwrap();
    // i = 2, 6, 14, 18, 22, 26 are March's INR expenses (10 is in USD), all food but 6 and 18.
    let total: i64 = march.iter().map(|t| t.amount.minor()).sum();
    let count: u64 = march.iter().map(|t| t.count).sum();
    assert_eq!((total, count), (102 + 106 + 114 + 118 + 122 + 126, 6));
    store.close().await;
    old.close().await;
    db.cleanup().await;
}
