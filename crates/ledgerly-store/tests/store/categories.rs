use ledgerly_core::{CategoryName, ExpenseChanges};
use ledgerly_store::{Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    category_names_are_unique_per_account_ignoring_case,
    renaming_keeps_the_expenses,
    a_category_in_use_is_deleted_only_by_moving_its_expenses,
);

fn name(s: &str) -> CategoryName {
    CategoryName::parse(s).unwrap()
}

async fn category_names_are_unique_per_account_ignoring_case(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let rent = store
        .create_category(priya.id, &name("Rent"))
        .await
        .unwrap();
    assert!(!rent.is_default);
    let again = store.create_category(priya.id, &name("RENT")).await;
    assert!(
        matches!(again, Err(StoreError::CategoryNameTaken(ref n)) if n == "RENT"),
        "{again:?}"
    );
    let food_again = store.create_category(priya.id, &name("Food")).await;
    assert!(matches!(food_again, Err(StoreError::CategoryNameTaken(_))));
    // Another account may use the same name.
    store.create_category(ravi.id, &name("rent")).await.unwrap();
    let names: Vec<String> = store
        .list_categories(priya.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, ["entertainment", "food", "work", "Rent"]);
    assert_eq!(
        store
            .find_category(priya.id, &name("rent"))
            .await
            .unwrap()
            .unwrap()
            .id,
        rent.id
    );
    assert_eq!(store.get_category(priya.id, rent.id).await.unwrap(), rent);
}

async fn renaming_keeps_the_expenses(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let work = category(store, &priya, "work").await;
    let spent = store
        .create_expense(priya.id, expense(work, "2026-02-01", "Printer ink", 2_500))
        .await
        .unwrap();
    let renamed = store
        .rename_category(priya.id, work, &name("Office"))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Office");
    assert!(renamed.is_default);
    assert_eq!(
        store
            .get_expense(priya.id, spent.id)
            .await
            .unwrap()
            .category
            .as_str(),
        "Office"
    );
    let clash = store.rename_category(priya.id, work, &name("FOOD")).await;
    assert!(matches!(clash, Err(StoreError::CategoryNameTaken(_))));
    // Renaming to itself in another case is fine.
    store
        .rename_category(priya.id, work, &name("OFFICE"))
        .await
        .unwrap();
}

async fn a_category_in_use_is_deleted_only_by_moving_its_expenses(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let fun = category(store, &priya, "entertainment").await;
    let food = category(store, &priya, "food").await;
    let ravis_food = category(store, &ravi, "food").await;
    let movie = store
        .create_expense(priya.id, expense(fun, "2026-02-01", "Cinema", 40_000))
        .await
        .unwrap();
    let refused = store.delete_category(priya.id, fun, None).await;
    assert!(
        matches!(refused, Err(StoreError::CategoryInUse { count: 1 })),
        "{refused:?}"
    );
    let foreign = store.delete_category(priya.id, fun, Some(ravis_food)).await;
    assert!(
        matches!(foreign, Err(StoreError::NotFound(_))),
        "{foreign:?}"
    );
    let itself = store.delete_category(priya.id, fun, Some(fun)).await;
    assert!(matches!(itself, Err(StoreError::Invalid(_))));
    assert_eq!(
        store
            .delete_category(priya.id, fun, Some(food))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .get_expense(priya.id, movie.id)
            .await
            .unwrap()
            .category_id,
        food
    );
    assert!(matches!(
        store.get_category(priya.id, fun).await,
        Err(StoreError::NotFound(_))
    ));
    // An empty category goes without a target.
    let spare = store
        .create_category(priya.id, &name("Spare"))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_category(priya.id, spare.id, None)
            .await
            .unwrap(),
        0
    );
    // Moving an expense back to a deleted category is refused.
    let changes = ExpenseChanges {
        category_id: Some(fun),
        ..ExpenseChanges::default()
    };
    assert!(matches!(
        store.update_expense(priya.id, movie.id, changes).await,
        Err(StoreError::NotFound("category"))
    ));
}
