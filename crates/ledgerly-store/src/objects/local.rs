//! Receipts in a local folder. Files are written to a temporary name and renamed into place, so
//! a crash never leaves half a file under a receipt's key.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{StorageError, StorageResult};

#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: &Path) -> StorageResult<Self> {
        std::fs::create_dir_all(root).map_err(|e| {
            StorageError::Config(format!(
                "storage.path: cannot create {}: {e}",
                root.display()
            ))
        })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub(super) async fn put(&self, key: &str, bytes: &[u8]) -> StorageResult<()> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let temporary = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&temporary, bytes).await?;
        if let Err(err) = tokio::fs::rename(&temporary, &path).await {
            tokio::fs::remove_file(&temporary).await.ok();
            return Err(err.into());
        }
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> StorageResult<Bytes> {
        match tokio::fs::read(self.path(key)).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn delete(&self, key: &str) -> StorageResult<()> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn check(&self) -> StorageResult<()> {
        let probe = self
            .root
            .join(format!(".ready-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }
}
