//! `ledgerctl status` for `topology: ecs`: the API's ECS service (its deployments and latest
//! events), its tasks (and why the latest ones stopped), the load balancer's view of them and
//! their autoscaling — all read from AWS: no SSH or Docker engine reaches a Fargate task. The app
//! is ready when the load balancer finds a task healthy, its health check being `/readyz`. What
//! AWS says is judged in `judge`, and shown as text by `table`.

mod judge;
mod table;
#[cfg(test)]
mod tests;

pub(super) use table::print_table;

use anyhow::Result;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ScalingActivity, ServiceNamespace};
use aws_sdk_ecs::types::{DesiredStatus, Service as EcsService, Task as EcsTask};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthDescription;
use serde::Serialize;

use super::App;
use crate::aws::ecs::{cluster, service::NAME};
use crate::aws::elb::target_group;
use crate::aws::{Aws, found, scaling, sdk_error, unimplemented};
use crate::stack::StackConfig;

/// How many stopped tasks are listed, to show the latest (ECS keeps one for about an hour).
const STOPPED_LISTED: usize = 100;
/// How many of the latest scaling activities are shown.
const ACTIVITIES_SHOWN: usize = 3;
/// The most tasks one DescribeTasks takes.
const DESCRIBE_BATCH: usize = 100;

/// The ECS topology's part of the report.
#[derive(Debug, Serialize)]
pub(super) struct Ecs {
    service: Service,
    /// The tasks ECS wants running, newest first.
    tasks: Vec<Task>,
    /// The latest tasks ECS stopped, newest first.
    stopped_tasks: Vec<StoppedTask>,
    target_group: String,
    /// The target group's targets, as its health check finds them.
    targets: Vec<Target>,
    /// `None` when there is no scalable target.
    scaling: Option<Scaling>,
    /// The load balancer's DNS name, which `domain` points at; `None` while there is none.
    load_balancer_dns_name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Service {
    /// `<cluster>/api`.
    name: String,
    /// ECS's `ACTIVE`, `DRAINING` or `INACTIVE`; `missing`; or `waiting` before the first deploy.
    status: String,
    desired: i32,
    running: i32,
    pending: i32,
    deployments: Vec<Deployment>,
    /// The latest, newest first.
    events: Vec<Event>,
}

#[derive(Debug, Serialize)]
struct Deployment {
    id: String,
    /// `family:revision`.
    task_definition: String,
    /// `PRIMARY` (the newest), `ACTIVE` (an older one, its tasks being replaced) or `INACTIVE`.
    status: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`; `None` without a circuit breaker.
    rollout_state: Option<String>,
    rollout_state_reason: Option<String>,
    running: i32,
    desired: i32,
    pending: i32,
    failed: i32,
    /// Unix seconds.
    created_at: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Event {
    /// Unix seconds.
    at: Option<i64>,
    message: String,
}

#[derive(Debug, Serialize)]
struct Task {
    /// The last part of its ARN.
    id: String,
    /// `family:revision`.
    task_definition: String,
    /// ECS's: `PROVISIONING`, `PENDING`, `RUNNING`, `DEACTIVATING`, `STOPPING`, …
    last_status: String,
    /// ECS's: `HEALTHY`, `UNHEALTHY` or `UNKNOWN`.
    health: String,
    availability_zone: Option<String>,
    /// Unix seconds; `None` while it starts.
    started_at: Option<i64>,
}

#[derive(Debug, Serialize)]
struct StoppedTask {
    id: String,
    task_definition: String,
    /// Unix seconds; `None` while it stops.
    stopped_at: Option<i64>,
    /// Why ECS stopped it.
    reason: String,
}

#[derive(Debug, Serialize)]
struct Target {
    /// `<ip>:<port>`.
    id: String,
    /// The load balancer's: `initial`, `healthy`, `unhealthy`, `draining`, `unused`, …
    state: String,
    /// The load balancer's code for a state that is not `healthy`: `Target.FailedHealthChecks`, …
    reason: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Serialize)]
struct Scaling {
    /// The scalable target's bounds.
    min: i32,
    max: i32,
    /// The service's desired task count, which autoscaling moves.
    desired: i32,
    /// The latest, newest first.
    activities: Vec<Activity>,
}

#[derive(Debug, Serialize)]
struct Activity {
    /// Application Auto Scaling's: `Successful`, `InProgress`, `Failed`, …
    status: String,
    description: String,
    /// Unix seconds.
    at: i64,
}

/// What status learns from AWS for the ECS topology.
#[derive(Debug)]
pub(super) struct Seen {
    pub(super) report: Ecs,
    pub(super) app: App,
    /// Each one line; empty when all is well.
    pub(super) problems: Vec<String>,
}

/// What AWS says, before it is judged.
#[derive(Debug, Default)]
struct Described {
    /// `<cluster>/api`.
    service_name: String,
    target_group: String,
    service: Option<EcsService>,
    tasks: Vec<EcsTask>,
    stopped: Vec<EcsTask>,
    /// `None`: there is no target group.
    targets: Option<Vec<TargetHealthDescription>>,
    /// The scalable target's `(min, max)`; `None`: there is none.
    bounds: Option<(i32, i32)>,
    activities: Vec<ScalingActivity>,
    /// The load balancer's DNS name, as the survey read it.
    load_balancer_dns_name: Option<String>,
}

/// Reads the stack's service, its tasks, its targets' health and its autoscaling; `deployed`:
/// a release was recorded (before one, the service waits for it). `load_balancer_dns_name`: as
/// the survey read it.
pub(super) async fn read(
    aws: &Aws,
    config: &StackConfig,
    deployed: bool,
    load_balancer_dns_name: Option<String>,
) -> Result<Seen> {
    let cluster = cluster::name(config);
    let target_group = target_group::name(config);
    let resource_id = scaling::resource_id(config);
    let (service, tasks, stopped, targets, (bounds, activities)) = tokio::try_join!(
        describe_service(aws, &cluster),
        service_tasks(aws, &cluster, DesiredStatus::Running, usize::MAX),
        service_tasks(aws, &cluster, DesiredStatus::Stopped, STOPPED_LISTED),
        target_health(aws, &target_group),
        read_scaling(aws, &resource_id),
    )?;
    let described = Described {
        service_name: format!("{cluster}/{NAME}"),
        target_group,
        service,
        tasks,
        stopped,
        targets,
        bounds,
        activities,
        load_balancer_dns_name,
    };
    Ok(judge::judge(&described, deployed))
}

async fn describe_service(aws: &Aws, cluster: &str) -> Result<Option<EcsService>> {
    let reply = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(NAME)
        .send()
        .await;
    let reply = found(
        reply,
        |e| e.is_cluster_not_found_exception(),
        || format!("reading the ECS service {cluster}/{NAME}"),
    )?;
    Ok(reply.and_then(|r| r.services().first().cloned()))
}

/// The service's tasks whose desired status is `wanted`, at most `most`, described.
async fn service_tasks(
    aws: &Aws,
    cluster: &str,
    wanted: DesiredStatus,
    most: usize,
) -> Result<Vec<EcsTask>> {
    let what = format!(
        "the {} tasks of the ECS service {cluster}/{NAME}",
        wanted.as_str().to_lowercase()
    );
    let mut arns = Vec::new();
    let mut next = None;
    loop {
        let reply = aws
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(NAME)
            .desired_status(wanted.clone())
            .set_next_token(next)
            .send()
            .await;
        let Some(reply) = found(
            reply,
            |e| e.is_cluster_not_found_exception() || e.is_service_not_found_exception(),
            || format!("listing {what}"),
        )?
        else {
            return Ok(vec![]);
        };
        arns.extend(reply.task_arns().iter().cloned());
        next = reply.next_token().map(str::to_owned);
        if next.is_none() || arns.len() >= most {
            break;
        }
    }
    arns.truncate(most);
    let mut tasks = Vec::with_capacity(arns.len());
    for batch in arns.chunks(DESCRIBE_BATCH) {
        let reply = aws
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .send()
            .await
            .map_err(sdk_error(format!("reading {what}")))?;
        tasks.extend(reply.tasks().iter().cloned());
    }
    Ok(tasks)
}

/// The health of the target group `name`'s targets; `None` if there is no such group.
async fn target_health(aws: &Aws, name: &str) -> Result<Option<Vec<TargetHealthDescription>>> {
    let groups = found(
        aws.elb.describe_target_groups().names(name).send().await,
        |e| e.is_target_group_not_found_exception(),
        || format!("reading the target group {name}"),
    )?;
    let Some(arn) = groups
        .as_ref()
        .and_then(|r| r.target_groups().first())
        .and_then(|g| g.target_group_arn())
    else {
        return Ok(None);
    };
    let health = found(
        aws.elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await,
        |e| e.is_target_group_not_found_exception(),
        || format!("reading the health of the targets in {name}"),
    )?;
    Ok(health.map(|h| h.target_health_descriptions().to_vec()))
}

/// The scalable target `resource_id`'s bounds (`None`: there is none) and its latest activities.
async fn read_scaling(
    aws: &Aws,
    resource_id: &str,
) -> Result<(Option<(i32, i32)>, Vec<ScalingActivity>)> {
    let Some(target) = scaling::describe_target(aws, resource_id).await? else {
        return Ok((None, vec![]));
    };
    let reply = aws
        .scaling
        .describe_scaling_activities()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .max_results(i32::try_from(ACTIVITIES_SHOWN).unwrap_or(i32::MAX))
        .customize()
        .config_override(scaling::quick_retry())
        .send()
        .await;
    let activities = match reply {
        Ok(reply) => reply.scaling_activities().to_vec(),
        Err(err) if unimplemented(&err) => vec![],
        Err(err) => {
            return Err(sdk_error(format!(
                "reading the scaling activities of {resource_id}"
            ))(err));
        }
    };
    Ok((
        Some((target.min_capacity(), target.max_capacity())),
        activities,
    ))
}
