//! Route 53, in the hosted zone the stack file names (`ecs.dns.hosted_zone_id`): the records of a
//! name as this crate reads them, and one change written. Two kinds write there: the
//! certificate's DNS validation (`acm::validation`) and the record pointing `domain` at the load
//! balancer (`alias`). Route 53 records carry no tags: what makes a record the stack's is what it
//! points at.

mod address;
mod alias;
#[cfg(test)]
mod tests;

pub(crate) use address::AddressRecord;
pub(crate) use alias::{AliasRecord, by_hand};

use std::fmt;

use anyhow::{Context as _, Result};
use aws_sdk_route53::types::{
    AliasTarget, Change as RecordChange, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};

use super::{Aws, found, sdk_error};

/// How many record sets one ListResourceRecordSets gives at most (Route 53's own limit is 300).
const PAGE: i32 = 100;

/// A DNS name as Route 53 gives it back: lowercase, ending in a dot.
pub(crate) fn dns_name(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// The error when the stack file's hosted zone is not in the account.
pub(crate) fn no_such_zone(zone: &str, domain: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "ecs.dns.hosted_zone_id: there is no hosted zone {zone} in this account; give the id of the Route 53 zone that holds {domain}, or leave it out to create the certificate's validation records and point {domain} at the load balancer yourself"
    )
}

/// The error when the instance topology's hosted zone (`dns.hosted_zone_id`) is not there.
pub(crate) fn no_such_instance_zone(zone: &str, domain: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "dns.hosted_zone_id: there is no hosted zone {zone} in this account; give the id of the Route 53 zone that holds {domain}, or leave it out and point {domain} at the Elastic IP yourself"
    )
}

/// The target of an alias record, as Route 53 gives it (exact: deleting an alias names it as it
/// is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alias {
    pub(crate) dns_name: String,
    pub(crate) hosted_zone: String,
    pub(crate) evaluate_health: bool,
}

impl Alias {
    /// The DNS name it points at, without the `dualstack.` an alias to a load balancer may carry
    /// (the console adds it): the same load balancer either way.
    pub(crate) fn load_balancer(&self) -> String {
        let name = dns_name(&self.dns_name);
        name.strip_prefix("dualstack.")
            .map(str::to_owned)
            .unwrap_or(name)
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "alias to {} (zone {}, target health {})",
            dns_name(&self.dns_name),
            self.hosted_zone,
            if self.evaluate_health { "on" } else { "off" }
        )
    }
}

/// One record set of a name: an `A` or `CNAME`, the types an `A` alias for the name replaces or
/// clashes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordSet {
    /// `A` or `CNAME`.
    pub(crate) kind: String,
    /// Its routing policy's set identifier (weighted, latency, failover, …); `None` for a simple
    /// record.
    pub(crate) set_identifier: Option<String>,
    /// An alias's target; `None` for a record with values.
    pub(crate) alias: Option<Alias>,
    /// A record's values (addresses, a name).
    pub(crate) values: Vec<String>,
}

impl RecordSet {
    /// The set as this crate reads it; `None` for a type other than `A` and `CNAME`.
    fn of(set: &ResourceRecordSet) -> Option<RecordSet> {
        if !matches!(set.r#type(), RrType::A | RrType::Cname) {
            return None;
        }
        Some(RecordSet {
            kind: set.r#type().as_str().to_owned(),
            set_identifier: set.set_identifier().map(str::to_owned),
            alias: set.alias_target().map(|a| Alias {
                dns_name: a.dns_name().to_owned(),
                hosted_zone: a.hosted_zone_id().to_owned(),
                evaluate_health: a.evaluate_target_health(),
            }),
            values: set
                .resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect(),
        })
    }

    /// Its alias, when it is a simple `A` alias record (no routing policy).
    pub(crate) fn simple_alias(&self) -> Option<&Alias> {
        self.alias
            .as_ref()
            .filter(|_| self.kind == "A" && self.set_identifier.is_none())
    }
}

impl fmt::Display for RecordSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.alias {
            Some(alias) => write!(f, "{} {alias}", self.kind)?,
            None => write!(f, "{} {}", self.kind, self.values.join(", "))?,
        }
        if let Some(id) = &self.set_identifier {
            write!(f, " (set {id})")?;
        }
        Ok(())
    }
}

/// The records as messages show them: `A 203.0.113.7; …`.
pub(crate) fn shown(records: &[RecordSet]) -> String {
    records
        .iter()
        .map(RecordSet::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `A` and `CNAME` record sets named `name` (as [`dns_name`] spells it) in the hosted zone
/// `zone`; `None` when there is no such zone.
pub(crate) async fn records_named(
    aws: &Aws,
    zone: &str,
    name: &str,
) -> Result<Option<Vec<RecordSet>>> {
    let mut records = Vec::new();
    let mut start = (name.to_owned(), None, None);
    loop {
        let (start_name, start_type, start_id) = start;
        let reply = aws
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(start_name)
            .set_start_record_type(start_type)
            .set_start_record_identifier(start_id)
            .max_items(PAGE)
            .send()
            .await;
        let Some(reply) = found(
            reply,
            |e| e.is_no_such_hosted_zone(),
            || format!("reading the records of {name} in the hosted zone {zone}"),
        )?
        else {
            return Ok(None);
        };
        // Listed from `name` on, in Route 53's order: the name's own sets come first.
        let listed = reply.resource_record_sets();
        let of_name = listed
            .iter()
            .take_while(|set| dns_name(set.name()) == name)
            .count();
        records.extend(listed[..of_name].iter().filter_map(RecordSet::of));
        match reply.next_record_name() {
            Some(next)
                if reply.is_truncated() && of_name == listed.len() && dns_name(next) == name =>
            {
                start = (
                    next.to_owned(),
                    reply.next_record_type().cloned(),
                    reply.next_record_identifier().map(str::to_owned),
                );
            }
            _ => return Ok(Some(records)),
        }
    }
}

/// The `A` and `CNAME` records the hosted zone has for a domain (at least one): what the two
/// record kinds observe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) records: Vec<RecordSet>,
}

/// The `A` and `CNAME` records for `domain` in `zone` (`Some(None)`: none); `None` when the
/// hosted zone is not there.
pub(crate) async fn domain_records(
    aws: &Aws,
    zone: &str,
    domain: &str,
) -> Result<Option<Option<Observed>>> {
    let records = records_named(aws, zone, &dns_name(domain)).await?;
    Ok(records.map(|records| (!records.is_empty()).then_some(Observed { records })))
}

/// A simple `A` alias record set named `name` pointing at `alias`.
pub(crate) fn alias_set(name: &str, alias: &Alias) -> Result<ResourceRecordSet> {
    let target = AliasTarget::builder()
        .dns_name(&alias.dns_name)
        .hosted_zone_id(&alias.hosted_zone)
        .evaluate_target_health(alias.evaluate_health)
        .build()
        .context("building an alias target")?;
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(target)
        .build()
        .context("building a DNS record set")
}

/// Writes one change of `set` into the hosted zone `zone`; `what` says what it does, in an error.
/// Route 53 applies it everywhere within about a minute; nothing here waits for that.
pub(crate) async fn change(
    aws: &Aws,
    zone: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    what: String,
) -> Result<()> {
    let change = RecordChange::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .context("building a DNS change")?;
    let batch = ChangeBatch::builder()
        // Route 53 takes 256 characters at most.
        .comment(
            format!("Ledgerly: {what}")
                .chars()
                .take(256)
                .collect::<String>(),
        )
        .set_changes(Some(vec![change]))
        .build()
        .context("building the DNS change")?;
    aws.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map_err(sdk_error(format!("{what} (hosted zone {zone})")))?;
    Ok(())
}
