//! `ledgerctl plan`, `provision` and `destroy` against the AWS emulator that `scripts/test`
//! starts: from zero, again (no mutating call), after drift, after an interruption at every
//! mutating step, destroyed beside another stack, and with a bad stack file (no AWS call at all).
//! Each test has its own stack name.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

mod common;

fn endpoint() -> String {
    std::env::var("LEDGERLY_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS emulator")
    })
}

/// The operator's SSH key, imported as `<stack>-deploy`.
const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv/CF3n/Zh4krGgK3oPryYuj+LfPTno1LSseU9H85hy ledgerly-test";
/// The emulator has no Ubuntu parameter; this one it has, so the lookup path is the one tested.
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

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
        let key = self.dir.path().join("id_ed25519.pub");
        std::fs::write(&key, format!("{PUBLIC_KEY}\n")).unwrap();
        self.write_raw(&format!(
            "stack: {}\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    public_key_file: {}\n  ami_parameter: {AMI_PARAMETER}\necr:\n  keep_images: 7\ntags:\n  project: expenses\n{extra}",
            self.name,
            key.display()
        ));
    }

    fn write_raw(&self, text: &str) {
        std::fs::write(self.dir.path().join("ledgerly.yaml"), text).unwrap();
    }

    /// What `ledgerctl deploy` does first: an image in the OCR repository. Its digest.
    async fn push_image(&self) -> String {
        let hex = |_| uuid::Uuid::new_v4().simple().to_string();
        let digest = |n| format!("sha256:{}{}", hex(n), hex(n));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1024, "digest": digest(0)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 4096, "digest": digest(1)}]
        });
        let pushed = aws_sdk_ecr::Client::new(&aws().await)
            .put_image()
            .repository_name(format!("{}-ocr", self.name))
            .image_manifest(manifest.to_string())
            .image_tag("0123abc")
            .send()
            .await
            .unwrap();
        pushed
            .image()
            .unwrap()
            .image_id()
            .unwrap()
            .image_digest()
            .unwrap()
            .to_owned()
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
async fn assert_provisioned(stack: &Stack, lambda: bool) {
    assert_storage_and_access(stack).await;
    assert_compute(stack).await;
    if lambda {
        assert_lambda(stack).await;
    }
}

fn ec2_filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}

/// The stack's security group ids by name suffix (`web`, `ssh`, `db`).
async fn group_ids(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    ec2.describe_security_groups()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .send()
        .await
        .unwrap()
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_name()
                    .unwrap()
                    .trim_start_matches(&format!("{}-", stack.name))
                    .to_owned(),
                g.group_id().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The database, the instance, its key pair and address, read back through the SDK.
async fn assert_compute(stack: &Stack) {
    let groups = group_ids(stack).await;
    let rds = aws_sdk_rds::Client::new(&aws().await);
    let reply = rds
        .describe_db_instances()
        .db_instance_identifier(format!("{}-db", stack.name))
        .send()
        .await
        .unwrap();
    let db = &reply.db_instances()[0];
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.engine_version(), Some("16"));
    assert_eq!(db.db_instance_class(), Some("db.t4g.micro"));
    assert_eq!(db.allocated_storage(), Some(20));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.publicly_accessible(), Some(false));
    assert_eq!(db.backup_retention_period(), Some(7));
    assert_eq!(
        db.db_subnet_group().unwrap().db_subnet_group_name(),
        Some(format!("{}-db", stack.name).as_str())
    );
    let db_groups: Vec<&str> = db
        .vpc_security_groups()
        .iter()
        .map(|g| g.vpc_security_group_id().unwrap())
        .collect();
    assert_eq!(db_groups, [groups["db"].as_str()]);
    assert!(
        db.tag_list()
            .iter()
            .any(|t| t.key() == Some("ledgerly:stack") && t.value() == Some(&stack.name))
    );
    let password = aws_sdk_ssm::Client::new(&aws().await)
        .get_parameter()
        .name(format!("/{}/db-password", stack.name))
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(
        password.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    assert_eq!(password.value().unwrap().len(), 48);
    // The API's role has a password of its own: it never gets the master one.
    let app_password = aws_sdk_ssm::Client::new(&aws().await)
        .get_parameter()
        .name(format!("/{}/db-app-password", stack.name))
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(
        app_password.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    assert_eq!(app_password.value().unwrap().len(), 48);
    assert_ne!(app_password.value(), password.value());

    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    let reply = ec2
        .describe_instances()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .filters(ec2_filter("instance-state-name", &["pending", "running"]))
        .send()
        .await
        .unwrap();
    let instances: Vec<_> = reply
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    assert_eq!(instances.len(), 1, "exactly one instance: {instances:?}");
    let instance = instances[0];
    let id = instance.instance_id().unwrap();
    assert_eq!(instance.instance_type().unwrap().as_str(), "t3.small");
    // The AMI the parameter names in the emulator (its data changes between its releases).
    let named = aws_sdk_ssm::Client::new(&aws().await)
        .get_parameter()
        .name(AMI_PARAMETER)
        .send()
        .await
        .unwrap()
        .parameter
        .and_then(|p| p.value)
        .unwrap();
    assert!(named.starts_with("ami-"), "{named}");
    assert_eq!(instance.image_id(), Some(named.as_str()));
    assert_eq!(
        instance.key_name(),
        Some(format!("{}-deploy", stack.name).as_str())
    );
    assert_eq!(
        instance.metadata_options().unwrap().http_tokens(),
        Some(&aws_sdk_ec2::types::HttpTokensState::Required)
    );
    assert!(
        instance
            .iam_instance_profile()
            .unwrap()
            .arn()
            .unwrap()
            .ends_with(&format!("/{}-instance", stack.name))
    );
    let mut instance_groups: Vec<&str> = instance
        .security_groups()
        .iter()
        .map(|g| g.group_id().unwrap())
        .collect();
    instance_groups.sort();
    let mut want = vec![groups["web"].as_str(), groups["ssh"].as_str()];
    want.sort();
    assert_eq!(instance_groups, want);
    let user_data = ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let user_data = user_data.user_data().unwrap().value().unwrap();
    use base64::Engine as _;
    let script = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(user_data)
            .unwrap(),
    )
    .unwrap();
    assert!(
        script.contains("apt-get install -y -q docker.io docker-compose-v2"),
        "{script}"
    );
    assert!(script.contains("usermod -aG docker ubuntu"), "{script}");
    // The instance-metadata guard: the script as it is in templates/, run at every boot before
    // Docker with the API's block of the stack network (templates/stack.yaml's network).
    assert!(
        script.contains(include_str!("../../../templates/metadata-guard.sh").trim_end()),
        "{script}"
    );
    assert!(
        script.contains(
            "ExecStart=/usr/local/sbin/ledgerly-metadata-guard 169.254.169.254 172.30.0.16/28"
        ),
        "{script}"
    );
    assert!(!script.contains("{{"), "a value was left out: {script}");
    let root = instance.block_device_mappings()[0]
        .ebs()
        .unwrap()
        .volume_id()
        .unwrap();
    let volumes = ec2
        .describe_volumes()
        .volume_ids(root)
        .send()
        .await
        .unwrap();
    let volume = &volumes.volumes()[0];
    assert_eq!(
        (volume.volume_type(), volume.encrypted(), volume.size()),
        (
            Some(&aws_sdk_ec2::types::VolumeType::Gp3),
            Some(true),
            Some(20)
        )
    );
    let keys = ec2
        .describe_key_pairs()
        .key_names(format!("{}-deploy", stack.name))
        .send()
        .await
        .unwrap();
    assert!(
        keys.key_pairs()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("ledgerly:stack"))
    );
    let addresses = ec2
        .describe_addresses()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .send()
        .await
        .unwrap();
    assert_eq!(addresses.addresses().len(), 1);
    assert_eq!(addresses.addresses()[0].instance_id(), Some(id));
}

/// The OCR function, its invoke permission and the bucket's notification.
async fn assert_lambda(stack: &Stack) {
    let lambda = aws_sdk_lambda::Client::new(&aws().await);
    let name = format!("{}-ocr", stack.name);
    let function = lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    let configuration = function.configuration().unwrap();
    assert_eq!(configuration.memory_size(), Some(1769));
    assert_eq!(configuration.timeout(), Some(30));
    assert!(
        configuration
            .role()
            .unwrap()
            .ends_with(&format!(":role/{}-lambda", stack.name))
    );
    let environment = configuration.environment().unwrap().variables().unwrap();
    assert_eq!(environment["LEDGERLY__STORAGE__BUCKET"], stack.bucket());
    assert_eq!(
        environment["LEDGERLY_API_URL"],
        "https://ledgerly.example.com"
    );
    assert_eq!(
        environment["LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER"],
        format!("/{}/ocr-callback-secret", stack.name)
    );
    assert!(
        function
            .code()
            .unwrap()
            .image_uri()
            .unwrap()
            .contains(&format!("/{}-ocr@sha256:", stack.name))
    );
    let policy = lambda
        .get_policy()
        .function_name(&name)
        .send()
        .await
        .unwrap();
    let policy = policy.policy().unwrap();
    assert!(policy.contains("s3.amazonaws.com"), "{policy}");
    assert!(
        policy.contains(&format!("arn:aws:s3:::{}", stack.bucket())),
        "{policy}"
    );
    let notification = s3()
        .await
        .get_bucket_notification_configuration()
        .bucket(stack.bucket())
        .send()
        .await
        .unwrap();
    let ours = &notification.lambda_function_configurations()[0];
    assert_eq!(
        ours.lambda_function_arn(),
        configuration.function_arn().unwrap()
    );
    let rule = &ours.filter().unwrap().key().unwrap().filter_rules()[0];
    assert_eq!(rule.value(), Some("receipts/"));
}

/// Repositories, bucket, roles, security groups, read back through the SDK.
async fn assert_storage_and_access(stack: &Stack) {
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
    // Every request not over TLS is refused.
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
    let denial = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "LedgerlyDenyInsecureTransport")
        .unwrap_or_else(|| panic!("{policy:#}"));
    assert_eq!(denial["Effect"], "Deny");
    assert_eq!(denial["Principal"], "*");
    assert_eq!(denial["Action"], "s3:*");
    assert_eq!(
        denial["Resource"],
        serde_json::json!([
            format!("arn:aws:s3:::{bucket}"),
            format!("arn:aws:s3:::{bucket}/*")
        ])
    );
    assert_eq!(denial["Condition"]["Bool"]["aws:SecureTransport"], "false");
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

fn actions(report: &Value) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["action"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn provision_creates_the_stack_and_a_second_run_changes_nothing() {
    let stack = Stack::new("fresh");
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    let planned = actions(&plan);
    assert_eq!(
        planned.iter().filter(|a| a.starts_with("create ")).count(),
        17,
        "{planned:#?}"
    );
    assert_eq!(
        planned.iter().filter(|a| a.starts_with("waiting ")).count(),
        3,
        "the Lambda, its permission and the notification wait for an image: {planned:#?}"
    );
    assert_eq!(plan["calls"]["mutating"], 0, "plan changes nothing: {plan}");

    let first = stack.provision();
    assert!(first["calls"]["mutating"].as_u64().unwrap() > 0);
    assert_provisioned(&stack, false).await;

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
    assert!(
        actions(&second).iter().all(|a| a.starts_with("waiting ")),
        "{second}"
    );

    // The first deploy pushes an image; the function follows.
    let digest = stack.push_image().await;
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    assert_eq!(
        actions(&plan),
        [
            format!("create lambda function {}-ocr", stack.name),
            format!(
                "create lambda permission {}-ocr/ledgerly-s3-invoke",
                stack.name
            ),
            format!("create s3 notification {}/ledgerly-ocr", stack.bucket()),
        ]
    );
    stack.provision();
    assert_provisioned(&stack, true).await;
    let image = aws_sdk_lambda::Client::new(&aws().await)
        .get_function()
        .function_name(format!("{}-ocr", stack.name))
        .send()
        .await
        .unwrap();
    assert!(
        image
            .code()
            .unwrap()
            .image_uri()
            .unwrap()
            .ends_with(&digest)
    );

    let again = stack.provision();
    assert_eq!(again["calls"]["mutating"], 0, "{again}");
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
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
    stack.push_image().await;
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
    let ssh = group_ids(&stack).await["ssh"].clone();
    ec2.authorize_security_group_ingress()
        .group_id(ssh)
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
    // The bucket policy replaced by one with only someone's own statement.
    let bucket = stack.bucket();
    let own = serde_json::json!({
        "Sid": "AuditorsRead", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")
    });
    s3().await
        .put_bucket_policy()
        .bucket(&bucket)
        .policy(
            serde_json::json!({"Version": "2012-10-17", "Statement": [own.clone()]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    // The Lambda's memory changed in the console; IMDSv1 allowed again; the database made public.
    aws_sdk_lambda::Client::new(&aws().await)
        .update_function_configuration()
        .function_name(format!("{}-ocr", stack.name))
        .memory_size(1024)
        .send()
        .await
        .unwrap();
    let instance = ec2
        .describe_instances()
        .filters(ec2_filter("tag:ledgerly:stack", &[&stack.name]))
        .filters(ec2_filter("instance-state-name", &["running"]))
        .send()
        .await
        .unwrap();
    let instance_id = instance.reservations()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    ec2.modify_instance_metadata_options()
        .instance_id(&instance_id)
        .http_tokens(aws_sdk_ec2::types::HttpTokensState::Optional)
        .http_endpoint(aws_sdk_ec2::types::InstanceMetadataEndpointState::Enabled)
        .send()
        .await
        .unwrap();
    aws_sdk_rds::Client::new(&aws().await)
        .modify_db_instance()
        .db_instance_identifier(format!("{}-db", stack.name))
        .publicly_accessible(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();

    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    let text = plan["changes"].to_string();
    for expected in [
        r#""field":"ingress","from":"tcp/22 from 0.0.0.0/0, tcp/22 from 203.0.113.7/32","to":"tcp/22 from 203.0.113.7/32""#,
        r#""field":"managed_policies","from":"arn:aws:iam::aws:policy/AmazonS3FullAccess","to":"(none)""#,
        r#""field":"lifecycle_policy","from":"(none)""#,
        r#""field":"cors_origins","from":"","to":"https://ledgerly.example.com""#,
        r#""field":"memory_mb","from":"1024","to":"1769""#,
        r#""field":"imdsv2","from":"optional","to":"required""#,
        r#""field":"publicly_accessible","from":"true","to":"false""#,
        r#""field":"tls_only","from":"false","to":"true""#,
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    let output = stack.ledgerctl(&["plan"], None);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains(&format!(
            "~ ecr repository {}-api\n    lifecycle_policy: (none) → ",
            stack.name
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "~ lambda function {}-ocr\n    memory_mb: 1024 → 1769",
            stack.name
        )),
        "{shown}"
    );

    stack.provision();
    assert_eq!(stack.plan().0, 0);
    assert_provisioned(&stack, true).await;
    let policy: Value = serde_json::from_str(
        s3().await
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap(),
    )
    .unwrap();
    assert!(
        policy["Statement"].as_array().unwrap().contains(&own),
        "the statement people added is kept: {policy:#}"
    );

    // A changed setting in the stack file is drift too.
    stack.write("lambda:\n  memory_mb: 2048\n");
    std::fs::write(
        stack.dir.path().join("ledgerly.yaml"),
        std::fs::read_to_string(stack.dir.path().join("ledgerly.yaml"))
            .unwrap()
            .replace("keep_images: 7", "keep_images: 9"),
    )
    .unwrap();
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let text = plan["changes"].to_string();
    assert!(text.contains("lifecycle_policy"), "{plan}");
    assert!(
        text.contains(r#""field":"memory_mb","from":"1769","to":"2048""#),
        "{plan}"
    );
    stack.provision();
    assert_eq!(stack.plan().0, 0);

    // SSH opened to a list of ranges, one of them IPv6; then back to one.
    let file = stack.dir.path().join("ledgerly.yaml");
    let one = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        one.replace(
            "admin_cidr: 203.0.113.7/32",
            "admin_cidr: [203.0.113.7/32, '2001:db8:1::/48']",
        ),
    )
    .unwrap();
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    assert!(
        plan["changes"].to_string().contains(
            r#""field":"ingress","from":"tcp/22 from 203.0.113.7/32","to":"tcp/22 from 2001:db8:1::/48, tcp/22 from 203.0.113.7/32""#
        ),
        "{plan}"
    );
    stack.provision();
    assert_eq!(stack.plan().0, 0);
    let ssh = group_ids(&stack).await["ssh"].clone();
    let group = aws_sdk_ec2::Client::new(&aws().await)
        .describe_security_groups()
        .group_ids(ssh)
        .send()
        .await
        .unwrap();
    let permissions = group.security_groups()[0].ip_permissions();
    let v6: Vec<&str> = permissions
        .iter()
        .flat_map(|p| p.ipv6_ranges().iter().map(|r| r.cidr_ipv6().unwrap()))
        .collect();
    assert_eq!(v6, ["2001:db8:1::/48"]);
    std::fs::write(&file, one).unwrap();
    stack.provision();
    assert_eq!(stack.plan().0, 0);
}

/// Cuts a provision of `stack` at each of its `total` mutating calls in turn (on a fresh copy
/// made by `fresh`), then checks that running it again converges.
async fn cut_everywhere<F, Fut>(label: &str, total: usize, fresh: F, lambda: bool)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Stack>,
{
    for n in 1..=total {
        let stack = fresh().await;
        let cut = stack.ledgerctl(&["provision"], Some(n));
        assert!(
            !cut.status.success(),
            "{label} step {n} was not interrupted: {cut:?}"
        );
        assert!(
            String::from_utf8_lossy(&cut.stderr).contains("interrupted before"),
            "{cut:?}"
        );
        let rerun = stack.provision();
        let again = stack.provision();
        assert_eq!(
            again["calls"]["mutating"], 0,
            "{label} step {n}: not converged: {rerun} then {again}"
        );
        assert_provisioned(&stack, lambda).await;
    }
}

#[tokio::test]
async fn a_provision_interrupted_at_any_mutating_step_converges_when_run_again() {
    // How many mutating calls a provision from zero makes (the Lambda waits for an image).
    let probe = Stack::new("probe");
    let total = probe.provision()["calls"]["mutating"].as_u64().unwrap() as usize;
    assert!(total >= 25, "{total}");
    cut_everywhere("from zero", total, || async { Stack::new("cut") }, false).await;

    // And the Lambda's steps, once the first image is there.
    probe.push_image().await;
    let lambda_steps = probe.provision()["calls"]["mutating"].as_u64().unwrap() as usize;
    assert_eq!(lambda_steps, 3, "function, permission, notification");
    cut_everywhere(
        "the Lambda",
        lambda_steps,
        || async {
            let stack = Stack::new("cutl");
            stack.provision();
            stack.push_image().await;
            stack
        },
        true,
    )
    .await;
}

#[tokio::test]
async fn destroy_removes_only_the_stacks_own_resources() {
    let doomed = Stack::new("doomed");
    doomed.write("database:\n  deletion_protection: false\n");
    doomed.provision();
    doomed.push_image().await;
    doomed.provision();
    let kept = Stack::new("kept");
    kept.provision();
    kept.push_image().await;
    kept.provision();

    // Receipts in the bucket stop destroy before anything is deleted. The emulator speaks plain
    // HTTP, which the bucket policy refuses: the object goes in with the policy off for a moment.
    let policy = without_bucket_policy(&doomed.bucket()).await;
    s3().await
        .put_object()
        .bucket(doomed.bucket())
        .key("receipts/user/r1.jpg")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"\xff\xd8\xff",
        ))
        .send()
        .await
        .unwrap();
    s3().await
        .put_bucket_policy()
        .bucket(doomed.bucket())
        .policy(policy)
        .send()
        .await
        .unwrap();
    let refused = doomed.ledgerctl(&["destroy", "--yes"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("holds 1 receipt files; copy them first"),
        "{refused:?}"
    );
    assert_eq!(doomed.plan().0, 0, "nothing was deleted");
    // Without --yes, and not at a terminal: nothing happens either.
    let unconfirmed = doomed.ledgerctl(&["destroy", "--delete-receipts"], None);
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains("pass --yes"),
        "{unconfirmed:?}"
    );
    assert_eq!(doomed.plan().0, 0, "nothing was deleted");

    without_bucket_policy(&doomed.bucket()).await;
    let output = doomed.ledgerctl(
        &["destroy", "--yes", "--delete-receipts", "--output", "json"],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["deleted"].as_array().unwrap().len(), 19, "{report}");
    let snapshot = report["final_snapshot"].as_str().unwrap().to_owned();
    assert_nothing_left(&doomed).await;
    let snapshots = aws_sdk_rds::Client::new(&aws().await)
        .describe_db_snapshots()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.db_snapshots().len(),
        1,
        "a final snapshot was kept"
    );

    // Again: nothing left to delete, and that is fine.
    let again = doomed.ledgerctl(&["destroy", "--yes"], None);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to delete"));

    // The other stack is whole; its deletion protection stops its own destroy.
    assert_eq!(kept.plan().0, 0);
    assert_provisioned(&kept, true).await;
    let protected = kept.ledgerctl(&["destroy", "--yes"], None);
    assert!(!protected.status.success());
    assert!(
        String::from_utf8_lossy(&protected.stderr).contains("has deletion protection on"),
        "{protected:?}"
    );
    assert_eq!(kept.plan().0, 0, "nothing of it was deleted");
}

/// Nothing named or tagged for the stack is left in any service it used.
async fn assert_nothing_left(stack: &Stack) {
    let config = aws().await;
    let name = &stack.name;
    let ecr = aws_sdk_ecr::Client::new(&config);
    for suffix in ["api", "ocr"] {
        assert!(
            ecr.describe_repositories()
                .repository_names(format!("{name}-{suffix}"))
                .send()
                .await
                .is_err()
        );
    }
    assert!(
        s3().await
            .head_bucket()
            .bucket(stack.bucket())
            .send()
            .await
            .is_err()
    );
    let iam = aws_sdk_iam::Client::new(&config);
    for suffix in ["lambda", "instance"] {
        assert!(
            iam.get_role()
                .role_name(format!("{name}-{suffix}"))
                .send()
                .await
                .is_err()
        );
    }
    assert!(
        iam.get_instance_profile()
            .instance_profile_name(format!("{name}-instance"))
            .send()
            .await
            .is_err()
    );
    assert!(group_ids(stack).await.is_empty());
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let instances = ec2
        .describe_instances()
        .filters(ec2_filter("tag:ledgerly:stack", &[name]))
        .filters(ec2_filter(
            "instance-state-name",
            &["pending", "running", "stopping", "stopped"],
        ))
        .send()
        .await
        .unwrap();
    assert!(instances.reservations().is_empty(), "{instances:?}");
    let addresses = ec2
        .describe_addresses()
        .filters(ec2_filter("tag:ledgerly:stack", &[name]))
        .send()
        .await
        .unwrap();
    assert!(addresses.addresses().is_empty());
    let keys = ec2
        .describe_key_pairs()
        .filters(ec2_filter("tag:ledgerly:stack", &[name]))
        .send()
        .await
        .unwrap();
    assert!(keys.key_pairs().is_empty());
    let rds = aws_sdk_rds::Client::new(&config);
    assert!(
        rds.describe_db_instances()
            .db_instance_identifier(format!("{name}-db"))
            .send()
            .await
            .is_err()
    );
    assert!(
        rds.describe_db_subnet_groups()
            .db_subnet_group_name(format!("{name}-db"))
            .send()
            .await
            .is_err()
    );
    assert!(
        aws_sdk_lambda::Client::new(&config)
            .get_function()
            .function_name(format!("{name}-ocr"))
            .send()
            .await
            .is_err()
    );
    let ssm = aws_sdk_ssm::Client::new(&config);
    for secret in ["ocr-callback-secret", "db-password", "db-app-password"] {
        assert!(
            ssm.get_parameter()
                .name(format!("/{name}/{secret}"))
                .send()
                .await
                .is_err()
        );
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

/// The first resource provision makes is missing: it stopped before any change.
async fn assert_nothing_created(stack: &Stack) {
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
    assert_nothing_created(&stack).await;
}

#[tokio::test]
async fn a_missing_ssh_key_is_named_before_any_change() {
    let stack = Stack::new("nossh");
    // The public key file is missing: refused before any AWS call.
    let text = std::fs::read_to_string(stack.dir.path().join("ledgerly.yaml")).unwrap();
    stack.write_raw(
        &text.replace(
            &stack
                .dir
                .path()
                .join("id_ed25519.pub")
                .display()
                .to_string(),
            "/nonexistent/id_ed25519.pub",
        ),
    );
    let output = stack.ledgerctl(&["plan"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("instance.key_pair.public_key_file: cannot read /nonexistent/id_ed25519.pub"),
        "{stderr}"
    );
    // A private key given by mistake is refused, and never sent anywhere.
    let private = stack.dir.path().join("id_ed25519");
    std::fs::write(&private, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n").unwrap();
    stack.write_raw(
        &text.replace(
            &stack
                .dir
                .path()
                .join("id_ed25519.pub")
                .display()
                .to_string(),
            &private.display().to_string(),
        ),
    );
    let output = stack.ledgerctl(&["plan"], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not one OpenSSH public key"), "{stderr}");
    assert!(!stderr.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{stderr}");

    // A named key pair that does not exist stops provision before any change.
    stack.write_raw(&text.replace(
        &format!(
            "key_pair:\n    public_key_file: {}",
            stack.dir.path().join("id_ed25519.pub").display()
        ),
        "key_pair:\n    name: nobody-has-this-key",
    ));
    let output = stack.ledgerctl(&["provision"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "instance.key_pair.name: there is no key pair nobody-has-this-key in us-east-1"
        ),
        "{stderr}"
    );
    assert_nothing_created(&stack).await;
}

#[tokio::test]
async fn a_hosted_ocr_backend_gets_its_key_by_parameter_name_never_by_value() {
    let stack = Stack::new("gem");
    let parameter = format!("/{}/gemini-key", stack.name);
    aws_sdk_ssm::Client::new(&aws().await)
        .put_parameter()
        .name(&parameter)
        .value("AIza-operator-key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    stack.write(&format!(
        "ocr:\n  backend: gemini\n  api_key_parameter: {parameter}\n"
    ));
    stack.provision();
    stack.push_image().await;
    let report = stack.provision();
    assert!(
        !report.to_string().contains("AIza-operator-key"),
        "{report}"
    );
    let function = aws_sdk_lambda::Client::new(&aws().await)
        .get_function()
        .function_name(format!("{}-ocr", stack.name))
        .send()
        .await
        .unwrap();
    let environment = function
        .configuration()
        .unwrap()
        .environment()
        .unwrap()
        .variables()
        .unwrap()
        .clone();
    assert_eq!(environment["LEDGERLY__EXTRACTOR__BACKEND"], "gemini");
    assert_eq!(
        environment["LEDGERLY__EXTRACTOR__API_KEY_PARAMETER"],
        parameter
    );
    assert!(
        !environment.values().any(|v| v.contains("AIza")),
        "{environment:?}"
    );
    // The function's role may read it.
    let policy = aws_sdk_iam::Client::new(&aws().await)
        .get_role_policy()
        .role_name(format!("{}-lambda", stack.name))
        .policy_name(format!("{}-lambda", stack.name))
        .send()
        .await
        .unwrap();
    let document = policy.policy_document();
    assert!(
        document.contains(&format!("parameter{parameter}"))
            || document.contains(&format!("parameter%2F{}%2Fgemini-key", stack.name)),
        "{document}"
    );
    assert_eq!(stack.provision()["calls"]["mutating"], 0);
}

/// Starts `ledgerctl tunnel` and returns it with the line it printed.
fn tunnel(stack: &Stack, args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("tunnel")
        .args(args)
        .arg("--config")
        .arg(stack.dir.path().join("ledgerly.yaml"))
        .arg("--endpoint-url")
        .arg(endpoint())
        .args(["--ssh-host", &common::ssh_host()])
        .args(common::ssh_key_args())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[tokio::test]
async fn tunnel_forwards_a_local_port_to_a_service_on_the_instance_and_to_the_database() {
    let stack = Stack::new("tun");
    // Not provisioned yet: no address to reach.
    let output = stack.ledgerctl(&["tunnel", "grafana"], None);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!(
            "the stack {} has no Elastic IP yet; run ledgerctl provision first",
            stack.name
        )),
        "{output:?}"
    );
    stack.provision();

    // A service listening on the instance's loopback (this machine stands in for it).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let remote = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            // The request's first bytes; its content does not matter here.
            let mut request = [0u8; 1024];
            let _read = stream.read(&mut request);
            stream
                .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 9\r\n\r\ntunnel-ok")
                .ok();
        }
    });
    let local = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut child, line) = tunnel(
        &stack,
        &[
            "goaccess",
            "--remote-port",
            &remote.to_string(),
            "--local-port",
            &local.to_string(),
        ],
    );
    assert_eq!(
        line.trim(),
        format!("goaccess: http://127.0.0.1:{local}/ → 127.0.0.1:{remote} on the instance")
    );
    let body = reqwest::get(format!("http://127.0.0.1:{local}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "tunnel-ok");
    child.kill().unwrap();
    child.wait().unwrap();

    // The database: reached through the instance, at the endpoint RDS gives.
    let endpoint = aws_sdk_rds::Client::new(&aws().await)
        .describe_db_instances()
        .db_instance_identifier(format!("{}-db", stack.name))
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .endpoint()
        .unwrap()
        .address()
        .unwrap()
        .to_owned();
    let (mut child, line) = tunnel(&stack, &["db"]);
    assert!(
        line.starts_with("db: postgres://ledgerly@127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(&format!("→ {endpoint}:5432")), "{line}");
    assert!(
        line.contains(&format!("--name /{}/db-password", stack.name)),
        "{line}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Takes the bucket's policy off; what it was. The policy refuses requests not made over TLS,
/// and the emulator, which speaks plain HTTP, applies that refusal to every object request
/// whatever the condition says (its policy evaluation counts an unmet condition as a denial),
/// so objects are put or deleted through it with the policy off.
async fn without_bucket_policy(bucket: &str) -> String {
    let s3 = s3().await;
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_owned();
    // Proof of the refusal the comment above describes.
    let refused = s3
        .put_object()
        .bucket(bucket)
        .key("receipts/probe")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(
        refused
            .unwrap_err()
            .raw_response()
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    policy
}

/// An IAM policy document as IAM returns it (URL-encoded, or not in the emulator), parsed.
fn iam_document(text: &str) -> Value {
    let mut bytes = Vec::new();
    let raw = text.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(byte);
            i += 3;
            continue;
        }
        bytes.push(raw[i]);
        i += 1;
    }
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_github_section_adds_the_oidc_provider_and_a_least_privilege_deploy_role() {
    let stack = Stack::new("gh");
    stack.write("github:\n  repository: acme/ledgerly\n");
    stack.provision();
    let (_, plan) = stack.plan();
    assert!(
        actions(&plan).iter().all(|a| a.starts_with("waiting ")),
        "a second look finds nothing to do but the Lambda waiting for its image: {plan}"
    );

    let iam = aws_sdk_iam::Client::new(&aws().await);
    let provider = iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        )
        .send()
        .await
        .unwrap();
    assert!(
        provider
            .client_id_list()
            .iter()
            .any(|a| a == "sts.amazonaws.com")
    );
    let role_name = format!("{}-github-deploy", stack.name);
    let role = iam.get_role().role_name(&role_name).send().await.unwrap();
    let trust = iam_document(role.role().unwrap().assume_role_policy_document().unwrap());
    let statement = &trust["Statement"][0];
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    assert!(
        statement["Principal"]["Federated"]
            .as_str()
            .unwrap()
            .ends_with(":oidc-provider/token.actions.githubusercontent.com")
    );
    let condition = &statement["Condition"]["StringEquals"];
    assert_eq!(
        condition["token.actions.githubusercontent.com:sub"],
        "repo:acme/ledgerly:environment:production",
        "only this repository's production deploy job: {trust}"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:aud"],
        "sts.amazonaws.com"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:job_workflow_ref"],
        "acme/ledgerly/.github/workflows/release.yml@refs/heads/main",
        "the release workflow as it is on main: {trust}"
    );
    assert_eq!(
        condition["token.actions.githubusercontent.com:ref"],
        "refs/heads/main"
    );
    let names = iam
        .list_role_policies()
        .role_name(&role_name)
        .send()
        .await
        .unwrap();
    let policy = iam
        .get_role_policy()
        .role_name(&role_name)
        .policy_name(&names.policy_names()[0])
        .send()
        .await
        .unwrap();
    let policy = iam_document(policy.policy_document());
    for statement in policy["Statement"].as_array().unwrap() {
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            assert!(!action.contains('*'), "{action}");
            let verb = action.split(':').nth(1).unwrap();
            assert!(
                !["Create", "Delete", "Attach", "Pass", "Terminate", "Run"]
                    .iter()
                    .any(|v| verb.starts_with(v)),
                "the deploy role creates and deletes nothing: {action}"
            );
        }
        if statement["Resource"] == serde_json::json!(["*"]) {
            for action in statement["Action"].as_array().unwrap() {
                let action = action.as_str().unwrap();
                let verb = action.split(':').nth(1).unwrap();
                assert!(
                    verb.starts_with("Describe")
                        || verb.starts_with("List")
                        || action == "ecr:GetAuthorizationToken",
                    "only reads on every resource: {action}"
                );
            }
        }
    }
    // Without the section there is no deploy role (the other stacks' tests), and destroy removes
    // it with the rest, leaving the shared provider.
    stack.write("database:\n  deletion_protection: false\ngithub:\n  repository: acme/ledgerly\n");
    stack.provision();
    let destroyed = stack.ledgerctl(
        &[
            "destroy",
            "--yes",
            "--skip-final-snapshot",
            "--output",
            "json",
        ],
        None,
    );
    assert!(destroyed.status.success(), "{destroyed:?}");
    assert!(iam.get_role().role_name(&role_name).send().await.is_err());
    assert!(
        iam.get_open_id_connect_provider()
            .open_id_connect_provider_arn(
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
            )
            .send()
            .await
            .is_ok()
    );
}
