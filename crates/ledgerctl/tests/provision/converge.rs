//! From zero, again, after drift, and after an interruption at every mutating step.

use serde_json::Value;

use crate::assertions::*;
use crate::fixtures::*;

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

    let secret = || stack_parameter(&stack.name, "ocr-callback-secret");
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
    let output = stack.ledgerctl(&["provision", "--auto-approve"], None);
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
    // Versioning suspended, and the lifecycle rules replaced by someone's own.
    s3().await
        .put_bucket_versioning()
        .bucket(stack.bucket())
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let theirs = aws_sdk_s3::types::LifecycleRule::builder()
        .id("exports-expire")
        .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
        .filter(
            aws_sdk_s3::types::LifecycleRuleFilter::builder()
                .prefix("exports/")
                .build(),
        )
        .expiration(
            aws_sdk_s3::types::LifecycleExpiration::builder()
                .days(7)
                .build(),
        )
        .build()
        .unwrap();
    s3().await
        .put_bucket_lifecycle_configuration()
        .bucket(stack.bucket())
        .lifecycle_configuration(
            aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                .rules(theirs)
                .build()
                .unwrap(),
        )
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
        r#""field":"versioning","from":"false","to":"true""#,
        r#""field":"keep_deleted_days","from":"(none)","to":"30""#,
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
    let rules = s3()
        .await
        .get_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(
        rules
            .rules()
            .iter()
            .any(|r| r.id() == Some("exports-expire")),
        "the lifecycle rule people added is kept: {rules:?}"
    );

    // A changed setting in the stack file is drift too.
    stack.write("lambda:\n  memory_mb: 2048\n");
    std::fs::write(
        stack.path("ledgerly.yaml"),
        std::fs::read_to_string(stack.path("ledgerly.yaml"))
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
    let file = stack.path("ledgerly.yaml");
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
pub(crate) async fn cut_everywhere<F, Fut>(label: &str, total: usize, fresh: F, lambda: bool)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Stack>,
{
    for n in 1..=total {
        let stack = fresh().await;
        let cut = stack.ledgerctl(&["provision", "--auto-approve"], Some(n));
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
