//! Tasks that stopped, explained: why ECS stopped them, how their container exited, and the last
//! lines it logged to CloudWatch Logs — what a failed migration or roll-out reports.

use anyhow::Result;
use aws_sdk_ecs::types::{DesiredStatus, Task};

pub(super) use crate::aws::ecs::{revision, task_id};
use crate::aws::{Aws, sdk_error};

/// How many of its last log lines a failed task's report shows.
pub(super) const LOG_LINES: i32 = 30;

/// The log stream the `awslogs` driver writes a task's `container` to: `<prefix>/<container>/<id>`.
pub(super) fn log_stream(prefix: &str, container: &str, task_arn: &str) -> String {
    format!("{prefix}/{container}/{}", task_id(task_arn))
}

/// `text` with every line indented by `indent`.
pub(super) fn indented(text: &str, indent: &str) -> String {
    text.lines()
        .map(|line| format!("{indent}{line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How `task` ended for its container `container`: its exit code, or else why ECS stopped it
/// (an image that could not be pulled, a secret that could not be read, …).
pub(super) fn how_it_ended(task: &Task, container: &str) -> String {
    let ran = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container));
    let stopped = task.stopped_reason().unwrap_or("no reason given");
    let detail = ran
        .and_then(|c| c.reason())
        .map(|reason| format!(" ({reason})"))
        .unwrap_or_default();
    match ran.and_then(|c| c.exit_code()) {
        Some(code) => {
            format!("its container {container} exited with code {code}{detail}; ECS: {stopped}")
        }
        None => format!("it stopped before its container {container} finished: {stopped}{detail}"),
    }
}

/// The last `lines` lines of the log stream `stream` in `group`, oldest first, as text; what
/// went wrong reading them instead (the report goes on without them).
pub(super) async fn last_log_lines(aws: &Aws, group: &str, stream: &str, lines: i32) -> String {
    let reply = aws
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(lines)
        .send()
        .await;
    match reply {
        Ok(reply) if reply.events().is_empty() => "(it logged nothing)".into(),
        // Not from the head: the page that ends with the newest event, its events oldest first.
        Ok(reply) => reply
            .events()
            .iter()
            .filter_map(|e| e.message())
            .map(|m| m.trim_end())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            format!("(no log stream {stream} in {group}: the container never started)")
        }
        Err(err) => format!(
            "(its log {group} {stream} could not be read: {})",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        ),
    }
}

/// The most recent `most` tasks of the family `family` in `cluster` that ECS stopped and that
/// ran `task_definition`, newest first. ECS shows stopped tasks for about an hour.
pub(super) async fn stopped_tasks(
    aws: &Aws,
    cluster: &str,
    family: &str,
    task_definition: &str,
    most: usize,
) -> Result<Vec<Task>> {
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .family(family)
        .desired_status(DesiredStatus::Stopped)
        .max_results(100)
        .send()
        .await
        .map_err(sdk_error(format!("listing the stopped tasks of {family}")))?;
    if listed.task_arns().is_empty() {
        return Ok(vec![]);
    }
    let described = aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(listed.task_arns().to_vec()))
        .send()
        .await
        .map_err(sdk_error(format!("reading the stopped tasks of {family}")))?;
    let mut tasks: Vec<Task> = described
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn() == Some(task_definition))
        .cloned()
        .collect();
    tasks.sort_by(|a, b| b.stopped_at().cmp(&a.stopped_at()));
    tasks.truncate(most);
    Ok(tasks)
}
