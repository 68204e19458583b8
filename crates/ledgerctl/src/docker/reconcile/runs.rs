//! One-shot runs beside the services: the `migrate` step and the `unreachable` probes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::StartContainerOptions;

use super::super::spec::{Migrate, StackSpec, Unreachable};
use super::container::{
    container_body, create, endpoints, exit_code, last_logs, remove, write_files,
};
use super::{RUN_LABEL, STACK_LABEL};

/// Runs the spec's one-shot `migrate` with its service's image and settings, to completion.
pub(super) async fn migrate(
    docker: &Docker,
    spec: &StackSpec,
    run: &Migrate,
) -> anyhow::Result<()> {
    let service = spec
        .services
        .get(&run.service)
        .context("migrate names no service of the stack")?;
    let name = format!("{}-migrate", spec.stack);
    // One left by a run that died mid-way.
    remove(docker, &name, 0).await?;
    let mut with_env = service.clone();
    with_env
        .env
        .extend(run.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    // On the service's first network, with an address the engine hands out.
    let first = endpoints(spec, &run.service, service, None)
        .into_iter()
        .next()
        .context("a service is on one network at least")?;
    let mut body = container_body(spec, &run.service, &with_env, first)?;
    body.cmd = Some(run.command.clone());
    body.healthcheck = None;
    body.labels = Some(HashMap::from([
        (STACK_LABEL.to_owned(), spec.stack.clone()),
        (RUN_LABEL.to_owned(), "migrate".to_owned()),
    ]));
    if let Some(host) = body.host_config.as_mut() {
        host.restart_policy = None;
        host.port_bindings = None;
    }
    body.exposed_ports = None;
    let timeout = Duration::from_secs(u64::from(run.timeout_seconds));
    let (code, logs) = run_to_end(docker, &name, body, &service.files, timeout, 50).await?;
    if code == Some(0) {
        return Ok(());
    }
    let why = match code {
        None => format!("did not finish within {} s", timeout.as_secs()),
        Some(code) => format!("exited with code {code}"),
    };
    bail!(
        "the {} run before {} ({}) {why}; nothing was changed. Its last log lines:\n{}",
        run.command.join(" "),
        run.service,
        service.image,
        logs.trim_end()
    )
}

/// How long a probe of `unreachable` may take.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the probe `check` (named `name`) in a throwaway container on the stack's network, with
/// an address the engine hands out and no capabilities; an error unless it fails.
pub(super) async fn refused(
    docker: &Docker,
    spec: &StackSpec,
    name: &str,
    check: &Unreachable,
) -> anyhow::Result<()> {
    let service = spec
        .services
        .get(&check.from)
        .with_context(|| format!("unreachable.{name}.from names no service of the stack"))?;
    let container = format!("{}-probe-{name}", spec.stack);
    remove(docker, &container, 0).await?;
    let network = spec.network();
    let body = ContainerCreateBody {
        image: Some(service.image.clone()),
        entrypoint: Some(check.probe.clone()),
        cmd: None,
        user: service.user.clone(),
        labels: Some(HashMap::from([
            (STACK_LABEL.to_owned(), spec.stack.clone()),
            (RUN_LABEL.to_owned(), format!("probe-{name}")),
        ])),
        host_config: Some(HostConfig {
            network_mode: Some(network),
            cap_drop: Some(vec!["ALL".to_owned()]),
            memory: Some(64 * 1024 * 1024),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let (code, logs) = run_to_end(
        docker,
        &container,
        body,
        &BTreeMap::new(),
        PROBE_TIMEOUT,
        20,
    )
    .await?;
    match code {
        Some(0) => bail!(
            "{name} is reachable from the stack's containers: `{}` got through from a container of {} on the network {}; nothing was changed. {}{}",
            check.probe.join(" "),
            check.from,
            spec.network(),
            check.help,
            if logs.trim().is_empty() {
                String::new()
            } else {
                format!("\nThe probe's output:\n{}", logs.trim_end())
            }
        ),
        Some(_) => Ok(()),
        None => bail!(
            "the probe for {name} (`{}`) did not finish within {} s, so whether it is reachable is not known; nothing was changed. Its output:\n{}",
            check.probe.join(" "),
            PROBE_TIMEOUT.as_secs(),
            logs.trim_end()
        ),
    }
}

/// Creates the container `name` from `body` with `files` written into it, starts it and waits
/// up to `timeout` for it to exit; removes it. Its exit code (`None`: still running when the
/// time was up) and its last `lines` of output.
async fn run_to_end(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
    files: &BTreeMap<String, String>,
    timeout: Duration,
    lines: usize,
) -> anyhow::Result<(Option<i64>, String)> {
    let id = create(docker, name, body).await?;
    let ran = async {
        write_files(docker, &id, name, files).await?;
        docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .with_context(|| format!("starting the container {name}"))?;
        let code = exit_code(docker, &id, timeout).await;
        anyhow::Ok((code, last_logs(docker, &id, lines).await))
    }
    .await;
    // Removed whatever happened; an error of the run itself comes first.
    let removed = remove(docker, &id, 0).await;
    let ran = ran?;
    removed?;
    Ok(ran)
}
