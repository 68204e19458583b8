//! Recurring expenses: each occurrence made once up to the owner's today (however many
//! generators run), skips, pause and resume, edits from a date on, and what deleting a rule or
//! its category does — each user's their own.

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use ledgerly_core::recurring::{NewRecurring, RecurringChanges, Schedule, Unit};
use ledgerly_core::{CategoryId, RecurringId, User, UserTimeZone};
use ledgerly_store::{ExpenseQuery, Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    a_monthly_rule_makes_each_occurrence_once_up_to_today,
    the_generator_serves_due_rules_in_their_owners_zones,
    concurrent_generators_make_each_occurrence_once,
    skips_pauses_and_ends_are_kept,
    edits_apply_from_a_date_and_a_new_schedule_starts_after_what_was_made,
    deleting_a_rule_or_its_category_keeps_the_expenses_and_others_cannot_reach_it,
);

fn rule(category: CategoryId, vendor_name: &str, minor: i64, schedule: Schedule) -> NewRecurring {
    NewRecurring {
        category_id: category,
        vendor: vendor(vendor_name),
        amount: inr(minor),
        note: None,
        schedule,
    }
}

fn monthly(start: &str, day_of_month: Option<u32>) -> Schedule {
    Schedule::new(Unit::Month, 1, day(start), None, day_of_month).unwrap()
}

/// The dates of the user's expenses made by `id`, oldest first.
async fn made_by(store: &Store, user: &User, id: RecurringId) -> Vec<String> {
    let page = store
        .list_expenses(
            user.id,
            &ExpenseQuery {
                per_page: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut days: Vec<String> = page
        .items
        .iter()
        .filter(|e| e.recurring_id == Some(id))
        .map(|e| e.date.to_string())
        .collect();
    days.sort();
    days
}

async fn a_monthly_rule_makes_each_occurrence_once_up_to_today(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let rent = store
        .create_recurring(
            priya.id,
            rule(food, "Landlord", 2_500_000, monthly("2026-01-31", None)),
        )
        .await
        .unwrap();
    assert_eq!(rent.next_on, Some(day("2026-01-31")));
    assert_eq!(rent.made, 0);
    assert_eq!(
        rent.upcoming(3),
        [day("2026-01-31"), day("2026-02-28"), day("2026-03-31")]
    );

    // Nothing before the start; then each month, on its last day when it has no 31st.
    assert_eq!(
        store
            .make_recurring(priya.id, rent.id, day("2026-01-30"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .make_recurring(priya.id, rent.id, day("2026-04-29"))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        store
            .make_recurring(priya.id, rent.id, day("2026-04-29"))
            .await
            .unwrap(),
        0,
        "a second run the same day makes nothing"
    );
    assert_eq!(
        made_by(store, &priya, rent.id).await,
        ["2026-01-31", "2026-02-28", "2026-03-31"]
    );
    let rent = store.get_recurring(priya.id, rent.id).await.unwrap();
    assert_eq!(rent.made, 3);
    assert_eq!(rent.next_on, Some(day("2026-04-30")));
    assert_eq!(rent.last_passed(), Some(day("2026-03-31")));

    // The expenses are ordinary ones: in the month's statistics, with the rule's fields.
    let april = store
        .make_recurring(priya.id, rent.id, day("2026-04-30"))
        .await
        .unwrap();
    assert_eq!(april, 1);
    let page = store
        .list_expenses(priya.id, &ExpenseQuery::default())
        .await
        .unwrap();
    let newest = &page.items[0];
    assert_eq!(newest.date, day("2026-04-30"));
    assert_eq!(newest.vendor, vendor("Landlord"));
    assert_eq!(newest.amount, inr(2_500_000));
    assert_eq!(newest.category_id, food);
    assert!(!newest.needs_review);
    assert_eq!(
        store.list_recurring(priya.id).await.unwrap()[0].made,
        4,
        "the list counts what it made"
    );
}

async fn the_generator_serves_due_rules_in_their_owners_zones(store: &Store) {
    let ahead = user_in(
        store,
        "kiri@example.com",
        UserTimeZone::parse("Pacific/Kiritimati").unwrap(),
    )
    .await;
    let utc = user_in(store, "una@example.com", UserTimeZone::UTC).await;
    let daily = Schedule::new(Unit::Day, 1, day("2026-06-01"), None, None).unwrap();
    let ahead_food = category(store, &ahead, "food").await;
    let utc_food = category(store, &utc, "food").await;
    let coffee = store
        .create_recurring(ahead.id, rule(ahead_food, "Coffee", 300, daily))
        .await
        .unwrap();
    let tea = store
        .create_recurring(utc.id, rule(utc_food, "Tea", 200, daily))
        .await
        .unwrap();
    let mut paused = store
        .create_recurring(utc.id, rule(utc_food, "Paused", 200, daily))
        .await
        .unwrap();
    paused = store.pause_recurring(utc.id, paused.id).await.unwrap();
    assert!(paused.paused);

    // 2026-06-02 12:00 UTC is already 06-03 at UTC+14.
    let now = Utc.with_ymd_and_hms(2026, 6, 2, 12, 0, 0).unwrap();
    assert_eq!(store.make_due_recurring(now, 100).await.unwrap(), 3 + 2);
    assert_eq!(
        made_by(store, &ahead, coffee.id).await,
        ["2026-06-01", "2026-06-02", "2026-06-03"]
    );
    assert_eq!(
        made_by(store, &utc, tea.id).await,
        ["2026-06-01", "2026-06-02"]
    );
    assert!(made_by(store, &utc, paused.id).await.is_empty());
    assert_eq!(store.make_due_recurring(now, 100).await.unwrap(), 0);
}

async fn concurrent_generators_make_each_occurrence_once(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let daily = Schedule::new(Unit::Day, 1, day("2026-05-01"), None, None).unwrap();
    let mut ids = HashSet::new();
    for i in 0..12 {
        let created = store
            .create_recurring(priya.id, rule(food, &format!("Daily {i}"), 100, daily))
            .await
            .unwrap();
        ids.insert(created.id);
    }
    // 2026-05-01 to 05-30 in Kolkata: 30 occurrences each.
    let now = Utc.with_ymd_and_hms(2026, 5, 30, 12, 0, 0).unwrap();
    let mut generators = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        generators.push(tokio::spawn(async move {
            store.make_due_recurring(now, 100).await.unwrap()
        }));
    }
    let mut made = 0;
    for generator in generators {
        made += generator.await.unwrap();
    }
    assert_eq!(made, 12 * 30, "each occurrence made by one generator");
    let page = store
        .list_expenses(
            priya.id,
            &ExpenseQuery {
                per_page: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 12 * 30);
    let mut seen = HashSet::new();
    for expense in &page.items {
        let id = expense.recurring_id.unwrap();
        assert!(ids.contains(&id));
        assert!(seen.insert((id, expense.date)), "made twice: {expense:?}");
    }
}

async fn skips_pauses_and_ends_are_kept(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let weekly = Schedule::new(
        Unit::Week,
        1,
        day("2026-03-02"),
        Some(day("2026-04-06")),
        None,
    )
    .unwrap();
    let gym = store
        .create_recurring(priya.id, rule(food, "Gym", 1_000, weekly))
        .await
        .unwrap();

    // Skip a coming Monday; a day that is not one of its Mondays is refused with the next ones.
    let skipped = store
        .skip_recurring(priya.id, gym.id, day("2026-03-09"))
        .await
        .unwrap();
    assert_eq!(skipped.skips, [day("2026-03-09")]);
    assert_eq!(skipped.upcoming(2), [day("2026-03-02"), day("2026-03-16")]);
    let err = store
        .skip_recurring(priya.id, gym.id, day("2026-03-10"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("2026-03-10 is not one of its coming occurrences") && m.contains("2026-03-02")),
        "{err}"
    );
    store
        .skip_recurring(priya.id, gym.id, day("2026-03-16"))
        .await
        .unwrap();
    let unskipped = store
        .unskip_recurring(priya.id, gym.id, day("2026-03-16"))
        .await
        .unwrap();
    assert_eq!(unskipped.skips, [day("2026-03-09")]);
    assert!(matches!(
        store
            .unskip_recurring(priya.id, gym.id, day("2026-03-23"))
            .await,
        Err(StoreError::NotFound("skipped occurrence"))
    ));

    // The skipped Monday is passed over, and a made one can no longer be skipped.
    store
        .make_recurring(priya.id, gym.id, day("2026-03-16"))
        .await
        .unwrap();
    assert_eq!(
        made_by(store, &priya, gym.id).await,
        ["2026-03-02", "2026-03-16"]
    );
    let gym = store.get_recurring(priya.id, gym.id).await.unwrap();
    assert!(gym.skips.is_empty(), "skips passed are gone");
    assert!(
        store
            .skip_recurring(priya.id, gym.id, day("2026-03-16"))
            .await
            .is_err()
    );

    // Paused, nothing is made; resumed on 04-01, the 03-23 and 03-30 Mondays are passed over.
    store.pause_recurring(priya.id, gym.id).await.unwrap();
    assert_eq!(
        store
            .make_recurring(priya.id, gym.id, day("2026-03-31"))
            .await
            .unwrap(),
        0
    );
    let (gym, passed) = store
        .resume_recurring(priya.id, gym.id, day("2026-04-01"))
        .await
        .unwrap();
    assert_eq!(passed, 2);
    assert!(!gym.paused);
    assert_eq!(gym.next_on, Some(day("2026-04-06")));

    // The end date counts; after it, the rule has nothing left.
    store
        .make_recurring(priya.id, gym.id, day("2026-05-01"))
        .await
        .unwrap();
    assert_eq!(
        made_by(store, &priya, gym.id).await,
        ["2026-03-02", "2026-03-16", "2026-04-06"]
    );
    let gym = store.get_recurring(priya.id, gym.id).await.unwrap();
    assert_eq!(gym.next_on, None);
    assert!(gym.upcoming(3).is_empty());
    assert!(
        store
            .upcoming_recurring(priya.id, day("2026-01-01"), day("2026-12-31"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn edits_apply_from_a_date_and_a_new_schedule_starts_after_what_was_made(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    let phone = store
        .create_recurring(
            priya.id,
            rule(food, "Phone plan", 49_900, monthly("2026-01-05", None)),
        )
        .await
        .unwrap();
    store
        .make_recurring(priya.id, phone.id, day("2026-04-10"))
        .await
        .unwrap();

    // From March on: March and April's expenses change, January and February's stay.
    let (changed, count) = store
        .update_recurring(
            priya.id,
            phone.id,
            RecurringChanges {
                amount: Some(inr(59_900)),
                category_id: Some(work),
                from: Some(day("2026-03-01")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(changed.amount, inr(59_900));
    let page = store
        .list_expenses(priya.id, &ExpenseQuery::default())
        .await
        .unwrap();
    let by_day = |d: &str| page.items.iter().find(|e| e.date == day(d)).unwrap();
    assert_eq!(by_day("2026-02-05").amount, inr(49_900));
    assert_eq!(by_day("2026-02-05").category_id, food);
    assert_eq!(by_day("2026-03-05").amount, inr(59_900));
    assert_eq!(by_day("2026-04-05").category_id, work);

    // Without `from`, only what it makes from now on changes.
    let (_, count) = store
        .update_recurring(
            priya.id,
            phone.id,
            RecurringChanges {
                vendor: Some(vendor("Phone")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(count, 0);

    // A new rhythm must start after April 5th, the last occurrence made.
    let err = store
        .update_recurring(
            priya.id,
            phone.id,
            RecurringChanges {
                schedule: Some(monthly("2026-04-05", Some(20))),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("up to 2026-04-05") && m.contains("from 2026-04-06 on")),
        "{err}"
    );
    let (moved, _) = store
        .update_recurring(
            priya.id,
            phone.id,
            RecurringChanges {
                schedule: Some(monthly("2026-04-06", Some(20))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.next_on, Some(day("2026-04-20")));
    store
        .make_recurring(priya.id, phone.id, day("2026-05-20"))
        .await
        .unwrap();
    assert_eq!(
        made_by(store, &priya, phone.id).await,
        [
            "2026-01-05",
            "2026-02-05",
            "2026-03-05",
            "2026-04-05",
            "2026-04-20",
            "2026-05-20"
        ]
    );

    // Moving only the end keeps its place.
    let ends = Schedule {
        ends_on: Some(day("2026-06-30")),
        ..store
            .get_recurring(priya.id, phone.id)
            .await
            .unwrap()
            .schedule
    };
    let (ending, _) = store
        .update_recurring(
            priya.id,
            phone.id,
            RecurringChanges {
                schedule: Some(ends),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ending.next_on, Some(day("2026-06-20")));
    assert_eq!(ending.upcoming(5), [day("2026-06-20")]);
}

async fn deleting_a_rule_or_its_category_keeps_the_expenses_and_others_cannot_reach_it(
    store: &Store,
) {
    let priya = user(store, "priya@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let food = category(store, &priya, "food").await;
    let work = category(store, &priya, "work").await;
    let omars_food = category(store, &omar, "food").await;
    let rent = store
        .create_recurring(
            priya.id,
            rule(food, "Landlord", 2_500_000, monthly("2026-01-01", None)),
        )
        .await
        .unwrap();
    store
        .make_recurring(priya.id, rent.id, day("2026-02-01"))
        .await
        .unwrap();

    // Another user's category, and another user's reach.
    assert!(matches!(
        store
            .create_recurring(
                priya.id,
                rule(omars_food, "X", 1, monthly("2026-01-01", None))
            )
            .await,
        Err(StoreError::NotFound("category"))
    ));
    assert!(matches!(
        store.get_recurring(omar.id, rent.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_recurring(omar.id, rent.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.pause_recurring(omar.id, rent.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .skip_recurring(omar.id, rent.id, day("2026-03-01"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .update_recurring(
                omar.id,
                rent.id,
                RecurringChanges {
                    amount: Some(inr(1)),
                    from: Some(day("2026-01-01")),
                    ..Default::default()
                }
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .make_recurring(omar.id, rent.id, day("2026-09-01"))
            .await
            .unwrap(),
        0
    );
    assert!(store.list_recurring(omar.id).await.unwrap().is_empty());
    assert_eq!(made_by(store, &priya, rent.id).await.len(), 2);

    // The category cannot go while the rule uses it, unless the rule moves with its expenses.
    assert!(matches!(
        store.delete_category(priya.id, food, None).await,
        Err(StoreError::CategoryInUse { .. } | StoreError::CategoryInRecurring { .. })
    ));
    store
        .delete_category(priya.id, food, Some(work))
        .await
        .unwrap();
    let rent = store.get_recurring(priya.id, rent.id).await.unwrap();
    assert_eq!(rent.category_id, work);
    let bare = store
        .create_recurring(
            priya.id,
            rule(work, "Later", 100, monthly("2027-01-01", None)),
        )
        .await
        .unwrap();
    let entertainment = category(store, &priya, "entertainment").await;
    store
        .update_recurring(
            priya.id,
            bare.id,
            RecurringChanges {
                category_id: Some(entertainment),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store.delete_category(priya.id, entertainment, None).await,
        Err(StoreError::CategoryInRecurring { count: 1 })
    ));

    // Deleting the rule leaves its expenses, unmarked.
    store.delete_recurring(priya.id, rent.id).await.unwrap();
    let page = store
        .list_expenses(priya.id, &ExpenseQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert!(page.items.iter().all(|e| e.recurring_id.is_none()));
    assert!(matches!(
        store.get_recurring(priya.id, rent.id).await,
        Err(StoreError::NotFound(_))
    ));
}
