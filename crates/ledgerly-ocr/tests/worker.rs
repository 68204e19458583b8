//! The worker against a real store and real file storage, on PostgreSQL and SQLite, with an
//! in-process test extractor.

#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use ledgerly_api::testing::{ApiClient, RunningApi};
use ledgerly_core::{
    Currency, Email, Money, OcrStatus, PersonName, Receipt, ReceiptId, ReceiptKind, User,
    UserTimeZone,
};
use ledgerly_ocr::{
    ExtractError, Extractor, Hints, JobOutcome, ReceiptFields, Worker, WorkerOptions,
};
use ledgerly_store::objects::{Storage, StorageBackend, StorageLocation, receipt_key};
use ledgerly_store::testing::{Backend, TestDatabase};
use ledgerly_store::{JobState, NewReceipt, NewUser, Store};

/// Reads `vendor=…;date=…;total=…` (after the PNG signature) as if it were OCR. `fail=transient:N`
/// fails the first N reads of that file; `fail=permanent` always fails; `slow=MS` waits first.
#[derive(Debug, Default)]
pub struct ScriptedExtractor {
    reads: Mutex<HashMap<Vec<u8>, u32>>,
}

#[async_trait::async_trait]
impl Extractor for ScriptedExtractor {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        _hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        assert_eq!(kind, ReceiptKind::Png);
        let reads = {
            let mut reads = self.reads.lock().unwrap();
            let n = reads.entry(image.to_vec()).or_insert(0);
            *n += 1;
            *n
        };
        let script = String::from_utf8_lossy(&image[8..]).to_string();
        let get = |key: &str| {
            script
                .split(';')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_owned))
        };
        if let Some(ms) = get("slow") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        }
        match get("fail").as_deref() {
            Some("permanent") => return Err(ExtractError::Permanent("the image is blank".into())),
            Some(transient) if transient.starts_with("transient:") => {
                let times: u32 = transient["transient:".len()..].parse().unwrap();
                if reads <= times {
                    return Err(ExtractError::Transient(
                        "the OCR service answered 503".into(),
                    ));
                }
            }
            _ => {}
        }
        Ok(ReceiptFields {
            vendor: get("vendor"),
            date: get("date").map(|d| d.parse().unwrap()),
            total: get("total").map(|t| Money::from_decimal_str(&t, Currency::INR).unwrap()),
            raw: script.clone(),
            ..ReceiptFields::default()
        })
    }
}

pub fn scripted(script: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(script.as_bytes());
    bytes
}

struct Setup {
    db: TestDatabase,
    storage: Storage,
    folder: std::path::PathBuf,
    user: User,
    extractor: Arc<ScriptedExtractor>,
}

impl Setup {
    async fn new(backend: Backend) -> Setup {
        let db = TestDatabase::new(backend).await;
        let folder =
            std::env::temp_dir().join(format!("ledgerly-ocr-{}", uuid::Uuid::new_v4().simple()));
        let storage = Storage::open(&StorageLocation {
            backend: StorageBackend::Local,
            path: folder.clone(),
            bucket: String::new(),
            region: String::new(),
            endpoint: String::new(),
        })
        .await
        .unwrap();
        let user = db
            .store
            .create_user(NewUser {
                email: Email::parse("priya@example.com").unwrap(),
                name: PersonName::parse("Priya").unwrap(),
                password_hash: "x".into(),
                currency: Currency::INR,
                time_zone: UserTimeZone::KOLKATA,
            })
            .await
            .unwrap();
        Setup {
            db,
            storage,
            folder,
            user,
            extractor: Arc::new(ScriptedExtractor::default()),
        }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    fn worker(&self, options: WorkerOptions) -> Worker {
        Worker::new(
            self.store().clone(),
            self.storage.clone(),
            self.extractor.clone(),
            options,
        )
    }

    /// Stores a receipt file and queues its job, as an upload does.
    async fn receipt(&self, script: &str, max_attempts: u32) -> Receipt {
        let id = ReceiptId::new();
        let key = receipt_key(self.user.id, id, ReceiptKind::Png);
        let bytes = scripted(script);
        self.storage
            .put(&key, bytes.clone().into(), "image/png")
            .await
            .unwrap();
        let receipt = self
            .store()
            .create_receipt(
                self.user.id,
                NewReceipt {
                    id,
                    object_key: key,
                    kind: ReceiptKind::Png,
                    size_bytes: bytes.len() as i64,
                    sha256: format!("{id}"),
                    original_filename: None,
                    category_id: None,
                },
            )
            .await
            .unwrap();
        self.store()
            .enqueue_ocr_job(self.user.id, receipt.id, max_attempts, Utc::now())
            .await
            .unwrap();
        receipt
    }

    async fn status(&self, receipt: &Receipt) -> OcrStatus {
        self.store()
            .get_receipt(self.user.id, receipt.id)
            .await
            .unwrap()
            .status
    }

    async fn finish(self) {
        std::fs::remove_dir_all(&self.folder).ok();
        self.db.cleanup().await;
    }
}

fn fast() -> WorkerOptions {
    WorkerOptions {
        name: "test-worker".into(),
        concurrency: 4,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
        retry_base: Duration::from_millis(200),
        retry_max: Duration::from_secs(1),
        shutdown_grace: Duration::from_millis(100),
    }
}

use ledgerly_store::on_both_backends;

on_both_backends!(
    a_read_receipt_becomes_an_expense_needing_review,
    a_transient_failure_is_retried_after_its_backoff,
    a_permanent_failure_says_why_and_keeps_the_image,
    a_receipt_without_a_total_fails_with_a_reason,
    a_stopped_worker_hands_back_its_job,
    a_job_of_a_dead_worker_is_finished_by_another_once,
    the_worker_drains_the_queue_concurrently,
);

async fn a_read_receipt_becomes_an_expense_needing_review(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s
        .receipt("vendor=Reliance Fresh;date=2026-05-02;total=1234.50", 3)
        .await;
    let outcome = s.worker(fast()).run_once().await.unwrap().unwrap();
    let JobOutcome::Completed(expense) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(expense.needs_review);
    assert_eq!(
        (
            expense.vendor.as_str(),
            expense.amount.to_decimal_string().as_str()
        ),
        ("Reliance Fresh", "1234.50")
    );
    assert_eq!(expense.date, "2026-05-02".parse().unwrap());
    assert_eq!(s.status(&receipt).await, OcrStatus::Done);
    assert!(
        s.worker(fast()).run_once().await.unwrap().is_none(),
        "nothing left to do"
    );
    s.finish().await;
}

async fn a_transient_failure_is_retried_after_its_backoff(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s
        .receipt("vendor=Cafe;date=2026-05-02;total=80;fail=transient:2", 5)
        .await;
    let worker = s.worker(fast());
    assert!(matches!(
        worker.run_once().await.unwrap(),
        Some(JobOutcome::Retrying { .. })
    ));
    assert_eq!(s.status(&receipt).await, OcrStatus::Pending);
    // Not due until its backoff has passed.
    assert!(worker.run_once().await.unwrap().is_none());
    let job = s
        .store()
        .get_ocr_job(s.user.id, receipt.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.last_error.as_deref(),
        Some("the OCR service answered 503")
    );
    let run = tokio::spawn(
        worker
            .clone()
            .run(tokio::time::sleep(Duration::from_secs(4))),
    );
    for _ in 0..80 {
        if s.status(&receipt).await == OcrStatus::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.status(&receipt).await, OcrStatus::Done);
    assert_eq!(
        s.store()
            .get_ocr_job(s.user.id, receipt.id)
            .await
            .unwrap()
            .unwrap()
            .attempts,
        3
    );
    run.abort();
    s.finish().await;
}

async fn a_permanent_failure_says_why_and_keeps_the_image(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s.receipt("fail=permanent", 5).await;
    let outcome = s.worker(fast()).run_once().await.unwrap().unwrap();
    assert!(
        matches!(outcome, JobOutcome::Failed { ref reason } if reason == "the image is blank"),
        "{outcome:?}"
    );
    assert_eq!(
        s.status(&receipt).await,
        OcrStatus::Failed {
            reason: "the image is blank".into()
        }
    );
    assert!(
        s.storage.get(&receipt.object_key).await.is_ok(),
        "the image of a failed scan is kept"
    );
    s.finish().await;
}

async fn a_receipt_without_a_total_fails_with_a_reason(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s.receipt("vendor=Cafe;date=2026-05-02", 5).await;
    s.worker(fast()).run_once().await.unwrap();
    let reason = s
        .status(&receipt)
        .await
        .failure_reason()
        .unwrap()
        .to_owned();
    assert!(reason.contains("no total"), "{reason}");
    // A missing file is also a reason a person can act on.
    let gone = s.receipt("vendor=Cafe;total=5", 5).await;
    s.storage.delete(&gone.object_key).await.unwrap();
    s.worker(fast()).run_once().await.unwrap();
    assert!(
        s.status(&gone)
            .await
            .failure_reason()
            .unwrap()
            .contains("missing")
    );
    s.finish().await;
}

async fn a_stopped_worker_hands_back_its_job(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s.receipt("vendor=Slow;total=10;slow=3000", 1).await;
    let worker = s.worker(fast());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(worker.run(async {
        stopped.await.ok();
    }));
    for _ in 0..100 {
        if s.status(&receipt).await == OcrStatus::Processing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.status(&receipt).await, OcrStatus::Processing);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .unwrap()
        .unwrap();
    // Handed back: pending, the attempt not counted, and claimable at once.
    assert_eq!(s.status(&receipt).await, OcrStatus::Pending);
    let job = s
        .store()
        .get_ocr_job(s.user.id, receipt.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    s.finish().await;
}

async fn a_job_of_a_dead_worker_is_finished_by_another_once(backend: Backend) {
    let s = Setup::new(backend).await;
    let receipt = s.receipt("vendor=Cafe;date=2026-05-02;total=42", 3).await;
    // A worker claims the job with a short lease and dies.
    let dead = s
        .store()
        .claim_ocr_job(
            "dead-worker",
            chrono::Duration::milliseconds(300),
            Utc::now(),
        )
        .await
        .unwrap()
        .unwrap();
    let worker = s.worker(fast());
    assert!(
        worker.run_once().await.unwrap().is_none(),
        "held by the dead worker's lease"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        worker.run_once().await.unwrap(),
        Some(JobOutcome::Completed(_))
    ));
    // The dead worker's late result changes nothing.
    let late = ledgerly_store::OcrResult {
        vendor: ledgerly_core::Vendor::parse("Wrong").unwrap(),
        date: "2026-01-01".parse().unwrap(),
        amount: Money::from_minor(1, Currency::INR),
        category_id: None,
        unsure: Default::default(),
        text: None,
    };
    assert!(matches!(
        s.store().complete_ocr_job(&dead, &late).await,
        Err(ledgerly_store::StoreError::LeaseLost)
    ));
    let expenses = s
        .store()
        .list_expenses(s.user.id, &Default::default())
        .await
        .unwrap();
    assert_eq!(expenses.total, 1);
    assert_eq!(expenses.items[0].vendor.as_str(), "Cafe");
    assert_eq!(s.status(&receipt).await, OcrStatus::Done);
    s.finish().await;
}

async fn the_worker_drains_the_queue_concurrently(backend: Backend) {
    let s = Setup::new(backend).await;
    let mut receipts = Vec::new();
    for i in 0..12 {
        receipts.push(
            s.receipt(
                &format!("vendor=Shop {i};date=2026-05-02;total={};slow=50", i + 1),
                3,
            )
            .await,
        );
    }
    let run = tokio::spawn(
        s.worker(fast())
            .run(tokio::time::sleep(Duration::from_secs(10))),
    );
    for _ in 0..200 {
        let counts = s.store().ocr_job_counts().await.unwrap();
        if counts.done == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(s.store().ocr_job_counts().await.unwrap().done, 12);
    for receipt in &receipts {
        assert_eq!(s.status(receipt).await, OcrStatus::Done);
    }
    assert_eq!(
        s.store()
            .list_expenses(s.user.id, &Default::default())
            .await
            .unwrap()
            .total,
        12
    );
    run.abort();
    s.finish().await;
}

on_both_backends!(an_upload_through_the_api_is_read_by_the_worker_and_confirmed_by_its_owner);

/// End to end: the real API on a free port and the worker beside it, sharing the database and
/// the receipts folder, as `ledgerctl up` runs them.
async fn an_upload_through_the_api_is_read_by_the_worker_and_confirmed_by_its_owner(
    backend: Backend,
) {
    let s = Setup::new(backend).await;
    let mut settings = ledgerly_api::Settings::default();
    settings.database.url = s.db.url().to_owned().into();
    settings.storage.path = s.folder.clone();
    let api = RunningApi::start(settings).await;
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(s.worker(fast()).run(async {
        worker_stopped.await.ok();
    }));

    let user = ApiClient::register(&api.url, "e2e@example.com", "INR").await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(scripted(
                "vendor=Blue Tokai;date=2026-05-02;total=350",
            ))
            .file_name("scan.png"),
        )
        .text("category", "food");
    let upload = reqwest::Client::new()
        .post(format!("{}/api/v1/receipts", api.url))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 202);
    let receipt: serde_json::Value = upload.json().await.unwrap();
    let shown = user.wait_for_ocr(receipt["id"].as_str().unwrap(), 10).await;
    assert_eq!(shown["status"], "done", "{shown}");
    let expense = user.expense_of(&shown).await;
    assert_eq!(
        (
            expense["amount"].as_str(),
            expense["needs_review"].as_bool()
        ),
        (Some("350.00"), Some(true))
    );
    assert_eq!(
        (expense["vendor"].as_str(), expense["category"].as_str()),
        (Some("Blue Tokai"), Some("food"))
    );
    let confirmed: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/expenses/{}/confirm",
            api.url,
            expense["id"].as_str().unwrap()
        ))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(confirmed["needs_review"], false);

    stop_worker.send(()).unwrap();
    worker.await.unwrap();
    api.stop().await;
    s.finish().await;
}
