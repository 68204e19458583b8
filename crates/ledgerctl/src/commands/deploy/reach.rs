//! Reaching the instance's Docker engine: its address, its recorded host keys, SSH.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::RemoteArgs;
use super::facts::{Facts, missing};
use crate::aws::{self, Aws};
use crate::docker::Target;
use crate::stack::StackConfig;

/// The stack's Elastic IP: where the instance is reached.
pub(crate) async fn instance_endpoint(
    aws: &Aws,
    config: &StackConfig,
) -> anyhow::Result<(String, Option<String>)> {
    aws::eip::observe(aws, config)
        .await?
        .map(|address| (address.public_ip, address.instance_id))
        .ok_or_else(|| missing(config, "Elastic IP"))
}

/// How to reach the instance over SSH: the options of every command that does.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SshOptions {
    /// Reach the instance at this `ssh://[user@]host[:port]` instead of its Elastic IP (a port
    /// forward, a bastion); its recorded host keys still apply.
    #[arg(long = "ssh-host")]
    pub(crate) host: Option<String>,
    /// The SSH private key (default: your agent and ~/.ssh).
    #[arg(long = "ssh-key")]
    pub(crate) key: Option<PathBuf>,
    /// A known_hosts file to check the host's key against, instead of the instance's keys as
    /// ledgerctl recorded them from its console output (`/<stack>/ssh-host-keys`).
    #[arg(long = "ssh-known-hosts")]
    pub(crate) known_hosts: Option<PathBuf>,
}

/// The instance's engine: `ssh://<instance.ssh_user>@<address>:<instance.ssh_port>` (or
/// `ssh.host`), its host key checked against `ssh.known_hosts`, else against the keys of
/// `instance` as recorded from its console output.
pub(crate) async fn instance_target(
    aws: &Aws,
    config: &StackConfig,
    (address, instance): (&str, Option<&str>),
    ssh: &SshOptions,
) -> anyhow::Result<Target> {
    // A forward or bastion given without a user or port: the instance's, as the stack file says.
    let (user, host, port) = match &ssh.host {
        Some(text) => match Target::parse(text, None, None)? {
            Target::Ssh {
                user, host, port, ..
            } => (
                user.unwrap_or_else(|| config.instance.ssh_user.clone()),
                host,
                port.unwrap_or(config.instance.ssh_port),
            ),
            _ => bail!("--ssh-host {text}: give ssh://[user@]host[:port]"),
        },
        None => (
            config.instance.ssh_user.clone(),
            address.to_owned(),
            config.instance.ssh_port,
        ),
    };
    let known_hosts = match &ssh.known_hosts {
        Some(file) => file.clone(),
        None => {
            let instance = instance.with_context(|| {
                format!(
                    "the Elastic IP {address} is not associated with the stack's instance; run ledgerctl provision"
                )
            })?;
            let keys = aws::host_keys::of_instance(aws, config, instance).await?;
            known_hosts_file(
                &config.stack,
                &aws::host_keys::known_hosts(&host, port, &keys),
            )?
        }
    };
    Ok(Target::Ssh {
        user: Some(user),
        host,
        port: Some(port),
        key: ssh.key.clone(),
        known_hosts: Some(known_hosts),
    })
}

/// The instance's engine as [`instance_target`] makes it, its address looked up first (for a
/// command that has not read the stack's other facts).
pub(crate) async fn reach_instance(
    aws: &Aws,
    config: &StackConfig,
    ssh: &SshOptions,
) -> anyhow::Result<Target> {
    let (address, instance) = instance_endpoint(aws, config).await?;
    instance_target(aws, config, (&address, instance.as_deref()), ssh).await
}

/// Writes `text` as the stack's known_hosts file (in ledgerctl's cache folder); its path.
fn known_hosts_file(stack: &str, text: &str) -> anyhow::Result<PathBuf> {
    let dir = dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("ledgerly")
        .join("known_hosts");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(stack);
    let partial = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    std::fs::write(partial.path(), text)?;
    partial
        .persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The engine the stack runs on: `--docker-host`, else the instance over SSH.
pub(crate) async fn remote_target(
    aws: &Aws,
    remote: &RemoteArgs,
    config: &StackConfig,
    facts: &Facts,
) -> anyhow::Result<Target> {
    match &remote.docker_host {
        Some(host) => Target::parse(host, remote.ssh.key.clone(), remote.ssh.known_hosts.clone()),
        None => {
            instance_target(
                aws,
                config,
                (&facts.address, facts.instance.as_deref()),
                &remote.ssh,
            )
            .await
        }
    }
}
