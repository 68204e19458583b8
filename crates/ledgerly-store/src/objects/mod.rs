//! Receipt files, kept privately under keys the server chooses: in a local folder (the default
//! for `ledgerctl up`) or an S3 bucket. Never public: the API serves a local file only to its
//! owner, and an S3 object only through a short-lived presigned URL. The API writes and serves
//! them; the OCR worker reads them.

mod local;
mod s3;

use std::time::Duration;

use bytes::Bytes;
use ledgerly_core::{ReceiptId, ReceiptKind, UserId};

pub use local::LocalStorage;
pub use s3::S3Storage;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no object at `{0}`")]
    NotFound(String),
    #[error("`{0}` is not a key this server makes")]
    InvalidKey(String),
    #[error("{0}")]
    Config(String),
    #[error("local storage: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3: {0}")]
    S3(String),
    /// The storage could not be reached, or answered that it is overloaded: likely to pass in a
    /// moment.
    #[error("S3 unreachable: {0}")]
    Unavailable(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// How a client gets to see an image.
#[derive(Debug)]
pub enum ImageAccess {
    /// The bytes, served by the API to the signed-in owner.
    Bytes(Bytes),
    /// A presigned URL that works for a few minutes.
    Redirect(String),
}

/// The object storage, one of two backends.
#[derive(Debug, Clone)]
pub enum Storage {
    Local(LocalStorage),
    S3(S3Storage),
}

/// The key a receipt's file is stored under: `receipts/<user>/<receipt>.<ext>`. The client's
/// file name plays no part in it.
pub fn receipt_key(user: UserId, receipt: ReceiptId, kind: ReceiptKind) -> String {
    format!("receipts/{user}/{receipt}.{}", kind.extension())
}

/// The owner and receipt a key made by [`receipt_key`] names; `None` for any other key.
pub fn parse_receipt_key(key: &str) -> Option<(UserId, ReceiptId)> {
    check_key(key).ok()?;
    let mut parts = key.split('/').skip(1);
    let user = parts.next()?.parse::<uuid::Uuid>().ok()?;
    let receipt = parts
        .next()?
        .split_once('.')?
        .0
        .parse::<uuid::Uuid>()
        .ok()?;
    Some((UserId::from_uuid(user), ReceiptId::from_uuid(receipt)))
}

/// Refuses any key this server would not have made, so no key can reach outside the store.
pub(crate) fn check_key(key: &str) -> StorageResult<()> {
    let parts: Vec<&str> = key.split('/').collect();
    let ok = parts.len() == 3
        && parts[0] == "receipts"
        && parts[1].parse::<uuid::Uuid>().is_ok()
        && parts[2].split_once('.').is_some_and(|(id, ext)| {
            id.parse::<uuid::Uuid>().is_ok()
                && !ext.is_empty()
                && ext.chars().all(|c| c.is_ascii_lowercase())
        });
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidKey(key.to_owned()))
    }
}

/// Where receipt files are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A folder on this machine (`path`).
    #[default]
    Local,
    /// An S3 bucket (`bucket`, `region`, `endpoint`).
    S3,
}

/// Where and how to reach the receipt files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLocation {
    pub backend: StorageBackend,
    /// The folder for `local`.
    pub path: std::path::PathBuf,
    /// The bucket for `s3`.
    pub bucket: String,
    /// The bucket's region; empty uses the AWS configuration's.
    pub region: String,
    /// An S3-compatible endpoint (the AWS emulator, MinIO); empty for AWS itself.
    pub endpoint: String,
}

/// The metadata key of a receipt object naming its owner's currency, so a reader without the
/// database (the OCR Lambda) reads amounts printed without a symbol in it.
pub const OWNER_CURRENCY: &str = "owner-currency";

impl Storage {
    pub async fn open(settings: &StorageLocation) -> StorageResult<Storage> {
        Ok(match settings.backend {
            StorageBackend::Local => Storage::Local(LocalStorage::new(&settings.path)?),
            StorageBackend::S3 => Storage::S3(S3Storage::new(settings).await?),
        })
    }

    /// Where a browser fetches receipt images from besides the API: the bucket's origin, for S3
    /// storage (the images are shown through presigned URLs); none for local storage.
    pub fn image_origin(&self) -> Option<&str> {
        match self {
            Storage::Local(_) => None,
            Storage::S3(s3) => Some(s3.origin()),
        }
    }

    /// The bucket, for S3 storage.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Storage::Local(_) => None,
            Storage::S3(s3) => Some(s3.bucket()),
        }
    }

    pub async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> StorageResult<()> {
        self.put_with_metadata(key, bytes, content_type, &[]).await
    }

    /// Stores an object with user metadata (`x-amz-meta-*` on S3, where the OCR Lambda reads
    /// it; a local folder keeps none — its reader has the database).
    pub async fn put_with_metadata(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> StorageResult<()> {
        check_key(key)?;
        match self {
            Storage::Local(local) => local.put(key, &bytes).await,
            Storage::S3(s3) => s3.put(key, bytes, content_type, metadata).await,
        }
    }

    pub async fn get(&self, key: &str) -> StorageResult<Bytes> {
        self.get_with_metadata(key).await.map(|(bytes, _)| bytes)
    }

    /// An object and its user metadata (none for a local folder).
    pub async fn get_with_metadata(
        &self,
        key: &str,
    ) -> StorageResult<(Bytes, std::collections::HashMap<String, String>)> {
        check_key(key)?;
        match self {
            Storage::Local(local) => local.get(key).await.map(|b| (b, Default::default())),
            Storage::S3(s3) => s3.get(key).await,
        }
    }

    /// Deletes an object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> StorageResult<()> {
        check_key(key)?;
        match self {
            Storage::Local(local) => local.delete(key).await,
            Storage::S3(s3) => s3.delete(key).await,
        }
    }

    /// How the owner gets the image: the bytes (local), or a presigned URL valid for `ttl` (S3).
    pub async fn image_access(
        &self,
        key: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StorageResult<ImageAccess> {
        check_key(key)?;
        match self {
            Storage::Local(local) => local.get(key).await.map(ImageAccess::Bytes),
            Storage::S3(s3) => s3
                .presigned_get(key, content_type, ttl)
                .await
                .map(ImageAccess::Redirect),
        }
    }

    /// Checks the storage can be reached and written: for readiness.
    pub async fn check(&self) -> StorageResult<()> {
        match self {
            Storage::Local(local) => local.check().await,
            Storage::S3(s3) => s3.check().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_made_keys_pass() {
        let key = receipt_key(UserId::new(), ReceiptId::new(), ReceiptKind::Png);
        assert!(check_key(&key).is_ok());
        for bad in [
            "receipts/../../etc/passwd",
            "/etc/passwd",
            "receipts/x/y.jpg",
            &key.replace(".png", ".PNG"),
            &format!("{key}/.."),
            "",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
