//! The API's ECS service `api` in the stack's cluster: Fargate tasks of the task definition
//! family `<stack>-api` behind the load balancer's target group, registered in Cloud Map, their
//! count autoscaled between `ecs.tasks.min` and `max` (`aws/scaling.rs`).
//!
//! The task definition is deploy's: it registers a revision per release (the image by digest,
//! the secrets by SSM reference). From zero, the service waits for the first revision; provision
//! creates it from the family's newest one and never changes its task definition afterwards
//! (deploy does). Nor its task count: autoscaling owns it, and provision only brings a count
//! outside `min`..`max` back inside.
//!
//! The tasks get public IP addresses: the default VPC's subnets have no NAT gateway, and a task
//! pulls its image from ECR and reads its secrets from SSM over the internet. Their security
//! group, `<stack>-tasks`, decides who reaches them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_ecs::client::Waiters as _;
use aws_sdk_ecs::error::ProvideErrorMetadata as _;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, ServiceField, ServiceRegistry,
    Tag, TaskDefinitionField, TaskDefinitionStatus,
};

use crate::aws::elb::target_group::API_PORT;
use crate::aws::{Aws, ensure_owned, found, sdk_error, waited};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig, tags_missing};

/// The service's name in the cluster.
pub(crate) const NAME: &str = "api";
/// The API's container in the task definition: the one the target group sends traffic to.
pub(crate) const CONTAINER: &str = "api";
/// How long a new task may fail the load balancer's health check before ECS replaces it.
const GRACE_PERIOD_SECONDS: i32 = 30;
/// A deployment starts the new tasks before it stops the old ones.
const MINIMUM_HEALTHY_PERCENT: i32 = 100;
const MAXIMUM_PERCENT: i32 = 200;
/// How long a deleted service may take to drain its tasks.
pub(crate) const INACTIVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The task definition family deploy registers the API's revisions in: `<stack>-api`.
pub(crate) fn family(config: &StackConfig) -> String {
    config.name("api")
}

/// The service, as the stack file wants it. The target group, the Cloud Map service and the
/// security group's id come from [`Known`] when it is compared or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Service {
    pub(crate) cluster: String,
    pub(crate) family: String,
    /// The family's newest active revision, which the service is created from. `None`: a
    /// service that does not exist yet waits for the first deploy.
    pub(crate) task_definition: Option<String>,
    /// The task count at creation.
    pub(crate) desired_count: i32,
    /// The bounds autoscaling keeps the count in.
    pub(crate) min: i32,
    pub(crate) max: i32,
    pub(crate) subnets: BTreeSet<String>,
    /// The tasks' security group, by name.
    pub(crate) group: String,
    pub(crate) tags: BTreeMap<String, String>,
}

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
    fn is_active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

fn shown(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        return "(none)".into();
    }
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn load_balancer_shown(target_group: &str, container: &str, port: i32) -> String {
    format!("{target_group} → {container}:{port}")
}

/// A deployment configuration as compared: its percentages and circuit breaker
/// (`(enable, rollback)`).
fn deployment_shown(
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

fn wanted_deployment() -> String {
    deployment_shown(
        Some(MINIMUM_HEALTHY_PERCENT),
        Some(MAXIMUM_PERCENT),
        Some((true, true)),
    )
}

fn deployment() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(MINIMUM_HEALTHY_PERCENT)
        .maximum_percent(MAXIMUM_PERCENT)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build()
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn ecs_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The family's newest active revision, by ARN; `None` if it has none.
pub(crate) async fn newest_task_definition(aws: &Aws, family: &str) -> Result<Option<String>> {
    let reply = aws
        .ecs
        .describe_task_definition()
        .task_definition(family)
        .send()
        .await;
    // A family without revisions: ECS answers a ClientException.
    let reply = found(
        reply,
        |e| {
            e.is_client_exception()
                && e.message()
                    .is_some_and(|m| m.contains("Unable to describe task definition"))
        },
        || format!("reading the task definition {family}"),
    )?;
    // AWS answers a family's newest ACTIVE revision; moto its newest, whatever its status.
    Ok(reply
        .as_ref()
        .and_then(|r| r.task_definition())
        .filter(|t| t.status() == Some(&TaskDefinitionStatus::Active))
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned))
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

/// The names of the fields in `change`.
fn changed_fields(change: Change) -> BTreeSet<String> {
    match change {
        Change::Update { fields } => fields.into_iter().map(|f| f.field).collect(),
        _ => BTreeSet::new(),
    }
}

impl Service {
    fn load_balancer(&self, known: &Known) -> String {
        let target_group = known
            .ecs
            .target_group
            .as_deref()
            .unwrap_or("(the target group, once made)");
        load_balancer_shown(target_group, CONTAINER, API_PORT)
    }

    fn registry(&self, known: &Known) -> String {
        known
            .ecs
            .discovery
            .clone()
            .unwrap_or_else(|| "(the cloud map service, once made)".into())
    }

    /// The fields of the service as ECS has it (`have`, active) that are not as wanted.
    fn compare(&self, have: &Observed, known: &Known, diff: &mut Diff) {
        diff.field("subnets", shown(&have.subnets), shown(&self.subnets));
        let names = known.group_names();
        let groups: BTreeSet<String> = have
            .security_groups
            .iter()
            .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
            .collect();
        diff.field("security_groups", shown(&groups), &self.group);
        diff.field(
            "assign_public_ip",
            &have.public_ip,
            AssignPublicIp::Enabled.as_str(),
        );
        diff.field(
            "load_balancers",
            shown(&have.load_balancers),
            self.load_balancer(known),
        );
        diff.field(
            "service_registries",
            shown(&have.registries),
            self.registry(known),
        );
        // moto's DescribeServices leaves the deployment configuration and the grace period
        // out of a service it created (it keeps them once updated): compared only when given.
        if let Some(deployment) = &have.deployment {
            diff.field("deployment", deployment, wanted_deployment());
        }
        if let Some(grace) = have.grace_period {
            diff.field("health_check_grace_period", grace, GRACE_PERIOD_SECONDS);
        }
        // Autoscaling owns the count; only one outside its bounds is drift.
        let inside = have.desired_count.max(self.min).min(self.max);
        diff.field("desired_count", have.desired_count, inside);
        diff.tags(&have.tags, &self.tags);
    }

    fn network(&self, known: &Known) -> Result<NetworkConfiguration> {
        let group = known.groups.get(&self.group).with_context(|| {
            format!(
                "the security group {} has no id yet; it is made before the service",
                self.group
            )
        })?;
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(self.subnets.iter().cloned().collect()))
            .security_groups(group)
            .assign_public_ip(AssignPublicIp::Enabled)
            .build()?;
        Ok(NetworkConfiguration::builder()
            .awsvpc_configuration(vpc)
            .build())
    }

    fn load_balancer_config(known: &Known) -> Result<LoadBalancer> {
        let target_group = known
            .ecs
            .target_group
            .as_deref()
            .context("the target group has no ARN yet; it is made before the service")?;
        Ok(LoadBalancer::builder()
            .target_group_arn(target_group)
            .container_name(CONTAINER)
            .container_port(API_PORT)
            .build())
    }

    fn registry_config(known: &Known) -> Result<ServiceRegistry> {
        let discovery =
            known.ecs.discovery.as_deref().context(
                "the Cloud Map service has no ARN yet; it is made before the ECS service",
            )?;
        Ok(ServiceRegistry::builder().registry_arn(discovery).build())
    }

    /// Creates the service from the newest task definition, once a deleted one of the same name
    /// (`gone`) has drained.
    async fn create(&self, aws: &Aws, gone: Option<&Observed>, known: &Known) -> Result<()> {
        let name = self.name();
        let task_definition = self.task_definition.as_ref().with_context(|| {
            format!(
                "no task definition {} to create the service {name} from",
                self.family
            )
        })?;
        if gone.is_some_and(|g| g.status == "DRAINING") {
            aws.ecs
                .wait_until_services_inactive()
                .cluster(&self.cluster)
                .services(NAME)
                .wait(INACTIVE_TIMEOUT)
                .await
                .map(drop)
                .map_err(waited(
                    format!("the deleted service {name} to drain"),
                    INACTIVE_TIMEOUT,
                ))?;
        }
        aws.ecs
            .create_service()
            .cluster(&self.cluster)
            .service_name(NAME)
            .task_definition(task_definition)
            .launch_type(LaunchType::Fargate)
            .platform_version("LATEST")
            .desired_count(self.desired_count)
            .network_configuration(self.network(known)?)
            .load_balancers(Self::load_balancer_config(known)?)
            .service_registries(Self::registry_config(known)?)
            .deployment_configuration(deployment())
            .health_check_grace_period_seconds(GRACE_PERIOD_SECONDS)
            .propagate_tags(PropagateTags::Service)
            .enable_ecs_managed_tags(true)
            .set_tags(Some(ecs_tags(&self.tags)))
            .send()
            .await
            .map_err(sdk_error(format!("creating the ECS service {name}")))?;
        Ok(())
    }

    /// Changes what differs from `have` in one UpdateService (never the task definition), and
    /// adds the tags it lacks.
    async fn update(&self, aws: &Aws, have: &Observed, known: &Known) -> Result<()> {
        let name = self.name();
        let changed = changed_fields(self.diff(Some(have), known));
        let any = |fields: &[&str]| fields.iter().any(|f| changed.contains(*f));
        let mut update = aws
            .ecs
            .update_service()
            .cluster(&self.cluster)
            .service(NAME);
        let mut needed = false;
        if any(&["subnets", "security_groups", "assign_public_ip"]) {
            update = update.network_configuration(self.network(known)?);
            needed = true;
        }
        if any(&["load_balancers"]) {
            update = update.load_balancers(Self::load_balancer_config(known)?);
            needed = true;
        }
        if any(&["service_registries"]) {
            update = update.service_registries(Self::registry_config(known)?);
            needed = true;
        }
        if any(&["deployment"]) {
            update = update.deployment_configuration(deployment());
            needed = true;
        }
        if any(&["health_check_grace_period"]) {
            update = update.health_check_grace_period_seconds(GRACE_PERIOD_SECONDS);
            needed = true;
        }
        if any(&["desired_count"]) {
            update = update.desired_count(have.desired_count.max(self.min).min(self.max));
            needed = true;
        }
        if needed {
            update
                .send()
                .await
                .map_err(sdk_error(format!("updating the ECS service {name}")))?;
        }
        if tags_missing(&self.tags, &have.tags) {
            aws.ecs
                .tag_resource()
                .resource_arn(&have.arn)
                .set_tags(Some(ecs_tags(&self.tags)))
                .send()
                .await
                .map_err(sdk_error(format!("tagging the ECS service {name}")))?;
        }
        Ok(())
    }
}

/// The family's revisions with `status`, oldest first.
async fn revisions(aws: &Aws, family: &str, status: TaskDefinitionStatus) -> Result<Vec<String>> {
    aws.ecs
        .list_task_definitions()
        .family_prefix(family)
        .status(status.clone())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk_error(format!(
            "listing the {} revisions of {family}",
            status.as_str().to_lowercase()
        )))
}

/// Deregisters the family's active revisions and deletes all of them, if the newest carries the
/// stack's tag (deploy registers them with it); what went.
async fn delete_task_definitions(aws: &Aws, config: &StackConfig) -> Result<Vec<String>> {
    let family = family(config);
    let active = revisions(aws, &family, TaskDefinitionStatus::Active).await?;
    let inactive = revisions(aws, &family, TaskDefinitionStatus::Inactive).await?;
    let Some(newest) = active.last().or(inactive.last()) else {
        return Ok(vec![]);
    };
    let described = aws
        .ecs
        .describe_task_definition()
        .task_definition(newest)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(sdk_error(format!("reading the tags of {newest}")))?;
    ensure_owned(
        &tags_of(described.tags()),
        config,
        format_args!("the task definition {newest}"),
    )?;
    for arn in &active {
        aws.ecs
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(sdk_error(format!("deregistering {arn}")))?;
    }
    let all: Vec<String> = active.into_iter().chain(inactive).collect();
    // DeleteTaskDefinitions takes ten revisions at most.
    for chunk in all.chunks(10) {
        let reply = aws
            .ecs
            .delete_task_definitions()
            .set_task_definitions(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(sdk_error(format!("deleting the revisions of {family}")))?;
        if let Some(failure) = reply.failures().first() {
            anyhow::bail!(
                "deleting {}: {} {}",
                failure.arn().unwrap_or(&family),
                failure.reason().unwrap_or("failed"),
                failure.detail().unwrap_or_default()
            );
        }
    }
    let revisions = if all.len() == 1 {
        "revision"
    } else {
        "revisions"
    };
    Ok(vec![format!(
        "task definition {family} ({} {revisions})",
        all.len()
    )])
}

impl Resource for Service {
    type Observed = Observed;
    const KIND: &'static str = "ecs service";
    const AFTER: &'static [&'static str] = &[
        "ecs cluster",
        "listener",
        "cloud map service",
        "iam role",
        "security group",
        "log group",
    ];
    const READS_AFTER: &'static [&'static str] = &["security group"];

    /// Reads the family's newest revision: the service is created from it (and waits for the
    /// first deploy while there is none).
    async fn desired(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let Some(ecs) = &config.ecs else {
            return Ok(vec![]);
        };
        let family = family(config);
        let task_definition = newest_task_definition(aws, &family).await?;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(vec![Service {
            cluster: super::cluster::name(config),
            family,
            task_definition,
            desired_count: count(ecs.tasks.desired),
            min: count(ecs.tasks.min),
            max: count(ecs.tasks.max),
            subnets: known.ecs_subnets(ecs).into_iter().collect(),
            group: config.name("tasks"),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        format!("{}/{NAME}", self.cluster)
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.cluster).await
    }

    /// Without a task definition to create it from, what follows the service waits too.
    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        known.ecs.service_waits =
            !observed.is_some_and(Observed::is_active) && self.task_definition.is_none();
    }

    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        match observed.filter(|have| have.is_active()) {
            None if self.task_definition.is_none() => Change::Waiting {
                reason: format!(
                    "no task definition {} yet; `ledgerctl deploy` registers one and creates the service",
                    self.family
                ),
            },
            None => Change::Create,
            Some(have) => {
                let mut diff = Diff::default();
                self.compare(have, known, &mut diff);
                diff.into_change()
            }
        }
    }

    /// Creates the service from the newest task definition, or updates what differs (never its
    /// task definition: deploy's; nor its count, but to bring it inside autoscaling's bounds).
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        match observed {
            Some(have) if have.is_active() => self.update(aws, have, known).await,
            gone => self.create(aws, gone, known).await,
        }
    }

    /// A deleted service, or fewer tasks running than wanted (`running 1 of 2`).
    fn unhealthy(have: &Observed) -> Option<String> {
        if !have.is_active() {
            return Some(have.status.to_lowercase());
        }
        (have.running_count < have.desired_count)
            .then(|| format!("running {} of {}", have.running_count, have.desired_count))
    }

    /// Scales the stack's service to zero, deletes it and waits until it is gone (the cluster,
    /// the target group and the Cloud Map service go after it); then deregisters and deletes
    /// the family's task definitions.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let cluster = super::cluster::name(config);
        let name = format!("{cluster}/{NAME}");
        let mut deleted = Vec::new();
        if let Some(have) = observe(aws, &cluster).await?
            && have.status != "INACTIVE"
        {
            ensure_owned(&have.tags, config, format_args!("the ECS service {name}"))?;
            if have.is_active() {
                if have.desired_count > 0 {
                    let reply = aws
                        .ecs
                        .update_service()
                        .cluster(&cluster)
                        .service(NAME)
                        .desired_count(0)
                        .send()
                        .await;
                    found(
                        reply,
                        |e| {
                            e.is_service_not_found_exception()
                                || e.is_service_not_active_exception()
                        },
                        || format!("scaling the ECS service {name} to zero"),
                    )?;
                }
                let reply = aws
                    .ecs
                    .delete_service()
                    .cluster(&cluster)
                    .service(NAME)
                    .force(true)
                    .send()
                    .await;
                found(
                    reply,
                    |e| e.is_service_not_found_exception(),
                    || format!("deleting the ECS service {name}"),
                )?;
            }
            aws.ecs
                .wait_until_services_inactive()
                .cluster(&cluster)
                .services(NAME)
                .wait(INACTIVE_TIMEOUT)
                .await
                .map(drop)
                .map_err(waited(
                    format!("the ECS service {name} to be deleted"),
                    INACTIVE_TIMEOUT,
                ))?;
            deleted.push(name);
        }
        deleted.extend(delete_task_definitions(aws, config).await?);
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::resource::EcsKnown;

    const TARGET_GROUP: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/stk-api/943f017f100becff";
    const DISCOVERY: &str = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-abc";

    fn config() -> StackConfig {
        StackConfig::parse(
            "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
            "test",
        )
        .unwrap()
    }

    fn known() -> Known {
        Known {
            subnets: ["subnet-0a".to_owned(), "subnet-0b".to_owned()].into(),
            groups: [("stk-tasks".to_owned(), "sg-0tasks".to_owned())].into(),
            ecs: EcsKnown {
                target_group: Some(TARGET_GROUP.into()),
                discovery: Some(DISCOVERY.into()),
                ..EcsKnown::default()
            },
            ..Known::default()
        }
    }

    fn service(task_definition: Option<&str>) -> Service {
        let config = config();
        let ecs = config.ecs.clone().unwrap();
        Service {
            cluster: "stk".into(),
            family: family(&config),
            task_definition: task_definition.map(str::to_owned),
            desired_count: 2,
            min: 2,
            max: 6,
            subnets: known().ecs_subnets(&ecs).into_iter().collect(),
            group: config.name("tasks"),
            tags: config.tags(),
        }
    }

    /// The service as provision makes it, as ECS describes it.
    fn observed() -> Observed {
        Observed {
            arn: "arn:aws:ecs:eu-west-1:123456789012:service/stk/api".into(),
            status: "ACTIVE".into(),
            desired_count: 3,
            running_count: 3,
            subnets: ["subnet-0b".to_owned(), "subnet-0a".to_owned()].into(),
            security_groups: ["sg-0tasks".to_owned()].into(),
            public_ip: "ENABLED".into(),
            load_balancers: [load_balancer_shown(TARGET_GROUP, "api", 8080)].into(),
            registries: [DISCOVERY.to_owned()].into(),
            deployment: Some(deployment_shown(Some(100), Some(200), Some((true, true)))),
            grace_period: Some(30),
            tags: config().tags(),
        }
    }

    fn change(field: &str, from: &str, to: &str) -> (String, String, String) {
        (field.to_owned(), from.to_owned(), to.to_owned())
    }

    fn fields(change: Change) -> Vec<(String, String, String)> {
        match change {
            Change::Update { fields } => fields
                .into_iter()
                .map(|f| (f.field, f.from, f.to))
                .collect(),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn names_are_the_stack_s() {
        let config = config();
        assert_eq!(family(&config), "stk-api");
        assert_eq!(service(None).name(), "stk/api");
    }

    #[test]
    fn without_a_task_definition_a_missing_service_waits() {
        let waiting = service(None).diff(None, &known());
        assert_eq!(
            waiting,
            Change::Waiting {
                reason: "no task definition stk-api yet; `ledgerctl deploy` registers one and creates the service".into()
            }
        );
        let mut known = known();
        service(None).learn(None, &mut known);
        assert!(known.ecs.service_waits);
        service(None).learn(Some(&observed()), &mut known);
        assert!(
            !known.ecs.service_waits,
            "an existing service does not wait"
        );
    }

    #[test]
    fn a_deleted_service_counts_as_missing() {
        let revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stk-api:3";
        for status in ["INACTIVE", "DRAINING"] {
            let gone = Observed {
                status: status.into(),
                ..observed()
            };
            assert_eq!(
                service(Some(revision)).diff(Some(&gone), &known()),
                Change::Create
            );
            assert_eq!(Service::unhealthy(&gone), Some(status.to_lowercase()));
        }
    }

    #[test]
    fn a_service_as_made_is_unchanged_whatever_its_count_and_task_definition() {
        assert_eq!(
            service(None).diff(Some(&observed()), &known()),
            Change::Unchanged
        );
        // moto leaves the deployment configuration and the grace period out.
        let sparse = Observed {
            deployment: None,
            grace_period: None,
            ..observed()
        };
        assert_eq!(
            service(None).diff(Some(&sparse), &known()),
            Change::Unchanged
        );
    }

    #[test]
    fn drift_shows_field_by_field() {
        let drifted = Observed {
            desired_count: 9,
            subnets: ["subnet-0a".to_owned()].into(),
            security_groups: ["sg-0tasks".to_owned(), "sg-0other".to_owned()].into(),
            public_ip: "DISABLED".into(),
            registries: BTreeSet::new(),
            deployment: Some(deployment_shown(Some(50), Some(200), None)),
            grace_period: Some(0),
            tags: BTreeMap::new(),
            ..observed()
        };
        let changes = fields(service(None).diff(Some(&drifted), &known()));
        let names: Vec<&str> = changes.iter().map(|(f, _, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "subnets",
                "security_groups",
                "assign_public_ip",
                "service_registries",
                "deployment",
                "health_check_grace_period",
                "desired_count",
                "tags.ledgerly:stack"
            ]
        );
        let field = |name: &str| changes.iter().find(|(f, _, _)| f == name).cloned().unwrap();
        assert_eq!(
            field("security_groups"),
            change("security_groups", "sg-0other, stk-tasks", "stk-tasks")
        );
        assert_eq!(field("desired_count"), change("desired_count", "9", "6"));
        assert_eq!(
            field("deployment").1,
            "minimum healthy 50 %, maximum 200 %, no circuit breaker"
        );
        let low = Observed {
            desired_count: 0,
            ..observed()
        };
        assert_eq!(
            fields(service(None).diff(Some(&low), &known())),
            [change("desired_count", "0", "2")]
        );
    }

    #[test]
    fn the_load_balancer_is_the_target_group_on_the_api_port() {
        let elsewhere = Observed {
            load_balancers: [load_balancer_shown(TARGET_GROUP, "api", 80)].into(),
            ..observed()
        };
        assert_eq!(
            fields(service(None).diff(Some(&elsewhere), &known())),
            [change(
                "load_balancers",
                &format!("{TARGET_GROUP} → api:80"),
                &format!("{TARGET_GROUP} → api:8080")
            )]
        );
    }

    #[test]
    fn fewer_running_tasks_than_wanted_is_unhealthy() {
        let short = Observed {
            running_count: 1,
            desired_count: 2,
            ..observed()
        };
        assert_eq!(
            Service::unhealthy(&short).as_deref(),
            Some("running 1 of 2")
        );
        assert_eq!(Service::unhealthy(&observed()), None);
    }
}
