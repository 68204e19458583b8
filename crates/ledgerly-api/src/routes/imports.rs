//! Importing expenses from a CSV file: upload it for a preview (every setting detected and
//! shown), change the settings until the preview is right, then commit it — all its expenses in
//! one transaction.

use std::collections::HashSet;

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use chrono::{DateTime, NaiveDate, Utc};
use ledgerly_core::import::{
    self, AmountSign, ColumnMap, DateOrder, Encoding, ImportError, ImportSettings, ImportedRow,
};
use ledgerly_core::{CategoryName, DecimalSeparator, ImportId, User};
use ledgerly_store::StoredImport;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, CurrentUser};
use crate::state::AppState;

/// Ready rows shown in a preview; the duplicates and the rejected rows are all listed.
pub(crate) const PREVIEW_ROWS: usize = 100;

/// The category of rows without one, until the user picks another.
pub(crate) const DEFAULT_CATEGORY: &str = "other";

pub(super) fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, upload) = routes!(upload);
    // Room for the multipart framing around the file.
    let upload = upload.layer(DefaultBodyLimit::max(
        super::restore::MAX_BACKUP_BYTES + 64 * 1024,
    ));
    OpenApiRouter::new()
        .routes((schemas, paths, upload))
        .routes(routes!(get_import, update_settings, delete_import))
        .routes(routes!(commit))
}

/// How the file's bytes are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EncodingView {
    Utf8,
    Utf16le,
    Utf16be,
    Windows1252,
}

impl From<Encoding> for EncodingView {
    fn from(e: Encoding) -> Self {
        match e {
            Encoding::Utf8 => Self::Utf8,
            Encoding::Utf16Le => Self::Utf16le,
            Encoding::Utf16Be => Self::Utf16be,
            Encoding::Windows1252 => Self::Windows1252,
        }
    }
}

impl From<EncodingView> for Encoding {
    fn from(e: EncodingView) -> Self {
        match e {
            EncodingView::Utf8 => Self::Utf8,
            EncodingView::Utf16le => Self::Utf16Le,
            EncodingView::Utf16be => Self::Utf16Be,
            EncodingView::Windows1252 => Self::Windows1252,
        }
    }
}

/// The order of day, month and year in the date column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DateOrderView {
    Ymd,
    Dmy,
    Mdy,
}

impl From<DateOrder> for DateOrderView {
    fn from(o: DateOrder) -> Self {
        match o {
            DateOrder::Ymd => Self::Ymd,
            DateOrder::Dmy => Self::Dmy,
            DateOrder::Mdy => Self::Mdy,
        }
    }
}

impl From<DateOrderView> for DateOrder {
    fn from(o: DateOrderView) -> Self {
        match o {
            DateOrderView::Ymd => Self::Ymd,
            DateOrderView::Dmy => Self::Dmy,
            DateOrderView::Mdy => Self::Mdy,
        }
    }
}

/// The character before the fraction: `point` (1,234.50) or `comma` (1.234,50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DecimalView {
    Point,
    Comma,
}

impl From<DecimalSeparator> for DecimalView {
    fn from(d: DecimalSeparator) -> Self {
        match d {
            DecimalSeparator::Point => Self::Point,
            DecimalSeparator::Comma => Self::Comma,
        }
    }
}

impl From<DecimalView> for DecimalSeparator {
    fn from(d: DecimalView) -> Self {
        match d {
            DecimalView::Point => Self::Point,
            DecimalView::Comma => Self::Comma,
        }
    }
}

/// Which sign an amount column's spending has: a bank statement's money out is negative
/// (`negative_is_spending`); an expense app's amounts are all spending (`positive_is_spending`).
/// Rows of the other sign are money in and are not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SignView {
    NegativeIsSpending,
    PositiveIsSpending,
}

impl From<AmountSign> for SignView {
    fn from(s: AmountSign) -> Self {
        match s {
            AmountSign::NegativeIsSpending => Self::NegativeIsSpending,
            AmountSign::PositiveIsSpending => Self::PositiveIsSpending,
        }
    }
}

impl From<SignView> for AmountSign {
    fn from(s: SignView) -> Self {
        match s {
            SignView::NegativeIsSpending => Self::NegativeIsSpending,
            SignView::PositiveIsSpending => Self::PositiveIsSpending,
        }
    }
}

/// Which column (0-based) holds what; `null` when the file has none. `date`, `vendor`, and
/// either `amount` or `debit`/`credit` are needed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnsView {
    #[schema(minimum = 0)]
    pub(crate) date: Option<u32>,
    /// The vendor, payee or description.
    #[schema(minimum = 0)]
    pub(crate) vendor: Option<u32>,
    /// One signed amount column (see `sign`).
    #[schema(minimum = 0)]
    pub(crate) amount: Option<u32>,
    /// Money out, when the file splits amounts into two columns.
    #[schema(minimum = 0)]
    pub(crate) debit: Option<u32>,
    /// Money in: such rows are listed as not expenses.
    #[schema(minimum = 0)]
    pub(crate) credit: Option<u32>,
    #[schema(minimum = 0)]
    pub(crate) category: Option<u32>,
    #[schema(minimum = 0)]
    pub(crate) note: Option<u32>,
    /// ISO 4217 codes; without it every row is in the account's currency.
    #[schema(minimum = 0)]
    pub(crate) currency: Option<u32>,
}

fn to_index(i: Option<u32>) -> Option<usize> {
    i.map(|i| i as usize)
}

fn from_index(i: Option<usize>) -> Option<u32> {
    i.map(|i| u32::try_from(i).unwrap_or(u32::MAX))
}

impl From<&ColumnMap> for ColumnsView {
    fn from(c: &ColumnMap) -> Self {
        Self {
            date: from_index(c.date),
            vendor: from_index(c.vendor),
            amount: from_index(c.amount),
            debit: from_index(c.debit),
            credit: from_index(c.credit),
            category: from_index(c.category),
            note: from_index(c.note),
            currency: from_index(c.currency),
        }
    }
}

impl From<&ColumnsView> for ColumnMap {
    fn from(c: &ColumnsView) -> Self {
        Self {
            date: to_index(c.date),
            vendor: to_index(c.vendor),
            amount: to_index(c.amount),
            debit: to_index(c.debit),
            credit: to_index(c.credit),
            category: to_index(c.category),
            note: to_index(c.note),
            currency: to_index(c.currency),
        }
    }
}

/// How the file is read. Detected on upload (or remembered from the last import of a file with
/// the same header), and changed with `PUT /imports/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsView {
    pub(crate) encoding: EncodingView,
    /// One character: `,`, `;`, a tab, `|`…
    #[schema(min_length = 1, max_length = 1, example = ";")]
    pub(crate) delimiter: String,
    /// The header's row number, from 1, blank lines not counted; the rows before it (a bank's
    /// preamble) are skipped. `null`: no header, the data starts at the first row.
    #[schema(minimum = 1)]
    pub(crate) header_row: Option<u32>,
    pub(crate) date_order: DateOrderView,
    pub(crate) decimal: DecimalView,
    pub(crate) sign: SignView,
    pub(crate) columns: ColumnsView,
    /// The category of rows without one; created on commit if the account has no such
    /// category.
    #[schema(example = "other")]
    pub(crate) default_category: String,
    /// The currency of amounts the file does not name (no `currency` column, or an empty
    /// cell); `null` or left out: the account's.
    #[serde(default)]
    pub(crate) currency: Option<ledgerly_core::Currency>,
}

impl From<&ImportSettings> for SettingsView {
    fn from(s: &ImportSettings) -> Self {
        Self {
            encoding: s.encoding.into(),
            delimiter: s.delimiter.to_string(),
            header_row: s.header_row,
            date_order: s.date_order.into(),
            decimal: s.decimal.into(),
            sign: s.sign.into(),
            columns: (&s.columns).into(),
            default_category: s.default_category.as_str().to_owned(),
            currency: s.currency,
        }
    }
}

impl SettingsView {
    /// The settings, checked as far as they can be without the file.
    pub(crate) fn to_settings(&self) -> ApiResult<ImportSettings> {
        let mut chars = self.delimiter.chars();
        let delimiter = match (chars.next(), chars.next()) {
            (Some(c), None) => c,
            _ => {
                return Err(ApiError::invalid(
                    "delimiter",
                    "must be one character, such as `,`, `;` or a tab",
                ));
            }
        };
        let default_category = CategoryName::parse(&self.default_category)
            .map_err(|e| ApiError::invalid("default_category", e))?;
        Ok(ImportSettings {
            encoding: self.encoding.into(),
            delimiter,
            header_row: self.header_row,
            date_order: self.date_order.into(),
            decimal: self.decimal.into(),
            sign: self.sign.into(),
            columns: (&self.columns).into(),
            default_category,
            currency: self.currency,
        })
    }
}

/// A column of the file, as shown for mapping.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ColumnView {
    pub(crate) index: u32,
    /// The header cell, or `Column N` in a file without a header.
    pub(crate) header: String,
    /// The first few values.
    pub(crate) samples: Vec<String>,
}

/// A row that will be imported (or is a duplicate), as read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PreviewRowView {
    /// The line in the file where the row starts.
    pub(crate) line: u64,
    pub(crate) date: NaiveDate,
    pub(crate) vendor: String,
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50")]
    pub(crate) amount: String,
    pub(crate) currency: ledgerly_core::Currency,
    pub(crate) category: String,
    pub(crate) note: Option<String>,
}

impl PreviewRowView {
    fn new(line: u64, row: &ImportedRow) -> Self {
        Self {
            line,
            date: row.date,
            vendor: row.vendor.as_str().to_owned(),
            amount: row.amount.to_decimal_string(),
            currency: row.amount.currency(),
            category: row.category.as_str().to_owned(),
            note: row.note.as_ref().map(|n| n.as_str().to_owned()),
        }
    }
}

/// A row that will not be imported, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RejectedView {
    pub(crate) line: u64,
    pub(crate) reason: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub(crate) struct CountsView {
    /// Data rows in the file (empty lines aside).
    pub(crate) rows: u64,
    /// Rows a commit writes (with duplicates skipped).
    pub(crate) ready: u64,
    /// Rows matching a recorded expense (same day, amount, currency and vendor): skipped unless
    /// the commit includes them.
    pub(crate) duplicates: u64,
    /// Rows that cannot be imported; each is in `rejected` with its reason.
    pub(crate) rejected: u64,
}

/// What a commit wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CommittedView {
    pub(crate) at: DateTime<Utc>,
    pub(crate) created: u64,
    pub(crate) duplicates_skipped: u64,
}

/// An import: its settings, the file's columns, and what a commit would do — or, once
/// committed, what it did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ImportView {
    pub(crate) id: ImportId,
    pub(crate) file_name: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) settings: SettingsView,
    /// Whether these settings are the ones remembered from the last import of a file with this
    /// header.
    pub(crate) remembered: bool,
    /// Guesses worth checking, while the settings are the detected ones.
    pub(crate) notes: Vec<String>,
    pub(crate) columns: Vec<ColumnView>,
    /// Why the file cannot be read with these settings, and what to change; the rows are then
    /// empty.
    pub(crate) problem: Option<String>,
    pub(crate) counts: CountsView,
    /// The first ready rows (at most 100).
    pub(crate) rows: Vec<PreviewRowView>,
    /// Every row matching a recorded expense.
    pub(crate) duplicates: Vec<PreviewRowView>,
    /// Every row that will not be imported, with the reason.
    pub(crate) rejected: Vec<RejectedView>,
    /// Categories the rows name that the account does not have: a commit creates them.
    pub(crate) new_categories: Vec<String>,
    /// Set once committed.
    pub(crate) committed: Option<CommittedView>,
}

/// The file-level error as the API's: too large is 413, the rest 422 naming `file`.
fn file_error(err: ImportError) -> ApiError {
    match err {
        ImportError::TooLarge { .. } => ApiError::PayloadTooLarge(format!(
            "the file is larger than the import limit of {}; split it",
            super::receipts::human_size(import::MAX_BYTES)
        )),
        other => ApiError::invalid("file", other),
    }
}

/// The file's rows read with the import's settings: the ready ones (each with its line) and
/// the rejected ones, or the reason none can be read.
pub(crate) struct ReadFile {
    pub(crate) ready: Vec<(u64, ImportedRow)>,
    pub(crate) rejected: Vec<RejectedView>,
}

pub(crate) fn read_rows(import: &StoredImport, user: &User) -> Result<ReadFile, ImportError> {
    let table = import::read(&import.content, &import.settings, user.currency)?;
    let mut file = ReadFile {
        ready: Vec::new(),
        rejected: Vec::new(),
    };
    for row in table.rows {
        match row.result {
            Ok(read) => file.ready.push((row.line, read)),
            Err(reason) => file.rejected.push(RejectedView {
                line: row.line,
                reason,
            }),
        }
    }
    Ok(file)
}

/// Builds the preview of `import` for `user`.
pub(crate) async fn preview(
    state: &AppState,
    user: &User,
    import: StoredImport,
) -> ApiResult<ImportView> {
    let mut view = ImportView {
        id: import.id,
        file_name: import.file_name.clone(),
        created_at: import.created_at,
        settings: (&import.settings).into(),
        remembered: false,
        notes: Vec::new(),
        columns: Vec::new(),
        problem: None,
        counts: CountsView::default(),
        rows: Vec::new(),
        duplicates: Vec::new(),
        rejected: Vec::new(),
        new_categories: Vec::new(),
        committed: import.committed.map(|c| CommittedView {
            at: c.at,
            created: c.created,
            duplicates_skipped: c.duplicates_skipped,
        }),
    };
    if view.committed.is_some() {
        return Ok(view);
    }
    match import::columns(&import.content, &import.settings) {
        Ok(columns) => {
            view.columns = columns
                .into_iter()
                .map(|c| ColumnView {
                    index: u32::try_from(c.index).unwrap_or(u32::MAX),
                    header: c.header,
                    samples: c.samples,
                })
                .collect();
        }
        Err(err) => {
            view.problem = Some(err.to_string());
            return Ok(view);
        }
    }
    if let Ok(detected) = import::detect(&import.content, import.settings.default_category.clone())
        && detected.settings == import.settings
    {
        view.notes = detected.notes;
    }
    if let Ok(shape) = import::shape(&import.content, &import.settings) {
        view.remembered = state
            .store
            .remembered_import_settings(user.id, &shape)
            .await?
            .is_some_and(|remembered| remembered == import.settings);
    }
    let file = match read_rows(&import, user) {
        Ok(file) => file,
        Err(err) => {
            view.problem = Some(err.to_string());
            return Ok(view);
        }
    };
    let rows: Vec<ImportedRow> = file.ready.iter().map(|(_, row)| row.clone()).collect();
    let (duplicates, categories) = tokio::try_join!(
        state.store.import_duplicates(user.id, &rows),
        state.store.list_categories(user.id),
    )?;
    let known: HashSet<String> = categories.iter().map(|c| c.name.key()).collect();
    let mut new_categories = HashSet::new();
    for ((line, row), duplicate) in file.ready.iter().zip(duplicates) {
        if duplicate {
            view.duplicates.push(PreviewRowView::new(*line, row));
            continue;
        }
        view.counts.ready += 1;
        if view.rows.len() < PREVIEW_ROWS {
            view.rows.push(PreviewRowView::new(*line, row));
        }
        if !known.contains(&row.category.key()) && new_categories.insert(row.category.key()) {
            view.new_categories.push(row.category.as_str().to_owned());
        }
    }
    view.counts.duplicates = view.duplicates.len() as u64;
    view.counts.rejected = file.rejected.len() as u64;
    view.counts.rows = view.counts.ready + view.counts.duplicates + view.counts.rejected;
    view.rejected = file.rejected;
    Ok(view)
}

/// Keeps an uploaded file for import: detects how to read it, or takes the settings remembered
/// for files of its shape.
pub(crate) async fn start_import(
    state: &AppState,
    user: &User,
    file_name: Option<String>,
    bytes: &[u8],
) -> ApiResult<ImportId> {
    let default_category = CategoryName::parse(DEFAULT_CATEGORY).map_err(ApiError::internal)?;
    let detected = import::detect(bytes, default_category).map_err(file_error)?;
    let mut settings = detected.settings;
    if let Ok(shape) = import::shape(bytes, &settings)
        && let Some(remembered) = state
            .store
            .remembered_import_settings(user.id, &shape)
            .await?
        && import::read(bytes, &remembered, user.currency).is_ok()
    {
        settings = remembered;
    }
    let file_name = file_name.unwrap_or_else(|| "import.csv".into());
    Ok(state
        .store
        .create_import(user.id, &file_name, bytes, &settings)
        .await?)
}

/// Checks `settings` against the import's file and keeps them.
pub(crate) async fn change_settings(
    state: &AppState,
    user: &User,
    id: ImportId,
    settings: ImportSettings,
) -> ApiResult<StoredImport> {
    let mut import = state.store.get_import(user.id, id).await?;
    if import.committed.is_some() {
        return Err(ledgerly_store::StoreError::ImportCommitted.into());
    }
    let columns = import::columns(&import.content, &settings).map_err(|e| match e {
        ImportError::Decode { .. } => ApiError::invalid("encoding", e),
        other => ApiError::invalid("settings", other),
    })?;
    settings
        .validate(columns.len())
        .map_err(|e| ApiError::invalid("settings", e))?;
    state
        .store
        .set_import_settings(user.id, id, &settings)
        .await?;
    import.settings = settings;
    Ok(import)
}

/// Commits the import: its ready rows (and its duplicates when `include_duplicates`).
pub(crate) async fn commit_import(
    state: &AppState,
    user: &User,
    id: ImportId,
    include_duplicates: bool,
) -> ApiResult<CommitView> {
    let import = state.store.get_import(user.id, id).await?;
    if import.committed.is_some() {
        return Err(ledgerly_store::StoreError::ImportCommitted.into());
    }
    let file = read_rows(&import, user).map_err(|e| ApiError::invalid("settings", e))?;
    if file.ready.is_empty() {
        return Err(ApiError::invalid(
            "file",
            "no row can be imported: every row is rejected (see the preview for the reasons)",
        ));
    }
    let shape = import::shape(&import.content, &import.settings)
        .map_err(|e| ApiError::invalid("settings", e))?;
    let rows: Vec<ImportedRow> = file.ready.into_iter().map(|(_, row)| row).collect();
    let outcome = state
        .store
        .commit_import(user.id, id, &rows, !include_duplicates, &shape)
        .await?;
    if outcome.created == 0 {
        tracing::info!(import = %id, "an import committed with every row a duplicate");
    }
    Ok(CommitView {
        created: outcome.created,
        duplicates_skipped: outcome.duplicates_skipped,
        rejected: file.rejected.len() as u64,
        categories_created: outcome
            .categories_created
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
    })
}

/// The upload form.
#[derive(Debug, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the multipart form; the handler reads it field by field"
)]
struct ImportForm {
    /// A CSV (or semicolon- or tab-separated) text file in UTF-8, UTF-16 or Windows-1252, at
    /// most 5 MiB and 50,000 rows: a bank's or another app's export, or Ledgerly's own.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    file: Vec<u8>,
}

/// What `POST /imports` answers: a CSV file's preview, or what a backup's restore wrote
/// (`kind: "backup"`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ImportUpload {
    Preview(Box<ImportView>),
    Restored(super::restore::RestoreView),
}

/// What was uploaded to `POST /imports`: a CSV file, or a backup made by `GET /export.zip`.
#[derive(Debug)]
pub(crate) enum Uploaded {
    Csv(Vec<u8>, Option<String>),
    Backup(super::restore::UploadedZip),
}

/// Reads the `file` field of an import upload: a CSV file (at most [`import::MAX_BYTES`], in
/// memory) or a backup (at most `MAX_BACKUP_BYTES`, to a temporary file), told apart by their
/// first bytes.
pub(crate) async fn read_file_field(
    multipart: Result<Multipart, MultipartRejection>,
    allowed: &[&str],
) -> ApiResult<(Option<Uploaded>, Vec<(String, String)>)> {
    let too_large = || file_error(ImportError::TooLarge { bytes: 0 });
    let mut multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType(
            "upload the CSV file as multipart/form-data in the field `file`".into(),
        )
    })?;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::BadRequest(format!(
                "the multipart body cannot be read: {}",
                e.body_text()
            ))
        }
    };
    let mut file = None;
    let mut extra = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") => {
                let name = field.file_name().map(super::receipts::clean_filename);
                let mut bytes = BytesMut::new();
                let mut oversized = false;
                // A backup (a zip) goes to a temporary file as it arrives.
                let mut zip: Option<(super::restore::UploadedZip, tokio::fs::File)> = None;
                let mut written = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if zip.is_none()
                        && bytes.is_empty()
                        && chunk.starts_with(super::restore::ZIP_MAGIC)
                    {
                        let (upload, out) =
                            super::restore::UploadedZip::create().map_err(ApiError::internal)?;
                        zip = Some((upload, tokio::fs::File::from_std(out)));
                    }
                    if let Some((_, out)) = zip.as_mut() {
                        written += chunk.len();
                        oversized |= written > super::restore::MAX_BACKUP_BYTES;
                        if !oversized {
                            tokio::io::AsyncWriteExt::write_all(out, &chunk)
                                .await
                                .map_err(ApiError::internal)?;
                        }
                        continue;
                    }
                    // Read to the end (bounded by the route's limit) so the client sees the 413.
                    oversized |= bytes.len() + chunk.len() > import::MAX_BYTES;
                    if !oversized {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                if oversized {
                    return Err(too_large());
                }
                file = Some(match zip {
                    Some((upload, mut out)) => {
                        tokio::io::AsyncWriteExt::flush(&mut out)
                            .await
                            .map_err(ApiError::internal)?;
                        Uploaded::Backup(upload)
                    }
                    None => Uploaded::Csv(bytes.to_vec(), name),
                });
            }
            Some(name) if allowed.contains(&name) => {
                let name = name.to_owned();
                extra.push((name, field.text().await.map_err(unreadable)?));
            }
            other => {
                return Err(ApiError::invalid(
                    "form",
                    format!(
                        "unexpected field `{}`; send the CSV as `file`",
                        other.unwrap_or("")
                    ),
                ));
            }
        }
    }
    Ok((file, extra))
}

/// Uploads a CSV file for import and answers with its preview: the detected settings, the
/// columns, the rows a commit would write, the duplicates and every rejected row with its line
/// and reason. Nothing is recorded until the commit.
#[utoipa::path(post, operation_id = "createImport", path = "/imports", tag = "imports",
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "A CSV file is kept and this is its preview; a backup (a zip made by `GET /export.zip`) is restored at once and this is what it wrote", body = ImportUpload),
        (status = 413, description = "A CSV file is over 5 MiB, or a backup over 512 MiB", body = ErrorBody),
        (status = 415, description = "Not multipart", body = ErrorBody),
        (status = 422, description = "Empty, not text, or more than 50,000 rows", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
async fn upload(
    State(state): State<AppState>,
    current: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let (file, _) = read_file_field(multipart, &[]).await?;
    let (bytes, name) = match file {
        Some(Uploaded::Csv(bytes, name)) => (bytes, name),
        Some(Uploaded::Backup(upload)) => {
            let view = super::restore::restore(&state, &current.user, upload).await?;
            return Ok((StatusCode::CREATED, Json(ImportUpload::Restored(view))).into_response());
        }
        None => {
            return Err(ApiError::invalid(
                "file",
                "is required: the CSV file or backup to import",
            ));
        }
    };
    let id = start_import(&state, &current.user, name, &bytes).await?;
    let import = state.store.get_import(current.user.id, id).await?;
    let view = preview(&state, &current.user, import).await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportUpload::Preview(Box::new(view))),
    )
        .into_response())
}

/// An import's preview (or, once committed, what the commit did).
#[utoipa::path(get, operation_id = "getImport", path = "/imports/{id}", tag = "imports",
    params(("id" = ImportId, Path, description = "The import's id.")),
    responses((status = 200, description = "The preview", body = ImportView),
        (status = 404, description = "No such import of yours", body = ErrorBody)))]
async fn get_import(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ImportId>,
) -> ApiResult<Json<ImportView>> {
    let import = state.store.get_import(current.user.id, id).await?;
    Ok(Json(preview(&state, &current.user, import).await?))
}

/// Changes how the file is read and answers with the new preview.
#[utoipa::path(put, operation_id = "updateImport", path = "/imports/{id}", tag = "imports",
    params(("id" = ImportId, Path, description = "The import's id.")),
    request_body = SettingsView,
    responses((status = 200, description = "The preview with these settings", body = ImportView),
        (status = 404, description = "No such import of yours", body = ErrorBody),
        (status = 409, description = "Committed already", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn update_settings(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ImportId>,
    AppJson(settings): AppJson<SettingsView>,
) -> ApiResult<Json<ImportView>> {
    let settings = settings.to_settings()?;
    let import = change_settings(&state, &current.user, id, settings).await?;
    Ok(Json(preview(&state, &current.user, import).await?))
}

/// Deletes an import. A committed import's expenses stay.
#[utoipa::path(delete, operation_id = "deleteImport", path = "/imports/{id}", tag = "imports",
    params(("id" = ImportId, Path, description = "The import's id.")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such import of yours", body = ErrorBody)))]
async fn delete_import(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ImportId>,
) -> ApiResult<StatusCode> {
    state.store.delete_import(current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CommitRequest {
    /// Also write the rows matching recorded expenses; default `false` (they are skipped).
    #[serde(default)]
    include_duplicates: bool,
}

/// What a commit wrote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CommitView {
    pub(crate) created: u64,
    pub(crate) duplicates_skipped: u64,
    /// Rows that could not be imported (listed in the preview).
    pub(crate) rejected: u64,
    /// Categories the file named that the account lacked, now created.
    pub(crate) categories_created: Vec<String>,
}

/// Writes the import's expenses, all in one transaction: every ready row, and the duplicates
/// too when asked. The categories the rows name are created if missing. The settings are
/// remembered for the next file with the same header.
#[utoipa::path(post, operation_id = "commitImport", path = "/imports/{id}/commit", tag = "imports",
    params(("id" = ImportId, Path, description = "The import's id.")),
    request_body(content = Option<CommitRequest>, content_type = "application/json"),
    responses((status = 200, description = "Recorded", body = CommitView),
        (status = 404, description = "No such import of yours", body = ErrorBody),
        (status = 409, description = "Committed already", body = ErrorBody),
        (status = 422, description = "No row can be imported with these settings", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn commit(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ImportId>,
    body: bytes::Bytes,
) -> ApiResult<Json<CommitView>> {
    // The body is optional: none (or `{}`) commits without the duplicates.
    let request: CommitRequest = crate::extract::optional_json(&body)?;
    Ok(Json(
        commit_import(&state, &current.user, id, request.include_duplicates).await?,
    ))
}
