//! Receipts in an S3 bucket (or anything that speaks S3: the AWS emulator in tests, MinIO).
//! Objects are written with server-side encryption and no ACL; reads by people go through
//! presigned URLs that expire in minutes.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use bytes::Bytes;

use super::StorageLocation;
use super::{StorageError, StorageResult};

#[derive(Debug, Clone)]
pub struct S3Storage {
    client: Client,
    bucket: String,
}

fn s3_error(err: impl std::error::Error) -> StorageError {
    // The SDK's Display is terse; the source chain says what happened.
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    StorageError::S3(message)
}

impl S3Storage {
    pub async fn new(settings: &StorageLocation) -> StorageResult<Self> {
        if settings.bucket.trim().is_empty() {
            return Err(StorageError::Config(
                "a bucket is required for S3 storage (storage.bucket)".into(),
            ));
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if !settings.region.is_empty() {
            loader = loader.region(aws_config::Region::new(settings.region.clone()));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if !settings.endpoint.is_empty() {
            // Emulators and MinIO serve buckets by path, not by host name.
            config = config
                .endpoint_url(&settings.endpoint)
                .force_path_style(true);
        }
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(super) async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> StorageResult<()> {
        let metadata = (!metadata.is_empty()).then(|| {
            metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        });
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(content_type)
            .set_metadata(metadata)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    pub(super) async fn get(
        &self,
        key: &str,
    ) -> StorageResult<(Bytes, std::collections::HashMap<String, String>)> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_no_such_key() => StorageError::NotFound(key.to_owned()),
                _ => s3_error(e),
            })?;
        let metadata = output.metadata.clone().unwrap_or_default();
        let body = output.body.collect().await.map_err(s3_error)?;
        Ok((body.into_bytes(), metadata))
    }

    pub(super) async fn delete(&self, key: &str) -> StorageResult<()> {
        // S3 answers a delete of a missing key with success.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    pub(super) async fn presigned_get(
        &self,
        key: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        let presigning = PresigningConfig::expires_in(ttl)
            .map_err(|e| StorageError::Config(format!("storage.presign_seconds: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_content_disposition("inline")
            .presigned(presigning)
            .await
            .map_err(s3_error)?;
        Ok(request.uri().to_owned())
    }

    pub(super) async fn check(&self) -> StorageResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }
}
