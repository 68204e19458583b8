use chrono::{Duration, SubsecRound as _, Utc};
use ledgerly_store::Store;

use crate::harness::*;

on_both_backends!(
    store:
    a_session_finds_its_user_until_it_expires,
    logout_revokes_only_that_session,
    a_password_change_can_revoke_every_other_session,
    stale_sessions_are_swept,
    an_unused_session_ends_after_the_idle_limit,
);

async fn a_session_finds_its_user_until_it_expires(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let now = Utc::now();
    let session = store
        .create_session(user.id, b"hash-one", now + Duration::hours(1))
        .await
        .unwrap();
    let (found, found_user) = store
        .session_user(b"hash-one", now, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, session);
    assert_eq!(found_user, user);
    assert!(
        store
            .session_user(b"hash-one", now + Duration::hours(1), None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_user(b"unknown", now, None)
            .await
            .unwrap()
            .is_none()
    );
}

async fn logout_revokes_only_that_session(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let later = Utc::now() + Duration::hours(1);
    store
        .create_session(user.id, b"phone", later)
        .await
        .unwrap();
    store
        .create_session(user.id, b"laptop", later)
        .await
        .unwrap();
    assert!(store.revoke_session(b"phone").await.unwrap());
    assert!(!store.revoke_session(b"phone").await.unwrap());
    assert!(
        store
            .session_user(b"phone", Utc::now(), None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_user(b"laptop", Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_password_change_can_revoke_every_other_session(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let other = crate::harness::user(store, "ravi@example.com").await;
    let later = Utc::now() + Duration::hours(1);
    let current = store
        .create_session(user.id, b"current", later)
        .await
        .unwrap();
    store
        .create_session(user.id, b"old-1", later)
        .await
        .unwrap();
    store
        .create_session(user.id, b"old-2", later)
        .await
        .unwrap();
    store
        .create_session(other.id, b"someone-else", later)
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_other_sessions(user.id, Some(current.id))
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .session_user(b"current", Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .session_user(b"old-1", Utc::now(), None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_user(b"someone-else", Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.revoke_other_sessions(user.id, None).await.unwrap(), 1);
    assert!(
        store
            .session_user(b"current", Utc::now(), None)
            .await
            .unwrap()
            .is_none()
    );
}

async fn stale_sessions_are_swept(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let now = Utc::now();
    store
        .create_session(user.id, b"expired", now - Duration::minutes(1))
        .await
        .unwrap();
    store
        .create_session(user.id, b"revoked", now + Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session(user.id, b"live", now + Duration::hours(1))
        .await
        .unwrap();
    store.revoke_session(b"revoked").await.unwrap();
    assert_eq!(
        store
            .delete_stale_sessions(Utc::now() + Duration::seconds(1), None)
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .session_user(b"live", Utc::now(), None)
            .await
            .unwrap()
            .is_some()
    );
}

async fn an_unused_session_ends_after_the_idle_limit(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let start = Utc::now();
    let day = start + Duration::days(1);
    let hour = Some(Duration::hours(1));
    store.create_session(user.id, b"s", day).await.unwrap();
    let minutes = |m: i64| start + Duration::minutes(m);
    // Each use within the hour keeps it alive and moves the hour on.
    for at in [30, 80] {
        let (session, _) = store
            .session_user(b"s", minutes(at), hour)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("ended at {at} minutes"));
        assert_eq!(session.last_seen_at, minutes(at).trunc_subsecs(6));
    }
    // Uses within a minute of the last write no write again.
    let (session, _) = store
        .session_user(b"s", minutes(80) + Duration::seconds(20), hour)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.last_seen_at, minutes(80).trunc_subsecs(6));
    // Seventy minutes unused: ended, though its lifetime is not up.
    assert!(
        store
            .session_user(b"s", minutes(151), hour)
            .await
            .unwrap()
            .is_none()
    );
    // A second session, last used at the start, is swept with the idle ones; the first was
    // last seen at 80 minutes.
    store.create_session(user.id, b"t", day).await.unwrap();
    assert_eq!(
        store
            .delete_stale_sessions(minutes(100), hour)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .session_user(b"s", minutes(100), hour)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .session_user(b"t", minutes(100), None)
            .await
            .unwrap()
            .is_none()
    );
}
