//! IAM: the Lambda's role and the instance's role with its instance profile. Least privilege,
//! inline: no managed policy is attached (one attached out of band is drift, and removed), no
//! `"Action": "*"`, and `"Resource": "*"` only for `ecr:GetAuthorizationToken`, which has no
//! narrower resource.
//!
//! Over 500 lines: three roles and their policies in one module, until the resource kinds share one
//! trait and each role gets a module of its own.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_iam::types::Tag;
use serde_json::{Value, json};

use super::{Aws, sdk_error};
use crate::stack::{Change, Diff, ResourceChange, StackConfig, canonical_json};

pub(crate) const ROLE: &str = "iam role";

/// What the roles may reach.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) bucket: String,
    pub(crate) repositories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    pub(crate) trust: String,
    pub(crate) policy: String,
    /// The instance profile carrying the role, for the instance's.
    pub(crate) instance_profile: bool,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    pub(crate) trust: String,
    pub(crate) policy: Option<String>,
    pub(crate) managed_policies: Vec<String>,
    pub(crate) tags: BTreeMap<String, String>,
    /// `None`: no instance profile; otherwise the roles in it.
    pub(crate) profile_roles: Option<Vec<String>>,
}

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
pub(crate) fn lambda_role(config: &StackConfig, targets: &Targets) -> Desired {
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
    Desired {
        name: config.name("lambda"),
        trust: trust("lambda.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// The SSM parameters the stack's processes read.
pub(crate) fn secret_parameters(config: &StackConfig) -> Vec<String> {
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
/// readiness), pulling its images, and the stack's parameters.
pub(crate) fn instance_role(config: &StackConfig, targets: &Targets) -> Desired {
    let Targets {
        account, region, ..
    } = targets;
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
    Desired {
        name: config.name("instance"),
        trust: trust("ec2.amazonaws.com"),
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: true,
        tags: config.tags(),
    }
}

/// The name of the role GitHub Actions deploys with.
pub(crate) fn github_role_name(config: &StackConfig) -> String {
    config.name("github-deploy")
}

/// The role the release workflow assumes with GitHub's OIDC token: trusted only for a job of the
/// configured repository running in its environment, from the release workflow as it is on the
/// deploy branch, for a run on that branch (STS checks GitHub's `ref` and `job_workflow_ref`
/// claims beside `sub`, so a manual run started on another branch, or another workflow given
/// the environment, gets nothing); allowed what `deploy` and `status` do on this stack —
/// read it, push its two images, point its function at a new image, read its parameters and
/// write its release history — and nothing that creates or deletes a resource.
pub(crate) fn github_role(
    config: &StackConfig,
    targets: &Targets,
    github: &crate::stack::config::GithubConfig,
) -> Desired {
    let Targets {
        account, region, ..
    } = targets;
    let host = super::oidc::HOST;
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": super::oidc::arn(account) },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{host}:aud"): super::oidc::AUDIENCE,
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
    let statements = vec![
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
                super::oidc::arn(account),
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
    Desired {
        name: github_role_name(config),
        trust,
        policy: json!({ "Version": "2012-10-17", "Statement": statements }).to_string(),
        instance_profile: false,
        tags: config.tags(),
    }
}

/// IAM returns policy documents URL-encoded.
fn url_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn document(text: &str) -> String {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        url_decoded(text)
    };
    canonical_json(&decoded)
}

pub(crate) async fn observe(aws: &Aws, desired: &Desired) -> anyhow::Result<Option<Observed>> {
    let name = &desired.name;
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(reply) => reply.role.context("GetRole answered without the role")?,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(sdk_error(format!("reading the role {name}"))(err)),
    };
    let policy = match aws
        .iam
        .get_role_policy()
        .role_name(name)
        .policy_name(name)
        .send()
        .await
    {
        Ok(reply) => Some(document(reply.policy_document())),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            None
        }
        Err(err) => return Err(sdk_error(format!("reading {name}'s policy"))(err)),
    };
    let managed_policies = aws
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(sdk_error(format!("listing {name}'s attached policies")))?
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect();
    let tags = aws
        .iam
        .list_role_tags()
        .role_name(name)
        .send()
        .await
        .map_err(sdk_error(format!("listing {name}'s tags")))?
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    let profile_roles = if desired.instance_profile {
        match aws
            .iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
        {
            Ok(reply) => Some(
                reply
                    .instance_profile()
                    .map(|p| p.roles().iter().map(|r| r.role_name().to_owned()).collect())
                    .unwrap_or_default(),
            ),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                None
            }
            Err(err) => {
                return Err(sdk_error(format!("reading the instance profile {name}"))(
                    err,
                ));
            }
        }
    } else {
        None
    };
    Ok(Some(Observed {
        trust: role
            .assume_role_policy_document()
            .map(document)
            .unwrap_or_default(),
        policy,
        managed_policies,
        tags,
        profile_roles,
    }))
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            diff.field("trust_policy", &have.trust, canonical_json(&desired.trust));
            diff.field(
                "inline_policy",
                have.policy.as_deref().unwrap_or("(none)"),
                canonical_json(&desired.policy),
            );
            diff.field(
                "managed_policies",
                if have.managed_policies.is_empty() {
                    "(none)".to_owned()
                } else {
                    have.managed_policies.join(",")
                },
                "(none)",
            );
            if desired.instance_profile {
                let shown = |roles: &Option<Vec<String>>| match roles {
                    None => "(no instance profile)".to_owned(),
                    Some(roles) => format!("[{}]", roles.join(",")),
                };
                diff.field(
                    "instance_profile",
                    shown(&have.profile_roles),
                    shown(&Some(vec![desired.name.clone()])),
                );
            }
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: ROLE,
        name: desired.name.clone(),
        change,
    }
}

/// The stack's tags as this SDK's type.
pub(super) fn tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .context("building a tag")
        })
        .collect()
}

/// Makes the role (and its instance profile) what `desired` says, changing only what differs.
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    let name = &desired.name;
    let observed = match observed {
        Some(observed) => observed.clone(),
        None => {
            match aws
                .iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(&desired.trust)
                .description(format!(
                    "Ledgerly stack {}",
                    desired
                        .tags
                        .get(crate::stack::config::STACK_TAG)
                        .map_or("", String::as_str)
                ))
                .set_tags(Some(tags(&desired.tags)?))
                .send()
                .await
            {
                Ok(_) => {}
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_entity_already_exists_exception()) => {}
                Err(err) => return Err(sdk_error(format!("creating the role {name}"))(err)),
            }
            Observed {
                trust: canonical_json(&desired.trust),
                tags: desired.tags.clone(),
                ..Observed::default()
            }
        }
    };
    if observed.trust != canonical_json(&desired.trust) {
        aws.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(&desired.trust)
            .send()
            .await
            .map_err(sdk_error(format!("setting {name}'s trust policy")))?;
    }
    if observed.policy.as_deref() != Some(canonical_json(&desired.policy).as_str()) {
        aws.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(name)
            .policy_document(&desired.policy)
            .send()
            .await
            .map_err(sdk_error(format!("setting {name}'s policy")))?;
    }
    for arn in &observed.managed_policies {
        aws.iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(sdk_error(format!("detaching {arn} from {name}")))?;
    }
    if crate::stack::tags_missing(&desired.tags, &observed.tags) {
        aws.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(tags(&desired.tags)?))
            .send()
            .await
            .map_err(sdk_error(format!("tagging {name}")))?;
    }
    if desired.instance_profile {
        let roles = match &observed.profile_roles {
            Some(roles) => roles.clone(),
            None => {
                match aws
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(name)
                    .set_tags(Some(tags(&desired.tags)?))
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(err)
                        if err
                            .as_service_error()
                            .is_some_and(|e| e.is_entity_already_exists_exception()) => {}
                    Err(err) => {
                        return Err(sdk_error(format!("creating the instance profile {name}"))(
                            err,
                        ));
                    }
                }
                Vec::new()
            }
        };
        for other in roles.iter().filter(|r| *r != name) {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(other)
                .send()
                .await
                .map_err(sdk_error(format!(
                    "removing {other} from the instance profile {name}"
                )))?;
        }
        if !roles.contains(name) {
            aws.iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(name)
                .send()
                .await
                .map_err(sdk_error(format!("adding {name} to its instance profile")))?;
        }
    }
    Ok(())
}

/// Deletes the role with its inline policy, any attached policy and its instance profile;
/// whether it was there.
pub(crate) async fn delete(
    aws: &Aws,
    config: &StackConfig,
    desired: &Desired,
) -> anyhow::Result<bool> {
    let name = &desired.name;
    let Some(have) = observe(aws, desired).await? else {
        return Ok(false);
    };
    super::ensure_owned(&have.tags, config, format_args!("the role {name}"))?;
    if have.profile_roles.is_some() {
        for role in have.profile_roles.iter().flatten() {
            if let Err(err) = aws
                .iam
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(role)
                .send()
                .await
                && !err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception())
            {
                return Err(sdk_error(format!("emptying the instance profile {name}"))(
                    err,
                ));
            }
        }
        if let Err(err) = aws
            .iam
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            && !err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception())
        {
            return Err(sdk_error(format!("deleting the instance profile {name}"))(
                err,
            ));
        }
    }
    for arn in &have.managed_policies {
        if let Err(err) = aws
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            && !err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception())
        {
            return Err(sdk_error(format!("detaching {arn} from {name}"))(err));
        }
    }
    if have.policy.is_some()
        && let Err(err) = aws
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(name)
            .send()
            .await
        && !err
            .as_service_error()
            .is_some_and(|e| e.is_no_such_entity_exception())
    {
        return Err(sdk_error(format!("deleting {name}'s policy"))(err));
    }
    match aws.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(sdk_error(format!("deleting the role {name}"))(err)),
    }
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
            repositories: vec!["ledgerly-api".into(), "ledgerly-ocr".into()],
        }
    }

    #[test]
    fn no_statement_allows_every_action_and_only_the_ecr_login_every_resource() {
        for role in [
            lambda_role(&config(), &targets()),
            instance_role(&config(), &targets()),
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

    #[test]
    fn policy_documents_from_iam_are_decoded_and_compared_canonically() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            document(encoded),
            canonical_json(r#"{"Statement":[],"Version":"2012-10-17"}"#)
        );
    }
}
