use ledgerly_core::{Currency, PersonName, UserTimeZone};
use ledgerly_store::{ProfileChanges, Store, StoreError};
use secrecy::ExposeSecret as _;

use crate::harness::*;

on_both_backends!(
    store:
    a_new_account_starts_with_the_default_categories,
    an_email_differing_only_in_case_is_a_conflict,
    credentials_are_found_by_email_in_any_case,
    profile_changes_touch_only_the_given_fields,
    password_and_email_changes_are_kept,
    deleting_an_account_removes_all_its_rows_and_nothing_else,
);

async fn a_new_account_starts_with_the_default_categories(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let names: Vec<String> = store
        .list_categories(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            assert!(c.is_default);
            c.name.to_string()
        })
        .collect();
    assert_eq!(names, ["entertainment", "food", "work"]);
    assert_eq!(store.get_user(user.id).await.unwrap(), user);
}

async fn an_email_differing_only_in_case_is_a_conflict(store: &Store) {
    user(store, "priya@example.com").await;
    let again = store
        .create_user(ledgerly_store::NewUser {
            email: email("PRIYA@Example.COM"),
            name: PersonName::parse("Someone Else").unwrap(),
            password_hash: "x".into(),
            currency: Currency::INR,
            time_zone: UserTimeZone::UTC,
        })
        .await;
    assert!(matches!(again, Err(StoreError::EmailTaken)), "{again:?}");
    // Nothing of the refused account was left behind.
    let other = user(store, "ravi@example.com").await;
    let taken = store.set_email(other.id, &email("Priya@EXAMPLE.com")).await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
}

async fn credentials_are_found_by_email_in_any_case(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let found = store
        .credentials(&email("Priya@Example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, user);
    assert!(
        found
            .password_hash
            .expose_secret()
            .starts_with("$argon2id$")
    );
    assert!(
        !format!("{found:?}").contains("argon2id"),
        "Debug must hide the hash"
    );
    assert!(
        store
            .credentials(&email("nobody@example.com"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn profile_changes_touch_only_the_given_fields(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let changed = store
        .update_profile(
            user.id,
            ProfileChanges {
                time_zone: Some(UserTimeZone::parse("Europe/Berlin").unwrap()),
                ..ProfileChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.time_zone.name(), "Europe/Berlin");
    assert_eq!(changed.name, user.name);
    assert_eq!(changed.currency, Currency::INR);
    let changed = store
        .update_profile(
            user.id,
            ProfileChanges {
                name: Some(PersonName::parse("Priya S").unwrap()),
                currency: Some(Currency::EUR),
                time_zone: None,
                theme: Some(ledgerly_core::Theme::Dark),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name.as_str(), "Priya S");
    assert_eq!(changed.currency, Currency::EUR);
    assert_eq!(changed.time_zone.name(), "Europe/Berlin");
    let missing = store
        .update_profile(ledgerly_core::UserId::new(), ProfileChanges::default())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound("user"))));
}

async fn password_and_email_changes_are_kept(store: &Store) {
    let user = user(store, "priya@example.com").await;
    store
        .set_password_hash(user.id, "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(store.password_hash(user.id).await.unwrap(), "$argon2id$new");
    let moved = store
        .set_email(user.id, &email("p@example.org"))
        .await
        .unwrap();
    assert_eq!(moved.email.as_str(), "p@example.org");
    assert!(
        store
            .credentials(&email("priya@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .credentials(&email("p@example.org"))
            .await
            .unwrap()
            .is_some()
    );
}

async fn deleting_an_account_removes_all_its_rows_and_nothing_else(store: &Store) {
    // The first account, the administrator, is the one kept.
    let kept = user(store, "kept@example.com").await;
    let gone = user(store, "gone@example.com").await;
    for who in [&gone, &kept] {
        let food = category(store, who, "food").await;
        let receipt = crate::receipts::upload(store, who, "a").await;
        store
            .create_expense(who.id, expense(food, "2026-01-05", "Cafe", 500))
            .await
            .unwrap();
        store
            .enqueue_ocr_job(who.id, receipt.id, 3, chrono::Utc::now())
            .await
            .unwrap();
        store
            .create_session(
                who.id,
                who.id.to_string().as_bytes(),
                chrono::Utc::now() + chrono::Duration::days(1),
            )
            .await
            .unwrap();
        store
            .set_budget(
                who.id,
                ledgerly_core::Budget::new(inr(100_000), "2026-01".parse().unwrap()).unwrap(),
            )
            .await
            .unwrap();
    }
    let keys = store.delete_user(gone.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].contains(&gone.id.to_string()));
    assert!(matches!(
        store.get_user(gone.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .credentials(&email("gone@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_categories(gone.id).await.unwrap().is_empty());
    // The other account is whole.
    assert_eq!(store.list_categories(kept.id).await.unwrap().len(), 3);
    assert_eq!(
        store
            .list_expenses(kept.id, &Default::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(store.list_receipts(kept.id, 1, 10).await.unwrap().total, 1);
    assert!(
        store
            .session_user(kept.id.to_string().as_bytes(), chrono::Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.ocr_job_counts().await.unwrap().queued, 1);
    assert!(matches!(
        store.delete_user(gone.id).await,
        Err(StoreError::NotFound(_))
    ));
}
