//! ECS: the stack's cluster and the API's service on Fargate (`topology: ecs`). The service's
//! task definition is deploy's: provision creates the service from the newest revision deploy
//! registered and never changes which revision it runs.

pub(crate) mod cluster;
pub(crate) mod service;
pub(crate) mod task_definition;

use anyhow::Result;
use aws_sdk_ecs::types::ClusterField;

use super::{Aws, sdk_error};
use crate::stack::StackConfig;
use crate::stack::config::{STACK_TAG, Topology};

/// A task's id, from its ARN (`arn:…:task/<cluster>/<id>`).
pub(crate) fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// A task definition as people name it, `family:revision`, from its ARN.
pub(crate) fn revision(task_definition_arn: &str) -> &str {
    task_definition_arn
        .rsplit_once("task-definition/")
        .map_or(task_definition_arn, |(_, revision)| revision)
}

/// The SSM SecureString deploy writes the API's database URL to (its password included), which
/// the API's task definition names as a secret.
pub(crate) fn database_url_parameter(config: &StackConfig) -> String {
    format!("/{}/api-database-url", config.stack)
}

/// The topology the stack already runs in, if it runs: `ecs` when it has its ECS cluster,
/// `instance` when it has none but has deployed releases, `None` when nothing was deployed yet
/// (a stack may then change its topology freely).
async fn running_topology(aws: &Aws, config: &StackConfig) -> Result<Option<Topology>> {
    let name = cluster::name(config);
    let reply = aws
        .ecs
        .describe_clusters()
        .clusters(&name)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(sdk_error(format!("looking for the ECS cluster {name}")))?;
    let ours = reply.clusters().iter().any(|cluster| {
        cluster.status() == Some("ACTIVE")
            && cluster
                .tags()
                .iter()
                .any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(config.stack.as_str()))
    });
    if ours {
        return Ok(Some(Topology::Ecs));
    }
    let releases = super::ssm::releases(config);
    Ok(super::ssm::read(aws, &releases)
        .await?
        .map(|_| Topology::Instance))
}

/// An error, before any change, when the stack file's topology is not the one the stack runs
/// in: switching a running stack is a migration (docs/scale-out.md), not a provision.
pub(crate) async fn refuse_switch(aws: &Aws, config: &StackConfig) -> Result<()> {
    match running_topology(aws, config).await? {
        Some(running) if running != config.topology => anyhow::bail!(
            "the stack {} runs with `topology: {running}` but the stack file says `topology: {}`; a running stack does not switch topology in place: set it back to {running}, or migrate as docs/scale-out.md describes (a new stack beside this one, the data moved, then this one destroyed)",
            config.stack,
            config.topology
        ),
        _ => Ok(()),
    }
}
