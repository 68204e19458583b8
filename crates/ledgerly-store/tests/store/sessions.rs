use chrono::{Duration, Utc};
use ledgerly_store::Store;

use crate::harness::*;

on_both_backends!(
    a_session_finds_its_user_until_it_expires,
    logout_revokes_only_that_session,
    a_password_change_can_revoke_every_other_session,
    stale_sessions_are_swept,
);

async fn a_session_finds_its_user_until_it_expires(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let now = Utc::now();
    let session = store
        .create_session(user.id, b"hash-one", now + Duration::hours(1))
        .await
        .unwrap();
    let (found, found_user) = store.session_user(b"hash-one", now).await.unwrap().unwrap();
    assert_eq!(found, session);
    assert_eq!(found_user, user);
    assert!(
        store
            .session_user(b"hash-one", now + Duration::hours(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.session_user(b"unknown", now).await.unwrap().is_none());
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
            .session_user(b"phone", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_user(b"laptop", Utc::now())
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
            .session_user(b"current", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .session_user(b"old-1", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session_user(b"someone-else", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.revoke_other_sessions(user.id, None).await.unwrap(), 1);
    assert!(
        store
            .session_user(b"current", Utc::now())
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
            .delete_stale_sessions(Utc::now() + Duration::seconds(1))
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .session_user(b"live", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
}
