//! The receipts page (status, thumbnail, re-run OCR, delete), the upload form with its drop zone,
//! and the live status of a receipt being read.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ledgerly_core::{Category, OcrStatus, Receipt, ReceiptId, ReceiptKind};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::csrf;
use crate::error::{ApiError, ApiResult};
use crate::routes::receipts::{
    Stored, UploadParts, delete_receipt, human_size, read_upload, receipt_kind, retry_receipt,
    store_receipt,
};
use crate::state::AppState;

use super::dashboard::{receipt_link, upload_failed};
use super::layout::{self, Section, csrf_field, dialog, notice};
use super::{Errors, PagePath, SignedForm, WebUser, back_to, failure, param, see_other};

const PER_PAGE: u32 = 12;

/// The receipt's file as a thumbnail: the image itself (fetched with the session, or through a
/// presigned URL), or a labelled link for formats a browser does not show inline.
pub(crate) fn thumbnail(receipt: &Receipt, size: &str) -> Markup {
    let url = format!("/api/v1/receipts/{}/image", receipt.id);
    let name = receipt.original_filename.as_deref().unwrap_or("receipt");
    html! {
        @match receipt.kind {
            ReceiptKind::Pdf | ReceiptKind::Heic => {
                a class={"thumb file " (size)} href=(url) target="_blank" rel="noopener" {
                    span { (receipt.kind.extension().to_uppercase()) }
                    span.visually-hidden { " — open " (name) }
                }
            }
            _ => {
                a class={"thumb " (size)} href=(url) target="_blank" rel="noopener" {
                    img src=(url) alt={"Receipt: " (name)} loading="lazy";
                }
            }
        }
    }
}

fn status_label(status: &OcrStatus) -> (&'static str, &'static str) {
    match status.as_str() {
        "pending" => ("Waiting to be read", "pending"),
        "processing" => ("Reading…", "pending"),
        "done" => ("Read", "ok"),
        _ => ("Could not be read", "failed"),
    }
}

/// A receipt being read: its status, updated live by the page's script (which opens the review
/// when OCR is done), with a retry when it failed.
pub(crate) fn receipt_status(receipt: &Receipt, csrf_token: &str) -> Markup {
    let (label, class) = status_label(&receipt.status);
    let live = matches!(receipt.status.as_str(), "pending" | "processing");
    html! {
        div.receipt-status data-receipt=(receipt.id) data-live[live] data-review-when-done {
            (thumbnail(receipt, "large"))
            p.filename { (receipt.original_filename.as_deref().unwrap_or("Receipt")) }
            p aria-live="polite" {
                "Status: " span class={"badge " (class)} data-status-text { (label) }
            }
            @if live {
                p.muted { "Reading the receipt: this page moves on to the review by itself when it is done." }
                noscript { p { a href=(receipt_link(receipt.id)) { "Refresh the status" } } }
            }
            @if let Some(reason) = receipt.status.failure_reason() {
                p.error { (reason) }
                form method="post" action={"/receipts/" (receipt.id) "/retry"} {
                    (csrf_field(csrf_token))
                    input type="hidden" name="back" value=(receipt_link(receipt.id));
                    button.primary type="submit" { "Read it again" }
                }
            }
            @if let Some(expense) = receipt.expense_id {
                p { a.button.primary href={"/dashboard?review=" (expense)} { "Review the expense" } }
            }
        }
    }
}

/// The upload form: a drop zone over a plain file input (which works without JavaScript).
pub(crate) fn upload_form(
    csrf_token: &str,
    back: &str,
    categories: &[Category],
    errors: &Errors,
) -> Markup {
    let error = errors.get("file").or(errors.get("form"));
    html! {
        form.upload method="post" action="/receipts" enctype="multipart/form-data" data-upload {
            (csrf_field(csrf_token))
            input type="hidden" name="back" value=(back);
            div.field.invalid[error.is_some()] {
                label.dropzone for="upload-file" data-dropzone {
                    strong { "Drop a receipt here" }
                    span { " or choose files" }
                    span.hint { "JPEG, PNG, WebP, HEIC or PDF" }
                }
                input #upload-file type="file" name="file" multiple
                    accept="image/jpeg,image/png,image/webp,image/heic,.heic,application/pdf"
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "upload-file-error")];
                // On a phone, the camera at once.
                label.button.camera for="upload-camera" { "Take a photo" }
                input #upload-camera.visually-hidden type="file" name="file" accept="image/*" capture="environment";
                @if let Some(message) = error {
                    p.error #upload-file-error { (message) }
                }
            }
            div.field {
                label for="upload-category" { "Category" }
                select #upload-category name="category" {
                    option value="" { "Decide when reviewing" }
                    @for c in categories {
                        option value=(c.id) { (c.name.as_str()) }
                    }
                }
            }
            div.form-actions {
                button.primary type="submit" data-upload-button { "Upload and read" }
            }
        }
    }
}

/// The most files one upload takes.
pub(crate) const MAX_FILES: usize = 10;

/// `POST /receipts`: stores the file (or files) and shows its status live on the dashboard.
pub(crate) async fn upload(
    State(state): State<AppState>,
    user: WebUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    upload_files(&state, &user, multipart, Via::Form).await
}

/// How files came: the dashboard's form (with its CSRF token and the page to go back to), or
/// another app's share (checked by its caller; its title and text are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Form,
    Share,
}

/// Stores the uploaded files: one opens its receipt being read, several the receipts page.
pub(crate) async fn upload_files(
    state: &AppState,
    user: &WebUser,
    multipart: Result<Multipart, MultipartRejection>,
    via: Via,
) -> Response {
    let extra: &[&str] = match via {
        Via::Form => &[csrf::FIELD, "back"],
        Via::Share => &["title", "text", "url"],
    };
    let form = match read_upload(state, multipart, extra).await {
        Ok(form) => form,
        // Nothing to check a token against, and nothing was stored.
        Err(err) => return upload_failed(state, user, "/dashboard", err).await,
    };
    let text = |name: &str| {
        form.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if via == Via::Form && !user.csrf_matches(&text(csrf::FIELD)) {
        return failure(ApiError::CsrfRefused);
    }
    let back = back_to(&text("back"), "/dashboard");
    if form.files.len() > MAX_FILES {
        let err = ApiError::invalid(
            "file",
            format!("at most {MAX_FILES} files at once; upload the rest after"),
        );
        return upload_failed(state, user, &back, err).await;
    }
    let UploadParts {
        mut files,
        category,
        ..
    } = form;
    if files.len() > 1 {
        return upload_several(state, user, &back, files, category.as_deref()).await;
    }
    let Some(file) = files.pop() else {
        let err = ApiError::invalid("file", "choose a receipt's file, or take a photo of it");
        return upload_failed(state, user, &back, err).await;
    };
    match store_receipt(state, user.user(), file, category.as_deref()).await {
        Ok(Stored::New(receipt)) => see_other(&receipt_link(receipt.id)),
        // The very same file again: shown the one the account has.
        Ok(Stored::Duplicate(first)) => see_other(&format!(
            "{}&done=duplicate-receipt",
            receipt_link(first.id)
        )),
        Err(err) => upload_failed(state, user, &back, err).await,
    }
}

/// Several files at once (chosen together, or a phone's photos): each is checked before any is
/// kept — one that is not a receipt refuses them all, named — then each is stored and read; files
/// the account has already are left out and said so. The receipts page shows them being read.
async fn upload_several(
    state: &AppState,
    user: &WebUser,
    back: &str,
    files: Vec<(Bytes, Option<String>)>,
    category: Option<&str>,
) -> Response {
    for (bytes, name) in &files {
        if let Err(err) = receipt_kind(bytes) {
            let name = name.as_deref().unwrap_or("a file");
            let why = match err {
                ApiError::Invalid { message, .. } => message
                    .strip_prefix("file: ")
                    .map(str::to_owned)
                    .unwrap_or(message),
                other => other.to_string(),
            };
            let err = ApiError::invalid("file", format!("{why} ({name})"));
            return upload_failed(state, user, back, err).await;
        }
    }
    let mut duplicates = 0;
    for file in files {
        match store_receipt(state, user.user(), file, category).await {
            Ok(Stored::New(_)) => {}
            Ok(Stored::Duplicate(_)) => duplicates += 1,
            Err(err) => return upload_failed(state, user, back, err).await,
        }
    }
    if duplicates > 0 {
        see_other("/receipts?done=uploaded-with-duplicates")
    } else {
        see_other("/receipts?done=uploaded")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BackForm {
    back: String,
}

fn receipt_id(text: &str) -> ApiResult<ReceiptId> {
    text.parse().map_err(|_| ApiError::NotFound("receipt"))
}

/// `POST /receipts/{id}/retry`.
pub(crate) async fn retry(
    State(state): State<AppState>,
    PagePath(id): PagePath<ReceiptId>,
    SignedForm { user, form }: SignedForm<BackForm>,
) -> Response {
    let result = retry_receipt(&state, user.user().id, id).await;
    match result {
        Ok(receipt) if form.back.starts_with("/dashboard") => see_other(&receipt_link(receipt.id)),
        Ok(_) => see_other(&with_done(&form.back, "retried")),
        Err(err) => failure(err),
    }
}

/// `POST /receipts/{id}/delete`: after the confirmation dialog.
pub(crate) async fn delete(
    State(state): State<AppState>,
    PagePath(id): PagePath<ReceiptId>,
    SignedForm { user, form }: SignedForm<BackForm>,
) -> Response {
    let result = delete_receipt(&state, user.user().id, id).await;
    match result {
        Ok(()) => see_other(&with_done(&form.back, "receipt-deleted")),
        Err(err) => failure(err),
    }
}

fn with_done(back: &str, done: &str) -> String {
    let back = back_to(back, "/receipts");
    let back = back
        .split_once('?')
        .map_or(back.as_str(), |(path, _)| path)
        .to_owned();
    format!("{back}?done={done}")
}

/// The receipts page's address: `page`, `delete` (the dialog), `done` (the notice).
#[derive(Debug, Default)]
struct ReceiptsQuery {
    page: u32,
    delete: Option<String>,
    done: Option<String>,
}

impl ReceiptsQuery {
    fn parse(pairs: &[(String, String)]) -> Self {
        ReceiptsQuery {
            page: param(pairs, "page")
                .and_then(|p| p.parse::<u32>().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
            delete: param(pairs, "delete").map(str::to_owned),
            done: param(pairs, "done").map(str::to_owned),
        }
    }
}

/// `GET /receipts`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match render(&state, &user, &ReceiptsQuery::parse(&pairs)).await {
        Ok(markup) => (StatusCode::OK, markup).into_response(),
        Err(err) => failure(err),
    }
}

async fn render(state: &AppState, user: &WebUser, query: &ReceiptsQuery) -> ApiResult<Markup> {
    let u = user.user();
    let requested = query.page;
    let mut receipts = state.store.list_receipts(u.id, requested, PER_PAGE).await?;
    let pages = u32::try_from(receipts.total.div_ceil(u64::from(PER_PAGE)))
        .unwrap_or(u32::MAX)
        .max(1);
    if requested > pages {
        receipts = state.store.list_receipts(u.id, pages, PER_PAGE).await?;
    }
    let page = receipts.page;
    let categories = state.store.list_categories(u.id).await?;
    let mut rows = Vec::new();
    for receipt in receipts.items {
        let review = match receipt.expense_id {
            Some(id) => state
                .store
                .get_expense(u.id, id)
                .await
                .ok()
                .map(|e| (id, e.needs_review)),
            None => None,
        };
        rows.push((receipt, review));
    }
    let back = format!("/receipts?page={page}");
    let deleting = match query.delete.as_deref().map(receipt_id).transpose()? {
        Some(id) => Some(state.store.get_receipt(u.id, id).await?),
        None => None,
    };
    let zone = u.time_zone;
    let body = html! {
        (notice(query.done.as_deref()))
        div.page-head { h1 { "Receipts" } }
        section.card aria-labelledby="upload-title" {
            h2 #upload-title { "Scan a receipt" }
            (upload_form(&user.csrf, &back, &categories, &Errors::none()))
        }
        section.card aria-labelledby="receipts-title" {
            h2 #receipts-title { "Your receipts" }
            @if rows.is_empty() {
                p.empty { "No receipts yet: drop one above and it is read for you." }
            } @else {
                ul.receipts {
                    @for (receipt, review) in &rows {
                        @let (label, class) = status_label(&receipt.status);
                        @let live = matches!(receipt.status.as_str(), "pending" | "processing");
                        li.receipt data-receipt=(receipt.id) data-live[live] {
                            (thumbnail(receipt, "small"))
                            div.receipt-info {
                                p.filename { (receipt.original_filename.as_deref().unwrap_or("Receipt")) }
                                p.muted {
                                    time datetime=(receipt.created_at.to_rfc3339()) {
                                        (zone.local_date(receipt.created_at).format("%d %b %Y"))
                                    }
                                    " · " (receipt.kind.extension().to_uppercase())
                                    " · " (human_size(usize::try_from(receipt.size_bytes).unwrap_or(0)))
                                }
                                p { span class={"badge " (class)} data-status-text { (label) } }
                                @if let Some(reason) = receipt.status.failure_reason() {
                                    p.error { (reason) }
                                }
                            }
                            div.receipt-actions {
                                @match review {
                                    Some((id, true)) => a.button.small.primary href={"/dashboard?review=" (id)} { "Review" },
                                    Some((id, false)) => a.button.small href={"/dashboard?edit=" (id)} { "Open expense" },
                                    None => {},
                                }
                                form method="post" action={"/receipts/" (receipt.id) "/retry"} {
                                    (csrf_field(&user.csrf))
                                    input type="hidden" name="back" value=(back);
                                    button.small type="submit" { "Re-run OCR" }
                                }
                                a.button.small.danger href={"/receipts?page=" (page) "&delete=" (receipt.id)} { "Delete" }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pager aria-label="Pages" {
                        @if page > 1 { a.button.small href={"/receipts?page=" (page - 1)} { "Previous" } }
                        span.where { "Page " (page) " of " (pages) }
                        @if page < pages { a.button.small href={"/receipts?page=" (page + 1)} { "Next" } }
                    }
                }
            }
        }
        @if let Some(receipt) = &deleting {
            (dialog("Delete this receipt?", &back, html! {
                p {
                    strong { (receipt.original_filename.as_deref().unwrap_or("This receipt")) }
                    " and its file are deleted. An expense it produced goes too while it still awaits review; a confirmed one stays."
                }
                form method="post" action={"/receipts/" (receipt.id) "/delete"} {
                    (csrf_field(&user.csrf))
                    input type="hidden" name="back" value=(back);
                    div.form-actions {
                        button.danger type="submit" { "Delete" }
                        a.button href=(back) autofocus { "Cancel" }
                    }
                }
            }))
        }
    };
    Ok(layout::page(
        "Receipts",
        Some((u, &user.csrf)),
        Section::Receipts,
        body,
    ))
}
