//! Receipts: upload (checked by content, kept privately), list, show, the image, re-run OCR,
//! delete.

use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use ledgerly_core::{CategoryId, ExpenseId, Receipt, ReceiptId, ReceiptKind, Unsure};
use ledgerly_store::NewReceipt;
use ledgerly_store::objects::OWNER_CURRENCY;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppPath, AppQuery, CurrentUser};
use crate::settings::OcrDispatch;
use crate::state::AppState;
use crate::views::PageView;
use ledgerly_store::objects::{ImageAccess, StorageError, receipt_key};

pub(super) fn router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    let (schemas, paths, upload) = routes!(upload);
    // Room for the multipart framing and the other fields around the file.
    let upload = upload.layer(DefaultBodyLimit::max(
        max_upload_bytes.saturating_add(64 * 1024),
    ));
    OpenApiRouter::new()
        .routes((schemas, paths, upload))
        .routes(routes!(list))
        .routes(routes!(get_one, delete))
        .routes(routes!(image))
        .routes(routes!(retry))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReceiptView {
    id: ReceiptId,
    /// Where OCR is: `pending`, `processing`, `done` or `failed`.
    #[schema(value_type = String, example = "pending")]
    status: &'static str,
    /// Why OCR failed, for a person to read.
    failure_reason: Option<String>,
    kind: ReceiptKind,
    #[schema(value_type = String, example = "image/jpeg")]
    content_type: &'static str,
    size_bytes: i64,
    /// The name the file was uploaded with, for display only.
    original_filename: Option<String>,
    category_id: Option<CategoryId>,
    /// The expense OCR filled in.
    expense_id: Option<ExpenseId>,
    /// The fields of that expense OCR was unsure of (a low confidence, or not on the receipt and
    /// filled in): the ones to check first.
    unsure: Unsure,
    /// Where to fetch the file (with the session).
    #[schema(example = "/api/v1/receipts/0193a1c2-7d4e-7f00-8000-000000000000/image")]
    image_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Receipt> for ReceiptView {
    fn from(r: Receipt) -> Self {
        Self {
            image_url: format!("/api/v1/receipts/{}/image", r.id),
            id: r.id,
            status: r.status.as_str(),
            failure_reason: r.status.failure_reason().map(str::to_owned),
            kind: r.kind,
            content_type: r.kind.mime_type(),
            size_bytes: r.size_bytes,
            original_filename: r.original_filename,
            category_id: r.category_id,
            expense_id: r.expense_id,
            unsure: r.unsure,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn storage_error(err: StorageError) -> ApiError {
    match err {
        StorageError::NotFound(_) => ApiError::NotFound("receipt image"),
        StorageError::Unavailable(cause) => {
            tracing::warn!(cause, "the receipt storage is unavailable");
            ApiError::Unavailable("the receipt storage")
        }
        other => ApiError::internal(other),
    }
}

fn multipart_error(err: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        ApiError::BadRequest(format!(
            "the multipart body cannot be read: {}",
            err.body_text()
        ))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the receipt is larger than the limit of {}",
        human_size(limit)
    ))
}

/// `10.0 MB`, `2.0 kB`, `512 bytes`.
pub(crate) fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1_000_000.0),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1_000.0),
        b => format!("{b} bytes"),
    }
}

/// The upload form.
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the multipart form; the handler reads it field by field"
)]
struct UploadForm {
    /// A JPEG, PNG, WebP, HEIC or PDF, recognised by its content; at most `storage.max_upload_bytes`
    /// (10 MB by default).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
    /// A category name or id for the expense OCR fills in.
    category: Option<String>,
}

/// Accepts a receipt (multipart field `file`; optional `category`, a name or id), stores it
/// privately and hands it to OCR. Answers 202: OCR runs after the response. The very same file
/// (by its SHA-256) uploaded again is refused with 409 `duplicate_receipt`, naming the receipt
/// (and its expense) the account has: delete that one to upload it again.
#[utoipa::path(post, operation_id = "uploadReceipt", path = "/receipts", tag = "receipts",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored; OCR will read it", body = ReceiptView),
        (status = 409, description = "The account has this very file already (`duplicate_receipt`); the message names that receipt", body = ErrorBody),
        (status = 413, description = "The file is over the size limit", body = ErrorBody),
        (status = 415, description = "Not multipart, or not a format the app reads", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
async fn upload(
    State(state): State<AppState>,
    current: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut form = read_upload(&state, multipart, &[]).await?;
    if form.files.len() > 1 {
        return Err(ApiError::invalid(
            "file",
            "send one file per request (the dashboard takes several at once)",
        ));
    }
    let Some(file) = form.files.pop() else {
        return Err(ApiError::invalid(
            "file",
            "no file was sent; put it in the field `file`",
        ));
    };
    match store_receipt(&state, &current.user, file, form.category.as_deref()).await? {
        Stored::New(receipt) => {
            Ok((StatusCode::ACCEPTED, Json(ReceiptView::from(receipt))).into_response())
        }
        Stored::Duplicate(first) => Err(duplicate_error(&first, current.user.time_zone)),
    }
}

/// An upload form as read: the file (with the name it was sent with), the category and any of
/// the extra text fields the caller allowed.
#[derive(Debug)]
pub(crate) struct UploadParts {
    /// Each file sent, with the name it was sent with.
    pub(crate) files: Vec<(Bytes, Option<String>)>,
    pub(crate) category: Option<String>,
    pub(crate) extra: Vec<(String, String)>,
}

/// Reads an upload form: `file`, optionally `category`, and the text fields named in `extra`.
pub(crate) async fn read_upload(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    extra: &[&str],
) -> ApiResult<UploadParts> {
    let limit = state.settings.storage.max_upload_bytes.get();
    let mut multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType(
            "upload the receipt as multipart/form-data with the file in the field `file`".into(),
        )
    })?;
    let mut parts = UploadParts {
        files: Vec::new(),
        category: None,
        extra: Vec::new(),
    };
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        match field.name() {
            Some("file") => {
                let filename = field.file_name().map(clean_filename);
                let mut bytes = BytesMut::new();
                let mut oversized = false;
                while let Some(chunk) =
                    field.chunk().await.map_err(|e| multipart_error(e, limit))?
                {
                    // Past the limit, keep reading (bounded by the route's body limit) without
                    // keeping: answering before the client has sent everything would reset the
                    // connection, and the client would never see the 413.
                    oversized |= bytes.len() + chunk.len() > limit;
                    if !oversized {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                if oversized {
                    return Err(too_large(limit));
                }
                // A form's file input left empty still sends its field: nothing chosen.
                if bytes.is_empty() && filename.as_deref().is_none_or(str::is_empty) {
                    continue;
                }
                parts.files.push((bytes.freeze(), filename));
            }
            Some("category") => {
                parts.category = Some(field.text().await.map_err(|e| multipart_error(e, limit))?);
            }
            Some(name) if extra.contains(&name) => {
                let name = name.to_owned();
                let text = field.text().await.map_err(|e| multipart_error(e, limit))?;
                parts.extra.push((name, text));
            }
            other => {
                return Err(ApiError::invalid(
                    "form",
                    format!(
                        "unexpected field `{}`; send `file` and optionally `category`",
                        other.unwrap_or("")
                    ),
                ));
            }
        }
    }
    Ok(parts)
}

/// The kind of an uploaded file, by its first bytes: an empty file or one this app does not read
/// is refused.
pub(crate) fn receipt_kind(bytes: &[u8]) -> ApiResult<ReceiptKind> {
    if bytes.is_empty() {
        return Err(ApiError::invalid("file", "the file is empty"));
    }
    ReceiptKind::sniff(bytes).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "the file is not a receipt image this app reads: send a JPEG, PNG, WebP, HEIC or PDF"
                .into(),
        )
    })
}

/// What an upload came to.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Kept, and handed to OCR.
    New(Receipt),
    /// Not kept: the account has this very file already, as this receipt (the earliest).
    Duplicate(Receipt),
}

/// The 409 for a file the account has already, naming its receipt and expense.
pub(crate) fn duplicate_error(first: &Receipt, zone: ledgerly_core::UserTimeZone) -> ApiError {
    let expense = first
        .expense_id
        .map(|id| format!(", expense {id} (/api/v1/expenses/{id})"))
        .unwrap_or_default();
    ApiError::Conflict {
        code: "duplicate_receipt",
        message: format!(
            "this file was uploaded already on {}: receipt {} (/api/v1/receipts/{}){expense}; \
             delete that receipt to upload it again",
            zone.local_date(first.created_at),
            first.id,
            first.id,
        ),
    }
}

/// Checks an uploaded file, keeps it privately and hands it to OCR, unless the user has the very
/// same file (by SHA-256) already. Two uploads of one file at the very same moment can both pass
/// the check (it is a read before the write, not a unique key: accounts from before the check
/// may hold such pairs).
pub(crate) async fn store_receipt(
    state: &AppState,
    user: &ledgerly_core::User,
    (bytes, filename): (Bytes, Option<String>),
    category: Option<&str>,
) -> ApiResult<Stored> {
    let kind = receipt_kind(&bytes)?;
    let category_id = match category.map(str::trim).filter(|c| !c.is_empty()) {
        Some(given) => {
            Some(super::expenses::resolve_category(&state.store, user.id, "category", given).await?)
        }
        None => None,
    };
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    if let Some(first) = state
        .store
        .find_receipts_by_sha256(user.id, &sha256)
        .await?
        .into_iter()
        .next()
    {
        tracing::info!(user = %user.id, first = %first.id, "the same receipt file again: refused");
        return Ok(Stored::Duplicate(first));
    }
    let id = ReceiptId::new();
    let key = receipt_key(user.id, id, kind);
    let size = i64::try_from(bytes.len()).map_err(ApiError::internal)?;
    if let Err(err) = state
        .storage
        .put_with_metadata(
            &key,
            bytes,
            kind.mime_type(),
            &[(OWNER_CURRENCY, user.currency.code())],
        )
        .await
    {
        if matches!(err, StorageError::Unavailable(_)) {
            delete_later(state.storage.clone(), key);
        }
        return Err(storage_error(err));
    }
    let new = NewReceipt {
        id,
        object_key: key.clone(),
        kind,
        size_bytes: size,
        sha256,
        original_filename: filename,
        category_id,
    };
    // Queued: the receipt and its OCR job in one transaction. With S3 events, storing the object
    // already fired the event that reads it.
    let created = match state.settings.ocr.dispatch {
        OcrDispatch::Queue => {
            state
                .store
                .create_queued_receipt(user.id, new, state.settings.ocr.max_attempts.get())
                .await
        }
        OcrDispatch::S3Events => state.store.create_receipt(user.id, new).await,
    };
    match created {
        Ok(receipt) => Ok(Stored::New(receipt)),
        Err(err) => {
            // No record, no file: nothing is left behind that nobody can see.
            if let Err(cleanup) = state.storage.delete(&key).await {
                tracing::error!(error = ?cleanup, key, "could not remove the file of a failed upload");
            }
            Err(err.into())
        }
    }
}

/// When a file that a timed-out upload sent may still land: the key is deleted again after each
/// of these, so a store that answers late keeps no file without a receipt.
const LATE_DELETES: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(15),
    std::time::Duration::from_secs(60),
    std::time::Duration::from_secs(300),
];

/// Deletes `key` in the background after each of [`LATE_DELETES`]: an upload the store did not
/// answer in time was refused, but the store may still write it once it answers (a store paused
/// for longer than the timeout does). The key is new and never reused, so deleting it again can
/// only remove that late file. A restart in between leaves it; the bucket holds nothing else that
/// has no receipt.
fn delete_later(storage: ledgerly_store::objects::Storage, key: String) {
    tokio::spawn(async move {
        for wait in LATE_DELETES {
            tokio::time::sleep(wait).await;
            match storage.delete(&key).await {
                Ok(()) => tracing::debug!(key, "the key of a refused upload is deleted again"),
                Err(err) => {
                    tracing::warn!(error = ?err, key, "cannot delete the key of a refused upload yet")
                }
            }
        }
    });
}

/// Hands a receipt to OCR: a job in the queue, or — when S3 events drive OCR — nothing to do,
/// since storing the object already fired the event.
async fn dispatch(
    state: &AppState,
    user: ledgerly_core::UserId,
    receipt: Receipt,
) -> ApiResult<Receipt> {
    match state.settings.ocr.dispatch {
        OcrDispatch::Queue => {
            state
                .store
                .enqueue_ocr_job(
                    user,
                    receipt.id,
                    state.settings.ocr.max_attempts.get(),
                    Utc::now(),
                )
                .await?;
            Ok(state.store.get_receipt(user, receipt.id).await?)
        }
        OcrDispatch::S3Events => Ok(receipt),
    }
}

/// A client's file name, for display only: the last path segment, printable, at most 200 chars.
pub(crate) fn clean_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    last.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// From 1; default 1.
    #[param(minimum = 1)]
    page: Option<u32>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<u32>,
}

/// The account's receipts, newest first, with their OCR status.
#[utoipa::path(get, operation_id = "listReceipts", path = "/receipts", tag = "receipts", params(ListParams),
    responses((status = 200, description = "A page of receipts", body = PageView<ReceiptView>)))]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<ListParams>,
) -> ApiResult<Json<PageView<ReceiptView>>> {
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(50);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    if !(1..=500).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "must be between 1 and 500"));
    }
    let receipts = state
        .store
        .list_receipts(current.user.id, page, per_page)
        .await?;
    Ok(Json(PageView {
        items: receipts.items.into_iter().map(Into::into).collect(),
        total: receipts.total,
        page,
        per_page,
    }))
}

/// One receipt and its OCR status.
#[utoipa::path(get, operation_id = "getReceipt", path = "/receipts/{id}", tag = "receipts", params(("id" = ReceiptId, Path, description = "The receipt's id.")),
    responses((status = 200, description = "The receipt", body = ReceiptView)))]
async fn get_one(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ReceiptId>,
) -> ApiResult<Json<ReceiptView>> {
    Ok(Json(
        state.store.get_receipt(current.user.id, id).await?.into(),
    ))
}

/// The receipt's file: from the API for local storage, or a redirect to a presigned URL.
#[utoipa::path(get, operation_id = "getReceiptImage", path = "/receipts/{id}/image", tag = "receipts", params(("id" = ReceiptId, Path, description = "The receipt's id.")),
    responses(
        (status = 200, description = "The file, in its own format", content(
            ("image/jpeg"), ("image/png"), ("image/webp"), ("image/heic"), ("application/pdf")
        )),
        (status = 307, description = "A short-lived presigned URL to the file in S3",
            headers(("location" = String, description = "The presigned URL"))),
    ))]
async fn image(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ReceiptId>,
) -> ApiResult<Response> {
    let receipt = state.store.get_receipt(current.user.id, id).await?;
    let ttl = Duration::from_secs(state.settings.storage.presign_seconds);
    let access = state
        .storage
        .image_access(&receipt.object_key, receipt.kind.mime_type(), ttl)
        .await
        .map_err(storage_error)?;
    Ok(match access {
        ImageAccess::Bytes(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(receipt.kind.mime_type()),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            response
        }
        ImageAccess::Redirect(url) => Redirect::temporary(&url).into_response(),
    })
}

/// Runs OCR on the receipt again (after a failure, or to refresh an unconfirmed expense).
#[utoipa::path(post, operation_id = "retryReceipt", path = "/receipts/{id}/retry", tag = "receipts", params(("id" = ReceiptId, Path, description = "The receipt's id.")),
    responses((status = 202, description = "Queued for OCR", body = ReceiptView)))]
#[tracing::instrument(skip_all)]
async fn retry(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ReceiptId>,
) -> ApiResult<(StatusCode, Json<ReceiptView>)> {
    let receipt = retry_receipt(&state, current.user.id, id).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt.into())))
}

/// Hands the user's receipt to OCR again.
pub(crate) async fn retry_receipt(
    state: &AppState,
    user: ledgerly_core::UserId,
    id: ReceiptId,
) -> ApiResult<Receipt> {
    let receipt = state.store.get_receipt(user, id).await?;
    Ok(match state.settings.ocr.dispatch {
        OcrDispatch::Queue => dispatch(state, user, receipt).await?,
        OcrDispatch::S3Events => {
            // Writing the object again fires the bucket's event, and the Lambda reads it anew.
            let bytes = state
                .storage
                .get(&receipt.object_key)
                .await
                .map_err(storage_error)?;
            let owner = state.store.get_user(user).await?;
            state
                .storage
                .put_with_metadata(
                    &receipt.object_key,
                    bytes,
                    receipt.kind.mime_type(),
                    &[(OWNER_CURRENCY, owner.currency.code())],
                )
                .await
                .map_err(storage_error)?;
            receipt
        }
    })
}

/// Deletes the receipt and its file. The expense it produced goes too while it awaits review.
#[utoipa::path(delete, operation_id = "deleteReceipt", path = "/receipts/{id}", tag = "receipts", params(("id" = ReceiptId, Path, description = "The receipt's id.")),
    responses((status = 204, description = "Deleted")))]
#[tracing::instrument(skip_all)]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ReceiptId>,
) -> ApiResult<StatusCode> {
    delete_receipt(&state, current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the user's receipt, then its file.
pub(crate) async fn delete_receipt(
    state: &AppState,
    user: ledgerly_core::UserId,
    id: ReceiptId,
) -> ApiResult<()> {
    let receipt = state.store.delete_receipt(user, id).await?;
    state
        .storage
        .delete(&receipt.object_key)
        .await
        .map_err(storage_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_for_people() {
        assert_eq!(human_size(10_000_000), "10.0 MB");
        assert_eq!(human_size(2_000), "2.0 kB");
        assert_eq!(human_size(512), "512 bytes");
    }

    #[test]
    fn client_file_names_are_only_displayed_and_cleaned() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\Users\\me\\IMG 1.JPG"), "IMG 1.JPG");
        assert_eq!(clean_filename("a\u{0}b\nc.png"), "abc.png");
        assert_eq!(clean_filename(&"x".repeat(300)).len(), 200);
    }
}
