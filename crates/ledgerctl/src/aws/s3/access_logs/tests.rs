use serde_json::json;

use super::*;

const BUCKET: &str = "tst-alb-logs-123456789012";

fn desired() -> LogBucket {
    LogBucket {
        name: BUCKET.into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        expire_days: 30,
        tags: BTreeMap::from([("ledgerly:stack".to_owned(), "tst".to_owned())]),
    }
}

fn observed() -> Observed {
    Observed {
        block_public_access: true,
        encryption: vec![ServerSideEncryption::Aes256],
        owner_enforced: true,
        tls_only: true,
        log_delivery: true,
        other_statements: vec![],
        expire_days: Some(30),
        other_rules: vec![],
        tags: desired().tags,
    }
}

fn rule(status: ExpirationStatus, prefix: &str) -> LifecycleRule {
    LifecycleRule::builder()
        .id(RULE_ID)
        .status(status)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .expiration(LifecycleExpiration::builder().days(30).build())
        .build()
        .unwrap()
}

#[test]
fn the_bucket_and_its_log_files_are_named_by_the_stack_account_and_region() {
    let config = StackConfig::parse(
        "stack: tst\nregion: eu-west-1\ndomain: api.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
        "test",
    )
    .unwrap();
    assert_eq!(name(&config, "123456789012"), BUCKET);
    assert_eq!(
        key_prefix("123456789012", "eu-west-1"),
        "api/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/"
    );
    assert_eq!(config.ecs.map(|e| e.access_log_days), Some(30));
}

#[test]
fn a_bucket_as_wanted_is_unchanged_and_a_missing_one_is_created() {
    let known = Known::default();
    assert_eq!(desired().diff(Some(&observed()), &known), Change::Unchanged);
    assert_eq!(desired().diff(None, &known), Change::Create);
}

#[test]
fn drift_is_shown_field_by_field() {
    let mut have = observed();
    have.encryption = vec![ServerSideEncryption::AwsKms];
    have.log_delivery = false;
    have.expire_days = None;
    let Change::Update { fields } = desired().diff(Some(&have), &Known::default()) else {
        panic!("an update");
    };
    let shown: Vec<(&str, &str, &str)> = fields
        .iter()
        .map(|f| (f.field.as_str(), f.from.as_str(), f.to.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("default_encryption", "aws:kms", "AES256"),
            ("elb_log_delivery", "false", "true"),
            ("expire_days", "(none)", "30"),
        ]
    );
}

#[test]
fn the_policy_is_read_into_our_statements_and_the_ones_people_added() {
    let bucket = desired();
    let theirs = json!({
        "Sid": "Audit", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{BUCKET}/*")
    });
    let (tls_only, delivery, others) = bucket.read_policy(vec![
        tls_only_statement(BUCKET),
        bucket.log_delivery_statement(),
        theirs.clone(),
    ]);
    assert!(tls_only && delivery);
    assert_eq!(others, std::slice::from_ref(&theirs));
    assert_eq!(
        bucket.log_delivery_statement()["Resource"],
        format!("arn:aws:s3:::{BUCKET}/api/AWSLogs/123456789012/*")
    );

    // A statement of ours gone wrong (another region's account) is not kept: ours is put back.
    let mut wrong = bucket.log_delivery_statement();
    wrong["Principal"] = json!({"AWS": "arn:aws:iam::156460612806:root"});
    let (tls_only, delivery, others) = bucket.read_policy(vec![wrong, theirs.clone()]);
    assert!(!tls_only && !delivery);
    assert_eq!(others, [theirs]);
}

#[test]
fn only_our_rule_on_and_over_the_whole_bucket_counts() {
    assert_eq!(expire_days(Some(&expiry_rule(7).unwrap())), Some(7));
    assert_eq!(expire_days(None), None);
    assert_eq!(
        expire_days(Some(&rule(ExpirationStatus::Enabled, ""))),
        Some(30)
    );
    assert_eq!(
        expire_days(Some(&rule(ExpirationStatus::Disabled, ""))),
        None
    );
    assert_eq!(
        expire_days(Some(&rule(ExpirationStatus::Enabled, "api/old/"))),
        None
    );
}
