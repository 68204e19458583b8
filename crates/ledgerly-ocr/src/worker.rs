//! The worker: claims OCR jobs with a lease, keeps the lease alive while it works, and records
//! each outcome. Transient failures are retried with exponential backoff and jitter up to the
//! job's attempts; permanent ones fail at once with their reason. On shutdown it stops claiming,
//! lets extractions in flight finish within a grace period, and hands back those that do not —
//! a stopped worker loses nothing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledgerly_core::callback::{CallbackOutcome, OcrCallback};
use ledgerly_core::{Expense, Unsure, Vendor};
use ledgerly_store::objects::{Storage, StorageError};
use ledgerly_store::{ClaimedJob, OCR_TEXT_MAX_CHARS, OcrOutcome, OcrResult, Store, StoreError};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::extractor::{ExtractError, Extractor, ReceiptFields};
use crate::metrics::OcrMetrics;
use crate::normalise::Hints;
use crate::reporter::{ApiReporter, Delivery};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Shown in the job's `claimed_by`: which worker holds it.
    pub name: String,
    /// Jobs worked on at once.
    pub concurrency: usize,
    /// How long a claim lasts without being extended; a dead worker's job is free after this.
    pub lease: Duration,
    /// How long to wait when the queue is empty.
    pub poll_interval: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_max`, with ±25% jitter.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long jobs in flight get to finish after shutdown before being handed back.
    pub shutdown_grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            name: "worker".into(),
            concurrency: 2,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(15 * 60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What became of one job.
#[derive(Debug)]
pub enum JobOutcome {
    /// Read: the receipt's expense, awaiting review.
    Completed(Box<Expense>),
    /// Queued again for later.
    Retrying { reason: String },
    /// Given up; the receipt shows the reason.
    Failed { reason: String },
    /// Handed back unfinished (shutdown).
    Released,
    /// Posted to the API, which applied it: read, or failed for the reason given.
    Reported { failure: Option<String> },
    /// Another worker took the job over after this one's lease ran out.
    LeaseLost,
}

impl JobOutcome {
    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            JobOutcome::Completed(_) => "read",
            JobOutcome::Retrying { .. } => "retrying",
            JobOutcome::Failed { .. } => "failed",
            JobOutcome::Released => "released",
            JobOutcome::Reported { failure: None } => "read",
            JobOutcome::Reported { failure: Some(_) } => "failed",
            JobOutcome::LeaseLost => "lease_lost",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    storage: Storage,
    extractor: Arc<dyn Extractor>,
    options: WorkerOptions,
    metrics: OcrMetrics,
    reporter: Option<ApiReporter>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Worker {
    pub fn new(
        store: Store,
        storage: Storage,
        extractor: Arc<dyn Extractor>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            store,
            storage,
            extractor,
            options,
            metrics: OcrMetrics::default(),
            reporter: None,
        }
    }

    /// Reports results through the API's signed endpoint instead of writing them to the store:
    /// the API applies them, so expenses have one writer. The queue itself is still the store's.
    pub fn reporting_to(mut self, reporter: ApiReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// Records jobs and extraction times in `metrics` (unregistered metrics are kept nowhere).
    pub fn with_metrics(mut self, metrics: OcrMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Works the queue until `shutdown` completes, then winds down (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut running: JoinSet<()> = JoinSet::new();
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.options.name, backend = self.extractor.name(), "OCR worker started");
        loop {
            let mut claimed_any = false;
            while running.len() < self.options.concurrency.max(1) {
                match self.claim().await {
                    Ok(Some(job)) => {
                        claimed_any = true;
                        let worker = self.clone();
                        let stop = stop_rx.clone();
                        running.spawn(async move {
                            if let Err(err) = worker.process(job, stop).await {
                                tracing::error!(error = ?err, "an OCR job could not be recorded");
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(err) => {
                        tracing::error!(error = ?err, "claiming an OCR job failed");
                        break;
                    }
                }
            }
            let wait = if claimed_any && running.len() < self.options.concurrency {
                Duration::ZERO
            } else {
                self.options.poll_interval
            };
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(in_flight = running.len(), "OCR worker stopping");
        let drained = tokio::time::timeout(self.options.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            // Jobs still extracting hand themselves back.
            stop_tx.send(true).ok();
            while running.join_next().await.is_some() {}
        }
        tracing::info!("OCR worker stopped");
    }

    async fn claim(&self) -> Result<Option<ClaimedJob>, StoreError> {
        let lease =
            chrono::Duration::from_std(self.options.lease).unwrap_or(chrono::Duration::minutes(2));
        self.store
            .claim_ocr_job(&self.options.name, lease, Utc::now())
            .await
    }

    /// Claims and works one job, if any is due. For tools and tests.
    pub async fn run_once(&self) -> Result<Option<JobOutcome>, WorkerError> {
        let Some(job) = self.claim().await? else {
            return Ok(None);
        };
        let (_stop_tx, stop_rx) = watch::channel(false);
        self.process(job, stop_rx).await.map(Some)
    }

    #[tracing::instrument(skip_all, fields(receipt = %job.receipt.id, attempt = job.job.attempts))]
    async fn process(
        &self,
        job: ClaimedJob,
        mut stop: watch::Receiver<bool>,
    ) -> Result<JobOutcome, WorkerError> {
        let work = self.read_receipt(&job);
        let keep_lease = self.keep_lease(&job);
        tokio::pin!(work);
        let result = tokio::select! {
            result = &mut work => Some(result),
            lost = keep_lease => {
                tracing::warn!(?lost, "lost the lease; leaving the job to its new holder");
                self.metrics.job(self.extractor.name(), JobOutcome::LeaseLost.label());
                return Ok(JobOutcome::LeaseLost);
            }
            _ = stop.wait_for(|stopped| *stopped) => None,
        };
        let Some(result) = result else {
            let outcome = match self.store.release_ocr_job(&job).await {
                Ok(()) => JobOutcome::Released,
                Err(StoreError::LeaseLost) => JobOutcome::LeaseLost,
                Err(err) => return Err(err.into()),
            };
            self.metrics.job(self.extractor.name(), outcome.label());
            return Ok(outcome);
        };
        let outcome = match (result, &self.reporter) {
            (Err(ExtractError::Transient(reason)), _) => self.fail(&job, reason, true).await,
            (Ok(fields), None) => match to_result(&job, fields) {
                Ok(result) => self
                    .store
                    .complete_ocr_job(&job, &result)
                    .await
                    .map(|e| JobOutcome::Completed(Box::new(e))),
                Err(err) => self.fail(&job, err.to_string(), false).await,
            },
            (Err(ExtractError::Permanent(reason)), None) => self.fail(&job, reason, false).await,
            (result, Some(reporter)) => {
                let outcome = match result {
                    Ok(fields) => match to_result(&job, fields) {
                        Ok(read) => read_outcome(&read),
                        Err(err) => CallbackOutcome::Failed {
                            reason: err.to_string(),
                        },
                    },
                    Err(err) => CallbackOutcome::Failed {
                        reason: err.to_string(),
                    },
                };
                self.report(&job, reporter, outcome).await
            }
        };
        let outcome = match outcome {
            Err(StoreError::LeaseLost) => JobOutcome::LeaseLost,
            other => other?,
        };
        self.metrics.job(self.extractor.name(), outcome.label());
        Ok(outcome)
    }

    async fn read_receipt(&self, job: &ClaimedJob) -> Result<ReceiptFields, ExtractError> {
        let bytes = self
            .storage
            .get(&job.receipt.object_key)
            .await
            .map_err(|err| match err {
                StorageError::NotFound(_) => ExtractError::Permanent(
                    "the receipt's file is missing from storage; upload it again".into(),
                ),
                other => {
                    ExtractError::Transient(format!("reading the receipt's file failed: {other}"))
                }
            })?;
        // The owner's currency for amounts without a symbol; their today bounds the date.
        let owner = self
            .store
            .get_user(job.receipt.user_id)
            .await
            .map_err(|err| {
                ExtractError::Transient(format!("reading the receipt's owner failed: {err}"))
            })?;
        let hints = Hints::new(owner.currency, owner.time_zone.today());
        let started = std::time::Instant::now();
        let result = self
            .extractor
            .extract(&bytes, job.receipt.kind, &hints)
            .await;
        self.metrics
            .extraction(self.extractor.name(), started.elapsed().as_secs_f64());
        tracing::info!(
            backend = self.extractor.name(),
            ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "extraction finished"
        );
        result
    }

    /// Posts the outcome to the API, which applies it and closes the job; what the API cannot
    /// take now is retried like any transient failure.
    async fn report(
        &self,
        job: &ClaimedJob,
        reporter: &ApiReporter,
        outcome: CallbackOutcome,
    ) -> Result<JobOutcome, StoreError> {
        let failure = match &outcome {
            CallbackOutcome::Failed { reason } => Some(reason.clone()),
            CallbackOutcome::Read { .. } => None,
        };
        let callback = OcrCallback::new(job.receipt.id, job.receipt.object_key.clone(), outcome);
        match reporter.post(&callback).await {
            Delivery::Delivered => Ok(JobOutcome::Reported { failure }),
            Delivery::Gone(reason) => self.fail(job, reason, false).await,
            Delivery::Retry(reason) => self.fail(job, reason, true).await,
        }
    }

    /// Extends the lease every third of its length; returns only when the lease is lost.
    async fn keep_lease(&self, job: &ClaimedJob) -> StoreError {
        let lease = self.options.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = Utc::now()
                + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2));
            match self.store.extend_ocr_lease(job, until).await {
                Ok(()) => {}
                Err(err @ StoreError::LeaseLost) => return err,
                Err(err) => tracing::warn!(error = ?err, "extending a lease failed; trying again"),
            }
        }
    }

    async fn fail(
        &self,
        job: &ClaimedJob,
        reason: String,
        transient: bool,
    ) -> Result<JobOutcome, StoreError> {
        let retry_at = transient.then(|| Utc::now() + self.backoff(job.job.attempts));
        let outcome = self.store.fail_ocr_job(job, &reason, retry_at).await?;
        Ok(match outcome {
            OcrOutcome::Retrying { .. } => {
                tracing::warn!(reason, "OCR failed; will retry");
                JobOutcome::Retrying { reason }
            }
            OcrOutcome::Failed { reason } => {
                tracing::warn!(reason, "OCR failed for good");
                JobOutcome::Failed { reason }
            }
        })
    }

    /// `retry_base × 2^(attempt−1)`, at most `retry_max`, ±25% so retries do not stampede.
    fn backoff(&self, attempt: u32) -> chrono::Duration {
        let base = self.options.retry_base.as_secs_f64()
            * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
        let capped = base.min(self.options.retry_max.as_secs_f64());
        let jittered = capped * rand::rng().random_range(0.75..=1.25);
        chrono::Duration::milliseconds((jittered * 1000.0) as i64)
    }
}

/// Below this confidence (percent) a field is flagged for its owner to check.
pub const UNSURE_BELOW: u8 = 60;

/// Why the fields read from a receipt cannot make an expense; the message is for its owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnusableFields {
    #[error(
        "no total could be read from the receipt; enter the expense by hand or retry with a clearer image"
    )]
    NoTotal,
    /// The total was read but refused; the normaliser's problem with it.
    #[error(
        "no total could be read from the receipt ({0}); enter the expense by hand or retry with a clearer image"
    )]
    TotalRefused(String),
    #[error("the total read from the receipt ({0}) is not a positive amount")]
    NotPositive(ledgerly_core::Money),
    #[error("the vendor could not be read")]
    NoVendor,
}

/// What an expense is made from: the fields a read receipt must have, or the reason (for its
/// owner) that they are not there. A receipt without a readable, positive total cannot be an
/// expense. A missing vendor or date is filled in (`Unknown vendor`, the `upload_date` — the
/// expense needs one) and flagged, as is any field read with a confidence under
/// [`UNSURE_BELOW`], so the review drawer points at what to check. The text read is kept for
/// search (see `searchable_text`).
pub fn usable_fields(
    fields: &ReceiptFields,
    upload_date: chrono::NaiveDate,
) -> Result<OcrResult, UnusableFields> {
    let Some(total) = fields.total else {
        let problem = fields.problems.iter().find(|p| p.starts_with("total:"));
        return Err(match problem {
            Some(problem) => UnusableFields::TotalRefused(problem.clone()),
            None => UnusableFields::NoTotal,
        });
    };
    if !total.is_positive() {
        return Err(UnusableFields::NotPositive(total));
    }
    let read = fields.vendor.as_deref().and_then(|v| Vendor::parse(v).ok());
    let doubtful = |confidence: Option<u8>| confidence.is_some_and(|c| c < UNSURE_BELOW);
    let unsure = Unsure {
        vendor: read.is_none() || doubtful(fields.confidence.vendor),
        date: fields.date.is_none() || doubtful(fields.confidence.date),
        amount: doubtful(fields.confidence.total),
    };
    let vendor = read
        .or_else(|| Vendor::parse("Unknown vendor").ok())
        .ok_or(UnusableFields::NoVendor)?;
    Ok(OcrResult {
        vendor,
        date: fields.date.unwrap_or(upload_date),
        amount: total,
        category_id: None,
        unsure,
        text: searchable_text(fields),
    })
}

/// The words a person may search a receipt by, trimmed and cut to [`OCR_TEXT_MAX_CHARS`]
/// characters; nothing when blank. An OCR engine's output is the receipt's text as printed. A
/// model's reply is the API's JSON envelope (`candidates`, `usage`…), whose words are not the
/// receipt's: from it, the vendor and the line items read are kept instead.
fn searchable_text(fields: &ReceiptFields) -> Option<String> {
    let raw = fields.raw.trim();
    let text = if raw.starts_with('{') {
        fields
            .vendor
            .iter()
            .map(String::as_str)
            .chain(
                fields
                    .line_items
                    .iter()
                    .map(|item| item.description.as_str()),
            )
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        raw.to_owned()
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(OCR_TEXT_MAX_CHARS).collect())
}

/// The callback's form of a read result.
pub fn read_outcome(result: &OcrResult) -> CallbackOutcome {
    CallbackOutcome::Read {
        vendor: result.vendor.as_str().to_owned(),
        date: result.date,
        amount: result.amount.to_decimal_string(),
        currency: result.amount.currency(),
        unsure: result.unsure,
        text: result.text.clone(),
    }
}

fn to_result(job: &ClaimedJob, fields: ReceiptFields) -> Result<OcrResult, UnusableFields> {
    usable_fields(&fields, job.receipt.created_at.date_naive())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use ledgerly_core::{Currency, Money};

    use super::*;
    use crate::extractor::FieldConfidence;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn read(confidence: FieldConfidence) -> ReceiptFields {
        ReceiptFields {
            vendor: Some("Kedai Runcit Ah Seng".into()),
            date: Some(day("2026-03-02")),
            total: Some(Money::from_minor(1_250, Currency::MYR)),
            confidence,
            raw: "  KEDAI RUNCIT AH SENG\nJUMLAH RM12.50\n".into(),
            ..ReceiptFields::default()
        }
    }

    #[test]
    fn fields_read_surely_are_taken_unflagged() {
        let sure = FieldConfidence {
            vendor: Some(90),
            date: Some(95),
            total: Some(98),
        };
        let result = usable_fields(&read(sure), day("2026-03-05")).unwrap();
        assert_eq!(result.date, day("2026-03-02"));
        assert_eq!(result.vendor.as_str(), "Kedai Runcit Ah Seng");
        assert!(!result.unsure.any());
        // A backend that does not say how sure it is is not doubted.
        let silent = usable_fields(&read(FieldConfidence::default()), day("2026-03-05")).unwrap();
        assert!(!silent.unsure.any());
    }

    #[test]
    fn low_confidence_and_filled_in_fields_are_flagged() {
        let doubtful = FieldConfidence {
            vendor: Some(UNSURE_BELOW - 1),
            date: Some(UNSURE_BELOW),
            total: Some(30),
        };
        let result = usable_fields(&read(doubtful), day("2026-03-05")).unwrap();
        assert_eq!(
            result.unsure,
            Unsure {
                vendor: true,
                date: false,
                amount: true
            }
        );
        // No date and no vendor on the slip: filled in, and flagged.
        let bare = ReceiptFields {
            vendor: None,
            date: None,
            ..read(FieldConfidence::default())
        };
        let result = usable_fields(&bare, day("2026-03-05")).unwrap();
        assert_eq!(result.date, day("2026-03-05"));
        assert_eq!(result.vendor.as_str(), "Unknown vendor");
        assert!(result.unsure.vendor && result.unsure.date && !result.unsure.amount);
    }

    #[test]
    fn the_text_read_is_the_backends_output_trimmed_and_cut() {
        let sure = FieldConfidence::default();
        let result = usable_fields(&read(sure), day("2026-03-05")).unwrap();
        assert_eq!(
            result.text.as_deref(),
            Some("KEDAI RUNCIT AH SENG\nJUMLAH RM12.50")
        );
        assert_eq!(
            read_outcome(&result),
            CallbackOutcome::Read {
                vendor: "Kedai Runcit Ah Seng".into(),
                date: day("2026-03-02"),
                amount: "12.50".into(),
                currency: Currency::MYR,
                unsure: Unsure::default(),
                text: result.text.clone(),
            }
        );
        let blank = ReceiptFields {
            raw: " \n\t ".into(),
            ..read(sure)
        };
        assert_eq!(usable_fields(&blank, day("2026-03-05")).unwrap().text, None);
        // Cut by characters, not bytes: each `ร` is three.
        let long = ReceiptFields {
            raw: "ร".repeat(OCR_TEXT_MAX_CHARS + 10),
            ..read(sure)
        };
        let cut = usable_fields(&long, day("2026-03-05")).unwrap();
        assert_eq!(cut.text, Some("ร".repeat(OCR_TEXT_MAX_CHARS)));
        // A model's JSON reply: the vendor and the items, not the envelope's words.
        let model = ReceiptFields {
            raw: r#"{"candidates": [{"content": "…"}], "usageMetadata": {}}"#.into(),
            vendor: Some("Blue Tokai".into()),
            line_items: vec![crate::extractor::LineItem {
                description: "Flat white".into(),
                amount: None,
            }],
            ..read(sure)
        };
        let text = usable_fields(&model, day("2026-03-05")).unwrap().text;
        assert_eq!(text.as_deref(), Some("Blue Tokai\nFlat white"));
    }

    #[test]
    fn no_total_is_a_reason_for_the_owner() {
        let none = ReceiptFields {
            total: None,
            ..read(FieldConfidence::default())
        };
        let reason = usable_fields(&none, day("2026-03-05"))
            .unwrap_err()
            .to_string();
        assert!(reason.contains("no total"), "{reason}");
    }
}
