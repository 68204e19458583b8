//! The database migration as a one-off Fargate task before the API changes, as the instance runs
//! its `migrate` step: run to the end, and a failure stops the deploy with the service as it
//! was, naming the exit code (or why ECS stopped the task) and the task's last log lines.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, LaunchType, NetworkConfiguration,
    PropagateTags, Task, TaskOverride,
};

use super::stopped::{
    LOG_LINES, how_it_ended, indented, last_log_lines, log_stream, revision, task_id,
};
use super::task_definitions::{MIGRATION_CONTAINER, MIGRATION_STREAM_PREFIX};
use crate::aws::ecs::cluster;
use crate::aws::{Aws, sdk_error};
use crate::stack::StackConfig;

/// How long the migration may take, from RunTask to its task stopped: pulling the image and
/// starting a Fargate task take a minute or two; the rest is the migrations.
pub(super) const MIGRATION_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often the task is looked at while it runs.
pub(super) const MIGRATION_POLL: Duration = Duration::from_secs(5);
/// Who ECS says started the task (`startedBy`).
const STARTED_BY: &str = "ledgerctl-deploy";

/// A one-off run of the migration's task definition: the migration itself, or another command of
/// the API image in its place (`ledgerly-api invite`), with the database's owner.
#[derive(Debug, Clone)]
pub(crate) struct OneOff<'a> {
    /// The task definition, by ARN or `family:revision`.
    pub(crate) task_definition: &'a str,
    /// What it is, in messages: `migration`, `invite`.
    pub(crate) what: &'static str,
    /// The container's command in place of the task definition's.
    pub(crate) command: Option<Vec<String>>,
    /// Said after a failure: what it left as it was.
    pub(crate) after_failure: &'static str,
    /// Who ECS says started it (`startedBy`).
    pub(crate) started_by: &'static str,
}

/// Runs the migration task definition `task_definition` once in the stack's cluster, in
/// `subnets` with the tasks' security group `security_group` (its id) and a public address (the
/// default VPC has no NAT gateway: ECR and SSM are reached over the internet), and waits until
/// it stops: Ok when its container exited 0. A task still running after [`MIGRATION_TIMEOUT`]
/// is stopped, as the instance's migration container is removed.
pub(crate) async fn run_migration(
    aws: &Aws,
    config: &StackConfig,
    task_definition: &str,
    subnets: &[String],
    security_group: &str,
) -> Result<()> {
    let job = OneOff {
        task_definition,
        what: "migration",
        command: None,
        after_failure: "; the API was not changed",
        started_by: STARTED_BY,
    };
    run_one_off(aws, config, &job, subnets, security_group).await
}

/// Runs `job` as [`run_migration`] runs the migration.
pub(crate) async fn run_one_off(
    aws: &Aws,
    config: &StackConfig,
    job: &OneOff<'_>,
    subnets: &[String],
    security_group: &str,
) -> Result<()> {
    let what = job.what;
    let cluster = cluster::name(config);
    let shown = revision(job.task_definition);
    anyhow::ensure!(
        !subnets.is_empty(),
        "no subnets to run the {what} task {shown} in"
    );
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets.to_vec()))
        .security_groups(security_group)
        .assign_public_ip(AssignPublicIp::Enabled)
        .build()?;
    let overrides = job.command.as_ref().map(|command| {
        TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(MIGRATION_CONTAINER)
                    .set_command(Some(command.clone()))
                    .build(),
            )
            .build()
    });
    let reply = aws
        .ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(job.task_definition)
        .launch_type(LaunchType::Fargate)
        .platform_version("LATEST")
        .count(1)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .set_overrides(overrides)
        .started_by(job.started_by)
        .propagate_tags(PropagateTags::TaskDefinition)
        .enable_ecs_managed_tags(true)
        .send()
        .await
        .map_err(sdk_error(format!("starting the {what} task {shown}")))?;
    if let Some(failure) = reply.failures().first() {
        bail!(
            "ECS did not start the {what} task {shown}: {}{}{}",
            failure.reason().unwrap_or("no reason given"),
            failure
                .detail()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
            job.after_failure
        );
    }
    let task_arn = reply
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .with_context(|| format!("ECS started the {what} task {shown} without naming it"))?
        .to_owned();
    tracing::info!(task = task_id(&task_arn), "the {what} task started");
    let ended = wait_stopped(aws, &cluster, &task_arn, what).await?;
    let group = crate::aws::logs::name(config);
    let stream = log_stream(MIGRATION_STREAM_PREFIX, MIGRATION_CONTAINER, &task_arn);
    let why = match &ended {
        Some(task) => {
            let code = task
                .containers()
                .iter()
                .find(|c| c.name() == Some(MIGRATION_CONTAINER))
                .and_then(|c| c.exit_code());
            if code == Some(0) {
                tracing::info!(task = task_id(&task_arn), "the {what} task finished");
                return Ok(());
            }
            how_it_ended(task, MIGRATION_CONTAINER)
        }
        None => {
            stop(aws, &cluster, &task_arn, what).await?;
            format!(
                "it did not finish within {} minutes and was stopped",
                MIGRATION_TIMEOUT.as_secs() / 60
            )
        }
    };
    let logs = last_log_lines(aws, &group, &stream, LOG_LINES).await;
    bail!(
        "the {what} task {} ({shown}) failed: {why}{}. Its last log lines ({group} {stream}):\n{}",
        task_id(&task_arn),
        job.after_failure,
        indented(&logs, "  ")
    )
}

/// The task once ECS has stopped it; `None` if it has not after [`MIGRATION_TIMEOUT`]. A task
/// ECS does not show yet (it is eventually consistent) is looked for again.
async fn wait_stopped(
    aws: &Aws,
    cluster: &str,
    task_arn: &str,
    what: &str,
) -> Result<Option<Task>> {
    let deadline = tokio::time::Instant::now() + MIGRATION_TIMEOUT;
    let mut last_status = String::new();
    loop {
        tokio::time::sleep(MIGRATION_POLL).await;
        let reply = aws
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .tasks(task_arn)
            .send()
            .await
            .map_err(sdk_error(format!(
                "reading the {what} task {}",
                task_id(task_arn)
            )))?;
        if let Some(task) = reply.tasks().first() {
            let status = task.last_status().unwrap_or_default();
            if status == "STOPPED" {
                return Ok(Some(task.clone()));
            }
            if status != last_status {
                tracing::info!(task = task_id(task_arn), status, "the {what} task");
                last_status = status.to_owned();
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
    }
}

/// Stops the task that ran too long.
async fn stop(aws: &Aws, cluster: &str, task_arn: &str, what: &str) -> Result<()> {
    aws.ecs
        .stop_task()
        .cluster(cluster)
        .task(task_arn)
        .reason(format!(
            "ledgerctl: the {what} did not finish within {} minutes",
            MIGRATION_TIMEOUT.as_secs() / 60
        ))
        .send()
        .await
        .map_err(sdk_error(format!(
            "stopping the {what} task {}",
            task_id(task_arn)
        )))?;
    Ok(())
}
