//! The record pointing the stack's `domain` at its Elastic IP (the instance topology with
//! `dns.hosted_zone_id`): a simple `A` record holding that one address. It is the stack's when it
//! holds exactly the stack's address, and is then left as it is (its TTL is the operator's). Any
//! other record for the domain — an `A` record to another address, a `CNAME`, an alias — is never
//! replaced: the record waits and says to delete that record or leave out the hosted zone.
//! Destroy deletes it only when it is the stack's, before the address is released.

use anyhow::Result;
use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};

use super::{Observed, RecordSet, change, dns_name, domain_records, no_such_instance_zone, shown};
use crate::aws::Aws;
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, StackConfig};

/// How long resolvers keep the record (seconds): short, so a move takes effect soon.
pub(crate) const TTL: i64 = 300;

/// The domain's `A` record, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressRecord {
    /// `dns.hosted_zone_id`.
    pub(crate) zone: String,
    /// The stack's `domain`.
    pub(crate) domain: String,
}

impl AddressRecord {
    /// The stack's record, when its stack file gives a hosted zone (the instance topology).
    pub(crate) fn of(config: &StackConfig) -> Option<AddressRecord> {
        if config.ecs.is_some() {
            return None;
        }
        Some(AddressRecord {
            zone: config.dns.hosted_zone_id.clone()?,
            domain: config.domain.clone(),
        })
    }

    /// The stack's record among `records`: a simple `A` record with `address` alone; `Err` with
    /// the records when they hold the domain otherwise.
    pub(crate) fn ours<'a>(
        records: &'a [RecordSet],
        address: Option<&str>,
    ) -> Result<Option<&'a RecordSet>, &'a [RecordSet]> {
        match records {
            [] => Ok(None),
            [only]
                if only.kind == "A"
                    && only.alias.is_none()
                    && only.set_identifier.is_none()
                    && address.is_some_and(|a| only.values == [a]) =>
            {
                Ok(Some(only))
            }
            others => Err(others),
        }
    }

    /// Why the record waits while `records`, not the stack's, hold the domain, and what to do.
    fn refusal(&self, records: &[RecordSet], address: &str) -> String {
        let (domain, zone) = (&self.domain, &self.zone);
        format!(
            "{domain} in the hosted zone {zone} is {}, not an A record to this stack's address {address}, and provision does not replace a record it did not make: delete that record and run provision again, or leave out dns.hosted_zone_id and point {domain} at {address} yourself",
            shown(records)
        )
    }

    async fn read(&self, aws: &Aws) -> Result<Option<Option<Observed>>> {
        domain_records(aws, &self.zone, &self.domain).await
    }

    fn set(&self, address: &str) -> Result<ResourceRecordSet> {
        Ok(ResourceRecordSet::builder()
            .name(dns_name(&self.domain))
            .r#type(RrType::A)
            .ttl(TTL)
            .resource_records(ResourceRecord::builder().value(address).build()?)
            .build()?)
    }
}

impl Resource for AddressRecord {
    type Observed = Observed;
    const KIND: &'static str = "route53 a record";
    /// It holds the Elastic IP; destroy deletes it before the address goes.
    const AFTER: &'static [&'static str] = &["elastic ip"];

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
            .ok_or_else(|| no_such_instance_zone(&self.zone, &self.domain))
    }

    /// Someone else's record waits for them. Before the Elastic IP exists the record is still
    /// to be created: provision allocates the address first, in the same run.
    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        let address = known.address.as_deref();
        let records = observed.map_or(&[][..], |o| o.records.as_slice());
        match Self::ours(records, address) {
            Ok(None) => Change::Create,
            Ok(Some(_)) => Change::Unchanged,
            Err(records) => Change::Waiting {
                reason: self.refusal(records, address.unwrap_or("(not allocated yet)")),
            },
        }
    }

    /// Creates the record (CREATE, which Route 53 refuses if one appeared since the survey:
    /// nothing is overwritten).
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let Some(address) = known.address.clone() else {
            anyhow::bail!(
                "the Elastic IP has no address yet; it is made before the record pointing at it"
            );
        };
        let records = observed.map_or(&[][..], |o| o.records.as_slice());
        match Self::ours(records, Some(&address)) {
            Ok(Some(_)) => Ok(()),
            Err(records) => anyhow::bail!(self.refusal(records, &address)),
            Ok(None) => {
                change(
                    aws,
                    &self.zone,
                    ChangeAction::Create,
                    self.set(&address)?,
                    format!("pointing {} at the Elastic IP {address}", self.domain),
                )
                .await
            }
        }
    }

    /// Deletes the domain's record when it holds the stack's address alone; anything else is
    /// left, and a hosted zone gone took its records with it.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let Some(record) = AddressRecord::of(config) else {
            return Ok(vec![]);
        };
        let Some(Some(have)) = record.read(aws).await? else {
            return Ok(vec![]);
        };
        let address = crate::aws::eip::observe(aws, config)
            .await?
            .map(|a| a.public_ip);
        let Ok(Some(ours)) = Self::ours(&have.records, address.as_deref()) else {
            tracing::info!(
                "left {} in the hosted zone {} as it is ({}): not an A record to this stack's address",
                record.domain,
                record.zone,
                shown(&have.records)
            );
            return Ok(vec![]);
        };
        let address = ours.values[0].clone();
        // A DELETE names the record exactly as it is, TTL included.
        let ttl = read_ttl(aws, &record).await?.unwrap_or(TTL);
        let set = ResourceRecordSet::builder()
            .name(dns_name(&record.domain))
            .r#type(RrType::A)
            .ttl(ttl)
            .resource_records(ResourceRecord::builder().value(&address).build()?)
            .build()?;
        change(
            aws,
            &record.zone,
            ChangeAction::Delete,
            set,
            format!("deleting {}'s A record to {address}", record.domain),
        )
        .await?;
        Ok(vec![record.domain])
    }
}

/// The TTL of the domain's simple `A` record, as Route 53 has it.
async fn read_ttl(aws: &Aws, record: &AddressRecord) -> Result<Option<i64>> {
    let name = dns_name(&record.domain);
    let reply = aws
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&record.zone)
        .start_record_name(&name)
        .start_record_type(RrType::A)
        .max_items(1)
        .send()
        .await
        .map_err(crate::aws::sdk_error(format!(
            "reading {}'s A record in the hosted zone {}",
            record.domain, record.zone
        )))?;
    Ok(reply
        .resource_record_sets()
        .iter()
        .find(|s| dns_name(s.name()) == name && *s.r#type() == RrType::A)
        .and_then(ResourceRecordSet::ttl))
}
