//! One container: what the engine is asked to create for a service, on which networks and at
//! which address, with its files; starting, health, logs, exit, removal.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HealthStatusEnum,
    HostConfig, NetworkConnectRequest, NetworkingConfig, PortBinding, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt as _;

use super::super::not_found;
use super::super::spec::{DEFAULT_NETWORK, Service, StackSpec, parse_port};
use super::networks::free_address;
use super::{HASH_LABEL, SERVICE_LABEL, STACK_LABEL};

pub(super) fn seconds(n: u32) -> i64 {
    i64::from(n) * 1_000_000_000
}

/// A container's place on each network its service lists: the engine's network name and the
/// endpoint (aliased by the service's name; on the stack's network at `address` if given), the
/// network carrying its traffic out first.
pub(super) fn endpoints(
    spec: &StackSpec,
    service_name: &str,
    service: &Service,
    address: Option<Ipv4Addr>,
) -> Vec<(String, EndpointSettings)> {
    service
        .networks()
        .iter()
        .map(|network| {
            let ipam_config =
                address
                    .filter(|_| network == DEFAULT_NETWORK)
                    .map(|a| EndpointIpamConfig {
                        ipv4_address: Some(a.to_string()),
                        ..EndpointIpamConfig::default()
                    });
            (
                spec.network_name(network),
                EndpointSettings {
                    aliases: Some(vec![service_name.to_owned()]),
                    ipam_config,
                    ..EndpointSettings::default()
                },
            )
        })
        .collect()
}

/// What the engine is asked to create for `service`, on the network `first` (the one that
/// carries its traffic out; the others are connected before it starts).
pub(super) fn container_body(
    spec: &StackSpec,
    service_name: &str,
    service: &Service,
    first: (String, EndpointSettings),
) -> anyhow::Result<ContainerCreateBody> {
    let mut labels: HashMap<String, String> = service.labels.clone().into_iter().collect();
    labels.insert(STACK_LABEL.into(), spec.stack.clone());
    labels.insert(SERVICE_LABEL.into(), service_name.into());
    labels.insert(HASH_LABEL.into(), service.hash());
    let mut bindings = HashMap::new();
    let mut exposed = Vec::new();
    for port in &service.ports {
        let port = parse_port(port).map_err(anyhow::Error::msg)?;
        let key = format!("{}/tcp", port.container_port);
        exposed.push(key.clone());
        bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: Some(port.host_ip),
                host_port: Some(port.host_port.to_string()),
            }]),
        );
    }
    let binds = service
        .volumes
        .iter()
        .map(|mount| match mount.split_once(':') {
            Some((host, _)) if host.starts_with('/') => mount.clone(),
            Some((volume, rest)) => format!("{}:{rest}", spec.volume_name(volume)),
            None => mount.clone(),
        })
        .collect();
    let (network, endpoint) = first;
    Ok(ContainerCreateBody {
        image: Some(service.image.clone()),
        entrypoint: (!service.entrypoint.is_empty()).then(|| service.entrypoint.clone()),
        cmd: (!service.command.is_empty()).then(|| service.command.clone()),
        env: Some(
            service
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        user: service.user.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: service.health.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(seconds(h.interval_seconds)),
            timeout: Some(seconds(h.timeout_seconds)),
            retries: Some(i64::from(h.retries)),
            start_period: Some(seconds(h.start_period_seconds)),
            ..HealthConfig::default()
        }),
        host_config: Some(HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: Some(binds),
            network_mode: Some(network.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            init: Some(false),
            memory: service.memory_mb.map(|m| i64::from(m) * 1024 * 1024),
            #[allow(clippy::cast_possible_truncation)]
            nano_cpus: service.cpus.map(|c| (c * 1e9) as i64),
            // With NET_RAW a container can forge frames on its network: answer ARP for another
            // container's address and take the traffic a host rule lets through for it alone.
            cap_drop: Some(vec!["NET_RAW".to_owned()]),
            tmpfs: (!service.masked.is_empty()).then(|| {
                service
                    .masked
                    .iter()
                    .map(|path| (path.clone(), "ro,size=64k".to_owned()))
                    .collect()
            }),
            ..HostConfig::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network, endpoint)])),
        }),
        ..ContainerCreateBody::default()
    })
}

/// Creates and starts `service`'s container under `name`; its id.
pub(crate) async fn start(
    docker: &Docker,
    spec: &StackSpec,
    name: &str,
    service_name: &str,
    service: &Service,
) -> anyhow::Result<String> {
    let address = match &service.address_range {
        Some(range) => Some(free_address(docker, spec, range).await?),
        None => None,
    };
    let mut endpoints = endpoints(spec, service_name, service, address).into_iter();
    let first = endpoints
        .next()
        .context("a service is on one network at least")?;
    let body = container_body(spec, service_name, service, first)?;
    let id = create(docker, name, body).await?;
    for (network, endpoint) in endpoints {
        docker
            .connect_network(
                &network,
                NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(endpoint),
                },
            )
            .await
            .with_context(|| format!("connecting {name} to the network {network}"))?;
    }
    write_files(docker, &id, name, &service.files).await?;
    docker
        .start_container(&id, None::<StartContainerOptions>)
        .await
        .with_context(|| format!("starting the container {name}"))?;
    Ok(id)
}

/// Creates the container `name` from `body`; its id.
pub(super) async fn create(
    docker: &Docker,
    name: &str,
    body: ContainerCreateBody,
) -> anyhow::Result<String> {
    Ok(docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .with_context(|| format!("creating the container {name}"))?
        .id)
}

/// Writes a service's `files` into the created container `id` (named `name`), before it starts.
pub(crate) async fn write_files(
    docker: &Docker,
    id: &str,
    name: &str,
    files: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_full(files_tar(files)?.into()),
        )
        .await
        .with_context(|| format!("writing the files of {name}"))
}

/// A tar of `files` (path → content), readable by every user.
pub(super) fn files_tar(files: &BTreeMap<String, String>) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder
            .append_data(
                &mut header,
                path.trim_start_matches('/'),
                content.as_bytes(),
            )
            .with_context(|| format!("adding {path}"))?;
    }
    builder.into_inner().context("finishing the files' archive")
}

/// The started container `id`'s exit code once it ends, or `None` if it runs past `timeout`.
pub(super) async fn exit_code(docker: &Docker, id: &str, timeout: Duration) -> Option<i64> {
    let waited = tokio::time::timeout(
        timeout,
        docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>)
            .collect::<Vec<_>>(),
    )
    .await;
    let results = waited.ok()?;
    Some(
        results
            .into_iter()
            .map(|r| match r {
                Ok(reply) => reply.status_code,
                // bollard reports a non-zero exit as an error carrying the code.
                Err(DockerError::DockerContainerWaitError { code, .. }) => code,
                Err(_) => -1,
            })
            .last()
            .unwrap_or(-1),
    )
}

/// The last lines a container wrote.
pub(crate) async fn last_logs(docker: &Docker, id: &str, lines: usize) -> String {
    let stream = docker.logs(
        id,
        Some(
            LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .tail(&lines.to_string())
                .build(),
        ),
    );
    stream
        .map(|line| line.map(|l| l.to_string()).unwrap_or_default())
        .collect::<Vec<_>>()
        .await
        .concat()
}

/// Waits until the container is healthy (or, with no health check, running).
pub(crate) async fn wait_healthy(
    docker: &Docker,
    id: &str,
    timeout: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let state = docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| e.to_string())?
            .state
            .unwrap_or_default();
        if state.running != Some(true) {
            return Err(format!(
                "it exited with code {}",
                state.exit_code.unwrap_or_default()
            ));
        }
        match state.health.and_then(|h| h.status) {
            None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) => return Ok(()),
            Some(HealthStatusEnum::HEALTHY) => return Ok(()),
            Some(HealthStatusEnum::UNHEALTHY) => return Err("its health check failed".into()),
            Some(HealthStatusEnum::STARTING) => {}
        }
        if started.elapsed() > timeout {
            return Err(format!("it was not healthy after {} s", timeout.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Stops (with the grace period) and removes a container; gone already is fine.
pub(crate) async fn remove(docker: &Docker, id: &str, grace: u32) -> anyhow::Result<()> {
    match docker
        .stop_container(
            id,
            Some(
                StopContainerOptionsBuilder::default()
                    .t(i32::try_from(grace).unwrap_or(i32::MAX))
                    .build(),
            ),
        )
        .await
    {
        Ok(()) => {}
        Err(err) if not_found(&err) => return Ok(()),
        // 304: already stopped.
        Err(DockerError::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(err) => return Err(err).with_context(|| format!("stopping {id}")),
    }
    match docker
        .remove_container(
            id,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(err) if not_found(&err) => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing {id}")),
    }
}
