//! The OCR job queue. A worker claims a job with a lease; completing, failing, extending or
//! releasing it needs the claim that holds it. A worker that dies loses its lease when the lease
//! runs out, and the job becomes claimable again; if that worker comes back it finds its claim
//! gone ([`StoreError::LeaseLost`]) and its late result is dropped — nothing is done twice.
//!
//! On PostgreSQL a claim is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)`, so
//! concurrent workers never take the same job and never wait on each other; on SQLite the same
//! statement runs under the database's single writer lock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerly_core::{
    CategoryId, ClaimId, Expense, ExpenseId, JobId, Money, Receipt, ReceiptId, Unsure, UserId,
    Vendor,
};
use uuid::Uuid;

use crate::{Result, Store, StoreError, micros, now, with_db};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    fn parse(state: &str) -> Result<Self> {
        match state {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::corrupt(format!("unknown job state `{other}`"))),
        }
    }
}

/// A job as the queue holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrJob {
    pub id: JobId,
    pub receipt_id: ReceiptId,
    pub user_id: UserId,
    pub state: JobState,
    /// Claims so far, including the current one.
    pub attempts: u32,
    pub max_attempts: u32,
    /// Not claimable before this (the retry backoff).
    pub run_after: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A job a worker holds, the claim that proves it, and the receipt to read.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: OcrJob,
    pub claim: ClaimId,
    pub receipt: Receipt,
}

/// What OCR read from a receipt, already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrResult {
    pub vendor: Vendor,
    pub date: NaiveDate,
    pub amount: Money,
    /// A category the extractor suggests; otherwise the one chosen at upload, otherwise the
    /// user's first default category.
    pub category_id: Option<CategoryId>,
    /// The fields OCR was unsure of, flagged for review.
    pub unsure: Unsure,
    /// The text read off the receipt, for search: at most `OCR_TEXT_MAX_CHARS` characters.
    pub text: Option<String>,
}

/// The most characters of a receipt's OCR text kept for search; a longer text is cut.
pub const OCR_TEXT_MAX_CHARS: usize = 20_000;

/// `text` as `receipts.ocr_text` holds it: without NUL characters, which PostgreSQL's `text`
/// cannot hold, and cut to [`OCR_TEXT_MAX_CHARS`] characters; nothing when nothing is left.
fn searchable_text(text: &str) -> Option<String> {
    let kept: String = text
        .chars()
        .filter(|&c| c != '\0')
        .take(OCR_TEXT_MAX_CHARS)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcrOutcome {
    /// Queued again, claimable from `at`.
    Retrying { at: DateTime<Utc>, attempts: u32 },
    /// Given up; the receipt shows `reason`.
    Failed { reason: String },
}

/// How many jobs are in each state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub failed: u64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    receipt_id: Uuid,
    user_id: Uuid,
    state: String,
    attempts: i32,
    max_attempts: i32,
    run_after: DateTime<Utc>,
    claimed_by: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

macro_rules! job_columns {
    () => {
        "id, receipt_id, user_id, state, attempts, max_attempts, run_after, claimed_by, \
         lease_expires_at, last_error"
    };
}

/// Takes the next due job: queued and past its backoff, or running with a lease run out. `$lock`
/// is PostgreSQL's `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over each other's rows;
/// SQLite has one writer and needs none.
macro_rules! claim_statement {
    ($lock:literal) => {
        concat!(
            "UPDATE ocr_jobs SET state = 'running', attempts = attempts + 1, claim_id = $2, \
             claimed_by = $3, lease_expires_at = $4, updated_at = $1 \
             WHERE id = (SELECT id FROM ocr_jobs \
             WHERE (state = 'queued' AND run_after <= $1) \
             OR (state = 'running' AND lease_expires_at <= $1) \
             ORDER BY run_after, id LIMIT 1 ",
            $lock,
            ") RETURNING ",
            job_columns!()
        )
    };
}

impl TryFrom<JobRow> for OcrJob {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self> {
        Ok(OcrJob {
            id: row.id.into(),
            receipt_id: row.receipt_id.into(),
            user_id: row.user_id.into(),
            state: JobState::parse(&row.state)?,
            attempts: u32::try_from(row.attempts).map_err(StoreError::corrupt)?,
            max_attempts: u32::try_from(row.max_attempts).map_err(StoreError::corrupt)?,
            run_after: row.run_after,
            claimed_by: row.claimed_by,
            lease_expires_at: row.lease_expires_at,
            last_error: row.last_error,
        })
    }
}

/// Applies an OCR result to its receipt inside transaction `$tx`: creates the receipt's
/// expense, or refreshes it while it still awaits review (a re-run), and marks the receipt
/// done. An expense its owner has confirmed is left as it is. The receipt keeps the text read
/// for search; the latest reading wins, so one without text clears what an earlier one kept, as
/// its flags replace the earlier ones. Evaluates to the expense id.
macro_rules! apply_result_in_tx {
    ($tx:ident, $receipt:expr, $user:expr, $result:expr, $at:expr) => {{
        let receipt: Uuid = $receipt;
        let user: Uuid = $user;
        let result: &OcrResult = $result;
        let chosen: Option<Uuid> = match result.category_id {
            Some(id) => Some(id.as_uuid()),
            None => {
                sqlx::query_scalar("SELECT category_id FROM receipts WHERE id = $1")
                    .bind(receipt)
                    .fetch_one(&mut *$tx)
                    .await?
            }
        };
        let category: Uuid = match chosen {
            Some(id) => id,
            None => sqlx::query_scalar(
                "SELECT id FROM categories WHERE user_id = $1 \
                 ORDER BY is_default DESC, created_at, id LIMIT 1",
            )
            .bind(user)
            .fetch_optional(&mut *$tx)
            .await?
            .ok_or(StoreError::NotFound("category"))?,
        };
        let existing: Option<(Uuid, bool)> =
            sqlx::query_as("SELECT id, needs_review FROM expenses WHERE receipt_id = $1")
                .bind(receipt)
                .fetch_optional(&mut *$tx)
                .await?;
        let expense = match existing {
            Some((id, true)) => {
                sqlx::query(
                    "UPDATE expenses SET category_id = $2, spent_on = $3, vendor = $4, \
                     amount_minor = $5, currency = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(id)
                .bind(category)
                .bind(result.date)
                .bind(result.vendor.as_str())
                .bind(result.amount.minor())
                .bind(result.amount.currency().code())
                .bind($at)
                .execute(&mut *$tx)
                .await
                .map_err(crate::error::missing("category"))?;
                id
            }
            Some((id, false)) => id,
            None => {
                let id = ExpenseId::new().as_uuid();
                sqlx::query(
                    "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, \
                     amount_minor, currency, needs_review, receipt_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, $9, $9)",
                )
                .bind(id)
                .bind(user)
                .bind(category)
                .bind(result.date)
                .bind(result.vendor.as_str())
                .bind(result.amount.minor())
                .bind(result.amount.currency().code())
                .bind(receipt)
                .bind($at)
                .execute(&mut *$tx)
                .await
                .map_err(crate::error::missing("category"))?;
                id
            }
        };
        sqlx::query(
            "UPDATE receipts SET status = 'done', failure_reason = NULL, ocr_unsure = $3, \
             ocr_text = $4, updated_at = $2 WHERE id = $1",
        )
        .bind(receipt)
        .bind($at)
        .bind(result.unsure.to_list())
        .bind(result.text.as_deref().and_then(searchable_text))
        .execute(&mut *$tx)
        .await?;
        // A result that arrives another way (a worker reporting through the API) closes the
        // receipt's job too.
        sqlx::query(
            "UPDATE ocr_jobs SET state = 'done', claim_id = NULL, claimed_by = NULL, \
             lease_expires_at = NULL, last_error = NULL, updated_at = $2 \
             WHERE receipt_id = $1 AND state IN ('queued', 'running')",
        )
        .bind(receipt)
        .bind($at)
        .execute(&mut *$tx)
        .await?;
        ExpenseId::from_uuid(expense)
    }};
}

fn ensure_result_is_spendable(result: &OcrResult) -> Result<()> {
    ledgerly_core::expense::ensure_spendable(result.amount)
        .map(drop)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Store {
    /// Queues OCR of one of the user's receipts. Queuing a receipt whose job is queued or running
    /// changes nothing; queuing one whose job is done or failed runs it again from scratch.
    #[tracing::instrument(skip_all, err)]
    pub async fn enqueue_ocr_job(
        &self,
        user: UserId,
        receipt: ReceiptId,
        max_attempts: u32,
        at: DateTime<Utc>,
    ) -> Result<OcrJob> {
        if max_attempts == 0 {
            return Err(StoreError::Invalid(
                "a job needs at least one attempt".into(),
            ));
        }
        let at = micros(at);
        let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let row: Option<JobRow> = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let owned: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM receipts WHERE id = $1 AND user_id = $2")
                    .bind(receipt.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            if owned.is_none() {
                return Err(StoreError::NotFound("receipt"));
            }
            let queued = sqlx::query(
                "INSERT INTO ocr_jobs (id, receipt_id, user_id, state, attempts, max_attempts, \
                 run_after, created_at, updated_at) \
                 SELECT $1, r.id, r.user_id, 'queued', 0, $4, $5, $5, $5 FROM receipts r \
                 WHERE r.id = $2 AND r.user_id = $3 \
                 ON CONFLICT (receipt_id) DO UPDATE SET state = 'queued', attempts = 0, \
                 max_attempts = excluded.max_attempts, run_after = excluded.run_after, \
                 claim_id = NULL, claimed_by = NULL, lease_expires_at = NULL, last_error = NULL, \
                 updated_at = excluded.updated_at \
                 WHERE ocr_jobs.state IN ('done', 'failed')",
            )
            .bind(JobId::new().as_uuid())
            .bind(receipt.as_uuid())
            .bind(user.as_uuid())
            .bind(max_attempts)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if queued > 0 {
                sqlx::query(
                    "UPDATE receipts SET status = 'pending', failure_reason = NULL, updated_at = $2 \
                     WHERE id = $1",
                )
                .bind(receipt.as_uuid())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            let row = sqlx::query_as(concat!(
                "SELECT ",
                job_columns!(),
                " FROM ocr_jobs WHERE receipt_id = $1"
            ))
            .bind(receipt.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            row
        });
        row.ok_or(StoreError::NotFound("job"))?.try_into()
    }

    /// Claims the next job due at `at` — queued and past its backoff, or running with a lease
    /// that has run out — for `lease`. Jobs whose lease ran out on their last attempt are failed
    /// first: a receipt that keeps killing workers is not retried for ever.
    #[tracing::instrument(skip_all, err)]
    pub async fn claim_ocr_job(
        &self,
        worker: &str,
        lease: Duration,
        at: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>> {
        let at = micros(at);
        let claim = ClaimId::new();
        let expires = micros(at + lease);
        let row: Option<JobRow> = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let abandoned: Vec<(Uuid, i32)> = sqlx::query_as(
                "UPDATE ocr_jobs SET state = 'failed', claim_id = NULL, claimed_by = NULL, \
                 lease_expires_at = NULL, updated_at = $1, \
                 last_error = 'the worker reading it stopped responding' \
                 WHERE state = 'running' AND lease_expires_at <= $1 AND attempts >= max_attempts \
                 RETURNING receipt_id, attempts",
            )
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            for (receipt, attempts) in abandoned {
                sqlx::query(
                    "UPDATE receipts SET status = 'failed', failure_reason = $2, updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(receipt)
                .bind(format!(
                    "reading this receipt stopped the OCR worker {attempts} times; retry it, or enter the expense by hand"
                ))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            let row: Option<JobRow> = sqlx::query_as(d.pick(
                claim_statement!("FOR UPDATE SKIP LOCKED"),
                claim_statement!(""),
            ))
            .bind(at)
            .bind(claim.as_uuid())
            .bind(worker)
            .bind(expires)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(job) = &row {
                sqlx::query(
                    "UPDATE receipts SET status = 'processing', failure_reason = NULL, updated_at = $2 \
                     WHERE id = $1",
                )
                .bind(job.receipt_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            row
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let job: OcrJob = row.try_into()?;
        let receipt = self.receipt_by_id(job.receipt_id).await?;
        Ok(Some(ClaimedJob {
            job,
            claim,
            receipt,
        }))
    }

    /// Extends the lease of a job this claim still holds.
    #[tracing::instrument(skip_all, err)]
    pub async fn extend_ocr_lease(&self, claimed: &ClaimedJob, until: DateTime<Utc>) -> Result<()> {
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE ocr_jobs SET lease_expires_at = $3 \
                 WHERE id = $1 AND claim_id = $2 AND state = 'running'",
            )
            .bind(claimed.job.id.as_uuid())
            .bind(claimed.claim.as_uuid())
            .bind(micros(until))
            .execute(pool)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::LeaseLost);
        }
        Ok(())
    }

    /// Finishes a job with what OCR read: the receipt's expense is created (or refreshed while
    /// it awaits review) and marked as needing review, all in one transaction.
    #[tracing::instrument(skip_all, err)]
    pub async fn complete_ocr_job(
        &self,
        claimed: &ClaimedJob,
        result: &OcrResult,
    ) -> Result<Expense> {
        ensure_result_is_spendable(result)?;
        let at = now();
        let expense = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let held: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE ocr_jobs SET state = 'done', claim_id = NULL, claimed_by = NULL, \
                 lease_expires_at = NULL, last_error = NULL, updated_at = $3 \
                 WHERE id = $1 AND claim_id = $2 AND state = 'running' \
                 RETURNING receipt_id, user_id",
            )
            .bind(claimed.job.id.as_uuid())
            .bind(claimed.claim.as_uuid())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((receipt, user)) = held else {
                return Err(StoreError::LeaseLost);
            };
            let expense = apply_result_in_tx!(tx, receipt, user, result, at);
            tx.commit().await?;
            expense
        });
        self.get_expense(claimed.job.user_id, expense).await
    }

    /// Records a failed attempt. With `retry_at`, the job is queued again for then, unless it
    /// has used all its attempts; otherwise (or then) it fails for good with `reason`, which the
    /// receipt shows to its owner.
    #[tracing::instrument(skip_all, err)]
    pub async fn fail_ocr_job(
        &self,
        claimed: &ClaimedJob,
        reason: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<OcrOutcome> {
        let at = now();
        let (state, attempts): (String, i32) = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let row: Option<(String, Uuid, i32)> = sqlx::query_as(
                "UPDATE ocr_jobs SET \
                 state = CASE WHEN $3 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
                 run_after = COALESCE($4, run_after), claim_id = NULL, claimed_by = NULL, \
                 lease_expires_at = NULL, last_error = $5, updated_at = $6 \
                 WHERE id = $1 AND claim_id = $2 AND state = 'running' \
                 RETURNING state, receipt_id, attempts",
            )
            .bind(claimed.job.id.as_uuid())
            .bind(claimed.claim.as_uuid())
            .bind(retry_at.is_some())
            .bind(retry_at.map(micros))
            .bind(reason)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((state, receipt, attempts)) = row else {
                return Err(StoreError::LeaseLost);
            };
            let (status, failure) = if state == "queued" {
                ("pending", None)
            } else {
                ("failed", Some(reason))
            };
            sqlx::query(
                "UPDATE receipts SET status = $2, failure_reason = $3, updated_at = $4 WHERE id = $1",
            )
            .bind(receipt)
            .bind(status)
            .bind(failure)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            (state, attempts)
        });
        let attempts = u32::try_from(attempts).map_err(StoreError::corrupt)?;
        Ok(match (JobState::parse(&state)?, retry_at) {
            (JobState::Queued, Some(at)) => OcrOutcome::Retrying {
                at: micros(at),
                attempts,
            },
            _ => OcrOutcome::Failed {
                reason: reason.to_owned(),
            },
        })
    }

    /// Hands a job back untouched (a worker shutting down): queued again at once, and the
    /// attempt not counted.
    #[tracing::instrument(skip_all, err)]
    pub async fn release_ocr_job(&self, claimed: &ClaimedJob) -> Result<()> {
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let receipt: Option<Uuid> = sqlx::query_scalar(
                "UPDATE ocr_jobs SET state = 'queued', \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 run_after = $3, claim_id = NULL, claimed_by = NULL, lease_expires_at = NULL, \
                 updated_at = $3 \
                 WHERE id = $1 AND claim_id = $2 AND state = 'running' RETURNING receipt_id",
            )
            .bind(claimed.job.id.as_uuid())
            .bind(claimed.claim.as_uuid())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(receipt) = receipt else {
                return Err(StoreError::LeaseLost);
            };
            sqlx::query("UPDATE receipts SET status = 'pending', updated_at = $2 WHERE id = $1")
                .bind(receipt)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Applies an OCR result that arrived without a job — the signed callback from the S3-event
    /// Lambda. Applying the same result twice leaves the same state as applying it once, also
    /// when two deliveries reach two API instances at the same moment: the receipt's row is
    /// locked first (SQLite's writers already take turns), so the second finds the first's
    /// expense instead of inserting a second one.
    #[tracing::instrument(skip_all, err)]
    pub async fn apply_ocr_result(
        &self,
        receipt: ReceiptId,
        result: &OcrResult,
    ) -> Result<Expense> {
        ensure_result_is_spendable(result)?;
        let owner = self.receipt_by_id(receipt).await?.user_id;
        let at = now();
        let expense = with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query(d.pick(
                "SELECT id FROM receipts WHERE id = $1 FOR UPDATE",
                "SELECT id FROM receipts WHERE id = $1",
            ))
            .bind(receipt.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            let expense = apply_result_in_tx!(tx, receipt.as_uuid(), owner.as_uuid(), result, at);
            tx.commit().await?;
            expense
        });
        self.get_expense(owner, expense).await
    }

    /// The job for one of the user's receipts.
    #[tracing::instrument(skip_all, err)]
    pub async fn get_ocr_job(&self, user: UserId, receipt: ReceiptId) -> Result<Option<OcrJob>> {
        let row: Option<JobRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                "SELECT ",
                job_columns!(),
                " FROM ocr_jobs WHERE user_id = $1 AND receipt_id = $2"
            ))
            .bind(user.as_uuid())
            .bind(receipt.as_uuid())
            .fetch_optional(pool)
            .await?
        });
        row.map(OcrJob::try_from).transpose()
    }

    /// Jobs per state, across all users (for metrics; no user data).
    #[tracing::instrument(skip_all, err)]
    pub async fn ocr_job_counts(&self) -> Result<JobCounts> {
        let rows: Vec<(String, i64)> = with_db!(self, |pool, d| {
            sqlx::query_as("SELECT state, COUNT(*) FROM ocr_jobs GROUP BY state")
                .fetch_all(pool)
                .await?
        });
        let mut counts = JobCounts::default();
        for (state, n) in rows {
            let n = n.unsigned_abs();
            match JobState::parse(&state)? {
                JobState::Queued => counts.queued = n,
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Failed => counts.failed = n,
            }
        }
        Ok(counts)
    }
}
