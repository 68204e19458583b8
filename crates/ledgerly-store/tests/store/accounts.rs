use chrono::{Duration, Utc};
use ledgerly_core::token::TokenScope;
use ledgerly_core::{Currency, PersonName, ReceiptId, ReceiptKind, Role, TokenName, UserTimeZone};
use ledgerly_store::{
    AccountChanges, NewApiToken, NewInvite, NewReceipt, NewUser, Store, StoreError,
};

use crate::harness::*;

on_both_backends!(
    store:
    the_first_account_is_the_administrator_and_the_list_counts_what_each_stores,
    an_invite_makes_one_account_before_it_expires_whatever_the_email,
    a_disabled_account_cannot_sign_in_and_the_instance_keeps_an_administrator,
    a_reset_link_sets_the_password_once_and_ends_every_session_and_link,
);

fn newcomer(address: &str) -> NewUser {
    NewUser {
        email: email(address),
        name: PersonName::parse("Newcomer").unwrap(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        currency: Currency::INR,
        time_zone: UserTimeZone::UTC,
    }
}

fn invite(hash: &'static [u8], lasts: Duration) -> NewInvite<'static> {
    NewInvite {
        note: "for a newcomer".into(),
        created_by: None,
        lasts,
        token_hash: hash,
    }
}

async fn the_first_account_is_the_administrator_and_the_list_counts_what_each_stores(
    store: &Store,
) {
    let asha = user(store, "asha@example.com").await;
    let omar = user(store, "omar@example.com").await;
    assert_eq!(asha.role, Role::Admin);
    assert_eq!(omar.role, Role::Member);
    assert_eq!(store.get_user(asha.id).await.unwrap().role, Role::Admin);

    let food = category(store, &omar, "Food").await;
    for (n, size) in [(1, 1000_i64), (2, 2500)] {
        let id = ReceiptId::new();
        store
            .create_receipt(
                omar.id,
                NewReceipt {
                    id,
                    object_key: format!("receipts/{}/{id}.png", omar.id),
                    kind: ReceiptKind::Png,
                    size_bytes: size,
                    sha256: format!("sha-{n}"),
                    original_filename: None,
                    category_id: None,
                },
            )
            .await
            .unwrap();
    }
    store
        .create_expense(omar.id, expense(food, "2026-01-05", "Cafe", 500))
        .await
        .unwrap();

    let accounts = store.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0].user, asha, "oldest first");
    assert_eq!(
        (
            accounts[0].expenses,
            accounts[0].receipts,
            accounts[0].storage_bytes
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (
            accounts[1].expenses,
            accounts[1].receipts,
            accounts[1].storage_bytes
        ),
        (1, 2, 3500)
    );
    assert_eq!(accounts[1].last_seen_at, None, "never signed in");
    assert_eq!(accounts[1].disabled_at, None);

    // A sign-in is when the account was last seen.
    let session = store
        .create_session(omar.id, b"omar-session", Utc::now() + Duration::days(1))
        .await
        .unwrap();
    let seen = store.get_account(omar.id).await.unwrap().last_seen_at;
    assert_eq!(seen, Some(session.created_at));
    // A use of the session later than a minute is too.
    let later = Utc::now() + Duration::minutes(3);
    store
        .session_user(b"omar-session", later, None)
        .await
        .unwrap()
        .unwrap();
    let seen = store.get_account(omar.id).await.unwrap().last_seen_at;
    assert!(seen.unwrap() > session.created_at, "{seen:?}");
}

async fn an_invite_makes_one_account_before_it_expires_whatever_the_email(store: &Store) {
    let asha = user(store, "asha@example.com").await;
    let made = store
        .create_invite(NewInvite {
            created_by: Some(asha.id),
            ..invite(b"invite-1", Duration::days(7))
        })
        .await
        .unwrap();
    assert!(made.is_open(Utc::now()));
    let found = store.invite_by_hash(b"invite-1").await.unwrap().unwrap();
    assert_eq!(found.id, made.id);
    assert_eq!(found.created_by, Some(asha.id));
    assert!(store.invite_by_hash(b"nothing").await.unwrap().is_none());

    // A taken email with a good invite: the email is refused and the invite stays unused.
    let taken = store
        .create_invited_user(newcomer("asha@example.com"), b"invite-1")
        .await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    assert!(
        store
            .invite_by_hash(b"invite-1")
            .await
            .unwrap()
            .unwrap()
            .is_open(Utc::now())
    );

    let ravi = store
        .create_invited_user(newcomer("ravi@example.com"), b"invite-1")
        .await
        .unwrap();
    assert_eq!(ravi.role, Role::Member);
    let used = store.invite_by_hash(b"invite-1").await.unwrap().unwrap();
    assert!(used.used_at.is_some());
    assert_eq!(used.used_by.as_deref(), Some("ravi@example.com"));

    // Used, unknown or expired: the same refusal, whether the email is taken or not.
    store
        .create_invite(invite(b"expired", Duration::seconds(-1)))
        .await
        .unwrap();
    for hash in [&b"invite-1"[..], b"unknown", b"expired"] {
        for address in ["asha@example.com", "someone@example.com"] {
            let refused = store.create_invited_user(newcomer(address), hash).await;
            assert!(
                matches!(refused, Err(StoreError::InviteInvalid)),
                "{address}: {refused:?}"
            );
        }
    }
    assert!(
        store
            .credentials(&email("someone@example.com"))
            .await
            .unwrap()
            .is_none(),
        "no account was made"
    );

    // Newest first, used and expired ones included; only an unused one can be withdrawn.
    let listed = store.list_invites().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].id, made.id);
    assert!(matches!(
        store.delete_invite(made.id).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_invite(listed[0].id).await.unwrap();
    assert_eq!(store.list_invites().await.unwrap().len(), 1);

    // Deleting the account the invite made leaves the invite, used, without its email.
    store.delete_user(ravi.id).await.unwrap();
    let used = store.invite_by_hash(b"invite-1").await.unwrap().unwrap();
    assert!(used.used_at.is_some() && used.used_by.is_none(), "{used:?}");
}

async fn a_disabled_account_cannot_sign_in_and_the_instance_keeps_an_administrator(store: &Store) {
    let asha = user(store, "asha@example.com").await;
    let omar = user(store, "omar@example.com").await;
    let later = Utc::now() + Duration::days(1);
    store
        .create_session(omar.id, b"omar-session", later)
        .await
        .unwrap();
    store
        .create_api_token(
            omar.id,
            NewApiToken {
                name: TokenName::parse("script").unwrap(),
                scope: TokenScope::Read,
                lasts: Duration::days(30),
                token_hash: b"omar-token",
            },
        )
        .await
        .unwrap();

    let disabled = store
        .update_account(
            omar.id,
            AccountChanges {
                disabled: Some(true),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(disabled.disabled_at.is_some());
    let now = Utc::now();
    assert!(
        store
            .session_user(b"omar-session", now, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .api_token_user(b"omar-token", now)
            .await
            .unwrap()
            .is_none()
    );
    let credentials = store.credentials(&omar.email).await.unwrap().unwrap();
    assert!(credentials.disabled);

    // Enabled again: the token works; the session ended for good when it was disabled.
    let enabled = store
        .update_account(
            omar.id,
            AccountChanges {
                disabled: Some(false),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(enabled.disabled_at, None);
    assert!(
        store
            .api_token_user(b"omar-token", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .session_user(b"omar-session", now, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .credentials(&omar.email)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );

    // The only administrator can be neither demoted, disabled nor deleted while others remain.
    for changes in [
        AccountChanges {
            role: Some(Role::Member),
            ..AccountChanges::default()
        },
        AccountChanges {
            disabled: Some(true),
            ..AccountChanges::default()
        },
    ] {
        let refused = store.update_account(asha.id, changes).await;
        assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
    }
    let refused = store.delete_user(asha.id).await;
    assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");

    // With a second administrator, the first can step down.
    let promoted = store
        .update_account(
            omar.id,
            AccountChanges {
                role: Some(Role::Admin),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(promoted.user.role, Role::Admin);
    let stepped_down = store
        .update_account(
            asha.id,
            AccountChanges {
                role: Some(Role::Member),
                ..AccountChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stepped_down.user.role, Role::Member);
    // A disabled administrator does not count as one.
    let refused = store
        .update_account(
            omar.id,
            AccountChanges {
                disabled: Some(true),
                ..AccountChanges::default()
            },
        )
        .await;
    assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
    assert!(matches!(
        store
            .update_account(ledgerly_core::UserId::new(), AccountChanges::default())
            .await,
        Err(StoreError::NotFound(_))
    ));

    // The last account of all may go: the next to register is the administrator.
    store.delete_user(asha.id).await.unwrap();
    store.delete_user(omar.id).await.unwrap();
    let next = user(store, "next@example.com").await;
    assert_eq!(next.role, Role::Admin);
}

async fn a_reset_link_sets_the_password_once_and_ends_every_session_and_link(store: &Store) {
    let asha = user(store, "asha@example.com").await;
    let later = Utc::now() + Duration::days(1);
    for session in [&b"one"[..], b"two"] {
        store.create_session(asha.id, session, later).await.unwrap();
    }
    let hour = Duration::hours(1);
    let since = Some((Utc::now() - hour, 2));
    for hash in [&b"first"[..], b"second"] {
        let made = store
            .create_password_reset(asha.id, hash, hour, None, since)
            .await
            .unwrap();
        assert!(made.is_some());
    }
    // Two in the hour: a third is not made.
    let refused = store
        .create_password_reset(asha.id, b"third", hour, None, since)
        .await
        .unwrap();
    assert!(refused.is_none());
    store
        .create_password_reset(
            asha.id,
            b"expired",
            Duration::seconds(-1),
            Some(asha.id),
            None,
        )
        .await
        .unwrap()
        .unwrap();

    let now = Utc::now();
    for hash in [&b"third"[..], b"expired", b"unknown"] {
        let refused = store.complete_password_reset(hash, "$new-hash", now).await;
        assert!(
            matches!(refused, Err(StoreError::ResetInvalid)),
            "{refused:?}"
        );
    }
    let who = store
        .complete_password_reset(b"first", "$new-hash", now)
        .await
        .unwrap();
    assert_eq!(who, asha.id);
    assert_eq!(store.password_hash(asha.id).await.unwrap(), "$new-hash");
    for session in [&b"one"[..], b"two"] {
        assert!(
            store
                .session_user(session, now, None)
                .await
                .unwrap()
                .is_none()
        );
    }
    // Used once; and the other link made for the account is spent with it.
    for hash in [&b"first"[..], b"second"] {
        let refused = store.complete_password_reset(hash, "$other", now).await;
        assert!(
            matches!(refused, Err(StoreError::ResetInvalid)),
            "{refused:?}"
        );
    }
    assert!(matches!(
        store
            .create_password_reset(ledgerly_core::UserId::new(), b"nobody", hour, None, None)
            .await,
        Err(StoreError::NotFound(_))
    ));
}
