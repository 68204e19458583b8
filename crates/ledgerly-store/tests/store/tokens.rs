use chrono::{Duration, Utc};
use ledgerly_core::token::{MAX_PER_USER, TokenScope};
use ledgerly_core::{ApiTokenId, TokenName};
use ledgerly_store::{NewApiToken, Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    a_token_finds_its_user_until_it_expires_and_records_its_use,
    tokens_are_listed_and_revoked_by_their_owner_alone,
    names_are_unique_per_account_and_an_account_holds_a_bounded_number,
    a_password_change_leaves_tokens_and_deleting_the_account_removes_them,
);

fn new(name: &str, scope: TokenScope, hash: &'static [u8], days: i64) -> NewApiToken<'static> {
    NewApiToken {
        name: TokenName::parse(name).unwrap(),
        scope,
        lasts: Duration::days(days),
        token_hash: hash,
    }
}

async fn a_token_finds_its_user_until_it_expires_and_records_its_use(store: &Store) {
    let user = user(store, "priya@example.com").await;
    let token = store
        .create_api_token(
            user.id,
            new("backup script", TokenScope::Read, b"read-hash", 30),
        )
        .await
        .unwrap();
    assert_eq!(token.last_used_at, None);
    assert_eq!(token.scope, TokenScope::Read);

    let now = Utc::now();
    let (found, found_user) = store
        .api_token_user(b"read-hash", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_user, user);
    assert_eq!(found.id, token.id);
    let first_use = found.last_used_at.unwrap();
    // A use within the minute does not write again; a later one does.
    let (again, _) = store
        .api_token_user(b"read-hash", now + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.last_used_at, Some(first_use));
    let later = now + Duration::minutes(5);
    store.api_token_user(b"read-hash", later).await.unwrap();
    let listed = store.list_api_tokens(user.id).await.unwrap();
    assert!(listed[0].last_used_at.unwrap() > first_use, "{listed:?}");

    assert!(
        store
            .api_token_user(b"read-hash", token.expires_at)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .api_token_user(b"unknown", now)
            .await
            .unwrap()
            .is_none()
    );
    // An expired token is still listed, to be seen and revoked.
    assert!(listed[0].is_expired(token.expires_at));
}

async fn tokens_are_listed_and_revoked_by_their_owner_alone(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let first = store
        .create_api_token(priya.id, new("first", TokenScope::Read, b"one", 1))
        .await
        .unwrap();
    let second = store
        .create_api_token(priya.id, new("second", TokenScope::ReadWrite, b"two", 1))
        .await
        .unwrap();
    store
        .create_api_token(omar.id, new("first", TokenScope::Read, b"omar's", 1))
        .await
        .unwrap();
    let listed = store.list_api_tokens(priya.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [second.id, first.id],
        "newest first, none of Omar's"
    );

    assert!(matches!(
        store.revoke_api_token(omar.id, first.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .api_token_user(b"one", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
    store.revoke_api_token(priya.id, first.id).await.unwrap();
    assert!(
        store
            .api_token_user(b"one", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .api_token_user(b"two", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store.revoke_api_token(priya.id, first.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.revoke_api_token(priya.id, ApiTokenId::new()).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn names_are_unique_per_account_and_an_account_holds_a_bounded_number(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    store
        .create_api_token(priya.id, new("Phone", TokenScope::Read, b"phone", 1))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_api_token(priya.id, new("phone", TokenScope::ReadWrite, b"phone-2", 1))
            .await,
        Err(StoreError::TokenNameTaken(name)) if name == "phone"
    ));
    let hashes: Vec<Vec<u8>> = (1..MAX_PER_USER)
        .map(|n| format!("h{n}").into_bytes())
        .collect();
    for (n, hash) in hashes.iter().enumerate() {
        store
            .create_api_token(
                priya.id,
                NewApiToken {
                    name: TokenName::parse(&format!("token {n}")).unwrap(),
                    scope: TokenScope::Read,
                    lasts: Duration::days(1),
                    token_hash: hash,
                },
            )
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .create_api_token(priya.id, new("one too many", TokenScope::Read, b"over", 1))
            .await,
        Err(StoreError::TooManyTokens(max)) if max == MAX_PER_USER
    ));
    assert_eq!(
        store.list_api_tokens(priya.id).await.unwrap().len() as u64,
        MAX_PER_USER
    );
}

async fn a_password_change_leaves_tokens_and_deleting_the_account_removes_them(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    store
        .create_api_token(priya.id, new("script", TokenScope::ReadWrite, b"script", 1))
        .await
        .unwrap();
    store
        .set_password_hash(priya.id, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .await
        .unwrap();
    store.revoke_other_sessions(priya.id, None).await.unwrap();
    assert!(
        store
            .api_token_user(b"script", Utc::now())
            .await
            .unwrap()
            .is_some()
    );
    store.delete_user(priya.id).await.unwrap();
    assert!(
        store
            .api_token_user(b"script", Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_api_tokens(priya.id).await.unwrap().is_empty());
}
