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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HealthStatusEnum, HostConfig, Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, InspectContainerOptions,
    InspectNetworkOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::lock::Lock;
use super::not_found;
use super::spec::{Block, DEFAULT_NETWORK, Migrate, Service, StackSpec, Unreachable, parse_port};

pub(crate) const STACK_LABEL: &str = "ledgerly.stack";
pub(crate) const SERVICE_LABEL: &str = "ledgerly.service";
pub(crate) const HASH_LABEL: &str = "ledgerly.config-hash";
/// On a one-shot run's container (a migration), which no service owns.
const RUN_LABEL: &str = "ledgerly.run";

/// What a run did to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub(crate) enum Action {
    Create {
        service: String,
    },
    Replace {
        service: String,
        rolling: bool,
    },
    Start {
        service: String,
    },
    Remove {
        service: String,
    },
    /// A network made again with the spec's settings: its containers went with it.
    Network {
        network: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create { service } => write!(f, "+ {service} (created)"),
            Action::Replace {
                service,
                rolling: true,
            } => write!(
                f,
                "~ {service} (configuration changed; replaced, the new one healthy before the old stopped)"
            ),
            Action::Replace { service, .. } => {
                write!(f, "~ {service} (configuration changed; replaced)")
            }
            Action::Start { service } => write!(f, "~ {service} (was stopped; started)"),
            Action::Remove { service } => {
                write!(f, "- {service} (no longer in the stack; removed)")
            }
            Action::Network { network } => write!(
                f,
                "~ network {network} (its settings changed; made again, with every container on it)"
            ),
        }
    }
}

/// A container of the stack, as the engine has it.
#[derive(Debug, Clone)]
struct Existing {
    id: String,
    service: String,
    hash: String,
    running: bool,
}

fn stack_labels(spec: &StackSpec) -> HashMap<String, String> {
    HashMap::from([(STACK_LABEL.to_owned(), spec.stack.clone())])
}

/// The settings the engine is asked for: `(IPAM, internal)`.
fn network_settings(spec: &StackSpec, network: &str) -> (Option<Ipam>, bool) {
    if network == DEFAULT_NETWORK {
        let ipam = spec.network.as_ref().map(|addresses| Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(addresses.subnet.clone()),
                ip_range: Some(addresses.ip_range.clone()),
                ..IpamConfig::default()
            }]),
            ..Ipam::default()
        });
        (ipam, false)
    } else {
        let internal = spec.networks.get(network).is_some_and(|n| n.internal);
        (None, internal)
    }
}

/// Whether the engine's network `have` is what the spec asks of `network`.
fn network_matches(
    spec: &StackSpec,
    network: &str,
    have: &bollard::models::NetworkInspect,
) -> bool {
    let (ipam, internal) = network_settings(spec, network);
    let addresses_match = match ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().next())
    {
        None => true,
        Some(want) => have
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.first())
            .is_some_and(|got| got.subnet == want.subnet && got.ip_range == want.ip_range),
    };
    addresses_match && have.internal.unwrap_or(false) == internal
}

/// Makes sure every network the services use exists as the spec says; the networks made again.
async fn ensure_networks(docker: &Docker, spec: &StackSpec) -> anyhow::Result<Vec<Action>> {
    let mut used: Vec<String> = vec![DEFAULT_NETWORK.to_owned()];
    for service in spec.services.values() {
        for network in service.networks() {
            if !used.contains(&network) {
                used.push(network);
            }
        }
    }
    let mut actions = Vec::new();
    for network in &used {
        let name = spec.network_name(network);
        match docker
            .inspect_network(&name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(have) if network_matches(spec, network, &have) => continue,
            Ok(have) => {
                tracing::warn!(
                    "the network {name} was made with other settings than the stack's; making it again, with its containers"
                );
                for id in have.containers.unwrap_or_default().into_keys() {
                    remove(docker, &id, 10).await?;
                }
                docker
                    .remove_network(&name)
                    .await
                    .with_context(|| format!("removing the network {name}"))?;
                actions.push(Action::Network {
                    network: name.clone(),
                });
            }
            Err(err) if not_found(&err) => {}
            Err(err) => return Err(err).with_context(|| format!("reading the network {name}")),
        }
        let (ipam, internal) = network_settings(spec, network);
        docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                internal: Some(internal),
                ipam,
                labels: Some(stack_labels(spec)),
                ..NetworkCreateRequest::default()
            })
            .await
            .with_context(|| format!("creating the network {name}"))?;
    }
    Ok(actions)
}

/// Removes the stack's networks no service uses any more (a network still in use stays).
async fn remove_unused_networks(docker: &Docker, spec: &StackSpec) -> anyhow::Result<()> {
    let mut wanted = vec![spec.network()];
    for service in spec.services.values() {
        wanted.extend(service.networks().iter().map(|n| spec.network_name(n)));
    }
    let filters = HashMap::from([("label", vec![format!("{STACK_LABEL}={}", spec.stack)])]);
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing the stack's networks")?;
    for network in networks {
        let Some(name) = network.name else { continue };
        if wanted.contains(&name) {
            continue;
        }
        if let Err(err) = docker.remove_network(&name).await {
            tracing::warn!("the network {name} is no longer used but could not be removed: {err}");
        }
    }
    Ok(())
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

/// Whether `credentials` are for the registry `image` comes from (ECR's token must not go to
/// Docker Hub with `traefik:v3`).
fn for_registry_of(credentials: &DockerCredentials, image: &str) -> bool {
    let Some(server) = credentials.serveraddress.as_deref() else {
        return false;
    };
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    image
        .split_once('/')
        .is_some_and(|(registry, _)| registry == server)
}

/// Pulls the images the engine does not have yet (with `credentials` for their registry).
async fn ensure_images(
    docker: &Docker,
    spec: &StackSpec,
    credentials: Option<&DockerCredentials>,
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
                        credentials
                            .filter(|c| for_registry_of(c, &service.image))
                            .cloned(),
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
    Ok(stack_containers(docker, &spec.stack)
        .await?
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
        .collect())
}

fn seconds(n: u32) -> i64 {
    i64::from(n) * 1_000_000_000
}

/// A container's place on each network its service lists: the engine's network name and the
/// endpoint (aliased by the service's name; on the stack's network at `address` if given), the
/// network carrying its traffic out first.
fn endpoints(
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

/// The first address of `range` (a service's `address_range`) that no container on the stack's
/// network has or is set to have.
async fn free_address(docker: &Docker, spec: &StackSpec, range: &str) -> anyhow::Result<Ipv4Addr> {
    let block = Block::parse(range).map_err(anyhow::Error::msg)?;
    let subnet = spec
        .network
        .as_ref()
        .map(|n| Block::parse(&n.subnet))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let network = spec.network();
    let mut taken = HashSet::new();
    let mut note = |text: Option<&str>| {
        if let Some(address) = text
            .and_then(|t| t.split('/').next())
            .and_then(|t| t.parse::<Ipv4Addr>().ok())
        {
            taken.insert(address);
        }
    };
    let inspected = docker
        .inspect_network(&network, None::<InspectNetworkOptions>)
        .await
        .with_context(|| format!("reading the network {network}"))?;
    for container in inspected.containers.unwrap_or_default().values() {
        note(container.ipv4_address.as_deref());
    }
    for container in stack_containers(docker, &spec.stack).await? {
        let endpoint = container
            .network_settings
            .and_then(|s| s.networks)
            .and_then(|mut n| n.remove(&network));
        if let Some(endpoint) = endpoint {
            note(endpoint.ip_address.as_deref());
            note(
                endpoint
                    .ipam_config
                    .as_ref()
                    .and_then(|c| c.ipv4_address.as_deref()),
            );
        }
    }
    block
        .addresses()
        .filter(|a| !subnet.is_some_and(|s| s.is_edge(*a)))
        .find(|a| !taken.contains(a))
        .with_context(|| {
            format!("every address of {range} on the network {network} is taken; widen the service's address_range")
        })
}

/// What the engine is asked to create for `service`, on the network `first` (the one that
/// carries its traffic out; the others are connected before it starts).
fn container_body(
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
async fn start(
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
    let id = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            body,
        )
        .await
        .with_context(|| format!("creating the container {name}"))?
        .id;
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

/// Writes a service's `files` into the created container `id` (named `name`), before it starts.
pub(super) async fn write_files(
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
fn files_tar(files: &BTreeMap<String, String>) -> anyhow::Result<Vec<u8>> {
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

/// Runs the spec's one-shot `migrate` with its service's image and settings, to completion.
async fn migrate(docker: &Docker, spec: &StackSpec, run: &Migrate) -> anyhow::Result<()> {
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
    let id = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .with_context(|| format!("creating the container {name}"))?
        .id;
    write_files(docker, &id, &name, &service.files).await?;
    docker
        .start_container(&id, None::<StartContainerOptions>)
        .await
        .with_context(|| format!("starting the container {name}"))?;
    let timeout = Duration::from_secs(u64::from(run.timeout_seconds));
    let code = exit_code(docker, &id, timeout).await;
    if code == Some(0) {
        remove(docker, &id, 0).await?;
        return Ok(());
    }
    let logs = last_logs(docker, &id, 50).await;
    remove(docker, &id, 0).await.ok();
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

/// The started container `id`'s exit code once it ends, or `None` if it runs past `timeout`.
async fn exit_code(docker: &Docker, id: &str, timeout: Duration) -> Option<i64> {
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

/// How long a probe of `unreachable` may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the probe `check` (named `name`) in a throwaway container on the stack's network, with
/// an address the engine hands out and no capabilities; an error unless it fails.
async fn refused(
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
    let id = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&container)
                    .build(),
            ),
            body,
        )
        .await
        .with_context(|| format!("creating the probe container {container}"))?
        .id;
    let started = docker
        .start_container(&id, None::<StartContainerOptions>)
        .await
        .with_context(|| format!("starting the probe container {container}"));
    let code = match started {
        Ok(()) => exit_code(docker, &id, PROBE_TIMEOUT).await,
        Err(err) => {
            remove(docker, &id, 0).await.ok();
            return Err(err);
        }
    };
    let logs = last_logs(docker, &id, 20).await;
    remove(docker, &id, 0).await?;
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
async fn wait_healthy(docker: &Docker, id: &str, timeout: Duration) -> Result<(), String> {
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
async fn remove(docker: &Docker, id: &str, grace: u32) -> anyhow::Result<()> {
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

/// Makes the engine run `spec`; what it did, in service order (empty: no changes).
pub(crate) async fn reconcile(
    docker: &Docker,
    spec: &StackSpec,
    health_timeout: Duration,
    lock: &Lock,
) -> anyhow::Result<Vec<Action>> {
    let mut actions = ensure_networks(docker, spec).await?;
    ensure_volumes(docker, spec).await?;
    for (name, check) in &spec.unreachable {
        refused(docker, spec, name, check).await?;
    }
    let mut by_service: BTreeMap<String, Vec<Existing>> = BTreeMap::new();
    for container in existing(docker, spec).await? {
        by_service
            .entry(container.service.clone())
            .or_default()
            .push(container);
    }
    lock.check()?;
    if let Some(run) = &spec.migrate
        && let Some(service) = spec.services.get(&run.service)
    {
        let hash = service.hash();
        let current = by_service
            .get(&run.service)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if !current.iter().any(|c| c.hash == hash) {
            migrate(docker, spec, run).await?;
        }
    }
    for (name, service) in &spec.services {
        lock.check()?;
        let hash = service.hash();
        let current = by_service.remove(name).unwrap_or_default();
        let (matching, stale): (Vec<_>, Vec<_>) = current.into_iter().partition(|c| c.hash == hash);
        if let Some(keep) = matching.first() {
            let mut done = None;
            if !keep.running {
                docker
                    .start_container(&keep.id, None::<StartContainerOptions>)
                    .await
                    .with_context(|| format!("starting {name}"))?;
                done = Some(Action::Start {
                    service: name.clone(),
                });
            }
            // A run interrupted mid-replacement left the new container beside the old: it takes
            // over only once healthy; if it never is, it goes and the old one stays.
            if !stale.is_empty() {
                if let Err(reason) = wait_healthy(docker, &keep.id, health_timeout).await {
                    let logs = last_logs(docker, &keep.id, 50).await;
                    remove(docker, &keep.id, 0).await.ok();
                    bail!(
                        "the new {name} container left by an earlier run did not become healthy: {reason}; it was removed and the old one keeps serving. Its last log lines:\n{}",
                        logs.trim_end()
                    );
                }
                done = Some(Action::Replace {
                    service: name.clone(),
                    rolling: service.rolling,
                });
            }
            for extra in matching.iter().skip(1).chain(&stale) {
                remove(docker, &extra.id, service.stop_grace_seconds).await?;
            }
            actions.extend(done);
            continue;
        }
        let container = if service.rolling {
            format!("{}-{name}-{}", spec.stack, &hash[..12])
        } else {
            format!("{}-{name}", spec.stack)
        };
        if !service.rolling {
            for old in &stale {
                remove(docker, &old.id, service.stop_grace_seconds).await?;
            }
        }
        let id = start(docker, spec, &container, name, service).await?;
        if let Err(reason) = wait_healthy(docker, &id, health_timeout).await {
            let logs = last_logs(docker, &id, 50).await;
            remove(docker, &id, 0).await.ok();
            bail!(
                "the new {name} container did not become healthy: {reason}; it was removed{}. Its last log lines:\n{}",
                if service.rolling && !stale.is_empty() {
                    " and the old one keeps serving"
                } else {
                    ""
                },
                logs.trim_end()
            );
        }
        if service.rolling {
            for old in &stale {
                remove(docker, &old.id, service.stop_grace_seconds).await?;
            }
        }
        actions.push(if stale.is_empty() {
            Action::Create {
                service: name.clone(),
            }
        } else {
            Action::Replace {
                service: name.clone(),
                rolling: service.rolling,
            }
        });
    }
    for (name, containers) in by_service {
        for container in containers {
            remove(docker, &container.id, 10).await?;
        }
        actions.push(Action::Remove { service: name });
    }
    remove_unused_networks(docker, spec).await?;
    Ok(actions)
}

/// Pulls what is missing, takes the lock, reconciles, releases the lock (also on failure).
pub(crate) async fn deploy(
    docker: &Docker,
    spec: &StackSpec,
    credentials: Option<&DockerCredentials>,
    lock_wait: Duration,
    health_timeout: Duration,
) -> anyhow::Result<Vec<Action>> {
    ensure_images(docker, spec, credentials).await?;
    let lock = Lock::take(docker, spec, lock_wait).await?;
    let result = reconcile(docker, spec, health_timeout, &lock)
        .await
        .and_then(|actions| lock.check().map(|()| actions));
    lock.release(docker).await?;
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_registry_token_goes_to_its_own_registry_only() {
        let ecr = bollard::auth::DockerCredentials {
            username: Some("AWS".into()),
            password: Some("token".into()),
            serveraddress: Some("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com".into()),
            ..Default::default()
        };
        assert!(super::for_registry_of(
            &ecr,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-api@sha256:ab"
        ));
        assert!(!super::for_registry_of(&ecr, "traefik:v3.3"));
        assert!(!super::for_registry_of(&ecr, "grafana/grafana:11.3.1"));
        assert!(!super::for_registry_of(
            &ecr,
            "gcr.io/cadvisor/cadvisor:v0.49.1"
        ));
    }
}
