//! Tags: put on expenses (created on the fly), read back with them, filtered by (any or all),
//! searched, totalled, renamed, merged and deleted — each user's their own.

use ledgerly_core::{ExpenseChanges, TagMatch, TagName};
use ledgerly_store::{ExpenseQuery, Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    tags_are_created_on_the_fly_and_read_back_in_order,
    the_list_filters_by_any_or_all_tags_and_searches_their_names,
    tags_are_totalled_renamed_merged_and_deleted,
);

fn tags(names: &[&str]) -> Vec<TagName> {
    names.iter().map(|n| TagName::parse(n).unwrap()).collect()
}

fn names(tags: &[TagName]) -> Vec<&str> {
    tags.iter().map(TagName::as_str).collect()
}

async fn tags_are_created_on_the_fly_and_read_back_in_order(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let mut new = expense(food, "2026-03-01", "Pastelaria", 450);
    new.tags = tags(&["trip-lisbon", "Work", "work", "Breakfast"]);
    let created = store.create_expense(priya.id, new).await.unwrap();
    assert_eq!(names(&created.tags), ["Breakfast", "trip-lisbon", "Work"]);
    assert_eq!(
        names(&store.get_expense(priya.id, created.id).await.unwrap().tags),
        ["Breakfast", "trip-lisbon", "Work"]
    );
    // Without tags, the one-statement path, and no tags.
    let plain = store
        .create_expense(priya.id, expense(food, "2026-03-02", "Cafe", 100))
        .await
        .unwrap();
    assert!(plain.tags.is_empty());

    // A change replaces the set; a change without tags leaves it.
    let changed = store
        .update_expense(
            priya.id,
            created.id,
            ExpenseChanges {
                tags: Some(tags(&["WORK", "reimbursable"])),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&changed.tags), ["reimbursable", "Work"]);
    let kept = store
        .update_expense(
            priya.id,
            created.id,
            ExpenseChanges {
                vendor: Some(vendor("Pastelaria Alfama")),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&kept.tags), ["reimbursable", "Work"]);
    // The existing tag keeps its first spelling; the unused ones stay until deleted.
    let listed: Vec<(String, u64)> = store
        .list_tags(priya.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name.as_str().to_owned(), t.expenses))
        .collect();
    assert_eq!(
        listed,
        [
            ("Breakfast".into(), 0),
            ("reimbursable".into(), 1),
            ("trip-lisbon".into(), 0),
            ("Work".into(), 1)
        ]
    );

    // Another user's expense cannot be tagged through a change, and an unknown expense is not
    // found without a tag being made.
    let ravi = user(store, "ravi@example.com").await;
    let err = store
        .update_expense(
            ravi.id,
            created.id,
            ExpenseChanges {
                tags: Some(tags(&["stolen"])),
                ..ExpenseChanges::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("expense")), "{err:?}");
    assert!(store.list_tags(ravi.id).await.unwrap().is_empty());
    // More than the most tags an expense carries is refused.
    let mut many = expense(food, "2026-03-03", "Market", 100);
    many.tags = (0..=ledgerly_core::tag::MAX_TAGS_PER_EXPENSE)
        .map(|i| TagName::parse(&format!("t{i}")).unwrap())
        .collect();
    assert!(matches!(
        store.create_expense(priya.id, many).await,
        Err(StoreError::Invalid(_))
    ));
    // Deleting the expense removes its links; its tags stay.
    store.delete_expense(priya.id, created.id).await.unwrap();
    assert!(
        store
            .list_tags(priya.id)
            .await
            .unwrap()
            .iter()
            .all(|t| t.expenses == 0)
    );
}

async fn the_list_filters_by_any_or_all_tags_and_searches_their_names(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    for (date, name, tagged) in [
        ("2026-03-01", "A", &["trip", "work"][..]),
        ("2026-03-02", "B", &["trip"][..]),
        ("2026-03-03", "C", &["work"][..]),
        ("2026-03-04", "D", &[][..]),
    ] {
        let mut new = expense(food, date, name, 100);
        new.tags = tags(tagged);
        store.create_expense(priya.id, new).await.unwrap();
    }
    let ravi = user(store, "ravi@example.com").await;
    let theirs = category(store, &ravi, "food").await;
    let mut other = expense(theirs, "2026-03-01", "R", 100);
    other.tags = tags(&["trip"]);
    store.create_expense(ravi.id, other).await.unwrap();

    let vendors = |query: ExpenseQuery| async move {
        let page = store.list_expenses(priya.id, &query).await.unwrap();
        let mut vendors: Vec<String> = page.items.iter().map(|e| e.vendor.to_string()).collect();
        vendors.sort();
        assert_eq!(page.total as usize, vendors.len());
        vendors
    };
    let by = |names: &[&str], tags_match| ExpenseQuery {
        tags: tags(names),
        tags_match,
        ..ExpenseQuery::default()
    };
    assert_eq!(vendors(by(&["TRIP"], TagMatch::Any)).await, ["A", "B"]);
    assert_eq!(
        vendors(by(&["trip", "work"], TagMatch::Any)).await,
        ["A", "B", "C"]
    );
    assert_eq!(vendors(by(&["trip", "work"], TagMatch::All)).await, ["A"]);
    assert_eq!(
        vendors(by(&["trip", "Trip"], TagMatch::All)).await,
        ["A", "B"]
    );
    assert!(vendors(by(&["nowhere"], TagMatch::Any)).await.is_empty());
    assert!(
        vendors(by(&["trip", "nowhere"], TagMatch::All))
            .await
            .is_empty()
    );
    // A search finds tags by part of their name.
    let search = ExpenseQuery {
        search: Some("wor".into()),
        ..ExpenseQuery::default()
    };
    assert_eq!(vendors(search).await, ["A", "C"]);
}

async fn tags_are_totalled_renamed_merged_and_deleted(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    for (date, minor, tagged) in [
        ("2026-03-01", 1_000, &["trip", "work"][..]),
        ("2026-03-10", 500, &["trip"][..]),
        ("2026-04-01", 300, &["trip"][..]),
        ("2026-03-05", 200, &["journey"][..]),
    ] {
        let mut new = expense(food, date, "Shop", minor);
        new.tags = tags(tagged);
        store.create_expense(priya.id, new).await.unwrap();
    }
    let totals = |first: &'static str, last: &'static str| async move {
        store
            .tag_totals(
                priya.id,
                day(first),
                day(last),
                ledgerly_core::Currency::INR,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.tag.as_str().to_owned(), t.amount.minor(), t.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        totals("2026-03-01", "2026-03-31").await,
        [
            ("trip".into(), 1_500, 2),
            ("work".into(), 1_000, 1),
            ("journey".into(), 200, 1)
        ]
    );
    assert_eq!(
        totals("2026-01-01", "2026-12-31").await[0],
        ("trip".into(), 1_800, 3)
    );

    let id_of = |name: &'static str| async move {
        store
            .find_tag(priya.id, &TagName::parse(name).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let (trip, journey, work) = (
        id_of("trip").await,
        id_of("journey").await,
        id_of("work").await,
    );
    // Renaming onto another tag's name is refused: that is a merge.
    assert!(matches!(
        store
            .rename_tag(priya.id, journey, &TagName::parse("TRIP").unwrap())
            .await,
        Err(StoreError::TagNameTaken(_))
    ));
    store
        .rename_tag(priya.id, journey, &TagName::parse("Journeys").unwrap())
        .await
        .unwrap();
    assert_eq!(store.merge_tags(priya.id, journey, trip).await.unwrap(), 1);
    assert_eq!(
        totals("2026-03-01", "2026-03-31").await[0],
        ("trip".into(), 1_700, 3)
    );
    // An expense with both tags keeps one.
    assert_eq!(store.merge_tags(priya.id, work, trip).await.unwrap(), 1);
    let listed: Vec<(String, u64)> = store
        .list_tags(priya.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name.as_str().to_owned(), t.expenses))
        .collect();
    assert_eq!(listed, [("trip".into(), 4)]);
    // Another user's tags are not found; a tag into itself is refused.
    let ravi = user(store, "ravi@example.com").await;
    assert!(matches!(
        store.delete_tag(ravi.id, trip).await,
        Err(StoreError::NotFound("tag"))
    ));
    assert!(matches!(
        store
            .rename_tag(ravi.id, trip, &TagName::parse("mine").unwrap())
            .await,
        Err(StoreError::NotFound("tag"))
    ));
    assert!(matches!(
        store.merge_tags(priya.id, trip, trip).await,
        Err(StoreError::Invalid(_))
    ));
    store.delete_tag(priya.id, trip).await.unwrap();
    assert!(store.list_tags(priya.id).await.unwrap().is_empty());
    let page = store
        .list_expenses(priya.id, &ExpenseQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 4, "deleting a tag keeps its expenses");
    assert!(page.items.iter().all(|e| e.tags.is_empty()));
}
