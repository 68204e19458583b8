//! `ledgerctl exec <service> [--] <command…>`: runs a command in the running container of one of
//! the stack's services, on the engine `logs` reads (the stack's instance over SSH, or
//! `--docker-host`), as `docker exec` does. At a terminal it is interactive: a TTY in the
//! container, sized as this terminal, which is put in raw mode meanwhile (keys go as typed,
//! Ctrl-C included). Elsewhere standard input is forwarded until it ends, then closed, and the
//! output streamed as it comes, standard error to standard error. The command's exit code
//! becomes ledgerctl's.
//!
//! Raw mode and the terminal's size come from `stty`, run on this terminal: the workspace
//! forbids unsafe code, which the terminal's system calls need, and has no terminal crate.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::logs::{StackEngineArgs, is_running, service_containers};
use crate::docker::reconcile;
use crate::stack::config::Topology;

/// Run a command in a service's running container (interactive at a terminal).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ledgerctl exec api -- ledgerly-api migrate\n  \
                        ledgerctl exec prometheus -- sh\n  \
                        ledgerctl exec grafana --user root -- cat /etc/grafana/grafana.ini"
)]
pub(crate) struct Args {
    /// The service, e.g. api, traefik, prometheus.
    service: String,
    /// The command and its arguments; put `--` before it when any starts with a dash, and
    /// ledgerctl's own flags before that.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
    /// Run it as this user: `name`, `uid`, `name:group` or `uid:gid` (default: the container's).
    #[arg(short, long)]
    user: Option<String>,
    /// An environment variable for it, KEY=VALUE; repeat for more.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = env_var)]
    env: Vec<String>,
    /// Run it in this folder of the container (default: the container's working folder).
    #[arg(short, long)]
    workdir: Option<String>,
    /// With topology: ecs, run it in one of the ops instance's containers (the monitoring).
    #[arg(long)]
    instance: bool,
    #[command(flatten)]
    engine: StackEngineArgs,
}

/// `KEY=VALUE`, the key not empty.
fn env_var(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((key, _)) if !key.is_empty() => Ok(text.to_owned()),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// This terminal in raw mode — no line editing, no echo, every key sent as typed — until
/// dropped, when its settings are put back.
#[derive(Debug)]
struct RawTerminal {
    /// `stty -g`: the settings to go back to.
    saved: String,
}

/// Runs `stty` on this terminal (its standard input); what it printed, if it worked.
fn stty(args: &[&str]) -> Option<String> {
    let output = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let saved = stty(&["-g"])?;
        stty(&["raw", "-echo"])?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if stty(&[self.saved.as_str()]).is_none() {
            tracing::warn!("could not put the terminal's settings back; `stty sane` does");
        }
    }
}

/// This terminal's size: rows and columns.
fn terminal_size() -> Option<(u16, u16)> {
    let text = stty(&["size"])?;
    let mut numbers = text.split_whitespace().map(str::parse::<u16>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(rows)), Some(Ok(columns))) if rows > 0 && columns > 0 => Some((rows, columns)),
        _ => None,
    }
}

/// The id of `service`'s running container (the newest, while a rolling one is replaced).
async fn running_container(docker: &Docker, stack: &str, service: &str) -> anyhow::Result<String> {
    let containers = reconcile::stack_containers(docker, stack).await?;
    let found = service_containers(&containers, stack, service)?;
    match found.first() {
        Some(container) if is_running(container) => {
            container.id.clone().context("a container without an id")
        }
        other => bail!(
            "{service} of the stack {stack} has no running container on this engine (its container is {}); \
             ledgerctl logs {service} shows why, ledgerctl restart {service} starts it again",
            other
                .and_then(|c| c.state)
                .map_or_else(|| "in no known state".to_owned(), |s| s.to_string())
        ),
    }
}

/// Reads this process's standard input on a thread of its own (blocking reads: the runtime has
/// no stdin of its own here) and writes it to the command's; once it ends, closes the
/// command's, which then sees its input end.
fn forward_stdin(
    mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
) -> tokio::task::JoinHandle<()> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // A plain thread: blocked in a read, it must not hold the runtime's shutdown up.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = [0u8; 8192];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = receiver.recv().await {
            if input.write_all(&chunk).await.is_err() || input.flush().await.is_err() {
                return;
            }
        }
        if let Err(err) = input.shutdown().await {
            tracing::debug!("closing the command's standard input: {err}");
        }
    })
}

/// Starts the exec `id`, forwards standard input and streams its output until it ends.
async fn attach(docker: &Docker, id: &str, tty: bool) -> anyhow::Result<()> {
    let started = docker
        .start_exec(
            id,
            Some(StartExecOptions {
                detach: false,
                tty,
                output_capacity: None,
            }),
        )
        .await
        .context("starting the command")?;
    let StartExecResults::Attached { mut output, input } = started else {
        bail!("the engine started the command detached, with no output to show");
    };
    if tty && let Some((rows, columns)) = terminal_size() {
        let size = ResizeExecOptions {
            height: rows,
            width: columns,
        };
        if let Err(err) = docker.resize_exec(id, size).await {
            tracing::debug!("sizing the command's terminal: {err}");
        }
    }
    let forwarding = forward_stdin(input);
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some(chunk) = output.next().await {
        match chunk.context("reading the command's output")? {
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                out.write_all(&message)?;
                out.flush()?;
            }
            LogOutput::StdErr { message } => err.write_all(&message)?,
            LogOutput::StdIn { .. } => {}
        }
    }
    forwarding.abort();
    Ok(())
}

/// The exec's exit code once the engine has it (it may say "running" an instant after its
/// output ended); codes above 255 or below 0 are given as 255.
async fn exit_code(docker: &Docker, id: &str) -> anyhow::Result<u8> {
    for _ in 0..50 {
        let inspected = docker
            .inspect_exec(id)
            .await
            .context("reading the command's exit code")?;
        if inspected.running != Some(true) {
            let code = inspected
                .exit_code
                .context("the engine gave no exit code for the command")?;
            return Ok(u8::try_from(code).unwrap_or(u8::MAX));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the command's output ended, but the engine still says it is running")
}

/// What a command run by [`captured`] did.
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) code: u8,
    /// What it wrote to standard error (its standard output is not kept).
    pub(crate) stderr: Vec<u8>,
}

/// Runs `command` in `service`'s running container, with no terminal and no input, and keeps
/// what it says on standard error.
pub(crate) async fn captured(
    docker: &Docker,
    stack: &str,
    service: &str,
    command: Vec<String>,
) -> anyhow::Result<Captured> {
    let container = running_container(docker, stack, service).await?;
    let shown = command.join(" ");
    let exec = docker
        .create_exec(
            &container,
            CreateExecOptions::<String> {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(command),
                ..CreateExecOptions::default()
            },
        )
        .await
        .with_context(|| format!("running `{shown}` in {service}"))?;
    let started = docker
        .start_exec(&exec.id, None::<StartExecOptions>)
        .await
        .context("starting the command")?;
    let StartExecResults::Attached { mut output, .. } = started else {
        bail!("the engine started the command detached, with no output to read");
    };
    let mut stderr = Vec::new();
    while let Some(chunk) = output.next().await {
        if let LogOutput::StdErr { message } = chunk.context("reading the command's output")? {
            stderr.extend_from_slice(&message);
        }
    }
    Ok(Captured {
        code: exit_code(docker, &exec.id).await?,
        stderr,
    })
}

/// Runs the command; its exit code.
pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let config = args.engine.stack_file()?;
    if let Some(config) = &config
        && config.topology == Topology::Ecs
        && args.engine.docker_host.is_none()
        && !args.instance
    {
        bail!(
            "with topology: ecs the API runs as Fargate tasks, and ECS Exec is not enabled for them: \
             ledgerctl exec reaches the ops instance's containers only (the monitoring: ledgerctl exec {} --instance -- …); \
             for the database, ledgerctl tunnel db",
            args.service
        );
    }
    let (engine, stack) = args.engine.connect(config.as_ref()).await?;
    let docker = &engine.docker;
    let container = running_container(docker, &stack, &args.service).await?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let exec = docker
        .create_exec(
            &container,
            CreateExecOptions::<String> {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(interactive),
                env: (!args.env.is_empty()).then(|| args.env.clone()),
                cmd: Some(args.command.clone()),
                user: args.user.clone(),
                working_dir: args.workdir.clone(),
                ..CreateExecOptions::default()
            },
        )
        .await
        .with_context(|| format!("running `{}` in {}", args.command.join(" "), args.service))?;
    let raw = if interactive {
        let raw = RawTerminal::enter();
        if raw.is_none() {
            tracing::warn!("stty could not put the terminal in raw mode; keys go line by line");
        }
        raw
    } else {
        None
    };
    let attached = attach(docker, &exec.id, interactive).await;
    drop(raw);
    attached?;
    exit_code(docker, &exec.id).await
}
