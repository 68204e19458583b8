use chrono::{TimeZone, Utc};
use ledgerly_core::stats::{Spend, category_breakdown, monthly_totals};
use ledgerly_core::{Budget, Currency, Money, Month, NewExpense, UserTimeZone};
use ledgerly_store::Store;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};

use crate::harness::*;

on_both_backends!(
    store:
    december_2025_and_december_2026_are_never_merged,
    an_instant_is_counted_in_the_month_of_the_users_zone,
    sql_sums_match_the_reference_maths,
    the_month_summary_has_every_card,
    a_budget_applies_from_its_month_onwards,
    other_currencies_are_not_added_in,
);

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

async fn december_2025_and_december_2026_are_never_merged(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    store
        .create_expense(priya.id, expense(food, "2025-12-24", "Cake", 1_000))
        .await
        .unwrap();
    store
        .create_expense(priya.id, expense(food, "2026-12-24", "Cake", 2_000))
        .await
        .unwrap();
    let totals = store
        .monthly_totals(priya.id, 2026, Currency::INR)
        .await
        .unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (totals[0].month, totals[0].amount),
        (month("2026-12"), inr(2_000))
    );
    let totals = store
        .monthly_totals(priya.id, 2025, Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (totals[0].month, totals[0].amount),
        (month("2025-12"), inr(1_000))
    );
    let december = store
        .category_breakdown(priya.id, month("2026-12"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(december.len(), 1);
    assert_eq!(december[0].amount, inr(2_000));
    assert_eq!(
        store
            .spent_in(priya.id, month("2025-12"), Currency::INR)
            .await
            .unwrap(),
        inr(1_000)
    );
}

async fn an_instant_is_counted_in_the_month_of_the_users_zone(store: &Store) {
    let instant = Utc.with_ymd_and_hms(2026, 3, 31, 20, 0, 0).unwrap();
    for (address, zone, expected, other) in [
        (
            "kolkata@example.com",
            UserTimeZone::KOLKATA,
            "2026-04",
            "2026-03",
        ),
        ("utc@example.com", UserTimeZone::UTC, "2026-03", "2026-04"),
    ] {
        let who = user_in(store, address, zone).await;
        let food = category(store, &who, "food").await;
        let new = NewExpense::at_instant(
            food,
            instant,
            who.time_zone,
            vendor("Late dinner"),
            inr(90_000),
        )
        .unwrap();
        let saved = store.create_expense(who.id, new).await.unwrap();
        assert_eq!(saved.occurred_at, Some(instant));
        assert_eq!(Month::of(saved.date), month(expected));
        assert_eq!(
            store
                .spent_in(who.id, month(expected), Currency::INR)
                .await
                .unwrap(),
            inr(90_000)
        );
        assert_eq!(
            store
                .spent_in(who.id, month(other), Currency::INR)
                .await
                .unwrap(),
            inr(0)
        );
        let year = store
            .monthly_totals(who.id, 2026, Currency::INR)
            .await
            .unwrap();
        assert_eq!(
            year.iter().map(|t| t.month).collect::<Vec<_>>(),
            [month(expected)]
        );
        assert_eq!(
            store
                .month_summary(who.id, month(expected), ledgerly_core::Currency::INR)
                .await
                .unwrap()
                .count,
            1,
            "{address}"
        );
    }
}

/// Random expenses, stored, then summed in SQL and in `ledgerly_core::stats`: the two agree.
async fn sql_sums_match_the_reference_maths(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let categories = store.list_categories(priya.id).await.unwrap();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let items = prop::collection::vec((0i64..800, 0usize..3, 1i64..5_000_000, any::<bool>()), 150)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let base = day("2025-06-15");
    let mut spends = Vec::new();
    for (offset, cat, minor, in_usd) in items {
        let category = &categories[cat];
        let date = base + chrono::Duration::days(offset);
        let amount = if in_usd && minor % 7 == 0 {
            Money::from_minor(minor, Currency::USD)
        } else {
            inr(minor)
        };
        let new = NewExpense::new(category.id, date, vendor("Shop"), amount).unwrap();
        store.create_expense(priya.id, new).await.unwrap();
        spends.push(Spend {
            date,
            category_id: category.id,
            category: category.name.clone(),
            amount,
        });
    }
    for year in [2025, 2026, 2027] {
        assert_eq!(
            store
                .monthly_totals(priya.id, year, Currency::INR)
                .await
                .unwrap(),
            monthly_totals(year, Currency::INR, &spends).unwrap(),
            "{year}"
        );
    }
    let mut m = month("2025-05");
    while m <= month("2027-09") {
        assert_eq!(
            store
                .category_breakdown(priya.id, m, Currency::INR)
                .await
                .unwrap(),
            category_breakdown(m, Currency::INR, &spends).unwrap(),
            "{m}"
        );
        m = m.next();
    }
    assert_eq!(
        store
            .monthly_totals(priya.id, 2026, Currency::USD)
            .await
            .unwrap(),
        monthly_totals(2026, Currency::USD, &spends).unwrap()
    );
}

async fn the_month_summary_has_every_card(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let work = category(store, &priya, "work").await;
    let food = category(store, &priya, "food").await;
    store
        .set_budget(
            priya.id,
            Budget::new(inr(100_000), month("2025-01")).unwrap(),
        )
        .await
        .unwrap();
    // April: ₹177.90. May: ₹222.00 over 12 expenses, work the largest.
    store
        .create_expense(priya.id, expense(food, "2025-04-30", "April", 17_790))
        .await
        .unwrap();
    let work_amounts = [3_000, 2_000, 2_000, 2_000, 2_000, 2_000, 2_000]; // ₹150 in 7
    for (i, minor) in work_amounts.iter().enumerate() {
        store
            .create_expense(
                priya.id,
                expense(work, &format!("2025-05-{:02}", i + 1), "Office", *minor),
            )
            .await
            .unwrap();
    }
    for (i, minor) in [1_440; 5].iter().enumerate()
    /* ₹72 in 5 */
    {
        store
            .create_expense(
                priya.id,
                expense(food, &format!("2025-05-{:02}", i + 10), "Lunch", *minor),
            )
            .await
            .unwrap();
    }
    let s = store
        .month_summary(priya.id, month("2025-05"), ledgerly_core::Currency::INR)
        .await
        .unwrap();
    assert_eq!(s.budget, Some(inr(100_000)));
    assert_eq!(s.spent, inr(22_200));
    assert_eq!(s.remaining, Some(inr(77_800)));
    assert_eq!(s.savings_percent.unwrap().to_string(), "77.80%");
    assert_eq!(s.count, 12);
    assert_eq!(s.average, Some(inr(1_850)));
    let top = s.top_category.unwrap();
    assert_eq!(
        (top.category.as_str(), top.amount, top.count),
        ("work", inr(15_000), 7)
    );
    assert_eq!(s.change.previous, inr(17_790));
    assert_eq!(s.change.amount, inr(4_410));
    assert_eq!(s.change.percent.unwrap().to_string(), "24.79%");
    // An empty month has no average, no top category, and shows the fall from May.
    let june = store
        .month_summary(priya.id, month("2025-06"), ledgerly_core::Currency::INR)
        .await
        .unwrap();
    assert_eq!(
        (june.count, june.average, june.top_category),
        (0, None, None)
    );
    assert_eq!(june.change.percent.unwrap().to_string(), "-100.00%");
}

async fn a_budget_applies_from_its_month_onwards(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    assert_eq!(
        store.budget_for(priya.id, month("2026-01")).await.unwrap(),
        None
    );
    store
        .set_budget(
            priya.id,
            Budget::new(inr(50_000), month("2026-01")).unwrap(),
        )
        .await
        .unwrap();
    store
        .set_budget(
            priya.id,
            Budget::new(inr(80_000), month("2026-06")).unwrap(),
        )
        .await
        .unwrap();
    let amount = |m: &'static str| async move {
        store
            .budget_for(priya.id, month(m))
            .await
            .unwrap()
            .map(|b| b.amount)
    };
    assert_eq!(amount("2025-12").await, None);
    assert_eq!(amount("2026-01").await, Some(inr(50_000)));
    assert_eq!(amount("2026-05").await, Some(inr(50_000)));
    assert_eq!(amount("2026-06").await, Some(inr(80_000)));
    assert_eq!(amount("2030-01").await, Some(inr(80_000)));
    // Setting the same month again replaces it.
    store
        .set_budget(
            priya.id,
            Budget::new(inr(60_000), month("2026-01")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(amount("2026-02").await, Some(inr(60_000)));
    assert_eq!(store.budget_history(priya.id).await.unwrap().len(), 2);
}

async fn other_currencies_are_not_added_in(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    store
        .create_expense(priya.id, expense(food, "2026-07-01", "Chai", 2_000))
        .await
        .unwrap();
    let mut abroad = expense(food, "2026-07-02", "Pret", 1);
    abroad.amount = Money::from_minor(850, Currency::GBP);
    store.create_expense(priya.id, abroad).await.unwrap();
    let s = store
        .month_summary(priya.id, month("2026-07"), ledgerly_core::Currency::INR)
        .await
        .unwrap();
    assert_eq!((s.spent, s.count), (inr(2_000), 1));
    assert_eq!(
        store
            .spent_in(priya.id, month("2026-07"), Currency::GBP)
            .await
            .unwrap(),
        Money::from_minor(850, Currency::GBP)
    );
}
