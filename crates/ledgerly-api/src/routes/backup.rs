//! The backup: every piece of the signed-in user's data in one zip file, to take elsewhere or to
//! restore. The format is `ledgerly_core::backup`: `manifest.json`, `data.json` and the receipt
//! files as `receipts/<id>.<ext>`.
//!
//! The zip is made as it is sent. The rows are read in one transaction before the answer starts
//! (a failure there is an error status). A task then fetches the receipt files from storage one
//! at a time; each is written as a zip entry (on the blocking pool) and sent before the next is
//! fetched, so the server holds one receipt at a time however many there are and the client's
//! first bytes come after the first receipt, not after the last. `data.json`, `manifest.json` and
//! the zip's directory come last. The entries carry data descriptors (their sizes follow their
//! bytes), as a zip written without seeking must; every unzip tool reads them.
//!
//! Should anything fail after the first bytes, the transfer is cut short (no last chunk), so a
//! broken backup never looks whole; a client that stops reading for a minute has its transfer
//! cut short too.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use futures_util::{StreamExt, stream};
use ledgerly_core::backup::{self, Account, Counts, Data, Manifest};
use ledgerly_core::{ReceiptKind, User};
use ledgerly_store::objects::StorageError;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use crate::error::{ApiError, ApiResult};
use crate::extract::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_backup))
}

/// How long a piece waits for a client that takes nothing before the transfer is given up.
const READER_STALL: Duration = Duration::from_secs(60);

/// What the zip writer writes into: the bytes made since they were last taken. The writer runs
/// on the blocking pool and the bytes are sent from the async side, between the writer's steps.
#[derive(Debug, Clone, Default)]
struct Pipe(Arc<Mutex<Vec<u8>>>);

impl Pipe {
    /// The bytes written since the last take.
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(
            &mut *self.0.lock().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type Archive = ZipWriter<StreamWriter<Pipe>>;

/// Where a backup's bytes go.
#[derive(Debug)]
pub(crate) enum Sink {
    /// A response body, piece by piece. A failure is sent down it too: before the first piece it
    /// becomes the answer's status, after it the transfer is cut short.
    Body(mpsc::Sender<ApiResult<Bytes>>),
    /// A file (the operator's backup of the whole instance).
    File(tokio::fs::File),
}

impl Sink {
    async fn put(&mut self, bytes: Bytes) -> ApiResult<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Body(body) => {
                match tokio::time::timeout(READER_STALL, body.send(Ok(bytes))).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(ApiError::internal(anyhow::anyhow!(
                        "the client went away before the backup was whole"
                    ))),
                    Err(_) => Err(ApiError::internal(anyhow::anyhow!(
                        "the client took nothing for {} seconds",
                        READER_STALL.as_secs()
                    ))),
                }
            }
            Sink::File(file) => file.write_all(&bytes).await.map_err(ApiError::internal),
        }
    }

    async fn finish(&mut self) -> ApiResult<()> {
        match self {
            Sink::Body(_) => Ok(()),
            Sink::File(file) => file.flush().await.map_err(ApiError::internal),
        }
    }
}

/// Runs `work` on the blocking pool: compression stays off the async workers.
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

/// A backup's rows, read in one snapshot before any byte of it is written.
#[derive(Debug)]
pub(crate) struct Contents {
    exported_at: DateTime<Utc>,
    data: Data,
    /// Each receipt's id and storage key, in `data.receipts`' order.
    objects: Vec<(Uuid, String)>,
    schema_version: i64,
    uses_ecb_rates: bool,
}

/// What a backup held, once written.
#[derive(Debug)]
pub(crate) struct Written {
    pub bytes: u64,
    pub counts: Counts,
    /// Receipts listed without their file, which storage no longer had.
    pub missing: u64,
}

/// Reads `user`'s rows for a backup made at `exported_at`.
pub(crate) async fn read_contents(
    state: &AppState,
    user: &User,
    exported_at: DateTime<Utc>,
) -> ApiResult<Contents> {
    let (data, objects) = state.store.backup_data(user.id).await?;
    Ok(Contents {
        exported_at,
        data,
        objects,
        schema_version: state.store.schema_version().await?,
        uses_ecb_rates: state.store.uses_ecb_rates(user.id).await?,
    })
}

/// Writes `user`'s backup of `contents` into `sink`, each receipt's file fetched from storage and
/// sent before the next. The API's export and the operator's `ledgerly-api backup` share it.
pub(crate) async fn write_backup(
    state: &AppState,
    user: &User,
    contents: Contents,
    sink: &mut Sink,
) -> ApiResult<Written> {
    let Contents {
        exported_at,
        mut data,
        objects,
        schema_version,
        uses_ecb_rates,
    } = contents;
    let options =
        SimpleFileOptions::default().last_modified_time(zip_time(exported_at).unwrap_or_default());
    // Images and PDFs are compressed already.
    let stored = options.compression_method(CompressionMethod::Stored);
    let deflated = options.compression_method(CompressionMethod::Deflated);
    let pipe = Pipe::default();
    let mut archive: Archive = ZipWriter::new_stream(pipe.clone());
    let mut written = 0_u64;
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
        let piece = pipe.take();
        written += piece.len() as u64;
        sink.put(piece).await?;
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
    blocking(move || {
        archive.start_file(backup::DATA_FILE, deflated)?;
        serde_json::to_writer_pretty(&mut archive, &data)?;
        archive.start_file(backup::MANIFEST_FILE, deflated)?;
        serde_json::to_writer_pretty(&mut archive, &manifest)?;
        archive.finish()?;
        Ok(())
    })
    .await?;
    let piece = pipe.take();
    written += piece.len() as u64;
    sink.put(piece).await?;
    sink.finish().await?;
    Ok(Written {
        bytes: written,
        counts,
        missing,
    })
}

/// Everything of the signed-in account in one zip file: `manifest.json` (the format, its
/// version, the account and how many of each thing the file holds), `data.json` (categories,
/// tags, expenses, budgets, recurring expenses, exchange rates, receipts) and each receipt's file
/// as `receipts/<id>.<ext>`. A receipt whose file is missing from storage is listed without it
/// (`file: null`). No password or session is in it.
///
/// The file is streamed as it is made (no `Content-Length`): its first bytes follow the first
/// receipt's. A failure before them is an error status; one after them cuts the transfer short,
/// so an incomplete file never looks whole. As many backups as CSV exports are made at once;
/// past that the answer is 503 `busy` with `Retry-After`.
#[utoipa::path(get, operation_id = "exportBackup", path = "/export.zip", tag = "backup",
    responses((status = 200, description = "The backup, a zip file", content(("application/zip")),
            headers(("content-disposition" = String, description = "attachment; filename=\"ledgerly-backup-YYYY-MM-DD.zip\""))),
        (status = 503, description = "As many exports as the server runs at once are running, or the receipt storage is out of reach", body = crate::error::ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait")))))]
#[tracing::instrument(skip_all)]
async fn export_backup(State(state): State<AppState>, current: CurrentUser) -> ApiResult<Response> {
    // Held until the whole file has been sent, or given up.
    let permit = state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy {
            what: "other exports",
            retry_after: 10,
        })?;
    let user = current.user;
    let exported_at = Utc::now();
    let day = user.time_zone.local_date(exported_at);
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"ledgerly-backup-{day}.zip\""
    ))
    .map_err(ApiError::internal)?;
    let contents = read_contents(&state, &user, exported_at).await?;

    // Two pieces in flight at most: the server keeps at most a receipt or two ahead of the client.
    let (sender, mut pieces) = mpsc::channel(2);
    tokio::spawn(
        async move {
            let mut sink = Sink::Body(sender.clone());
            let outcome = write_backup(&state, &user, contents, &mut sink).await;
            drop(sink);
            // Given back before the body ends (the last sender dropped below): a client that
            // asks again as soon as it has the whole file must not find the slot still taken.
            drop(permit);
            match outcome {
                Ok(written) => tracing::info!(
                    expenses = written.counts.expenses,
                    receipts = written.counts.receipts,
                    missing_receipt_files = written.missing,
                    bytes = written.bytes,
                    "backup sent"
                ),
                Err(err) if sender.is_closed() => {
                    tracing::info!(error = %err, "the backup was given up: its client went away");
                }
                // Down the body: the answer's status if nothing was sent yet, else a cut.
                Err(err) => {
                    sender.send(Err(err)).await.ok();
                }
            }
        }
        .instrument(tracing::Span::current()),
    );

    let first = match pieces.recv().await {
        Some(Ok(first)) => first,
        Some(Err(err)) => return Err(err),
        None => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "the backup ended before its first byte"
            )));
        }
    };
    // The body is read after the handler has returned: its log lines still belong to the request.
    let span = tracing::Span::current();
    let rest = stream::unfold(pieces, |mut pieces| async move {
        pieces.recv().await.map(|piece| (piece, pieces))
    });
    let body = stream::once(async move { Ok(first) })
        .chain(rest)
        .map(move |piece| {
            piece.map_err(|err| {
                span.in_scope(|| {
                    tracing::error!(
                        error = %err,
                        "the backup failed after its first bytes; its transfer is cut short"
                    );
                });
                std::io::Error::other("the backup failed part way; the file is incomplete")
            })
        });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
