//! Every currency counted: expenses in other currencies than the account's are converted at the
//! rate of their day (the user's own, else the ECB's when the user uses them) in every statistic;
//! what no rate converts is left out and reported; a change of account currency re-computes.

use ledgerly_core::rates::{EcbRate, Rate, UserRate};
use ledgerly_core::{Currency, Money, Month, NewExpense};
use ledgerly_store::{ProfileChanges, Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    statistics_convert_other_currencies_at_the_rate_of_their_day,
    the_ecb_rates_convert_what_the_users_do_not_once_turned_on,
    rates_are_kept_per_user_and_replaced_per_day,
);

fn rate(text: &str) -> Rate {
    Rate::parse(text).unwrap()
}

fn month(text: &str) -> Month {
    text.parse().unwrap()
}

fn foreign(category: ledgerly_core::CategoryId, date: &str, minor: i64, c: Currency) -> NewExpense {
    NewExpense::new(
        category,
        day(date),
        vendor("Abroad"),
        Money::from_minor(minor, c),
    )
    .unwrap()
}

async fn statistics_convert_other_currencies_at_the_rate_of_their_day(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    store
        .create_expense(priya.id, expense(food, "2026-03-02", "Cafe", 10_000))
        .await
        .unwrap();
    // $10 on March 3rd and $20 on March 20th (work), €5 on March 4th.
    for (date, minor, c, category) in [
        ("2026-03-03", 1_000, Currency::USD, food),
        ("2026-03-20", 2_000, Currency::USD, work),
        ("2026-03-04", 500, Currency::EUR, food),
    ] {
        store
            .create_expense(priya.id, foreign(category, date, minor, c))
            .await
            .unwrap();
    }

    // No rates: only the rupees count, and the rest is reported.
    let summary = store
        .month_summary(priya.id, month("2026-03"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(10_000));
    assert_eq!(summary.count, 1);
    let missing: Vec<(&str, u64, i64)> = summary
        .not_converted
        .iter()
        .map(|n| (n.currency.code(), n.count, n.amount.minor()))
        .collect();
    assert_eq!(missing, [("EUR", 1, 500), ("USD", 2, 3_000)]);

    // 1 USD = 80 INR from March 1st, 85 from March 15th: $10 → ₹800, $20 → ₹1,700.
    for (date, text) in [("2026-03-01", "80"), ("2026-03-15", "85")] {
        store
            .set_user_rate(
                priya.id,
                &UserRate {
                    base: Currency::USD,
                    quote: Currency::INR,
                    day: day(date),
                    rate: rate(text),
                },
            )
            .await
            .unwrap();
    }
    let (summary, breakdown) = store
        .month_overview(priya.id, month("2026-03"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(10_000 + 80_000 + 170_000));
    assert_eq!(summary.count, 3);
    assert_eq!(summary.not_converted.len(), 1);
    assert_eq!(summary.not_converted[0].currency, Currency::EUR);
    let by_category: Vec<(&str, i64, u64)> = breakdown
        .iter()
        .map(|t| (t.category.as_str(), t.amount.minor(), t.count))
        .collect();
    assert_eq!(by_category, [("work", 170_000, 1), ("food", 90_000, 2)]);
    let yearly = store
        .monthly_totals(priya.id, 2026, Currency::INR)
        .await
        .unwrap();
    let march: i64 = yearly
        .iter()
        .filter(|t| t.month == month("2026-03"))
        .map(|t| t.amount.minor())
        .sum();
    assert_eq!(march, 260_000);
    assert_eq!(
        store
            .spent_in(priya.id, month("2026-03"), Currency::INR)
            .await
            .unwrap(),
        inr(260_000)
    );
    // Entered the other way round it counts too: 1 INR = 0.0125 EUR, so €5 = ₹400.
    store
        .set_user_rate(
            priya.id,
            &UserRate {
                base: Currency::INR,
                quote: Currency::EUR,
                day: day("2026-01-01"),
                rate: rate("0.0125"),
            },
        )
        .await
        .unwrap();
    let summary = store
        .month_summary(priya.id, month("2026-03"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(300_000));
    assert!(summary.not_converted.is_empty());

    // The account in dollars: the rupees and euros are converted, the dollars count as they are.
    let priya = store
        .update_profile(
            priya.id,
            ProfileChanges {
                currency: Some(Currency::USD),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let summary = store
        .month_summary(priya.id, month("2026-03"), priya.currency)
        .await
        .unwrap();
    // ₹100 at 1/80 = $1.25; $30; € has no USD rate.
    assert_eq!(summary.spent, Money::from_minor(125 + 3_000, Currency::USD));
    assert_eq!(summary.not_converted.len(), 1);
    assert_eq!(summary.not_converted[0].currency, Currency::EUR);
}

async fn the_ecb_rates_convert_what_the_users_do_not_once_turned_on(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let food = category(store, &priya, "food").await;
    store
        .create_expense(priya.id, foreign(food, "2026-05-09", 1_000, Currency::EUR))
        .await
        .unwrap();
    // Friday's rates stand for the weekend.
    let saved = store
        .save_ecb_rates(&[
            EcbRate {
                currency: Currency::INR,
                day: day("2026-05-08"),
                per_euro: rate("90"),
            },
            EcbRate {
                currency: Currency::USD,
                day: day("2026-05-08"),
                per_euro: rate("1.1"),
            },
        ])
        .await
        .unwrap();
    assert_eq!(saved, 2);
    assert!(!store.ecb_rates_wanted().await.unwrap());
    let summary = store
        .month_summary(priya.id, month("2026-05"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(0), "not used until turned on");

    store.set_uses_ecb_rates(priya.id, true).await.unwrap();
    assert!(store.uses_ecb_rates(priya.id).await.unwrap());
    assert!(!store.uses_ecb_rates(omar.id).await.unwrap());
    assert!(store.ecb_rates_wanted().await.unwrap());
    let summary = store
        .month_summary(priya.id, month("2026-05"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(90_000));
    // A day fetched again replaces its rates.
    store
        .save_ecb_rates(&[EcbRate {
            currency: Currency::INR,
            day: day("2026-05-08"),
            per_euro: rate("91"),
        }])
        .await
        .unwrap();
    let summary = store
        .month_summary(priya.id, month("2026-05"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(91_000));
    let (latest, _) = store.latest_ecb_rates().await.unwrap().unwrap();
    assert_eq!(latest, day("2026-05-08"));

    // The user's own rate comes first.
    store
        .set_user_rate(
            priya.id,
            &UserRate {
                base: Currency::EUR,
                quote: Currency::INR,
                day: day("2026-05-01"),
                rate: rate("88"),
            },
        )
        .await
        .unwrap();
    let summary = store
        .month_summary(priya.id, month("2026-05"), Currency::INR)
        .await
        .unwrap();
    assert_eq!(summary.spent, inr(88_000));

    // Tag totals count other currencies converted too: €1 at 88 beside ₹5 under one tag.
    let trip = vec![ledgerly_core::TagName::parse("trip").unwrap()];
    let mut euro = foreign(food, "2026-05-10", 100, Currency::EUR);
    euro.tags = trip.clone();
    store.create_expense(priya.id, euro).await.unwrap();
    let mut rupees = expense(food, "2026-05-11", "Chai", 500);
    rupees.tags = trip;
    store.create_expense(priya.id, rupees).await.unwrap();
    let totals = store
        .tag_totals(
            priya.id,
            day("2026-05-01"),
            day("2026-05-31"),
            Currency::INR,
        )
        .await
        .unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].amount, inr(8_800 + 500));
    assert_eq!(totals[0].count, 2);
}

async fn rates_are_kept_per_user_and_replaced_per_day(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let usd = |text: &str, date: &str| UserRate {
        base: Currency::USD,
        quote: Currency::INR,
        day: day(date),
        rate: rate(text),
    };
    store
        .set_user_rate(priya.id, &usd("80", "2026-01-01"))
        .await
        .unwrap();
    store
        .set_user_rate(priya.id, &usd("82.5", "2026-01-01"))
        .await
        .unwrap();
    store
        .set_user_rate(priya.id, &usd("83", "2026-02-01"))
        .await
        .unwrap();
    let rates = store.list_user_rates(priya.id).await.unwrap();
    assert_eq!(rates, [usd("83", "2026-02-01"), usd("82.5", "2026-01-01")]);
    assert!(store.list_user_rates(omar.id).await.unwrap().is_empty());
    assert!(matches!(
        store
            .delete_user_rate(omar.id, Currency::USD, Currency::INR, day("2026-01-01"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .delete_user_rate(priya.id, Currency::USD, Currency::INR, day("2026-01-01"))
        .await
        .unwrap();
    assert_eq!(store.list_user_rates(priya.id).await.unwrap().len(), 1);
    assert!(matches!(
        store
            .set_user_rate(
                priya.id,
                &UserRate {
                    base: Currency::INR,
                    ..usd("1", "2026-01-01")
                }
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
}
