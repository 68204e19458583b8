//! Posting OCR results to the API's `POST /internal/ocr-results`, signed with HMAC-SHA256 over
//! the timestamp and body: how the Lambda reports, and the standalone worker when it is given the
//! API's address.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

use chrono::Utc;
use ledgerly_core::callback::{self, CallbackOutcome, OcrCallback};

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
        match self.post_once(result).await {
            Posted::Refused(status, text) if refuses_text(&text) => {
                // An API from before results carried their text (a deploy points the Lambda at
                // a new release before the API follows): the result goes again without it, so
                // the expense is not lost for a field the API will not have until it upgrades.
                match without_text(result) {
                    Some(older) => {
                        tracing::warn!(
                            receipt = %result.receipt_id,
                            "the API does not take a result's text yet; sent without it"
                        );
                        self.post_once(&older).await.into_delivery()
                    }
                    None => Posted::Refused(status, text).into_delivery(),
                }
            }
            posted => posted.into_delivery(),
        }
    }

    async fn post_once(&self, result: &OcrCallback) -> Posted {
        let body = match serde_json::to_vec(result) {
            Ok(body) => body,
            Err(e) => {
                return Posted::Other(Delivery::Retry(format!("cannot encode the result: {e}")));
            }
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
            Err(e) => {
                return Posted::Other(Delivery::Retry(format!(
                    "cannot reach the API at {}: {e}",
                    self.url
                )));
            }
        };
        let status = response.status();
        if status.is_success() {
            return Posted::Other(Delivery::Delivered);
        }
        let text = response.text().await.unwrap_or_default();
        Posted::Other(match status.as_u16() {
            404 => Delivery::Gone("the API no longer has this receipt (deleted)".into()),
            401 => Delivery::Retry(format!(
                "the API refused the signature ({}): check the shared secret and the clock",
                text.trim()
            )),
            400 | 422 => return Posted::Refused(status, text),
            _ => Delivery::Retry(format!("the API answered {status}: {text}")),
        })
    }
}

/// One sending's answer: a refusal of the content is kept apart, as it may be for a field an
/// older API does not know.
enum Posted {
    Refused(reqwest::StatusCode, String),
    Other(Delivery),
}

impl Posted {
    fn into_delivery(self) -> Delivery {
        match self {
            Posted::Refused(status, text) => {
                Delivery::Gone(format!("the API refused the result ({status}): {text}"))
            }
            Posted::Other(delivery) => delivery,
        }
    }
}

/// Whether a refusal is an older API's of the `text` field.
fn refuses_text(body: &str) -> bool {
    body.contains("unknown field `text`")
}

/// The result without its text, when it has one.
fn without_text(result: &OcrCallback) -> Option<OcrCallback> {
    let mut older = result.clone();
    match &mut older.outcome {
        CallbackOutcome::Read { text, .. } if text.is_some() => {
            *text = None;
            Some(older)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use ledgerly_core::{Currency, ReceiptId, Unsure};

    /// An API from before results carried text: it refuses a body with `text` as serde's
    /// `deny_unknown_fields` words it, and records what it accepted.
    async fn older_api() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let kept = accepted.clone();
        let app = axum::Router::new().route(
            "/internal/ocr-results",
            axum::routing::post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    if value["outcome"].get("text").is_some() {
                        return (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "{\"error\":{\"code\":\"invalid\",\"message\":\"the JSON body does not fit: outcome: unknown field `text`, expected one of `vendor`, `date`, `amount`, `currency`, `unsure`\"}}",
                        );
                    }
                    kept.lock().unwrap().push(value);
                    (StatusCode::NO_CONTENT, "")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, accepted)
    }

    fn result(text: Option<&str>) -> OcrCallback {
        OcrCallback::new(
            ReceiptId::new(),
            "receipts/u/r.png".into(),
            CallbackOutcome::Read {
                vendor: "Blue Tokai".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
                amount: "350.00".into(),
                currency: Currency::INR,
                unsure: Unsure::default(),
                text: text.map(str::to_owned),
            },
        )
    }

    #[tokio::test]
    async fn an_older_api_gets_the_result_without_its_text() {
        let (url, accepted) = older_api().await;
        let secret = SecretString::from("s".repeat(32));
        let reporter = ApiReporter::new(&url, &secret).unwrap();
        assert_eq!(
            reporter.post(&result(Some("BLUE TOKAI\nFlat white"))).await,
            Delivery::Delivered
        );
        assert_eq!(reporter.post(&result(None)).await, Delivery::Delivered);
        let accepted = accepted.lock().unwrap();
        assert_eq!(accepted.len(), 2);
        assert_eq!(accepted[0]["outcome"]["vendor"], "Blue Tokai");
        assert!(accepted[0]["outcome"].get("text").is_none());
    }

    #[test]
    fn only_a_refusal_of_the_text_field_is_sent_again() {
        assert!(refuses_text(
            "outcome: unknown field `text`, expected one of `vendor`"
        ));
        assert!(!refuses_text("outcome: unknown field `texts`"));
        assert!(!refuses_text("amount: not a decimal"));
        assert!(without_text(&result(None)).is_none());
        let failed = OcrCallback::new(
            ReceiptId::new(),
            "k".into(),
            CallbackOutcome::Failed {
                reason: "dark".into(),
            },
        );
        assert!(without_text(&failed).is_none());
    }
}
