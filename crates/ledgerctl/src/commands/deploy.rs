//! `ledgerctl deploy`: builds the API and OCR images from the workspace (no base image pulled),
//! pushes them to the stack's ECR repositories (with a fresh authorization token), points the OCR
//! Lambda at the pushed digest and waits for the update, then reconciles the stack rendered from
//! the template on the instance's Docker engine over SSH: migrations first, the API replaced
//! with no downtime, unchanged services left alone. Each release is recorded (SSM
//! `/<stack>/releases`) so that `ledgerctl rollback [version]` can go back along the same path.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bollard::auth::DockerCredentials;
use serde::{Deserialize, Serialize};

use super::stack::{Opened, Output, StackArgs, Survey};
use crate::aws::{self, Aws};
use crate::docker::image::{self, Kind, OcrEngine};
use crate::docker::reconcile::{self, Action};
use crate::docker::registry::Registry;
use crate::docker::spec::StackSpec;
use crate::docker::template::{self, Database, Values};
use crate::docker::{Engine, Target};
use crate::stack::StackConfig;

/// Push images to this registry (`host:port`, plain HTTP on loopback) instead of the one ECR
/// names, and record their manifests in the ECR repositories through the API: for an AWS
/// emulator, whose ECR has no registry to push to.
pub(crate) const REGISTRY_OVERRIDE: &str = "LEDGERCTL_REGISTRY";

/// Where the stack runs: the instance's engine and how long to wait for it and its lock.
#[derive(Debug, clap::Args)]
pub(crate) struct RemoteArgs {
    /// The engine to deploy to, instead of ssh://<instance.ssh_user>@<Elastic IP>:<ssh_port>:
    /// `ssh://user@host[:port]`, `unix:///path/docker.sock` or `local`.
    #[arg(long)]
    pub(crate) docker_host: Option<String>,
    /// The SSH private key (default: your agent and ~/.ssh).
    #[arg(long)]
    pub(crate) ssh_key: Option<PathBuf>,
    /// A known_hosts file to check the host's key against, instead of the instance's keys as
    /// ledgerctl recorded them from its console output (`/<stack>/ssh-host-keys`).
    #[arg(long)]
    pub(crate) ssh_known_hosts: Option<PathBuf>,
    /// Reach the instance at this `ssh://user@host[:port]` instead of its Elastic IP (a port
    /// forward, a bastion); its recorded host keys still apply.
    #[arg(long)]
    pub(crate) ssh_host: Option<String>,
    /// How long to wait for the instance's engine to answer (a new instance installs Docker
    /// first).
    #[arg(long, default_value_t = 300)]
    pub(crate) wait_seconds: u64,
    /// How long to wait while another deploy holds the stack's lock.
    #[arg(long, default_value_t = 0)]
    pub(crate) lock_wait: u64,
}

/// Build, push and roll out the current workspace.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// The folder holding release builds of ledgerly-api and ledgerly-ocr. Default: build them
    /// now (`cargo build --release`) in the workspace this is run from.
    #[arg(long)]
    binaries: Option<PathBuf>,
}

/// Go back to an earlier release.
#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    /// The release to go back to (`--list` shows them). Default: the one before the current.
    version: Option<String>,
    /// List the recorded releases, newest first, and change nothing.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// One rolled-out release: the images by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Release {
    pub(crate) version: String,
    pub(crate) api: String,
    pub(crate) ocr: String,
    /// Unix seconds.
    pub(crate) at: u64,
    /// The SHA-256 of the RDS certificate bundle the release was deployed with: the pin the
    /// next deploy checks the fetched bundle against (unless the stack file gives one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ca_bundle_sha256: Option<String>,
}

/// What the stack has that a deploy needs.
pub(crate) struct Facts {
    /// The ECR repositories' URIs: API, OCR.
    repositories: [String; 2],
    pub(crate) address: String,
    /// The instance the Elastic IP is associated with.
    pub(crate) instance: Option<String>,
    /// The database's endpoint.
    database_host: String,
    database_port: u16,
    master_password: secrecy::SecretString,
    app_password: secrecy::SecretString,
    bucket: String,
    callback_secret: secrecy::SecretString,
    grafana_password: secrecy::SecretString,
    function: String,
    function_exists: bool,
}

fn missing(config: &StackConfig, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the stack {} has no {what} yet; run ledgerctl provision first",
        config.stack
    )
}

pub(crate) async fn facts(aws: &Aws, config: &StackConfig) -> anyhow::Result<Facts> {
    let names = aws::ecr::names(config);
    let database_id = aws::rds::identifier(config);
    let no_extra = Default::default();
    let password_name = aws::ssm::database_password(config).name;
    let app_password_name = aws::ssm::app_password(config).name;
    let secret_name = aws::ssm::callback_secret(config).name;
    let grafana_name = aws::ssm::grafana_password(config).name;
    let function_name = aws::lambda::name(config);
    let (api, ocr, address, database, password, app_password, secret, grafana, function, account) = tokio::join!(
        aws::ecr::repository_uri(aws, &names[0]),
        aws::ecr::repository_uri(aws, &names[1]),
        instance_endpoint(aws, config),
        aws::rds::observe(aws, &database_id, &no_extra),
        aws::ssm::value(aws, &password_name),
        aws::ssm::value(aws, &app_password_name),
        aws::ssm::value(aws, &secret_name),
        aws::ssm::value(aws, &grafana_name),
        aws::lambda::observe(aws, &function_name),
        aws.account_id(),
    );
    let (address, instance) = address?;
    let database = database?.ok_or_else(|| missing(config, "database"))?;
    let endpoint = database.endpoint.with_context(|| {
        format!(
            "the database {} has no endpoint yet (it is {}); deploy again when it is available",
            aws::rds::identifier(config),
            database.status
        )
    })?;
    let (host, port) = match endpoint.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
        None => (endpoint.clone(), 5432),
    };
    Ok(Facts {
        repositories: [api?, ocr?],
        address,
        instance,
        database_host: host,
        database_port: port,
        master_password: password?,
        app_password: app_password?,
        bucket: aws::s3::name(config, &account?),
        callback_secret: secret?,
        grafana_password: grafana?,
        function: function_name,
        function_exists: function?.is_some(),
    })
}

impl Facts {
    /// The database as the template sees it, verified against `bundle`.
    fn database(&self, bundle: &aws::rds_ca::Bundle) -> Database {
        let url = |user: &str, password: &secrecy::SecretString| -> secrecy::SecretString {
            format!(
                "postgres://{user}:{}@{}:{}/{}?sslmode=verify-full&sslrootcert={}",
                secrecy::ExposeSecret::expose_secret(password),
                self.database_host,
                self.database_port,
                aws::rds::DATABASE,
                aws::rds_ca::FILE
            )
            .into()
        };
        Database {
            url: url(aws::rds::APP_USER, &self.app_password),
            master_url: url(aws::rds::MASTER_USER, &self.master_password),
            host: self.database_host.clone(),
            port: self.database_port,
            name: aws::rds::DATABASE.to_owned(),
            user: aws::rds::APP_USER.to_owned(),
            master_user: aws::rds::MASTER_USER.to_owned(),
            ca_file: aws::rds_ca::FILE.to_owned(),
            ca_bundle: bundle.pem.clone(),
        }
    }
}

/// The RDS certificate bundle, fetched and checked against its pin: the stack file's, else
/// `pinned` (the one the current release was deployed with).
pub(crate) async fn ca_bundle(
    opened: &Opened,
    pinned: Option<&str>,
) -> anyhow::Result<aws::rds_ca::Bundle> {
    let config = &opened.config;
    let url = config.database.ca_bundle_url(&opened.aws.region);
    let bundle = aws::rds_ca::fetch(&url).await?;
    aws::rds_ca::check(
        &bundle,
        &url,
        config.database.ca_bundle_sha256.as_deref(),
        pinned,
    )?;
    Ok(bundle)
}

/// Where images go and come from: ECR's registry with a fresh token, or the override.
struct Pushing {
    registry: Registry,
    /// What the instance pulls with (`None`: the override, which needs none).
    pull_credentials: Option<DockerCredentials>,
    overridden: bool,
}

/// The registry the stack's images are referred to by (no token fetched).
pub(crate) fn registry_address(facts: &Facts) -> anyhow::Result<String> {
    if let Ok(address) = std::env::var(REGISTRY_OVERRIDE) {
        return Ok(address);
    }
    facts.repositories[0]
        .split_once('/')
        .map(|(host, _)| host.to_owned())
        .context("the ECR repository URI names no registry")
}

async fn pushing(aws: &Aws, facts: &Facts) -> anyhow::Result<Pushing> {
    if let Ok(address) = std::env::var(REGISTRY_OVERRIDE) {
        return Ok(Pushing {
            registry: Registry::plain(&address),
            pull_credentials: None,
            overridden: true,
        });
    }
    let credentials = aws::ecr::login(aws).await?;
    let address = registry_address(facts)?;
    Ok(Pushing {
        registry: Registry {
            address,
            credentials: Some(credentials.clone()),
        },
        pull_credentials: Some(credentials),
        overridden: false,
    })
}

/// One image of the release.
#[derive(Debug, Serialize)]
struct Image {
    image: &'static str,
    tag: String,
    digest: String,
    /// False: ECR already had this exact build under its tag.
    pushed: bool,
}

/// The manifest a plain registry serves for `repository@digest`, and its media type.
async fn manifest(
    registry: &str,
    repository: &str,
    digest: &str,
) -> anyhow::Result<(String, String)> {
    let url = format!("http://{registry}/v2/{repository}/manifests/{digest}");
    let response = reqwest::Client::new()
        .get(&url)
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .with_context(|| format!("reading the manifest {url}"))?;
    if !response.status().is_success() {
        bail!("reading the manifest {url}: {}", response.status());
    }
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/vnd.docker.distribution.manifest.v2+json")
        .to_owned();
    Ok((response.text().await?, media_type))
}

/// Builds and pushes each image unless ECR already has that exact build.
async fn images(
    aws: &Aws,
    config: &StackConfig,
    pushing: &Pushing,
    binaries: &Path,
    root: &Path,
) -> anyhow::Result<[Image; 2]> {
    let kinds = [
        Kind::Api,
        Kind::Ocr {
            engine: OcrEngine::for_backend(&config.ocr.backend),
        },
    ];
    for kind in kinds {
        image::binary(kind, binaries)?;
    }
    if kinds.contains(&Kind::Ocr {
        engine: OcrEngine::Paddle,
    }) {
        super::models::ensure(&image::local_models_dir()).await?;
    }
    let names = aws::ecr::names(config);
    let mut local = None;
    let mut out = Vec::new();
    for (kind, repository) in kinds.into_iter().zip(names) {
        let context = image::context(kind, binaries)?;
        let tag = release_tag(
            &image::version_tag(root, &context.content_hash),
            &context.content_hash,
        );
        if let Some(digest) = aws::ecr::tagged_digest(aws, &repository, &tag).await? {
            out.push(Image {
                image: kind.name(),
                tag,
                digest,
                pushed: false,
            });
            continue;
        }
        let engine = match &local {
            Some(engine) => engine,
            None => local.insert(Engine::connect(&Target::Local, Duration::from_secs(30)).await?),
        };
        let reference = format!("{repository}:{tag}");
        image::build(&engine.docker, kind, context, &reference, &config.stack).await?;
        let pushed = pushing
            .registry
            .push(&engine.docker, &reference, &repository, &tag)
            .await?;
        let digest = pushed
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .context("the push gave no digest")?;
        if pushing.overridden {
            let (manifest, media_type) =
                manifest(&pushing.registry.address, &repository, &digest).await?;
            aws::ecr::record_manifest(aws, &repository, &tag, &digest, &manifest, &media_type)
                .await?;
        }
        out.push(Image {
            image: kind.name(),
            tag,
            digest,
            pushed: true,
        });
    }
    let [api, ocr]: [Image; 2] = out
        .try_into()
        .map_err(|_| anyhow::anyhow!("two images were expected"))?;
    Ok([api, ocr])
}

/// The tag a release's image gets: the commit and what was built from it, so that one tag is
/// one build (ECR's tags are immutable) and a build ECR already has is not pushed again.
fn release_tag(version: &str, content_hash: &str) -> String {
    let short = &content_hash[..12];
    if version.ends_with(short) {
        version.to_owned()
    } else {
        format!("{version}-{short}")
    }
}

/// What happened to the OCR function.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum FunctionChange {
    Updated,
    Unchanged,
    Created,
}

/// Points the OCR function at `image`, creating it (with its permission and the bucket's
/// notification) if this is the first image it can run.
async fn update_function(
    opened: &Opened,
    facts: &Facts,
    image: &str,
) -> anyhow::Result<FunctionChange> {
    let (config, aws) = (&opened.config, &opened.aws);
    if facts.function_exists {
        return Ok(
            if aws::lambda::update_image(aws, &facts.function, image).await? {
                FunctionChange::Updated
            } else {
                FunctionChange::Unchanged
            },
        );
    }
    // The function waited for its first image: provision's own path creates it, when nothing
    // else of the stack is pending (a deploy does not fix drift behind the operator's back).
    let survey = Survey::take(aws, config, opened.public_key.clone()).await?;
    let lambda_kinds = [
        aws::lambda::FUNCTION,
        aws::lambda::PERMISSION,
        aws::lambda::NOTIFICATION,
    ];
    let others: Vec<String> = survey
        .changes()
        .iter()
        .filter(|c| c.is_change() && !lambda_kinds.contains(&c.kind))
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        bail!(
            "the OCR function does not exist yet, and the stack has other pending changes:\n  {}\n\
             run ledgerctl provision (it creates the function from the image just pushed), then deploy again",
            others.join("\n  ")
        );
    }
    survey.apply(aws, &|_| {}).await?;
    // Created from the newest image in the repository: make sure it is this one.
    aws::lambda::update_image(aws, &facts.function, image).await?;
    Ok(FunctionChange::Created)
}

pub(crate) async fn releases(aws: &Aws, config: &StackConfig) -> anyhow::Result<Vec<Release>> {
    let name = aws::ssm::releases(config);
    match aws::ssm::read(aws, &name).await? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .with_context(|| format!("the release history {name} is not what ledgerctl wrote")),
    }
}

/// The bundle hash the current release was deployed with.
pub(crate) fn pinned(history: &[Release]) -> Option<&str> {
    history.first()?.ca_bundle_sha256.as_deref()
}

/// Puts `release` first in the history (unless it is already the current one, whose bundle
/// hash it then brings up to date).
async fn record(aws: &Aws, config: &StackConfig, release: &Release) -> anyhow::Result<()> {
    let history = releases(aws, config).await?;
    let Some(history) = with_release(history, release, config.deploy.keep_releases as usize) else {
        return Ok(());
    };
    aws::ssm::write(
        aws,
        config,
        &aws::ssm::releases(config),
        &serde_json::to_string(&history)?,
        "Ledgerly: the releases ledgerctl deployed, newest first (for rollback)",
    )
    .await
}

/// `history` with `release` first and at most `keep` entries; `None` when nothing changes. Only
/// the newest keeps its bundle hash (the pin is read from it alone), which keeps the history
/// within an SSM parameter's 4 KB at the most releases the stack file allows.
fn with_release(mut history: Vec<Release>, release: &Release, keep: usize) -> Option<Vec<Release>> {
    match history.first_mut() {
        Some(current) if current.api == release.api && current.ocr == release.ocr => {
            if current.ca_bundle_sha256 == release.ca_bundle_sha256 {
                return None;
            }
            current.ca_bundle_sha256 = release.ca_bundle_sha256.clone();
        }
        _ => history.insert(0, release.clone()),
    }
    history.truncate(keep);
    for older in history.iter_mut().skip(1) {
        older.ca_bundle_sha256 = None;
    }
    Some(history)
}

/// Unix seconds.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The stack template's text and where it came from.
fn template_text(stack: &StackArgs, config: &StackConfig) -> anyhow::Result<(String, String)> {
    match &config.deploy.template {
        None => Ok((
            template::BUILT_IN.to_owned(),
            "templates/stack.yaml".to_owned(),
        )),
        Some(path) => {
            let path = stack
                .config
                .parent()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|| path.clone());
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("deploy.template: cannot read {}", path.display()))?;
            Ok((text, path.display().to_string()))
        }
    }
}

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

/// How to reach the instance over SSH.
#[derive(Debug, Clone, Default)]
pub(crate) struct SshOptions {
    /// `ssh://user@host[:port]` instead of the Elastic IP.
    pub(crate) host: Option<String>,
    pub(crate) key: Option<PathBuf>,
    /// Instead of the instance's recorded host keys.
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
    let (user, host, port) = match &ssh.host {
        Some(text) => match Target::parse(text, None, None)? {
            Target::Ssh {
                user, host, port, ..
            } => (user, host, port),
            _ => bail!("--ssh-host {text}: give ssh://user@host[:port]"),
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
        user,
        host,
        port,
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

/// The stack `release` renders to.
pub(crate) fn render(
    stack: &StackArgs,
    opened: &Opened,
    facts: &Facts,
    registry: &str,
    release: &Release,
    bundle: &aws::rds_ca::Bundle,
) -> anyhow::Result<StackSpec> {
    let config = &opened.config;
    let names = aws::ecr::names(config);
    let values = Values {
        stack: config.stack.clone(),
        domain: config.domain.clone(),
        acme_email: config.acme_email.clone(),
        region: opened.aws.region.clone(),
        version: release.version.clone(),
        images: [
            (
                "api".to_owned(),
                format!("{registry}/{}@{}", names[0], release.api),
            ),
            (
                "ocr".to_owned(),
                format!("{registry}/{}@{}", names[1], release.ocr),
            ),
        ]
        .into(),
        database: facts.database(bundle),
        bucket: facts.bucket.clone(),
        public_api_docs: config.deploy.public_api_docs,
        secrets: [
            ("ocr_callback".to_owned(), facts.callback_secret.clone()),
            ("grafana_admin".to_owned(), facts.grafana_password.clone()),
            ("database_app".to_owned(), facts.app_password.clone()),
        ]
        .into(),
        monitoring: template::monitoring(),
        network: template::NETWORK,
    };
    let (text, origin) = template_text(stack, config)?;
    template::render(&text, &origin, &values)
}

/// The engine the stack runs on: `--docker-host`, else the instance over SSH.
pub(crate) async fn remote_target(
    aws: &Aws,
    remote: &RemoteArgs,
    config: &StackConfig,
    facts: &Facts,
) -> anyhow::Result<Target> {
    match &remote.docker_host {
        Some(host) => Target::parse(host, remote.ssh_key.clone(), remote.ssh_known_hosts.clone()),
        None => {
            instance_target(
                aws,
                config,
                (&facts.address, facts.instance.as_deref()),
                &SshOptions {
                    host: remote.ssh_host.clone(),
                    key: remote.ssh_key.clone(),
                    known_hosts: remote.ssh_known_hosts.clone(),
                },
            )
            .await
        }
    }
}

/// What a release is held to besides its own images: the RDS certificate bundle, and the
/// third-party images' digests known for their tags.
#[derive(Clone, Copy)]
struct Pins<'a> {
    bundle: &'a aws::rds_ca::Bundle,
    images: &'a BTreeMap<String, String>,
}

/// Renders the stack for `release` and reconciles it on the instance.
async fn roll_out(
    stack: &StackArgs,
    remote: &RemoteArgs,
    opened: &Opened,
    facts: &Facts,
    pushing: &Pushing,
    release: &Release,
    pins: Pins<'_>,
) -> anyhow::Result<(Vec<Action>, BTreeMap<String, String>)> {
    let config = &opened.config;
    let mut spec = render(
        stack,
        opened,
        facts,
        &pushing.registry.address,
        release,
        pins.bundle,
    )?;
    let pinned = crate::docker::pin::pin(&mut spec, pins.images).await?;
    let target = remote_target(&opened.aws, remote, config, facts).await?;
    let engine = Engine::connect(&target, Duration::from_secs(remote.wait_seconds)).await?;
    let actions = reconcile::deploy(
        &engine.docker,
        &spec,
        pushing.pull_credentials.as_ref(),
        Duration::from_secs(remote.lock_wait),
        Duration::from_secs(u64::from(config.deploy.health_timeout_seconds)),
    )
    .await?;
    Ok((actions, pinned))
}

/// The third-party image digests of the recorded releases: one SSM parameter,
/// `/<stack>/images`, each distinct set of digests once and the releases pointing at theirs (a
/// set changes only when the template's tags do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ImageRecord {
    sets: Vec<BTreeMap<String, String>>,
    releases: BTreeMap<String, usize>,
}

/// Within an SSM parameter's 4 KB.
const IMAGE_RECORD_MAX: usize = 4000;

impl ImageRecord {
    /// With `version` running `pinned`, for the releases in `history` (newest first) only; the
    /// oldest releases' digests give way if they would not fit.
    fn with(
        mut self,
        version: &str,
        pinned: &BTreeMap<String, String>,
        history: &[String],
    ) -> Self {
        let index = match self.sets.iter().position(|set| set == pinned) {
            Some(index) => index,
            None => {
                self.sets.push(pinned.clone());
                self.sets.len() - 1
            }
        };
        self.releases.insert(version.to_owned(), index);
        let mut keep: Vec<String> = history.to_vec();
        if !keep.iter().any(|v| v == version) {
            keep.insert(0, version.to_owned());
        }
        loop {
            self.releases.retain(|v, _| keep.contains(v));
            // Only the sets still pointed at, renumbered.
            let mut used: Vec<usize> = self.releases.values().copied().collect();
            used.sort_unstable();
            used.dedup();
            self.sets = used.iter().map(|&i| self.sets[i].clone()).collect();
            for index in self.releases.values_mut() {
                *index = used.iter().position(|&u| u == *index).unwrap_or_default();
            }
            let fits = serde_json::to_string(&self).is_ok_and(|t| t.len() <= IMAGE_RECORD_MAX);
            if fits || keep.len() <= 1 {
                return self;
            }
            keep.pop();
        }
    }
}

async fn image_record(aws: &Aws, config: &StackConfig) -> anyhow::Result<ImageRecord> {
    let name = aws::ssm::images(config);
    match aws::ssm::read(aws, &name).await? {
        None => Ok(ImageRecord::default()),
        Some(text) => serde_json::from_str(&text)
            .with_context(|| format!("{name} is not what ledgerctl wrote")),
    }
}

/// The third-party image digests release `version` ran, by tag reference (empty for a release
/// recorded before deploy pinned them, or whose digests gave way to newer ones).
pub(crate) async fn recorded_images(
    aws: &Aws,
    config: &StackConfig,
    version: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let record = image_record(aws, config).await?;
    Ok(record
        .releases
        .get(version)
        .and_then(|&i| record.sets.get(i).cloned())
        .unwrap_or_default())
}

/// Records the digests release `version` runs beside those of the releases in the history.
async fn record_images(
    aws: &Aws,
    config: &StackConfig,
    version: &str,
    pinned: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let history: Vec<String> = releases(aws, config)
        .await?
        .into_iter()
        .map(|r| r.version)
        .collect();
    let before = image_record(aws, config).await?;
    let after = before.clone().with(version, pinned, &history);
    if after == before {
        return Ok(());
    }
    aws::ssm::write(
        aws,
        config,
        &aws::ssm::images(config),
        &serde_json::to_string(&after)?,
        "Ledgerly: the third-party images the recorded releases ran, by digest",
    )
    .await
}

fn report(
    output: Output,
    stack: &str,
    release: &Release,
    images: &[Image],
    function: &FunctionChange,
    actions: &[Action],
    verb: &str,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    match output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "release": release,
                "images": images,
                "function": function,
                "actions": actions,
                "changed": !actions.is_empty() || !matches!(function, FunctionChange::Unchanged),
            })
        )?,
        Output::Text => {
            for image in images {
                writeln!(
                    out,
                    "{} image {} ({}): {}",
                    image.image,
                    image.tag,
                    &image.digest,
                    if image.pushed {
                        "built and pushed"
                    } else {
                        "already in ECR"
                    }
                )?;
            }
            let function = match function {
                FunctionChange::Updated => "now runs this release's OCR image",
                FunctionChange::Unchanged => "already runs this release's OCR image",
                FunctionChange::Created => "created from this release's OCR image",
            };
            writeln!(out, "OCR function: {function}")?;
            for action in actions {
                writeln!(out, "{action}")?;
            }
            if actions.is_empty() {
                writeln!(out, "Stack {stack} at {}: no changes.", release.version)?;
            } else {
                writeln!(
                    out,
                    "{verb} {} to {stack}: {} changed.",
                    release.version,
                    actions.len()
                )?;
            }
        }
    }
    Ok(())
}

/// What deploy and rollback share once the release is known: the Lambda pointed at its OCR
/// image, the stack rolled out on the instance, the release recorded, the report printed.
#[allow(clippy::too_many_arguments)]
async fn release_to(
    stack: &StackArgs,
    remote: &RemoteArgs,
    opened: &Opened,
    facts: &Facts,
    pushing: &Pushing,
    release: &Release,
    pins: Pins<'_>,
    images: &[Image],
    verb: &str,
) -> anyhow::Result<()> {
    let function = update_function(
        opened,
        facts,
        &format!("{}@{}", facts.repositories[1], release.ocr),
    )
    .await?;
    let (actions, pinned) = roll_out(stack, remote, opened, facts, pushing, release, pins).await?;
    record(&opened.aws, &opened.config, release).await?;
    record_images(&opened.aws, &opened.config, &release.version, &pinned).await?;
    report(
        stack.output,
        &opened.config.stack,
        release,
        images,
        &function,
        &actions,
        verb,
    )
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let (root, binaries) = match &args.binaries {
        Some(folder) => (std::env::current_dir()?, folder.clone()),
        None => {
            let root = super::build::workspace_root()?;
            let binaries = super::build::build_binaries(&root)?;
            (root, binaries)
        }
    };
    let facts = facts(aws, config).await?;
    let history = releases(aws, config).await?;
    let bundle = ca_bundle(&opened, pinned(&history)).await?;
    // The third-party images the current release runs stay as they are for the same tags.
    let known = match history.first() {
        Some(current) => recorded_images(aws, config, &current.version).await?,
        None => BTreeMap::new(),
    };
    let pushing = pushing(aws, &facts).await?;
    let [api, ocr] = images(aws, config, &pushing, &binaries, &root).await?;
    let release = Release {
        version: api.tag.clone(),
        api: api.digest.clone(),
        ocr: ocr.digest.clone(),
        at: now(),
        ca_bundle_sha256: Some(bundle.sha256.clone()),
    };
    release_to(
        &args.stack,
        &args.remote,
        &opened,
        &facts,
        &pushing,
        &release,
        Pins {
            bundle: &bundle,
            images: &known,
        },
        &[api, ocr],
        "Deployed",
    )
    .await
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let history = releases(aws, config).await?;
    if args.list {
        let mut out = std::io::stdout();
        match args.stack.output {
            Output::Json => writeln!(out, "{:#}", serde_json::json!({ "releases": history }))?,
            Output::Text => {
                if history.is_empty() {
                    writeln!(out, "No releases recorded for {} yet.", config.stack)?;
                }
                for (i, release) in history.iter().enumerate() {
                    writeln!(
                        out,
                        "{}{}  api {}  ocr {}  at {}",
                        if i == 0 { "* " } else { "  " },
                        release.version,
                        release.api,
                        release.ocr,
                        release.at
                    )?;
                }
            }
        }
        return Ok(());
    }
    let target = match &args.version {
        Some(version) => history
            .iter()
            .find(|r| &r.version == version)
            .cloned()
            .with_context(|| {
                format!(
                    "no release {version} in the last {} of {}; see ledgerctl rollback --list",
                    history.len(),
                    config.stack
                )
            })?,
        None => history.get(1).cloned().with_context(|| {
            format!(
                "{} has {} recorded release(s): there is none before the current one to go back to",
                config.stack,
                history.len()
            )
        })?,
    };
    let facts = facts(aws, config).await?;
    let bundle = ca_bundle(&opened, pinned(&history)).await?;
    // Exactly the third-party images the release ran.
    let known = recorded_images(aws, config, &target.version).await?;
    let pushing = pushing(aws, &facts).await?;
    let release = Release {
        at: now(),
        ca_bundle_sha256: Some(bundle.sha256.clone()),
        ..target
    };
    release_to(
        &args.stack,
        &args.remote,
        &opened,
        &facts,
        &pushing,
        &release,
        Pins {
            bundle: &bundle,
            images: &known,
        },
        &[],
        "Rolled back",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_keeps_the_newest_pin_and_fits_an_ssm_parameter() {
        let release = |n: u64, pin: char| Release {
            version: format!("abc123def456-dirty-{n:012}"),
            api: format!("sha256:{:064x}", n),
            ocr: format!("sha256:{:064x}", n + 1000),
            at: 1_796_431_811 + n,
            ca_bundle_sha256: Some(pin.to_string().repeat(64)),
        };
        let mut history = Vec::new();
        for n in 0..40 {
            history = with_release(history, &release(n, 'a'), 15).unwrap();
        }
        assert_eq!(history.len(), 15);
        assert_eq!(history[0].version, release(39, 'a').version);
        assert_eq!(history[0].ca_bundle_sha256, Some("a".repeat(64)));
        assert!(history[1..].iter().all(|r| r.ca_bundle_sha256.is_none()));
        let text = serde_json::to_string(&history).unwrap();
        assert!(text.len() <= 4096, "{} bytes", text.len());

        // The same images again: nothing to write; with a newly accepted bundle, the pin moves.
        assert!(with_release(history.clone(), &release(39, 'a'), 15).is_none());
        let moved = with_release(history, &release(39, 'b'), 15).unwrap();
        assert_eq!(moved.len(), 15);
        assert_eq!(moved[0].ca_bundle_sha256, Some("b".repeat(64)));
    }

    #[test]
    fn image_digests_are_kept_once_per_set_for_the_releases_in_the_history() {
        let set = |n: u8| -> BTreeMap<String, String> {
            [
                "traefik:v3.3",
                "prom/prometheus:v2.55.1",
                "grafana/grafana:11.3.1",
                "gcr.io/cadvisor/cadvisor:v0.49.1",
                "busybox:1.37",
                "allinurl/goaccess:1.9.3",
                "prom/node-exporter:v1.8.2",
            ]
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    format!("sha256:{}", format!("{n:02x}").repeat(32)),
                )
            })
            .collect()
        };
        // Fifteen releases on one set of images: one set kept.
        let mut record = ImageRecord::default();
        let mut history: Vec<String> = Vec::new();
        for n in 0..15 {
            let version = format!("v{n}");
            history.insert(0, version.clone());
            record = record.with(&version, &set(1), &history);
        }
        assert_eq!(record.sets.len(), 1);
        assert_eq!(record.releases.len(), 15);
        // A release that fell off the history takes its entry along.
        history.pop();
        record = record.with("v15", &set(2), &{
            history.insert(0, "v15".to_owned());
            history.clone()
        });
        assert_eq!(record.sets.len(), 2);
        assert!(!record.releases.contains_key("v0"));
        assert_eq!(record.sets[record.releases["v15"]], set(2));
        assert_eq!(record.sets[record.releases["v14"]], set(1));
        // Many distinct sets: the oldest give way, the newest never, and it fits SSM's 4 KB.
        for n in 16..40u8 {
            let version = format!("v{n}");
            history.insert(0, version.clone());
            history.truncate(15);
            record = record.with(&version, &set(n), &history);
        }
        assert!(serde_json::to_string(&record).unwrap().len() <= IMAGE_RECORD_MAX);
        assert_eq!(record.sets[record.releases["v39"]], set(39));
        assert!(record.releases.len() >= 3, "{:?}", record.releases);
        assert!(record.releases.keys().all(|v| history.contains(v)));
    }

    #[test]
    fn a_release_tag_names_the_commit_and_the_build() {
        let hash = "0123456789abcdef".repeat(4);
        assert_eq!(
            release_tag("abc123def456", &hash),
            "abc123def456-0123456789ab"
        );
        // A dirty tree's version already carries the build's hash.
        assert_eq!(
            release_tag("abc123def456-dirty-0123456789ab", &hash),
            "abc123def456-dirty-0123456789ab"
        );
    }
}
