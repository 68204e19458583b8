//! Posting OCR results to the API's `POST /internal/ocr-results`, signed with HMAC-SHA256 over
//! the timestamp and body: how the Lambda reports, and the standalone worker when it is given the
//! API's address.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

use chrono::Utc;
use ledgerly_core::callback::{self, OcrCallback};

/// What became of a posted result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The API applied it (or had already).
    Delivered,
    /// Nothing to deliver to: the receipt was deleted, or the API refused the result's content.
    Gone(String),
    /// May pass later: the API cannot be reached, answered 5xx, or refused the signature.
    Retry(String),
}

/// Why an [`ApiReporter`] cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ReporterError {
    #[error("the callback secret must be at least 32 characters")]
    ShortSecret,
    #[error("the API URL `{0}` must start with http:// or https://")]
    NotHttp(String),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

#[derive(Debug, Clone)]
pub struct ApiReporter {
    http: reqwest::Client,
    url: String,
    secret: SecretString,
}

impl ApiReporter {
    /// Reports to the API at `api_url` (its base, e.g. `https://ledgerly.example.com`).
    pub fn new(api_url: &str, secret: &SecretString) -> Result<Self, ReporterError> {
        if secret.expose_secret().len() < 32 {
            return Err(ReporterError::ShortSecret);
        }
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ReporterError::NotHttp(api_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("ledgerly-ocr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ReporterError::HttpClient)?;
        Ok(Self {
            http,
            url: format!("{}/internal/ocr-results", api_url.trim_end_matches('/')),
            secret: secret.clone(),
        })
    }

    pub async fn post(&self, result: &OcrCallback) -> Delivery {
        let body = match serde_json::to_vec(result) {
            Ok(body) => body,
            Err(e) => return Delivery::Retry(format!("cannot encode the result: {e}")),
        };
        let timestamp = Utc::now().timestamp();
        let signature = callback::sign(self.secret.expose_secret().as_bytes(), timestamp, &body);
        let response = match self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(callback::TIMESTAMP_HEADER, timestamp.to_string())
            .header(callback::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => return Delivery::Retry(format!("cannot reach the API at {}: {e}", self.url)),
        };
        let status = response.status();
        if status.is_success() {
            return Delivery::Delivered;
        }
        let text = response.text().await.unwrap_or_default();
        match status.as_u16() {
            404 => Delivery::Gone("the API no longer has this receipt (deleted)".into()),
            401 => Delivery::Retry(format!(
                "the API refused the signature ({}): check the shared secret and the clock",
                text.trim()
            )),
            400 | 422 => Delivery::Gone(format!("the API refused the result ({status}): {text}")),
            _ => Delivery::Retry(format!("the API answered {status}: {text}")),
        }
    }
}
