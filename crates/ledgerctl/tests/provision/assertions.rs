//! What a provisioned, destroyed or refused stack must look like in the emulator.

use serde_json::Value;

use crate::fixtures::*;

/// Every property the stack file asks for, read back through the SDK.
pub(crate) async fn assert_provisioned(stack: &Stack, lambda: bool) {
    assert_storage_and_access(stack).await;
    assert_compute(stack).await;
    if lambda {
        assert_lambda(stack).await;
    }
}

/// The database, the instance, its key pair and address, read back through the SDK.
pub(crate) async fn assert_compute(stack: &Stack) {
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
    let password = stack_parameter(&stack.name, "db-password").await;
    assert_eq!(
        password.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    assert_eq!(password.value().unwrap().len(), 48);
    // The API's role has a password of its own: it never gets the master one.
    let app_password = stack_parameter(&stack.name, "db-app-password").await;
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
        script.contains(include_str!("../../../../templates/metadata-guard.sh").trim_end()),
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
pub(crate) async fn assert_lambda(stack: &Stack) {
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
pub(crate) async fn assert_storage_and_access(stack: &Stack) {
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
    // Versioned, earlier versions let go after 30 days, bare delete markers cleared.
    let versioning = s3
        .get_bucket_versioning()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        versioning.status(),
        Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled)
    );
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let ours = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("ledgerly-keep-deleted"))
        .unwrap_or_else(|| panic!("no rule of ours: {lifecycle:?}"));
    assert_eq!(
        ours.noncurrent_version_expiration()
            .unwrap()
            .noncurrent_days(),
        Some(30)
    );
    assert_eq!(
        ours.expiration().unwrap().expired_object_delete_marker(),
        Some(true)
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
    // With `topology: ecs`, the API's tasks reach the database too.
    let mut db = vec![format!("5432 {web_id}")];
    if let Some(tasks) = by_name.get(format!("{}-tasks", stack.name).as_str()) {
        db.push(format!("5432 {}", tasks.group_id().unwrap()));
        db.sort();
    }
    assert_eq!(rules("db"), db);
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

/// Nothing named or tagged for the stack is left in any service it used.
pub(crate) async fn assert_nothing_left(stack: &Stack) {
    let config = aws().await;
    let name = &stack.name;
    let ecr = aws_sdk_ecr::Client::new(&config);
    for suffix in ["api", "ocr"] {
        let repository = format!("{name}-{suffix}");
        let read = ecr.describe_repositories().repository_names(&repository);
        assert_absent(repository, read.send()).await;
    }
    assert_absent(
        stack.bucket(),
        s3().await.head_bucket().bucket(stack.bucket()).send(),
    )
    .await;
    let iam = aws_sdk_iam::Client::new(&config);
    for suffix in ["lambda", "instance"] {
        let role = format!("{name}-{suffix}");
        assert_absent(&role, iam.get_role().role_name(&role).send()).await;
    }
    let profile = format!("{name}-instance");
    let read = iam.get_instance_profile().instance_profile_name(&profile);
    assert_absent(profile, read.send()).await;
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
    let database = format!("{name}-db");
    let read = rds
        .describe_db_instances()
        .db_instance_identifier(&database);
    assert_absent(&database, read.send()).await;
    let read = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(&database);
    assert_absent(format!("the subnet group {database}"), read.send()).await;
    let function = format!("{name}-ocr");
    let lambda = aws_sdk_lambda::Client::new(&config);
    assert_absent(
        &function,
        lambda.get_function().function_name(&function).send(),
    )
    .await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    for secret in ["ocr-callback-secret", "db-password", "db-app-password"] {
        let parameter = format!("/{name}/{secret}");
        assert_absent(&parameter, ssm.get_parameter().name(&parameter).send()).await;
    }
}

/// The first resource provision makes is missing: it stopped before any change.
pub(crate) async fn assert_nothing_created(stack: &Stack) {
    let ecr = aws_sdk_ecr::Client::new(&aws().await);
    let repository = format!("{}-api", stack.name);
    let read = ecr.describe_repositories().repository_names(&repository);
    assert_absent(repository, read.send()).await;
}
