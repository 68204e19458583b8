//! The API's ECS service `api` in the stack's cluster: Fargate tasks of the task definition
//! family `<stack>-api` behind the load balancer's target group, registered in Cloud Map, their
//! count autoscaled between `ecs.tasks.min` and `max` (`aws/scaling/`).
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
//!
//! Over 400 lines: the kind — the service as wanted, compared and made. The service as ECS has
//! it, read and shown in the forms compared, is in `observed`; the family's revisions are
//! `super::task_definition`'s.

mod observed;
#[cfg(test)]
mod tests;

pub(crate) use observed::{Observed, observe};
use observed::{deployment_shown, load_balancer_shown, shown};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_ecs::client::Waiters as _;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, ServiceRegistry, Tag,
};

use super::task_definition::{delete_task_definitions, migration_family, newest_task_definition};
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

/// ECS tags as compared: the service's, and the task definitions' (`super::task_definition`).
pub(super) fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
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
        for family in [family(config), migration_family(config)] {
            deleted.extend(delete_task_definitions(aws, config, &family).await?);
        }
        Ok(deleted)
    }
}
