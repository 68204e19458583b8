//! What the hosted backends share: one HTTP client, bounded retries with exponential backoff and
//! jitter on 429, 5xx, timeouts and dropped connections (honouring `Retry-After`), and errors
//! that say which kind of failure it was — without ever including the API key.

use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;

use super::SetupError;
use crate::extractor::ExtractError;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// One request's limit, connection to last byte.
    pub timeout: Duration,
    /// Tries after the first one fails in a way that may pass.
    pub max_retries: u32,
    /// The first retry's delay; each next doubles, ±25% jitter, at most `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(20),
        }
    }
}

pub(crate) fn client(options: &HttpOptions) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("ledgerly-ocr/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(SetupError::HttpClient)
}

/// A failed try: whether another may pass, and how long the server asked to wait.
struct Failure {
    retryable: bool,
    retry_after: Option<Duration>,
    message: String,
}

/// Sends the request `build` makes until it succeeds, fails for good, or the retries run out.
/// `service` names the backend in messages. Returns the successful reply's body.
pub(crate) async fn send_with_retries(
    options: &HttpOptions,
    service: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<String, ExtractError> {
    let mut attempt = 0u32;
    loop {
        let failure = match build().send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                match response.text().await {
                    Ok(body) if status.is_success() => return Ok(body),
                    Ok(body) => classify(service, status, retry_after, &body),
                    Err(err) => Failure {
                        retryable: true,
                        retry_after: None,
                        message: format!("{service}: the reply was cut off ({})", describe(&err)),
                    },
                }
            }
            Err(err) => Failure {
                retryable: err.is_timeout() || err.is_connect() || err.is_body(),
                retry_after: None,
                message: format!("{service}: {}", describe(&err)),
            },
        };
        if !failure.retryable {
            return Err(ExtractError::Permanent(failure.message));
        }
        if attempt >= options.max_retries {
            return Err(ExtractError::Transient(format!(
                "{} (gave up after {} tries)",
                failure.message,
                attempt + 1
            )));
        }
        let delay = failure
            .retry_after
            .unwrap_or_else(|| backoff(options, attempt))
            .min(options.retry_max);
        tracing::warn!(service, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, reason = %failure.message, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// `retry_base × 2^attempt`, ±25%.
fn backoff(options: &HttpOptions, attempt: u32) -> Duration {
    let base = options.retry_base.as_secs_f64() * 2f64.powi(attempt.min(20) as i32);
    let jittered = base * rand::rng().random_range(0.75..=1.25);
    Duration::from_secs_f64(jittered.min(options.retry_max.as_secs_f64()))
}

/// An error without the URL (which may carry a key in a query string).
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_body() || err.is_decode() {
        "the reply could not be read"
    } else {
        "the request failed"
    };
    let mut source = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

fn classify(
    service: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Failure {
    // Both APIs answer errors as {"error": {"message": "..."}}.
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let retryable = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error();
    let what = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            "refused the API key; check --api-key or LEDGERLY__EXTRACTOR__API_KEY".to_owned()
        }
        StatusCode::NOT_FOUND => {
            "does not know the model or path; check --model and --base-url (LEDGERLY__EXTRACTOR__MODEL, LEDGERLY__EXTRACTOR__BASE_URL)"
                .to_owned()
        }
        StatusCode::TOO_MANY_REQUESTS => "is rate limiting".to_owned(),
        other => format!("answered {other}"),
    };
    Failure {
        retryable,
        retry_after,
        message: format!("{service} {what}: {}", message.trim()),
    }
}
