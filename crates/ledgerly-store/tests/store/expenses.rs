use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures_util::{StreamExt, TryStreamExt};
use ledgerly_core::{Currency, Expense, ExpenseChanges, Money, Note, UserId, UserTimeZone};
use ledgerly_store::testing::Backend;
use ledgerly_store::{
    ExpenseQuery, ExpenseSort, SortDirection, SortField, Store, StoreError, StoreOptions,
};

use crate::harness::*;

on_both_backends!(
    store:
    an_expense_is_created_read_changed_and_deleted,
    only_positive_amounts_are_spent,
    the_list_filters_by_days_category_vendor_and_review,
    the_list_sorts_and_pages_without_overlap,
    bad_pages_are_refused,
    the_kept_total_matches_a_count_after_every_kind_of_write,
    the_export_is_every_page_of_the_list_in_one_read,
    deep_pages_are_the_same_rows_as_the_export,
);

on_both_backends!(an_export_left_part_way_gives_its_connection_back);

async fn an_expense_is_created_read_changed_and_deleted(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    let mut new = expense(food, "2026-03-14", "Blue Tokai", 35_000);
    new.note = Some(Note::parse("team coffee").unwrap());
    new.occurred_at = Some(Utc.with_ymd_and_hms(2026, 3, 14, 5, 30, 0).unwrap());
    let created = store.create_expense(priya.id, new).await.unwrap();
    assert_eq!(created.category.as_str(), "food");
    assert_eq!(created.amount, inr(35_000));
    assert!(!created.needs_review);
    assert_eq!(
        store.get_expense(priya.id, created.id).await.unwrap(),
        created
    );

    let changed = store
        .update_expense(
            priya.id,
            created.id,
            ExpenseChanges {
                category_id: Some(work),
                amount: Some(inr(36_000)),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.category.as_str(), "work");
    assert_eq!(changed.amount, inr(36_000));
    assert_eq!(changed.vendor, created.vendor, "untouched fields stay");
    assert_eq!(changed.note, created.note);
    assert_eq!(changed.occurred_at, created.occurred_at);
    assert!(changed.updated_at >= created.updated_at);

    let cleared = store
        .update_expense(
            priya.id,
            created.id,
            ExpenseChanges {
                note: Some(None),
                date: Some(day("2026-03-15")),
                vendor: Some(vendor("Blue Tokai Coffee")),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.note, None);
    assert_eq!(cleared.date, day("2026-03-15"));
    assert_eq!(cleared.vendor.as_str(), "Blue Tokai Coffee");

    store.delete_expense(priya.id, created.id).await.unwrap();
    assert!(matches!(
        store.get_expense(priya.id, created.id).await,
        Err(StoreError::NotFound("expense"))
    ));
    assert!(matches!(
        store.delete_expense(priya.id, created.id).await,
        Err(StoreError::NotFound("expense"))
    ));
}

async fn only_positive_amounts_are_spent(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let mut zero = expense(food, "2026-03-14", "Nothing", 1);
    zero.amount = inr(0);
    assert!(matches!(
        store.create_expense(priya.id, zero).await,
        Err(StoreError::Invalid(m)) if m.contains("greater than zero")
    ));
    let spent = store
        .create_expense(priya.id, expense(food, "2026-03-14", "Cafe", 100))
        .await
        .unwrap();
    let negative = ExpenseChanges {
        amount: Some(inr(-5)),
        ..ExpenseChanges::default()
    };
    assert!(matches!(
        store.update_expense(priya.id, spent.id, negative).await,
        Err(StoreError::Invalid(_))
    ));
    // Other currencies are kept exactly, with their own minor units.
    let mut yen = expense(food, "2026-03-15", "Ichiran", 1);
    yen.amount = Money::from_minor(1_980, Currency::JPY);
    let yen = store.create_expense(priya.id, yen).await.unwrap();
    assert_eq!(yen.amount.to_decimal_string(), "1980");
}

async fn the_list_filters_by_days_category_vendor_and_review(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    for (cat, date, name, minor) in [
        (food, "2026-01-31", "Blue Tokai", 100),
        (food, "2026-02-01", "BLUE TOKAI Koramangala", 200),
        (work, "2026-02-15", "Staples", 300),
        (work, "2026-02-28", "50% Off Store", 400),
        (food, "2026-03-01", "Zomato", 500),
    ] {
        store
            .create_expense(priya.id, expense(cat, date, name, minor))
            .await
            .unwrap();
    }
    let mut review = expense(food, "2026-02-10", "Blue Bottle", 600);
    review.needs_review = true;
    store.create_expense(priya.id, review).await.unwrap();

    let vendors = |q: ExpenseQuery| async move {
        let page = store.list_expenses(priya.id, &q).await.unwrap();
        assert_eq!(page.total as usize, page.items.len());
        page.items
            .into_iter()
            .map(|e| e.vendor.to_string())
            .collect::<Vec<_>>()
    };
    let february = ExpenseQuery {
        from: Some(day("2026-02-01")),
        to: Some(day("2026-02-28")),
        ..ExpenseQuery::default()
    };
    assert_eq!(
        vendors(february.clone()).await,
        [
            "50% Off Store",
            "Staples",
            "Blue Bottle",
            "BLUE TOKAI Koramangala"
        ]
    );
    assert_eq!(
        vendors(ExpenseQuery {
            category: Some(work),
            ..february.clone()
        })
        .await,
        ["50% Off Store", "Staples"]
    );
    assert_eq!(
        vendors(ExpenseQuery {
            search: Some("blue tokai".into()),
            ..ExpenseQuery::default()
        })
        .await,
        ["BLUE TOKAI Koramangala", "Blue Tokai"]
    );
    // `%` is a character to find, not a wildcard.
    assert_eq!(
        vendors(ExpenseQuery {
            search: Some("0%".into()),
            ..ExpenseQuery::default()
        })
        .await,
        ["50% Off Store"]
    );
    assert_eq!(
        vendors(ExpenseQuery {
            search: Some("_".into()),
            ..ExpenseQuery::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        vendors(ExpenseQuery {
            needs_review: Some(true),
            ..ExpenseQuery::default()
        })
        .await,
        ["Blue Bottle"]
    );
}

async fn the_list_sorts_and_pages_without_overlap(store: &Store) {
    let priya = user_in(store, "priya@example.com", UserTimeZone::UTC).await;
    let food = category(store, &priya, "food").await;
    // 23 expenses with repeated days and amounts, so ties must be broken consistently.
    let mut created = Vec::new();
    for i in 0..23i64 {
        let date = format!("2026-04-{:02}", 1 + (i % 5));
        let e = store
            .create_expense(
                priya.id,
                expense(
                    food,
                    &date,
                    &format!("Vendor {:02}", (i * 7) % 23),
                    100 + (i % 4) * 50,
                ),
            )
            .await
            .unwrap();
        created.push(e);
    }
    for field in [
        SortField::Date,
        SortField::Amount,
        SortField::Vendor,
        SortField::Created,
    ] {
        for direction in [SortDirection::Ascending, SortDirection::Descending] {
            let mut seen = Vec::new();
            for page in 1..=4 {
                let query = ExpenseQuery {
                    sort: ExpenseSort { field, direction },
                    page,
                    per_page: 7,
                    ..ExpenseQuery::default()
                };
                let got = store.list_expenses(priya.id, &query).await.unwrap();
                assert_eq!(got.total, 23);
                assert_eq!(got.items.len(), if page < 4 { 7 } else { 2 });
                seen.extend(got.items);
            }
            let mut expected = created.clone();
            expected.sort_by(|a, b| {
                let ord = match field {
                    SortField::Date => a.date.cmp(&b.date),
                    SortField::Amount => a.amount.minor().cmp(&b.amount.minor()),
                    SortField::Vendor => a
                        .vendor
                        .as_str()
                        .to_lowercase()
                        .cmp(&b.vendor.as_str().to_lowercase()),
                    SortField::Created => a.created_at.cmp(&b.created_at),
                }
                .then(a.id.cmp(&b.id));
                if direction == SortDirection::Descending {
                    ord.reverse()
                } else {
                    ord
                }
            });
            let ids = |v: &[ledgerly_core::Expense]| v.iter().map(|e| e.id).collect::<Vec<_>>();
            assert_eq!(ids(&seen), ids(&expected), "{field:?} {direction:?}");
        }
    }
    let beyond = ExpenseQuery {
        page: 9,
        per_page: 7,
        ..ExpenseQuery::default()
    };
    let empty = store.list_expenses(priya.id, &beyond).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 23);
}

async fn bad_pages_are_refused(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    for (page, per_page) in [(0, 10), (1, 0), (1, 501)] {
        let query = ExpenseQuery {
            page,
            per_page,
            ..ExpenseQuery::default()
        };
        assert!(matches!(
            store.list_expenses(priya.id, &query).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

/// The unfiltered total comes from a count kept by triggers; a filter that matches everything
/// counts the rows. The two agree after every way expenses come and go.
async fn the_kept_total_matches_a_count_after_every_kind_of_write(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let food = category(store, &priya, "food").await;
    let check = |expected: u64| async move {
        let kept = store
            .list_expenses(priya.id, &ExpenseQuery::default())
            .await
            .unwrap()
            .total;
        let everything = ExpenseQuery {
            from: Some(day("1970-01-01")),
            ..ExpenseQuery::default()
        };
        let counted = store
            .list_expenses(priya.id, &everything)
            .await
            .unwrap()
            .total;
        assert_eq!((kept, counted), (expected, expected));
    };
    check(0).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .create_expense(priya.id, expense(food, "2026-01-01", &format!("V{i}"), 100))
                .await
                .unwrap()
                .id,
        );
    }
    let ravis_food = category(store, &ravi, "food").await;
    store
        .create_expense(ravi.id, expense(ravis_food, "2026-01-01", "R", 100))
        .await
        .unwrap();
    check(5).await;
    store.delete_expense(priya.id, ids[0]).await.unwrap();
    check(4).await;
    // OCR creates one; deleting its receipt before review removes it.
    let receipt = crate::receipts::upload(store, &priya, "r").await;
    let ocr = ledgerly_store::OcrResult {
        vendor: vendor("Shop"),
        date: day("2026-01-02"),
        amount: inr(5),
        category_id: None,
        unsure: Default::default(),
        text: None,
    };
    store.apply_ocr_result(receipt.id, &ocr).await.unwrap();
    check(5).await;
    store.delete_receipt(priya.id, receipt.id).await.unwrap();
    check(4).await;
    // Moving expenses between categories changes no count.
    let work = category(store, &priya, "work").await;
    store
        .delete_category(priya.id, food, Some(work))
        .await
        .unwrap();
    check(4).await;
    // A refused insert (another user's category) leaves the count alone.
    assert!(
        store
            .create_expense(priya.id, expense(ravis_food, "2026-01-01", "X", 1))
            .await
            .is_err()
    );
    check(4).await;
    store.delete_user(ravi.id).await.unwrap();
    check(4).await;
}

/// The list's pages one after another, until the total.
async fn every_page(store: &Store, user: UserId, query: &ExpenseQuery) -> Vec<Expense> {
    let mut page = ExpenseQuery {
        page: 1,
        per_page: 100,
        ..query.clone()
    };
    let mut listed = Vec::new();
    loop {
        let got = store.list_expenses(user, &page).await.unwrap();
        let last = got.items.is_empty();
        listed.extend(got.items);
        if last || listed.len() as u64 >= got.total {
            return listed;
        }
        page.page += 1;
    }
}

/// More rows than one batch of the export's reader, with repeated days, vendors and amounts (so
/// ties are broken by id), and another user's rows beside them.
async fn the_export_is_every_page_of_the_list_in_one_read(store: &Store) {
    let priya = user_in(store, "priya@example.com", UserTimeZone::UTC).await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    for i in 0..700i64 {
        let mut new = expense(
            if i % 3 == 0 { work } else { food },
            &format!("2026-{:02}-{:02}", 1 + i % 3, 1 + (i * 7) % 28),
            &format!("Vendor {:03}", (i * 37) % 211),
            100 + (i % 9) * 50,
        );
        new.needs_review = i % 11 == 0;
        store.create_expense(priya.id, new).await.unwrap();
    }
    let ravi = user(store, "ravi@example.com").await;
    let ravis_food = category(store, &ravi, "food").await;
    store
        .create_expense(
            ravi.id,
            expense(ravis_food, "2026-02-10", "Vendor 101", 100),
        )
        .await
        .unwrap();

    let sort = |field, direction| ExpenseSort { field, direction };
    let queries = [
        ExpenseQuery::default(),
        ExpenseQuery {
            from: Some(day("2026-02-01")),
            to: Some(day("2026-03-15")),
            search: Some("vendor 1".into()),
            sort: sort(SortField::Vendor, SortDirection::Ascending),
            ..ExpenseQuery::default()
        },
        ExpenseQuery {
            category: Some(work),
            needs_review: Some(false),
            sort: sort(SortField::Amount, SortDirection::Descending),
            ..ExpenseQuery::default()
        },
        ExpenseQuery {
            sort: sort(SortField::Created, SortDirection::Ascending),
            ..ExpenseQuery::default()
        },
        ExpenseQuery {
            search: Some("nobody".into()),
            ..ExpenseQuery::default()
        },
    ];
    for query in queries {
        let listed = every_page(store, priya.id, &query).await;
        // The page and its size do not limit the export.
        let paged = ExpenseQuery {
            page: 3,
            per_page: 7,
            ..query.clone()
        };
        let exported: Vec<Expense> = store
            .export_expenses(priya.id, &paged)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(exported.len(), listed.len(), "{query:?}");
        assert!(
            exported == listed,
            "{query:?}: the export differs from the list"
        );
    }
    let everything: Vec<Expense> = store
        .export_expenses(priya.id, &ExpenseQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everything.len(), 700);
}

/// On a pool of one connection: an export its reader leaves after a few rows gives the
/// connection back for the next call, and the next export reads every row.
async fn an_export_left_part_way_gives_its_connection_back(backend: Backend) {
    let db = TestDb::new(backend).await;
    let priya = user(&db.store, "priya@example.com").await;
    let food = category(&db.store, &priya, "food").await;
    for i in 0..600 {
        db.store
            .create_expense(
                priya.id,
                expense(food, "2026-01-01", &format!("V{i}"), 100 + i),
            )
            .await
            .unwrap();
    }
    let options = StoreOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        migrate: false,
    };
    let single = Store::connect_with(db.url(), &options).await.unwrap();
    let mut rows = single.export_expenses(priya.id, &ExpenseQuery::default());
    for _ in 0..3 {
        rows.next().await.unwrap().unwrap();
    }
    drop(rows);
    let page = single
        .list_expenses(priya.id, &ExpenseQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 600);
    let all: Vec<Expense> = single
        .export_expenses(priya.id, &ExpenseQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 600);
    single.close().await;
    db.cleanup().await;
}

/// 12,000 expenses loaded in one SQL statement: pages deep enough to be counted first and read
/// from the nearer end of the list hold the same rows, in the same order, as the export — with
/// and without a filter — and a page past the end is empty with the right total.
async fn deep_pages_are_the_same_rows_as_the_export(store: &Store) {
    let priya = user_in(store, "priya@example.com", UserTimeZone::UTC).await;
    let loaded = ledgerly_store::testing::load_expenses(store, priya.id, 12_000).await;
    assert_eq!(loaded, 12_000);
    let filtered = ExpenseQuery {
        needs_review: Some(false),
        sort: ExpenseSort {
            field: SortField::Amount,
            direction: SortDirection::Ascending,
        },
        ..ExpenseQuery::default()
    };
    for query in [ExpenseQuery::default(), filtered] {
        let all: Vec<Expense> = store
            .export_expenses(priya.id, &query)
            .try_collect()
            .await
            .unwrap();
        for page in [1, 11, 12, 17, 19, 20, 24] {
            let got = store
                .list_expenses(
                    priya.id,
                    &ExpenseQuery {
                        page,
                        per_page: 500,
                        ..query.clone()
                    },
                )
                .await
                .unwrap();
            assert_eq!(got.total as usize, all.len(), "{query:?} page {page}");
            let from = ((page - 1) * 500) as usize;
            let expected = &all[from.min(all.len())..(from + 500).min(all.len())];
            assert!(got.items == expected, "{query:?} page {page} differs");
        }
    }
}
