//! What the roles trust and allow. Least privilege: no `"Action": "*"`, and `"Resource": "*"`
//! only for `ecr:GetAuthorizationToken`, which has no narrower resource, and for the describe
//! calls the deploy role reads the stack with (EC2's and RDS's have no resource-level
//! permissions).

use serde_json::{Value, json};

use super::{Role, Targets};
use crate::aws::s3::access_logs;
use crate::stack::StackConfig;

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

mod github;
#[cfg(test)]
mod tests;

pub(super) use github::github_role;
