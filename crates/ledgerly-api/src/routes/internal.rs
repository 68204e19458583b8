//! `POST /internal/ocr-results`: OCR results from a remote extractor (the S3-event Lambda),
//! signed with HMAC-SHA256 over the timestamp and body. Stale, forged and replayed requests are
//! refused with 401 and change nothing; applying the same result again is harmless. The route
//! exists only when `ocr.callback_secret` is set.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use ledgerly_core::callback::{self, CallbackOutcome, OcrCallback};
use ledgerly_core::{Money, Vendor};
use ledgerly_store::OcrResult;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// The largest result body taken, whatever `limits.max_json_bytes` says: a result may carry
/// `OCR_TEXT_MAX_CHARS` characters of text, up to six bytes each once JSON escapes them
/// (`\u0001`), with room to spare for the rest.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub(super) fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, route) = routes!(ocr_result);
    let route = route.layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    OpenApiRouter::new().routes((schemas, paths, route))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(reason: &'static str) -> ApiError {
    tracing::warn!(reason, "refused an OCR result");
    ApiError::SignatureRefused
}

/// An OCR result for a receipt, from the extractor that read it. The body is signed:
/// `x-ledgerly-signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the shared secret, and
/// `x-ledgerly-timestamp` in Unix seconds.
#[utoipa::path(post, operation_id = "postOcrResult", path = "/internal/ocr-results", tag = "internal", security(()),
    params(
        ("x-ledgerly-timestamp" = i64, Header, description = "Unix seconds when the request was signed"),
        ("x-ledgerly-signature" = String, Header, description = "`v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>`"),
    ),
    request_body(content = OcrCallback, content_type = "application/json"),
    responses(
        (status = 204, description = "Applied (or already applied)"),
        (status = 401, description = "The signature is forged, stale or replayed", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
async fn ocr_result(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let settings = &state.settings.ocr;
    let now = Utc::now();
    let timestamp: i64 = header(&headers, callback::TIMESTAMP_HEADER)
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(|| refused("missing or malformed timestamp"))?;
    let max_age = i64::try_from(settings.callback_max_age_seconds.get()).unwrap_or(i64::MAX);
    // `abs_diff`: a timestamp near i64::MIN must be refused, not overflow.
    if now.timestamp().abs_diff(timestamp) > max_age.unsigned_abs() {
        return Err(refused("stale timestamp"));
    }
    let signature =
        header(&headers, callback::SIGNATURE_HEADER).ok_or_else(|| refused("missing signature"))?;
    // The nonce is the MAC's bytes, so a signature rewritten (hex in another case) is the same.
    let nonce = callback::verify(
        secrecy::ExposeSecret::expose_secret(&settings.callback_secret).as_bytes(),
        timestamp,
        &body,
        signature,
    )
    .ok_or_else(|| refused("bad signature"))?;
    // Remember for twice the window: a request is accepted up to max_age either side of now.
    let forget_before = now - Duration::seconds(max_age.saturating_mul(2));
    if !state
        .store
        .remember_callback(&nonce, now, forget_before)
        .await?
    {
        return Err(refused("replayed request"));
    }
    let result: OcrCallback = serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
        field: None,
        message: format!("the OCR result does not fit: {e}"),
    })?;
    // The result applies to the receipt stored under the object that was read, and only to it.
    let stored = state
        .store
        .receipt_by_object_key(&result.object_key)
        .await?;
    if stored.id != result.receipt_id {
        return Err(ApiError::invalid(
            "object_key",
            "names another receipt's file than receipt_id",
        ));
    }
    match result.outcome {
        CallbackOutcome::Read {
            vendor,
            date,
            amount,
            currency,
            unsure,
            text,
        } => {
            let fields = OcrResult {
                vendor: Vendor::parse(&vendor).map_err(|e| ApiError::invalid("vendor", e))?,
                date,
                amount: Money::from_decimal_str(&amount, currency)
                    .map_err(|e| ApiError::invalid("amount", e))?,
                category_id: None,
                unsure,
                // The store cuts it to `OCR_TEXT_MAX_CHARS` characters and drops NULs.
                text,
            };
            let expense = state
                .store
                .apply_ocr_result(result.receipt_id, &fields)
                .await?;
            tracing::info!(receipt = %result.receipt_id, expense = %expense.id, "OCR result applied");
        }
        CallbackOutcome::Failed { reason } => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 500 {
                return Err(ApiError::invalid("reason", "must be 1 to 500 characters"));
            }
            state
                .store
                .record_ocr_failure(result.receipt_id, reason)
                .await?;
            tracing::info!(receipt = %result.receipt_id, reason, "OCR failure recorded");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
