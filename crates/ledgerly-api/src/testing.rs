//! For suites that drive a running API over HTTP — the OCR crate's, `ledgerctl`'s: the server on a
//! free port, and a signed-in client with the calls those suites make. Built with the `testing`
//! feature. Every failure panics with what was asked and what came back.

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Application, Settings};

/// The API serving `settings` on a free port until [`RunningApi::stop`].
#[derive(Debug)]
pub struct RunningApi {
    pub url: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl RunningApi {
    /// Registration is open: the suites sign up the accounts they use.
    pub async fn start(mut settings: Settings) -> RunningApi {
        settings.server.port = 0;
        settings.auth.registration = crate::settings::Registration::Open;
        let app = Application::build(settings)
            .await
            .unwrap_or_else(|e| panic!("the API does not start: {e:#}"));
        let url = format!(
            "http://{}",
            app.local_addr()
                .unwrap_or_else(|e| panic!("no address: {e}"))
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(async {
            stopped.await.ok();
        }));
        RunningApi { url, stop, server }
    }

    /// Stops serving once the requests in flight finish.
    pub async fn stop(self) {
        self.stop.send(()).ok();
        match self.server.await {
            Ok(Ok(())) => {}
            other => panic!("the API did not stop cleanly: {other:?}"),
        }
    }
}

/// A user signed in to the API at `url`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub url: String,
    pub token: String,
    pub user_id: String,
    http: reqwest::Client,
}

async fn json_of(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: no body: {e}"));
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

impl ApiClient {
    /// Registers `email` (password `correct horse`) with `currency` and signs in.
    pub async fn register(url: &str, email: &str, currency: &str) -> ApiClient {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{url}/api/v1/auth/register"))
            .json(&json!({
                "email": email, "password": "correct horse", "name": "Test User",
                "currency": currency
            }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("register: {e}"));
        let session = json_of(response, "register").await;
        let field = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("register: {session}"))
                .to_owned()
        };
        ApiClient {
            url: url.to_owned(),
            token: field(&session["token"]),
            user_id: field(&session["user"]["id"]),
            http,
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        json_of(response, &format!("GET {path}")).await
    }

    /// Uploads `bytes` as a receipt; the receipt as the API shows it.
    pub async fn upload(&self, bytes: Vec<u8>) -> Value {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("scan"),
        );
        let response = self
            .http
            .post(format!("{}/api/v1/receipts", self.url))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("upload: {e}"));
        json_of(response, "upload").await
    }

    pub async fn receipt(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/receipts/{id}")).await
    }

    /// The receipt once OCR has finished with it (`done` or `failed`); panics after `seconds`.
    pub async fn wait_for_ocr(&self, id: &str, seconds: u64) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let receipt = self.receipt(id).await;
            if receipt["status"] == "done" || receipt["status"] == "failed" {
                return receipt;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "OCR did not finish within {seconds} s: {receipt}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub async fn expense(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/expenses/{id}")).await
    }

    /// The expense OCR made of a finished receipt.
    pub async fn expense_of(&self, receipt: &Value) -> Value {
        let id = receipt["expense_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the receipt has no expense: {receipt}"));
        self.expense(id).await
    }
}
