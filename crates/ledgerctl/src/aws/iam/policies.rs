//! What the roles trust and allow. Least privilege: no `"Action": "*"`, and `"Resource": "*"`
//! only for `ecr:GetAuthorizationToken`, which has no narrower resource, and for the describe
//! calls the deploy role reads the stack with (EC2's and RDS's have no resource-level
//! permissions).

use serde_json::{Value, json};

use super::{Role, Targets};
use crate::aws::oidc;
use crate::aws::s3::access_logs;
use crate::stack::StackConfig;
use crate::stack::config::GithubConfig;

fn trust(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// The Lambda's role: read receipts, write its own logs, read its secrets.
pub(super) fn lambda_role(config: &StackConfig, targets: &Targets) -> Role {
    let Targets {
        account, region, ..
    } = targets;
    let function = config.name("ocr");
    let mut statements = vec![
        statement(
            "ReadReceipts",
            &["s3:GetObject"],
            vec![format!("arn:aws:s3:::{}/receipts/*", targets.bucket)],
        ),
        statement(
            "Logs",
            &[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            vec![
                format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}"),
                format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}:*"),
            ],
        ),
    ];
    statements.push(statement(
        "Secrets",
        &["ssm:GetParameter"],
        secret_parameters(config)
            .iter()
            .map(|p| format!("arn:aws:ssm:{region}:{account}:parameter{p}"))
            .collect(),
    ));
    Role {
        name: config.name("lambda"),
        trust: trust("lambda.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// The SSM parameters the stack's processes read.
fn secret_parameters(config: &StackConfig) -> Vec<String> {
    let mut parameters = vec![
        config
            .ocr
            .callback_secret_parameter
            .clone()
            .unwrap_or_else(|| format!("/{}/ocr-callback-secret", config.stack)),
    ];
    parameters.extend(config.ocr.api_key_parameter.clone());
    parameters
}

/// The instance's role: the receipts (read, write, delete, and the bucket's existence for
/// readiness), pulling its images, and the stack's parameters; with `topology: ecs`, reading
/// the load balancer's access logs too (GoAccess there reports on them).
pub(super) fn instance_role(config: &StackConfig, targets: &Targets) -> Role {
    let Targets {
        account, region, ..
    } = targets;
    let mut statements = vec![
        statement(
            "Receipts",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![format!("arn:aws:s3:::{}/receipts/*", targets.bucket)],
        ),
        statement(
            "Bucket",
            &["s3:ListBucket"],
            vec![format!("arn:aws:s3:::{}", targets.bucket)],
        ),
        // The only ECR action with no narrower resource.
        statement("EcrLogin", &["ecr:GetAuthorizationToken"], vec!["*".into()]),
        statement(
            "EcrPull",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            targets
                .repositories
                .iter()
                .map(|r| format!("arn:aws:ecr:{region}:{account}:repository/{r}"))
                .collect(),
        ),
        statement(
            "Parameters",
            &[
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParametersByPath",
            ],
            vec![format!(
                "arn:aws:ssm:{region}:{account}:parameter/{}/*",
                config.stack
            )],
        ),
    ];
    if config.ecs.is_some() {
        statements.extend(access_log_statements(targets));
    }
    Role {
        name: config.name("instance"),
        trust: trust("ec2.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: true,
        tags: config.tags(),
    }
}

/// Reading the load balancer's access logs: listing their bucket, and getting the objects under
/// the prefix they land in — nothing else of it.
fn access_log_statements(targets: &Targets) -> [Value; 2] {
    let Targets {
        account,
        region,
        log_bucket,
        ..
    } = targets;
    [
        statement(
            "AccessLogsList",
            &["s3:ListBucket"],
            vec![format!("arn:aws:s3:::{log_bucket}")],
        ),
        statement(
            "AccessLogsRead",
            &["s3:GetObject"],
            vec![format!(
                "arn:aws:s3:::{log_bucket}/{}*",
                access_logs::key_prefix(account, region)
            )],
        ),
    ]
}

/// The ECS task execution role (`topology: ecs`): what ECS itself does to start the API's
/// tasks and the one-off migration task — pull the API image, write their log streams, and
/// read the SSM parameters their task definitions name as secrets.
pub(super) fn task_execution_role(config: &StackConfig, targets: &Targets) -> Role {
    let Targets {
        account, region, ..
    } = targets;
    let log_group = crate::aws::logs::name(config);
    let statements = vec![
        // The only ECR action with no narrower resource.
        statement("EcrLogin", &["ecr:GetAuthorizationToken"], vec!["*".into()]),
        statement(
            "EcrPull",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            vec![format!(
                "arn:aws:ecr:{region}:{account}:repository/{}",
                targets.repositories[0]
            )],
        ),
        statement(
            "Logs",
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![format!(
                "arn:aws:logs:{region}:{account}:log-group:{log_group}:*"
            )],
        ),
        statement(
            "Secrets",
            &["ssm:GetParameters"],
            task_secret_parameters(config)
                .iter()
                .map(|p| format!("arn:aws:ssm:{region}:{account}:parameter{p}"))
                .collect(),
        ),
    ];
    Role {
        name: config.name("task-execution"),
        trust: trust("ecs-tasks.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// The SSM parameters the API's and the migration's task definitions name as secrets.
fn task_secret_parameters(config: &StackConfig) -> Vec<String> {
    let mut parameters = secret_parameters(config);
    parameters.extend(
        ["api-database-url", "db-password", "db-app-password"]
            .map(|name| format!("/{}/{name}", config.stack)),
    );
    parameters
}

/// The API task's role (`topology: ecs`): what the API's own code calls — the receipts, and
/// the bucket's existence for readiness. As the instance role's, without ECR or SSM (ECS hands
/// the task its secrets).
pub(super) fn task_role(config: &StackConfig, targets: &Targets) -> Role {
    let statements = vec![
        statement(
            "Receipts",
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![format!("arn:aws:s3:::{}/receipts/*", targets.bucket)],
        ),
        statement(
            "Bucket",
            &["s3:ListBucket"],
            vec![format!("arn:aws:s3:::{}", targets.bucket)],
        ),
    ];
    Role {
        name: config.name("task"),
        trust: trust("ecs-tasks.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// The name of the role GitHub Actions deploys with.
fn github_role_name(config: &StackConfig) -> String {
    config.name("github-deploy")
}

/// The role the release workflow assumes with GitHub's OIDC token: trusted only for a job of the
/// configured repository running in its environment, from the release workflow as it is on the
/// deploy branch, for a run on that branch (STS checks GitHub's `ref` and `job_workflow_ref`
/// claims beside `sub`, so a manual run started on another branch, or another workflow given
/// the environment, gets nothing); allowed what `deploy` and `status` do on this stack —
/// read it, push its two images, point its function at a new image, read its parameters and
/// write its release history — and nothing that creates or deletes a resource.
pub(super) fn github_role(config: &StackConfig, targets: &Targets, github: &GithubConfig) -> Role {
    let Targets {
        account, region, ..
    } = targets;
    let host = oidc::HOST;
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": oidc::arn(account) },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{host}:aud"): oidc::AUDIENCE,
                    format!("{host}:sub"): format!(
                        "repo:{}:environment:{}",
                        github.repository, github.environment
                    ),
                    format!("{host}:repository"): github.repository,
                    format!("{host}:environment"): github.environment,
                    format!("{host}:ref"): format!("refs/heads/{}", github.branch),
                    format!("{host}:job_workflow_ref"): format!(
                        "{}/{}@refs/heads/{}",
                        github.repository, github.workflow, github.branch
                    ),
                }
            }
        }]
    })
    .to_string();
    let repositories: Vec<String> = targets
        .repositories
        .iter()
        .map(|r| format!("arn:aws:ecr:{region}:{account}:repository/{r}"))
        .collect();
    let function = format!(
        "arn:aws:lambda:{region}:{account}:function:{}",
        config.name("ocr")
    );
    let parameters = format!(
        "arn:aws:ssm:{region}:{account}:parameter/{}/*",
        config.stack
    );
    let mut statements = vec![
        // Describe calls have no resource-level permissions in EC2 and RDS.
        statement(
            "ReadStack",
            &[
                "ec2:DescribeAddresses",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeKeyPairs",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "rds:DescribeDBInstances",
                "rds:DescribeDBSubnetGroups",
                "rds:ListTagsForResource",
                "ecr:DescribeRepositories",
                "ssm:DescribeParameters",
            ],
            vec!["*".into()],
        ),
        statement(
            "ReadIam",
            &[
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListRoleTags",
                "iam:GetInstanceProfile",
                "iam:GetOpenIDConnectProvider",
            ],
            vec![
                format!("arn:aws:iam::{account}:role/{}-*", config.stack),
                format!("arn:aws:iam::{account}:instance-profile/{}-*", config.stack),
                oidc::arn(account),
            ],
        ),
        statement(
            "ReadBucket",
            &[
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetLifecycleConfiguration",
                "s3:GetBucketCORS",
                "s3:GetBucketNotification",
                "s3:GetBucketPolicy",
                "s3:GetBucketOwnershipControls",
                "s3:ListBucket",
            ],
            vec![format!("arn:aws:s3:::{}", targets.bucket)],
        ),
        statement("EcrLogin", &["ecr:GetAuthorizationToken"], vec!["*".into()]),
        statement(
            "EcrPush",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:InitiateLayerUpload",
                "ecr:ListTagsForResource",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            repositories,
        ),
        statement(
            "Function",
            &[
                "lambda:GetFunction",
                "lambda:GetPolicy",
                "lambda:UpdateFunctionCode",
            ],
            vec![function],
        ),
        statement(
            "Parameters",
            &["ssm:GetParameter", "ssm:ListTagsForResource"],
            vec![parameters],
        ),
        statement(
            "Releases",
            &["ssm:PutParameter", "ssm:AddTagsToResource"],
            vec![
                format!(
                    "arn:aws:ssm:{region}:{account}:parameter/{}/releases",
                    config.stack
                ),
                format!(
                    "arn:aws:ssm:{region}:{account}:parameter/{}/ssh-host-keys",
                    config.stack
                ),
                format!(
                    "arn:aws:ssm:{region}:{account}:parameter/{}/images",
                    config.stack
                ),
            ],
        ),
        // The instance's SSH host keys, from its console output.
        statement(
            "HostKeys",
            &["ec2:GetConsoleOutput"],
            vec![format!("arn:aws:ec2:{region}:{account}:instance/*")],
        ),
    ];
    if config.ecs.is_some() {
        statements.extend(ecs_deploy_statements(config, targets));
    }
    Role {
        name: github_role_name(config),
        trust,
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// What an ECS deploy and `status` add to the deploy role: read the ECS kinds; register the
/// stack's task definitions (tagged) and pass them its two task roles; run the migration task in
/// the stack's cluster and follow it and its logs; point the service at a new revision; write
/// the API's database URL; read the access-log bucket's settings, as the survey that deploy and
/// `status` take does. Creating the service (the first deploy) is provision's, and not allowed
/// here.
fn ecs_deploy_statements(config: &StackConfig, targets: &Targets) -> Vec<Value> {
    let Targets {
        account, region, ..
    } = targets;
    let stack = &config.stack;
    let cluster = format!("arn:aws:ecs:{region}:{account}:cluster/{stack}");
    let in_cluster = json!({ "ArnEquals": { "ecs:cluster": cluster } });
    let conditioned = |sid: &str, actions: &[&str], resources: Vec<String>, condition: &Value| json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, "Condition": condition });
    vec![
        // Reads with no narrower resource (Describe/List calls of these services).
        statement(
            "ReadEcsStack",
            &[
                "ecs:DescribeTaskDefinition",
                "ecs:ListTaskDefinitions",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
                "acm:DescribeCertificate",
                "acm:ListCertificates",
                "acm:ListTagsForCertificate",
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "servicediscovery:GetService",
                "servicediscovery:ListNamespaces",
                "servicediscovery:ListServices",
                "servicediscovery:ListTagsForResource",
                "logs:DescribeLogGroups",
            ],
            vec!["*".into()],
        ),
        // Registering has no narrower resource; the revision is tagged as it is registered.
        statement(
            "RegisterTaskDefinitions",
            &["ecs:RegisterTaskDefinition"],
            vec!["*".into()],
        ),
        statement(
            "TagTaskDefinitions",
            &["ecs:TagResource"],
            vec![
                format!("arn:aws:ecs:{region}:{account}:task-definition/{stack}-api:*"),
                format!("arn:aws:ecs:{region}:{account}:task-definition/{stack}-migrate:*"),
            ],
        ),
        statement(
            "PassTaskRoles",
            &["iam:PassRole"],
            vec![
                format!("arn:aws:iam::{account}:role/{stack}-task-execution"),
                format!("arn:aws:iam::{account}:role/{stack}-task"),
            ],
        ),
        conditioned(
            "RunMigration",
            &["ecs:RunTask"],
            vec![format!(
                "arn:aws:ecs:{region}:{account}:task-definition/{stack}-migrate:*"
            )],
            &in_cluster,
        ),
        conditioned(
            "FollowTasks",
            &["ecs:DescribeTasks", "ecs:StopTask", "ecs:ListTasks"],
            vec![
                format!("arn:aws:ecs:{region}:{account}:task/{stack}/*"),
                format!("arn:aws:ecs:{region}:{account}:container-instance/{stack}/*"),
            ],
            &in_cluster,
        ),
        statement(
            "Service",
            &[
                "ecs:DescribeClusters",
                "ecs:DescribeServices",
                "ecs:UpdateService",
                "ecs:ListTagsForResource",
            ],
            vec![
                cluster.clone(),
                format!("arn:aws:ecs:{region}:{account}:service/{stack}/api"),
            ],
        ),
        statement(
            "TaskLogs",
            &[
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
                "logs:ListTagsForResource",
            ],
            vec![format!(
                "arn:aws:logs:{region}:{account}:log-group:/ledgerly/{stack}/api:*"
            )],
        ),
        statement(
            "ReadLogBucket",
            &[
                "s3:GetBucketTagging",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetLifecycleConfiguration",
                "s3:GetBucketPolicy",
                "s3:GetBucketOwnershipControls",
                "s3:ListBucket",
            ],
            vec![format!("arn:aws:s3:::{}", targets.log_bucket)],
        ),
        statement(
            "ApiDatabaseUrl",
            &["ssm:PutParameter", "ssm:AddTagsToResource"],
            vec![format!(
                "arn:aws:ssm:{region}:{account}:parameter/{stack}/api-database-url"
            )],
        ),
    ]
}

#[cfg(test)]
mod tests {
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
    fn only_the_release_workflow_on_the_deploy_branch_in_the_environment_may_assume_the_github_role()
     {
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
}
