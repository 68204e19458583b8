//! Search: the vendor containing the text, or every word beginning a word of the vendor, the
//! note or the receipt's OCR text; kept current through changes, deletes and the migration.

use ledgerly_core::{ExpenseChanges, Note};
use ledgerly_store::testing::{Backend, as_the_schema_is, execute_script};
use ledgerly_store::{ExpenseQuery, Store};

use crate::harness::*;

on_both_backends!(
    store:
    words_are_found_in_the_vendor_and_the_note_and_follow_every_change,
);

on_both_backends!(the_migration_indexes_the_expenses_already_there);

/// The vendors `user`'s search for `text` finds, oldest first.
async fn found(store: &Store, user: &ledgerly_core::User, text: &str) -> Vec<String> {
    let query = ExpenseQuery {
        search: Some(text.into()),
        ..ExpenseQuery::default()
    };
    let page = store.list_expenses(user.id, &query).await.unwrap();
    assert_eq!(page.total as usize, page.items.len(), "{text}");
    let mut vendors: Vec<String> = page
        .items
        .into_iter()
        .map(|e| e.vendor.to_string())
        .collect();
    vendors.sort();
    vendors
}

async fn words_are_found_in_the_vendor_and_the_note_and_follow_every_change(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let mut ids = Vec::new();
    for (date, name, note) in [
        (
            "2026-03-01",
            "Blue Tokai",
            Some("flat white and beans for the office"),
        ),
        ("2026-03-02", "Third Wave", Some("coffee beans, 250 g")),
        ("2026-03-03", "Staples", None),
        ("2026-03-04", "Café Madras", Some("Filter coffee")),
    ] {
        let mut new = expense(food, date, name, 100);
        new.note = note.map(|n| Note::parse(n).unwrap());
        ids.push(store.create_expense(priya.id, new).await.unwrap().id);
    }
    // Another account's words are not this one's.
    let ravi = user(store, "ravi@example.com").await;
    let theirs = category(store, &ravi, "food").await;
    let mut other = expense(theirs, "2026-03-01", "Ravi's Beans", 100);
    other.note = Some(Note::parse("beans").unwrap());
    store.create_expense(ravi.id, other).await.unwrap();

    // A word of the note, as the start of a word, in any case.
    assert_eq!(
        found(store, &priya, "BEAN").await,
        ["Blue Tokai", "Third Wave"]
    );
    // Every word, in any order, each in the vendor or the note.
    assert_eq!(found(store, &priya, "beans coffee").await, ["Third Wave"]);
    assert_eq!(found(store, &priya, "tokai beans").await, ["Blue Tokai"]);
    assert_eq!(
        found(store, &priya, "coffee").await,
        ["Café Madras", "Third Wave"]
    );
    // Part of a vendor still finds it (the trigram search), though no word starts so.
    assert_eq!(found(store, &priya, "okai").await, ["Blue Tokai"]);
    assert_eq!(found(store, &priya, "taple").await, ["Staples"]);
    // Punctuation separates words and is never query syntax.
    assert_eq!(
        found(store, &priya, "\"beans\" *:&|!").await,
        ["Blue Tokai", "Third Wave"]
    );
    assert_eq!(found(store, &priya, "250 g").await, ["Third Wave"]);
    assert!(found(store, &priya, "tea").await.is_empty());

    // A changed note and vendor are searched as they are now.
    store
        .update_expense(
            priya.id,
            ids[0],
            ExpenseChanges {
                note: Some(Some(Note::parse("a pour-over kit").unwrap())),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found(store, &priya, "beans").await, ["Third Wave"]);
    assert_eq!(found(store, &priya, "pour kit").await, ["Blue Tokai"]);
    store
        .update_expense(
            priya.id,
            ids[2],
            ExpenseChanges {
                vendor: Some(vendor("Office Depot")),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found(store, &priya, "depot").await, ["Office Depot"]);
    assert!(found(store, &priya, "staples").await.is_empty());
    // A deleted expense is not found.
    store.delete_expense(priya.id, ids[1]).await.unwrap();
    assert!(found(store, &priya, "beans").await.is_empty());
    // The export searches the same way.
    let query = ExpenseQuery {
        search: Some("pour".into()),
        ..ExpenseQuery::default()
    };
    let exported = export_vendors(store, priya.id, &query).await;
    assert_eq!(exported, ["Blue Tokai"]);
}

async fn export_vendors(
    store: &Store,
    user: ledgerly_core::UserId,
    query: &ExpenseQuery,
) -> Vec<String> {
    use futures_util::StreamExt;
    let mut rows = store.export_expenses(user, query);
    let mut vendors = Vec::new();
    while let Some(row) = rows.next().await {
        vendors.push(row.unwrap().vendor.to_string());
    }
    vendors
}

/// Migration 0010 taken out again: the schema as the release before it left it.
const BEFORE_SEARCH: [&str; 2] = [
    "ALTER TABLE expenses DROP COLUMN search; \
     ALTER TABLE receipts DROP COLUMN ocr_search; \
     ALTER TABLE receipts DROP COLUMN ocr_text; \
     DELETE FROM _sqlx_migrations WHERE version = 10;",
    "DROP TRIGGER expense_search_insert; \
     DROP TRIGGER expense_search_delete; \
     DROP TRIGGER expense_search_update; \
     DROP TRIGGER receipt_search_update; \
     DROP TABLE expense_search; \
     DROP TABLE expense_search_keys; \
     ALTER TABLE receipts DROP COLUMN ocr_text; \
     DELETE FROM _sqlx_migrations WHERE version = 10;",
];

/// Expenses written before search existed are found once the migration has run.
async fn the_migration_indexes_the_expenses_already_there(backend: Backend) {
    let db = TestDb::new(backend).await;
    let priya = user(&db.store, "priya@example.com").await;
    let food = category(&db.store, &priya, "food").await;
    execute_script(&db.store, BEFORE_SEARCH).await;
    let old = as_the_schema_is(&db.store, db.url()).await;
    let mut new = expense(food, "2026-03-01", "Blue Tokai", 100);
    new.note = Some(Note::parse("flat white").unwrap());
    old.create_expense(priya.id, new).await.unwrap();
    let store = Store::connect(db.url()).await.unwrap();
    assert_eq!(found(&store, &priya, "white").await, ["Blue Tokai"]);
    // And the ones written after it too.
    store
        .create_expense(
            priya.id,
            expense(food, "2026-03-02", "Whitefield Bakery", 100),
        )
        .await
        .unwrap();
    assert_eq!(
        found(&store, &priya, "white").await,
        ["Blue Tokai", "Whitefield Bakery"]
    );
    store.close().await;
    old.close().await;
    db.cleanup().await;
}
