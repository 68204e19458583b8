//! What the receipts bucket keeps of receipts deleted or overwritten: versioning on, and one
//! lifecycle rule of ours that lets earlier versions go after `receipts.keep_deleted_days` and
//! clears the delete markers left with nothing behind them. Rules people add beside it are kept.

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{
    BucketVersioningStatus, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, VersioningConfiguration,
};

use crate::aws::{Aws, sdk_error};

/// Our lifecycle rule, by this id.
const RULE_ID: &str = "ledgerly-keep-deleted";

/// The bucket's versioning and lifecycle rules as S3 has them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Retention {
    pub(crate) versioned: bool,
    /// How many days our rule keeps earlier versions; `None` when there is no rule of ours, or
    /// it is off or lets delete markers stay.
    pub(crate) keep_deleted_days: Option<i32>,
    /// The bucket's other rules, kept when ours is put back.
    pub(crate) other_rules: Vec<LifecycleRule>,
}

pub(super) async fn observe(aws: &Aws, name: &str) -> Result<Retention> {
    let versioning = aws
        .s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(sdk_error(format!("reading {name}'s versioning")))?;
    let (ours, other_rules) = super::baseline::lifecycle_rules(aws, name, RULE_ID).await?;
    let keep_deleted_days = ours
        .as_ref()
        .filter(|rule| {
            *rule.status() == ExpirationStatus::Enabled
                && rule
                    .expiration()
                    .and_then(LifecycleExpiration::expired_object_delete_marker)
                    == Some(true)
        })
        .and_then(|rule| rule.noncurrent_version_expiration()?.noncurrent_days());
    Ok(Retention {
        versioned: versioning.status() == Some(&BucketVersioningStatus::Enabled),
        keep_deleted_days,
        other_rules,
    })
}

/// Turns versioning on and puts our rule (keeping `days`) beside the others, where they differ
/// from `have`.
pub(super) async fn apply(aws: &Aws, name: &str, have: &Retention, days: i32) -> Result<()> {
    if !have.versioned {
        aws.s3
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error(format!("turning on {name}'s versioning")))?;
    }
    if have.keep_deleted_days != Some(days) {
        let ours = LifecycleRule::builder()
            .id(RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(days)
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .build()
            .context("building the lifecycle rule")?;
        super::baseline::put_lifecycle(
            aws,
            name,
            &have.other_rules,
            ours,
            format!("keeping {name}'s deleted receipts {days} days"),
        )
        .await?;
    }
    Ok(())
}
