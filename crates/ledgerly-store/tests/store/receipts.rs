use chrono::{Duration, Utc};
use ledgerly_core::{OcrStatus, Receipt, ReceiptId, ReceiptKind, User};
use ledgerly_store::testing::receipt_ocr_text;
use ledgerly_store::{NewReceipt, OCR_TEXT_MAX_CHARS, OcrResult, Store, StoreError};

use crate::harness::*;

on_both_backends!(
    store:
    an_upload_is_recorded_pending_and_listed_newest_first,
    the_same_file_uploaded_twice_is_recognised,
    deleting_a_receipt_drops_its_unreviewed_expense_but_keeps_a_confirmed_one,
    a_receipt_cannot_suggest_another_users_category,
    a_callback_nonce_is_accepted_once_until_it_is_forgotten,
    a_queued_upload_has_its_job_or_nothing_is_recorded,
    the_text_read_is_kept_with_the_receipt_and_the_latest_reading_wins,
);

async fn the_text_read_is_kept_with_the_receipt_and_the_latest_reading_wins(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let read = |text: Option<String>| OcrResult {
        vendor: vendor("Blue Tokai"),
        date: day("2026-03-14"),
        amount: inr(35_000),
        category_id: None,
        unsure: Default::default(),
        text,
    };
    let complete = async |text: Option<String>| {
        store
            .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
            .await
            .unwrap();
        let claimed = store
            .claim_ocr_job("w", Duration::seconds(60), Utc::now())
            .await
            .unwrap()
            .unwrap();
        store.complete_ocr_job(&claimed, &read(text)).await.unwrap();
        receipt_ocr_text(store, priya.id, receipt.id).await
    };
    assert_eq!(receipt_ocr_text(store, priya.id, receipt.id).await, None);

    let slip = "BLUE TOKAI COFFEE ROASTERS\nFlat white 350.00";
    assert_eq!(complete(Some(slip.to_owned())).await.as_deref(), Some(slip));

    // PostgreSQL's text cannot hold a NUL, and a text past the limit is cut — by characters,
    // not bytes (each `₹` is three).
    let long = format!("Total\0 350.00 {}", "₹".repeat(OCR_TEXT_MAX_CHARS));
    let kept = complete(Some(long)).await.unwrap();
    let expected: String = "Total 350.00 "
        .chars()
        .chain(std::iter::repeat('₹'))
        .take(OCR_TEXT_MAX_CHARS)
        .collect();
    assert_eq!(kept.chars().count(), OCR_TEXT_MAX_CHARS);
    assert_eq!(kept, expected);

    // A reading without text clears the earlier one's: the text is the latest reading's.
    assert_eq!(complete(None).await, None);

    // A result from the signed callback keeps its text the same way.
    let other = upload(store, &priya, "r2").await;
    store
        .apply_ocr_result(other.id, &read(Some(slip.to_owned())))
        .await
        .unwrap();
    assert_eq!(
        receipt_ocr_text(store, priya.id, other.id).await.as_deref(),
        Some(slip)
    );
}

async fn a_queued_upload_has_its_job_or_nothing_is_recorded(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let new = |category_id| {
        let id = ReceiptId::new();
        NewReceipt {
            id,
            object_key: format!("receipts/{}/{id}.png", priya.id),
            kind: ReceiptKind::Png,
            size_bytes: 10,
            sha256: "sha".into(),
            original_filename: None,
            category_id,
        }
    };
    let queued = store
        .create_queued_receipt(priya.id, new(None), 3)
        .await
        .unwrap();
    assert_eq!(queued.status, OcrStatus::Pending);
    let job = store
        .get_ocr_job(priya.id, queued.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.state, job.max_attempts),
        (ledgerly_store::JobState::Queued, 3)
    );
    // Another user's category fails the receipt's insert: no receipt and no job are left.
    let theirs = category(store, &ravi, "food").await;
    let failed = new(Some(theirs));
    let failed_id = failed.id;
    assert!(matches!(
        store.create_queued_receipt(priya.id, failed, 3).await,
        Err(StoreError::NotFound("category"))
    ));
    assert!(matches!(
        store.get_receipt(priya.id, failed_id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_receipts(priya.id, 1, 50).await.unwrap().total, 1);
}

async fn a_callback_nonce_is_accepted_once_until_it_is_forgotten(store: &Store) {
    let t0 = chrono::Utc::now();
    let window = chrono::Duration::minutes(5);
    assert!(
        store
            .remember_callback(b"nonce-1", t0, t0 - window)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_callback(b"nonce-1", t0, t0 - window)
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_callback(b"nonce-2", t0, t0 - window)
            .await
            .unwrap()
    );
    // Past the window the old nonce is swept (its request would be refused as stale anyway).
    let later = t0 + window + chrono::Duration::seconds(1);
    assert!(
        store
            .remember_callback(b"nonce-1", later, later - window)
            .await
            .unwrap()
    );
}

/// Records an upload of a file whose content is `content`.
pub async fn upload(store: &Store, user: &User, content: &str) -> Receipt {
    let id = ReceiptId::new();
    store
        .create_receipt(
            user.id,
            NewReceipt {
                id,
                object_key: format!("receipts/{}/{id}.jpg", user.id),
                kind: ReceiptKind::Jpeg,
                size_bytes: content.len() as i64,
                sha256: format!("sha-{content}"),
                original_filename: Some("IMG 0001.JPG".into()),
                category_id: None,
            },
        )
        .await
        .unwrap()
}

async fn an_upload_is_recorded_pending_and_listed_newest_first(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let first = upload(store, &priya, "one").await;
    let second = upload(store, &priya, "two").await;
    assert_eq!(first.status, OcrStatus::Pending);
    assert_eq!(first.expense_id, None);
    assert_eq!(first.original_filename.as_deref(), Some("IMG 0001.JPG"));
    assert_eq!(store.get_receipt(priya.id, first.id).await.unwrap(), first);
    assert_eq!(store.receipt_by_id(first.id).await.unwrap(), first);
    assert_eq!(
        store
            .receipt_by_object_key(&first.object_key)
            .await
            .unwrap(),
        first
    );
    let page = store.list_receipts(priya.id, 1, 10).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert_eq!(
        store.list_receipts(priya.id, 2, 1).await.unwrap().items[0].id,
        first.id
    );
    assert!(matches!(
        store.list_receipts(priya.id, 0, 1).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.receipt_by_object_key("receipts/none.jpg").await,
        Err(StoreError::NotFound("receipt"))
    ));
}

async fn the_same_file_uploaded_twice_is_recognised(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let first = upload(store, &priya, "same").await;
    upload(store, &priya, "other").await;
    let again = upload(store, &priya, "same").await;
    let found = store
        .find_receipts_by_sha256(priya.id, "sha-same")
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first.id, again.id]
    );
}

async fn deleting_a_receipt_drops_its_unreviewed_expense_but_keeps_a_confirmed_one(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let result = OcrResult {
        vendor: vendor("Reliance Fresh"),
        date: day("2026-05-02"),
        amount: inr(123_450),
        category_id: None,
        unsure: Default::default(),
        text: None,
    };
    let unreviewed = upload(store, &priya, "a").await;
    let drafted = store
        .apply_ocr_result(unreviewed.id, &result)
        .await
        .unwrap();
    let confirmed = upload(store, &priya, "b").await;
    let kept = store.apply_ocr_result(confirmed.id, &result).await.unwrap();
    store.confirm_expense(priya.id, kept.id).await.unwrap();

    let deleted = store.delete_receipt(priya.id, unreviewed.id).await.unwrap();
    assert_eq!(deleted.object_key, unreviewed.object_key);
    assert!(matches!(
        store.get_expense(priya.id, drafted.id).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_receipt(priya.id, confirmed.id).await.unwrap();
    let survivor = store.get_expense(priya.id, kept.id).await.unwrap();
    assert_eq!(survivor.receipt_id, None);
    assert!(!survivor.needs_review);
    assert!(matches!(
        store.delete_receipt(priya.id, confirmed.id).await,
        Err(StoreError::NotFound("receipt"))
    ));
}

async fn a_receipt_cannot_suggest_another_users_category(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let ravi = user(store, "ravi@example.com").await;
    let ravis_food = category(store, &ravi, "food").await;
    let id = ReceiptId::new();
    let refused = store
        .create_receipt(
            priya.id,
            NewReceipt {
                id,
                object_key: format!("receipts/{id}.png"),
                kind: ReceiptKind::Png,
                size_bytes: 10,
                sha256: "x".into(),
                original_filename: None,
                category_id: Some(ravis_food),
            },
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound("category"))),
        "{refused:?}"
    );
}
