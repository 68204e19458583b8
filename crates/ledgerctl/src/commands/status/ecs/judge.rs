//! What AWS says of the service, its tasks, targets and scaling, judged: the report's forms,
//! the app's readiness and the problems.

use aws_sdk_applicationautoscaling::types::ScalingActivity;
use aws_sdk_ecs::types::{Deployment as EcsDeployment, DeploymentRolloutState, Task as EcsTask};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthDescription;
use aws_smithy_types::DateTime;

use super::{
    ACTIVITIES_SHOWN, Activity, Deployment, Described, Ecs, Event, Scaling, Seen, Service,
    StoppedTask, Target, Task,
};
use crate::aws::ecs::{revision, task_id};
use crate::commands::status::App;

/// How many of the service's latest events are shown.
const EVENTS_SHOWN: usize = 5;
/// How many of the latest stopped tasks are shown.
const STOPPED_SHOWN: usize = 3;
/// A service in use (not deleted); the newest deployment (not an older one being replaced).
const ACTIVE: &str = "ACTIVE";
const PRIMARY: &str = "PRIMARY";
/// The service's status before the first deploy creates it.
const WAITING: &str = "waiting";
/// The load balancer's target states that say how the app is.
const HEALTHY: &str = "healthy";
const UNHEALTHY: &str = "unhealthy";

fn secs(at: Option<&DateTime>) -> Option<i64> {
    at.map(DateTime::secs)
}

/// The report, the app's readiness and the problems, from what AWS said.
pub(super) fn judge(described: &Described, deployed: bool) -> Seen {
    let service = service_shown(described, deployed);
    let mut tasks: Vec<Task> = described.tasks.iter().map(task_shown).collect();
    tasks.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.id.cmp(&b.id)));
    let mut stopped: Vec<&EcsTask> = described.stopped.iter().collect();
    stopped.sort_by(|a, b| b.stopped_at().cmp(&a.stopped_at()));
    let stopped_tasks = stopped
        .into_iter()
        .take(STOPPED_SHOWN)
        .map(|task| StoppedTask {
            id: task_id(task.task_arn().unwrap_or_default()).to_owned(),
            task_definition: revision(task.task_definition_arn().unwrap_or_default()).to_owned(),
            stopped_at: secs(task.stopped_at()),
            reason: task
                .stopped_reason()
                .unwrap_or("no reason given")
                .to_owned(),
        })
        .collect();
    let mut targets: Vec<Target> = described
        .targets
        .iter()
        .flatten()
        .map(target_shown)
        .collect();
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    let scaling = described.bounds.map(|(min, max)| Scaling {
        min,
        max,
        desired: service.desired,
        activities: activities_shown(&described.activities),
    });
    let problems = problems(&service, &described.target_group, &targets);
    let app = app(described, &targets, deployed);
    Seen {
        report: Ecs {
            service,
            tasks,
            stopped_tasks,
            target_group: described.target_group.clone(),
            targets,
            scaling,
            load_balancer_dns_name: described.load_balancer_dns_name.clone(),
        },
        app,
        problems,
    }
}

fn service_shown(described: &Described, deployed: bool) -> Service {
    let name = described.service_name.clone();
    let Some(service) = &described.service else {
        let status = if deployed { "missing" } else { WAITING };
        return Service {
            name,
            status: status.to_owned(),
            desired: 0,
            running: 0,
            pending: 0,
            deployments: vec![],
            events: vec![],
        };
    };
    let status = match service.status().unwrap_or("unknown") {
        ACTIVE => ACTIVE,
        _ if !deployed => WAITING,
        other => other,
    };
    let mut events: Vec<Event> = service
        .events()
        .iter()
        .map(|e| Event {
            at: secs(e.created_at()),
            message: e.message().unwrap_or_default().to_owned(),
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
    events.truncate(EVENTS_SHOWN);
    Service {
        name,
        status: status.to_owned(),
        desired: service.desired_count(),
        running: service.running_count(),
        pending: service.pending_count(),
        deployments: service.deployments().iter().map(deployment_shown).collect(),
        events,
    }
}

fn deployment_shown(deployment: &EcsDeployment) -> Deployment {
    Deployment {
        id: deployment.id().unwrap_or_default().to_owned(),
        task_definition: revision(deployment.task_definition().unwrap_or_default()).to_owned(),
        status: deployment.status().unwrap_or_default().to_owned(),
        rollout_state: deployment.rollout_state().map(|s| s.as_str().to_owned()),
        rollout_state_reason: deployment.rollout_state_reason().map(str::to_owned),
        running: deployment.running_count(),
        desired: deployment.desired_count(),
        pending: deployment.pending_count(),
        failed: deployment.failed_tasks(),
        created_at: secs(deployment.created_at()),
    }
}

fn task_shown(task: &EcsTask) -> Task {
    Task {
        id: task_id(task.task_arn().unwrap_or_default()).to_owned(),
        task_definition: revision(task.task_definition_arn().unwrap_or_default()).to_owned(),
        last_status: task.last_status().unwrap_or("UNKNOWN").to_owned(),
        health: task
            .health_status()
            .map_or("UNKNOWN", |h| h.as_str())
            .to_owned(),
        availability_zone: task.availability_zone().map(str::to_owned),
        started_at: secs(task.started_at()),
    }
}

fn target_shown(described: &TargetHealthDescription) -> Target {
    let target = described.target();
    let ip = target.and_then(|t| t.id()).unwrap_or("(unknown)");
    let health = described.target_health();
    Target {
        id: match target.and_then(|t| t.port()) {
            Some(port) => format!("{ip}:{port}"),
            None => ip.to_owned(),
        },
        state: health
            .and_then(|h| h.state())
            .map_or("unknown", |s| s.as_str())
            .to_owned(),
        reason: health
            .and_then(|h| h.reason())
            .map(|r| r.as_str().to_owned()),
        description: health.and_then(|h| h.description()).map(str::to_owned),
    }
}

fn activities_shown(activities: &[ScalingActivity]) -> Vec<Activity> {
    let mut newest: Vec<&ScalingActivity> = activities.iter().collect();
    newest.sort_by(|a, b| b.start_time().cmp(a.start_time()));
    newest
        .into_iter()
        .take(ACTIVITIES_SHOWN)
        .map(|a| Activity {
            status: a.status_code().as_str().to_owned(),
            description: a.description().to_owned(),
            at: a.start_time().secs(),
        })
        .collect()
}

/// A service not there (unless it waits for the first deploy) or short of tasks, a primary
/// deployment that failed, an unhealthy target. No healthy target is the app's problem.
fn problems(service: &Service, target_group: &str, targets: &[Target]) -> Vec<String> {
    let name = &service.name;
    let mut problems = Vec::new();
    match service.status.as_str() {
        WAITING => {}
        ACTIVE if service.running < service.desired => problems.push(format!(
            "ECS service {name}: running {} of {} ({} pending)",
            service.running, service.desired, service.pending
        )),
        ACTIVE => {}
        other => problems.push(format!("ECS service {name}: {}", other.to_lowercase())),
    }
    let failed = DeploymentRolloutState::Failed.as_str();
    for deployment in service
        .deployments
        .iter()
        .filter(|d| d.status == PRIMARY && d.rollout_state.as_deref() == Some(failed))
    {
        problems.push(format!(
            "ECS service {name}: the deployment of {} failed: {}",
            deployment.task_definition,
            deployment
                .rollout_state_reason
                .as_deref()
                .unwrap_or("no reason given")
        ));
    }
    for target in targets.iter().filter(|t| t.state == UNHEALTHY) {
        let why = target.description.as_ref().or(target.reason.as_ref());
        problems.push(format!(
            "target {} in {target_group}: unhealthy{}",
            target.id,
            why.map(|w| format!(" ({w})")).unwrap_or_default()
        ));
    }
    problems
}

/// Ready when the load balancer finds a target healthy.
fn app(described: &Described, targets: &[Target], deployed: bool) -> App {
    let healthy = targets.iter().filter(|t| t.state == HEALTHY).count();
    let group = &described.target_group;
    let detail = match &described.targets {
        _ if !deployed && healthy == 0 => "not deployed yet".to_owned(),
        None => format!("no target group {group}"),
        Some(_) => format!(
            "{healthy} of {} targets healthy in {group} (its health check: /readyz)",
            targets.len()
        ),
    };
    App {
        ready: healthy > 0,
        detail,
    }
}
