//! No store function hands one user's data to another.

use chrono::{Duration, Utc};
use ledgerly_core::{Budget, CategoryName, ExpenseChanges};
use ledgerly_store::{ExpenseQuery, Store, StoreError};

use crate::harness::*;
use crate::receipts::upload;

on_both_backends!(store: another_users_rows_are_never_returned_or_changed);

fn not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
}

async fn another_users_rows_are_never_returned_or_changed(store: &Store) {
    let a = user(store, "a@example.com").await;
    let b = user(store, "b@example.com").await;
    let a_food = category(store, &a, "food").await;
    let b_food = category(store, &b, "food").await;
    let a_expense = store
        .create_expense(a.id, expense(a_food, "2026-01-10", "A's lunch", 1_000))
        .await
        .unwrap();
    let a_receipt = upload(store, &a, "a").await;
    store
        .enqueue_ocr_job(a.id, a_receipt.id, 3, Utc::now())
        .await
        .unwrap();
    store
        .set_budget(
            a.id,
            Budget::new(inr(9_000), "2026-01".parse().unwrap()).unwrap(),
        )
        .await
        .unwrap();

    // Expenses.
    not_found(store.get_expense(b.id, a_expense.id).await);
    not_found(
        store
            .update_expense(
                b.id,
                a_expense.id,
                ExpenseChanges {
                    amount: Some(inr(1)),
                    ..Default::default()
                },
            )
            .await,
    );
    not_found(store.confirm_expense(b.id, a_expense.id).await);
    not_found(store.delete_expense(b.id, a_expense.id).await);
    let b_list = store
        .list_expenses(
            b.id,
            &ExpenseQuery {
                search: Some("lunch".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(b_list.total, 0);
    assert!(b_list.items.is_empty());
    // B cannot file an expense under A's category, nor move theirs into it.
    not_found(
        store
            .create_expense(b.id, expense(a_food, "2026-01-10", "x", 1))
            .await,
    );
    let b_expense = store
        .create_expense(b.id, expense(b_food, "2026-01-10", "B's", 1))
        .await
        .unwrap();
    not_found(
        store
            .update_expense(
                b.id,
                b_expense.id,
                ExpenseChanges {
                    category_id: Some(a_food),
                    ..Default::default()
                },
            )
            .await,
    );
    // Nor attach A's receipt to theirs.
    let mut sneaky = expense(b_food, "2026-01-11", "y", 1);
    sneaky.receipt_id = Some(a_receipt.id);
    not_found(store.create_expense(b.id, sneaky).await);

    // Categories.
    not_found(store.get_category(b.id, a_food).await);
    not_found(
        store
            .rename_category(b.id, a_food, &CategoryName::parse("mine").unwrap())
            .await,
    );
    not_found(store.delete_category(b.id, a_food, None).await);
    not_found(store.delete_category(b.id, b_food, Some(a_food)).await);
    assert!(
        store
            .list_categories(b.id)
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != a_food)
    );

    // Receipts and jobs.
    not_found(store.get_receipt(b.id, a_receipt.id).await);
    not_found(store.delete_receipt(b.id, a_receipt.id).await);
    not_found(
        store
            .enqueue_ocr_job(b.id, a_receipt.id, 3, Utc::now())
            .await,
    );
    assert_eq!(store.list_receipts(b.id, 1, 50).await.unwrap().total, 0);
    assert!(
        store
            .find_receipts_by_sha256(b.id, &a_receipt.sha256)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .get_ocr_job(b.id, a_receipt.id)
            .await
            .unwrap()
            .is_none()
    );

    // Budgets and statistics.
    assert_eq!(
        store
            .budget_for(b.id, "2026-01".parse().unwrap())
            .await
            .unwrap(),
        None
    );
    assert!(store.budget_history(b.id).await.unwrap().is_empty());
    assert!(
        store
            .monthly_totals(b.id, 2026, ledgerly_core::Currency::INR)
            .await
            .unwrap()
            .iter()
            .all(|t| t.amount == inr(1))
    );
    let summary = store
        .month_summary(
            b.id,
            "2026-01".parse().unwrap(),
            ledgerly_core::Currency::INR,
        )
        .await
        .unwrap();
    assert_eq!(
        (summary.spent, summary.count, summary.budget),
        (inr(1), 1, None)
    );

    // Sessions belong to their user.
    store
        .create_session(a.id, b"a-token", Utc::now() + Duration::hours(1))
        .await
        .unwrap();
    let (_, who) = store
        .session_user(b"a-token", Utc::now(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.id, a.id);
    assert_eq!(store.revoke_other_sessions(b.id, None).await.unwrap(), 0);
    assert!(
        store
            .session_user(b"a-token", Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );

    // A's data is untouched after all of it.
    assert_eq!(
        store.get_expense(a.id, a_expense.id).await.unwrap(),
        a_expense
    );
    assert_eq!(
        store.get_receipt(a.id, a_receipt.id).await.unwrap().id,
        a_receipt.id
    );
}
