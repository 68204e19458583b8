//! The ECS topology's access-log bucket `<stack>-alb-logs-<account id>`, where the load balancer
//! writes its access logs under `api/` for GoAccess on the instance to read. As the receipts
//! bucket: all four Block Public Access settings, object ownership enforced to the bucket owner,
//! the statement refusing requests not made over TLS, the stack's tags. Its own: default
//! encryption SSE-S3 and nothing else (the only encryption Elastic Load Balancing writes to), a
//! statement letting Elastic Load Balancing put the logs, and a lifecycle rule of ours expiring
//! them after `ecs.access_log_days` (people's own statements and rules are kept). It holds
//! nothing but logs: destroy empties it without asking.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ServerSideEncryption,
};
use serde_json::Value;

use super::baseline::{self, is_sse_s3, shown_encryption};
use super::policy::{
    LOG_DELIVERY_SID, TLS_ONLY_SID, allows_log_delivery, denies_insecure_transport,
    log_delivery_statement, tls_only_statement,
};
use crate::aws::Aws;
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// Where in the bucket the load balancer writes: its `access_logs.s3.prefix`.
pub(crate) const PREFIX: &str = "api";

/// Our lifecycle rule, by this id.
const RULE_ID: &str = "ledgerly-expire-logs";

/// The bucket's name: `<stack>-alb-logs-<account id>`, unique without any state kept (and as
/// long as the receipts bucket's, so any stack name that fits one fits both).
pub(crate) fn name(config: &StackConfig, account: &str) -> String {
    config.name(&format!("alb-logs-{account}"))
}

/// Where the log files land: `api/AWSLogs/<account>/elasticloadbalancing/<region>/`, then
/// `yyyy/mm/dd/<file>.log.gz`.
pub(crate) fn key_prefix(account: &str, region: &str) -> String {
    format!("{PREFIX}/AWSLogs/{account}/elasticloadbalancing/{region}/")
}

/// The access-log bucket, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogBucket {
    pub(crate) name: String,
    /// The account and region of the load balancer that writes to it.
    pub(crate) account: String,
    pub(crate) region: String,
    /// How many days a log file is kept.
    pub(crate) expire_days: i32,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Observed {
    pub(crate) block_public_access: bool,
    /// The default encryption's algorithm, rule by rule.
    pub(crate) encryption: Vec<ServerSideEncryption>,
    pub(crate) owner_enforced: bool,
    /// The bucket policy denies every request not made over TLS.
    pub(crate) tls_only: bool,
    /// The bucket policy lets Elastic Load Balancing write the logs.
    pub(crate) log_delivery: bool,
    /// The policy's other statements, kept when ours are put back.
    pub(crate) other_statements: Vec<Value>,
    /// How many days our lifecycle rule keeps objects; `None` when there is no rule of ours, or
    /// it is off or does not cover the whole bucket.
    pub(crate) expire_days: Option<i32>,
    /// The bucket's other lifecycle rules, kept when ours is put back.
    pub(crate) other_rules: Vec<LifecycleRule>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The days our lifecycle rule keeps objects, when it is on and covers the whole bucket.
fn expire_days(ours: Option<&LifecycleRule>) -> Option<i32> {
    ours.filter(|rule| {
        *rule.status() == ExpirationStatus::Enabled
            && rule.filter().is_none_or(|f| {
                f.prefix().unwrap_or_default().is_empty() && f.tag().is_none() && f.and().is_none()
            })
    })
    .and_then(|rule| rule.expiration()?.days())
}

/// Our rule, expiring every object after `days`.
fn expiry_rule(days: i32) -> Result<LifecycleRule> {
    LifecycleRule::builder()
        .id(RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .build()
        .context("building the lifecycle rule")
}

impl LogBucket {
    fn log_delivery_statement(&self) -> Value {
        log_delivery_statement(&self.name, PREFIX, &self.account, &self.region)
    }

    /// Whether `statement` lets Elastic Load Balancing write this bucket's logs.
    fn allows_log_delivery(&self, statement: &Value) -> bool {
        allows_log_delivery(statement, &self.name, PREFIX, &self.account, &self.region)
    }

    /// The bucket policy's `statements` as (TLS only, log delivery, the others to keep).
    fn read_policy(&self, statements: Vec<Value>) -> (bool, bool, Vec<Value>) {
        let name = &self.name;
        let tls_only = statements
            .iter()
            .any(|s| denies_insecure_transport(s, name));
        let log_delivery = statements.iter().any(|s| self.allows_log_delivery(s));
        let others = statements
            .into_iter()
            .filter(|s| {
                s["Sid"] != TLS_ONLY_SID
                    && s["Sid"] != LOG_DELIVERY_SID
                    && !denies_insecure_transport(s, name)
                    && !self.allows_log_delivery(s)
            })
            .collect();
        (tls_only, log_delivery, others)
    }

    /// The bucket's lifecycle rules as (our rule's days, the others to keep).
    async fn observe_rules(&self, aws: &Aws) -> Result<(Option<i32>, Vec<LifecycleRule>)> {
        let (ours, others) = baseline::lifecycle_rules(aws, &self.name, RULE_ID).await?;
        Ok((expire_days(ours.as_ref()), others))
    }

    /// Puts our rule beside `others`.
    async fn put_rules(&self, aws: &Aws, others: &[LifecycleRule]) -> Result<()> {
        let (name, days) = (&self.name, self.expire_days);
        baseline::put_lifecycle(
            aws,
            name,
            others,
            expiry_rule(days)?,
            format!("expiring {name}'s access logs after {days} days"),
        )
        .await
    }
}

impl Resource for LogBucket {
    type Observed = Observed;
    const KIND: &'static str = "s3 log bucket";

    /// One with `topology: ecs`, none otherwise.
    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let Some(ecs) = &config.ecs else {
            return Ok(vec![]);
        };
        Ok(vec![LogBucket {
            name: name(config, &known.account),
            account: known.account.clone(),
            region: known.region.clone(),
            expire_days: i32::try_from(ecs.access_log_days)
                .context("ecs.access_log_days is out of range")?,
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        let Some(base) = baseline::observe(aws, &self.name).await? else {
            return Ok(None);
        };
        let (tls_only, log_delivery, other_statements) = self.read_policy(base.statements);
        let (expire_days, other_rules) = self.observe_rules(aws).await?;
        Ok(Some(Observed {
            block_public_access: base.block_public_access,
            encryption: base.encryption,
            owner_enforced: base.owner_enforced,
            tls_only,
            log_delivery,
            other_statements,
            expire_days,
            other_rules,
            tags: base.tags,
        }))
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("block_public_access", have.block_public_access, true);
            let encryption = if is_sse_s3(&have.encryption) {
                ServerSideEncryption::Aes256.as_str().to_owned()
            } else {
                shown_encryption(&have.encryption)
            };
            diff.field(
                "default_encryption",
                encryption,
                ServerSideEncryption::Aes256.as_str(),
            );
            diff.field("bucket_owner_enforced", have.owner_enforced, true);
            diff.field("tls_only", have.tls_only, true);
            diff.field("elb_log_delivery", have.log_delivery, true);
            diff.field(
                "expire_days",
                have.expire_days
                    .map_or_else(|| "(none)".to_owned(), |d| d.to_string()),
                self.expire_days,
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Changes only what differs from `observed`; a new bucket is made and tagged first.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let have = match observed {
            Some(have) => have.clone(),
            None => {
                baseline::create(aws, name).await?;
                Observed::default()
            }
        };
        // Tagged first: destroy then knows a bucket left by an interrupted run as the stack's.
        baseline::add_tags(aws, name, &have.tags, &self.tags).await?;
        if !have.block_public_access {
            baseline::block_public_access(aws, name).await?;
        }
        if !is_sse_s3(&have.encryption) {
            baseline::encrypt(aws, name).await?;
        }
        if !have.owner_enforced {
            baseline::enforce_owner(aws, name).await?;
        }
        if !(have.tls_only && have.log_delivery) {
            let mut statements = have.other_statements.clone();
            statements.push(tls_only_statement(name));
            statements.push(self.log_delivery_statement());
            baseline::put_policy(
                aws,
                name,
                statements,
                "requests over TLS only; Elastic Load Balancing writes its logs",
            )
            .await?;
        }
        if have.expire_days != Some(self.expire_days) {
            self.put_rules(aws, &have.other_rules).await?;
        }
        Ok(())
    }

    /// Deletes the bucket, first emptying it (every object, every version): it holds only
    /// logs. The load balancer writing to it is deleted before it.
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let name = name(config, &known.account);
        let Some(have) = baseline::observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        crate::aws::ensure_owned(&have.tags, config, format_args!("the bucket {name}"))?;
        let deleted = baseline::delete(aws, &name).await?;
        Ok(if deleted { vec![name] } else { vec![] })
    }
}

#[cfg(test)]
mod tests;
