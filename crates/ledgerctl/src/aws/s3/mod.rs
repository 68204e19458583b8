//! The receipts bucket: all four Block Public Access settings on, default encryption (SSE-S3),
//! object ownership enforced to the bucket owner (no ACLs), a bucket policy refusing every
//! request not made over TLS (statements people add beside it are kept), CORS for the domain,
//! versioning with earlier versions kept `receipts.keep_deleted_days`, the stack's tags.
//! Named `<stack>-receipts-<account id>`, unique without any state kept. What it has in common
//! with the ECS topology's access-log bucket (`access_logs`) is read and put by `baseline`.

pub(crate) mod access_logs;
mod baseline;
mod policy;
mod retention;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{CorsConfiguration, CorsRule, ServerSideEncryption};

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
    let Some(base) = baseline::observe(aws, name).await? else {
        return Ok(None);
    };
    let tls_only = base
        .statements
        .iter()
        .any(|s| denies_insecure_transport(s, name));
    let other_statements = base
        .statements
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
    let retention = retention::observe(aws, name).await?;
    Ok(Some(Observed {
        block_public_access: base.block_public_access,
        encrypted: base.encryption.iter().any(|a| {
            matches!(
                a,
                ServerSideEncryption::Aes256 | ServerSideEncryption::AwsKms
            )
        }),
        owner_enforced: base.owner_enforced,
        tls_only,
        other_statements,
        cors_origins,
        retention,
        tags: base.tags,
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
                baseline::create(aws, name).await?;
                Observed::default()
            }
        };
        if !observed.block_public_access {
            baseline::block_public_access(aws, name).await?;
        }
        if !observed.encrypted {
            baseline::encrypt(aws, name).await?;
        }
        if !observed.owner_enforced {
            baseline::enforce_owner(aws, name).await?;
        }
        if !observed.tls_only {
            let mut statements = observed.other_statements.clone();
            statements.push(tls_only_statement(name));
            baseline::put_policy(aws, name, statements, "requests over TLS only").await?;
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
        baseline::add_tags(aws, name, &observed.tags, &self.tags).await
    }

    /// Deletes the bucket, first emptying it (every version).
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let name = name(config, &known.account);
        let Some(have) = baseline::observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        super::ensure_owned(&have.tags, config, format_args!("the bucket {name}"))?;
        let deleted = baseline::delete(aws, &name).await?;
        Ok(if deleted { vec![name] } else { vec![] })
    }
}
