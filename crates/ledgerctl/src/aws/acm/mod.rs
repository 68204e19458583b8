//! The ACM certificate of the load balancer's HTTPS listener (`topology: ecs`). Either the
//! operator's (`ecs.certificate_arn`), which is only checked — there, issued, covering `domain` —
//! and never changed or deleted; or one the stack requests for `domain`, validated through DNS:
//! its validation records are written into `ecs.dns.hosted_zone_id`, or, without a zone, shown
//! for the operator to create. The kinds after it read its ARN once it is issued.
//!
//! Over 400 lines: the kind, and how it finds, checks, requests and replaces the certificate. Its
//! DNS validation, from the records to the wait for its issue, is in `validation`.

#[cfg(test)]
mod tests;
mod validation;

use validation::{ValidationRecord, dns_name, validation_records, zone_records};

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use aws_sdk_acm::types::{CertificateDetail, KeyAlgorithm, Tag, ValidationMethod};

use super::{Aws, found, sdk_error};
use crate::stack::config::STACK_TAG;
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

const ISSUED: &str = "ISSUED";
const PENDING: &str = "PENDING_VALIDATION";

/// The HTTPS listener's certificate for the stack's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Certificate {
    /// What it must cover: the stack's `domain`.
    pub(crate) domain: String,
    /// The operator's certificate (`ecs.certificate_arn`); `None`: the stack requests one.
    pub(crate) operator_arn: Option<String>,
    /// Where the validation records are written; `None`: the operator creates them.
    pub(crate) hosted_zone: Option<String>,
    /// How long provision waits for the validation (`ecs.certificate_timeout_minutes`).
    pub(crate) timeout: Duration,
    pub(crate) stack: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    /// ACM's status: `ISSUED`, `PENDING_VALIDATION`, `FAILED`, `EXPIRED`, …
    pub(crate) status: String,
    /// Why ACM failed it, when it did.
    pub(crate) failure: Option<String>,
    /// The records ACM validates it through (none yet just after the request).
    pub(crate) records: Vec<ValidationRecord>,
    /// The load balancers using it.
    pub(crate) in_use_by: Vec<String>,
    /// Its tags (the operator's certificate's are not read).
    pub(crate) tags: BTreeMap<String, String>,
    /// What the hosted zone has at each validation record's name (CNAME value), when there is
    /// a zone.
    pub(crate) zone: BTreeMap<String, String>,
}

/// Whether a certificate for `name` (a domain, or a `*.parent` wildcard) covers `domain`. A
/// wildcard covers one label: `*.example.com` covers `api.example.com`, neither `example.com`
/// nor `a.api.example.com`.
fn covers(name: &str, domain: &str) -> bool {
    let name = dns_name(name);
    let domain = dns_name(domain);
    match name.strip_prefix("*.") {
        Some(parent) => domain
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && label != "*" && rest == parent),
        None => name == domain,
    }
}

/// What is wrong with the operator's certificate `arn` for a listener serving `domain`: not
/// issued, or for other names.
fn operator_problem(arn: &str, domain: &str, status: &str, names: &[String]) -> Option<String> {
    if status != ISSUED {
        return Some(format!(
            "ecs.certificate_arn: the certificate {arn} is {status}, not ISSUED; the load balancer needs an issued certificate: finish its validation in ACM, give another, or leave ecs.certificate_arn out to have one requested"
        ));
    }
    if !names.iter().any(|name| covers(name, domain)) {
        return Some(format!(
            "ecs.certificate_arn: the certificate {arn} is for {}, which does not cover {domain}; give one whose domain or alternative names include {domain} (or a wildcard for its parent), or leave ecs.certificate_arn out to have one requested",
            names.join(", ")
        ));
    }
    None
}

/// RequestCertificate's idempotency token: the stack's letters and digits (20 at most) and the
/// moment of the request in milliseconds, in base 36 — 28 letters and digits at most, where ACM
/// allows 32. The SDK's retries of one request send the same token, so a request whose answer
/// was lost is not granted twice. A token of the stack's name alone would, for an hour, answer a
/// new request with the certificate deleted before it (destroy then provision; a failed one
/// replaced); across runs, the stack's tag is what finds its certificate.
fn idempotency_token(stack: &str, millis: u128) -> String {
    let mut token: String = stack
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    let mut digits = Vec::new();
    let mut rest = millis;
    loop {
        digits.push(char::from_digit((rest % 36) as u32, 36).unwrap_or('0'));
        rest /= 36;
        if rest == 0 {
            break;
        }
    }
    token.extend(digits.iter().rev());
    token
}

/// How ACM ranks the stack's certificates for a domain: issued, then pending, then the rest.
fn rank(status: &str) -> u8 {
    match status {
        ISSUED => 0,
        PENDING => 1,
        _ => 2,
    }
}

fn is_spent(status: &str) -> bool {
    rank(status) == 2
}

/// The stack's tags as ACM's type.
fn acm_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
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

/// One of the stack's certificates for a domain, as ListCertificates and its tags show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    arn: String,
    status: String,
    /// When it was requested, in seconds since the epoch.
    created: i64,
    tags: BTreeMap<String, String>,
}

/// Best first: issued, then pending, then the rest; newest first within each.
fn order(candidates: &mut [Candidate]) {
    candidates.sort_by_key(|c| (rank(&c.status), std::cmp::Reverse(c.created)));
}

/// The certificates for `domain` carrying the stack `stack`'s tag, best first.
async fn ours(aws: &Aws, domain: &str, stack: &str) -> Result<Vec<Candidate>> {
    let mut candidates = Vec::new();
    let mut pages = aws.acm.list_certificates().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error(format!(
            "listing the ACM certificates (looking for the one for {domain})"
        )))?;
        for summary in page.certificate_summary_list() {
            let (Some(arn), Some(name)) = (summary.certificate_arn(), summary.domain_name()) else {
                continue;
            };
            if dns_name(name) != dns_name(domain) {
                continue;
            }
            let Some(tags) = certificate_tags(aws, arn).await? else {
                continue;
            };
            if tags.get(STACK_TAG).map(String::as_str) != Some(stack) {
                continue;
            }
            candidates.push(Candidate {
                arn: arn.to_owned(),
                status: summary
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                created: summary.created_at().map(|t| t.secs()).unwrap_or_default(),
                tags,
            });
        }
    }
    order(&mut candidates);
    Ok(candidates)
}

/// The certificate's tags; `None` if it is gone.
async fn certificate_tags(aws: &Aws, arn: &str) -> Result<Option<BTreeMap<String, String>>> {
    let reply = found(
        aws.acm
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        || format!("reading the tags of the certificate {arn}"),
    )?;
    Ok(reply.map(|r| {
        r.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()
    }))
}

/// The certificate `arn`; `None` if there is none.
async fn describe(aws: &Aws, arn: &str) -> Result<Option<CertificateDetail>> {
    let reply = found(
        aws.acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        || format!("describing the certificate {arn}"),
    )?;
    Ok(reply.and_then(|r| r.certificate))
}

fn status_of(detail: &CertificateDetail) -> String {
    detail
        .status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

fn as_observed(detail: &CertificateDetail, arn: &str, tags: BTreeMap<String, String>) -> Observed {
    Observed {
        arn: arn.to_owned(),
        status: status_of(detail),
        failure: detail.failure_reason().map(|f| f.as_str().to_owned()),
        records: validation_records(detail),
        in_use_by: detail.in_use_by().to_vec(),
        tags,
        zone: BTreeMap::new(),
    }
}

impl Certificate {
    /// The stack's certificate for the domain (the best, when a failed one was replaced), with
    /// what the hosted zone has of its records.
    async fn observe_requested(&self, aws: &Aws) -> Result<Option<Observed>> {
        for candidate in ours(aws, &self.domain, &self.stack).await? {
            let Some(detail) = describe(aws, &candidate.arn).await? else {
                continue;
            };
            let mut have = as_observed(&detail, &candidate.arn, candidate.tags);
            if let Some(zone) = &self.hosted_zone {
                have.zone = zone_records(aws, zone, &self.domain, &have.records).await?;
            }
            return Ok(Some(have));
        }
        Ok(None)
    }

    /// The operator's certificate, checked: an error, before any change, when it is missing,
    /// not issued or for other names.
    async fn observe_operator(&self, aws: &Aws, arn: &str, region: &str) -> Result<Observed> {
        let domain = &self.domain;
        let Some(detail) = describe(aws, arn).await? else {
            anyhow::bail!(
                "ecs.certificate_arn: there is no certificate {arn} in {region}; give the ARN of an issued certificate for {domain} from this region's ACM, or leave ecs.certificate_arn out to have one requested"
            );
        };
        let mut names: Vec<String> = detail
            .domain_name()
            .map(str::to_owned)
            .into_iter()
            .collect();
        names.extend(detail.subject_alternative_names().iter().cloned());
        names.dedup();
        if let Some(problem) = operator_problem(arn, domain, &status_of(&detail), &names) {
            anyhow::bail!(problem);
        }
        Ok(as_observed(&detail, arn, BTreeMap::new()))
    }

    /// Requests a certificate for the domain, validated through DNS; its ARN.
    async fn request(&self, aws: &Aws) -> Result<String> {
        let domain = &self.domain;
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let reply = aws
            .acm
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .idempotency_token(idempotency_token(&self.stack, millis))
            .key_algorithm(KeyAlgorithm::Rsa2048)
            .set_tags(Some(acm_tags(&self.tags)?))
            .send()
            .await
            .map_err(sdk_error(format!("requesting a certificate for {domain}")))?;
        let arn = reply
            .certificate_arn()
            .context("ACM did not give the requested certificate's ARN")?
            .to_owned();
        tracing::info!("requested an ACM certificate for {domain} ({arn})");
        Ok(arn)
    }

    /// Makes way for a new certificate in place of `have`, which ACM will not issue (failed,
    /// expired, revoked, timed out): deletes it, unless a load balancer still uses it — then it
    /// stays until the listener has moved to the new one (destroy deletes it).
    async fn retire(&self, aws: &Aws, have: &Observed) -> Result<()> {
        let arn = &have.arn;
        if !have.in_use_by.is_empty() {
            tracing::warn!(
                "the certificate {arn} for {} is {} and still used by {}; requesting a new one beside it (delete the old one once the listener uses the new one; destroy deletes it too)",
                self.domain,
                have.status,
                have.in_use_by.join(", ")
            );
            return Ok(());
        }
        let reply = aws
            .acm
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await;
        found(
            reply,
            |e| e.is_resource_not_found_exception(),
            || format!("deleting the {} certificate {arn}", have.status),
        )?;
        Ok(())
    }
}

impl Resource for Certificate {
    type Observed = Observed;
    const KIND: &'static str = "acm certificate";

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        let Some(ecs) = &config.ecs else {
            return Ok(vec![]);
        };
        Ok(vec![Certificate {
            domain: config.domain.clone(),
            operator_arn: ecs.certificate_arn.clone(),
            hosted_zone: ecs.dns.hosted_zone_id.clone(),
            timeout: Duration::from_secs(u64::from(ecs.certificate_timeout_minutes) * 60),
            stack: config.stack.clone(),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.domain.clone()
    }

    /// The operator's certificate, checked (an error when it will not do), or the stack's own.
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        match &self.operator_arn {
            Some(arn) => Ok(Some(self.observe_operator(aws, arn, &known.region).await?)),
            None => self.observe_requested(aws).await,
        }
    }

    /// Its ARN, once it is issued.
    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        if let Some(have) = observed.filter(|have| have.status == ISSUED) {
            known.ecs.certificate = Some(have.arn.clone());
        }
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        if let Some(arn) = &self.operator_arn {
            return match observed {
                Some(_) => Change::Unchanged,
                None => Change::Waiting {
                    reason: format!(
                        "the certificate {arn} in ecs.certificate_arn does not exist in this region"
                    ),
                },
            };
        }
        Diff::of(observed, |have, diff| {
            if is_spent(&have.status) {
                diff.field(
                    "status",
                    &have.status,
                    "ISSUED (a new certificate is requested)",
                );
                return;
            }
            self.compare_validation(have, diff);
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Requests the certificate (in place of one ACM will not issue), tags it, writes its
    /// validation records into the hosted zone or shows them, and waits until it is issued.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        if self.operator_arn.is_some() {
            self.learn(observed, known);
            return Ok(());
        }
        let arn = match observed {
            Some(have) if !is_spent(&have.status) => {
                let missing: BTreeMap<String, String> = self
                    .tags
                    .iter()
                    .filter(|(k, v)| have.tags.get(*k) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !missing.is_empty() {
                    aws.acm
                        .add_tags_to_certificate()
                        .certificate_arn(&have.arn)
                        .set_tags(Some(acm_tags(&missing)?))
                        .send()
                        .await
                        .map_err(sdk_error(format!("tagging the certificate {}", have.arn)))?;
                }
                have.arn.clone()
            }
            Some(spent) => {
                self.retire(aws, spent).await?;
                self.request(aws).await?
            }
            None => self.request(aws).await?,
        };
        self.validate(aws, &arn).await?;
        known.ecs.certificate = Some(arn);
        Ok(())
    }

    fn unhealthy(observed: &Observed) -> Option<String> {
        (observed.status != ISSUED).then(|| observed.status.to_ascii_lowercase().replace('_', "-"))
    }

    /// Deletes the stack's certificates for the domain (the operator's is left alone; the
    /// validation records stay in the zone: another certificate for the domain in this account,
    /// in another region say, validates through the same ones).
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let domain = &config.domain;
        let operator = config
            .ecs
            .as_ref()
            .and_then(|ecs| ecs.certificate_arn.as_deref());
        let mut deleted = Vec::new();
        for candidate in ours(aws, domain, &config.stack).await? {
            let arn = &candidate.arn;
            if Some(arn.as_str()) == operator {
                continue;
            }
            super::ensure_owned(
                &candidate.tags,
                config,
                format_args!("the certificate {arn}"),
            )?;
            let reply = aws
                .acm
                .delete_certificate()
                .certificate_arn(arn)
                .send()
                .await;
            let in_use = reply
                .as_ref()
                .err()
                .and_then(|err| err.as_service_error())
                .is_some_and(|e| e.is_resource_in_use_exception());
            if in_use {
                let users = describe(aws, arn)
                    .await
                    .ok()
                    .flatten()
                    .map(|d| d.in_use_by().join(", "))
                    .unwrap_or_default();
                anyhow::bail!(
                    "the certificate {arn} for {domain} is still in use ({users}); ACM deletes a certificate only once no load balancer uses it: remove what uses it, then run destroy again"
                );
            }
            if found(
                reply,
                |e| e.is_resource_not_found_exception(),
                || format!("deleting the certificate {arn}"),
            )?
            .is_some()
            {
                deleted.push(format!("{domain} ({arn})"));
            }
        }
        Ok(deleted)
    }
}
