//! The API's service pointed at a new task definition and waited for. ECS starts tasks of the
//! new revision beside the old ones (100 % minimum healthy, 200 % maximum), sends them traffic
//! once they pass the load balancer's `/readyz` check, and stops the old ones once they have
//! drained; its deployment circuit breaker rolls back a revision whose tasks keep failing.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_sdk_ecs::types::{DeploymentRolloutState, Service};
use serde::Serialize;

use super::stopped::{
    how_it_ended, indented, last_log_lines, log_stream, revision, stopped_tasks, task_id,
};
use super::task_definitions::STREAM_PREFIX;
use crate::aws::ecs::cluster;
use crate::aws::ecs::service::{CONTAINER, NAME, family};
use crate::aws::{Aws, found, sdk_error};
use crate::stack::StackConfig;

/// How long a roll-out may take: fixed and generous. `deploy.health_timeout_seconds` bounds one
/// container turning healthy; a deployment is several such steps — new tasks pulled and started,
/// passing the load balancer's check after the 30 s grace period, the old ones drained (up to
/// 35 s) — and a failing one trips the circuit breaker only after half the desired count of
/// failed tasks (3 at least), each taking a minute or two to fail, replacements included.
pub(super) const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How often the service is looked at during a roll-out.
pub(super) const ROLLOUT_POLL: Duration = Duration::from_secs(10);
/// How many of the service's latest events a failed roll-out shows.
const EVENTS_SHOWN: usize = 5;
/// How many of the failed revision's stopped tasks it explains.
const STOPPED_SHOWN: usize = 2;
/// How many of each one's last log lines it shows.
const STOPPED_LOG_LINES: i32 = 20;

/// What a roll-out did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum RolloutOutcome {
    /// The service already ran the task definition, its deployment complete.
    Unchanged {
        /// The task definition's ARN.
        task_definition: String,
    },
    /// The service now runs the task definition.
    Deployed {
        /// The task definition's ARN.
        task_definition: String,
        /// The one it ran before, when known.
        from: Option<String>,
    },
}

impl std::fmt::Display for RolloutOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutOutcome::Unchanged { task_definition } => {
                write!(f, "API service: already runs {}", revision(task_definition))
            }
            RolloutOutcome::Deployed {
                task_definition,
                from: Some(from),
            } => write!(
                f,
                "API service: rolled out {} (it ran {})",
                revision(task_definition),
                revision(from)
            ),
            RolloutOutcome::Deployed {
                task_definition, ..
            } => write!(f, "API service: rolled out {}", revision(task_definition)),
        }
    }
}

/// Where the deployment of a task definition stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    /// Its rollout state is COMPLETED (or, without one, the service is steady on it).
    Completed,
    /// Why, as ECS says.
    Failed(String),
    /// How far, for the log and a time-out.
    Running(String),
    /// ECS does not show it yet (it is eventually consistent).
    NotShown,
}

/// Where the service's deployment of `task_definition` stands; `seen`: it was shown before, so
/// a deployment gone means rolled back.
fn progress(service: &Service, task_definition: &str, seen: bool) -> Progress {
    let deployments = service.deployments();
    let ours = |d: &&aws_sdk_ecs::types::Deployment| d.task_definition() == Some(task_definition);
    let deployment = deployments
        .iter()
        .filter(ours)
        .find(|d| d.status() == Some("PRIMARY"))
        .or_else(|| deployments.iter().find(ours));
    let Some(d) = deployment else {
        return match service.task_definition() {
            Some(now) if seen && now != task_definition => Progress::Failed(format!(
                "its deployment is gone and the service runs {} again",
                revision(now)
            )),
            _ => Progress::NotShown,
        };
    };
    let steady = d.status() == Some("PRIMARY")
        && deployments.len() == 1
        && d.running_count() >= d.desired_count();
    match d.rollout_state() {
        Some(DeploymentRolloutState::Completed) => Progress::Completed,
        Some(DeploymentRolloutState::Failed) => Progress::Failed(
            d.rollout_state_reason()
                .unwrap_or("the deployment failed")
                .to_owned(),
        ),
        // Without a circuit breaker ECS gives no rollout state: steady is done.
        None if steady => Progress::Completed,
        _ => Progress::Running(format!(
            "{} of {} tasks running, {} failed",
            d.running_count(),
            d.desired_count(),
            d.failed_tasks()
        )),
    }
}

/// The stack's service `api` unless it is missing or deleted.
async fn active_service(aws: &Aws, cluster: &str) -> Result<Option<Service>> {
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
    Ok(reply.and_then(|r| {
        r.services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .cloned()
    }))
}

/// Whether the service already runs `task_definition` with its deployment complete: then a
/// deploy has nothing to migrate or roll out.
pub(crate) async fn service_runs(
    aws: &Aws,
    config: &StackConfig,
    task_definition: &str,
) -> Result<bool> {
    let Some(service) = active_service(aws, &cluster::name(config)).await? else {
        return Ok(false);
    };
    Ok(service.task_definition() == Some(task_definition)
        && progress(&service, task_definition, true) == Progress::Completed)
}

/// Points the service at `task_definition` (an ARN) and waits until its deployment completes;
/// nothing when the service already runs it. A deployment the circuit breaker fails is an
/// error that says why, with the service's latest events and the stopped tasks' ends and log
/// lines; one still going after [`ROLLOUT_TIMEOUT`] an error that says how to watch it.
pub(crate) async fn roll_out(
    aws: &Aws,
    config: &StackConfig,
    task_definition: &str,
) -> Result<RolloutOutcome> {
    let cluster = cluster::name(config);
    let name = format!("{cluster}/{NAME}");
    let shown = revision(task_definition);
    let service = active_service(aws, &cluster).await?.with_context(|| {
        format!(
            "the stack {} has no ECS service {name} yet; run ledgerctl provision, which creates it from {shown}",
            config.stack
        )
    })?;
    let current = service.task_definition().map(str::to_owned);
    let mut seen = current.as_deref() == Some(task_definition);
    let from = if seen {
        match progress(&service, task_definition, true) {
            Progress::Completed => {
                return Ok(RolloutOutcome::Unchanged {
                    task_definition: task_definition.to_owned(),
                });
            }
            Progress::Failed(reason) => {
                return Err(failed(aws, config, &service, task_definition, &reason).await);
            }
            _ => {
                tracing::info!(service = %name, "a deployment of {shown} is under way; waiting for it")
            }
        }
        service
            .deployments()
            .iter()
            .filter_map(|d| d.task_definition())
            .find(|t| *t != task_definition)
            .map(str::to_owned)
    } else {
        let updated = aws
            .ecs
            .update_service()
            .cluster(&cluster)
            .service(NAME)
            .task_definition(task_definition)
            .force_new_deployment(false)
            .send()
            .await
            .map_err(sdk_error(format!(
                "pointing the ECS service {name} at {shown}"
            )))?;
        seen = updated
            .service()
            .is_some_and(|s| progress(s, task_definition, false) != Progress::NotShown);
        tracing::info!(service = %name, "rolling out {shown}");
        current
    };
    let deadline = tokio::time::Instant::now() + ROLLOUT_TIMEOUT;
    let mut last = String::from("not shown by ECS yet");
    loop {
        tokio::time::sleep(ROLLOUT_POLL).await;
        let service = active_service(aws, &cluster)
            .await?
            .with_context(|| format!("the ECS service {name} was deleted during the roll-out"))?;
        match progress(&service, task_definition, seen) {
            Progress::Completed => {
                return Ok(RolloutOutcome::Deployed {
                    task_definition: task_definition.to_owned(),
                    from,
                });
            }
            Progress::Failed(reason) => {
                return Err(failed(aws, config, &service, task_definition, &reason).await);
            }
            Progress::Running(now) => {
                seen = true;
                if now != last {
                    tracing::info!(service = %name, "rolling out {shown}: {now}");
                    last = now;
                }
            }
            Progress::NotShown => {}
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "gave up waiting for the ECS service {name} to roll out {shown} after {} minutes ({last}); the deployment may still finish, or its circuit breaker may yet roll it back: watch it with `ledgerctl status` (or `aws ecs describe-services --cluster {cluster} --services {NAME}`) and deploy again once it has settled",
                ROLLOUT_TIMEOUT.as_secs() / 60
            );
        }
    }
}

/// Replaces the API's tasks with new ones of the task definition it runs (`ledgerctl restart api`
/// on an ECS stack): a new deployment, which ECS rolls out as it does a deploy's — the old tasks
/// serve until the new ones pass the load balancer's health check — waited for as
/// [`roll_out`] waits. The revision restarted.
pub(crate) async fn restart(aws: &Aws, config: &StackConfig) -> Result<String> {
    let cluster = cluster::name(config);
    let name = format!("{cluster}/{NAME}");
    let service = active_service(aws, &cluster).await?.with_context(|| {
        format!(
            "the stack {} has no ECS service {name} yet; ledgerctl deploy makes its first tasks",
            config.stack
        )
    })?;
    let task_definition = service
        .task_definition()
        .with_context(|| format!("the ECS service {name} names no task definition"))?
        .to_owned();
    let shown = revision(&task_definition);
    let updated = aws
        .ecs
        .update_service()
        .cluster(&cluster)
        .service(NAME)
        .force_new_deployment(true)
        .send()
        .await
        .map_err(sdk_error(format!(
            "starting new tasks of {shown} for {name}"
        )))?;
    let primary = |service: &Service| {
        service
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .and_then(|d| d.id())
            .map(str::to_owned)
    };
    let started = updated.service().and_then(primary);
    tracing::info!(service = %name, "replacing the tasks of {shown}");
    let deadline = tokio::time::Instant::now() + ROLLOUT_TIMEOUT;
    loop {
        tokio::time::sleep(ROLLOUT_POLL).await;
        let service = active_service(aws, &cluster)
            .await?
            .with_context(|| format!("the ECS service {name} was deleted during the restart"))?;
        if started.is_some() && primary(&service) != started {
            bail!(
                "another deployment of {name} took over from the restart (a deploy or rollback); ledgerctl status shows where it stands"
            );
        }
        match progress(&service, &task_definition, true) {
            Progress::Completed => return Ok(shown.to_owned()),
            Progress::Failed(reason) => {
                return Err(failed(aws, config, &service, &task_definition, &reason).await);
            }
            Progress::Running(now) if tokio::time::Instant::now() >= deadline => bail!(
                "the new tasks of {name} are not all running after {} min ({now}); ECS goes on: ledgerctl status shows where it stands",
                ROLLOUT_TIMEOUT.as_secs() / 60
            ),
            Progress::NotShown if tokio::time::Instant::now() >= deadline => bail!(
                "ECS has not shown the restart of {name} after {} min; ledgerctl status shows where it stands",
                ROLLOUT_TIMEOUT.as_secs() / 60
            ),
            Progress::Running(now) => {
                tracing::info!(service = %name, "replacing the tasks of {shown}: {now}");
            }
            Progress::NotShown => {}
        }
    }
}

/// The error for a deployment of `task_definition` that failed for `reason`: where the service
/// stands, its latest events, and how the revision's latest stopped tasks ended, with their
/// last log lines. What cannot be read is said, not raised.
async fn failed(
    aws: &Aws,
    config: &StackConfig,
    service: &Service,
    task_definition: &str,
    reason: &str,
) -> anyhow::Error {
    let cluster = cluster::name(config);
    let shown = revision(task_definition);
    let now = match service.task_definition() {
        Some(now) if now != task_definition => {
            format!("the service runs {} again", revision(now))
        }
        _ => "the circuit breaker is rolling it back".to_owned(),
    };
    let mut report =
        format!("the ECS service {cluster}/{NAME} did not roll out {shown}: {reason}; {now}.");
    let events: Vec<String> = service
        .events()
        .iter()
        .take(EVENTS_SHOWN)
        .map(|e| {
            let at = e.created_at().map(ToString::to_string).unwrap_or_default();
            format!("{at} {}", e.message().unwrap_or_default())
        })
        .collect();
    if !events.is_empty() {
        report.push_str("\nIts latest events, newest first:\n");
        report.push_str(&indented(&events.join("\n"), "  "));
    }
    let group = crate::aws::logs::name(config);
    match stopped_tasks(
        aws,
        &cluster,
        &family(config),
        task_definition,
        STOPPED_SHOWN,
    )
    .await
    {
        Ok(tasks) if tasks.is_empty() => {
            report.push_str(&format!("\nNo stopped task of {shown} is left to show."));
        }
        Ok(tasks) => {
            for task in tasks {
                let arn = task.task_arn().unwrap_or_default();
                let stream = log_stream(STREAM_PREFIX, CONTAINER, arn);
                let logs = last_log_lines(aws, &group, &stream, STOPPED_LOG_LINES).await;
                report.push_str(&format!(
                    "\nTask {} of {shown}: {}. Its last log lines ({group} {stream}):\n{}",
                    task_id(arn),
                    how_it_ended(&task, CONTAINER),
                    indented(&logs, "  ")
                ));
            }
        }
        Err(err) => report.push_str(&format!("\n(its stopped tasks could not be read: {err:#})")),
    }
    anyhow::Error::msg(report)
}
