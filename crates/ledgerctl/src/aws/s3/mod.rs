//! The receipts bucket: all four Block Public Access settings on, default encryption (SSE-S3),
//! object ownership enforced to the bucket owner (no ACLs), a bucket policy refusing every
//! request not made over TLS (statements people add beside it are kept), CORS for the domain,
//! versioning with earlier versions kept `receipts.keep_deleted_days`, the stack's tags.
//! Named `<stack>-receipts-<account id>`, unique without any state kept.

mod policy;
mod retention;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};

use super::{Aws, code, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};
use policy::{TLS_ONLY_SID, denies_insecure_transport, tls_only_statement};

pub(crate) fn name(config: &StackConfig, account: &str) -> String {
    config.name(&format!("receipts-{account}"))
}

/// The receipts bucket, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub(crate) name: String,
    pub(crate) cors_origin: String,
    /// How long earlier versions of a receipt are kept.
    pub(crate) keep_deleted_days: i32,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Observed {
    pub(crate) block_public_access: bool,
    pub(crate) encrypted: bool,
    pub(crate) owner_enforced: bool,
    /// The bucket policy denies every request not made over TLS.
    pub(crate) tls_only: bool,
    /// The policy's other statements, kept when the TLS one is put back.
    pub(crate) other_statements: Vec<serde_json::Value>,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) retention: retention::Retention,
    pub(crate) tags: BTreeMap<String, String>,
}

async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
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
    let encrypted = found(
        aws.s3.get_bucket_encryption().bucket(name).send().await,
        code("ServerSideEncryptionConfigurationNotFoundError"),
        || format!("reading {name}'s encryption"),
    )?
    .is_some_and(|reply| {
        reply
            .server_side_encryption_configuration()
            .is_some_and(|c| {
                c.rules().iter().any(|r| {
                    r.apply_server_side_encryption_by_default()
                        .is_some_and(|d| {
                            matches!(
                                d.sse_algorithm(),
                                ServerSideEncryption::Aes256 | ServerSideEncryption::AwsKms
                            )
                        })
                })
            })
    });
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
    let tls_only = statements
        .iter()
        .any(|s| denies_insecure_transport(s, name));
    let other_statements = statements
        .into_iter()
        .filter(|s| s["Sid"] != TLS_ONLY_SID && !denies_insecure_transport(s, name))
        .collect();
    let cors_origins: Vec<String> = found(
        aws.s3.get_bucket_cors().bucket(name).send().await,
        code("NoSuchCORSConfiguration"),
        || format!("reading {name}'s CORS rules"),
    )?
    .map(|reply| {
        reply
            .cors_rules()
            .iter()
            .flat_map(|r| r.allowed_origins().iter().cloned())
            .collect()
    })
    .unwrap_or_default();
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
    let retention = retention::observe(aws, name).await?;
    Ok(Some(Observed {
        block_public_access,
        encrypted,
        owner_enforced,
        tls_only,
        other_statements,
        cors_origins,
        retention,
        tags,
    }))
}

/// How many objects the bucket holds, up to `limit` (`None`: no such bucket).
pub(crate) async fn count_objects(aws: &Aws, name: &str, limit: i32) -> Result<Option<usize>> {
    let listed = found(
        aws.s3
            .list_objects_v2()
            .bucket(name)
            .max_keys(limit)
            .send()
            .await,
        code("NoSuchBucket"),
        || format!("listing {name}"),
    )?;
    Ok(listed.map(|reply| reply.contents().len()))
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
        let objects: Vec<aws_sdk_s3::types::ObjectIdentifier> = listed
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
                aws_sdk_s3::types::ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.map(str::to_owned))
                    .build()
                    .context("building an object id")
            })
            .collect::<Result<_>>()?;
        if objects.is_empty() {
            return Ok(());
        }
        aws.s3
            .delete_objects()
            .bucket(name)
            .delete(
                aws_sdk_s3::types::Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .context("building the delete request")?,
            )
            .send()
            .await
            .map_err(sdk_error(format!("emptying {name}")))?;
    }
}

impl Bucket {
    /// Creates the bucket in the client's region.
    async fn create(&self, aws: &Aws) -> Result<()> {
        let name = &self.name;
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
}

impl Resource for Bucket {
    type Observed = Observed;
    const KIND: &'static str = "s3 bucket";

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        Ok(vec![Bucket {
            name: name(config, &known.account),
            cors_origin: format!("https://{}", config.domain),
            keep_deleted_days: i32::try_from(config.receipts.keep_deleted_days)
                .context("receipts.keep_deleted_days is out of range")?,
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("block_public_access", have.block_public_access, true);
            diff.field("default_encryption", have.encrypted, true);
            diff.field("bucket_owner_enforced", have.owner_enforced, true);
            diff.field("tls_only", have.tls_only, true);
            diff.field(
                "cors_origins",
                have.cors_origins.join(","),
                &self.cors_origin,
            );
            diff.field("versioning", have.retention.versioned, true);
            diff.field(
                "keep_deleted_days",
                have.retention
                    .keep_deleted_days
                    .map_or_else(|| "(none)".to_owned(), |d| d.to_string()),
                self.keep_deleted_days,
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Changes only what differs from `observed`; a new bucket is made first.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let observed = match observed {
            Some(observed) => observed.clone(),
            None => {
                self.create(aws).await?;
                Observed::default()
            }
        };
        if !observed.block_public_access {
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
        }
        if !observed.encrypted {
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
        }
        if !observed.owner_enforced {
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
        }
        if !observed.tls_only {
            let mut statements = observed.other_statements.clone();
            statements.push(tls_only_statement(name));
            let policy = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
            aws.s3
                .put_bucket_policy()
                .bucket(name)
                .policy(policy.to_string())
                .send()
                .await
                .map_err(sdk_error(format!(
                    "putting {name}'s bucket policy (requests over TLS only)"
                )))?;
        }
        if observed.cors_origins != [self.cors_origin.clone()] {
            let rule = CorsRule::builder()
                .allowed_origins(&self.cors_origin)
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_headers("*")
                .max_age_seconds(3000)
                .build()
                .context("building the CORS rule")?;
            aws.s3
                .put_bucket_cors()
                .bucket(name)
                .cors_configuration(
                    CorsConfiguration::builder()
                        .cors_rules(rule)
                        .build()
                        .context("building the CORS configuration")?,
                )
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s CORS rules")))?;
        }
        retention::apply(aws, name, &observed.retention, self.keep_deleted_days).await?;
        if crate::stack::tags_missing(&self.tags, &observed.tags) {
            // Bucket tagging replaces the whole set: keep the tags people added.
            let mut all = observed.tags.clone();
            all.extend(self.tags.clone());
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
        }
        Ok(())
    }

    /// Deletes the bucket, first emptying it (every version).
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let name = name(config, &known.account);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        super::ensure_owned(&have.tags, config, format_args!("the bucket {name}"))?;
        empty(aws, &name).await?;
        let reply = aws.s3.delete_bucket().bucket(&name).send().await;
        let deleted = found(reply, code("NoSuchBucket"), || {
            format!("deleting the bucket {name}")
        })?
        .is_some();
        Ok(if deleted { vec![name] } else { vec![] })
    }
}
