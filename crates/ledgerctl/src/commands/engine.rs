//! The flags naming a Docker engine, shared by the commands that talk to one.

use std::path::PathBuf;
use std::time::Duration;

use crate::docker::Target;

#[derive(Debug, clap::Args)]
pub(crate) struct EngineArgs {
    /// The Docker engine: `local`, `unix:///path/docker.sock` or `ssh://[user@]host[:port]`.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST", default_value = "local")]
    docker_host: String,
    /// The SSH private key for an ssh:// engine (default: your agent and ~/.ssh).
    #[arg(long)]
    ssh_key: Option<PathBuf>,
    /// A known_hosts file of its own for an ssh:// engine (default: ~/.ssh/known_hosts).
    #[arg(long)]
    ssh_known_hosts: Option<PathBuf>,
}

/// A duration flag's value: `30s`, `10m`, `1h 30m` (humantime), or a bare number of seconds.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); give one like 30s, 10m or 1h 30m"))
}

impl EngineArgs {
    pub(crate) fn target(&self) -> anyhow::Result<Target> {
        Target::parse(
            &self.docker_host,
            self.ssh_key.clone(),
            self.ssh_known_hosts.clone(),
        )
    }
}
