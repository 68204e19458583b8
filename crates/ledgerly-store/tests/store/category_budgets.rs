//! Budgets per category: from a month on, ended from a month on, beside what was spent.

use ledgerly_core::{CategoryId, Currency, Money, Month};
use ledgerly_store::{Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    a_category_budget_applies_from_its_month_until_replaced_or_ended,
    a_category_budget_is_its_owners_and_goes_with_its_category,
);

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

/// `(category name, budget, spent, used %, warning)` of each category budget in `m`.
async fn uses(
    store: &Store,
    user: &ledgerly_core::User,
    m: &str,
) -> Vec<(String, i64, i64, Option<String>, bool)> {
    store
        .category_budgets(user.id, month(m), Currency::INR)
        .await
        .unwrap()
        .into_iter()
        .map(|u| {
            (
                u.category.as_str().to_owned(),
                u.budget.amount.minor(),
                u.spent.minor(),
                u.used.map(|p| p.to_decimal_string()),
                u.warning,
            )
        })
        .collect()
}

async fn a_category_budget_applies_from_its_month_until_replaced_or_ended(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    for (date, minor) in [
        ("2026-03-02", 3_000),
        ("2026-03-20", 1_200),
        ("2026-04-01", 500),
    ] {
        store
            .create_expense(priya.id, expense(food, date, "Cafe", minor))
            .await
            .unwrap();
    }
    // Another currency is not counted against an INR budget.
    let mut in_usd = expense(food, "2026-03-05", "Diner", 900);
    in_usd.amount = Money::from_minor(900, Currency::USD);
    store.create_expense(priya.id, in_usd).await.unwrap();
    store
        .create_expense(priya.id, expense(work, "2026-03-09", "Printer", 700))
        .await
        .unwrap();

    store
        .set_category_budget(priya.id, food, month("2026-03"), Some(inr(5_000)))
        .await
        .unwrap();
    store
        .set_category_budget(priya.id, work, month("2026-04"), Some(inr(1_000)))
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-02").await, []);
    assert_eq!(
        uses(store, &priya, "2026-03").await,
        [("food".into(), 5_000, 4_200, Some("84.00".into()), true)]
    );
    assert_eq!(
        uses(store, &priya, "2026-04").await,
        [
            ("food".into(), 5_000, 500, Some("10.00".into()), false),
            ("work".into(), 1_000, 0, Some("0.00".into()), false),
        ]
    );

    // Replaced from April: March keeps its budget.
    store
        .set_category_budget(priya.id, food, month("2026-04"), Some(inr(400)))
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-03").await[0].1, 5_000);
    assert_eq!(
        uses(store, &priya, "2026-04").await[0],
        ("food".into(), 400, 500, Some("125.00".into()), true)
    );
    // Ended from June: May still has it, June and later do not.
    store
        .set_category_budget(priya.id, food, month("2026-06"), None)
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-05").await.len(), 2);
    assert_eq!(
        uses(store, &priya, "2026-07").await,
        [("work".into(), 1_000, 0, Some("0.00".into()), false)]
    );
    // A budget set in another currency does not apply to an INR account's month.
    store
        .set_category_budget(
            priya.id,
            work,
            month("2026-08"),
            Some(Money::from_minor(50, Currency::USD)),
        )
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-08").await, []);

    let negative = store
        .set_category_budget(priya.id, food, month("2026-09"), Some(inr(-1)))
        .await;
    assert!(
        matches!(negative, Err(StoreError::Invalid(_))),
        "{negative:?}"
    );
}

async fn a_category_budget_is_its_owners_and_goes_with_its_category(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let ravis_food = category(store, &ravi, "food").await;
    for category in [ravis_food, CategoryId::new()] {
        let refused = store
            .set_category_budget(priya.id, category, month("2026-03"), Some(inr(100)))
            .await;
        assert!(
            matches!(refused, Err(StoreError::NotFound("category"))),
            "{refused:?}"
        );
    }
    assert_eq!(uses(store, &ravi, "2026-03").await, []);

    let made = store
        .create_category(
            priya.id,
            &ledgerly_core::CategoryName::parse("books").unwrap(),
        )
        .await
        .unwrap();
    store
        .set_category_budget(priya.id, made.id, month("2026-03"), Some(inr(100)))
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-03").await.len(), 1);
    store
        .delete_category(priya.id, made.id, None)
        .await
        .unwrap();
    assert_eq!(uses(store, &priya, "2026-03").await, []);
}
