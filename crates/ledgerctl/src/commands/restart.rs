//! `ledgerctl restart <service>`: restarts one of the stack's services on its engine, holding the
//! deploy lock so that it cannot interleave with a deploy.
//!
//! A rolling service (the API) is replaced as a deploy replaces it, with no downtime: a new
//! container of the very same configuration is started beside the old one, and only once its
//! health check passes is the old one stopped, with its grace period; one that never turns
//! healthy is removed, the old one serving on. The new container is made by the reconciler's own
//! code from the stack spec — its files (the database's certificates) and its reserved address
//! are not in the running container's settings — rendered from the stack file for the current
//! release as deploy renders it, or read from `--spec` for a stack run with `ledgerctl
//! reconcile`. The spec must give the running container's configuration (its hash label): a
//! restart never rolls out a change. Any other service, or a rolling one `--in-place`, is
//! restarted where it is (`docker restart`, its grace period to stop).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::RestartContainerOptionsBuilder;
use serde::Serialize;

use super::deploy;
use super::engine::duration;
use super::logs::{StackEngineArgs, is_running, service_containers};
use super::stack::{Output, StackArgs};
use crate::aws::{Aws, AwsOptions};
use crate::docker::lock::Lock;
use crate::docker::reconcile::{self, HASH_LABEL};
use crate::docker::spec::StackSpec;
use crate::stack::StackConfig;
use crate::stack::config::Topology;

/// How long a stopping container gets when neither the spec nor `--stop-timeout` says.
const DEFAULT_STOP: Duration = Duration::from_secs(10);

/// Restart a service: the API with no downtime, any other in place.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The service, e.g. api, traefik, prometheus.
    service: String,
    /// The stack spec the stack runs (YAML, as `ledgerctl reconcile` takes it), to make a rolling
    /// service's new container from instead of rendering the stack file's current release.
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Restart a rolling service in place too: no stack file or spec needed, but it stops
    /// serving for a few seconds.
    #[arg(long)]
    in_place: bool,
    /// How long a stopping container gets to finish before it is killed: 10s, 1m (default: the
    /// service's `stop_grace_seconds` when its spec is known, else 10s).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    stop_timeout: Option<Duration>,
    /// How long a new container may take to become healthy: 90s, 5m (default: the stack file's
    /// `deploy.health_timeout_seconds`, else 2m).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    health_timeout: Option<Duration>,
    /// How long to wait while a deploy holds the stack's lock: 30s, 5m.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = duration)]
    lock_wait: Duration,
    /// With topology: ecs, restart one of the ops instance's containers (the monitoring);
    /// without it, `restart api` replaces the API's Fargate tasks through ECS.
    #[arg(long)]
    instance: bool,
    /// `text` for people, `json` for programs.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    engine: StackEngineArgs,
}

/// What a restart did.
#[derive(Debug, Serialize)]
struct Restarted {
    stack: String,
    service: String,
    /// `rolling` (a new container healthy, then the old one stopped), `in-place`, or `started`
    /// (it was not running).
    how: &'static str,
    /// The container restarted, or replaced.
    container: String,
    /// The container that replaced it, when rolling.
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
}

impl std::fmt::Display for Restarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Restarted {
            stack,
            service,
            container,
            ..
        } = self;
        match (self.how, &self.replacement) {
            ("rolling", Some(new)) => write!(
                f,
                "~ {service} replaced with no downtime: {new} is healthy, {container} stopped and removed.\n\
                 Restarted {service} of {stack}."
            ),
            ("started", _) => write!(
                f,
                "~ {service} was not running: {container} started.\nStarted {service} of {stack}."
            ),
            _ => write!(
                f,
                "~ {service} restarted in place: {container}.\nRestarted {service} of {stack}."
            ),
        }
    }
}

/// The container's name, without the engine's leading slash.
fn name_of(container: &ContainerSummary) -> String {
    container
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .or_else(|| container.id.clone())
        .unwrap_or_default()
}

fn hash_of(container: &ContainerSummary) -> &str {
    container
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map_or("", String::as_str)
}

/// Whether the reconciler made `container` as a rolling service's: it names those
/// `<stack>-<service>-<hash, 12 digits>` (and a restart adds a suffix), any other
/// `<stack>-<service>`.
fn made_rolling(container: &ContainerSummary, stack: &str, service: &str) -> bool {
    hash_of(container).get(..12).is_some_and(|prefix| {
        name_of(container).starts_with(&format!("{stack}-{service}-{prefix}"))
    })
}

/// The deploy commands' stack flags for the stack file `config` (rendering the stack needs them),
/// with the AWS profile and endpoint given here.
fn stack_args(engine: &StackEngineArgs, config: &Path) -> anyhow::Result<StackArgs> {
    use clap::{Args as _, FromArgMatches as _};
    let mut argv = vec![
        "restart".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
    ];
    if let Some(profile) = &engine.profile {
        argv.extend(["--profile".into(), profile.into()]);
    }
    if let Some(endpoint) = &engine.endpoint_url {
        argv.extend(["--endpoint-url".into(), endpoint.into()]);
    }
    let matches = StackArgs::augment_args(clap::Command::new("restart"))
        .try_get_matches_from::<_, std::ffi::OsString>(argv)
        .context("reading the stack file's flags")?;
    Ok(StackArgs::from_arg_matches(&matches)?)
}

/// The stack the current release renders to, as status renders it: what its containers should
/// be (third-party images by the digests recorded with the release).
async fn rendered(engine: &StackEngineArgs, path: &Path) -> anyhow::Result<StackSpec> {
    let stack = stack_args(engine, path)?;
    let opened = stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let history = deploy::releases::history(aws, config).await?;
    let release = history.first().with_context(|| {
        format!(
            "no release of {} is recorded, so what its containers are made from is not known: deploy it first",
            config.stack
        )
    })?;
    let facts = deploy::facts::read(aws, config).await?;
    let bundle = deploy::ca_bundle(&opened, deploy::pinned(&history)).await?;
    let registry = deploy::registry_address(&facts)?;
    let mut spec = deploy::render(&stack, &opened, &facts, &registry, release, &bundle)?;
    let known = deploy::recorded_images(aws, config, &release.version).await?;
    crate::docker::pin::apply_known(&mut spec, &known);
    Ok(spec)
}

/// What to restart with, decided before the lock is taken.
#[derive(Debug)]
enum How {
    /// A new container from the spec, healthy before the old one stops.
    Rolling(Box<StackSpec>),
    /// `docker restart`, this long to stop.
    InPlace(Duration),
}

/// How `service` is restarted: rolling when the spec (or, without one, the container's name)
/// says it is and `--in-place` is not given.
async fn how(
    args: &Args,
    config: Option<&StackConfig>,
    spec: Option<StackSpec>,
    current: &ContainerSummary,
    stack: &str,
) -> anyhow::Result<How> {
    let service = args.service.as_str();
    let settings = spec.as_ref().and_then(|s| s.services.get(service));
    let stop = args.stop_timeout.unwrap_or_else(|| {
        settings.map_or(DEFAULT_STOP, |s| {
            Duration::from_secs(u64::from(s.stop_grace_seconds))
        })
    });
    let rolling = match settings {
        Some(settings) => settings.rolling,
        None => made_rolling(current, stack, service),
    };
    if args.in_place || !rolling || !is_running(current) {
        return Ok(How::InPlace(stop));
    }
    if let Some(spec) = spec {
        if !spec.services.contains_key(service) {
            bail!(
                "the stack spec has no service {service}, which the stack {stack} runs; give the spec the stack runs"
            );
        }
        return Ok(How::Rolling(Box::new(spec)));
    }
    match (config, args.engine.stack_file_path()) {
        (Some(_), Some(path)) => Ok(How::Rolling(Box::new(rendered(&args.engine, &path).await?))),
        _ => bail!(
            "{service} is replaced with no downtime (a rolling service), which takes the configuration it was \
             deployed with: run this with the stack file (--config), or give the stack spec it runs (--spec), \
             or restart it in place with --in-place (it stops serving for a few seconds)"
        ),
    }
}

/// Restarts `current` in place (starts it, when it is not running).
async fn in_place(
    docker: &Docker,
    stack: &str,
    service: &str,
    current: &ContainerSummary,
    stop: Duration,
) -> anyhow::Result<Restarted> {
    let id = current.id.clone().context("a container without an id")?;
    let seconds = i32::try_from(stop.as_secs()).unwrap_or(i32::MAX);
    docker
        .restart_container(
            &id,
            Some(RestartContainerOptionsBuilder::default().t(seconds).build()),
        )
        .await
        .with_context(|| format!("restarting {service}"))?;
    Ok(Restarted {
        stack: stack.to_owned(),
        service: service.to_owned(),
        how: if is_running(current) {
            "in-place"
        } else {
            "started"
        },
        container: name_of(current),
        replacement: None,
    })
}

/// Replaces `current` with a new container of `spec`'s `service`, as the reconciler does: the
/// new one healthy first, then the old one stopped with its grace period.
async fn rolling(
    docker: &Docker,
    spec: &StackSpec,
    service: &str,
    current: &ContainerSummary,
    health_timeout: Duration,
    lock: &Lock,
) -> anyhow::Result<Restarted> {
    let settings = spec
        .services
        .get(service)
        .with_context(|| format!("the stack spec has no service {service}"))?;
    let hash = settings.hash();
    if hash_of(current) != hash {
        bail!(
            "the running {service} container ({}) was not made from the configuration the stack spec gives it now \
             (the stack file, its template or a stack fact changed since it was deployed): restarting would roll that \
             change out; deploy it instead (ledgerctl deploy, or ledgerctl reconcile), or restart in place with --in-place",
            name_of(current)
        );
    }
    let old = current.id.clone().context("a container without an id")?;
    let suffix = deploy::now();
    let name = format!("{}-{service}-{}-r{suffix}", spec.stack, &hash[..12]);
    let id = reconcile::start(docker, spec, &name, service, settings).await?;
    if let Err(reason) = reconcile::wait_healthy(docker, &id, health_timeout).await {
        let logs = reconcile::last_logs(docker, &id, 50).await;
        reconcile::remove(docker, &id, 0).await.ok();
        bail!(
            "the new {service} container did not become healthy: {reason}; it was removed and the old one keeps serving. \
             Its last log lines:\n{}",
            logs.trim_end()
        );
    }
    lock.check()?;
    reconcile::remove(docker, &old, settings.stop_grace_seconds).await?;
    Ok(Restarted {
        stack: spec.stack.clone(),
        service: service.to_owned(),
        how: "rolling",
        container: name_of(current),
        replacement: Some(name),
    })
}

/// `service`'s container to restart: its only one. Two running at once are a replacement under
/// way, or one a killed run left: a deploy finishes it.
fn current<'a>(
    containers: &'a [ContainerSummary],
    stack: &str,
    service: &str,
) -> anyhow::Result<&'a ContainerSummary> {
    let found = service_containers(containers, stack, service)?;
    let running = found.iter().filter(|c| is_running(c)).count();
    if running > 1 {
        bail!(
            "{service} of the stack {stack} has {running} running containers: a replacement is under way, or was cut \
             short; let the deploy finish, or run ledgerctl deploy (ledgerctl reconcile) to finish it"
        );
    }
    found
        .first()
        .copied()
        .with_context(|| format!("the stack {stack} has no container of {service}"))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let config = args.engine.stack_file()?;
    if let Some(config) = &config
        && config.topology == Topology::Ecs
        && args.engine.docker_host.is_none()
        && !args.instance
    {
        if args.service != "api" {
            bail!(
                "with topology: ecs only the API runs as Fargate tasks (ledgerctl restart api); \
                 {} runs on the ops instance: ledgerctl restart {} --instance",
                args.service,
                args.service
            );
        }
        let aws = Aws::connect(&AwsOptions {
            region: config.region.clone(),
            profile: args.engine.profile.clone(),
            endpoint_url: args.engine.endpoint_url.clone(),
        })
        .await?;
        let revision = deploy::restart_ecs_api(&aws, config).await?;
        let mut out = std::io::stdout();
        match args.output {
            Output::Json => writeln!(
                out,
                "{:#}",
                serde_json::json!({ "stack": config.stack, "service": "api", "task_definition": revision, "how": "ecs" })
            )?,
            Output::Text => writeln!(
                out,
                "Restarted api on {}: new tasks of {revision} serve, the old ones stopped.",
                config.stack
            )?,
        }
        return Ok(());
    }
    let spec = args.spec.as_deref().map(StackSpec::load).transpose()?;
    let mut engine_args = args.engine.clone();
    if let Some(spec) = &spec {
        if let Some(stack) = &engine_args.stack
            && *stack != spec.stack
        {
            bail!(
                "--stack {stack} is not the stack the spec names, {}: give its stack, or no --stack",
                spec.stack
            );
        }
        engine_args.stack = Some(spec.stack.clone());
    }
    let (engine, stack) = engine_args.connect(config.as_ref()).await?;
    let docker = &engine.docker;
    let containers = reconcile::stack_containers(docker, &stack).await?;
    let before = current(&containers, &stack, &args.service)?;
    let how = how(&args, config.as_ref(), spec, before, &stack).await?;
    let image = before
        .image_id
        .clone()
        .or_else(|| before.image.clone())
        .context("the service's container names no image")?;
    let lock = Lock::take_with(docker, &stack, &image, args.lock_wait).await?;
    let result: anyhow::Result<Restarted> = async {
        // Read again under the lock: a deploy may have replaced it while we waited.
        let containers = reconcile::stack_containers(docker, &stack).await?;
        let container = current(&containers, &stack, &args.service)?;
        match &how {
            How::InPlace(stop) => in_place(docker, &stack, &args.service, container, *stop).await,
            How::Rolling(spec) => {
                let health = args.health_timeout.unwrap_or_else(|| {
                    config.as_ref().map_or(Duration::from_secs(120), |c| {
                        Duration::from_secs(u64::from(c.deploy.health_timeout_seconds))
                    })
                });
                rolling(docker, spec, &args.service, container, health, &lock).await
            }
        }
    }
    .await;
    lock.release(docker).await?;
    let restarted = result?;
    let mut out = std::io::stdout();
    match args.output {
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&restarted)?)?,
        Output::Text => writeln!(out, "{restarted}")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::ContainerSummary;

    use super::{HASH_LABEL, made_rolling};

    fn named(name: &str, hash: &str) -> ContainerSummary {
        ContainerSummary {
            names: Some(vec![format!("/{name}")]),
            labels: Some(HashMap::from([(HASH_LABEL.to_owned(), hash.to_owned())])),
            ..ContainerSummary::default()
        }
    }

    #[test]
    fn a_rolling_service_s_container_is_known_by_the_hash_in_its_name() {
        let hash = "0123456789abcdef0123";
        assert!(made_rolling(
            &named("demo-api-0123456789ab", hash),
            "demo",
            "api"
        ));
        assert!(
            made_rolling(
                &named("demo-api-0123456789ab-r1700000000", hash),
                "demo",
                "api"
            ),
            "restarted before"
        );
        assert!(!made_rolling(
            &named("demo-traefik", hash),
            "demo",
            "traefik"
        ));
        assert!(!made_rolling(
            &named("demo-api-ffffffffffff", hash),
            "demo",
            "api"
        ));
        assert!(!made_rolling(&named("demo-api", ""), "demo", "api"));
    }
}
