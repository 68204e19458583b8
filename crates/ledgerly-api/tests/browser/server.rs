//! The app with its OCR worker, and an API client for setting up data.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use ledgerly_api::{Application, Settings};
use ledgerly_core::{Currency, Money, ReceiptKind, UserTimeZone};
use ledgerly_ocr::{
    ExtractError, Extractor, FieldConfidence, Hints, ReceiptFields, Worker, WorkerOptions,
};
use ledgerly_store::testing::TestDatabase;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

/// Reads every receipt as the same bakery bill, but only when the test lets it (one permit per
/// read), so the page can be seen waiting first.
#[derive(Debug)]
struct GatedExtractor {
    gate: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl Extractor for GatedExtractor {
    fn name(&self) -> &str {
        "gated"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        _hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        assert_eq!(kind, ReceiptKind::Png);
        assert!(
            image.starts_with(b"\x89PNG"),
            "the worker read another file"
        );
        self.gate
            .acquire()
            .await
            .map_err(|_| ExtractError::Transient("the test is over".into()))?
            .forget();
        // No date on the slip and a faint name: the review flags both.
        Ok(ReceiptFields {
            vendor: Some("Corner Bakery".into()),
            date: None,
            total: Some(Money::from_decimal_str("245.50", Currency::INR).unwrap()),
            raw: "CORNER BAKERY\nTOTAL 245.50".into(),
            confidence: FieldConfidence {
                vendor: Some(40),
                date: None,
                total: Some(95),
            },
            ..ReceiptFields::default()
        })
    }
}

/// A small PNG that looks like a till receipt.
pub fn receipt_png() -> Vec<u8> {
    till_slip(&[])
}

/// Another photo of a till slip: another file, which the test's OCR reads as the same bill.
pub fn another_receipt_png() -> Vec<u8> {
    till_slip(&[(200, 90)])
}

/// A slip with the usual lines and `more` (row, width).
fn till_slip(more: &[(u32, u32)]) -> Vec<u8> {
    let mut image = image::RgbImage::from_pixel(240, 360, image::Rgb([250, 250, 245]));
    let lines = [
        (30u32, 180u32),
        (60, 120),
        (110, 200),
        (130, 160),
        (150, 190),
        (300, 140),
    ];
    for &(row, width) in lines.iter().chain(more) {
        for y in row..row + 8 {
            for x in 20..20 + width {
                image.put_pixel(x, y, image::Rgb([40, 40, 40]));
            }
        }
    }
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// The API on PostgreSQL, receipts in a temporary folder, the OCR worker in-process.
pub struct Server {
    pub url: String,
    pub settings: Settings,
    db: TestDatabase,
    files: PathBuf,
    gate: Arc<Semaphore>,
    stop_server: oneshot::Sender<()>,
    stop_worker: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    /// [`Server::start`] with some settings changed.
    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Server {
        let db = TestDatabase::postgres().await;
        let files = std::env::temp_dir().join(format!(
            "ledgerly-browser-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut settings = Settings::default();
        settings.server.port = 0;
        settings.database.url = db.url().to_owned().into();
        settings.database.max_connections = NonZeroU32::new(5).unwrap();
        settings.storage.path = files.join("receipts");
        // One browser signs up and in many times from one address.
        settings.auth.login_attempts_per_ip = NonZeroU32::new(1000).unwrap();
        // No network: the ECB's rates are never fetched (turning them on only records it).
        settings.rates.ecb_url = String::new();
        // The tests sign up the accounts they use; the first is the administrator.
        settings.auth.registration = ledgerly_api::settings::Registration::Open;
        configure(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("build the app");
        let url = format!("http://{}", app.local_addr().unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let worker = Worker::new(
            app.state().store.clone(),
            app.state().storage.clone(),
            Arc::new(GatedExtractor { gate: gate.clone() }),
            WorkerOptions {
                name: "browser-test".into(),
                concurrency: 1,
                poll_interval: Duration::from_millis(100),
                shutdown_grace: Duration::from_millis(100),
                ..WorkerOptions::default()
            },
        );
        let (stop_worker, worker_stopped) = oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            worker
                .run(async {
                    worker_stopped.await.ok();
                })
                .await;
        });
        let (stop_server, server_stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(async {
                server_stopped.await.ok();
            })
            .await
            .expect("serve");
        });
        Server {
            url,
            settings,
            db,
            files,
            gate,
            stop_server,
            stop_worker,
            server,
            worker,
        }
    }

    /// Lets the extractor answer `reads` more reads.
    pub fn release_ocr(&self, reads: usize) {
        self.gate.add_permits(reads);
    }

    /// Today where the test users live (Asia/Kolkata), as `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        UserTimeZone::KOLKATA.today().to_string()
    }

    pub fn days_ago(&self, days: i64) -> String {
        let today: NaiveDate = UserTimeZone::KOLKATA.today();
        (today - chrono::Duration::days(days)).to_string()
    }

    /// Writes a file for the browser to upload.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let folder = self.files.join("uploads");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// An account made through the API (in Asia/Kolkata, INR).
    pub async fn register(&self, email: &str) -> ApiUser {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/register", self.url))
            .json(&json!({
                "email": email, "password": "correct horse", "name": "API User",
                "currency": "INR", "timezone": "Asia/Kolkata"
            }))
            .send()
            .await
            .unwrap();
        self.session(response).await
    }

    /// Signs in through the API: a bearer token for an account the browser made.
    pub async fn login(&self, email: &str, password: &str) -> ApiUser {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        self.session(response).await
    }

    async fn session(&self, response: reqwest::Response) -> ApiUser {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{status} {body}");
        ApiUser {
            url: self.url.clone(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn stop(self) {
        self.gate.close();
        self.stop_worker.send(()).ok();
        self.worker.await.ok();
        self.stop_server.send(()).ok();
        self.server.await.ok();
        std::fs::remove_dir_all(&self.files).ok();
        self.db.cleanup().await;
    }
}

/// A user of the JSON API, with a bearer token.
pub struct ApiUser {
    url: String,
    token: String,
}

impl ApiUser {
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// The body of a GET, as bytes (a download).
    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.bytes().await.unwrap().to_vec()
    }

    /// The CSRF token that belongs to this user's session (not the browser's).
    pub fn csrf_of_token(&self) -> String {
        ledgerly_api::auth::csrf::token_for(&self.token.clone().into())
    }
}
