//! The Lambda handler, reading with the default engine (PP-OCR), with real S3 event JSON against the AWS emulator's S3, posting signed
//! results to a real running API: several records, keys with spaces and unicode, a bad record
//! among good ones, the secret from SSM, and a retry when the API cannot be reached.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use ledgerly_api::testing::{ApiClient, RunningApi};
use ledgerly_core::Currency;
use ledgerly_ocr::backends::paddle::{Paddle, PaddleOptions};
use ledgerly_ocr::lambda::{Handler, LambdaConfig, RecordOutcome};
use ledgerly_ocr::paddle::models;
use ledgerly_ocr::synth::{self, Fonts};
use ledgerly_store::objects::{StorageBackend, StorageLocation};
use ledgerly_store::testing::{Backend, TestDatabase};
use serde_json::{Value, json};

/// The default engine, from the pinned models (installed on first use).
async fn paddle() -> Paddle {
    let dir = std::env::var_os("LEDGERLY_TEST_MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(models::default_dir);
    Paddle::installed(PaddleOptions {
        models_dir: dir,
        ..PaddleOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("installing the OCR models for the tests: {e}"))
}

const SECRET: &str = "a-shared-secret-of-at-least-32-characters";

fn endpoint() -> String {
    std::env::var("LEDGERLY_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS emulator")
    })
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .load()
        .await
}

async fn s3() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&aws().await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// An S3 `ObjectCreated:Put` event as S3 sends it: keys URL-encoded, `+` for spaces.
fn event(records: &[(&str, &str)]) -> S3Event {
    let records: Vec<Value> = records
        .iter()
        .map(|(bucket, key)| {
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-20T09:30:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": { "principalId": "AWS:AIDAEXAMPLE" },
                "requestParameters": { "sourceIPAddress": "203.0.113.7" },
                "responseElements": { "x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8" },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ledgerly-ocr",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": { "principalId": "A3NL1KOZZKExample" },
                        "arn": format!("arn:aws:s3:::{bucket}")
                    },
                    "object": { "key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5" }
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

struct Stack {
    db: TestDatabase,
    api: RunningApi,
    bucket: String,
    s3: aws_sdk_s3::Client,
    user: ApiClient,
}

impl Stack {
    async fn new() -> Stack {
        let s3 = s3().await;
        let bucket = format!("ledgerly-lambda-{}", uuid::Uuid::new_v4().simple());
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let db = TestDatabase::new(Backend::Postgres).await;
        let mut settings = ledgerly_api::Settings::default();
        settings.database.url = db.url().to_owned().into();
        settings.storage.backend = StorageBackend::S3;
        settings.storage.bucket = bucket.clone();
        settings.storage.region = "us-east-1".into();
        settings.storage.endpoint = endpoint();
        settings.ocr.dispatch = ledgerly_api::settings::OcrDispatch::S3Events;
        settings.ocr.callback_secret = SECRET.into();
        let api = RunningApi::start(settings).await;
        let user = ApiClient::register(&api.url, "lambda@example.com", "GBP").await;
        Stack {
            db,
            api,
            bucket,
            s3,
            user,
        }
    }

    fn config(&self, api_url: &str) -> LambdaConfig {
        LambdaConfig {
            api_url: api_url.to_owned(),
            callback_secret: SECRET.into(),
            storage: StorageLocation {
                backend: StorageBackend::S3,
                path: Default::default(),
                bucket: self.bucket.clone(),
                region: "us-east-1".into(),
                endpoint: endpoint(),
            },
            default_currency: Currency::GBP,
        }
    }

    async fn handler(&self, api_url: &str) -> Handler {
        Handler::new(self.config(api_url), Arc::new(paddle().await))
            .await
            .unwrap()
    }

    /// Uploads through the API (which stores the file in the bucket); the receipt's id and key.
    async fn upload(&self, image: Vec<u8>) -> (String, String) {
        let receipt = self.user.upload(image).await;
        assert_eq!(receipt["status"], "pending", "{receipt}");
        let id = receipt["id"].as_str().unwrap().to_owned();
        let key = format!("receipts/{}/{id}.png", self.user.user_id);
        (id, key)
    }

    async fn finish(self) {
        self.api.stop().await;
        self.db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amount_without_a_currency_is_read_in_the_owners_currency() {
    let stack = Stack::new().await;
    // An owner in rupees, while the function's default is pounds.
    let owner = ApiClient::register(&stack.api.url, "rupees@example.com", "INR").await;
    let fonts = Fonts::load().unwrap();
    let image = synth::plain(
        &fonts,
        &[
            "CHAI POINT",
            "Date: 20/11/2026",
            "Masala Chai    2    120.00",
            "TOTAL          120.00",
        ],
    );
    let receipt = owner.upload(image).await;
    let id = receipt["id"].as_str().unwrap().to_owned();
    let key = format!("receipts/{}/{id}.png", owner.user_id);
    // The API wrote the owner's currency on the object for the function to read.
    let head = stack
        .s3
        .head_object()
        .bucket(&stack.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("owner-currency"))
            .map(String::as_str),
        Some("INR")
    );
    let handler = stack.handler(&stack.api.url).await;
    let report = handler
        .handle(event(&[(&stack.bucket, &encode(&key))]))
        .await
        .unwrap();
    assert!(
        matches!(report.records[0].outcome, RecordOutcome::Read { .. }),
        "{:?}",
        report.records
    );
    let read = owner.receipt(&id).await;
    let expense = owner.expense_of(&read).await;
    assert_eq!(expense["amount"], "120.00", "{expense}");
    assert_eq!(expense["currency"], "INR", "{expense}");
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_handled_and_a_bad_one_skips_nothing() {
    let stack = Stack::new().await;
    let fonts = Fonts::load().unwrap();
    let readable = synth::receipt(&fonts, 7, 3);
    assert_eq!(readable.total.currency(), Currency::GBP);
    let (good, good_key) = stack.upload(readable.image.clone()).await;
    let blank =
        ledgerly_ocr::image_prep::png(&image::GrayImage::from_pixel(300, 400, image::Luma([255])));
    let (unreadable, blank_key) = stack.upload(blank).await;
    // A file someone put in the bucket by hand, named with spaces and unicode.
    let odd_key = format!("receipts/{}/Kassenbon März 2026 ₹.png", stack.user.user_id);
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(&odd_key)
        .body(readable.image.clone().into())
        .send()
        .await
        .unwrap();
    let gone_key = format!(
        "receipts/{}/{}.png",
        stack.user.user_id,
        uuid::Uuid::now_v7()
    );

    let handler = stack.handler(&stack.api.url).await;
    let report = handler
        .handle(event(&[
            (&stack.bucket, &encode(&odd_key)),
            (&stack.bucket, &encode(&good_key)),
            ("someone-elses-bucket", &encode(&good_key)),
            (&stack.bucket, &encode(&gone_key)),
            (&stack.bucket, &encode(&blank_key)),
        ]))
        .await
        .unwrap();
    let outcomes: Vec<&RecordOutcome> = report.records.iter().map(|r| &r.outcome).collect();
    assert_eq!(report.records[0].key, odd_key, "the key is decoded");
    assert!(
        matches!(outcomes[0], RecordOutcome::Skipped { reason } if reason.contains("Kassenbon März 2026 ₹.png") && reason.contains("not a receipt key")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], RecordOutcome::Read { .. }),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], RecordOutcome::Skipped { reason } if reason.contains("someone-elses-bucket")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[3], RecordOutcome::Skipped { reason } if reason.contains("gone")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[4], RecordOutcome::Failed { reason, .. } if reason.contains("no text")),
        "{outcomes:?}"
    );

    // The API applied the read receipt and recorded the failure with its reason.
    let read = stack.user.receipt(&good).await;
    assert_eq!(read["status"], "done", "{read}");
    let expense = stack.user.expense_of(&read).await;
    assert_eq!(expense["amount"], readable.total.to_decimal_string());
    assert_eq!(expense["currency"], "GBP");
    assert_eq!(expense["date"], readable.date.to_string());
    assert_eq!(expense["needs_review"], true);
    let failed = stack.user.receipt(&unreadable).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["failure_reason"]
            .as_str()
            .unwrap()
            .contains("no text"),
        "{failed}"
    );

    // The same event again (Lambda retries deliver twice): the same state, no second expense.
    handler
        .handle(event(&[(&stack.bucket, &encode(&good_key))]))
        .await
        .unwrap();
    let again = stack.user.receipt(&good).await;
    assert_eq!(again["expense_id"], read["expense_id"]);
    let list = stack.user.get("/api/v1/expenses").await;
    assert_eq!(list["total"], 1, "{list}");
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_makes_the_invocation_fail_so_lambda_retries() {
    let stack = Stack::new().await;
    let fonts = Fonts::load().unwrap();
    let (good, good_key) = stack.upload(synth::receipt(&fonts, 7, 3).image).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let handler = stack.handler(&closed).await;
    let err = handler
        .handle(event(&[
            (&stack.bucket, "not-a-receipt.txt"),
            (&stack.bucket, &encode(&good_key)),
        ]))
        .await
        .unwrap_err();
    let records = &err.0.records;
    assert!(matches!(&records[0].outcome, RecordOutcome::Skipped { .. }));
    assert!(
        matches!(&records[1].outcome, RecordOutcome::Retry { reason } if reason.contains("cannot reach the API")),
        "{records:?}"
    );
    assert_eq!(stack.user.receipt(&good).await["status"], "pending");
    stack.finish().await;
}

#[tokio::test]
async fn the_secret_can_come_from_an_ssm_secure_string() {
    let ssm = aws_sdk_ssm::Client::new(&aws().await);
    let name = format!(
        "/ledgerly/test-{}/callback-secret",
        uuid::Uuid::new_v4().simple()
    );
    ssm.put_parameter()
        .name(&name)
        .value(SECRET)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    // The variables a deployed function gets (this process's own, set for this test only).
    let vars = [
        (
            "LEDGERLY_API_URL",
            "https://ledgerly.example.com".to_owned(),
        ),
        ("LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER", name.clone()),
        ("LEDGERLY__STORAGE__BUCKET", "receipts".to_owned()),
        ("LEDGERLY__AWS__ENDPOINT", endpoint()),
        ("LEDGERLY__EXTRACTOR__DEFAULT_CURRENCY", "eur".to_owned()),
    ];
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ledgerly-ocr"))
        .args(["lambda", "--check-config"])
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("LEDGERLY__OCR__CALLBACK_SECRET")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("callback secret: from SSM"), "{stdout}");
    assert!(stdout.contains("default currency: EUR"), "{stdout}");
    assert!(!stdout.contains(SECRET), "the secret is never printed");
}

#[tokio::test]
async fn the_backends_api_key_can_come_from_an_ssm_secure_string() {
    let ssm = aws_sdk_ssm::Client::new(&aws().await);
    let id = uuid::Uuid::new_v4().simple();
    let key_name = format!("/ledgerly/test-{id}/gemini-key");
    ssm.put_parameter()
        .name(&key_name)
        .value("AIza-test-key-never-printed")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let check = |parameter: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ledgerly-ocr"))
            .args(["lambda", "--check-config"])
            .env("LEDGERLY_API_URL", "https://ledgerly.example.com")
            .env("LEDGERLY__OCR__CALLBACK_SECRET", SECRET)
            .env("LEDGERLY__STORAGE__BUCKET", "receipts")
            .env("LEDGERLY__AWS__ENDPOINT", endpoint())
            .env("LEDGERLY__EXTRACTOR__BACKEND", "gemini")
            .env("LEDGERLY__EXTRACTOR__API_KEY_PARAMETER", parameter)
            .env_remove("LEDGERLY__EXTRACTOR__API_KEY")
            .env_remove("GEMINI_API_KEY")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let output = check(&key_name);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("backend: gemini"), "{stdout}");
    assert!(
        stdout.contains(&format!("backend API key: from SSM parameter {key_name}")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("AIza-test-key"),
        "the key is never printed"
    );

    let missing = check(&format!("/ledgerly/test-{id}/nothing-here"));
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("cannot read the OCR backend's API key from SSM parameter"),
        "{missing:?}"
    );
}
