//! A stack of containers as ledgerctl runs it: its services, their network and volumes. Read from
//! YAML (what `templates/` render to), checked in full before any engine is touched, each
//! problem named with its service and field.
//!
//! Over 500 lines: the spec's types and every check on them, kept beside each other; a third is
//! tests.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Context as _;
use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackSpec {
    /// Names the containers (`<stack>-<service>`), the network and the volumes, and labels them.
    pub(crate) stack: String,
    /// Named volumes the services mount; created if missing, never deleted by a deploy.
    #[serde(default)]
    pub(crate) volumes: Vec<String>,
    pub(crate) services: BTreeMap<String, Service>,
    /// A one-shot run before a service changes: its image, environment, volumes and network
    /// with another command (the API's database migrations). Failing stops the run before any
    /// container is touched.
    #[serde(default)]
    pub(crate) migrate: Option<Migrate>,
    /// The stack network's addresses (unset: whatever the engine picks).
    #[serde(default)]
    pub(crate) network: Option<Addresses>,
    /// Networks besides the stack's, by name (`<stack>-<name>` on the engine), for the services
    /// that list them: e.g. an internal one only a socket proxy and its one client share.
    #[serde(default)]
    pub(crate) networks: BTreeMap<String, Network>,
    /// What the stack's containers must not reach, checked before any container changes: each
    /// probe runs in a throwaway container on the stack network (with an address the engine
    /// hands out, as every service but those with an `address_range` has) and must fail.
    #[serde(default)]
    pub(crate) unreachable: BTreeMap<String, Unreachable>,
}

/// The stack network's address plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Addresses {
    /// The network's block, IPv4 CIDR (e.g. 172.30.0.0/24).
    pub(crate) subnet: String,
    /// The part of it the engine hands out; the rest is for services with an `address_range`.
    pub(crate) ip_range: String,
}

/// A network besides the stack's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Network {
    /// No way out: only its containers reach each other.
    #[serde(default)]
    pub(crate) internal: bool,
}

/// A probe that must fail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Unreachable {
    /// The service whose image the probe runs in.
    pub(crate) from: String,
    /// The command (exec form), which succeeds only when it reaches what it must not.
    pub(crate) probe: Vec<String>,
    /// What to do when it does: shown with the error.
    pub(crate) help: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Migrate {
    /// The service whose image and settings the run takes; it runs when that service is about
    /// to be created or replaced, and not otherwise.
    pub(crate) service: String,
    pub(crate) command: Vec<String>,
    /// Environment over the service's: what the run alone gets (the database's master
    /// credentials, which the service itself never sees).
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// How long it may take.
    #[serde(default = "default_migrate_timeout")]
    pub(crate) timeout_seconds: u32,
}

fn default_migrate_timeout() -> u32 {
    300
}

/// One service: one container (two for a moment while a rolling service is replaced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Service {
    /// An image reference, best by digest (`registry/repo@sha256:…`).
    pub(crate) image: String,
    /// Replaces the image's entry point (e.g. `[/bin/sh, -c]`).
    #[serde(default)]
    pub(crate) entrypoint: Vec<String>,
    #[serde(default)]
    pub(crate) command: Vec<String>,
    /// Environment; values are part of the configuration hash but never printed.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// `host_ip:host_port:container_port`.
    #[serde(default)]
    pub(crate) ports: Vec<String>,
    /// `volume:/path` or `volume:/path:ro` (a stack volume), or `/host/path:/path[:ro]` (a file or
    /// folder of the host, e.g. the Docker socket for the proxy).
    #[serde(default)]
    pub(crate) volumes: Vec<String>,
    /// Empty, read-only in-memory folders mounted over these paths: to hide part of a host
    /// mount, e.g. the host's /run (the Docker and containerd sockets) under a mount of `/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) masked: Vec<String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) user: Option<String>,
    #[serde(default)]
    pub(crate) health: Option<Health>,
    /// Files written into the container before it starts (`/path`: content, mode 0644): the
    /// configuration of Prometheus, Grafana and the like, so that no file is kept on the host.
    #[serde(default)]
    pub(crate) files: BTreeMap<String, String>,
    /// The most memory the container may use, in MiB.
    #[serde(default)]
    pub(crate) memory_mb: Option<u32>,
    /// The most CPU it may use, in cores (0.5: half a core).
    #[serde(default)]
    pub(crate) cpus: Option<f64>,
    /// Start the new container and wait for its health before stopping the old one.
    #[serde(default)]
    pub(crate) rolling: bool,
    /// Seconds a stopping container gets to finish its requests after SIGTERM.
    #[serde(default = "default_stop_grace")]
    pub(crate) stop_grace_seconds: u32,
    /// The networks it is on: `default` (the stack's) and names under `networks`; the first
    /// carries its traffic out. Unset: the stack's network alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) networks: Vec<String>,
    /// Its containers take the first free address of this block of the stack network, outside
    /// the engine's `ip_range` (a rule on the host can then single them out, e.g. for the
    /// instance metadata); each container keeps its address across restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) address_range: Option<String>,
}

/// Lowercase letters, digits and hyphens.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn default_stop_grace() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Health {
    /// The exec form: `["CMD", "/bin/program", "arg"]`.
    pub(crate) test: Vec<String>,
    #[serde(default = "default_interval")]
    pub(crate) interval_seconds: u32,
    #[serde(default = "default_interval")]
    pub(crate) timeout_seconds: u32,
    #[serde(default = "default_retries")]
    pub(crate) retries: u32,
    /// Failures in the first seconds after start do not count (a server migrating its database).
    #[serde(default)]
    pub(crate) start_period_seconds: u32,
}

fn default_interval() -> u32 {
    2
}

fn default_retries() -> u32 {
    3
}

/// A port mapping, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    pub(crate) host_ip: String,
    pub(crate) host_port: u16,
    pub(crate) container_port: u16,
}

pub(crate) fn parse_port(text: &str) -> Result<Port, String> {
    let parts: Vec<&str> = text.rsplitn(3, ':').collect();
    let [container, host, ip] = parts.as_slice() else {
        return Err(format!(
            "`{text}` is not host_ip:host_port:container_port, e.g. 127.0.0.1:8080:8080"
        ));
    };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("`{p}` in `{text}` is not a port"))
    };
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("`{ip}` in `{text}` is not an IP address"));
    }
    Ok(Port {
        host_ip: (*ip).to_owned(),
        host_port: port(host)?,
        container_port: port(container)?,
    })
}

/// An IPv4 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block(Ipv4Net);

impl Block {
    pub(crate) fn parse(text: &str) -> Result<Block, String> {
        match crate::stack::config::parse_cidr(text)? {
            IpNet::V4(net) => Ok(Block(net)),
            IpNet::V6(_) => Err(format!("`{text}` is IPv6; give an IPv4 block")),
        }
    }

    fn prefix(self) -> u8 {
        self.0.prefix_len()
    }

    fn within(self, outer: Block) -> bool {
        outer.0.contains(&self.0)
    }

    fn overlaps(self, other: Block) -> bool {
        self.0.contains(&other.0.network()) || other.0.contains(&self.0.network())
    }

    /// Whether `address` is its first or last (a network's own address and its broadcast).
    pub(crate) fn is_edge(self, address: Ipv4Addr) -> bool {
        address == self.0.network() || address == self.0.broadcast()
    }

    /// Its addresses, in order, the first and last included.
    pub(crate) fn addresses(self) -> impl Iterator<Item = Ipv4Addr> {
        (u32::from(self.0.network())..=u32::from(self.0.broadcast())).map(Ipv4Addr::from)
    }
}

impl Service {
    /// The hash of everything that makes the container what it is: equal hashes, nothing to do.
    pub(crate) fn hash(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(
            "{:x}",
            Sha256::digest(format!("{CONTAINER_FORMAT}{json}").as_bytes())
        )
    }

    /// The networks it is on (`default` for the stack's), the one that carries its traffic out
    /// first.
    pub(crate) fn networks(&self) -> Vec<String> {
        if self.networks.is_empty() {
            vec![DEFAULT_NETWORK.to_owned()]
        } else {
            self.networks.clone()
        }
    }
}

/// The stack's own network, as services name it.
pub(crate) const DEFAULT_NETWORK: &str = "default";

/// Goes into every hash: raised when ledgerctl makes containers differently from the same
/// settings (2: no NET_RAW, so a container cannot pose as another on the network), so that the
/// next run replaces the ones made the old way.
const CONTAINER_FORMAT: u32 = 2;

impl StackSpec {
    pub(crate) fn load(path: &Path) -> anyhow::Result<StackSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stack spec {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Reads and checks YAML `text` (from `origin`, for messages).
    pub(crate) fn parse(text: &str, origin: &str) -> anyhow::Result<StackSpec> {
        let spec: StackSpec = yaml_serde::from_str(text)
            .with_context(|| format!("{origin} is not a valid stack spec"))?;
        let problems = spec.problems();
        if !problems.is_empty() {
            anyhow::bail!(
                "{origin} is not a valid stack spec:\n{}",
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        Ok(spec)
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !valid_name(&self.stack) {
            problems.push(format!(
                "stack: `{}` must be lowercase letters, digits and hyphens",
                self.stack
            ));
        }
        if self.services.is_empty() {
            problems.push("services: there are none; a stack runs at least one".into());
        }
        for (name, service) in &self.services {
            if !valid_name(name) {
                problems.push(format!(
                    "services.{name}: the name must be lowercase letters, digits and hyphens"
                ));
            }
            if service.image.is_empty() {
                problems.push(format!("services.{name}.image: give an image reference"));
            }
            for port in &service.ports {
                if let Err(e) = parse_port(port) {
                    problems.push(format!("services.{name}.ports: {e}"));
                }
            }
            for mount in &service.volumes {
                let parts: Vec<&str> = mount.split(':').collect();
                let ok = match parts.as_slice() {
                    [volume, path] | [volume, path, "ro"] => {
                        (volume.starts_with('/') || self.volumes.iter().any(|v| v == volume))
                            && path.starts_with('/')
                    }
                    _ => false,
                };
                if !ok {
                    problems.push(format!(
                        "services.{name}.volumes: `{mount}` must be <volume>:/path[:ro] with a volume listed under volumes, or /host/path:/path[:ro]"
                    ));
                }
            }
            if let Some(health) = &service.health
                && health.test.first().map(String::as_str) != Some("CMD")
            {
                problems.push(format!(
                    "services.{name}.health.test: use the exec form [\"CMD\", \"/program\", …] (the images have no shell)"
                ));
            }
            for path in &service.masked {
                if !path.starts_with('/') || path.contains("..") {
                    problems.push(format!(
                        "services.{name}.masked: `{path}` must be an absolute path"
                    ));
                }
            }
            for path in service.files.keys() {
                if !path.starts_with('/') || path.ends_with('/') || path.contains("..") {
                    problems.push(format!(
                        "services.{name}.files: `{path}` must be an absolute file path"
                    ));
                }
            }
            if service.memory_mb.is_some_and(|m| m < 6) {
                problems.push(format!(
                    "services.{name}.memory_mb: Docker needs at least 6 MiB"
                ));
            }
            if service.cpus.is_some_and(|c| !(c > 0.0 && c <= 1024.0)) {
                problems.push(format!(
                    "services.{name}.cpus: give a number of cores above 0, e.g. 0.5"
                ));
            }
            if service.rolling && !service.ports.is_empty() {
                problems.push(format!(
                    "services.{name}: a rolling service cannot publish host ports (old and new run side by side); put it behind the proxy"
                ));
            }
        }
        problems.extend(self.network_problems());
        if let Some(migrate) = &self.migrate {
            if !self.services.contains_key(&migrate.service) {
                problems.push(format!(
                    "migrate.service: `{}` is not one of the services",
                    migrate.service
                ));
            }
            if migrate.command.is_empty() {
                problems.push("migrate.command: give the command to run".into());
            }
        }
        problems
    }

    /// What is wrong with the networks, the services' addresses and the probes.
    fn network_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut blocks = None;
        if let Some(addresses) = &self.network {
            let subnet = Block::parse(&addresses.subnet)
                .map_err(|e| problems.push(format!("network.subnet: {e}")));
            let range = Block::parse(&addresses.ip_range)
                .map_err(|e| problems.push(format!("network.ip_range: {e}")));
            if let (Ok(subnet), Ok(range)) = (subnet, range) {
                if range.within(subnet) {
                    blocks = Some((subnet, range));
                } else {
                    problems.push(format!(
                        "network.ip_range: `{}` is not within the subnet `{}`",
                        addresses.ip_range, addresses.subnet
                    ));
                }
            }
        }
        for name in self.networks.keys() {
            if name == DEFAULT_NETWORK || !valid_name(name) {
                problems.push(format!(
                    "networks.{name}: the name must be lowercase letters, digits and hyphens, and not `{DEFAULT_NETWORK}` (the stack's own)"
                ));
            }
        }
        for (name, service) in &self.services {
            let networks = service.networks();
            for (i, network) in networks.iter().enumerate() {
                if network != DEFAULT_NETWORK && !self.networks.contains_key(network) {
                    problems.push(format!(
                        "services.{name}.networks: `{network}` is neither `{DEFAULT_NETWORK}` nor listed under networks"
                    ));
                }
                if networks[..i].contains(network) {
                    problems.push(format!(
                        "services.{name}.networks: `{network}` is listed twice"
                    ));
                }
            }
            let Some(text) = &service.address_range else {
                continue;
            };
            if !networks.iter().any(|n| n == DEFAULT_NETWORK) {
                problems.push(format!(
                    "services.{name}.address_range: the service is not on the stack's network (`{DEFAULT_NETWORK}`)"
                ));
            }
            match (Block::parse(text), blocks) {
                (Err(e), _) => problems.push(format!("services.{name}.address_range: {e}")),
                (Ok(_), None) => problems.push(format!(
                    "services.{name}.address_range: give the stack network's `network.subnet` and `network.ip_range` to reserve addresses in"
                )),
                (Ok(block), Some((subnet, range))) => {
                    if !block.within(subnet) || block.overlaps(range) {
                        problems.push(format!(
                            "services.{name}.address_range: `{text}` must be within the subnet and outside the ip_range the engine hands out"
                        ));
                    } else if block.prefix() > 30 {
                        problems.push(format!(
                            "services.{name}.address_range: `{text}` is too small; a replacement needs a second address (/30 at most)"
                        ));
                    }
                }
            }
        }
        for (name, check) in &self.unreachable {
            if !self.services.contains_key(&check.from) {
                problems.push(format!(
                    "unreachable.{name}.from: `{}` is not one of the services",
                    check.from
                ));
            }
            if check.probe.is_empty() {
                problems.push(format!(
                    "unreachable.{name}.probe: give the command that succeeds only when it gets through"
                ));
            }
        }
        problems
    }

    /// The networks the services are on, as they name them: `default` first, each once.
    pub(crate) fn networks_used(&self) -> Vec<String> {
        let mut used = vec![DEFAULT_NETWORK.to_owned()];
        for service in self.services.values() {
            for network in service.networks() {
                if !used.contains(&network) {
                    used.push(network);
                }
            }
        }
        used
    }

    /// The stack's network.
    pub(crate) fn network(&self) -> String {
        self.stack.clone()
    }

    /// The engine's name for the network a service lists (`default`: the stack's).
    pub(crate) fn network_name(&self, network: &str) -> String {
        if network == DEFAULT_NETWORK {
            self.network()
        } else {
            format!("{}-{network}", self.stack)
        }
    }

    /// The name of a stack volume as the engine knows it.
    pub(crate) fn volume_name(&self, volume: &str) -> String {
        format!("{}-{volume}", self.stack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_strictly() {
        assert_eq!(
            parse_port("127.0.0.1:8080:80").unwrap(),
            Port {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80
            }
        );
        assert!(parse_port("8080:80").is_err());
        assert!(parse_port("localhost:8080:80").is_err());
        assert!(parse_port("127.0.0.1:http:80").is_err());
    }

    #[test]
    fn every_problem_is_named_with_its_service() {
        let spec: StackSpec = yaml_serde::from_str(
            "stack: demo\nvolumes: [data]\nservices:\n  web:\n    image: x\n    ports: ['8080']\n    volumes: ['other:/x']\n    health:\n      test: ['CMD-SHELL', 'true']\n  api:\n    image: y\n    rolling: true\n    ports: ['127.0.0.1:1:2']\n",
        )
        .unwrap();
        let problems = spec.problems().join("\n");
        assert!(problems.contains("services.web.ports"), "{problems}");
        assert!(problems.contains("services.web.volumes"), "{problems}");
        assert!(problems.contains("services.web.health.test"), "{problems}");
        assert!(
            problems.contains("services.api: a rolling service"),
            "{problems}"
        );
    }

    #[test]
    fn networks_reserved_addresses_and_probes_are_checked() {
        let spec: StackSpec = yaml_serde::from_str(
            "stack: demo\nnetwork: {subnet: 10.0.0.0/24, ip_range: 10.0.1.0/25}\nnetworks: {default: {}, Bad_Name: {}}\nunreachable: {x: {from: nobody, probe: [], help: h}}\nservices:\n  a:\n    image: x\n    networks: [default, missing, default]\n    address_range: 10.0.0.16/28\n  b:\n    image: y\n    networks: [other]\n    address_range: fd00::/64\n",
        )
        .unwrap();
        let problems = spec.problems().join("\n");
        for expected in [
            "network.ip_range: `10.0.1.0/25` is not within the subnet `10.0.0.0/24`",
            "networks.default: the name must be",
            "networks.Bad_Name: the name must be",
            "services.a.networks: `missing` is neither",
            "services.a.networks: `default` is listed twice",
            "services.a.address_range: give the stack network's",
            "services.b.networks: `other` is neither",
            "services.b.address_range: the service is not on the stack's network",
            "services.b.address_range: `fd00::/64` is IPv6",
            "unreachable.x.from: `nobody` is not one of the services",
            "unreachable.x.probe: give the command",
        ] {
            assert!(problems.contains(expected), "{expected}\n{problems}");
        }

        let spec: StackSpec = yaml_serde::from_str(
            "stack: demo\nnetwork: {subnet: 10.0.0.0/24, ip_range: 10.0.0.128/25}\nservices:\n  a:\n    image: x\n    address_range: 10.0.0.128/29\n  b:\n    image: y\n    address_range: 10.0.0.16/31\n  c:\n    image: z\n    address_range: 10.0.0.16/28\n",
        )
        .unwrap();
        let problems = spec.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("services.a.address_range: `10.0.0.128/29` must be within the subnet and outside the ip_range"), "{problems:?}");
        assert!(
            problems[1].starts_with("services.b.address_range: `10.0.0.16/31` is too small"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_block_knows_its_addresses() {
        let block = Block::parse("10.0.0.16/30").unwrap();
        assert_eq!(
            block.addresses().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["10.0.0.16", "10.0.0.17", "10.0.0.18", "10.0.0.19"]
        );
        assert!(block.is_edge("10.0.0.16".parse().unwrap()));
        assert!(block.is_edge("10.0.0.19".parse().unwrap()));
        assert!(!block.is_edge("10.0.0.17".parse().unwrap()));
        assert!(Block::parse("10.0.0.1/24").is_err(), "host bits set");
        let all = Block::parse("0.0.0.0/0").unwrap();
        assert!(all.is_edge("255.255.255.255".parse().unwrap()));
        assert!(Block::parse("10.0.0.0/8").unwrap().within(all));
    }

    #[test]
    fn the_hash_changes_with_any_setting_and_only_then() {
        let service: Service = yaml_serde::from_str("image: x\nenv: {A: '1'}\n").unwrap();
        let same: Service = yaml_serde::from_str("env: {A: '1'}\nimage: x\n").unwrap();
        let changed: Service = yaml_serde::from_str("image: x\nenv: {A: '2'}\n").unwrap();
        assert_eq!(service.hash(), same.hash());
        assert_ne!(service.hash(), changed.hash());
    }
}
