//! Docker engines: this machine's (its socket, or `DOCKER_HOST`), or a remote one over SSH.
//!
//! For SSH, ledgerctl runs the system `ssh` client to forward the remote engine's socket to a
//! private local socket (`ssh -L`), then talks to it with bollard: one SSH connection for the
//! whole run, your own keys, agent and `~/.ssh/config`, and only `sshd` and the engine needed on
//! the host (no docker CLI). A host that is still booting, or still installing Docker from its
//! user-data, is waited for up to a bound, with what went wrong on the last try in the error.

pub(crate) mod image;
pub(crate) mod lock;
pub(crate) mod pin;
pub(crate) mod prune;
pub(crate) mod reconcile;
pub(crate) mod registry;
pub(crate) mod spec;
pub(crate) mod template;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bollard::Docker;
use tokio::io::AsyncReadExt as _;

/// The engine answered 404: no such container, image or volume.
pub(crate) fn not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The engine answered 409: the name is taken, or the object is in use.
pub(crate) fn conflict(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

/// Where the engine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// This machine's engine: `DOCKER_HOST` or the default socket.
    Local,
    /// A Unix socket.
    Socket(PathBuf),
    /// `ssh://[user@]host[:port]`, with a key and, optionally, a known_hosts file of its own.
    /// Without a user or a port, ssh takes them from `~/.ssh/config` (`User`, `Port`), as it
    /// does for `ssh host`; so does a `Host` alias there.
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
    },
}

impl Target {
    /// Where ssh goes, as ssh is given it: `user@host`, or `host` (the user from
    /// `~/.ssh/config`, else the local one).
    pub(crate) fn ssh_destination(&self) -> Option<String> {
        match self {
            Target::Ssh {
                user: Some(user),
                host,
                ..
            } => Some(format!("{user}@{host}")),
            Target::Ssh { host, .. } => Some(host.clone()),
            _ => None,
        }
    }

    /// The target as `--docker-host` takes it: `ssh://[user@]host[:port]`, `unix://…`, `local`.
    pub(crate) fn address(&self) -> String {
        match self {
            Target::Local => "local".into(),
            Target::Socket(path) => format!("unix://{}", path.display()),
            Target::Ssh { port, .. } => {
                let destination = self.ssh_destination().unwrap_or_default();
                match port {
                    Some(port) => format!("ssh://{destination}:{port}"),
                    None => format!("ssh://{destination}"),
                }
            }
        }
    }

    /// `ssh://user@host:port`, `unix:///path`, or `local`.
    pub(crate) fn parse(
        text: &str,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
    ) -> anyhow::Result<Target> {
        if text == "local" {
            return Ok(Target::Local);
        }
        if let Some(path) = text.strip_prefix("unix://") {
            return Ok(Target::Socket(PathBuf::from(path)));
        }
        if !text.starts_with("ssh://") {
            bail!(
                "`{text}` is not a Docker host; give ssh://[user@]host[:port], unix:///path/docker.sock or local"
            );
        }
        let url = url::Url::parse(text).map_err(|e| {
            anyhow::anyhow!(
                "`{text}` is not an ssh:// address ({e}); give ssh://[user@]host[:port]"
            )
        })?;
        let user = url.username();
        let host = url
            .host()
            .map(|h| match h {
                url::Host::Ipv6(address) => address.to_string(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        if host.is_empty() {
            bail!("`{text}` names no host: ssh://[user@]host[:port]");
        }
        let port = url.port();
        Ok(Target::Ssh {
            user: (!user.is_empty()).then(|| user.to_owned()),
            host,
            port,
            key,
            known_hosts,
        })
    }
}

/// A connected engine; an SSH forward, if any, lives as long as this.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) docker: Docker,
    _forward: Option<Forward>,
}

/// The `ssh -L` process and the private folder its socket is in.
#[derive(Debug)]
struct Forward {
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.child.start_kill().ok();
    }
}

impl Engine {
    /// Connects to `target`, waiting up to `wait` for it to answer.
    pub(crate) async fn connect(target: &Target, wait: Duration) -> anyhow::Result<Engine> {
        match target {
            Target::Local => {
                let docker = Docker::connect_with_local_defaults()
                    .context("cannot reach this machine's Docker engine")?;
                Ok(Engine {
                    docker: ping(docker, "this machine's Docker engine").await?,
                    _forward: None,
                })
            }
            Target::Socket(path) => Ok(Engine {
                docker: ping(unix(path)?, &path.display().to_string()).await?,
                _forward: None,
            }),
            Target::Ssh { host, .. } => {
                let destination = target.ssh_destination().unwrap_or_default();
                let deadline = Instant::now() + wait;
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match forward(target).await {
                        Ok((forward, socket)) => {
                            match ping(unix(&socket)?, &format!("Docker on {host}")).await {
                                Ok(docker) => {
                                    return Ok(Engine {
                                        docker,
                                        _forward: Some(forward),
                                    });
                                }
                                Err(err) if Instant::now() < deadline => {
                                    tracing::info!(
                                        "SSH to {destination} works but Docker does not answer yet ({err:#}); \
                                         the instance may still be installing it; trying again"
                                    );
                                }
                                Err(err) => {
                                    return Err(err.context(format!(
                                        "SSH to {destination} works, but its Docker engine did not answer within {} s; \
                                         if the instance is new, its user-data may still be installing Docker \
                                         (see /var/log/cloud-init-output.log there)",
                                        wait.as_secs()
                                    )));
                                }
                            }
                        }
                        Err(err) if err.is::<HostKeyRefused>() => return Err(err),
                        Err(err) if Instant::now() < deadline => {
                            tracing::info!(
                                "cannot reach {destination} over SSH yet (try {attempt}: {err:#}); trying again"
                            );
                        }
                        Err(err) => {
                            return Err(err.context(format!(
                                "cannot reach the Docker engine on {host} over SSH within {} s",
                                wait.as_secs()
                            )));
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}

fn unix(path: &Path) -> anyhow::Result<Docker> {
    Docker::connect_with_unix(
        &path.display().to_string(),
        120,
        bollard::API_DEFAULT_VERSION,
    )
    .with_context(|| format!("cannot open the Docker socket {}", path.display()))
}

/// Checks that the engine answers, and speaks its API version.
async fn ping(docker: Docker, what: &str) -> anyhow::Result<Docker> {
    docker
        .ping()
        .await
        .with_context(|| format!("{what} does not answer"))?;
    docker
        .negotiate_version()
        .await
        .with_context(|| format!("{what} answered, but not with its API version"))
}

/// `ssh -nNT -L <forward> user@host`: batch mode (no prompts), failing if the forward cannot be
/// made, the target's key and known_hosts file, keep-alives. Not spawned.
fn ssh_forward_command(target: &Target, forward: &str) -> anyhow::Result<tokio::process::Command> {
    let Target::Ssh {
        port,
        key,
        known_hosts,
        ..
    } = target
    else {
        bail!("not an SSH target");
    };
    let destination = target.ssh_destination().unwrap_or_default();
    let mut command = tokio::process::Command::new("ssh");
    command.arg("-nNT");
    if let Some(port) = port {
        command.args(["-p", &port.to_string()]);
    }
    command
        .args(["-o", "BatchMode=yes"])
        .args(["-o", "ExitOnForwardFailure=yes"])
        .args(["-o", "StreamLocalBindUnlink=yes"])
        .args(["-o", "ServerAliveInterval=15"])
        .args(["-o", "ConnectTimeout=10"]);
    if let Some(key) = key {
        command
            .arg("-i")
            .arg(key)
            .args(["-o", "IdentitiesOnly=yes"]);
    }
    if let Some(file) = known_hosts {
        command
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", file.display()));
    }
    // Only a host key the known_hosts file holds is accepted: for the stack's instance, the keys
    // ledgerctl read from its console output (aws/host_keys.rs); never one learned on first use.
    command
        .args(["-o", "StrictHostKeyChecking=yes"])
        .arg("-L")
        .arg(forward)
        .arg(destination);
    Ok(command)
}

/// Runs `ssh -L <forward>` to `target` and waits up to `within` for `ready` to say the forward
/// is open; if ssh exits first, the error carries what it printed.
pub(crate) async fn open_forward(
    target: &Target,
    forward: &str,
    within: Duration,
    mut ready: impl AsyncFnMut() -> bool,
) -> anyhow::Result<tokio::process::Child> {
    if !matches!(target, Target::Ssh { .. }) {
        bail!("not an SSH target");
    }
    let at = target.address();
    let mut child = ssh_forward_command(target, forward)?
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run ssh (install the OpenSSH client)")?;
    let started = Instant::now();
    while started.elapsed() < within {
        if ready().await {
            return Ok(child);
        }
        if let Some(status) = child.try_wait()? {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                pipe.read_to_string(&mut stderr).await.ok();
            }
            if stderr.contains("Host key verification failed")
                || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            {
                let Target::Ssh { known_hosts, .. } = target else {
                    bail!("not an SSH target");
                };
                return Err(HostKeyRefused {
                    at: at.clone(),
                    known_hosts: known_hosts.as_ref().map_or_else(
                        || "~/.ssh/known_hosts".to_owned(),
                        |f| f.display().to_string(),
                    ),
                    said: stderr.trim().lines().last().unwrap_or_default().to_owned(),
                }
                .into());
            }
            bail!("ssh to {at} exited ({status}): {}", stderr.trim());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.start_kill().ok();
    bail!(
        "ssh to {at} did not open the forward within {} s",
        within.as_secs()
    )
}

/// ssh refused the host: its key is not one the known_hosts file holds. Never retried.
#[derive(Debug, thiserror::Error)]
#[error(
    "ssh refused {at}: the host key it offered is not in {known_hosts} ({said}). For the stack's \
     instance that file holds the keys ledgerctl read from the instance's console output (SSM \
     /<stack>/ssh-host-keys; a replaced instance's keys are learned afresh), so something else \
     answers at that address — check before going on. --ssh-known-hosts uses a file you checked \
     yourself instead"
)]
pub(crate) struct HostKeyRefused {
    at: String,
    known_hosts: String,
    said: String,
}

/// Forwards the remote engine's socket to one in a private folder; the forward and the socket.
async fn forward(target: &Target) -> anyhow::Result<(Forward, PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("ledgerctl-ssh-")
        .tempdir()
        .context("cannot make a private folder for the SSH socket")?;
    let socket = dir.path().join("docker.sock");
    let child = open_forward(
        target,
        &format!("{}:/var/run/docker.sock", socket.display()),
        Duration::from_secs(20),
        async || socket.exists(),
    )
    .await?;
    Ok((Forward { child, _dir: dir }, socket))
}

#[cfg(test)]
mod tests;
