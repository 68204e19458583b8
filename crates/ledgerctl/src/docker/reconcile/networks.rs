//! The stack's networks: made as the spec says (made again, with their containers, when the
//! engine's differ), removed once no service lists them, and the free addresses of a service's
//! reserved block.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use anyhow::Context as _;
use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptionsBuilder};

use super::super::not_found;
use super::super::spec::{Block, DEFAULT_NETWORK, StackSpec};
use super::container::remove;
use super::plan::Action;
use super::{STACK_LABEL, stack_containers, stack_labels};

/// The settings the engine is asked for: `(IPAM, internal)`.
pub(super) fn network_settings(spec: &StackSpec, network: &str) -> (Option<Ipam>, bool) {
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
pub(super) fn network_matches(
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
pub(super) async fn ensure_networks(
    docker: &Docker,
    spec: &StackSpec,
) -> anyhow::Result<Vec<Action>> {
    let mut actions = Vec::new();
    for network in &spec.networks_used() {
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
pub(super) async fn remove_unused_networks(
    docker: &Docker,
    spec: &StackSpec,
) -> anyhow::Result<()> {
    let wanted: Vec<String> = spec
        .networks_used()
        .iter()
        .map(|n| spec.network_name(n))
        .collect();
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

/// The first address of `range` (a service's `address_range`) that no container on the stack's
/// network has or is set to have.
pub(super) async fn free_address(
    docker: &Docker,
    spec: &StackSpec,
    range: &str,
) -> anyhow::Result<Ipv4Addr> {
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
