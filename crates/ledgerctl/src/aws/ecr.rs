//! ECR repositories for the API and OCR images: scan on push, immutable tags (images are tagged
//! with the git SHA), a lifecycle policy keeping the last N images, a repository policy letting
//! Lambda pull, the stack's tags.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Tag,
};

use super::{Aws, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig, canonical_json};

/// The repositories: `<stack>-api` and `<stack>-ocr`.
pub(crate) fn names(config: &StackConfig) -> [String; 2] {
    [config.name("api"), config.name("ocr")]
}

/// One of the stack's repositories, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repository {
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

fn desired(config: &StackConfig, name: String) -> Repository {
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
    Repository {
        name,
        scan_on_push: true,
        immutable_tags: true,
        lifecycle_policy: lifecycle.to_string(),
        repository_policy: policy.to_string(),
        tags: config.tags(),
    }
}

async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let Some(repo) = describe(aws, name).await? else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_owned();
    let lifecycle_policy = found(
        aws.ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await,
        |e| e.is_lifecycle_policy_not_found_exception(),
        || format!("reading the lifecycle policy of {name}"),
    )?
    .and_then(|reply| reply.lifecycle_policy_text().map(canonical_json));
    let repository_policy = found(
        aws.ecr
            .get_repository_policy()
            .repository_name(name)
            .send()
            .await,
        |e| e.is_repository_policy_not_found_exception(),
        || format!("reading the repository policy of {name}"),
    )?
    .and_then(|reply| reply.policy_text().map(canonical_json));
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

/// The stack's tags as this SDK's type.
fn tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
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

impl Repository {
    /// Creates the repository; what it then is.
    async fn create(&self, aws: &Aws) -> Result<Observed> {
        let name = &self.name;
        let created = aws
            .ecr
            .create_repository()
            .repository_name(name)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(self.scan_on_push)
                    .build(),
            )
            .image_tag_mutability(ImageTagMutability::Immutable)
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::Aes256)
                    .build()
                    .context("building the encryption configuration")?,
            )
            .set_tags(Some(tags(&self.tags)?))
            .send()
            .await
            .map_err(sdk_error(format!("creating the repository ({name})")))?;
        Ok(Observed {
            scan_on_push: self.scan_on_push,
            immutable_tags: true,
            lifecycle_policy: None,
            repository_policy: None,
            tags: self.tags.clone(),
            arn: created
                .repository()
                .and_then(|r| r.repository_arn())
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl Resource for Repository {
    type Observed = Observed;
    const KIND: &'static str = "ecr repository";

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(names(config)
            .into_iter()
            .map(|name| desired(config, name))
            .collect())
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("scan_on_push", have.scan_on_push, self.scan_on_push);
            diff.field("immutable_tags", have.immutable_tags, self.immutable_tags);
            diff.field(
                "lifecycle_policy",
                shown(have.lifecycle_policy.as_ref()),
                canonical_json(&self.lifecycle_policy),
            );
            diff.field(
                "repository_policy",
                shown(have.repository_policy.as_ref()),
                canonical_json(&self.repository_policy),
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Changes only what differs from `observed`; a new repository is made first.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let observed = match observed {
            Some(observed) => observed.clone(),
            None => self.create(aws).await?,
        };
        if observed.scan_on_push != self.scan_on_push {
            aws.ecr
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(self.scan_on_push)
                        .build(),
                )
                .send()
                .await
                .map_err(sdk_error(format!("turning on scan on push ({name})")))?;
        }
        if observed.immutable_tags != self.immutable_tags {
            aws.ecr
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(ImageTagMutability::Immutable)
                .send()
                .await
                .map_err(sdk_error(format!("making tags immutable ({name})")))?;
        }
        if observed.lifecycle_policy.as_deref()
            != Some(canonical_json(&self.lifecycle_policy).as_str())
        {
            aws.ecr
                .put_lifecycle_policy()
                .repository_name(name)
                .lifecycle_policy_text(&self.lifecycle_policy)
                .send()
                .await
                .map_err(sdk_error(format!("setting the lifecycle policy ({name})")))?;
        }
        if observed.repository_policy.as_deref()
            != Some(canonical_json(&self.repository_policy).as_str())
        {
            aws.ecr
                .set_repository_policy()
                .repository_name(name)
                .policy_text(&self.repository_policy)
                .send()
                .await
                .map_err(sdk_error(format!("setting the repository policy ({name})")))?;
        }
        let missing: BTreeMap<String, String> = self
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

    /// Deletes the stack's repositories with their images.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for name in names(config) {
            let Some(have) = observe(aws, &name).await? else {
                continue;
            };
            super::ensure_owned(&have.tags, config, format_args!("the repository {name}"))?;
            let reply = aws
                .ecr
                .delete_repository()
                .repository_name(&name)
                .force(true)
                .send()
                .await;
            if found(
                reply,
                |e| e.is_repository_not_found_exception(),
                || format!("deleting the repository {name}"),
            )?
            .is_some()
            {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}

/// A repository's address for image references (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`).
pub(crate) async fn repository_uri(aws: &Aws, name: &str) -> Result<String> {
    let Some(repo) = describe(aws, name).await? else {
        anyhow::bail!("the ECR repository {name} does not exist; run ledgerctl provision first");
    };
    repo.repository_uri()
        .map(str::to_owned)
        .with_context(|| format!("ECR described {name} without its URI"))
}

/// The repository `name`, if it exists.
async fn describe(aws: &Aws, name: &str) -> Result<Option<aws_sdk_ecr::types::Repository>> {
    let reply = found(
        aws.ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await,
        |e| e.is_repository_not_found_exception(),
        || format!("describing the ECR repository {name}"),
    )?;
    Ok(reply.and_then(|r| r.repositories().first().cloned()))
}

/// Registry credentials for the account's ECR: a fresh token (they last 12 hours), decoded.
pub(crate) async fn login(aws: &Aws) -> Result<crate::docker::registry::Login> {
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
    Ok(crate::docker::registry::Login {
        username: username.to_owned(),
        password: password.into(),
        server: data
            .proxy_endpoint()
            .context("ECR answered with no registry address")?
            .to_owned(),
    })
}

/// The digest of `repository:tag` in ECR, if that tag was pushed.
pub(crate) async fn tagged_digest(
    aws: &Aws,
    repository: &str,
    tag: &str,
) -> Result<Option<String>> {
    let reply = found(
        aws.ecr
            .describe_images()
            .repository_name(repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(tag)
                    .build(),
            )
            .send()
            .await,
        |e| e.is_image_not_found_exception(),
        || format!("looking for {repository}:{tag} in ECR"),
    )?;
    Ok(reply.and_then(|r| {
        r.image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_owned)
    }))
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
) -> Result<()> {
    let put = aws
        .ecr
        .put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_digest(digest)
        .image_manifest(manifest)
        .image_manifest_media_type(media_type)
        .send()
        .await;
    // Already there with this tag and manifest: fine.
    found(
        put,
        |e| e.is_image_already_exists_exception(),
        || format!("recording {repository}:{tag} in ECR"),
    )?;
    Ok(())
}
