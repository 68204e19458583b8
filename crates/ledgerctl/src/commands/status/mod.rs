//! `ledgerctl status`: the whole stack in one view — every AWS resource (there, in its running
//! state, without drift from the stack file), every container on the instance (image, state,
//! health, uptime, restarts, and whether it is what the current release renders), and the app's
//! own readiness — as a table, or JSON (docs/status.schema.json). Exit 0 when all is well, 2 when
//! anything is missing, unhealthy or drifted (each named), 1 when status itself cannot run. With
//! `topology: ecs` the API's service, tasks, targets and scaling (`ecs`) replace the containers.

mod ecs;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::HealthStatusEnum;
use bollard::query_parameters::InspectContainerOptions;
use futures_util::StreamExt as _;
use serde::Serialize;

use super::deploy::{self, Release, RemoteArgs};
use super::stack::{Output, StackArgs};
use crate::docker::Engine;
use crate::docker::reconcile::{self, HASH_LABEL, SERVICE_LABEL};
use crate::stack::Change;
use crate::stack::config::Topology;
use crate::stack::survey::Survey;

/// Show the stack's resources, containers and readiness; exit 2 if anything is wrong.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    /// The engine the stack runs on, instead of the instance over SSH.
    #[arg(long, env = "LEDGERLY_DOCKER_HOST")]
    pub(crate) docker_host: Option<String>,
    #[command(flatten)]
    pub(crate) ssh: super::deploy::SshOptions,
    /// How long to wait for the instance's engine to answer: 30s, 5m, … (a bare number is seconds).
    #[arg(long = "connect-timeout", alias = "wait-seconds", value_name = "DURATION", default_value = "20s", value_parser = super::engine::duration)]
    pub(crate) connect_timeout: Duration,
}

#[derive(Debug, Serialize)]
struct Resource {
    kind: &'static str,
    name: String,
    /// `ok`, `missing`, `waiting` (for the first image), `drifted`, or a run state that is not
    /// the healthy one (`stopped`, `modifying`, …).
    status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    drift: Vec<crate::stack::FieldChange>,
}

#[derive(Debug, Serialize)]
struct Container {
    service: String,
    name: String,
    image: String,
    /// Docker's: `running`, `exited`, `restarting`, …
    state: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` (no health check).
    health: String,
    uptime_seconds: Option<u64>,
    restarts: i64,
    /// `ok`, `stopped`, `unhealthy`, `drifted` (not what the current release renders), or
    /// `unexpected` (a service the release does not have).
    status: String,
}

#[derive(Debug, Serialize)]
struct App {
    ready: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Report {
    stack: String,
    healthy: bool,
    release: Option<Release>,
    resources: Vec<Resource>,
    containers: Vec<Container>,
    /// Services the current release has and the instance runs no container for.
    missing_services: Vec<String>,
    /// With `topology: ecs` (then `containers` and `missing_services` are empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    ecs: Option<ecs::Ecs>,
    /// The engine's disk use, as Docker counts it, when the engine answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    disk: Option<crate::docker::prune::DiskUsage>,
    app: App,
    /// Every problem, one line each; empty when healthy.
    problems: Vec<String>,
}

/// Runs `ledgerly-api healthcheck` in the API container: the app's own `/readyz`.
async fn app_ready(docker: &Docker, container: &str) -> App {
    let result = async {
        let exec = docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(vec!["/usr/local/bin/ledgerly-api", "healthcheck"]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..CreateExecOptions::default()
                },
            )
            .await?;
        let mut said = String::new();
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await?
        {
            while let Some(chunk) = output.next().await {
                said.push_str(&chunk?.to_string());
            }
        }
        let code = docker.inspect_exec(&exec.id).await?.exit_code;
        anyhow::Ok((code, said))
    }
    .await;
    match result {
        Ok((Some(0), _)) => App {
            ready: true,
            detail: "/readyz answered 200".into(),
        },
        Ok((_, said)) => App {
            ready: false,
            detail: said.trim().to_owned(),
        },
        Err(err) => App {
            ready: false,
            detail: format!("cannot ask the API container: {err:#}"),
        },
    }
}

async fn containers(
    docker: &Docker,
    stack: &str,
    expected: Option<&BTreeMap<String, String>>,
) -> anyhow::Result<(Vec<Container>, Option<String>)> {
    let mut out = Vec::new();
    let mut api = None;
    for summary in reconcile::stack_containers(docker, stack).await? {
        let labels = summary.labels.clone().unwrap_or_default();
        let Some(service) = labels.get(SERVICE_LABEL).cloned() else {
            continue; // the deploy lock, a migration run
        };
        let id = summary.id.clone().context("a container without an id")?;
        let inspected = docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
            .with_context(|| format!("inspecting {id}"))?;
        let state = inspected.state.clone().unwrap_or_default();
        let running = state.running == Some(true);
        let health = match state.health.as_ref().and_then(|h| h.status) {
            None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) => "none",
            Some(HealthStatusEnum::HEALTHY) => "healthy",
            Some(HealthStatusEnum::UNHEALTHY) => "unhealthy",
            Some(HealthStatusEnum::STARTING) => "starting",
        };
        let started = state
            .started_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp());
        let hash = labels.get(HASH_LABEL).cloned().unwrap_or_default();
        let status = match expected.map(|e| e.get(&service)) {
            Some(None) => "unexpected",
            _ if !running => "stopped",
            _ if health == "unhealthy" || health == "starting" => "unhealthy",
            Some(Some(want)) if *want != hash => "drifted",
            _ => "ok",
        };
        if service == "api" && running {
            api = Some(id.clone());
        }
        out.push(Container {
            name: inspected
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned(),
            image: inspected.config.and_then(|c| c.image).unwrap_or_default(),
            state: state
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown".into()),
            health: health.to_owned(),
            uptime_seconds: started
                .filter(|_| running)
                .map(|t| deploy::now().saturating_sub(u64::try_from(t).unwrap_or_default())),
            restarts: inspected.restart_count.unwrap_or_default(),
            status: status.to_owned(),
            service,
        });
    }
    out.sort_by(|a, b| (&a.service, &a.name).cmp(&(&b.service, &b.name)));
    Ok((out, api))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<u8> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let survey = Survey::take(aws, config, opened.public_key.clone()).await?;
    let mut problems = Vec::new();
    let states: BTreeMap<(String, String), String> = survey
        .unhealthy_states()
        .into_iter()
        .map(|(kind, name, state)| ((kind.to_owned(), name), state))
        .collect();
    let resources: Vec<Resource> = survey
        .changes()
        .into_iter()
        .map(|change| {
            let (status, drift) = match change.change {
                Change::Create => ("missing".to_owned(), Vec::new()),
                Change::Waiting { .. } => ("waiting".to_owned(), Vec::new()),
                Change::Update { fields } => ("drifted".to_owned(), fields),
                Change::Unchanged => (
                    states
                        .get(&(change.kind.to_owned(), change.name.clone()))
                        .cloned()
                        .unwrap_or_else(|| "ok".to_owned()),
                    Vec::new(),
                ),
            };
            Resource {
                kind: change.kind,
                name: change.name,
                status,
                drift,
            }
        })
        .collect();
    for resource in &resources {
        if resource.status != "ok" {
            let fields: Vec<&str> = resource.drift.iter().map(|f| f.field.as_str()).collect();
            problems.push(format!(
                "{} {}: {}{}",
                resource.kind,
                resource.name,
                resource.status,
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", fields.join(", "))
                }
            ));
        }
    }

    let history = deploy::releases::history(aws, config).await?;
    let release = history.first().cloned();
    let mut containers_seen = Vec::new();
    let mut missing_services = Vec::new();
    let mut disk = None;
    let mut app = App {
        ready: false,
        detail: "not deployed yet".into(),
    };
    let mut ecs_report = None;
    // A Fargate task has no SSH or Docker engine to ask: the ECS topology is read from AWS.
    let facts = match config.topology {
        Topology::Ecs => {
            let dns_name = survey.known().ecs.load_balancer_dns.clone();
            let seen = ecs::read(aws, config, release.is_some(), dns_name).await?;
            problems.extend(seen.problems);
            app = seen.app;
            ecs_report = Some(seen.report);
            None
        }
        Topology::Instance => Some(deploy::facts::read(aws, config).await),
    };
    match facts {
        None => {}
        Some(Err(err)) => problems.push(format!("the instance cannot be read: {err:#}")),
        Some(Ok(facts)) => {
            let expected = match &release {
                None => None,
                Some(release) => match deploy::ca_bundle(&opened, deploy::pinned(&history)).await {
                    // What the containers should be cannot be known without it.
                    Err(err) => {
                        problems.push(format!("{err:#}"));
                        None
                    }
                    Ok(bundle) => {
                        let registry = deploy::registry_address(&facts)?;
                        let mut spec = deploy::render(
                            &args.stack,
                            &opened,
                            &facts,
                            &registry,
                            release,
                            &bundle,
                        )?;
                        let known = deploy::recorded_images(aws, config, &release.version).await?;
                        crate::docker::pin::apply_known(&mut spec, &known);
                        Some(
                            spec.services
                                .iter()
                                .map(|(name, service)| (name.clone(), service.hash()))
                                .collect::<BTreeMap<_, _>>(),
                        )
                    }
                },
            };
            let remote = RemoteArgs {
                docker_host: args.docker_host.clone(),
                ssh: args.ssh.clone(),
                connect_timeout: args.connect_timeout,
                lock_wait: Duration::ZERO,
            };
            let target = deploy::remote_target(aws, &remote, config, &facts).await;
            match async { Engine::connect(&target?, args.connect_timeout).await }.await {
                Err(err) => problems.push(format!("the instance's Docker engine: {err:#}")),
                Ok(engine) => {
                    disk = match crate::docker::prune::disk_usage(&engine.docker).await {
                        Ok(usage) => Some(usage),
                        Err(err) => {
                            tracing::warn!("the engine's disk use: {err:#}");
                            None
                        }
                    };
                    let (seen, api) =
                        containers(&engine.docker, &config.stack, expected.as_ref()).await?;
                    if let Some(expected) = &expected {
                        missing_services = expected
                            .keys()
                            .filter(|s| !seen.iter().any(|c| &c.service == *s))
                            .cloned()
                            .collect();
                    }
                    for container in &seen {
                        if container.status != "ok" {
                            problems.push(format!(
                                "container {} ({}): {} (state {}, health {})",
                                container.name,
                                container.service,
                                container.status,
                                container.state,
                                container.health
                            ));
                        }
                    }
                    for service in &missing_services {
                        problems.push(format!("service {service}: no container"));
                    }
                    app = match api {
                        Some(api) => app_ready(&engine.docker, &api).await,
                        None if release.is_some() => App {
                            ready: false,
                            detail: "no running API container".into(),
                        },
                        None => app,
                    };
                    containers_seen = seen;
                }
            }
        }
    }
    if !app.ready {
        problems.push(format!("app: not ready ({})", app.detail));
    }
    let report = Report {
        stack: config.stack.clone(),
        healthy: problems.is_empty(),
        release,
        resources,
        containers: containers_seen,
        missing_services,
        ecs: ecs_report,
        disk,
        app,
        problems,
    };
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Output::Text => print_table(&mut out, &report)?,
    }
    Ok(if report.healthy { 0 } else { 2 })
}

fn print_table(out: &mut impl std::io::Write, report: &Report) -> anyhow::Result<()> {
    writeln!(
        out,
        "Stack {}{}",
        report.stack,
        match &report.release {
            Some(release) => format!(" — release {}", release.version),
            None => " — not deployed yet".into(),
        }
    )?;
    writeln!(out, "\nAWS")?;
    let width = report
        .resources
        .iter()
        .map(|r| r.kind.len() + r.name.len() + 1)
        .max()
        .unwrap_or(0);
    for resource in &report.resources {
        let label = format!("{} {}", resource.kind, resource.name);
        writeln!(out, "  {label:<width$}  {}", resource.status)?;
    }
    if let Some(ecs) = &report.ecs {
        ecs::print_table(out, ecs)?;
    } else {
        writeln!(out, "\nContainers")?;
        if report.containers.is_empty() {
            writeln!(out, "  (none)")?;
        }
        for c in &report.containers {
            writeln!(
                out,
                "  {:<14} {:<10} {:<10} up {:<8} restarts {:<3} {}  {}",
                c.service,
                c.state,
                c.health,
                c.uptime_seconds
                    .map(|s| format!("{}m", s / 60))
                    .unwrap_or_else(|| "-".into()),
                c.restarts,
                c.status,
                c.image
            )?;
        }
        for service in &report.missing_services {
            writeln!(out, "  {service:<14} (no container)")?;
        }
    }
    if let Some(disk) = &report.disk {
        writeln!(
            out,
            "\nDisk (Docker's own use; ledgerctl prune frees the reclaimable)"
        )?;
        for line in disk.to_string().lines() {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(
        out,
        "\nApp: {}",
        if report.app.ready {
            "ready".to_owned()
        } else {
            format!("NOT READY — {}", report.app.detail)
        }
    )?;
    if report.healthy {
        writeln!(out, "\nAll healthy.")?;
    } else {
        writeln!(out, "\n{} problem(s):", report.problems.len())?;
        for problem in &report.problems {
            writeln!(out, "  - {problem}")?;
        }
    }
    Ok(())
}
