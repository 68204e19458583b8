//! Imports: kept, committed all at once or not at all, duplicates skipped, settings remembered.

use ledgerly_core::import::{
    AmountSign, ColumnMap, DateOrder, Encoding, ImportSettings, ImportedRow,
};
use ledgerly_core::{CategoryName, Currency, DecimalSeparator, Money};
use ledgerly_store::{Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    a_commit_writes_every_row_creates_categories_and_remembers_the_settings,
    a_commit_that_fails_part_way_writes_nothing,
    duplicates_are_skipped_one_for_one,
);

fn settings() -> ImportSettings {
    ImportSettings {
        encoding: Encoding::Utf8,
        delimiter: ';',
        header_row: Some(1),
        date_order: DateOrder::Dmy,
        decimal: DecimalSeparator::Comma,
        sign: AmountSign::NegativeIsSpending,
        columns: ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(2),
            ..ColumnMap::default()
        },
        default_category: CategoryName::parse("other").unwrap(),
        currency: None,
    }
}

fn row(date: &str, name: &str, minor: i64, category: &str) -> ImportedRow {
    ImportedRow {
        date: day(date),
        vendor: vendor(name),
        amount: inr(minor),
        category: CategoryName::parse(category).unwrap(),
        note: None,
    }
}

async fn a_commit_writes_every_row_creates_categories_and_remembers_the_settings(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let id = store
        .create_import(priya.id, "bank.csv", b"date;vendor;amount\n", &settings())
        .await
        .unwrap();
    let kept = store.get_import(priya.id, id).await.unwrap();
    assert_eq!(kept.file_name, "bank.csv");
    assert_eq!(kept.content, b"date;vendor;amount\n");
    assert_eq!(kept.settings, settings());
    assert!(kept.committed.is_none());

    // More rows than one INSERT takes, over two years, in a new category and an existing one
    // (named in another case).
    let mut rows = Vec::new();
    for i in 0..2_500i64 {
        let date = format!("{}-{:02}-{:02}", 2025 + i % 2, 1 + i % 12, 1 + i % 28);
        let category = if i % 3 == 0 { "Groceries" } else { "FOOD" };
        rows.push(row(&date, &format!("Shop {i}"), 100 + i, category));
    }
    let outcome = store
        .commit_import(priya.id, id, &rows, true, "shape-1")
        .await
        .unwrap();
    assert_eq!(outcome.created, 2_500);
    assert_eq!(outcome.duplicates_skipped, 0);
    assert_eq!(
        outcome.categories_created,
        [CategoryName::parse("Groceries").unwrap()]
    );
    let names: Vec<String> = store
        .list_categories(priya.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name.as_str().to_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "Groceries").count(), 1);
    assert!(!names.iter().any(|n| n == "FOOD"), "{names:?}");
    let page = store
        .list_expenses(priya.id, &ledgerly_store::ExpenseQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 2_500);
    assert_eq!(store.rollup_mismatches().await.unwrap(), []);

    let committed = store.get_import(priya.id, id).await.unwrap();
    assert!(committed.content.is_empty(), "the file is dropped");
    let summary = committed.committed.unwrap();
    assert_eq!((summary.created, summary.duplicates_skipped), (2_500, 0));
    assert_eq!(
        store
            .remembered_import_settings(priya.id, "shape-1")
            .await
            .unwrap(),
        Some(settings())
    );
    assert_eq!(
        store
            .remembered_import_settings(priya.id, "shape-2")
            .await
            .unwrap(),
        None
    );

    // Once only, and never through another account.
    assert!(matches!(
        store
            .commit_import(priya.id, id, &rows, true, "shape-1")
            .await,
        Err(StoreError::ImportCommitted)
    ));
    assert!(matches!(
        store.set_import_settings(priya.id, id, &settings()).await,
        Err(StoreError::ImportCommitted)
    ));
    let ravi = user(store, "ravi@example.com").await;
    assert!(matches!(
        store.get_import(ravi.id, id).await,
        Err(StoreError::NotFound("import"))
    ));
    assert!(matches!(
        store
            .commit_import(ravi.id, id, &rows, true, "shape-1")
            .await,
        Err(StoreError::NotFound("import"))
    ));
    assert!(matches!(
        store.delete_import(ravi.id, id).await,
        Err(StoreError::NotFound("import"))
    ));
    assert_eq!(
        store
            .remembered_import_settings(ravi.id, "shape-1")
            .await
            .unwrap(),
        None
    );
    store.delete_import(priya.id, id).await.unwrap();
    assert_eq!(
        store
            .list_expenses(priya.id, &ledgerly_store::ExpenseQuery::default())
            .await
            .unwrap()
            .total,
        2_500,
        "deleting an import keeps its expenses"
    );
}

async fn a_commit_that_fails_part_way_writes_nothing(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let id = store
        .create_import(priya.id, "bank.csv", b"x", &settings())
        .await
        .unwrap();
    // 1,500 good rows in a new category, then one the database refuses (an amount of zero),
    // in the second INSERT.
    let mut rows: Vec<ImportedRow> = (0..1_500)
        .map(|i| row("2026-03-01", &format!("Shop {i}"), 100, "Travel"))
        .collect();
    let mut bad = row("2026-03-02", "Broken", 1, "Travel");
    bad.amount = Money::from_minor(0, Currency::INR);
    rows.push(bad);
    assert!(
        store
            .commit_import(priya.id, id, &rows, true, "shape")
            .await
            .is_err()
    );
    let page = store
        .list_expenses(priya.id, &ledgerly_store::ExpenseQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    assert!(
        store
            .find_category(priya.id, &CategoryName::parse("Travel").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let import = store.get_import(priya.id, id).await.unwrap();
    assert!(import.committed.is_none());
    assert_eq!(import.content, b"x");
    assert_eq!(
        store
            .remembered_import_settings(priya.id, "shape")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.rollup_mismatches().await.unwrap(), []);
}

async fn duplicates_are_skipped_one_for_one(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    store
        .create_expense(priya.id, expense(food, "2026-03-01", "Blue Tokai", 450))
        .await
        .unwrap();
    let rows = [
        row("2026-03-01", "BLUE  TOKAI", 450, "food"),
        row("2026-03-01", "Blue Tokai", 450, "food"),
        row("2026-03-02", "Blue Tokai", 450, "food"),
    ];
    assert_eq!(
        store.import_duplicates(priya.id, &rows).await.unwrap(),
        [true, false, false]
    );
    // Another user's expenses are not duplicates of this user's rows.
    let ravi = user(store, "ravi@example.com").await;
    assert_eq!(
        store.import_duplicates(ravi.id, &rows).await.unwrap(),
        [false, false, false]
    );

    let id = store
        .create_import(priya.id, "again.csv", b"x", &settings())
        .await
        .unwrap();
    let outcome = store
        .commit_import(priya.id, id, &rows, true, "shape")
        .await
        .unwrap();
    assert_eq!((outcome.created, outcome.duplicates_skipped), (2, 1));
    assert!(outcome.categories_created.is_empty());

    let id = store
        .create_import(priya.id, "all.csv", b"x", &settings())
        .await
        .unwrap();
    let outcome = store
        .commit_import(priya.id, id, &rows, false, "shape")
        .await
        .unwrap();
    assert_eq!((outcome.created, outcome.duplicates_skipped), (3, 0));
    let total = store
        .list_expenses(priya.id, &ledgerly_store::ExpenseQuery::default())
        .await
        .unwrap()
        .total;
    assert_eq!(total, 6);
}
