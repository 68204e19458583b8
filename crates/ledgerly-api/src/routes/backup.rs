//! The backup: every piece of the signed-in user's data in one zip file, to take elsewhere or to
//! restore. The format is `ledgerly_core::backup`: `manifest.json`, `data.json` and the receipt
//! files as `receipts/<id>.<ext>`.
//!
//! A zip's directory comes after its entries, so the file is written whole before the answer
//! starts: into a temporary file, on the blocking pool. The rows are read in one transaction;
//! the receipt files are fetched from storage one at a time, each written before the next is
//! fetched, so the server holds one receipt at a time however many there are. The finished file
//! is sent in pieces and deleted once sent, or when the client goes away.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Datelike, Timelike, Utc};
use futures_util::{Stream, stream};
use ledgerly_core::backup::{self, Account, Counts, Manifest};
use ledgerly_core::{ReceiptKind, User};
use ledgerly_store::objects::StorageError;
use tokio::io::AsyncReadExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::error::{ApiError, ApiResult};
use crate::extract::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_backup))
}

/// The size of the pieces the file is sent in.
const CHUNK_BYTES: usize = 64 * 1024;

type Archive = ZipWriter<BufWriter<File>>;

/// The zip being written and sent, deleted when this is dropped: once it has been sent, when the
/// client goes away, or when writing it failed.
#[derive(Debug)]
struct TempZip {
    path: PathBuf,
}

impl TempZip {
    /// A new, empty file in the system's temporary folder, readable by this user alone.
    fn create() -> std::io::Result<(TempZip, File)> {
        let path = std::env::temp_dir().join(format!(
            "ledgerly-backup-{}.zip",
            uuid::Uuid::new_v4().simple()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path)?;
        Ok((TempZip { path }, file))
    }
}

impl Drop for TempZip {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(
                error = %err,
                path = %self.path.display(),
                "could not delete a backup's temporary file"
            );
        }
    }
}

/// Runs `work` on the blocking pool: file writes and compression stay off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn storage_error(err: StorageError) -> ApiError {
    match err {
        StorageError::Unavailable(cause) => {
            tracing::warn!(cause, "the receipt storage is unavailable");
            ApiError::Unavailable("the receipt storage")
        }
        other => ApiError::internal(other),
    }
}

/// `at` as a zip entry's time (which has no zone: UTC here); `None` outside 1980–2107.
fn zip_time(at: DateTime<Utc>) -> Option<zip::DateTime> {
    zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).ok()?,
        u8::try_from(at.month()).ok()?,
        u8::try_from(at.day()).ok()?,
        u8::try_from(at.hour()).ok()?,
        u8::try_from(at.minute()).ok()?,
        u8::try_from(at.second()).ok()?,
    )
    .ok()
}

/// The finished file as pieces of up to [`CHUNK_BYTES`]; `temp` goes (deleting the file) after
/// the last piece, after a failure, or with the stream when the client goes away. A failure is
/// logged and ends the body in an error, so the transfer is cut short rather than looking whole.
fn file_chunks(
    file: tokio::fs::File,
    temp: TempZip,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    // The body is read after the handler has returned: its log lines still belong to the request.
    let span = tracing::Span::current();
    stream::unfold(Some((file, temp)), move |open| {
        let span = span.clone();
        async move {
            let (mut file, temp) = open?;
            let mut chunk = BytesMut::with_capacity(CHUNK_BYTES);
            match file.read_buf(&mut chunk).await {
                Ok(0) => None,
                Ok(_) => Some((Ok(chunk.freeze()), Some((file, temp)))),
                Err(err) => {
                    span.in_scope(|| {
                        tracing::error!(
                            error = %err,
                            "reading the backup's temporary file failed; its transfer is cut short"
                        );
                    });
                    Some((Err(err), None))
                }
            }
        }
    })
}

/// Everything of the signed-in account in one zip file: `manifest.json` (the format, its
/// version, the account and how many of each thing the file holds), `data.json` (categories,
/// tags, expenses, budgets, recurring expenses, exchange rates, receipts) and each receipt's file
/// as `receipts/<id>.<ext>`. A receipt whose file is missing from storage is listed without it
/// (`file: null`). No password or session is in it.
///
/// The file is made whole before it is sent (so a failure is an error status, never a broken
/// file). As many backups as CSV exports are made at once; past that the answer is 503 `busy`
/// with `Retry-After`.
#[utoipa::path(get, operation_id = "exportBackup", path = "/export.zip", tag = "backup",
    responses((status = 200, description = "The backup, a zip file", content(("application/zip")),
            headers(("content-disposition" = String, description = "attachment; filename=\"ledgerly-backup-YYYY-MM-DD.zip\""))),
        (status = 503, description = "As many exports as the server runs at once are running, or the receipt storage is out of reach", body = crate::error::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")))))]
#[tracing::instrument(skip_all)]
async fn export_backup(State(state): State<AppState>, current: CurrentUser) -> ApiResult<Response> {
    // Held while the file is made, not while it is sent.
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            what: "other exports",
            retry_after: 10,
        })?;
    let user = &current.user;
    let exported_at = Utc::now();
    let (temp, file) = blocking(|| Ok(TempZip::create()?)).await?;
    let (file, length, counts, missing) = write_backup(&state, user, exported_at, file).await?;
    drop(permit);
    tracing::info!(
        expenses = counts.expenses,
        receipts = counts.receipts,
        missing_receipt_files = missing,
        bytes = length,
        "backup made"
    );

    let day = user.time_zone.local_date(exported_at);
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"ledgerly-backup-{day}.zip\""
    ))
    .map_err(ApiError::internal)?;
    let body = Body::from_stream(file_chunks(tokio::fs::File::from_std(file), temp));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        body,
    )
        .into_response())
}

/// Writes `user`'s backup, made at `exported_at`, into `file` (empty, readable and writable):
/// gives it back at its start, with its length, what it holds and how many receipt files were
/// missing from storage. The API's export and the operator's `ledgerly-api backup` share it.
pub(crate) async fn write_backup(
    state: &AppState,
    user: &User,
    exported_at: DateTime<Utc>,
    file: File,
) -> ApiResult<(File, u64, Counts, u64)> {
    let (mut data, objects) = state.store.backup_data(user.id).await?;
    let schema_version = state.store.schema_version().await?;
    let uses_ecb_rates = state.store.uses_ecb_rates(user.id).await?;

    let options =
        SimpleFileOptions::default().last_modified_time(zip_time(exported_at).unwrap_or_default());
    // Images and PDFs are compressed already.
    let stored = options.compression_method(CompressionMethod::Stored);
    let deflated = options.compression_method(CompressionMethod::Deflated);
    let mut archive: Archive = ZipWriter::new(BufWriter::new(file));
    let mut missing = 0_u64;
    for (entry, (id, key)) in data.receipts.iter_mut().zip(objects) {
        if entry.id != id {
            return Err(ApiError::internal(anyhow::anyhow!(
                "the store listed receipt {id}'s object beside receipt {}",
                entry.id
            )));
        }
        let kind = entry
            .kind
            .parse::<ReceiptKind>()
            .map_err(ApiError::internal)?;
        let bytes = match state.storage.get(&key).await {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound(_)) => {
                tracing::warn!(
                    receipt = %id,
                    "a receipt's file is missing from storage; the backup lists the receipt \
                     without it"
                );
                missing += 1;
                continue;
            }
            Err(err) => return Err(storage_error(err)),
        };
        let name = backup::receipt_file(id, kind);
        archive = blocking({
            let name = name.clone();
            move || {
                archive.start_file(name, stored)?;
                archive.write_all(&bytes)?;
                Ok(archive)
            }
        })
        .await?;
        entry.file = Some(name);
    }

    let manifest = Manifest {
        format: backup::FORMAT.to_owned(),
        version: backup::VERSION,
        schema_version,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        exported_at,
        account: Account {
            email: user.email.to_string(),
            name: user.name.to_string(),
            currency: user.currency.code().to_owned(),
            time_zone: user.time_zone.name().to_owned(),
            uses_ecb_rates,
        },
        counts: Counts::of(&data),
    };
    let counts = manifest.counts.clone();
    let (file, length) = blocking(move || {
        archive.start_file(backup::DATA_FILE, deflated)?;
        serde_json::to_writer_pretty(&mut archive, &data)?;
        archive.start_file(backup::MANIFEST_FILE, deflated)?;
        serde_json::to_writer_pretty(&mut archive, &manifest)?;
        let mut file = archive.finish()?.into_inner().map_err(|e| e.into_error())?;
        let length = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        Ok((file, length))
    })
    .await?;
    Ok((file, length, counts, missing))
}
