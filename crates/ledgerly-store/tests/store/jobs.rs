use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use ledgerly_core::{CategoryName, OcrStatus, Unsure};
use ledgerly_store::{JobState, OcrOutcome, OcrResult, Store, StoreError};
use tokio::sync::Mutex;

use crate::harness::*;
use crate::receipts::upload;

on_both_backends!(
    store:
    a_claimed_job_completes_into_an_expense_needing_review,
    enqueueing_is_idempotent_and_a_finished_job_can_run_again,
    a_failed_attempt_is_retried_after_its_backoff_then_given_up,
    a_job_whose_worker_died_is_claimable_after_its_lease_and_the_late_result_is_dropped,
    a_job_that_keeps_killing_workers_fails_with_a_reason,
    a_released_job_is_claimable_at_once_without_counting_the_attempt,
    concurrent_workers_never_claim_the_same_job,
    a_result_applied_twice_leaves_one_expense_and_never_overwrites_a_confirmed_one,
    one_result_delivered_to_several_instances_at_once_makes_one_expense,
    a_signed_result_closes_the_receipts_open_job,
);

fn result(minor: i64) -> OcrResult {
    OcrResult {
        vendor: vendor("Reliance Fresh"),
        date: day("2026-05-02"),
        amount: inr(minor),
        category_id: None,
        unsure: Unsure::default(),
        text: None,
    }
}

const LEASE: i64 = 60;

async fn a_claimed_job_completes_into_an_expense_needing_review(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let job = store
        .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
        .await
        .unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    let claimed = store
        .claim_ocr_job("worker-1", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.id, job.id);
    assert_eq!(
        (claimed.job.state, claimed.job.attempts),
        (JobState::Running, 1)
    );
    assert_eq!(claimed.job.claimed_by.as_deref(), Some("worker-1"));
    assert_eq!(claimed.receipt.status, OcrStatus::Processing);
    assert!(
        store
            .claim_ocr_job("worker-2", Duration::seconds(LEASE), Utc::now())
            .await
            .unwrap()
            .is_none()
    );
    store
        .extend_ocr_lease(&claimed, Utc::now() + Duration::seconds(LEASE * 2))
        .await
        .unwrap();

    let expense = store
        .complete_ocr_job(&claimed, &result(123_450))
        .await
        .unwrap();
    assert!(expense.needs_review);
    assert_eq!(expense.receipt_id, Some(receipt.id));
    assert_eq!(expense.amount, inr(123_450));
    assert_eq!(
        expense.category.as_str(),
        "food",
        "falls back to the first default category"
    );
    let receipt = store.get_receipt(priya.id, receipt.id).await.unwrap();
    assert_eq!(
        (receipt.status, receipt.expense_id),
        (OcrStatus::Done, Some(expense.id))
    );
    assert_eq!(
        store
            .get_ocr_job(priya.id, receipt.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Done
    );
    // The claim is spent.
    assert!(matches!(
        store.complete_ocr_job(&claimed, &result(1)).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(matches!(
        store.extend_ocr_lease(&claimed, Utc::now()).await,
        Err(StoreError::LeaseLost)
    ));
    let confirmed = store.confirm_expense(priya.id, expense.id).await.unwrap();
    assert!(!confirmed.needs_review);
    let counts = store.ocr_job_counts().await.unwrap();
    assert_eq!(
        (counts.queued, counts.running, counts.done, counts.failed),
        (0, 0, 1, 0)
    );
}

async fn enqueueing_is_idempotent_and_a_finished_job_can_run_again(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let rent = store
        .create_category(priya.id, &CategoryName::parse("Groceries").unwrap())
        .await
        .unwrap();
    let mut receipt = upload(store, &priya, "r1").await;
    receipt.category_id = Some(rent.id);
    let first = store
        .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
        .await
        .unwrap();
    let second = store
        .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
        .await
        .unwrap();
    assert_eq!(first, second);
    let claimed = store
        .claim_ocr_job("w", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    // Queuing a running job changes nothing.
    assert_eq!(
        store
            .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
            .await
            .unwrap()
            .state,
        JobState::Running
    );
    let suggestion = OcrResult {
        category_id: Some(rent.id),
        unsure: Unsure {
            date: true,
            ..Unsure::default()
        },
        ..result(1_000)
    };
    let draft = store.complete_ocr_job(&claimed, &suggestion).await.unwrap();
    assert_eq!(draft.category.as_str(), "Groceries");
    // What OCR was unsure of stays with the receipt, for the review drawer.
    let read = store.get_receipt(priya.id, receipt.id).await.unwrap();
    assert!(read.unsure.date && !read.unsure.vendor && !read.unsure.amount);
    // Re-running a done job reads the receipt again and refreshes the unconfirmed expense.
    let again = store
        .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
        .await
        .unwrap();
    assert_eq!((again.state, again.attempts), (JobState::Queued, 0));
    assert_eq!(
        store
            .get_receipt(priya.id, receipt.id)
            .await
            .unwrap()
            .status,
        OcrStatus::Pending
    );
    let claimed = store
        .claim_ocr_job("w", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    let refreshed = store
        .complete_ocr_job(&claimed, &result(2_000))
        .await
        .unwrap();
    assert_eq!(refreshed.id, draft.id);
    assert_eq!(refreshed.amount, inr(2_000));
    let reread = store.get_receipt(priya.id, receipt.id).await.unwrap();
    assert!(!reread.unsure.any(), "a new reading replaces the flags");
    let other = user(store, "ravi@example.com").await;
    assert!(matches!(
        store
            .enqueue_ocr_job(other.id, receipt.id, 3, Utc::now())
            .await,
        Err(StoreError::NotFound("receipt"))
    ));
    assert!(matches!(
        store
            .enqueue_ocr_job(priya.id, receipt.id, 0, Utc::now())
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_failed_attempt_is_retried_after_its_backoff_then_given_up(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let t0 = Utc::now();
    store
        .enqueue_ocr_job(priya.id, receipt.id, 2, t0)
        .await
        .unwrap();
    let claimed = store
        .claim_ocr_job("w", Duration::seconds(LEASE), t0)
        .await
        .unwrap()
        .unwrap();
    let retry_at = t0 + Duration::seconds(30);
    let outcome = store
        .fail_ocr_job(&claimed, "Gemini answered 503", Some(retry_at))
        .await
        .unwrap();
    assert!(
        matches!(outcome, OcrOutcome::Retrying { attempts: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        store
            .get_receipt(priya.id, receipt.id)
            .await
            .unwrap()
            .status,
        OcrStatus::Pending
    );
    let job = store
        .get_ocr_job(priya.id, receipt.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.last_error.as_deref(), Some("Gemini answered 503"));
    // Not before the backoff.
    assert!(
        store
            .claim_ocr_job("w", Duration::seconds(LEASE), t0 + Duration::seconds(29))
            .await
            .unwrap()
            .is_none()
    );
    let claimed = store
        .claim_ocr_job("w", Duration::seconds(LEASE), retry_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.attempts, 2);
    // The last attempt fails for good, with the reason on the receipt.
    let reason = "no total could be found on the receipt";
    let outcome = store
        .fail_ocr_job(&claimed, reason, Some(retry_at + Duration::seconds(60)))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        OcrOutcome::Failed {
            reason: reason.into()
        }
    );
    let receipt = store.get_receipt(priya.id, receipt.id).await.unwrap();
    assert_eq!(
        receipt.status,
        OcrStatus::Failed {
            reason: reason.into()
        }
    );
    assert!(
        store
            .claim_ocr_job(
                "w",
                Duration::seconds(LEASE),
                Utc::now() + Duration::days(1)
            )
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.ocr_job_counts().await.unwrap().failed, 1);
    // A permanent failure (no retry time) ends at once.
    let other = upload(store, &priya, "r2").await;
    store
        .enqueue_ocr_job(priya.id, other.id, 5, Utc::now())
        .await
        .unwrap();
    let claimed = store
        .claim_ocr_job("w", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    let outcome = store
        .fail_ocr_job(&claimed, "HEIC images are not supported", None)
        .await
        .unwrap();
    assert!(matches!(outcome, OcrOutcome::Failed { .. }));
}

async fn a_job_whose_worker_died_is_claimable_after_its_lease_and_the_late_result_is_dropped(
    store: &Store,
) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let t0 = Utc::now();
    store
        .enqueue_ocr_job(priya.id, receipt.id, 3, t0)
        .await
        .unwrap();
    let dead = store
        .claim_ocr_job("dies", Duration::seconds(LEASE), t0)
        .await
        .unwrap()
        .unwrap();
    // Within the lease nobody else gets it.
    assert!(
        store
            .claim_ocr_job(
                "w2",
                Duration::seconds(LEASE),
                t0 + Duration::seconds(LEASE - 1)
            )
            .await
            .unwrap()
            .is_none()
    );
    let taken = store
        .claim_ocr_job(
            "w2",
            Duration::seconds(LEASE),
            t0 + Duration::seconds(LEASE),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.job.id, dead.job.id);
    assert_eq!(taken.job.attempts, 2);
    assert_eq!(taken.job.claimed_by.as_deref(), Some("w2"));
    // The first worker wakes up: every use of its claim is refused.
    assert!(matches!(
        store.complete_ocr_job(&dead, &result(9_999)).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(matches!(
        store.fail_ocr_job(&dead, "late", None).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(matches!(
        store.release_ocr_job(&dead).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(matches!(
        store.extend_ocr_lease(&dead, Utc::now()).await,
        Err(StoreError::LeaseLost)
    ));
    let expense = store
        .complete_ocr_job(&taken, &result(1_000))
        .await
        .unwrap();
    assert_eq!(expense.amount, inr(1_000));
    let all = store
        .list_expenses(priya.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(all.total, 1, "done once");
}

async fn a_job_that_keeps_killing_workers_fails_with_a_reason(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "poison").await;
    let mut at = Utc::now();
    store
        .enqueue_ocr_job(priya.id, receipt.id, 2, at)
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .claim_ocr_job("w", Duration::seconds(LEASE), at)
            .await
            .unwrap()
            .unwrap();
        at += Duration::seconds(LEASE);
    }
    assert!(
        store
            .claim_ocr_job("w", Duration::seconds(LEASE), at)
            .await
            .unwrap()
            .is_none()
    );
    let receipt = store.get_receipt(priya.id, receipt.id).await.unwrap();
    let reason = receipt.status.failure_reason().unwrap().to_owned();
    assert!(reason.contains("2 times"), "{reason}");
    assert_eq!(
        store
            .get_ocr_job(priya.id, receipt.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        JobState::Failed
    );
}

async fn a_released_job_is_claimable_at_once_without_counting_the_attempt(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    store
        .enqueue_ocr_job(priya.id, receipt.id, 1, Utc::now())
        .await
        .unwrap();
    let claimed = store
        .claim_ocr_job("stopping", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    store.release_ocr_job(&claimed).await.unwrap();
    assert_eq!(
        store
            .get_receipt(priya.id, receipt.id)
            .await
            .unwrap()
            .status,
        OcrStatus::Pending
    );
    let again = store
        .claim_ocr_job("next", Duration::seconds(LEASE), Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.job.attempts, 1);
}

async fn concurrent_workers_never_claim_the_same_job(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let mut receipts = HashSet::new();
    for i in 0..40 {
        let receipt = upload(store, &priya, &format!("r{i}")).await;
        store
            .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
            .await
            .unwrap();
        receipts.insert(receipt.id);
    }
    let claims = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let claims = claims.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let claimed = store
                    .claim_ocr_job(&format!("worker-{w}"), Duration::seconds(LEASE), Utc::now())
                    .await
                    .unwrap();
                let Some(claimed) = claimed else { break };
                store
                    .complete_ocr_job(&claimed, &result(100 + w))
                    .await
                    .unwrap();
                claims.lock().await.push(claimed.receipt.id);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let claims = claims.lock().await;
    assert_eq!(claims.len(), 40, "every job claimed exactly once");
    assert_eq!(claims.iter().copied().collect::<HashSet<_>>(), receipts);
    assert_eq!(
        store
            .list_expenses(priya.id, &Default::default())
            .await
            .unwrap()
            .total,
        40
    );
    assert_eq!(store.ocr_job_counts().await.unwrap().done, 40);
}

/// Several API instances (ECS tasks) can each get a delivery of the same OCR result at the same
/// moment: every one succeeds and one expense is made.
async fn one_result_delivered_to_several_instances_at_once_makes_one_expense(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.apply_ocr_result(receipt.id, &result(5_000)).await })
        })
        .collect();
    let mut expenses = HashSet::new();
    for delivery in deliveries {
        expenses.insert(delivery.await.unwrap().unwrap().id);
    }
    assert_eq!(expenses.len(), 1, "{expenses:?}");
    assert_eq!(
        store
            .list_expenses(priya.id, &Default::default())
            .await
            .unwrap()
            .total,
        1
    );
}

async fn a_result_applied_twice_leaves_one_expense_and_never_overwrites_a_confirmed_one(
    store: &Store,
) {
    let priya = user(store, "priya@example.com").await;
    let receipt = upload(store, &priya, "r1").await;
    let first = store
        .apply_ocr_result(receipt.id, &result(5_000))
        .await
        .unwrap();
    let replay = store
        .apply_ocr_result(receipt.id, &result(5_000))
        .await
        .unwrap();
    assert_eq!(first.id, replay.id);
    assert_eq!(first.amount, replay.amount);
    assert_eq!(
        store
            .list_expenses(priya.id, &Default::default())
            .await
            .unwrap()
            .total,
        1
    );
    store.confirm_expense(priya.id, first.id).await.unwrap();
    let later = store
        .apply_ocr_result(receipt.id, &result(7_000))
        .await
        .unwrap();
    assert_eq!(
        later.amount,
        inr(5_000),
        "a confirmed expense is the owner's"
    );
    assert!(matches!(
        store.apply_ocr_result(receipt.id, &result(0)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .apply_ocr_result(ledgerly_core::ReceiptId::new(), &result(1))
            .await,
        Err(StoreError::NotFound("receipt"))
    ));
    // A failure report for a receipt already read does not undo it.
    let kept = store
        .record_ocr_failure(receipt.id, "late failure")
        .await
        .unwrap();
    assert_eq!(kept.status, OcrStatus::Done);
    let other = upload(store, &priya, "r2").await;
    let failed = store
        .record_ocr_failure(other.id, "the image is blank")
        .await
        .unwrap();
    assert_eq!(
        failed.status,
        OcrStatus::Failed {
            reason: "the image is blank".into()
        }
    );
}

/// A worker reporting through the API: the result arrives as a signed callback while the job is
/// claimed, and closes it — done for a read, failed with the reason otherwise.
async fn a_signed_result_closes_the_receipts_open_job(store: &Store) {
    let priya = user(store, "priya@example.com").await;
    let read = upload(store, &priya, "read").await;
    let unreadable = upload(store, &priya, "unreadable").await;
    for receipt in [&read, &unreadable] {
        store
            .enqueue_ocr_job(priya.id, receipt.id, 3, Utc::now())
            .await
            .unwrap();
        store
            .claim_ocr_job("worker-1", Duration::seconds(LEASE), Utc::now())
            .await
            .unwrap()
            .unwrap();
    }
    store
        .apply_ocr_result(read.id, &result(5_000))
        .await
        .unwrap();
    store
        .record_ocr_failure(unreadable.id, "the image is blank")
        .await
        .unwrap();
    let job = store.get_ocr_job(priya.id, read.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Done);
    let job = store
        .get_ocr_job(priya.id, unreadable.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.last_error.as_deref(), Some("the image is blank"));
    let counts = store.ocr_job_counts().await.unwrap();
    assert_eq!((counts.running, counts.done, counts.failed), (0, 1, 1));
    // Nothing is left for a worker to claim.
    assert!(
        store
            .claim_ocr_job(
                "worker-2",
                Duration::seconds(LEASE),
                Utc::now() + Duration::hours(1)
            )
            .await
            .unwrap()
            .is_none()
    );
}
