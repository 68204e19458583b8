//! `ledgerctl logs [service…]`: what the stack's containers wrote, from the engine they run on —
//! the stack's instance over SSH (found from the stack file, like deploy), or the engine
//! `--docker-host` names; `--follow` keeps streaming until Ctrl-C. Several services (or `--all`)
//! are read at once, their lines interleaved as they come, each prefixed with its service;
//! `--grep` keeps the lines holding a text, `--timestamps` shows when the engine took each. With
//! `topology: ecs`, what the API's tasks wrote to CloudWatch Logs instead ([`ecs`]).
//!
//! How a command finds the engine of the stack's containers is shared: [`StackEngineArgs`] (the
//! flags of exec, restart, prune and lock), [`service_containers`] (a service's containers, or an
//! error naming the stack's services).

mod ecs;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::container::LogOutput;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt as _;

use crate::aws::{Aws, AwsOptions};
use crate::docker::reconcile::{self, SERVICE_LABEL};
use crate::docker::{Engine, Target};
use crate::stack::StackConfig;
use crate::stack::config::Topology;

/// Show what the stack's services wrote.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The services, e.g. api traefik; with more than one, each line starts with its service.
    /// With topology: ecs, one of the API's tasks: api, migrate (the migrations), a task id (or
    /// its first characters), or none for every task.
    services: Vec<String>,
    /// Every service of the stack (not with topology: ecs, without --instance).
    #[arg(long, conflicts_with = "services")]
    all: bool,
    /// Keep streaming new lines until Ctrl-C.
    #[arg(short, long)]
    follow: bool,
    /// Only lines written since then: a duration ago (30s, 10m, 2h, 1d), an RFC 3339 time, or
    /// Unix seconds.
    #[arg(long)]
    since: Option<String>,
    /// How many of the last lines to show (`all` for every one), of each service.
    #[arg(long, default_value = "200")]
    tail: String,
    /// Only the lines holding this text (as it is: no pattern; case matters).
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
    /// Start each line with the time the engine took it (RFC 3339, to the nanosecond).
    #[arg(short, long)]
    timestamps: bool,
    /// With topology: ecs, read the instance's containers (the monitoring) over SSH instead of
    /// the API's tasks in CloudWatch Logs.
    #[arg(long)]
    instance: bool,
    #[command(flatten)]
    engine: StackEngineArgs,
}

/// Which engine runs the stack's containers, and the stack's name: the flags of the commands
/// that work on those containers (logs, exec, restart, prune, lock).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StackEngineArgs {
    /// The stack (default: the stack file's, else ledgerly).
    #[arg(long)]
    pub(crate) stack: Option<String>,
    /// The engine: `ssh://[user@]host[:port]`, `unix:///path/docker.sock` or `local`. Default:
    /// the stack's instance when there is a stack file, else this machine's.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST")]
    pub(crate) docker_host: Option<String>,
    #[command(flatten)]
    pub(crate) ssh: super::deploy::SshOptions,
    /// The stack file; default ledgerly.yaml when it exists and no --docker-host is given.
    #[arg(long, env = "LEDGERLY_STACK_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Send the AWS calls (the instance's address) here (an emulator); AWS_ENDPOINT_URL and
    /// AWS_ENDPOINT_URL_<SERVICE> are read as well.
    #[arg(long)]
    pub(crate) endpoint_url: Option<String>,
    /// The AWS profile (default: the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    pub(crate) profile: Option<String>,
    /// How long to wait for the engine to answer: 30s, 2m, …
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub(crate) connect_timeout: Duration,
}

impl StackEngineArgs {
    /// The stack file's path: `--config`, else ledgerly.yaml when it exists and no
    /// `--docker-host` is given.
    pub(crate) fn stack_file_path(&self) -> Option<PathBuf> {
        match &self.config {
            Some(path) => Some(path.clone()),
            None if self.docker_host.is_none() && Path::new("ledgerly.yaml").is_file() => {
                Some(PathBuf::from("ledgerly.yaml"))
            }
            None => None,
        }
    }

    /// The stack file, checked, when there is one ([`Self::stack_file_path`]).
    pub(crate) fn stack_file(&self) -> anyhow::Result<Option<StackConfig>> {
        Ok(self
            .stack_file_path()
            .as_deref()
            .map(StackConfig::load)
            .transpose()?)
    }

    /// The stack's name: `--stack`, else the stack file's, else ledgerly.
    pub(crate) fn stack_name(&self, config: Option<&StackConfig>) -> String {
        self.stack
            .clone()
            .or_else(|| config.map(|c| c.stack.clone()))
            .unwrap_or_else(|| "ledgerly".to_owned())
    }

    /// The engine: `--docker-host`, else the stack file's instance over SSH, else this
    /// machine's.
    pub(crate) async fn target(&self, config: Option<&StackConfig>) -> anyhow::Result<Target> {
        if let Some(host) = &self.docker_host {
            return Target::parse(host, self.ssh.key.clone(), self.ssh.known_hosts.clone());
        }
        let Some(config) = config else {
            return Ok(Target::Local);
        };
        let aws = Aws::connect(&AwsOptions {
            region: config.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        })
        .await?;
        super::deploy::reach_instance(&aws, config, &self.ssh).await
    }

    /// The engine, connected, and the stack's name.
    pub(crate) async fn connect(
        &self,
        config: Option<&StackConfig>,
    ) -> anyhow::Result<(Engine, String)> {
        let target = self.target(config).await?;
        let engine = Engine::connect(&target, self.connect_timeout).await?;
        Ok((engine, self.stack_name(config)))
    }
}

use super::engine::duration;

/// Whether the engine lists the container as running.
pub(crate) fn is_running(container: &ContainerSummary) -> bool {
    container.state == Some(ContainerSummaryStateEnum::RUNNING)
}

/// The service a container of the stack belongs to (none for the lock, a one-shot run).
pub(crate) fn service_of(container: &ContainerSummary) -> Option<&str> {
    container
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_LABEL))
        .map(String::as_str)
}

/// The services the stack has containers of, sorted.
pub(crate) fn service_names(containers: &[ContainerSummary]) -> Vec<String> {
    let mut services: Vec<String> = containers
        .iter()
        .filter_map(service_of)
        .map(str::to_owned)
        .collect();
    services.sort();
    services.dedup();
    services
}

/// `service`'s containers among the stack's, the running ones first, then the newest; an error
/// naming the stack's services when it has none.
pub(crate) fn service_containers<'a>(
    containers: &'a [ContainerSummary],
    stack: &str,
    service: &str,
) -> anyhow::Result<Vec<&'a ContainerSummary>> {
    let mut found: Vec<&ContainerSummary> = containers
        .iter()
        .filter(|c| service_of(c) == Some(service))
        .collect();
    if found.is_empty() {
        let services = service_names(containers);
        bail!(
            "the stack {stack} has no service {service} on this engine{}",
            if services.is_empty() {
                String::new()
            } else {
                format!("; it has {}", services.join(", "))
            }
        );
    }
    found.sort_by_key(|c| std::cmp::Reverse((is_running(c), c.created.unwrap_or_default())));
    Ok(found)
}

/// Unix seconds for `--since`: a duration ago, an RFC 3339 time, or Unix seconds.
fn since(text: &str, now: u64) -> anyhow::Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default());
    }
    let ago = humantime::parse_duration(text).with_context(|| {
        format!(
            "--since {text}: give a duration like 30s, 10m, 2h or 1d, a time like 2026-12-05T09:00:00Z, or Unix seconds"
        )
    })?;
    Ok(now.saturating_sub(ago.as_secs()))
}

/// The services to read, in the order given (`--all`: every one the stack has), each with the
/// container to read: the running one, else the newest (two exist while a rolling service is
/// replaced).
fn choose(
    args: &Args,
    containers: &[ContainerSummary],
    stack: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut services = if args.all {
        service_names(containers)
    } else {
        args.services.clone()
    };
    let mut seen = std::collections::HashSet::new();
    services.retain(|s| seen.insert(s.clone()));
    if services.is_empty() {
        let have = service_names(containers);
        bail!(
            "name the services whose logs to show, or --all; the stack {stack} has {} on this engine",
            if have.is_empty() {
                "none".to_owned()
            } else {
                have.join(", ")
            }
        );
    }
    services
        .into_iter()
        .map(|service| {
            let id = service_containers(containers, stack, &service)?
                .first()
                .and_then(|c| c.id.clone())
                .context("a container without an id")?;
            Ok((service, id))
        })
        .collect()
}

/// Cuts one stream's chunks into whole lines: the engine's chunks need not end at one.
#[derive(Debug, Default)]
pub(super) struct LineBuffer {
    partial: Vec<u8>,
}

impl LineBuffer {
    /// The lines `chunk` completes, each with its newline.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.partial.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            lines.push(self.partial.drain(..=end).collect());
        }
        lines
    }

    /// What is left once the stream ends, given a newline.
    pub(super) fn finish(&mut self) -> Option<Vec<u8>> {
        if self.partial.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.partial);
        line.push(b'\n');
        Some(line)
    }
}

/// How each line is shown: prefixed with its service (padded to `width`) when several are read,
/// and kept only when it holds `grep`.
#[derive(Debug)]
pub(super) struct Shown<'a> {
    pub(super) prefix: Option<usize>,
    pub(super) grep: Option<&'a str>,
    /// The engine starts each line with its time and a space: `--grep` looks past it.
    pub(super) timestamps: bool,
}

impl Shown<'_> {
    /// The line as shown, or `None` when `--grep` drops it.
    pub(super) fn line(&self, service: &str, line: &[u8]) -> Option<Vec<u8>> {
        if let Some(text) = self.grep {
            let message = match (self.timestamps, line.iter().position(|&b| b == b' ')) {
                (true, Some(space)) => &line[space + 1..],
                _ => line,
            };
            if !String::from_utf8_lossy(message).contains(text) {
                return None;
            }
        }
        let mut shown = match self.prefix {
            Some(width) => format!("{service:<width$} | ").into_bytes(),
            None => Vec::new(),
        };
        shown.extend_from_slice(line);
        Some(shown)
    }
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let tail = match args.tail.as_str() {
        "all" => None,
        lines => match lines.parse::<usize>() {
            Ok(lines) => Some(lines),
            Err(_) => bail!("--tail {lines}: give a number of lines, or all"),
        },
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let since = args.since.as_deref().map(|s| since(s, now)).transpose()?;
    let engine_args = &args.engine;
    let config = engine_args.stack_file()?;
    if let Some(config) = &config
        && config.topology == Topology::Ecs
        && engine_args.docker_host.is_none()
        && !args.instance
    {
        if args.all || args.services.len() > 1 {
            bail!(
                "with topology: ecs, ledgerctl logs reads one of the API's tasks at a time from CloudWatch Logs \
                 (api, migrate, a task id, or none for all of them); several of the instance's services: \
                 ledgerctl logs <service>… --instance"
            );
        }
        return ecs::run(&args, config, since, tail).await;
    }
    let (engine, stack) = engine_args.connect(config.as_ref()).await?;
    let docker = &engine.docker;
    let containers = reconcile::stack_containers(docker, &stack).await?;
    let chosen = choose(&args, &containers, &stack)?;
    let mut options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(args.follow)
        .timestamps(args.timestamps)
        .tail(&args.tail);
    if let Some(since) = since {
        options = options.since(i32::try_from(since).unwrap_or(i32::MAX));
    }
    let options = options.build();
    let width = chosen
        .iter()
        .map(|(s, _)| s.len())
        .max()
        .unwrap_or_default();
    let shown = Shown {
        prefix: (chosen.len() > 1).then_some(width),
        grep: args.grep.as_deref(),
        timestamps: args.timestamps,
    };
    // Each service's stream tagged with its place; merged, lines come as the engine sends them.
    let mut merged =
        futures_util::stream::select_all(chosen.iter().enumerate().map(|(i, (_, id))| {
            docker
                .logs(id, Some(options.clone()))
                .map(move |item| (i, item))
        }));
    // Per service: its standard output's and its standard error's partial line.
    let mut buffers: Vec<[LineBuffer; 2]> = chosen.iter().map(|_| Default::default()).collect();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some((i, item)) = merged.next().await {
        let service = &chosen[i].0;
        let (message, to_err) =
            match item.with_context(|| format!("reading the logs of {service}"))? {
                LogOutput::StdErr { message } => (message, true),
                LogOutput::StdOut { message } | LogOutput::Console { message } => (message, false),
                LogOutput::StdIn { .. } => continue,
            };
        for line in buffers[i][usize::from(to_err)].push(&message) {
            if let Some(line) = shown.line(service, &line) {
                if to_err {
                    err.write_all(&line)?;
                } else {
                    out.write_all(&line)?;
                    out.flush()?;
                }
            }
        }
    }
    for ((service, _), [stdout, stderr]) in chosen.iter().zip(&mut buffers) {
        if let Some(line) = stdout.finish().and_then(|l| shown.line(service, &l)) {
            out.write_all(&line)?;
        }
        if let Some(line) = stderr.finish().and_then(|l| shown.line(service, &l)) {
            err.write_all(&line)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
