//! Restoring a backup made by `GET /export.zip`: `POST /imports` takes the zip (it is told from a
//! CSV file by its first bytes), written to a private temporary file as it arrives, so a backup
//! with its receipts never sits in memory whole. The manifest is checked, each receipt file is
//! checked against its size and SHA-256 and put in storage under a new key, then the store
//! restores everything in one transaction (`Store::restore_backup`): into an empty account it
//! recreates it; into one with data it merges, skipping duplicates. If the restore fails, the
//! files put in storage are deleted again.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use ledgerly_core::backup::{self, Data, Manifest};
use ledgerly_core::{ReceiptId, ReceiptKind, User};
use ledgerly_store::objects::receipt_key;
use ledgerly_store::{RestoreOutcome, RestoredFile};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The largest backup `POST /imports` takes.
pub(crate) const MAX_BACKUP_BYTES: usize = 512 * 1024 * 1024;

/// The most `data.json` may hold once unpacked.
const MAX_DATA_BYTES: u64 = 256 * 1024 * 1024;

/// What a zip file starts with.
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// A file written while it was uploaded, deleted when dropped.
#[derive(Debug)]
pub(crate) struct UploadedZip {
    pub(crate) path: PathBuf,
}

impl UploadedZip {
    /// A new, empty file in the system's temporary folder, readable by this user alone.
    pub(crate) fn create() -> std::io::Result<(UploadedZip, std::fs::File)> {
        let path =
            std::env::temp_dir().join(format!("ledgerly-restore-{}.zip", Uuid::new_v4().simple()));
        let file = crate::instance::create_private(&path)?;
        Ok((UploadedZip { path }, file))
    }
}

impl Drop for UploadedZip {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.path)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %err, "could not delete an uploaded backup's temporary file");
        }
    }
}

/// What a restore did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RestoreView {
    /// Always `backup`: what the uploaded file was.
    #[schema(example = "backup")]
    pub(crate) kind: &'static str,
    /// When the backup was made, and from which account.
    pub(crate) exported_at: chrono::DateTime<chrono::Utc>,
    pub(crate) from_account: String,
    pub(crate) categories_created: u64,
    pub(crate) expenses_created: u64,
    /// Expenses the account already had (the same day, amount, currency and vendor).
    pub(crate) duplicates_skipped: u64,
    pub(crate) receipts_created: u64,
    /// Receipts listed without their file (missing from storage when the backup was made).
    pub(crate) receipts_without_file: u64,
    pub(crate) recurring_created: u64,
    pub(crate) budgets_created: u64,
    pub(crate) category_budgets_created: u64,
    pub(crate) rates_created: u64,
}

fn unfit(message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(
        "file",
        format!("this is not a backup Ledgerly can restore: {message}"),
    )
}

/// Reads `name` from the zip, at most `limit` bytes once unpacked.
fn entry(
    archive: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ApiError> {
    let file = archive
        .by_name(name)
        .map_err(|_| unfit(format!("it has no `{name}`")))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unfit(format!("`{name}` cannot be read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(unfit(format!("`{name}` is larger than a backup's can be")));
    }
    Ok(bytes)
}

/// Restores the backup in `upload` into `user`'s account.
pub(crate) async fn restore(
    state: &AppState,
    user: &User,
    upload: UploadedZip,
) -> ApiResult<RestoreView> {
    let path = upload.path.clone();
    let max_receipt = state.settings.storage.max_upload_bytes.get() as u64;
    // The manifest and data, checked, on the blocking pool.
    let (manifest, data, archive) = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(ApiError::internal)?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| unfit(format!("the zip cannot be read ({e})")))?;
        let manifest: Manifest =
            serde_json::from_slice(&entry(&mut archive, backup::MANIFEST_FILE, 1024 * 1024)?)
                .map_err(|e| unfit(format!("`manifest.json` does not fit: {e}")))?;
        if manifest.format != backup::FORMAT {
            return Err(unfit(format!("its format is `{}`", manifest.format)));
        }
        if manifest.version > backup::VERSION {
            return Err(unfit(format!(
                "it is format version {}, made by a newer Ledgerly (this one reads up to {}); \
                 upgrade first",
                manifest.version,
                backup::VERSION
            )));
        }
        let data: Data =
            serde_json::from_slice(&entry(&mut archive, backup::DATA_FILE, MAX_DATA_BYTES)?)
                .map_err(|e| unfit(format!("`data.json` does not fit: {e}")))?;
        Ok::<_, ApiError>((manifest, data, archive))
    })
    .await
    .map_err(ApiError::internal)??;

    // Each receipt file, checked, put in storage under a new key.
    let archive = std::sync::Arc::new(std::sync::Mutex::new(archive));
    let mut files: HashMap<Uuid, RestoredFile> = HashMap::new();
    let mut put: Vec<String> = Vec::new();
    let mut without_file = 0;
    let result = async {
        for receipt in &data.receipts {
            let Some(name) = receipt.file.clone() else {
                without_file += 1;
                continue;
            };
            let kind: ReceiptKind = receipt.kind.parse().map_err(|_| {
                unfit(format!(
                    "receipt {} has kind `{}`",
                    receipt.id, receipt.kind
                ))
            })?;
            if receipt.size_bytes > max_receipt {
                return Err(unfit(format!(
                    "receipt {} is larger than uploads may be",
                    receipt.id
                )));
            }
            let archive = archive.clone();
            let limit = receipt.size_bytes;
            let bytes = tokio::task::spawn_blocking(move || {
                let mut archive = archive.lock().map_err(|_| {
                    ApiError::internal(anyhow::anyhow!("a restore's zip lock was poisoned"))
                })?;
                entry(&mut archive, &name, limit)
            })
            .await
            .map_err(ApiError::internal)??;
            let digest = format!("{:x}", Sha256::digest(&bytes));
            if bytes.len() as u64 != receipt.size_bytes || digest != receipt.sha256 {
                return Err(unfit(format!(
                    "receipt {}'s file does not match its size and SHA-256: the backup is damaged",
                    receipt.id
                )));
            }
            // The very file the account has already: linked, not stored again.
            if let Some(same) = state
                .store
                .find_receipts_by_sha256(user.id, &digest)
                .await?
                .into_iter()
                .next()
            {
                files.insert(
                    receipt.id,
                    RestoredFile {
                        id: same.id,
                        object_key: same.object_key,
                        existing: true,
                    },
                );
                continue;
            }
            let id = ReceiptId::new();
            let key = receipt_key(user.id, id, kind);
            state
                .storage
                .put(&key, Bytes::from(bytes), kind.mime_type())
                .await
                .map_err(|e| match e {
                    ledgerly_store::objects::StorageError::Unavailable(_) => {
                        ApiError::Unavailable("the receipt storage")
                    }
                    other => ApiError::internal(other),
                })?;
            put.push(key.clone());
            files.insert(
                receipt.id,
                RestoredFile {
                    id,
                    object_key: key,
                    existing: false,
                },
            );
        }
        Ok::<_, ApiError>(state.store.restore_backup(user.id, &data, &files).await?)
    }
    .await;
    let outcome: RestoreOutcome = match result {
        Ok(outcome) => outcome,
        Err(err) => {
            // Nothing of it is recorded: the files put in storage go too.
            for key in put {
                if let Err(e) = state.storage.delete(&key).await {
                    tracing::warn!(error = %e, key, "could not delete a file of a failed restore");
                }
            }
            return Err(err);
        }
    };
    if manifest.account.uses_ecb_rates {
        state.store.set_uses_ecb_rates(user.id, true).await?;
    }
    Ok(RestoreView {
        kind: "backup",
        exported_at: manifest.exported_at,
        from_account: manifest.account.email,
        categories_created: outcome.categories_created,
        expenses_created: outcome.expenses_created,
        duplicates_skipped: outcome.duplicates_skipped,
        receipts_created: outcome.receipts_created,
        receipts_without_file: without_file,
        recurring_created: outcome.recurring_created,
        budgets_created: outcome.budgets_created,
        category_budgets_created: outcome.category_budgets_created,
        rates_created: outcome.rates_created,
    })
}
