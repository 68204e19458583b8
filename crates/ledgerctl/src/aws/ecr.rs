//! ECR repositories for the API and OCR images: scan on push, immutable tags (images are tagged
//! with the git SHA), a lifecycle policy keeping the last N images, a repository policy letting
//! Lambda pull, the stack's tags.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability,
    Repository, Tag,
};

use super::{Aws, sdk_error};
use crate::stack::{Change, Diff, ResourceChange, StackConfig, canonical_json};

pub(crate) const KIND: &str = "ecr repository";

/// The repositories: `<stack>-api` and `<stack>-ocr`.
pub(crate) fn names(config: &StackConfig) -> [String; 2] {
    [config.name("api"), config.name("ocr")]
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    pub(crate) scan_on_push: bool,
    pub(crate) immutable_tags: bool,
    pub(crate) lifecycle_policy: String,
    pub(crate) repository_policy: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) scan_on_push: bool,
    pub(crate) immutable_tags: bool,
    pub(crate) lifecycle_policy: Option<String>,
    pub(crate) repository_policy: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) arn: String,
}

pub(crate) fn desired(config: &StackConfig, name: &str) -> Desired {
    let lifecycle = serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the last {} images", config.ecr.keep_images),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": config.ecr.keep_images
            },
            "action": { "type": "expire" }
        }]
    });
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "LambdaPull",
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        }]
    });
    Desired {
        name: name.to_owned(),
        scan_on_push: true,
        immutable_tags: true,
        lifecycle_policy: lifecycle.to_string(),
        repository_policy: policy.to_string(),
        tags: config.tags(),
    }
}

pub(crate) async fn observe(aws: &Aws, name: &str) -> anyhow::Result<Option<Observed>> {
    let Some(repo) = describe(aws, name).await? else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_owned();
    let lifecycle_policy = match aws
        .ecr
        .get_lifecycle_policy()
        .repository_name(name)
        .send()
        .await
    {
        Ok(reply) => reply.lifecycle_policy_text().map(canonical_json),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_lifecycle_policy_not_found_exception()) =>
        {
            None
        }
        Err(err) => return Err(sdk_error(format!("reading the lifecycle policy of {name}"))(err)),
    };
    let repository_policy = match aws
        .ecr
        .get_repository_policy()
        .repository_name(name)
        .send()
        .await
    {
        Ok(reply) => reply.policy_text().map(canonical_json),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_repository_policy_not_found_exception()) =>
        {
            None
        }
        Err(err) => {
            return Err(sdk_error(format!(
                "reading the repository policy of {name}"
            ))(err));
        }
    };
    let tags = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(sdk_error(format!("reading the tags of {name}")))?
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    Ok(Some(Observed {
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
        immutable_tags: repo.image_tag_mutability() == Some(&ImageTagMutability::Immutable),
        lifecycle_policy,
        repository_policy,
        tags,
        arn,
    }))
}

fn shown(policy: Option<&String>) -> String {
    policy.cloned().unwrap_or_else(|| "(none)".into())
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            diff.field("scan_on_push", have.scan_on_push, desired.scan_on_push);
            diff.field(
                "immutable_tags",
                have.immutable_tags,
                desired.immutable_tags,
            );
            diff.field(
                "lifecycle_policy",
                shown(have.lifecycle_policy.as_ref()),
                canonical_json(&desired.lifecycle_policy),
            );
            diff.field(
                "repository_policy",
                shown(have.repository_policy.as_ref()),
                canonical_json(&desired.repository_policy),
            );
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: KIND,
        name: desired.name.clone(),
        change,
    }
}

/// The stack's tags as this SDK's type.
fn tags(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<Tag>> {
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

/// Makes the repository what `desired` says, changing only what differs from `observed`.
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    let name = &desired.name;
    let observed = match observed {
        Some(observed) => observed.clone(),
        None => {
            let created = aws
                .ecr
                .create_repository()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(desired.scan_on_push)
                        .build(),
                )
                .image_tag_mutability(ImageTagMutability::Immutable)
                .encryption_configuration(
                    EncryptionConfiguration::builder()
                        .encryption_type(EncryptionType::Aes256)
                        .build()
                        .context("building the encryption configuration")?,
                )
                .set_tags(Some(tags(&desired.tags)?))
                .send()
                .await
                .map_err(sdk_error(format!("creating the repository ({name})")))?;
            Observed {
                scan_on_push: desired.scan_on_push,
                immutable_tags: true,
                lifecycle_policy: None,
                repository_policy: None,
                tags: desired.tags.clone(),
                arn: created
                    .repository()
                    .and_then(|r| r.repository_arn())
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
    };
    if observed.scan_on_push != desired.scan_on_push {
        aws.ecr
            .put_image_scanning_configuration()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(desired.scan_on_push)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error(format!("turning on scan on push ({name})")))?;
    }
    if observed.immutable_tags != desired.immutable_tags {
        aws.ecr
            .put_image_tag_mutability()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::Immutable)
            .send()
            .await
            .map_err(sdk_error(format!("making tags immutable ({name})")))?;
    }
    if observed.lifecycle_policy.as_deref()
        != Some(canonical_json(&desired.lifecycle_policy).as_str())
    {
        aws.ecr
            .put_lifecycle_policy()
            .repository_name(name)
            .lifecycle_policy_text(&desired.lifecycle_policy)
            .send()
            .await
            .map_err(sdk_error(format!("setting the lifecycle policy ({name})")))?;
    }
    if observed.repository_policy.as_deref()
        != Some(canonical_json(&desired.repository_policy).as_str())
    {
        aws.ecr
            .set_repository_policy()
            .repository_name(name)
            .policy_text(&desired.repository_policy)
            .send()
            .await
            .map_err(sdk_error(format!("setting the repository policy ({name})")))?;
    }
    let missing: BTreeMap<String, String> = desired
        .tags
        .iter()
        .filter(|(k, v)| observed.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing.is_empty() {
        let tags = tags(&missing)?;
        aws.ecr
            .tag_resource()
            .resource_arn(&observed.arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(sdk_error(format!("tagging the repository ({name})")))?;
    }
    Ok(())
}

/// Deletes the stack's repository with its images; whether it was there.
pub(crate) async fn delete(aws: &Aws, config: &StackConfig, name: &str) -> anyhow::Result<bool> {
    let Some(have) = observe(aws, name).await? else {
        return Ok(false);
    };
    super::ensure_owned(&have.tags, config, format_args!("the repository {name}"))?;
    match aws
        .ecr
        .delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_repository_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(sdk_error(format!("deleting the repository {name}"))(err)),
    }
}

/// A repository's address for image references (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`).
pub(crate) async fn repository_uri(aws: &Aws, name: &str) -> anyhow::Result<String> {
    let Some(repo) = describe(aws, name).await? else {
        anyhow::bail!("the ECR repository {name} does not exist; run ledgerctl provision first");
    };
    repo.repository_uri()
        .map(str::to_owned)
        .with_context(|| format!("ECR described {name} without its URI"))
}

/// The repository `name`, if it exists.
async fn describe(aws: &Aws, name: &str) -> anyhow::Result<Option<Repository>> {
    match aws
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(reply) => Ok(reply.repositories().first().cloned()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(sdk_error(format!("describing the ECR repository {name}"))(
            err,
        )),
    }
}

/// Registry credentials for the account's ECR: a fresh token (they last 12 hours), decoded.
pub(crate) async fn login(aws: &Aws) -> anyhow::Result<bollard::auth::DockerCredentials> {
    use base64::Engine as _;
    let reply = aws
        .ecr
        .get_authorization_token()
        .send()
        .await
        .map_err(sdk_error("fetching an ECR authorization token".to_owned()))?;
    let data = reply
        .authorization_data()
        .first()
        .context("ECR answered with no authorization data")?;
    let token = data
        .authorization_token()
        .context("ECR answered with no authorization token")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .context("the ECR authorization token is not base64")?;
    let decoded = String::from_utf8(decoded).context("the ECR authorization token is not text")?;
    let (username, password) = decoded
        .split_once(':')
        .context("the ECR authorization token is not user:password")?;
    Ok(bollard::auth::DockerCredentials {
        username: Some(username.to_owned()),
        password: Some(password.to_owned()),
        serveraddress: data.proxy_endpoint().map(str::to_owned),
        ..Default::default()
    })
}

/// The digest of `repository:tag` in ECR, if that tag was pushed.
pub(crate) async fn tagged_digest(
    aws: &Aws,
    repository: &str,
    tag: &str,
) -> anyhow::Result<Option<String>> {
    match aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(tag)
                .build(),
        )
        .send()
        .await
    {
        Ok(reply) => Ok(reply
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_owned)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_image_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(sdk_error(format!("looking for {repository}:{tag} in ECR"))(
            err,
        )),
    }
}

/// Records a manifest pushed to a stand-in registry in the ECR repository itself, under its
/// digest and tag — what a push to ECR does on its own. Only used when the images went to another
/// registry (`LEDGERCTL_REGISTRY`, an emulator's stand-in), so that the ECR API (and the
/// Lambda created from it) knows them.
pub(crate) async fn record_manifest(
    aws: &Aws,
    repository: &str,
    tag: &str,
    digest: &str,
    manifest: &str,
    media_type: &str,
) -> anyhow::Result<()> {
    match aws
        .ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_digest(digest)
        .image_manifest(manifest)
        .image_manifest_media_type(media_type)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_image_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(sdk_error(format!("recording {repository}:{tag} in ECR"))(
            err,
        )),
    }
}
