//! Receipts in an S3 bucket (or anything that speaks S3: the AWS emulator in tests, MinIO).
//! Objects are written with server-side encryption and no ACL; reads by people go through
//! presigned URLs that expire in minutes.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
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
    origin: String,
}

/// The error's message with its whole source chain: the SDK's own Display is terse.
fn chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// An S3 call's failure: [`StorageError::Unavailable`] when the storage could not be reached in
/// time or answered 5xx (overloaded, restarting), [`StorageError::S3`] otherwise.
fn s3_error<E>(err: SdkError<E, HttpResponse>) -> StorageError
where
    E: std::error::Error + 'static,
{
    let unreachable = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service.raw().status().is_server_error(),
        _ => false,
    };
    let message = chain(&err);
    if unreachable {
        StorageError::Unavailable(message)
    } else {
        StorageError::S3(message)
    }
}

/// The origin the SDK addresses `settings`' bucket at: resolved by its own endpoint rules (a
/// bucket named with dots, for one, is addressed by path), offline.
async fn bucket_origin(
    settings: &StorageLocation,
    shared: &aws_config::SdkConfig,
) -> StorageResult<String> {
    use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint as _};
    let region = shared.region().ok_or_else(|| {
        StorageError::Config(
            "the bucket's region is unknown: set storage.region (or AWS_REGION)".into(),
        )
    })?;
    let mut params = Params::builder()
        .bucket(&settings.bucket)
        .region(region.as_ref())
        .use_fips(shared.use_fips().unwrap_or(false))
        .use_dual_stack(shared.use_dual_stack().unwrap_or(false));
    if !settings.endpoint.is_empty() {
        params = params.endpoint(&settings.endpoint).force_path_style(true);
    }
    let params = params
        .build()
        .map_err(|e| StorageError::Config(format!("the bucket's address: {e}")))?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .map_err(|e| {
            StorageError::Config(format!(
                "the bucket `{}` has no address in region {region}: {e}",
                settings.bucket
            ))
        })?;
    origin_of(endpoint.url()).ok_or_else(|| {
        StorageError::Config(format!(
            "the bucket's address `{}` is not a URL",
            endpoint.url()
        ))
    })
}

/// `scheme://host[:port]` of `url`.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    // Credentials in a URL are never part of an origin.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (!scheme.is_empty() && !host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// How long S3 gets. A receipt (10 MB at most) moves in well under a second between AWS
/// services; a store that does not answer fails the request in seconds, with a reason, instead of
/// holding it (and its connection) until the request times out.
fn timeouts() -> aws_sdk_s3::config::timeout::TimeoutConfig {
    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(10))
        .build()
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
        let mut config = aws_sdk_s3::config::Builder::from(&shared).timeout_config(timeouts());
        if !settings.endpoint.is_empty() {
            // Emulators and MinIO serve buckets by path, not by host name.
            config = config
                .endpoint_url(&settings.endpoint)
                .force_path_style(true);
        }
        let origin = bucket_origin(settings, &shared).await?;
        Ok(Self {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            origin,
        })
    }

    /// The origin (`https://host[:port]`) of the bucket's URLs, presigned ones among them: the
    /// one place a browser fetches receipt images from besides the API.
    pub fn origin(&self) -> &str {
        &self.origin
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
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Unavailable(chain(&e)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn location(bucket: &str, region: &str, endpoint: &str) -> StorageLocation {
        StorageLocation {
            backend: super::super::StorageBackend::S3,
            path: std::path::PathBuf::new(),
            bucket: bucket.into(),
            region: region.into(),
            endpoint: endpoint.into(),
        }
    }

    #[tokio::test]
    async fn the_origin_is_the_buckets_own() {
        let origin = |bucket: &'static str, region: &'static str, endpoint: &'static str| async move {
            S3Storage::new(&location(bucket, region, endpoint))
                .await
                .unwrap()
                .origin()
                .to_owned()
        };
        assert_eq!(
            origin("ledgerly-receipts", "eu-west-1", "").await,
            "https://ledgerly-receipts.s3.eu-west-1.amazonaws.com"
        );
        // A bucket named with dots cannot be a host name under the wildcard certificate.
        assert_eq!(
            origin("receipts.example.com", "eu-west-1", "").await,
            "https://s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            origin("r", "us-east-1", "http://127.0.0.1:5000/").await,
            "http://127.0.0.1:5000"
        );
    }

    #[test]
    fn origins_leave_out_paths_and_credentials() {
        assert_eq!(
            origin_of("https://user:pw@b.s3.amazonaws.com:8443/key?x=1").as_deref(),
            Some("https://b.s3.amazonaws.com:8443")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
