//! The flags naming a Docker engine, shared by the commands that talk to one.

use std::path::PathBuf;

use crate::docker::Target;

#[derive(Debug, clap::Args)]
pub(crate) struct EngineArgs {
    /// The Docker engine: `local`, `unix:///path/docker.sock` or `ssh://user@host[:port]`.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST", default_value = "local")]
    docker_host: String,
    /// The SSH private key for an ssh:// engine (default: your agent and ~/.ssh).
    #[arg(long)]
    ssh_key: Option<PathBuf>,
    /// A known_hosts file of its own for an ssh:// engine (default: ~/.ssh/known_hosts).
    #[arg(long)]
    ssh_known_hosts: Option<PathBuf>,
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
