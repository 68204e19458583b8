//! What every bucket of the stack has, read and put the same way: all four Block Public Access
//! settings, default encryption, object ownership enforced to the bucket owner (no ACLs), a
//! bucket policy (each bucket says which statements are its own), the stack's tags (people's own
//! are kept); and how a bucket is made, emptied and deleted.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    LifecycleRule, ObjectIdentifier, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use crate::aws::{Aws, code, found, has_code, sdk_error};

/// What S3 has of a bucket's settings that every bucket of the stack has.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Baseline {
    /// All four Block Public Access settings are on.
    pub(crate) block_public_access: bool,
    /// The default encryption's algorithm, rule by rule (none: no default encryption).
    pub(crate) encryption: Vec<ServerSideEncryption>,
    pub(crate) owner_enforced: bool,
    /// The bucket policy's statements (none: no policy).
    pub(crate) statements: Vec<serde_json::Value>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The bucket `name` as S3 has it; `None` when there is no such bucket.
pub(super) async fn observe(aws: &Aws, name: &str) -> Result<Option<Baseline>> {
    match aws.s3.head_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 404) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(sdk_error(format!("looking for the bucket {name}"))(err)),
    }
    let block_public_access = found(
        aws.s3.get_public_access_block().bucket(name).send().await,
        code("NoSuchPublicAccessBlockConfiguration"),
        || format!("reading {name}'s public access block"),
    )?
    .is_some_and(|reply| {
        reply.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })
    });
    let encryption: Vec<ServerSideEncryption> = found(
        aws.s3.get_bucket_encryption().bucket(name).send().await,
        code("ServerSideEncryptionConfigurationNotFoundError"),
        || format!("reading {name}'s encryption"),
    )?
    .and_then(|reply| {
        reply.server_side_encryption_configuration().map(|c| {
            c.rules()
                .iter()
                .filter_map(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().clone())
                .collect()
        })
    })
    .unwrap_or_default();
    let owner_enforced = found(
        aws.s3
            .get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await,
        code("OwnershipControlsNotFoundError"),
        || format!("reading {name}'s ownership controls"),
    )?
    .is_some_and(|reply| {
        reply.ownership_controls().is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| r.object_ownership() == &ObjectOwnership::BucketOwnerEnforced)
        })
    });
    let policy = found(
        aws.s3.get_bucket_policy().bucket(name).send().await,
        code("NoSuchBucketPolicy"),
        || format!("reading {name}'s bucket policy"),
    )?;
    let statements: Vec<serde_json::Value> = match policy {
        Some(reply) => {
            let text = reply.policy().unwrap_or("{}");
            let policy: serde_json::Value = serde_json::from_str(text)
                .with_context(|| format!("{name}'s bucket policy is not JSON"))?;
            match &policy["Statement"] {
                serde_json::Value::Array(items) => items.clone(),
                serde_json::Value::Object(_) => vec![policy["Statement"].clone()],
                _ => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    let tags: BTreeMap<String, String> = found(
        aws.s3.get_bucket_tagging().bucket(name).send().await,
        code("NoSuchTagSet"),
        || format!("reading {name}'s tags"),
    )?
    .map(|reply| {
        reply
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect()
    })
    .unwrap_or_default();
    Ok(Some(Baseline {
        block_public_access,
        encryption,
        owner_enforced,
        statements,
        tags,
    }))
}

/// Whether the default encryption is SSE-S3 (`AES256`) and nothing else.
pub(super) fn is_sse_s3(encryption: &[ServerSideEncryption]) -> bool {
    !encryption.is_empty()
        && encryption
            .iter()
            .all(|a| *a == ServerSideEncryption::Aes256)
}

/// The default encryption as a plan shows it.
pub(super) fn shown_encryption(encryption: &[ServerSideEncryption]) -> String {
    if encryption.is_empty() {
        return "(none)".into();
    }
    let mut shown: Vec<&str> = encryption
        .iter()
        .map(ServerSideEncryption::as_str)
        .collect();
    shown.dedup();
    shown.join(",")
}

/// Creates the bucket in the client's region.
pub(super) async fn create(aws: &Aws, name: &str) -> Result<()> {
    let mut create = aws.s3.create_bucket().bucket(name);
    // us-east-1 is the default and must not be named.
    if aws.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    // Created by an interrupted run a moment ago: carry on with it.
    found(
        create.send().await,
        |e| e.is_bucket_already_owned_by_you(),
        || format!("creating the bucket {name}"),
    )?;
    Ok(())
}

pub(super) async fn block_public_access(aws: &Aws, name: &str) -> Result<()> {
    aws.s3
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error(format!("blocking public access to {name}")))?;
    Ok(())
}

/// Makes SSE-S3 the bucket's default encryption.
pub(super) async fn encrypt(aws: &Aws, name: &str) -> Result<()> {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .context("building the encryption rule")?,
        )
        .build();
    aws.s3
        .put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .context("building the encryption configuration")?,
        )
        .send()
        .await
        .map_err(sdk_error(format!("turning on {name}'s default encryption")))?;
    Ok(())
}

pub(super) async fn enforce_owner(aws: &Aws, name: &str) -> Result<()> {
    aws.s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()
                        .context("building the ownership rule")?,
                )
                .build()
                .context("building the ownership controls")?,
        )
        .send()
        .await
        .map_err(sdk_error(format!("enforcing bucket ownership of {name}")))?;
    Ok(())
}

/// Puts the bucket policy made of `statements`; `what` says what it is for, in an error.
pub(super) async fn put_policy(
    aws: &Aws,
    name: &str,
    statements: Vec<serde_json::Value>,
    what: &str,
) -> Result<()> {
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    aws.s3
        .put_bucket_policy()
        .bucket(name)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(sdk_error(format!(
            "putting {name}'s bucket policy ({what})"
        )))?;
    Ok(())
}

/// Adds the `desired` tags that `observed` lacks or has with another value.
pub(super) async fn add_tags(
    aws: &Aws,
    name: &str,
    observed: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Result<()> {
    if !crate::stack::tags_missing(desired, observed) {
        return Ok(());
    }
    // Bucket tagging replaces the whole set: keep the tags people added.
    let mut all = observed.clone();
    all.extend(desired.clone());
    let tags: Vec<Tag> = all
        .iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .context("building a tag")
        })
        .collect::<Result<_>>()?;
    aws.s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(
            Tagging::builder()
                .set_tag_set(Some(tags))
                .build()
                .context("building the tags")?,
        )
        .send()
        .await
        .map_err(sdk_error(format!("tagging {name}")))?;
    Ok(())
}

/// Deletes every object in the bucket, every version of it.
async fn empty(aws: &Aws, name: &str) -> Result<()> {
    loop {
        let listed = aws
            .s3
            .list_object_versions()
            .bucket(name)
            .send()
            .await
            .map_err(sdk_error(format!("listing the objects in {name}")))?;
        let objects: Vec<ObjectIdentifier> = listed
            .versions()
            .iter()
            .filter_map(|v| Some((v.key()?, v.version_id())))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .filter_map(|m| Some((m.key()?, m.version_id()))),
            )
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .context("building an object id")
            })
            .collect::<Result<_>>()?;
        if objects.is_empty() {
            return Ok(());
        }
        let reply = aws
            .s3
            .delete_objects()
            .bucket(name)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .context("building the delete request")?,
            )
            .send()
            .await
            .map_err(sdk_error(format!("emptying {name}")))?;
        // Objects S3 refused to delete would be listed again, and again.
        if let Some(refused) = reply.errors().first() {
            anyhow::bail!(
                "emptying {name}: {} objects were not deleted, e.g. {}: {} {}",
                reply.errors().len(),
                refused.key().unwrap_or("?"),
                refused.code().unwrap_or("?"),
                refused.message().unwrap_or_default()
            );
        }
    }
}

/// The bucket's lifecycle rules: the one with id `ours` (if any), and the others, which a
/// put keeps.
pub(super) async fn lifecycle_rules(
    aws: &Aws,
    name: &str,
    ours: &str,
) -> Result<(Option<LifecycleRule>, Vec<LifecycleRule>)> {
    let rules = found(
        aws.s3
            .get_bucket_lifecycle_configuration()
            .bucket(name)
            .send()
            .await,
        code("NoSuchLifecycleConfiguration"),
        || format!("reading {name}'s lifecycle rules"),
    )?
    .map(|reply| reply.rules().to_vec())
    .unwrap_or_default();
    let (mut mine, others): (Vec<_>, Vec<_>) =
        rules.into_iter().partition(|r| r.id() == Some(ours));
    Ok((mine.pop(), others))
}

/// Puts the bucket's lifecycle rules: `others` as they were and `ours`; `what` says what it
/// does, in an error.
pub(super) async fn put_lifecycle(
    aws: &Aws,
    name: &str,
    others: &[LifecycleRule],
    ours: LifecycleRule,
    what: String,
) -> Result<()> {
    let mut rules = others.to_vec();
    rules.push(ours);
    aws.s3
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .context("building the lifecycle configuration")?,
        )
        .send()
        .await
        .map_err(sdk_error(what))?;
    Ok(())
}

/// Empties the bucket (every version) and deletes it; whether it was there. An object written
/// in between (a load balancer's last log file) is deleted too, a few times at most.
pub(super) async fn delete(aws: &Aws, name: &str) -> Result<bool> {
    let mut attempt = 1;
    loop {
        empty(aws, name).await?;
        match aws.s3.delete_bucket().bucket(name).send().await {
            Ok(_) => return Ok(true),
            Err(err) if has_code(&err, "NoSuchBucket") => return Ok(false),
            Err(err) if attempt < 3 && has_code(&err, "BucketNotEmpty") => attempt += 1,
            Err(err) => return Err(sdk_error(format!("deleting the bucket {name}"))(err)),
        }
    }
}
