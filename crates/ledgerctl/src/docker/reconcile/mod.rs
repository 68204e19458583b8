//! Makes an engine run exactly a stack's services, the way `docker compose` converges but with a
//! true no-op and start-before-stop for rolling services:
//!
//! - the networks and volumes are ensured (volumes are never deleted here); a network made with
//!   other settings than the spec's is made again, its containers with it;
//! - the spec's `unreachable` probes run from a throwaway container and must all fail before
//!   anything changes;
//! - a service with an `address_range` gets the first free address of it, so a host rule can
//!   single its containers out; no container has NET_RAW, so none can pose as another;
//! - every container carries the stack, its service and the hash of its configuration as labels;
//! - an unchanged, running service is left alone — a second run recreates nothing;
//! - a changed service is replaced: a rolling one by starting the new container, waiting for its
//!   health check and only then stopping the old one (which gets its grace period to finish

//!   requests); if the new one never becomes healthy it is removed, the old one keeps running,
//!   and the error carries the new one's logs; any other by stop, then start;
//! - a service no longer in the spec is removed;
//! - a lock on the engine (a container name only one run can take, with a lease; `lock.rs`)
//!   keeps two runs from interleaving.
//!
//! `plan.rs` decides what to do from what the engine has and the spec (pure); this module carries
//! the steps out against bollard, `container.rs`, `networks.rs` and `runs.rs` doing each part.

mod container;
mod networks;
mod plan;
mod runs;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::{ContainerSummary, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, StartContainerOptions,
};
use futures_util::TryStreamExt as _;

use super::lock::Lock;
use super::not_found;
use super::registry::Login;
use super::spec::StackSpec;
pub(crate) use container::{last_logs, remove, start, wait_healthy};
use plan::{Existing, Step};

pub(crate) use container::write_files;
pub(crate) use plan::Action;

pub(crate) const STACK_LABEL: &str = "ledgerly.stack";
pub(crate) const SERVICE_LABEL: &str = "ledgerly.service";
pub(crate) const HASH_LABEL: &str = "ledgerly.config-hash";
/// On a one-shot run's container (a migration, a probe), which no service owns.
const RUN_LABEL: &str = "ledgerly.run";

fn stack_labels(spec: &StackSpec) -> HashMap<String, String> {
    HashMap::from([(STACK_LABEL.to_owned(), spec.stack.clone())])
}

async fn ensure_volumes(docker: &Docker, spec: &StackSpec) -> anyhow::Result<()> {
    for volume in &spec.volumes {
        let name = spec.volume_name(volume);
        match docker.inspect_volume(&name).await {
            Ok(_) => {}
            Err(err) if not_found(&err) => {
                docker
                    .create_volume(VolumeCreateRequest {
                        name: Some(name.clone()),
                        labels: Some(stack_labels(spec)),
                        ..VolumeCreateRequest::default()
                    })
                    .await
                    .with_context(|| format!("creating the volume {name}"))?;
            }
            Err(err) => return Err(err).with_context(|| format!("reading the volume {name}")),
        }
    }
    Ok(())
}

/// Pulls the images the engine does not have yet (with `login` for its registry).
async fn ensure_images(
    docker: &Docker,
    spec: &StackSpec,
    login: Option<&Login>,
) -> anyhow::Result<()> {
    for (name, service) in &spec.services {
        match docker.inspect_image(&service.image).await {
            Ok(_) => {}
            Err(err) if not_found(&err) => {
                let (repository, tag) = match service.image.rsplit_once('@') {
                    Some((repository, digest)) => (repository.to_owned(), digest.to_owned()),
                    None => match service.image.rsplit_once(':') {
                        Some((repository, tag)) if !tag.contains('/') => {
                            (repository.to_owned(), tag.to_owned())
                        }
                        _ => (service.image.clone(), "latest".to_owned()),
                    },
                };
                docker
                    .create_image(
                        Some(
                            CreateImageOptionsBuilder::default()
                                .from_image(&repository)
                                .tag(&tag)
                                .build(),
                        ),
                        None,
                        login
                            .filter(|l| l.is_for(&service.image))
                            .map(Login::docker),
                    )
                    .try_collect::<Vec<_>>()
                    .await
                    .with_context(|| {
                        format!(
                            "services.{name}: the engine does not have {} and cannot pull it",
                            service.image
                        )
                    })?;
            }
            Err(err) => {
                return Err(err).with_context(|| format!("reading the image {}", service.image));
            }
        }
    }
    Ok(())
}

/// Every container labelled with `stack`, running or not (the lock among them).
pub(crate) async fn stack_containers(
    docker: &Docker,
    stack: &str,
) -> anyhow::Result<Vec<ContainerSummary>> {
    let filters = HashMap::from([("label", vec![format!("{STACK_LABEL}={stack}")])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing the stack's containers")
}

async fn existing(docker: &Docker, spec: &StackSpec) -> anyhow::Result<Vec<Existing>> {
    Ok(services_of(stack_containers(docker, &spec.stack).await?))
}

/// The service containers among a stack's: not the lock, not a one-shot run.
fn services_of(containers: Vec<ContainerSummary>) -> Vec<Existing> {
    containers
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels.unwrap_or_default();
            if labels.contains_key(super::lock::LOCK_LABEL) {
                return None;
            }
            Some(Existing {
                id: c.id?,
                service: labels.get(SERVICE_LABEL)?.clone(),
                hash: labels.get(HASH_LABEL).cloned().unwrap_or_default(),
                running: c.state.is_some_and(|s| s.to_string() == "running"),
            })
        })
        .collect()
}

/// Makes the engine run `spec`; what it did, in service order (empty: no changes).
pub(crate) async fn reconcile(
    docker: &Docker,
    spec: &StackSpec,
    health_timeout: Duration,
    lock: &Lock,
) -> anyhow::Result<Vec<Action>> {
    let mut actions = networks::ensure_networks(docker, spec).await?;
    ensure_volumes(docker, spec).await?;
    for (name, check) in &spec.unreachable {
        runs::refused(docker, spec, name, check).await?;
    }
    let plan = plan::plan(spec, &existing(docker, spec).await?);
    for step in &plan.steps {
        lock.check()?;
        carry_out(docker, spec, step, health_timeout).await?;
    }
    networks::remove_unused_networks(docker, spec).await?;
    actions.extend(plan.actions);
    Ok(actions)
}

/// Does one step of a plan.
async fn carry_out(
    docker: &Docker,
    spec: &StackSpec,
    step: &Step,
    health_timeout: Duration,
) -> anyhow::Result<()> {
    match step {
        Step::Migrate => {
            let run = spec
                .migrate
                .as_ref()
                .context("the plan migrates a stack with no migrate")?;
            runs::migrate(docker, spec, run).await
        }
        Step::Start { service, id } => docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("starting {service}")),
        Step::TakeOver { service, id } => {
            if let Err(reason) = wait_healthy(docker, id, health_timeout).await {
                let logs = last_logs(docker, id, 50).await;
                remove(docker, id, 0).await.ok();
                bail!(
                    "the new {service} container left by an earlier run did not become healthy: {reason}; it was removed and the old one keeps serving. Its last log lines:\n{}",
                    logs.trim_end()
                );
            }
            Ok(())
        }
        Step::Remove { id, grace, .. } => remove(docker, id, *grace).await,
        Step::Launch {
            service,
            name,
            old_keeps_serving,
        } => {
            let settings = spec
                .services
                .get(service)
                .with_context(|| format!("the plan launches {service}, which the spec lacks"))?;
            let id = start(docker, spec, name, service, settings).await?;
            if let Err(reason) = wait_healthy(docker, &id, health_timeout).await {
                let logs = last_logs(docker, &id, 50).await;
                remove(docker, &id, 0).await.ok();
                bail!(
                    "the new {service} container did not become healthy: {reason}; it was removed{}. Its last log lines:\n{}",
                    if *old_keeps_serving {
                        " and the old one keeps serving"
                    } else {
                        ""
                    },
                    logs.trim_end()
                );
            }
            Ok(())
        }
    }
}

/// Pulls what is missing, takes the lock, reconciles, releases the lock (also on failure).
pub(crate) async fn deploy(
    docker: &Docker,
    spec: &StackSpec,
    login: Option<&Login>,
    lock_wait: Duration,
    health_timeout: Duration,
) -> anyhow::Result<Vec<Action>> {
    ensure_images(docker, spec, login).await?;
    let lock = Lock::take(docker, spec, lock_wait).await?;
    let result = reconcile(docker, spec, health_timeout, &lock)
        .await
        .and_then(|actions| lock.check().map(|()| actions));
    lock.release(docker).await?;
    result
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
    use std::collections::HashMap;

    fn summary(id: &str, labels: &[(&str, &str)], running: bool) -> ContainerSummary {
        ContainerSummary {
            id: Some(id.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<HashMap<_, _>>(),
            ),
            state: Some(if running {
                ContainerSummaryStateEnum::RUNNING
            } else {
                ContainerSummaryStateEnum::EXITED
            }),
            ..ContainerSummary::default()
        }
    }

    #[test]
    fn the_lock_and_one_shot_runs_are_no_service_s_containers() {
        use super::{HASH_LABEL, RUN_LABEL, SERVICE_LABEL, STACK_LABEL};
        let containers = vec![
            summary(
                "web1",
                &[
                    (STACK_LABEL, "demo"),
                    (SERVICE_LABEL, "web"),
                    (HASH_LABEL, "h"),
                ],
                true,
            ),
            summary(
                "lock",
                &[
                    (STACK_LABEL, "demo"),
                    (super::super::lock::LOCK_LABEL, "me"),
                ],
                false,
            ),
            summary(
                "run",
                &[(STACK_LABEL, "demo"), (RUN_LABEL, "migrate")],
                false,
            ),
            summary(
                "worker1",
                &[(STACK_LABEL, "demo"), (SERVICE_LABEL, "worker")],
                false,
            ),
        ];
        assert_eq!(
            super::services_of(containers),
            [
                super::Existing {
                    id: "web1".into(),
                    service: "web".into(),
                    hash: "h".into(),
                    running: true
                },
                super::Existing {
                    id: "worker1".into(),
                    service: "worker".into(),
                    hash: String::new(),
                    running: false
                },
            ]
        );
    }

    #[test]
    fn a_registry_token_goes_to_its_own_registry_only() {
        let ecr = crate::docker::registry::Login {
            username: "AWS".into(),
            password: "token".into(),
            server: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com".into(),
        };
        assert!(ecr.is_for("123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-api@sha256:ab"));
        assert!(!ecr.is_for("traefik:v3.3"));
        assert!(!ecr.is_for("grafana/grafana:11.3.1"));
        assert!(!ecr.is_for("gcr.io/cadvisor/cadvisor:v0.49.1"));
        assert!(
            !format!("{ecr:?}").contains("token"),
            "the password is not shown"
        );
    }
}
