//! Receipts: the record of an uploaded file and its OCR status. The file itself lives in object
//! storage under `object_key`; the store never sees its bytes.

use ledgerly_core::{CategoryId, JobId, OcrStatus, Receipt, ReceiptId, ReceiptKind, UserId};

use crate::rows::{ReceiptRow, collect, receipt_select};
use crate::{Page, Result, Store, StoreError, now, with_db};

/// A receipt just uploaded.
#[derive(Debug, Clone)]
pub struct NewReceipt {
    pub id: ReceiptId,
    pub object_key: String,
    pub kind: ReceiptKind,
    pub size_bytes: i64,
    pub sha256: String,
    pub original_filename: Option<String>,
    pub category_id: Option<CategoryId>,
}

/// One receipt of one user, by id: `$1` the user, `$2` the receipt.
const RECEIPT_BY_ID: &str = concat!(receipt_select!(), "WHERE r.user_id = $1 AND r.id = $2");

impl Store {
    /// Records an upload, pending OCR. A suggested category must be the user's.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_receipt(&self, user: UserId, new: NewReceipt) -> Result<Receipt> {
        self.insert_receipt(user, new, None).await
    }

    /// Records an upload and queues its OCR job (allowing `max_attempts`) in one transaction: a
    /// receipt is never left without the job that reads it, whatever fails in between.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_queued_receipt(
        &self,
        user: UserId,
        new: NewReceipt,
        max_attempts: u32,
    ) -> Result<Receipt> {
        if max_attempts == 0 {
            return Err(StoreError::Invalid(
                "a job needs at least one attempt".into(),
            ));
        }
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        self.insert_receipt(user, new, Some(max_attempts)).await
    }

    /// The receipt, with its OCR job when `queue` gives the job's attempts, written and read back
    /// in one transaction.
    async fn insert_receipt(
        &self,
        user: UserId,
        new: NewReceipt,
        queue: Option<i32>,
    ) -> Result<Receipt> {
        let at = now();
        let row: Option<ReceiptRow> = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query(
                "INSERT INTO receipts (id, user_id, object_key, kind, size_bytes, sha256, \
                 original_filename, category_id, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)",
            )
            .bind(new.id.as_uuid())
            .bind(user.as_uuid())
            .bind(&new.object_key)
            .bind(new.kind.to_string())
            .bind(new.size_bytes)
            .bind(&new.sha256)
            .bind(new.original_filename.as_deref())
            .bind(new.category_id.map(|c| c.as_uuid()))
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(crate::error::missing("category"))?;
            if let Some(max_attempts) = queue {
                sqlx::query(
                    "INSERT INTO ocr_jobs (id, receipt_id, user_id, state, attempts, \
                     max_attempts, run_after, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5)",
                )
                .bind(JobId::new().as_uuid())
                .bind(new.id.as_uuid())
                .bind(user.as_uuid())
                .bind(max_attempts)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            let row = sqlx::query_as(RECEIPT_BY_ID)
                .bind(user.as_uuid())
                .bind(new.id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        });
        row.ok_or(StoreError::NotFound("receipt"))?.try_into()
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_receipt(&self, user: UserId, id: ReceiptId) -> Result<Receipt> {
        let row: Option<ReceiptRow> = with_db!(self, |pool, d| {
            sqlx::query_as(RECEIPT_BY_ID)
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound("receipt"))?.try_into()
    }

    /// A receipt by id alone, for the signed OCR callback, which acts for the receipt's owner.
    #[tracing::instrument(skip_all, err)]
    pub async fn receipt_by_id(&self, id: ReceiptId) -> Result<Receipt> {
        let row: Option<ReceiptRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(receipt_select!(), "WHERE r.id = $1"))
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound("receipt"))?.try_into()
    }

    /// A receipt by its object-storage key, for the S3-event path.
    #[tracing::instrument(skip_all, err)]
    pub async fn receipt_by_object_key(&self, object_key: &str) -> Result<Receipt> {
        let row: Option<ReceiptRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(receipt_select!(), "WHERE r.object_key = $1"))
                .bind(object_key)
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound("receipt"))?.try_into()
    }

    /// The user's receipts, newest first.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_receipts(
        &self,
        user: UserId,
        page: u32,
        per_page: u32,
    ) -> Result<Page<Receipt>> {
        if page == 0 || !(1..=500).contains(&per_page) {
            return Err(StoreError::Invalid(
                "page starts at 1 and per_page must be between 1 and 500".into(),
            ));
        }
        let offset = i64::from(page - 1) * i64::from(per_page);
        let (rows, total): (Vec<ReceiptRow>, i64) = with_db!(self, |pool, d| {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM receipts WHERE user_id = $1")
                .bind(user.as_uuid())
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query_as(concat!(
                receipt_select!(),
                "WHERE r.user_id = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3"
            ))
            .bind(user.as_uuid())
            .bind(i64::from(per_page))
            .bind(offset)
            .fetch_all(pool)
            .await?;
            (rows, total)
        });
        Ok(Page {
            items: collect(rows)?,
            total: total.unsigned_abs(),
            page,
            per_page,
        })
    }

    /// The user's receipts with this SHA-256: the same file uploaded before.
    #[tracing::instrument(skip_all, err)]
    pub async fn find_receipts_by_sha256(
        &self,
        user: UserId,
        sha256: &str,
    ) -> Result<Vec<Receipt>> {
        let rows: Vec<ReceiptRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                receipt_select!(),
                "WHERE r.user_id = $1 AND r.sha256 = $2 ORDER BY r.created_at, r.id"
            ))
            .bind(user.as_uuid())
            .bind(sha256)
            .fetch_all(pool)
            .await?
        });
        collect(rows)
    }

    /// Deletes a receipt and its OCR job. The expense it produced is deleted too while it still
    /// awaits review; once confirmed, the expense stays and only loses its link to the image.
    /// Returns the deleted receipt, whose object the caller removes from storage.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_receipt(&self, user: UserId, id: ReceiptId) -> Result<Receipt> {
        let receipt = self.get_receipt(user, id).await?;
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query(
                "DELETE FROM expenses WHERE user_id = $1 AND receipt_id = $2 AND needs_review",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE expenses SET receipt_id = NULL WHERE user_id = $1 AND receipt_id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM ocr_jobs WHERE user_id = $1 AND receipt_id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM receipts WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            crate::error::found(done, "receipt")?;
            tx.commit().await?;
        });
        Ok(receipt)
    }

    /// Records that OCR of a receipt failed for good, from a signed result (the S3-event Lambda,
    /// or a worker reporting through the API); an open job of the receipt fails with it.
    #[tracing::instrument(skip_all, err)]
    pub async fn record_ocr_failure(&self, id: ReceiptId, reason: &str) -> Result<Receipt> {
        let at = now();
        let done = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let done = sqlx::query(
                "UPDATE receipts SET status = 'failed', failure_reason = $2, updated_at = $3 \
                 WHERE id = $1 AND status <> 'done'",
            )
            .bind(id.as_uuid())
            .bind(reason)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done > 0 {
                sqlx::query(
                    "UPDATE ocr_jobs SET state = 'failed', claim_id = NULL, claimed_by = NULL, \
                     lease_expires_at = NULL, last_error = $2, updated_at = $3 \
                     WHERE receipt_id = $1 AND state IN ('queued', 'running')",
                )
                .bind(id.as_uuid())
                .bind(reason)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            done
        });
        let receipt = self.receipt_by_id(id).await?;
        if done == 0 && receipt.status == OcrStatus::Done {
            tracing::info!(receipt = %id, "ignored a failure report for a receipt already read");
        }
        Ok(receipt)
    }

    /// Records a signed callback's nonce; `false` when it was seen before (a replay). Nonces
    /// older than `forget_before` are swept first: requests that old are refused as stale anyway.
    #[tracing::instrument(skip_all, err)]
    pub async fn remember_callback(
        &self,
        nonce: &[u8],
        at: chrono::DateTime<chrono::Utc>,
        forget_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let inserted = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query("DELETE FROM ocr_callback_nonces WHERE seen_at < $1")
                .bind(crate::micros(forget_before))
                .execute(&mut *tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO ocr_callback_nonces (nonce, seen_at) VALUES ($1, $2) \
                 ON CONFLICT (nonce) DO NOTHING",
            )
            .bind(nonce)
            .bind(crate::micros(at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            inserted
        });
        Ok(inserted == 1)
    }
}
