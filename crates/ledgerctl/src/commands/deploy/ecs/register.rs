//! Registering a task definition only when it differs from its family's newest active revision
//! in what the task runs, so a deploy that changes nothing registers nothing — and so gives the
//! service no new revision to roll out.

use anyhow::{Context as _, Result};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck as SdkHealthCheck, KeyValuePair,
    LogConfiguration, LogDriver, NetworkMode, PortMapping, Secret, Tag, TaskDefinitionField,
    TransportProtocol,
};

use super::task_definitions::{Container, HealthCheck, Log, TaskDefinition};
use crate::aws::ecs::task_definition::newest_task_definition;
use crate::aws::{Aws, sdk_error};
use crate::stack::config::STACK_TAG;

/// Registers `desired` unless its family's newest active revision already is it: that
/// revision's ARN and `false`, or the new one's and `true`.
pub(crate) async fn register_if_changed(
    aws: &Aws,
    desired: &TaskDefinition,
) -> Result<(String, bool)> {
    let family = &desired.family;
    if let Some(newest) = newest_task_definition(aws, family).await? {
        let reply = aws
            .ecs
            .describe_task_definition()
            .task_definition(&newest)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(sdk_error(format!("reading the task definition {newest}")))?;
        let changed = match reply
            .task_definition()
            .and_then(|t| observed(t, reply.tags()))
        {
            Some(have) => differences(desired, &have),
            None => vec!["not one container on Fargate"],
        };
        if changed.is_empty() {
            return Ok((newest, false));
        }
        tracing::info!(
            family = %family,
            changed = %changed.join(", "),
            "the newest revision differs; registering a new one"
        );
    }
    Ok((register(aws, desired).await?, true))
}

/// What differs between `want` and `have` that changes what a task runs (or, for the stack's
/// tag, whether destroy may delete the family), by name; empty when nothing does. Other tags
/// are not compared: a revision cannot be changed, and a tag is no reason for a deployment.
pub(super) fn differences(want: &TaskDefinition, have: &TaskDefinition) -> Vec<&'static str> {
    let (w, h) = (&want.container, &have.container);
    [
        ("family", want.family == have.family),
        ("cpu", want.cpu == have.cpu),
        ("memory", want.memory == have.memory),
        ("execution role", want.execution_role == have.execution_role),
        ("task role", want.task_role == have.task_role),
        ("container", w.name == h.name),
        ("image", w.image == h.image),
        ("command", w.command == h.command),
        ("port", w.port == h.port),
        ("environment", w.environment == h.environment),
        ("secrets", w.secrets == h.secrets),
        ("log configuration", w.log == h.log),
        ("health check", w.health_check == h.health_check),
        ("stop timeout", w.stop_timeout == h.stop_timeout),
        (
            "stack tag",
            want.tags.get(STACK_TAG) == have.tags.get(STACK_TAG),
        ),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(field, _)| field)
    .collect()
}

/// A revision as ECS describes it, in the form compared; `None` unless it is one container on
/// Fargate in `awsvpc` mode, as deploy registers them. What ECS adds to what was registered
/// (`essential`, a host port, the protocol, empty lists) is left out.
pub(super) fn observed(
    revision: &aws_sdk_ecs::types::TaskDefinition,
    tags: &[Tag],
) -> Option<TaskDefinition> {
    let [container] = revision.container_definitions() else {
        return None;
    };
    let fargate = revision.network_mode() == Some(&NetworkMode::Awsvpc)
        && revision
            .requires_compatibilities()
            .contains(&Compatibility::Fargate);
    if !fargate {
        return None;
    }
    let log = container
        .log_configuration()
        .map(|l| Log {
            driver: l.log_driver().as_str().to_owned(),
            options: l
                .options()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
        .unwrap_or_default();
    Some(TaskDefinition {
        family: revision.family().unwrap_or_default().to_owned(),
        cpu: revision.cpu().unwrap_or_default().to_owned(),
        memory: revision.memory().unwrap_or_default().to_owned(),
        execution_role: revision.execution_role_arn().unwrap_or_default().to_owned(),
        task_role: revision.task_role_arn().map(str::to_owned),
        container: Container {
            name: container.name().unwrap_or_default().to_owned(),
            image: container.image().unwrap_or_default().to_owned(),
            command: container.command().to_vec(),
            port: container
                .port_mappings()
                .first()
                .and_then(|p| p.container_port()),
            environment: container
                .environment()
                .iter()
                .filter_map(|kv| {
                    Some((
                        kv.name()?.to_owned(),
                        kv.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect(),
            secrets: container
                .secrets()
                .iter()
                .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
                .collect(),
            log,
            health_check: container.health_check().map(|h| HealthCheck {
                command: h.command().to_vec(),
                interval: h.interval().unwrap_or_default(),
                timeout: h.timeout().unwrap_or_default(),
                retries: h.retries().unwrap_or_default(),
                start_period: h.start_period().unwrap_or_default(),
            }),
            stop_timeout: container.stop_timeout(),
        },
        tags: tags
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
    })
}

/// The container as RegisterTaskDefinition takes it.
fn container_definition(c: &Container) -> Result<ContainerDefinition> {
    let secrets = c
        .secrets
        .iter()
        .map(|(name, arn)| Secret::builder().name(name).value_from(arn).build())
        .collect::<Result<Vec<_>, _>>()?;
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::from(c.log.driver.as_str()))
        .set_options(Some(c.log.options.clone().into_iter().collect()))
        .build()?;
    let mut container = ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(true)
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_environment(Some(
            c.environment
                .iter()
                .map(|(name, value)| KeyValuePair::builder().name(name).value(value).build())
                .collect(),
        ))
        .set_secrets(Some(secrets))
        .log_configuration(log)
        .set_stop_timeout(c.stop_timeout);
    if let Some(port) = c.port {
        container = container.port_mappings(
            PortMapping::builder()
                .container_port(port)
                .protocol(TransportProtocol::Tcp)
                .build(),
        );
    }
    if let Some(check) = &c.health_check {
        container = container.health_check(
            SdkHealthCheck::builder()
                .set_command(Some(check.command.clone()))
                .interval(check.interval)
                .timeout(check.timeout)
                .retries(check.retries)
                .start_period(check.start_period)
                .build()?,
        );
    }
    Ok(container.build())
}

/// Registers `desired` as a new revision of its family, tagged; its ARN.
async fn register(aws: &Aws, desired: &TaskDefinition) -> Result<String> {
    let family = &desired.family;
    let tags = desired
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let reply = aws
        .ecs
        .register_task_definition()
        .family(family)
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu(&desired.cpu)
        .memory(&desired.memory)
        .execution_role_arn(&desired.execution_role)
        .set_task_role_arn(desired.task_role.clone())
        .container_definitions(container_definition(&desired.container)?)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(sdk_error(format!(
            "registering a revision of the task definition {family}"
        )))?;
    let arn = reply
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .with_context(|| format!("ECS registered a revision of {family} without its ARN"))?;
    tracing::info!(%arn, "registered");
    Ok(arn.to_owned())
}
