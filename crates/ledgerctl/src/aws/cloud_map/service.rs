//! The namespace's service `api`: the A records of the API's ECS tasks, which ECS registers
//! while they are healthy and Prometheus looks up as `<stack>-api.ledgerly.internal`.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsConfigChange, DnsRecord, FilterCondition, HealthCheckCustomConfig, RecordType,
    RoutingPolicy, ServiceChange, ServiceFilter, ServiceFilterName,
};

use super::{NAMESPACE, add_tags, find_namespace, read_tags, service_name, tags, wait_for};
use crate::aws::{Aws, ensure_owned, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The A records' TTL: short, so that Prometheus soon sees tasks come and go.
const TTL_SECONDS: i64 = 10;

/// The namespace's service `api`, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiscoveryService {
    pub(crate) name: String,
    /// The namespace's name; its id is `known.ecs.namespace`.
    pub(crate) namespace: String,
    pub(crate) ttl: i64,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceObserved {
    pub(crate) id: String,
    pub(crate) arn: String,
    /// The A record's TTL; `None` when it has no A record.
    pub(crate) ttl: Option<i64>,
    pub(crate) tags: BTreeMap<String, String>,
}

fn desired_service(config: &StackConfig) -> Vec<DiscoveryService> {
    if config.ecs.is_none() {
        return vec![];
    }
    vec![DiscoveryService {
        name: service_name(config),
        namespace: NAMESPACE.into(),
        ttl: TTL_SECONDS,
        tags: config.tags(),
    }]
}

/// The A record's TTL in a service's DNS configuration.
fn a_record_ttl(dns: Option<&DnsConfig>) -> Option<i64> {
    dns?.dns_records()
        .iter()
        .find(|r| r.r#type() == &RecordType::A)
        .map(DnsRecord::ttl)
}

/// The service `name` in the namespace `namespace` (an id); `None` if there is none.
async fn find_service(aws: &Aws, namespace: &str, name: &str) -> Result<Option<ServiceObserved>> {
    let filter = ServiceFilter::builder()
        .name(ServiceFilterName::NamespaceId)
        .values(namespace)
        .condition(FilterCondition::Eq)
        .build()
        .context("building a service filter")?;
    let mut pages = aws
        .discovery
        .list_services()
        .filters(filter)
        .into_paginator()
        .send();
    let mut candidates = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error(format!(
            "listing the services of the namespace {namespace}"
        )))?;
        candidates.extend(
            page.services()
                .iter()
                .filter(|s| s.name() == Some(name))
                .filter_map(|s| s.id().map(str::to_owned)),
        );
    }
    for id in candidates {
        let reply = found(
            aws.discovery.get_service().id(&id).send().await,
            |e| e.is_service_not_found(),
            || format!("reading the service {name} ({id})"),
        )?;
        // Its namespace checked again: an emulator ignores the filter.
        let Some(service) = reply
            .as_ref()
            .and_then(|r| r.service())
            .filter(|s| s.namespace_id() == Some(namespace))
        else {
            continue;
        };
        let arn = service
            .arn()
            .with_context(|| format!("Cloud Map described the service {name} without its ARN"))?;
        let Some(tags) = read_tags(aws, arn, &format!("the service {name}")).await? else {
            continue;
        };
        return Ok(Some(ServiceObserved {
            id,
            arn: arn.to_owned(),
            ttl: a_record_ttl(service.dns_config()),
            tags,
        }));
    }
    Ok(None)
}

impl DiscoveryService {
    fn a_record(&self) -> Result<DnsRecord> {
        DnsRecord::builder()
            .r#type(RecordType::A)
            .ttl(self.ttl)
            .build()
            .context("building the service's A record")
    }

    /// Creates the service in the namespace `namespace` (an id): A records, one per task, all
    /// answered (multivalue), and health as ECS reports it (a setting Cloud Map takes only at
    /// creation).
    async fn create(&self, aws: &Aws, namespace: &str) -> Result<ServiceObserved> {
        let name = self.name();
        let created = aws
            .discovery
            .create_service()
            .name(&self.name)
            .namespace_id(namespace)
            .description("Ledgerly: the API's ECS tasks")
            .dns_config(
                DnsConfig::builder()
                    .routing_policy(RoutingPolicy::Multivalue)
                    .dns_records(self.a_record()?)
                    .build()
                    .context("building the service's DNS configuration")?,
            )
            .health_check_custom_config(HealthCheckCustomConfig::builder().build())
            .set_tags(Some(tags(&self.tags)?))
            .send()
            .await;
        let created = found(
            created,
            |e| e.is_service_already_exists(),
            || format!("creating the service {name}"),
        )?;
        if let Some(service) = created.as_ref().and_then(|r| r.service())
            && let (Some(id), Some(arn)) = (service.id(), service.arn())
        {
            return Ok(ServiceObserved {
                id: id.to_owned(),
                arn: arn.to_owned(),
                ttl: a_record_ttl(service.dns_config()),
                tags: self.tags.clone(),
            });
        }
        // Made by a run interrupted before it could say so.
        find_service(aws, namespace, &self.name)
            .await?
            .with_context(|| format!("the service {name} exists, yet is not listed"))
    }
}

impl Resource for DiscoveryService {
    type Observed = ServiceObserved;
    const KIND: &'static str = "cloud map service";
    const AFTER: &'static [&'static str] = &["cloud map namespace"];
    /// It is found by the namespace's id.
    const READS_AFTER: &'static [&'static str] = &["cloud map namespace"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(desired_service(config))
    }

    /// As Prometheus asks for it: `api.<namespace>`.
    fn name(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }

    /// `None` too while the namespace does not exist.
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<ServiceObserved>> {
        let Some(namespace) = &known.ecs.namespace else {
            return Ok(None);
        };
        find_service(aws, namespace, &self.name).await
    }

    fn learn(&self, observed: Option<&ServiceObserved>, known: &mut Known) {
        if let Some(have) = observed {
            known.ecs.discovery = Some(have.arn.clone());
        }
    }

    /// The TTL and the tags; the routing policy and the health setting are given at creation
    /// only.
    fn diff(&self, observed: Option<&ServiceObserved>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            let ttl = have
                .ttl
                .map_or_else(|| "(no A record)".to_owned(), |t| format!("{t} s"));
            diff.field("ttl", ttl, format!("{} s", self.ttl));
            diff.tags(&have.tags, &self.tags);
        })
    }

    async fn apply(
        &self,
        aws: &Aws,
        observed: Option<&ServiceObserved>,
        known: &mut Known,
    ) -> Result<()> {
        let name = self.name();
        let have = match observed {
            Some(have) => have.clone(),
            None => {
                let namespace = known.ecs.namespace.clone().with_context(|| {
                    format!(
                        "the namespace {} has no id to make {name} in; provision it first",
                        self.namespace
                    )
                })?;
                self.create(aws, &namespace).await?
            }
        };
        known.ecs.discovery = Some(have.arn.clone());
        if have.ttl != Some(self.ttl) {
            let change = ServiceChange::builder()
                .dns_config(
                    DnsConfigChange::builder()
                        .dns_records(self.a_record()?)
                        .build()
                        .context("building the service's DNS change")?,
                )
                .build();
            let reply = aws
                .discovery
                .update_service()
                .id(&have.id)
                .service(change)
                .send()
                .await
                .map_err(sdk_error(format!("setting the TTL of {name}")))?;
            if let Some(operation) = reply.operation_id() {
                wait_for(aws, operation, &format!("the TTL change of {name}")).await?;
            }
        }
        let what = format!("the service {name}");
        add_tags(aws, &have.arn, &self.tags, &have.tags, &what).await
    }

    /// Deletes the stack's service. ECS deregisters the tasks' instances as the ECS service,
    /// deleted before, stops them; instances still registered are an error.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let Some(in_namespace) = find_namespace(aws, NAMESPACE).await? else {
            return Ok(vec![]);
        };
        let name = service_name(config);
        let Some(have) = find_service(aws, &in_namespace.id, &name).await? else {
            return Ok(vec![]);
        };
        let shown = format!("{name}.{NAMESPACE}");
        ensure_owned(&have.tags, config, format_args!("the service {shown}"))?;
        let reply = aws.discovery.delete_service().id(&have.id).send().await;
        let deleted = found(
            reply,
            |e| e.is_service_not_found(),
            || format!("deleting the service {shown}"),
        )?;
        Ok(deleted.map(|_| shown).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "stack: ledgerly-test\nregion: eu-west-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: ops\n";

    fn config(extra: &str) -> StackConfig {
        StackConfig::parse(&format!("{STACK}{extra}"), "test").unwrap_or_else(|e| panic!("{e}"))
    }

    fn fields(change: Change) -> Vec<String> {
        match change {
            Change::Update { fields } => fields
                .iter()
                .map(|f| format!("{}: {} → {}", f.field, f.from, f.to))
                .collect(),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn the_service_is_named_after_the_stack_and_only_wanted_with_ecs() {
        assert!(desired_service(&config("")).is_empty());
        let ecs = config("topology: ecs\n");
        let service = &desired_service(&ecs)[0];
        assert_eq!(service.name(), "ledgerly-test-api.ledgerly.internal");
        assert_eq!(service.ttl, 10);
    }

    #[test]
    fn the_ttl_is_the_a_records() {
        let record = |kind, ttl| {
            DnsRecord::builder()
                .r#type(kind)
                .ttl(ttl)
                .build()
                .expect("type and TTL given")
        };
        let dns = DnsConfig::builder()
            .dns_records(record(RecordType::Srv, 60))
            .dns_records(record(RecordType::A, 10))
            .build()
            .expect("records given");
        assert_eq!(a_record_ttl(Some(&dns)), Some(10));
        let srv_only = DnsConfig::builder()
            .dns_records(record(RecordType::Srv, 60))
            .build()
            .expect("records given");
        assert_eq!(a_record_ttl(Some(&srv_only)), None);
        assert_eq!(a_record_ttl(None), None);
    }

    #[test]
    fn the_service_ttl_and_tags_are_drift() {
        let ecs = config("topology: ecs\n");
        let service = &desired_service(&ecs)[0];
        let known = Known::default();
        assert_eq!(service.diff(None, &known), Change::Create);
        let mut have = ServiceObserved {
            id: "srv-1".into(),
            arn: "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1".into(),
            ttl: Some(10),
            tags: ecs.tags(),
        };
        assert_eq!(service.diff(Some(&have), &known), Change::Unchanged);
        have.ttl = Some(60);
        have.tags.clear();
        assert_eq!(
            fields(service.diff(Some(&have), &known)),
            [
                "ttl: 60 s → 10 s",
                "tags.ledgerly:stack: (none) → ledgerly-test"
            ]
        );
    }
}
