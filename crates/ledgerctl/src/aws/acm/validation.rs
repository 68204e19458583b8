//! The certificate's DNS validation: the CNAME records ACM gives in DescribeCertificate, how
//! plan, logs and errors show them, their writing into the hosted zone (Route 53), and the wait
//! until ACM has issued the certificate, with what to check or do when it takes too long.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_acm::types::CertificateDetail;
use aws_sdk_route53::types::{
    Change as RecordChange, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use super::{Certificate, ISSUED, Observed, PENDING, describe, is_spent, status_of};
use crate::aws::{Aws, sdk_error};
use crate::stack::Diff;

pub(super) use crate::aws::route53::dns_name;

/// How long the validation records are kept in the cache of resolvers.
const RECORD_TTL: i64 = 300;
/// ACM gives a new certificate's validation records a few seconds after the request: how often
/// and how many times they are asked for.
const RECORD_DELAY: Duration = Duration::from_secs(2);
const RECORD_ATTEMPTS: u32 = 30;
/// How often a certificate waiting for its validation is looked at.
const ISSUE_DELAY: Duration = Duration::from_secs(15);

/// One DNS record ACM looks up to validate the certificate: a CNAME, its name and value
/// lowercase and ending in a dot, as Route 53 gives them back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ValidationRecord {
    pub(crate) name: String,
    pub(crate) value: String,
}

impl ValidationRecord {
    pub(crate) fn new(name: &str, value: &str) -> ValidationRecord {
        ValidationRecord {
            name: dns_name(name),
            value: dns_name(value),
        }
    }
}

impl fmt::Display for ValidationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CNAME {} → {}", self.name, self.value)
    }
}

/// The records as plan and errors show them: `CNAME <name> → <value>; …`.
pub(super) fn shown(records: &[ValidationRecord]) -> String {
    records
        .iter()
        .map(ValidationRecord::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a pending certificate waits for, as plan shows it.
fn validation_target(records: &[ValidationRecord], zone: Option<&str>) -> String {
    match (records.is_empty(), zone) {
        (true, _) => "issued (ACM has not given its DNS validation records yet)".into(),
        (false, Some(zone)) => format!(
            "issued, through the records in the hosted zone {zone}: {}",
            shown(records)
        ),
        (false, None) => format!("issued, once you create in DNS: {}", shown(records)),
    }
}

/// The error when the validation took longer than `timeout`: what to check or do.
pub(super) fn timeout_error(
    domain: &str,
    arn: &str,
    records: &[ValidationRecord],
    zone: Option<&str>,
    timeout: Duration,
) -> anyhow::Error {
    let minutes = timeout.as_secs().div_ceil(60);
    let start = format!(
        "gave up after {minutes} minutes waiting for ACM to validate the certificate for {domain} ({arn}): it is still pending"
    );
    match zone {
        Some(zone) => anyhow::anyhow!(
            "{start}. Its validation records are in the hosted zone {zone}: {}. Check that {domain}'s DNS is served by that zone (the NS records at the registrar) and that the records resolve (dig CNAME <name>), then run provision again",
            shown(records)
        ),
        None => anyhow::anyhow!(
            "{start}. Create these DNS records where {domain}'s DNS is hosted: {}; then run provision again. Keep them afterwards: ACM renews the certificate through them",
            shown(records)
        ),
    }
}

/// The records ACM validates the certificate through, sorted (a wildcard and its parent share
/// one).
pub(super) fn validation_records(detail: &CertificateDetail) -> Vec<ValidationRecord> {
    let mut records: Vec<ValidationRecord> = detail
        .domain_validation_options()
        .iter()
        .filter_map(|o| o.resource_record())
        .map(|r| ValidationRecord::new(r.name(), r.value()))
        .collect();
    records.sort();
    records.dedup();
    records
}

/// Whether ACM has given the record of every name the certificate validates.
fn records_given(detail: &CertificateDetail) -> bool {
    let options = detail.domain_validation_options();
    !options.is_empty() && options.iter().all(|o| o.resource_record().is_some())
}

/// What the hosted zone `zone` has at each record's name: its CNAME's value.
pub(super) async fn zone_records(
    aws: &Aws,
    zone: &str,
    domain: &str,
    records: &[ValidationRecord],
) -> Result<BTreeMap<String, String>> {
    let mut have = BTreeMap::new();
    for record in records {
        let reply = aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(&record.name)
            .start_record_type(RrType::Cname)
            .max_items(1)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_hosted_zone())
                {
                    crate::aws::route53::no_such_zone(zone, domain)
                } else {
                    sdk_error(format!(
                        "reading the validation record {} in the hosted zone {zone}",
                        record.name
                    ))(e)
                }
            })?;
        let set = reply
            .resource_record_sets()
            .first()
            .filter(|s| dns_name(s.name()) == record.name && *s.r#type() == RrType::Cname);
        if let Some(value) = set.and_then(|s| s.resource_records().first()) {
            have.insert(record.name.clone(), dns_name(value.value()));
        }
    }
    Ok(have)
}

/// A Route 53 change writing `record`.
fn upsert(record: &ValidationRecord) -> Result<RecordChange> {
    let set = ResourceRecordSet::builder()
        .name(&record.name)
        .r#type(RrType::Cname)
        .ttl(RECORD_TTL)
        .resource_records(
            ResourceRecord::builder()
                .value(&record.value)
                .build()
                .context("building a DNS record")?,
        )
        .build()
        .context("building a DNS record set")?;
    RecordChange::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .context("building a DNS change")
}

impl Certificate {
    /// What plan shows of the validation: what a pending certificate waits for and, with a
    /// hosted zone, each record the zone lacks or has with another value.
    pub(super) fn compare_validation(&self, have: &Observed, diff: &mut Diff) {
        if have.status == PENDING {
            diff.field(
                "validation",
                "pending",
                validation_target(&have.records, self.hosted_zone.as_deref()),
            );
        }
        if self.hosted_zone.is_some() {
            for record in &have.records {
                diff.field(
                    &format!("dns.{}", record.name),
                    have.zone.get(&record.name).map_or("(none)", String::as_str),
                    &record.value,
                );
            }
        }
    }

    /// Writes the certificate `arn`'s validation records into the hosted zone, or shows them for
    /// the operator to create, and waits until ACM has issued it.
    pub(super) async fn validate(&self, aws: &Aws, arn: &str) -> Result<()> {
        let (status, records) = self.validation(aws, arn).await?;
        match &self.hosted_zone {
            Some(zone) => self.write_records(aws, zone, &records).await?,
            None if status != ISSUED => tracing::info!(
                "the certificate for {} waits for its DNS validation: create {} where {}'s DNS is hosted, and keep it (ACM renews the certificate through it)",
                self.domain,
                shown(&records),
                self.domain
            ),
            None => {}
        }
        if status != ISSUED {
            self.wait_issued(aws, arn, &records).await?;
        }
        Ok(())
    }

    /// The certificate's status and validation records, once ACM has given the records.
    async fn validation(&self, aws: &Aws, arn: &str) -> Result<(String, Vec<ValidationRecord>)> {
        let mut attempt = 1;
        loop {
            let detail = describe(aws, arn)
                .await?
                .with_context(|| format!("the certificate {arn} is gone; run provision again"))?;
            let status = status_of(&detail);
            if status == ISSUED || records_given(&detail) {
                return Ok((status, validation_records(&detail)));
            }
            if is_spent(&status) {
                anyhow::bail!(
                    "ACM did not grant the certificate {arn} for {}: it is {status}{}; see the ACM console",
                    self.domain,
                    detail
                        .failure_reason()
                        .map(|f| format!(" ({})", f.as_str()))
                        .unwrap_or_default()
                );
            }
            if attempt == RECORD_ATTEMPTS {
                anyhow::bail!(
                    "ACM has not given the DNS validation records of the certificate {arn} after {} s; run provision again in a minute",
                    (RECORD_DELAY * RECORD_ATTEMPTS).as_secs()
                );
            }
            attempt += 1;
            tokio::time::sleep(RECORD_DELAY).await;
        }
    }

    /// Writes the validation records the hosted zone lacks (or has with another value).
    async fn write_records(
        &self,
        aws: &Aws,
        zone: &str,
        records: &[ValidationRecord],
    ) -> Result<()> {
        let have = zone_records(aws, zone, &self.domain, records).await?;
        let missing: Vec<&ValidationRecord> = records
            .iter()
            .filter(|r| have.get(&r.name) != Some(&r.value))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let changes = missing
            .iter()
            .map(|r| upsert(r))
            .collect::<Result<Vec<_>>>()?;
        let batch = ChangeBatch::builder()
            .comment(format!("Ledgerly: ACM validation of {}", self.domain))
            .set_changes(Some(changes))
            .build()
            .context("building the DNS change")?;
        let what: Vec<ValidationRecord> = missing.into_iter().cloned().collect();
        aws.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(sdk_error(format!(
                "writing the certificate's validation records ({}) in the hosted zone {zone}",
                shown(&what)
            )))?;
        tracing::info!(
            "wrote the certificate's validation records in the hosted zone {zone}: {}",
            shown(&what)
        );
        Ok(())
    }

    /// Waits until ACM has issued the certificate, at most `self.timeout`.
    async fn wait_issued(&self, aws: &Aws, arn: &str, records: &[ValidationRecord]) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        tracing::info!(
            "waiting up to {} minutes for ACM to validate the certificate for {}",
            self.timeout.as_secs().div_ceil(60),
            self.domain
        );
        loop {
            let detail = describe(aws, arn)
                .await?
                .with_context(|| format!("the certificate {arn} is gone; run provision again"))?;
            let status = status_of(&detail);
            if status == ISSUED {
                tracing::info!("ACM issued the certificate for {} ({arn})", self.domain);
                return Ok(());
            }
            if status != PENDING {
                anyhow::bail!(
                    "ACM stopped validating the certificate {arn} for {}: it is {status}{}; run provision again to request a new one",
                    self.domain,
                    detail
                        .failure_reason()
                        .map(|f| format!(" ({})", f.as_str()))
                        .unwrap_or_default()
                );
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(timeout_error(
                    &self.domain,
                    arn,
                    records,
                    self.hosted_zone.as_deref(),
                    self.timeout,
                ));
            }
            tokio::time::sleep(ISSUE_DELAY.min(deadline - now)).await;
        }
    }
}
