//! The GitHub deploy role: what the release workflow may do with its OIDC token alone, the ECS
//! path's calls included.

use serde_json::{Value, json};

use super::super::{Role, Targets};
use super::statement;
use crate::aws::{access, oidc};
use crate::stack::StackConfig;
use crate::stack::config::GithubConfig;
use crate::stack::config::STACK_TAG;

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
pub(in crate::aws::iam) fn github_role(
    config: &StackConfig,
    targets: &Targets,
    github: &GithubConfig,
) -> Role {
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
    } else {
        statements.extend(ssh_access_statements(config, targets));
        // The survey status takes reads the domain's record in the zone.
        if let Some(zone) = &config.dns.hosted_zone_id {
            statements.push(statement(
                "ReadHostedZone",
                &["route53:ListResourceRecordSets"],
                vec![format!("arn:aws:route53:::hostedzone/{zone}")],
            ));
        }
    }
    Role {
        name: github_role_name(config),
        trust,
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// What `ledgerctl access open` and `close` need on an instance stack, so that the release job
/// can reach the instance over SSH from its runner's address: adding and removing ingress rules
/// on the stack's `ssh` group alone (the one tagged [`access::GROUP_TAG`] and the stack's tag),
/// and tagging the rules it adds as it adds them.
fn ssh_access_statements(config: &StackConfig, targets: &Targets) -> Vec<Value> {
    let Targets {
        account, region, ..
    } = targets;
    let (group_key, group_value) = access::GROUP_TAG;
    vec![
        json!({
            "Sid": "SshAccessGroup",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:ModifySecurityGroupRules",
            ],
            "Resource": [format!("arn:aws:ec2:{region}:{account}:security-group/*")],
            "Condition": {
                "StringEquals": {
                    format!("aws:ResourceTag/{group_key}"): group_value,
                    format!("aws:ResourceTag/{STACK_TAG}"): config.stack,
                }
            }
        }),
        statement(
            "SshAccessRules",
            &[
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:ModifySecurityGroupRules",
            ],
            vec![format!(
                "arn:aws:ec2:{region}:{account}:security-group-rule/*"
            )],
        ),
        json!({
            "Sid": "SshAccessTags",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": [format!("arn:aws:ec2:{region}:{account}:security-group-rule/*")],
            "Condition": {
                "StringEquals": {
                    "ec2:CreateAction": [
                        "AuthorizeSecurityGroupIngress",
                    ],
                }
            }
        }),
        // A grant made to last longer is tagged again: the stack's rules alone.
        json!({
            "Sid": "SshAccessRetag",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": [format!("arn:aws:ec2:{region}:{account}:security-group-rule/*")],
            "Condition": {
                "StringEquals": {
                    format!("aws:ResourceTag/{STACK_TAG}"): config.stack,
                }
            }
        }),
    ]
}

/// What an ECS deploy and `status` add to the deploy role: read the ECS kinds; register the
/// stack's task definitions (tagged) and pass them its two task roles; run the migration task in
/// the stack's cluster and follow it and its logs; point the service at a new revision; write
/// the API's database URL; read the access-log bucket's settings and, with a hosted zone, its
/// records (the certificate's validation records, the domain's alias), as the survey that deploy
/// and `status` take does. Creating the service (the first deploy) is provision's, and not
/// allowed here.
fn ecs_deploy_statements(config: &StackConfig, targets: &Targets) -> Vec<Value> {
    let Targets {
        account, region, ..
    } = targets;
    let stack = &config.stack;
    let cluster = format!("arn:aws:ecs:{region}:{account}:cluster/{stack}");
    let in_cluster = json!({ "ArnEquals": { "ecs:cluster": cluster } });
    let conditioned = |sid: &str, actions: &[&str], resources: Vec<String>, condition: &Value| json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, "Condition": condition });
    let mut statements = vec![
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
    ];
    if let Some(zone) = config
        .ecs
        .as_ref()
        .and_then(|e| e.dns.hosted_zone_id.as_ref())
    {
        statements.push(statement(
            "ReadHostedZone",
            &["route53:ListResourceRecordSets"],
            vec![format!("arn:aws:route53:::hostedzone/{zone}")],
        ));
    }
    statements
}
