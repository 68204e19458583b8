//! The record pointing the stack's `domain` at its load balancer (`topology: ecs` with
//! `ecs.dns.hosted_zone_id`): an `A` alias to the load balancer's DNS name in its canonical
//! hosted zone, evaluating the target's health. It is the stack's when it is a simple `A` alias to
//! the stack's load balancer — the one there, or one named `<stack>-api` in the stack's region
//! (the load balancer made anew) — and then fixed where it differs. Any other record for the
//! domain (an `A` record to the old instance's address while a stack moves, a `CNAME`, another
//! stack's alias) is never replaced: the record waits, and says to delete that record or leave
//! out the hosted zone. Destroy deletes it only when it is the stack's, before the load balancer
//! goes. Without a hosted zone there is no record: plan says where to point the domain
//! ([`by_hand`]).

use anyhow::{Context as _, Result};
use aws_sdk_route53::types::ChangeAction;

use super::{
    Alias, Observed, RecordSet, alias_set, change, dns_name, domain_records, no_such_zone, shown,
};
use crate::aws::{Aws, elb};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The domain's alias record, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AliasRecord {
    /// `ecs.dns.hosted_zone_id`.
    pub(crate) zone: String,
    /// The stack's `domain`.
    pub(crate) domain: String,
    /// The stack's load balancer's name, `<stack>-api`.
    pub(crate) load_balancer: String,
    /// The stack's region, where its load balancer is.
    pub(crate) region: String,
}

/// What the records for the domain are to the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict<'a> {
    /// None: the alias is created.
    Absent,
    /// The stack's alias, as Route 53 has it: fixed where it differs.
    Ours(&'a Alias),
    /// Someone else's: left alone.
    Foreign(&'a [RecordSet]),
}

/// What plan says of an ECS stack without a hosted zone: where to point the domain by hand.
pub(crate) fn by_hand(config: &StackConfig, known: &Known) -> Option<String> {
    let ecs = config.ecs.as_ref()?;
    if ecs.dns.hosted_zone_id.is_some() {
        return None;
    }
    let domain = &config.domain;
    Some(match &known.ecs.load_balancer_dns {
        Some(dns) => format!(
            "Point {domain} at the load balancer's DNS name {dns} where {domain}'s DNS is hosted (a CNAME; an alias A record at a zone's apex in Route 53); with ecs.dns.hosted_zone_id provision does it."
        ),
        None => format!(
            "Once provision has made the load balancer {}, point {domain} at its DNS name (plan and status show it); with ecs.dns.hosted_zone_id provision does it.",
            elb::name(config)
        ),
    })
}

/// The alias the record must be: to the load balancer `known` has, once it exists.
fn target(known: &Known) -> Option<Alias> {
    Some(Alias {
        dns_name: dns_name(known.ecs.load_balancer_dns.as_deref()?),
        hosted_zone: known.ecs.load_balancer_zone.clone()?,
        evaluate_health: true,
    })
}

/// The fields of the stack's alias `have` that differ from `want`.
fn compare(have: &Alias, want: &Alias) -> Change {
    let mut diff = Diff::default();
    diff.field(
        "alias.dns_name",
        dns_name(&have.dns_name),
        dns_name(&want.dns_name),
    );
    diff.field("alias.hosted_zone_id", &have.hosted_zone, &want.hosted_zone);
    diff.field(
        "alias.evaluate_target_health",
        have.evaluate_health,
        want.evaluate_health,
    );
    diff.into_change()
}

impl AliasRecord {
    /// The stack's record, when its stack file gives a hosted zone.
    pub(super) fn of(config: &StackConfig) -> Option<AliasRecord> {
        let zone = config.ecs.as_ref()?.dns.hosted_zone_id.clone()?;
        Some(AliasRecord {
            zone,
            domain: config.domain.clone(),
            load_balancer: elb::name(config),
            region: config.region.clone(),
        })
    }

    /// Whether `alias` points at a load balancer named like the stack's, in its region: Elastic
    /// Load Balancing names an internet-facing one `<name>-<digits>.<region>.elb.amazonaws.com`.
    pub(crate) fn names_ours(&self, alias: &Alias) -> bool {
        let target = alias.load_balancer();
        let Some((label, rest)) = target.split_once('.') else {
            return false;
        };
        let prefix = format!("{}-", self.load_balancer.to_ascii_lowercase());
        let numbered = label
            .strip_prefix(&prefix)
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        let region = self.region.to_ascii_lowercase();
        numbered
            && [
                format!("{region}.elb.amazonaws.com."),
                format!("{region}.elb.amazonaws.com.cn."),
            ]
            .iter()
            .any(|zone| zone == rest)
    }

    /// What the records for the domain (`observed`) are to the stack whose load balancer, when
    /// there is one, is `live`.
    pub(crate) fn verdict<'a>(
        &self,
        observed: Option<&'a Observed>,
        live: Option<&Alias>,
    ) -> Verdict<'a> {
        let Some(have) = observed.filter(|have| !have.records.is_empty()) else {
            return Verdict::Absent;
        };
        if let [only] = have.records.as_slice()
            && let Some(alias) = only.simple_alias()
            && (live.is_some_and(|live| live.load_balancer() == alias.load_balancer())
                || self.names_ours(alias))
        {
            return Verdict::Ours(alias);
        }
        Verdict::Foreign(&have.records)
    }

    /// Why the record waits while `records`, not the stack's, hold the domain, and what to do.
    pub(crate) fn refusal(&self, records: &[RecordSet]) -> String {
        let (domain, zone) = (&self.domain, &self.zone);
        format!(
            "{domain} in the hosted zone {zone} is {}, not an alias to this stack's load balancer {}, and provision does not replace a record it did not make: delete that record (an old one, say, pointing at the instance of a stack being moved: docs/scale-out.md) and run provision again, or leave out ecs.dns.hosted_zone_id and point {domain} at the load balancer yourself",
            shown(records),
            self.load_balancer
        )
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Option<Observed>>> {
        domain_records(aws, &self.zone, &self.domain).await
    }
}

impl Resource for AliasRecord {
    type Observed = Observed;
    const KIND: &'static str = "route53 record";
    /// It names the load balancer's DNS name; destroy deletes it before the load balancer.
    const AFTER: &'static [&'static str] = &["load balancer"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(Self::of(config).into_iter().collect())
    }

    fn name(&self) -> String {
        self.domain.clone()
    }

    /// The records for the domain; an error when the hosted zone is not there.
    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        self.read(aws)
            .await?
            .ok_or_else(|| no_such_zone(&self.zone, &self.domain))
    }

    /// Someone else's record waits for them; the stack's waits for its load balancer.
    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        let want = target(known);
        match (self.verdict(observed, want.as_ref()), &want) {
            (Verdict::Foreign(records), _) => Change::Waiting {
                reason: self.refusal(records),
            },
            (_, None) => Change::Waiting {
                reason: format!(
                    "the load balancer {} does not exist yet (provision makes it first)",
                    self.load_balancer
                ),
            },
            (Verdict::Absent, Some(_)) => Change::Create,
            (Verdict::Ours(have), Some(want)) => compare(have, want),
        }
    }

    /// UPSERTs the alias where the survey read no record for the domain, or the stack's own.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let want = target(known).with_context(|| {
            format!(
                "the load balancer {} has no DNS name yet; it is made before the record pointing at it",
                self.load_balancer
            )
        })?;
        if let Verdict::Foreign(records) = self.verdict(observed, Some(&want)) {
            anyhow::bail!(self.refusal(records));
        }
        change(
            aws,
            &self.zone,
            ChangeAction::Upsert,
            alias_set(&dns_name(&self.domain), &want)?,
            format!(
                "pointing {} at the load balancer {} ({})",
                self.domain, self.load_balancer, want.dns_name
            ),
        )
        .await
    }

    /// Deletes the domain's record when it is the stack's alias: to the stack's load balancer
    /// while it is there (and carries the stack's tag), else to one named like it. Anything else
    /// is left; a hosted zone gone takes its records with it.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let Some(record) = AliasRecord::of(config) else {
            return Ok(vec![]);
        };
        let Some(Some(have)) = record.read(aws).await? else {
            return Ok(vec![]);
        };
        let live = elb::observe_by_name(aws, &record.load_balancer).await?;
        if let Some(balancer) = &live
            && !crate::aws::owned(&balancer.tags, config)
        {
            tracing::info!(
                "left {} in the hosted zone {}: the load balancer {} does not carry this stack's tag",
                record.domain,
                record.zone,
                record.load_balancer
            );
            return Ok(vec![]);
        }
        let live = live.map(|balancer| Alias {
            dns_name: balancer.dns_name,
            hosted_zone: balancer.canonical_zone,
            evaluate_health: true,
        });
        let alias = match record.verdict(Some(&have), live.as_ref()) {
            Verdict::Ours(alias) => alias,
            Verdict::Absent => return Ok(vec![]),
            Verdict::Foreign(records) => {
                tracing::info!(
                    "left {} in the hosted zone {} as it is ({}): not an alias to this stack's load balancer",
                    record.domain,
                    record.zone,
                    shown(records)
                );
                return Ok(vec![]);
            }
        };
        change(
            aws,
            &record.zone,
            ChangeAction::Delete,
            alias_set(&dns_name(&record.domain), alias)?,
            format!(
                "deleting {}'s alias to the load balancer {}",
                record.domain, record.load_balancer
            ),
        )
        .await?;
        Ok(vec![record.domain])
    }
}
