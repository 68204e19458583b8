//! The OCR Lambda: S3 object-created events in, signed results posted to the API's
//! `POST /internal/ocr-results` out. The API stays the only writer to the database, so the
//! Lambda needs no database and no VPC.
//!
//! Every record of an event is handled, and one bad record never skips the others. A record
//! ends one of four ways: read (the fields were posted), failed (the receipt cannot be read; the
//! reason was posted for its owner), skipped (nothing to do: not a receipt key, another bucket,
//! the file or the receipt already deleted), or retry (something that may pass: a timeout, a 5xx,
//! a refused signature). If any record needs a retry the invocation returns an error, so Lambda's
//! asynchronous retries run the event again — safe, since applying a result twice is harmless.
//!
//! Clients (S3, HTTP, the extractor) are built once per cold start in [`Handler::from_env`].

use secrecy::{ExposeSecret as _, SecretString};
use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_ssm::error::{DisplayErrorContext, SdkError};
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use chrono::{DateTime, Utc};
use ledgerly_core::callback::{CallbackOutcome, OcrCallback};
use ledgerly_core::currency::UnknownCurrency;
use ledgerly_core::{Currency, ReceiptId, ReceiptKind};
use ledgerly_store::objects::{
    OWNER_CURRENCY, Storage, StorageBackend, StorageError, StorageLocation, parse_receipt_key,
};

use crate::extractor::{ExtractError, Extractor};
use crate::normalise::Hints;
use crate::reporter::{ApiReporter, Delivery, ReporterError};
use crate::{read_outcome, usable_fields};

/// What the Lambda needs besides the extractor, from its environment.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The API's base URL, e.g. `https://ledgerly.example.com`.
    pub api_url: String,
    /// The shared HMAC secret for `/internal/ocr-results`.
    pub callback_secret: SecretString,
    /// The receipts bucket (events from any other are skipped), its region and endpoint.
    pub storage: StorageLocation,
    /// The currency of amounts printed without a symbol.
    pub default_currency: Currency,
}

/// Why the Lambda's configuration cannot be read from its environment (and SSM).
#[derive(Debug, thiserror::Error)]
pub enum LambdaConfigError {
    #[error("LEDGERLY_API_URL must name the API, e.g. https://ledgerly.example.com")]
    NoApiUrl,
    #[error(
        "set LEDGERLY__OCR__CALLBACK_SECRET, or LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER to the SSM parameter holding it"
    )]
    NoCallbackSecret,
    #[error("the callback secret must be at least 32 characters")]
    ShortSecret,
    #[error("LEDGERLY__STORAGE__BUCKET must name the receipts bucket")]
    NoBucket,
    #[error("LEDGERLY__EXTRACTOR__DEFAULT_CURRENCY: {0}")]
    Currency(#[source] UnknownCurrency),
    #[error(
        "cannot read the {what} from SSM parameter {parameter}: {}",
        DisplayErrorContext(source)
    )]
    Ssm {
        what: String,
        parameter: String,
        source: Box<SdkError<GetParameterError>>,
    },
    #[error("the SSM parameter {0} has no value")]
    NoValue(String),
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl LambdaConfig {
    /// Reads `LEDGERLY_API_URL`, the secret (`LEDGERLY__OCR__CALLBACK_SECRET`, or the SSM
    /// SecureString named by `LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER`), `LEDGERLY__STORAGE__BUCKET`
    /// (and `…__REGION`, `…__ENDPOINT`) and `LEDGERLY__EXTRACTOR__DEFAULT_CURRENCY`.
    pub async fn from_env() -> Result<Self, LambdaConfigError> {
        let api_url = env("LEDGERLY_API_URL").ok_or(LambdaConfigError::NoApiUrl)?;
        let callback_secret: SecretString = match (
            env("LEDGERLY__OCR__CALLBACK_SECRET"),
            env("LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER"),
        ) {
            (Some(secret), _) => secret.into(),
            (None, Some(parameter)) => secure_parameter(&parameter, "callback secret").await?,
            (None, None) => return Err(LambdaConfigError::NoCallbackSecret),
        };
        if callback_secret.expose_secret().len() < 32 {
            return Err(LambdaConfigError::ShortSecret);
        }
        let bucket = env("LEDGERLY__STORAGE__BUCKET").ok_or(LambdaConfigError::NoBucket)?;
        let default_currency = match env("LEDGERLY__EXTRACTOR__DEFAULT_CURRENCY") {
            Some(code) => {
                Currency::from_code(&code.to_uppercase()).map_err(LambdaConfigError::Currency)?
            }
            None => Currency::INR,
        };
        Ok(Self {
            api_url,
            callback_secret,
            storage: StorageLocation {
                backend: StorageBackend::S3,
                path: Default::default(),
                bucket,
                region: env("LEDGERLY__STORAGE__REGION").unwrap_or_default(),
                endpoint: env("LEDGERLY__STORAGE__ENDPOINT").unwrap_or_default(),
            },
            default_currency,
        })
    }
}

/// The value of an SSM SecureString parameter (`what` names it in errors): how the Lambda gets
/// the callback secret and the OCR backend's API key without either sitting in its environment.
pub async fn secure_parameter(
    parameter: &str,
    what: &str,
) -> Result<SecretString, LambdaConfigError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = env("LEDGERLY__AWS__ENDPOINT") {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let reply = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|source| LambdaConfigError::Ssm {
            what: what.to_owned(),
            parameter: parameter.to_owned(),
            source: Box::new(source),
        })?;
    reply
        .parameter
        .and_then(|p| p.value)
        .map(SecretString::from)
        .ok_or_else(|| LambdaConfigError::NoValue(parameter.to_owned()))
}

/// How one record ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    Read { receipt: ReceiptId },
    Failed { receipt: ReceiptId, reason: String },
    Skipped { reason: String },
    Retry { reason: String },
}

/// One record's key (decoded) and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordReport {
    pub key: String,
    pub outcome: RecordOutcome,
}

/// What an invocation did, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub records: Vec<RecordReport>,
}

impl Report {
    pub fn needs_retry(&self) -> bool {
        self.records
            .iter()
            .any(|r| matches!(r.outcome, RecordOutcome::Retry { .. }))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for record in &self.records {
            match &record.outcome {
                RecordOutcome::Retry { reason } => writeln!(f, "{}: retry: {reason}", record.key)?,
                other => writeln!(f, "{}: {other:?}", record.key)?,
            }
        }
        Ok(())
    }
}

/// An invocation with records to retry; Lambda runs the event again.
#[derive(Debug, thiserror::Error)]
#[error("some records must be retried:\n{0}")]
pub struct RetryLater(pub Report);

/// Why an S3 event's object key cannot be decoded; the record is skipped with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("`{0}` has a malformed %-escape")]
    MalformedEscape(String),
    #[error("`{key}` does not decode to UTF-8")]
    NotUtf8 {
        key: String,
        source: std::str::Utf8Error,
    },
}

/// Decodes an S3 event key: `+` is a space, `%XX` a byte; the bytes are UTF-8.
pub fn decode_key(key: &str) -> Result<String, KeyError> {
    let malformed = key.match_indices('%').any(|(i, _)| {
        key.get(i + 1..i + 3)
            .is_none_or(|hex| !hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if malformed {
        return Err(KeyError::MalformedEscape(key.to_owned()));
    }
    // A `+` in the key itself arrives as %2B, so spaces are restored before decoding.
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|source| KeyError::NotUtf8 {
            key: key.to_owned(),
            source,
        })
}

/// Why a [`Handler`] cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("cannot set up S3: {0}")]
    Storage(#[source] StorageError),
    #[error(transparent)]
    Reporter(#[from] ReporterError),
}

#[derive(Debug)]
pub struct Handler {
    config: LambdaConfig,
    storage: Storage,
    extractor: Arc<dyn Extractor>,
    reporter: ApiReporter,
}

impl Handler {
    pub async fn new(
        config: LambdaConfig,
        extractor: Arc<dyn Extractor>,
    ) -> Result<Self, HandlerError> {
        let storage = Storage::open(&config.storage)
            .await
            .map_err(HandlerError::Storage)?;
        let reporter = ApiReporter::new(&config.api_url, &config.callback_secret)?;
        Ok(Self {
            config,
            storage,
            extractor,
            reporter,
        })
    }

    /// Handles every record of `event`; an error when any must be retried.
    pub async fn handle(&self, event: S3Event) -> Result<Report, RetryLater> {
        let mut report = Report::default();
        for record in event.records {
            let raw_key = record.s3.object.key.clone().unwrap_or_default();
            // A key that does not decode is reported as it came.
            let (key, outcome) = match decode_key(&raw_key) {
                Ok(key) => {
                    let bucket = record.s3.bucket.name.as_deref().unwrap_or("");
                    let outcome = self.record(bucket, &key, record.event_time).await;
                    (key, outcome)
                }
                Err(err) => (
                    raw_key,
                    RecordOutcome::Skipped {
                        reason: err.to_string(),
                    },
                ),
            };
            match &outcome {
                RecordOutcome::Retry { reason } => {
                    tracing::warn!(key, reason, "record will be retried");
                }
                RecordOutcome::Skipped { reason } => tracing::info!(key, reason, "record skipped"),
                other => tracing::info!(key, outcome = ?other, "record handled"),
            }
            report.records.push(RecordReport { key, outcome });
        }
        if report.needs_retry() {
            Err(RetryLater(report))
        } else {
            Ok(report)
        }
    }

    async fn record(&self, bucket: &str, key: &str, when: DateTime<Utc>) -> RecordOutcome {
        if Some(bucket) != self.storage.bucket() {
            return RecordOutcome::Skipped {
                reason: format!("the event is for bucket `{bucket}`, not this stack's"),
            };
        }
        let Some((_owner, receipt)) = parse_receipt_key(key) else {
            return RecordOutcome::Skipped {
                reason: format!("`{key}` is not a receipt key"),
            };
        };
        let (bytes, metadata) = match self.storage.get_with_metadata(key).await {
            Ok(found) => found,
            Err(StorageError::NotFound(_)) => {
                return RecordOutcome::Skipped {
                    reason: "the file is gone (the receipt was deleted)".into(),
                };
            }
            Err(err) => {
                return RecordOutcome::Retry {
                    reason: format!("reading the file failed: {err}"),
                };
            }
        };
        let outcome = match ReceiptKind::sniff(&bytes) {
            None => Err("the file is not a JPEG, PNG, WebP, HEIC or PDF".to_owned()),
            Some(kind) => {
                // The owner's currency, as the API wrote it on the object; else the default.
                let currency = metadata
                    .get(OWNER_CURRENCY)
                    .and_then(|code| Currency::from_code(code).ok())
                    .unwrap_or(self.config.default_currency);
                let hints = Hints::new(currency, when.date_naive());
                match self.extractor.extract(&bytes, kind, &hints).await {
                    Ok(fields) => {
                        usable_fields(&fields, when.date_naive()).map_err(|e| e.to_string())
                    }
                    Err(ExtractError::Permanent(reason)) => Err(reason),
                    Err(ExtractError::Transient(reason)) => {
                        return RecordOutcome::Retry { reason };
                    }
                }
            }
        };
        let (callback, result) = match outcome {
            Ok(read) => (read_outcome(&read), RecordOutcome::Read { receipt }),
            Err(reason) => (
                CallbackOutcome::Failed {
                    reason: reason.clone(),
                },
                RecordOutcome::Failed { receipt, reason },
            ),
        };
        match self
            .reporter
            .post(&OcrCallback::new(receipt, key.to_owned(), callback))
            .await
        {
            Delivery::Delivered => result,
            Delivery::Gone(reason) => RecordOutcome::Skipped { reason },
            Delivery::Retry(reason) => RecordOutcome::Retry { reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(
            decode_key("receipts/a/My+Receipt+%C3%BC%E2%82%B9.png").unwrap(),
            "receipts/a/My Receipt ü₹.png"
        );
        assert_eq!(decode_key("a%2Bb").unwrap(), "a+b");
        assert!(decode_key("bad%2").is_err());
        assert!(decode_key("bad%FF").is_err());
    }
}
