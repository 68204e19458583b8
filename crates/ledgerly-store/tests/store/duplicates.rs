use ledgerly_core::{Currency, Money};
use ledgerly_store::Store;

use crate::harness::*;

on_both_backends!(
    store:
    an_expense_names_the_others_on_its_day_for_its_amount_at_its_vendor,
);

async fn an_expense_names_the_others_on_its_day_for_its_amount_at_its_vendor(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let food = category(store, &priya, "food").await;
    let by_hand = store
        .create_expense(
            priya.id,
            expense(food, "2026-03-02", "Blue Tokai Coffee, Ltd.", 45_000),
        )
        .await
        .unwrap();
    let mut read = expense(food, "2026-03-02", "BLUE TOKAI COFFEE LTD", 45_000);
    read.needs_review = true;
    let read = store.create_expense(priya.id, read).await.unwrap();
    // Not duplicates: another day, another amount, another vendor, another currency.
    for other in [
        expense(food, "2026-03-03", "Blue Tokai Coffee", 45_000),
        expense(food, "2026-03-02", "Blue Tokai Coffee", 45_001),
        expense(food, "2026-03-02", "Third Wave Coffee", 45_000),
    ] {
        store.create_expense(priya.id, other).await.unwrap();
    }
    let mut dollars = expense(food, "2026-03-02", "Blue Tokai Coffee", 45_000);
    dollars.amount = Money::from_minor(45_000, Currency::USD);
    store.create_expense(priya.id, dollars).await.unwrap();
    // Omar's identical expense is not Priya's.
    let omars_food = category(store, &omar, "food").await;
    store
        .create_expense(
            omar.id,
            expense(omars_food, "2026-03-02", "Blue Tokai Coffee", 45_000),
        )
        .await
        .unwrap();

    let found = store.possible_duplicates(priya.id, &read).await.unwrap();
    assert_eq!(found.iter().map(|e| e.id).collect::<Vec<_>>(), [by_hand.id]);
    let found = store.possible_duplicates(priya.id, &by_hand).await.unwrap();
    assert_eq!(found.iter().map(|e| e.id).collect::<Vec<_>>(), [read.id]);

    store.delete_expense(priya.id, by_hand.id).await.unwrap();
    assert!(
        store
            .possible_duplicates(priya.id, &read)
            .await
            .unwrap()
            .is_empty()
    );
}
