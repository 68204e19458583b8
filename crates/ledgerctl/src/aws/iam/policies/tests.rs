use super::*;

fn config() -> StackConfig {
    StackConfig::parse(
        "stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\n",
        "test",
    )
    .unwrap()
}

fn targets() -> Targets {
    Targets {
        account: "123456789012".into(),
        region: "ap-south-1".into(),
        bucket: "ledgerly-receipts-123456789012".into(),
        log_bucket: "ledgerly-alb-logs-123456789012".into(),
        repositories: vec!["ledgerly-api".into(), "ledgerly-ocr".into()],
    }
}

/// The stack of [`config`] with `topology: ecs` and a `github` section.
fn ecs_config() -> StackConfig {
    StackConfig::parse(
        "stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\ngithub:\n  repository: acme/ledgerly\n",
        "test",
    )
    .unwrap()
}

#[test]
fn no_statement_allows_every_action_and_only_the_ecr_login_every_resource() {
    for role in [
        lambda_role(&config(), &targets()),
        instance_role(&config(), &targets()),
        instance_role(&ecs_config(), &targets()),
    ] {
        let policy: Value = serde_json::from_str(&role.policy).unwrap();
        for statement in policy["Statement"].as_array().unwrap() {
            let actions = statement["Action"].as_array().unwrap();
            assert!(
                !actions
                    .iter()
                    .any(|a| a == "*" || a.as_str().unwrap().ends_with(":*")),
                "{statement}"
            );
            let resources = statement["Resource"].as_array().unwrap();
            if resources.iter().any(|r| r == "*") {
                assert_eq!(
                    actions,
                    &[json!("ecr:GetAuthorizationToken")],
                    "{statement}"
                );
            }
        }
    }
}

#[test]
fn the_instance_reads_the_access_logs_of_an_ecs_stack_and_nothing_else_of_their_bucket() {
    let log_bucket = "arn:aws:s3:::ledgerly-alb-logs-123456789012";
    let touching = |config: &StackConfig| -> Vec<Value> {
        let policy: Value =
            serde_json::from_str(&instance_role(config, &targets()).policy).unwrap();
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Resource"].to_string().contains(log_bucket))
            .cloned()
            .collect()
    };
    assert!(
        touching(&config()).is_empty(),
        "an instance stack has no access logs"
    );
    let statements = touching(&ecs_config());
    let granted: Vec<(&Value, &Value)> = statements
        .iter()
        .map(|s| (&s["Action"], &s["Resource"]))
        .collect();
    assert_eq!(
        granted,
        [
            (&json!(["s3:ListBucket"]), &json!([log_bucket])),
            (
                &json!(["s3:GetObject"]),
                &json!([format!(
                    "{log_bucket}/api/AWSLogs/123456789012/elasticloadbalancing/ap-south-1/*"
                )])
            ),
        ]
    );
    assert!(
        statements
            .iter()
            .all(|s| s["Effect"] == "Allow" && s.get("Condition").is_none())
    );
}

#[test]
fn the_ecs_roles_and_the_deploy_roles_ecs_part_are_least_privilege() {
    let ecs = ecs_config();
    let github = ecs.github.clone().unwrap();
    for role in [
        task_execution_role(&ecs, &targets()),
        task_role(&ecs, &targets()),
        github_role(&ecs, &targets(), &github),
    ] {
        let policy: Value = serde_json::from_str(&role.policy).unwrap();
        for statement in policy["Statement"].as_array().unwrap() {
            let actions: Vec<&str> = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert!(
                actions.iter().all(|a| !a.contains('*')),
                "{}: {statement}",
                role.name
            );
            // The tasks write their own log streams; the deploy role makes nothing.
            if role.name.ends_with("github-deploy") {
                assert!(
                    actions.iter().all(|a| {
                        let verb = a.split(':').nth(1).unwrap();
                        !verb.starts_with("Create") && !verb.starts_with("Delete")
                    }),
                    "nothing is created or deleted: {statement}"
                );
            }
            if statement["Resource"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "*")
            {
                assert!(
                    actions.iter().all(|a| {
                        let verb = a.split(':').nth(1).unwrap();
                        ["Describe", "List", "Get"]
                            .iter()
                            .any(|p| verb.starts_with(p))
                            || *a == "ecs:RegisterTaskDefinition"
                    }),
                    "only reads (and registering, which has no narrower resource) on every resource: {statement}"
                );
            }
        }
    }
    let deploy: Value =
        serde_json::from_str(&github_role(&ecs, &targets(), &github).policy).unwrap();
    let run = deploy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "RunMigration")
        .unwrap();
    assert_eq!(
        run["Resource"],
        json!(["arn:aws:ecs:ap-south-1:123456789012:task-definition/ledgerly-migrate:*"]),
        "only the migration runs as a one-off task"
    );
    assert_eq!(
        run["Condition"]["ArnEquals"]["ecs:cluster"],
        "arn:aws:ecs:ap-south-1:123456789012:cluster/ledgerly"
    );
    let execution: Value =
        serde_json::from_str(&task_execution_role(&ecs, &targets()).policy).unwrap();
    let secrets = execution["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "Secrets")
        .unwrap();
    assert_eq!(
        secrets["Resource"].as_array().unwrap().len(),
        4,
        "{secrets}"
    );
}

#[test]
fn only_the_release_workflow_on_the_deploy_branch_in_the_environment_may_assume_the_github_role() {
    let config = StackConfig::parse(
        "stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ngithub:\n  repository: acme/ledgerly\n",
        "test",
    )
    .unwrap();
    let github = config.github.clone().unwrap();
    let role = github_role(&config, &targets(), &github);
    let trust: Value = serde_json::from_str(&role.trust).unwrap();
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "one way in: {trust:#}");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
    let conditions = statement["Condition"].as_object().unwrap();
    assert_eq!(
        conditions.keys().collect::<Vec<_>>(),
        ["StringEquals"],
        "exact matches only, no StringLike wildcards: {trust:#}"
    );
    let host = "token.actions.githubusercontent.com";
    let equals = &conditions["StringEquals"];
    assert_eq!(equals[format!("{host}:aud")], "sts.amazonaws.com");
    assert_eq!(
        equals[format!("{host}:sub")],
        "repo:acme/ledgerly:environment:production"
    );
    assert_eq!(equals[format!("{host}:repository")], "acme/ledgerly");
    assert_eq!(equals[format!("{host}:environment")], "production");
    assert_eq!(equals[format!("{host}:ref")], "refs/heads/main");
    assert_eq!(
        equals[format!("{host}:job_workflow_ref")],
        "acme/ledgerly/.github/workflows/release.yml@refs/heads/main"
    );

    let other = StackConfig::parse(
        "stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ngithub:\n  repository: acme/ledgerly\n  environment: prod-eu\n  branch: release/v2\n  workflow: .github/workflows/deploy.yaml\n",
        "test",
    )
    .unwrap();
    let role = github_role(&other, &targets(), other.github.as_ref().unwrap());
    let trust: Value = serde_json::from_str(&role.trust).unwrap();
    let equals = &trust["Statement"][0]["Condition"]["StringEquals"];
    assert_eq!(
        equals[format!("{host}:job_workflow_ref")],
        "acme/ledgerly/.github/workflows/deploy.yaml@refs/heads/release/v2"
    );
    assert_eq!(equals[format!("{host}:ref")], "refs/heads/release/v2");
    for (bad, expected) in [
        ("  branch: '*'\n", "github.branch: `*`"),
        (
            "  branch: refs/heads/main\n",
            "github.branch: `refs/heads/main`",
        ),
        (
            "  workflow: release.yml\n",
            "github.workflow: `release.yml`",
        ),
    ] {
        let err = StackConfig::parse(
            &format!("stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ngithub:\n  repository: acme/ledgerly\n{bad}"),
            "test",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(expected), "{bad}: {err}");
    }
}

#[test]
fn the_deploy_role_reads_the_records_of_the_stacks_hosted_zone_only_when_it_has_one() {
    let route53 = |config: &StackConfig| -> Vec<Value> {
        let github = config.github.clone().unwrap();
        let policy: Value =
            serde_json::from_str(&github_role(config, &targets(), &github).policy).unwrap();
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].to_string().contains("route53:"))
            .cloned()
            .collect()
    };
    assert_eq!(route53(&ecs_config()), Vec::<Value>::new());
    let mut zoned = ecs_config();
    if let Some(ecs) = zoned.ecs.as_mut() {
        ecs.dns.hosted_zone_id = Some("Z0123456789ABC".into());
    }
    assert_eq!(
        route53(&zoned),
        [json!({
            "Sid": "ReadHostedZone",
            "Effect": "Allow",
            "Action": ["route53:ListResourceRecordSets"],
            "Resource": ["arn:aws:route53:::hostedzone/Z0123456789ABC"],
        })]
    );
}

#[test]
fn the_deploy_role_of_an_instance_stack_may_open_ssh_on_its_ssh_group_alone() {
    let config = StackConfig::parse(
        "stack: ledgerly\nregion: ap-south-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ngithub:\n  repository: acme/ledgerly\n",
        "test",
    )
    .unwrap();
    let github = config.github.clone().unwrap();
    let policy: Value =
        serde_json::from_str(&github_role(&config, &targets(), &github).policy).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap();
    let group = by_sid("SshAccessGroup");
    assert_eq!(
        group["Resource"],
        json!(["arn:aws:ec2:ap-south-1:123456789012:security-group/*"])
    );
    assert_eq!(
        group["Condition"]["StringEquals"],
        json!({"aws:ResourceTag/ledgerly:access": "ssh", "aws:ResourceTag/ledgerly:stack": "ledgerly"})
    );
    // Every action on a group is conditioned on that group's tags; the rule-level statements
    // need the group as well (AWS requires it of every one of these actions).
    for statement in statements {
        let actions = statement["Action"].as_array().unwrap();
        if actions.iter().any(|a| {
            a == "ec2:AuthorizeSecurityGroupIngress" || a == "ec2:RevokeSecurityGroupIngress"
        }) {
            let resources = statement["Resource"].as_array().unwrap();
            assert!(
                statement["Condition"].is_object()
                    || resources
                        .iter()
                        .all(|r| r.as_str().unwrap().contains(":security-group-rule/")),
                "{statement}"
            );
        }
    }
    assert_eq!(
        by_sid("SshAccessTags")["Condition"]["StringEquals"]["ec2:CreateAction"],
        json!(["AuthorizeSecurityGroupIngress"])
    );
    // An ECS stack's release job needs no SSH.
    let ecs = ecs_config();
    let policy: Value =
        serde_json::from_str(&github_role(&ecs, &targets(), &ecs.github.clone().unwrap()).policy)
            .unwrap();
    assert!(!policy.to_string().contains("SshAccess"), "{policy:#}");
}
