//! `ledgerctl logs <service>`: what one of the stack's containers wrote, from the engine it runs
//! on — the stack's instance over SSH (found from the stack file, like deploy), or the engine
//! `--docker-host` names; `--follow` keeps streaming until Ctrl-C. With `topology: ecs`, what the
//! API's tasks wrote to CloudWatch Logs instead ([`ecs`]).

mod ecs;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt as _;

use crate::aws::{Aws, AwsOptions};
use crate::docker::reconcile::{self, SERVICE_LABEL};
use crate::docker::{Engine, Target};
use crate::stack::StackConfig;
use crate::stack::config::Topology;

/// Show a service's logs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The service, e.g. api. With topology: ecs, the API's tasks: api, migrate (the
    /// migrations), a task id (or its first characters), or none for every task.
    service: Option<String>,
    /// The stack the service belongs to (default: the stack file's, else ledgerly).
    #[arg(long)]
    stack: Option<String>,
    /// Keep streaming new lines until Ctrl-C.
    #[arg(short, long)]
    follow: bool,
    /// Only lines written since then: a duration ago (30s, 10m, 2h, 1d), an RFC 3339 time, or
    /// Unix seconds.
    #[arg(long)]
    since: Option<String>,
    /// How many of the last lines to show (`all` for every one).
    #[arg(long, default_value = "200")]
    tail: String,
    /// With topology: ecs, read the instance's containers (the monitoring) over SSH instead of
    /// the API's tasks in CloudWatch Logs.
    #[arg(long)]
    instance: bool,
    /// The engine: `ssh://user@host[:port]`, `unix:///path/docker.sock` or `local`. Default:
    /// the stack's instance when there is a stack file, else this machine's.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST")]
    docker_host: Option<String>,
    #[command(flatten)]
    ssh: super::deploy::SshOptions,
    /// The stack file; default ledgerly.yaml when it exists.
    #[arg(long, env = "LEDGERLY_STACK_CONFIG")]
    config: Option<PathBuf>,
    /// Send the AWS calls (the instance's address) here (an emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The AWS profile (default: the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// How long to wait for the engine to answer.
    #[arg(long, default_value_t = 30)]
    wait_seconds: u64,
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

/// The stack file: `--config`, else ledgerly.yaml when it exists and no `--docker-host` is given.
fn stack_config(args: &Args) -> anyhow::Result<Option<StackConfig>> {
    let config_path = match &args.config {
        Some(path) => Some(path.clone()),
        None if args.docker_host.is_none() && Path::new("ledgerly.yaml").is_file() => {
            Some(PathBuf::from("ledgerly.yaml"))
        }
        None => None,
    };
    Ok(config_path.as_deref().map(StackConfig::load).transpose()?)
}

/// The engine to read from and the stack's name.
async fn target(args: &Args, config: Option<StackConfig>) -> anyhow::Result<(Target, String)> {
    let stack = args
        .stack
        .clone()
        .or_else(|| config.as_ref().map(|c| c.stack.clone()))
        .unwrap_or_else(|| "ledgerly".to_owned());
    if let Some(host) = &args.docker_host {
        let target = Target::parse(host, args.ssh.key.clone(), args.ssh.known_hosts.clone())?;
        return Ok((target, stack));
    }
    let Some(config) = config else {
        return Ok((Target::Local, stack));
    };
    let aws = Aws::connect(&AwsOptions {
        region: config.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
    })
    .await;
    let target = super::deploy::reach_instance(&aws, &config, &args.ssh).await?;
    Ok((target, stack))
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
    let config = stack_config(&args)?;
    if let Some(config) = &config
        && config.topology == Topology::Ecs
        && args.docker_host.is_none()
        && !args.instance
    {
        return ecs::run(&args, config, since, tail).await;
    }
    let (target, stack) = target(&args, config).await?;
    let engine = Engine::connect(&target, Duration::from_secs(args.wait_seconds)).await?;
    let docker = &engine.docker;
    let containers = reconcile::stack_containers(docker, &stack).await?;
    let service_of = |c: &bollard::models::ContainerSummary| {
        c.labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_LABEL).cloned())
    };
    // The running one first, then the newest (two exist while a rolling service is replaced).
    let Some(container) = containers
        .iter()
        .filter(|c| args.service.is_some() && service_of(c) == args.service)
        .max_by_key(|c| {
            (
                c.state.as_ref().is_some_and(|s| s.to_string() == "running"),
                c.created.unwrap_or_default(),
            )
        })
    else {
        let mut services: Vec<String> = containers.iter().filter_map(service_of).collect();
        services.sort();
        services.dedup();
        let Some(service) = &args.service else {
            bail!(
                "name the service whose logs to show; the stack {stack} has {} on this engine",
                if services.is_empty() {
                    "none".to_owned()
                } else {
                    services.join(", ")
                }
            );
        };
        bail!(
            "the stack {stack} has no service {service} on this engine{}",
            if services.is_empty() {
                String::new()
            } else {
                format!("; it has {}", services.join(", "))
            }
        );
    };
    let id = container.id.clone().context("a container without an id")?;
    let service = args.service.as_deref().unwrap_or_default();
    let mut options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(args.follow)
        .tail(&args.tail);
    if let Some(since) = since {
        options = options.since(i32::try_from(since).unwrap_or(i32::MAX));
    }
    let mut stream = docker.logs(&id, Some(options.build()));
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some(line) = stream.next().await {
        match line.with_context(|| format!("reading the logs of {service}"))? {
            LogOutput::StdErr { message } => err.write_all(&message)?,
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                out.write_all(&message)?;
                out.flush()?;
            }
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
