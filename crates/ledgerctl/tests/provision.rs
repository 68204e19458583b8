//! `ledgerctl plan` and `provision` against the AWS emulator that `scripts/test` starts: from
//! zero, again (no mutating call), after drift, after an interruption at every mutating step, and
//! with a bad stack file (no AWS call at all). Each test has its own stack name.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn endpoint() -> String {
    std::env::var("LEDGERLY_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS emulator")
    })
}

struct Stack {
    name: String,
    dir: tempfile::TempDir,
}

impl Stack {
    fn new(prefix: &str) -> Stack {
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack { name, dir };
        stack.write("");
        stack
    }

    fn write(&self, extra: &str) {
        let text = format!(
            "stack: {}\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: ops\necr:\n  keep_images: 7\ntags:\n  project: expenses\n{extra}",
            self.name
        );
        std::fs::write(self.dir.path().join("ledgerly.yaml"), text).unwrap();
    }

    fn ledgerctl(&self, args: &[&str], fail_at: Option<usize>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledgerctl"));
        command
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("ledgerly.yaml"))
            .arg("--endpoint-url")
            .arg(endpoint())
            .env("RUST_LOG", "error")
            .env_remove("LEDGERCTL_FAIL_AT_MUTATING_CALL");
        if let Some(n) = fail_at {
            command.env("LEDGERCTL_FAIL_AT_MUTATING_CALL", n.to_string());
        }
        command.output().unwrap()
    }

    /// `provision --output json`, which must succeed.
    fn provision(&self) -> Value {
        let output = self.ledgerctl(&["provision", "--output", "json"], None);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn plan(&self) -> (i32, Value) {
        let output = self.ledgerctl(&["plan", "--output", "json", "--detailed-exitcode"], None);
        let code = output.status.code().unwrap();
        assert!(code == 0 || code == 2, "{output:?}");
        (code, serde_json::from_slice(&output.stdout).unwrap())
    }

    fn bucket(&self) -> String {
        format!("{}-receipts-123456789012", self.name)
    }
}

async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .load()
        .await
}

async fn s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws().await)
            .force_path_style(true)
            .build(),
    )
}

/// Every property the stack file asks for, read back through the SDK.
async fn assert_provisioned(stack: &Stack) {
    let ecr = aws_sdk_ecr::Client::new(&aws().await);
    for suffix in ["api", "ocr"] {
        let name = format!("{}-{suffix}", stack.name);
        let repos = ecr
            .describe_repositories()
            .repository_names(&name)
            .send()
            .await
            .unwrap();
        let repo = &repos.repositories()[0];
        assert!(
            repo.image_scanning_configuration().unwrap().scan_on_push(),
            "{name}"
        );
        assert_eq!(
            repo.image_tag_mutability(),
            Some(&aws_sdk_ecr::types::ImageTagMutability::Immutable)
        );
        let lifecycle: Value = serde_json::from_str(
            ecr.get_lifecycle_policy()
                .repository_name(&name)
                .send()
                .await
                .unwrap()
                .lifecycle_policy_text()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(lifecycle["rules"][0]["selection"]["countNumber"], 7);
        let policy = ecr
            .get_repository_policy()
            .repository_name(&name)
            .send()
            .await
            .unwrap();
        assert!(
            policy
                .policy_text()
                .unwrap()
                .contains("lambda.amazonaws.com")
        );
        let tags = ecr
            .list_tags_for_resource()
            .resource_arn(repo.repository_arn().unwrap())
            .send()
            .await
            .unwrap();
        let has = |k: &str, v: &str| tags.tags().iter().any(|t| t.key() == k && t.value() == v);
        assert!(
            has("ledgerly:stack", &stack.name) && has("project", "expenses"),
            "{tags:?}"
        );
    }
    let s3 = s3().await;
    let bucket = stack.bucket();
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
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
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
    let cors = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    assert_eq!(
        cors.cors_rules()[0].allowed_origins(),
        ["https://ledgerly.example.com"]
    );
    let iam = aws_sdk_iam::Client::new(&aws().await);
    for (suffix, service) in [
        ("lambda", "lambda.amazonaws.com"),
        ("instance", "ec2.amazonaws.com"),
    ] {
        let name = format!("{}-{suffix}", stack.name);
        let role = iam.get_role().role_name(&name).send().await.unwrap();
        let trust = role.role().unwrap().assume_role_policy_document().unwrap();
        assert!(trust.contains(service), "{name}: {trust}");
        let policy = iam
            .get_role_policy()
            .role_name(&name)
            .policy_name(&name)
            .send()
            .await
            .unwrap();
        assert!(policy.policy_document().contains(&bucket), "{name}");
        let attached = iam
            .list_attached_role_policies()
            .role_name(&name)
            .send()
            .await
            .unwrap();
        assert!(
            attached.attached_policies().is_empty(),
            "{name}: no managed policies"
        );
    }
    let profile = iam
        .get_instance_profile()
        .instance_profile_name(format!("{}-instance", stack.name))
        .send()
        .await
        .unwrap();
    assert_eq!(
        profile.instance_profile().unwrap().roles()[0].role_name(),
        format!("{}-instance", stack.name)
    );
    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    let groups = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ledgerly:stack")
                .values(&stack.name)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let by_name: std::collections::BTreeMap<&str, &aws_sdk_ec2::types::SecurityGroup> = groups
        .security_groups()
        .iter()
        .map(|g| (g.group_name().unwrap(), g))
        .collect();
    let rules = |suffix: &str| -> Vec<String> {
        let group = by_name[format!("{}-{suffix}", stack.name).as_str()];
        let mut rules: Vec<String> = group
            .ip_permissions()
            .iter()
            .flat_map(|p| {
                let port = p.from_port().unwrap();
                p.ip_ranges()
                    .iter()
                    .map(move |r| format!("{port} {}", r.cidr_ip().unwrap()))
                    .chain(
                        p.ipv6_ranges()
                            .iter()
                            .map(move |r| format!("{port} {}", r.cidr_ipv6().unwrap())),
                    )
                    .chain(
                        p.user_id_group_pairs()
                            .iter()
                            .map(move |g| format!("{port} {}", g.group_id().unwrap())),
                    )
            })
            .collect();
        rules.sort();
        rules
    };
    assert_eq!(
        rules("web"),
        ["443 0.0.0.0/0", "443 ::/0", "80 0.0.0.0/0", "80 ::/0"]
    );
    assert_eq!(rules("ssh"), ["22 203.0.113.7/32"]);
    let web_id = by_name[format!("{}-web", stack.name).as_str()]
        .group_id()
        .unwrap();
    assert_eq!(rules("db"), [format!("5432 {web_id}")]);
    let tags = s3
        .get_bucket_tagging()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "ledgerly:stack" && t.value() == stack.name)
    );
}

#[tokio::test]
async fn provision_creates_the_stack_and_a_second_run_changes_nothing() {
    let stack = Stack::new("fresh");
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    assert_eq!(plan["changes"].as_array().unwrap().len(), 9, "{plan}");
    assert_eq!(plan["calls"]["mutating"], 0, "plan changes nothing: {plan}");

    let first = stack.provision();
    assert!(first["calls"]["mutating"].as_u64().unwrap() > 0);
    assert_provisioned(&stack).await;

    let secret = || async {
        aws_sdk_ssm::Client::new(&aws().await)
            .get_parameter()
            .name(format!("/{}/ocr-callback-secret", stack.name))
            .with_decryption(true)
            .send()
            .await
            .unwrap()
            .parameter
            .unwrap()
    };
    let generated = secret().await;
    assert_eq!(
        generated.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    assert_eq!(generated.value().unwrap().len(), 48);
    assert!(
        !first.to_string().contains(generated.value().unwrap()),
        "the secret is never printed"
    );

    let second = stack.provision();
    assert_eq!(second["calls"]["mutating"], 0, "{second}");
    assert_eq!(
        secret().await.value(),
        generated.value(),
        "an existing secret is kept"
    );
    assert_eq!(second["changes"], serde_json::json!([]), "{second}");
    let output = stack.ledgerctl(&["provision"], None);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("no changes"),
        "{output:?}"
    );
    assert_eq!(stack.plan().0, 0);
}

#[tokio::test]
async fn drift_shows_in_plan_and_provision_puts_it_right() {
    let stack = Stack::new("drift");
    stack.provision();
    let ecr = aws_sdk_ecr::Client::new(&aws().await);
    ecr.delete_lifecycle_policy()
        .repository_name(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    s3().await
        .delete_bucket_cors()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::new(&aws().await);
    iam.attach_role_policy()
        .role_name(format!("{}-instance", stack.name))
        .policy_arn("arn:aws:iam::aws:policy/AmazonS3FullAccess")
        .send()
        .await
        .unwrap();
    // Someone opens SSH to the world by hand.
    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    let ssh = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values(format!("{}-ssh", stack.name))
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(ssh.security_groups()[0].group_id().unwrap())
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    let text = plan["changes"].to_string();
    assert!(
        text.contains(r#""field":"ingress","from":"tcp/22 from 0.0.0.0/0, tcp/22 from 203.0.113.7/32","to":"tcp/22 from 203.0.113.7/32""#),
        "{text}"
    );
    assert!(
        text.contains(r#""field":"managed_policies","from":"arn:aws:iam::aws:policy/AmazonS3FullAccess","to":"(none)""#),
        "{text}"
    );
    assert!(
        text.contains(r#""field":"lifecycle_policy","from":"(none)""#),
        "{text}"
    );
    assert!(
        text.contains(r#""field":"cors_origins","from":"","to":"https://ledgerly.example.com""#),
        "{text}"
    );
    let output = stack.ledgerctl(&["plan"], None);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains(&format!(
            "~ ecr repository {}-api\n    lifecycle_policy: (none) → ",
            stack.name
        )),
        "{shown}"
    );

    stack.provision();
    assert_eq!(stack.plan().0, 0);
    assert_provisioned(&stack).await;

    // A changed setting in the stack file is drift too.
    stack.write("");
    std::fs::write(
        stack.dir.path().join("ledgerly.yaml"),
        std::fs::read_to_string(stack.dir.path().join("ledgerly.yaml"))
            .unwrap()
            .replace("keep_images: 7", "keep_images: 9"),
    )
    .unwrap();
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    assert!(
        plan["changes"].to_string().contains("lifecycle_policy"),
        "{plan}"
    );
}

#[tokio::test]
async fn a_provision_interrupted_at_any_mutating_step_converges_when_run_again() {
    // How many mutating calls a full provision makes.
    let probe = Stack::new("probe");
    let total = probe.provision()["calls"]["mutating"].as_u64().unwrap() as usize;
    assert!(total >= 10, "{total}");
    for n in 1..=total {
        let stack = Stack::new("cut");
        let cut = stack.ledgerctl(&["provision"], Some(n));
        assert!(
            !cut.status.success(),
            "step {n} was not interrupted: {cut:?}"
        );
        assert!(
            String::from_utf8_lossy(&cut.stderr).contains("interrupted before"),
            "{cut:?}"
        );
        let rerun = stack.provision();
        let again = stack.provision();
        assert_eq!(
            again["calls"]["mutating"], 0,
            "step {n}: not converged: {rerun} then {again}"
        );
        assert_provisioned(&stack).await;
    }
}

#[test]
fn a_bad_stack_file_is_refused_before_any_aws_call() {
    let stack = Stack::new("bad");
    std::fs::write(
        stack.dir.path().join("ledgerly.yaml"),
        "stack: Bad_Name\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 0.0.0.0/0\ninstance:\n  key_pair:\n    name: ops\n",
    )
    .unwrap();
    // Any AWS call would go to a port nobody listens on, and fail differently.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["plan", "--config"])
        .arg(stack.dir.path().join("ledgerly.yaml"))
        .arg("--endpoint-url")
        .arg(format!("http://{closed}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("admin_cidr: 0.0.0.0/0 opens SSH to the world; give your own address, e.g. 203.0.113.7/32"), "{stderr}");
    assert!(stderr.contains("stack: `Bad_Name`"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("connect"), "{stderr}");
    let missing = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["plan", "--config", "/nonexistent/ledgerly.yaml"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read it"),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_missing_ocr_key_stops_provision_before_any_change() {
    let stack = Stack::new("nokey");
    stack.write("ocr:\n  backend: gemini\n  api_key_parameter: /nokey/gemini-key\n");
    let output = stack.ledgerctl(&["provision"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ocr.api_key_parameter: the SSM parameter /nokey/gemini-key does not exist; store the key first"),
        "{stderr}"
    );
    let ecr = aws_sdk_ecr::Client::new(&aws().await);
    assert!(
        ecr.describe_repositories()
            .repository_names(format!("{}-api", stack.name))
            .send()
            .await
            .is_err(),
        "nothing was created"
    );
}
