//! The API's ECS service as ECS has it, read and shown in the forms compared.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_sdk_ecs::types::ServiceField;

use super::{NAME, tags_of};
use crate::aws::{Aws, found};

/// The service as ECS has it, in the forms compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    /// `ACTIVE`, `DRAINING` (deleted, its tasks stopping) or `INACTIVE` (deleted).
    pub(crate) status: String,
    pub(crate) desired_count: i32,
    pub(crate) running_count: i32,
    pub(crate) subnets: BTreeSet<String>,
    /// By id.
    pub(crate) security_groups: BTreeSet<String>,
    pub(crate) public_ip: String,
    /// `<target group ARN> → <container>:<port>` each.
    pub(crate) load_balancers: BTreeSet<String>,
    pub(crate) registries: BTreeSet<String>,
    /// `None` when ECS does not say (moto leaves it out of a created service).
    pub(crate) deployment: Option<String>,
    /// `None` when ECS does not say (moto leaves it out of a created service).
    pub(crate) grace_period: Option<i32>,
    pub(crate) tags: BTreeMap<String, String>,
}

impl Observed {
    /// Whether it is there; a deleted service (draining or inactive) is not, and a new one of
    /// the same name can be created.
    pub(crate) fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

pub(super) fn shown(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        return "(none)".into();
    }
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

pub(super) fn load_balancer_shown(target_group: &str, container: &str, port: i32) -> String {
    format!("{target_group} → {container}:{port}")
}

/// A deployment configuration as compared: its percentages and circuit breaker
/// (`(enable, rollback)`).
pub(super) fn deployment_shown(
    minimum: Option<i32>,
    maximum: Option<i32>,
    breaker: Option<(bool, bool)>,
) -> String {
    let percent = |p: Option<i32>| p.map_or_else(|| "(unset)".to_owned(), |p| format!("{p} %"));
    let breaker = match breaker {
        Some((true, true)) => "circuit breaker with rollback",
        Some((true, false)) => "circuit breaker without rollback",
        _ => "no circuit breaker",
    };
    format!(
        "minimum healthy {}, maximum {}, {breaker}",
        percent(minimum),
        percent(maximum)
    )
}

/// The service `api` in `cluster` as ECS has it, deleted or not; `None` if there is none (or no
/// cluster).
pub(crate) async fn observe(aws: &Aws, cluster: &str) -> Result<Option<Observed>> {
    let reply = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(NAME)
        .include(ServiceField::Tags)
        .send()
        .await;
    let reply = found(
        reply,
        |e| e.is_cluster_not_found_exception(),
        || format!("reading the ECS service {cluster}/{NAME}"),
    )?;
    let Some(service) = reply.as_ref().and_then(|r| r.services().first()) else {
        return Ok(None);
    };
    let vpc = service
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    Ok(Some(Observed {
        arn: service.service_arn().unwrap_or_default().to_owned(),
        status: service.status().unwrap_or_default().to_owned(),
        desired_count: service.desired_count(),
        running_count: service.running_count(),
        subnets: vpc
            .map(|v| v.subnets().iter().cloned().collect())
            .unwrap_or_default(),
        security_groups: vpc
            .map(|v| v.security_groups().iter().cloned().collect())
            .unwrap_or_default(),
        public_ip: vpc
            .and_then(|v| v.assign_public_ip())
            .map_or_else(|| "(none)".to_owned(), |p| p.as_str().to_owned()),
        load_balancers: service
            .load_balancers()
            .iter()
            .map(|lb| {
                load_balancer_shown(
                    lb.target_group_arn()
                        .or(lb.load_balancer_name())
                        .unwrap_or_default(),
                    lb.container_name().unwrap_or_default(),
                    lb.container_port().unwrap_or_default(),
                )
            })
            .collect(),
        registries: service
            .service_registries()
            .iter()
            .map(|r| r.registry_arn().unwrap_or_default().to_owned())
            .collect(),
        deployment: service.deployment_configuration().map(|d| {
            deployment_shown(
                d.minimum_healthy_percent(),
                d.maximum_percent(),
                d.deployment_circuit_breaker()
                    .map(|b| (b.enable(), b.rollback())),
            )
        }),
        grace_period: service.health_check_grace_period_seconds(),
        tags: tags_of(service.tags()),
    }))
}
