//! The load balancer's access logs in the emulator: their bucket `<stack>-alb-logs-<account>`
//! with what provision enforces on it, and the load balancer's three `access_logs.s3.*`
//! attributes pointing at it.

use serde_json::{Value, json};

use super::fixtures::*;
use crate::fixtures::*;

/// The emulator's account.
const ACCOUNT: &str = "123456789012";

pub(super) fn log_bucket(stack: &Stack) -> String {
    format!("{}-alb-logs-{ACCOUNT}", stack.name)
}

/// The bucket as provision leaves it, and the load balancer `balancer` writing to it.
pub(super) async fn assert_access_logs(stack: &Stack, balancer: &str) {
    let s3 = s3().await;
    let bucket = log_bucket(stack);
    let block = s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    // SSE-S3: the only default encryption Elastic Load Balancing writes logs to.
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rules = encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(
        rules[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &aws_sdk_s3::types::ServerSideEncryption::Aes256
    );
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0].object_ownership(),
        &aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced
    );

    let policy: Value = serde_json::from_str(
        s3.get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    let statement = |sid: &str| {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("no {sid}: {policy:#}"))
    };
    let denial = statement("LedgerlyDenyInsecureTransport");
    assert_eq!(denial["Effect"], "Deny");
    assert_eq!(denial["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        denial["Resource"],
        json!([
            format!("arn:aws:s3:::{bucket}"),
            format!("arn:aws:s3:::{bucket}/*")
        ])
    );
    // us-east-1 opened before August 2022: its Elastic Load Balancing account writes the logs.
    let delivery = statement("LedgerlyElbLogDelivery");
    assert_eq!(
        delivery,
        json!({
            "Sid": "LedgerlyElbLogDelivery",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::127311923021:root"},
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/api/AWSLogs/{ACCOUNT}/*"),
        })
    );

    // The stack file's `ecs.access_log_days: 7`.
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ours = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("ledgerly-expire-logs"))
        .unwrap_or_else(|| panic!("no rule of ours: {lifecycle:?}"));
    assert_eq!(ours.status(), &aws_sdk_s3::types::ExpirationStatus::Enabled);
    assert_eq!(ours.filter().and_then(|f| f.prefix()), Some(""));
    assert_eq!(ours.expiration().and_then(|e| e.days()), Some(7));

    let tags = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let has = |k: &str, v: &str| {
        tags.tag_set()
            .iter()
            .any(|t| t.key() == k && t.value() == v)
    };
    assert!(
        has("ledgerly:stack", &stack.name) && has("project", "expenses"),
        "{tags:?}"
    );

    let attributes = elb()
        .await
        .describe_load_balancer_attributes()
        .load_balancer_arn(balancer)
        .send()
        .await
        .unwrap();
    let attribute = |key: &str| {
        attributes
            .attributes()
            .iter()
            .find(|a| a.key() == Some(key))
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    assert_eq!(attribute("access_logs.s3.enabled").as_deref(), Some("true"));
    assert_eq!(
        attribute("access_logs.s3.bucket").as_deref(),
        Some(bucket.as_str())
    );
    assert_eq!(attribute("access_logs.s3.prefix").as_deref(), Some("api"));
}

/// Takes the bucket's lifecycle rules away and turns the load balancer's access logs off: drift
/// that plan must show and provision put right.
pub(super) async fn drift_access_logs(stack: &Stack, balancer: &str) {
    s3().await
        .delete_bucket_lifecycle()
        .bucket(log_bucket(stack))
        .send()
        .await
        .unwrap();
    elb()
        .await
        .modify_load_balancer_attributes()
        .load_balancer_arn(balancer)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("access_logs.s3.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A log file in the bucket, as the load balancer would write one; destroy must take it with the
/// bucket. The emulator applies the policy's TLS-only denial to every object request over its
/// plain HTTP, so the policy is taken off first, and stays off (destroy's emptying is an object
/// request too; it does not depend on the policy).
pub(super) async fn put_log_file(stack: &Stack) {
    let bucket = log_bucket(stack);
    without_bucket_policy(&bucket).await;
    s3().await
        .put_object()
        .bucket(&bucket)
        .key(format!(
            "api/AWSLogs/{ACCOUNT}/elasticloadbalancing/us-east-1/2026/01/02/{ACCOUNT}_elasticloadbalancing_us-east-1_app.{}-api.0123456789abcdef_20260102T0005Z_203.0.113.9_x.log.gz",
            stack.name
        ))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"\x1f\x8b"))
        .send()
        .await
        .unwrap();
}

/// The bucket is gone.
pub(super) async fn assert_no_access_logs_left(stack: &Stack) {
    let bucket = log_bucket(stack);
    let s3 = s3().await;
    assert_absent(&bucket, s3.head_bucket().bucket(&bucket).send()).await;
}
