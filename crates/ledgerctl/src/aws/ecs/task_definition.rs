//! The API's task definition family `<stack>-api` ([`family`]): deploy registers a revision per
//! release, tagged with the stack; provision creates the service from the newest active one;
//! destroy deregisters and deletes them all, once the service is gone.

use anyhow::Result;
use aws_sdk_ecs::error::ProvideErrorMetadata as _;
use aws_sdk_ecs::types::{TaskDefinitionField, TaskDefinitionStatus};

use super::service::tags_of;
use crate::aws::{Aws, ensure_owned, found, sdk_error};
use crate::stack::StackConfig;

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

/// The one-off migration task's family: `<stack>-migrate` (the API's is `service::family`).
pub(crate) fn migration_family(config: &StackConfig) -> String {
    config.name("migrate")
}

/// Deregisters the active revisions of `family` and deletes all of them, if the newest carries
/// the stack's tag (deploy registers them with it); what went.
pub(crate) async fn delete_task_definitions(
    aws: &Aws,
    config: &StackConfig,
    family: &str,
) -> Result<Vec<String>> {
    let family = family.to_owned();
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
