//! Receipts in S3, against the AWS emulator server that `scripts/test` starts.

use aws_sdk_s3::types::ServerSideEncryption;
use ledgerly_api::settings::StorageBackend;
use ledgerly_store::testing::Backend;
use reqwest::StatusCode;

use crate::helpers::*;

fn endpoint() -> String {
    std::env::var("LEDGERLY_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS emulator")
    })
}

async fn s3_client() -> aws_sdk_s3::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(endpoint())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn spawn_with_bucket(create: bool) -> (TestApp, aws_sdk_s3::Client, String) {
    let s3 = s3_client().await;
    let bucket = format!("ledgerly-test-{}", uuid::Uuid::new_v4().simple());
    if create {
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
    }
    let name = bucket.clone();
    let app = spawn_app_with(Backend::Sqlite, move |s| {
        s.storage.backend = StorageBackend::S3;
        s.storage.bucket = name;
        s.storage.region = "us-east-1".into();
        s.storage.endpoint = endpoint();
        s.storage.presign_seconds = 60;
    })
    .await;
    (app, s3, bucket)
}

#[tokio::test]
async fn an_upload_lands_encrypted_in_the_bucket_is_served_by_a_presigned_url_and_deleted_with_its_receipt()
 {
    let (app, s3, bucket) = spawn_with_bucket(true).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let bytes = png("in the bucket");
    let receipt = expect(
        app.upload(t, bytes.clone(), "IMG 1.PNG", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = receipt["id"].as_str().unwrap();
    let key = format!("receipts/{}/{id}.png", priya.user["id"].as_str().unwrap());
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );

    // The image route answers with a short-lived presigned URL, which works over plain HTTP.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(app.url(&format!("/api/v1/receipts/{id}/image")))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&endpoint()), "{location}");
    assert!(
        location.contains("X-Amz-Expires=60") && location.contains("X-Amz-Signature="),
        "{location}"
    );
    // Pages let images come from that URL's origin (the bucket's own) and no other.
    let origin = location.split('/').take(3).collect::<Vec<_>>().join("/");
    let page = app.client.get(app.url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("img-src 'self' data: {origin};")),
        "{csp} does not allow {origin}"
    );
    let fetched = reqwest::get(&location).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
    // Without the signature the object is not readable.
    let unsigned = reqwest::get(format!("{}/{bucket}/{key}", endpoint()))
        .await
        .unwrap();
    assert_eq!(
        unsigned.status(),
        StatusCode::FORBIDDEN,
        "the bucket must not be public"
    );

    let ready = expect(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready["storage"], "ok");

    expect(
        app.delete(&format!("/api/v1/receipts/{id}"), t).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let gone = s3.head_object().bucket(&bucket).key(&key).send().await;
    assert!(gone.is_err(), "the object goes with the receipt");
    app.stop().await;
}

#[tokio::test]
async fn a_missing_bucket_makes_the_app_not_ready() {
    let (app, _s3, _bucket) = spawn_with_bucket(false).await;
    let ready = expect(
        app.client.get(app.url("/readyz")).send().await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        (ready["database"].as_str(), ready["storage"].as_str()),
        (Some("ok"), Some("unreachable"))
    );
    app.stop().await;
}

/// An object store that cannot be reached makes an upload 503 with `Retry-After`, and leaves no
/// receipt behind.
#[tokio::test]
async fn an_unreachable_store_makes_uploads_503_and_leaves_nothing() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = spawn_app_with(Backend::Sqlite, move |s| {
        s.storage.backend = StorageBackend::S3;
        s.storage.bucket = "nowhere".into();
        s.storage.region = "us-east-1".into();
        s.storage.endpoint = closed;
    })
    .await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let response = app.upload(t, png("unreachable"), "scan.png", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    let body = response.json::<serde_json::Value>().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the receipt storage"),
        "{body}"
    );
    let receipts = expect(app.get("/api/v1/receipts", t).await, StatusCode::OK).await;
    assert_eq!(receipts["total"], 0, "{receipts}");
    app.stop().await;
}
