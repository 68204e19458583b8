//! A stack of containers as ledgerctl runs it: its services, their network and volumes. Read from
//! YAML (what `templates/` render to), checked in full before any engine is touched, each
//! problem named with its service and field.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
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

impl Service {
    /// The hash of everything that makes the container what it is: equal hashes, nothing to do.
    pub(crate) fn hash(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{:x}", Sha256::digest(json.as_bytes()))
    }
}

impl StackSpec {
    pub(crate) fn load(path: &Path) -> anyhow::Result<StackSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the stack spec {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Reads and checks YAML `text` (from `origin`, for messages).
    pub(crate) fn parse(text: &str, origin: &str) -> anyhow::Result<StackSpec> {
        let spec: StackSpec = serde_yaml::from_str(text)
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
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !name_ok(&self.stack) {
            problems.push(format!(
                "stack: `{}` must be lowercase letters, digits and hyphens",
                self.stack
            ));
        }
        if self.services.is_empty() {
            problems.push("services: there are none; a stack runs at least one".into());
        }
        for (name, service) in &self.services {
            if !name_ok(name) {
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

    /// The stack's network.
    pub(crate) fn network(&self) -> String {
        self.stack.clone()
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
        let spec: StackSpec = serde_yaml::from_str(
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
    fn the_hash_changes_with_any_setting_and_only_then() {
        let service: Service = serde_yaml::from_str("image: x\nenv: {A: '1'}\n").unwrap();
        let same: Service = serde_yaml::from_str("env: {A: '1'}\nimage: x\n").unwrap();
        let changed: Service = serde_yaml::from_str("image: x\nenv: {A: '2'}\n").unwrap();
        assert_eq!(service.hash(), same.hash());
        assert_ne!(service.hash(), changed.hash());
    }
}
