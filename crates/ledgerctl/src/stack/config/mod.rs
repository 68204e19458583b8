//! The stack's configuration: one YAML file (`config/ledgerly.example.yaml` documents every key).
//! [`StackConfig::load`] reads and checks it completely before anything talks to AWS; every
//! problem is reported at once, each naming its field and the fix.
//!
//! Over 500 lines: the stack file's schema and its checks in one place; 150 lines are tests. The
//! ECS topology's section is in `ecs`.

mod ecs;

pub(crate) use ecs::{EcsConfig, Topology};

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StackConfig {
    /// Prefixes every resource name and is the value of the `ledgerly:stack` tag.
    pub(crate) stack: String,
    pub(crate) region: String,
    pub(crate) domain: String,
    pub(crate) acme_email: String,
    /// The only address ranges SSH is open to: one CIDR block or a list (IPv4 and IPv6).
    #[serde(deserialize_with = "one_or_many")]
    pub(crate) admin_cidr: Vec<String>,
    /// Where the API runs: `instance` (the default) or `ecs`.
    #[serde(default)]
    pub(crate) topology: Topology,
    /// The ECS topology's settings: `Some` exactly when `topology` is `ecs` (its defaults when
    /// the section is left out).
    #[serde(default)]
    pub(crate) ecs: Option<EcsConfig>,
    /// The Route 53 hosted zone holding `domain` (the instance topology): provision keeps the
    /// domain's `A` record to the Elastic IP there. With `topology: ecs` it is `ecs.dns`.
    #[serde(default)]
    pub(crate) dns: ecs::DnsConfig,
    #[serde(default)]
    pub(crate) instance: InstanceConfig,
    #[serde(default)]
    pub(crate) database: DatabaseConfig,
    #[serde(default)]
    pub(crate) lambda: LambdaConfig,
    #[serde(default)]
    pub(crate) ecr: EcrConfig,
    #[serde(default)]
    pub(crate) receipts: ReceiptsConfig,
    #[serde(default)]
    pub(crate) ocr: OcrConfig,
    #[serde(default)]
    pub(crate) deploy: DeployConfig,
    /// Deploying from GitHub Actions with OIDC (opt-in): the provider and the deploy role.
    #[serde(default)]
    pub(crate) github: Option<GithubConfig>,
    /// Extra tags on every resource.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct InstanceConfig {
    #[serde(rename = "type")]
    pub(crate) instance_type: String,
    pub(crate) key_pair: KeyPairConfig,
    /// An explicit AMI id; without one, `ami_parameter` is looked up.
    pub(crate) ami: Option<String>,
    pub(crate) ami_parameter: String,
    pub(crate) root_volume_gb: u32,
    pub(crate) ssh_user: String,
    /// The port sshd listens on.
    pub(crate) ssh_port: u16,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        Self {
            instance_type: "t3.small".into(),
            key_pair: KeyPairConfig::default(),
            ami: None,
            ami_parameter:
                "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
                    .into(),
            root_volume_gb: 20,
            ssh_user: "ubuntu".into(),
            ssh_port: 22,
        }
    }
}

/// Either a public key to import (as `<stack>-deploy`) or the name of an existing key pair.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyPairConfig {
    pub(crate) public_key_file: Option<PathBuf>,
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DatabaseConfig {
    pub(crate) instance_class: String,
    pub(crate) storage_gb: u32,
    pub(crate) engine_version: String,
    pub(crate) backup_retention_days: u32,
    pub(crate) deletion_protection: bool,
    /// Where deploy fetches the RDS certificate authorities the API verifies the database
    /// against; default: the bundle AWS publishes for the region's partition.
    pub(crate) ca_bundle_url: Option<String>,
    /// The bundle's SHA-256 (hex): deploy refuses any other. Default: the hash the stack's last
    /// release was deployed with.
    pub(crate) ca_bundle_sha256: Option<String>,
}

impl DatabaseConfig {
    /// The RDS certificate bundle's address for a stack in `region`.
    pub(crate) fn ca_bundle_url(&self, region: &str) -> String {
        self.ca_bundle_url
            .clone()
            .unwrap_or_else(|| crate::aws::rds_ca::default_url(region).to_owned())
    }
}

/// An address deploy may fetch a file from: HTTPS, or plain HTTP on this machine's loopback
/// (a local mirror).
fn is_fetchable(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            instance_class: "db.t4g.micro".into(),
            storage_gb: 20,
            engine_version: "16".into(),
            backup_retention_days: 7,
            deletion_protection: true,
            ca_bundle_url: None,
            ca_bundle_sha256: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LambdaConfig {
    pub(crate) memory_mb: u32,
    pub(crate) timeout_seconds: u32,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        Self {
            memory_mb: 1769,
            timeout_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EcrConfig {
    /// Images kept per repository; older ones expire.
    pub(crate) keep_images: u32,
}

impl Default for EcrConfig {
    fn default() -> Self {
        Self { keep_images: 20 }
    }
}

/// The receipts bucket keeps every object's earlier versions (an overwritten or deleted receipt)
/// this many days, then lets them go: a mistake can be undone, and what a user deleted is gone
/// for good after it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ReceiptsConfig {
    pub(crate) keep_deleted_days: u32,
}

impl Default for ReceiptsConfig {
    fn default() -> Self {
        Self {
            keep_deleted_days: 30,
        }
    }
}

/// The repository whose release workflow may deploy, and the GitHub environment its deploy job
/// runs in (the OIDC token's subject is `repo:<repository>:environment:<environment>`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GithubConfig {
    pub(crate) repository: String,
    #[serde(default = "default_environment")]
    pub(crate) environment: String,
    /// The only branch a deploy may come from (a push, or a manual run started on it).
    #[serde(default = "default_branch")]
    pub(crate) branch: String,
    /// The workflow file that deploys, in the repository.
    #[serde(default = "default_workflow")]
    pub(crate) workflow: String,
}

fn default_environment() -> String {
    "production".into()
}

fn default_branch() -> String {
    "main".into()
}

fn default_workflow() -> String {
    ".github/workflows/release.yml".into()
}

/// How `ledgerctl deploy` runs the stack on the instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DeployConfig {
    /// The stack template (relative to this file's folder); default: the one built in
    /// (templates/stack.yaml).
    pub(crate) template: Option<PathBuf>,
    /// How long a new container has to turn healthy before the deploy gives up on it.
    pub(crate) health_timeout_seconds: u32,
    /// How many releases `ledgerctl rollback` can go back through.
    pub(crate) keep_releases: u32,
    /// Serve the API's documentation (`/api/docs`, `/api/v1/openapi.json`) publicly; by default
    /// it is reachable on the instance only (`ledgerctl tunnel`).
    pub(crate) public_api_docs: bool,
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            template: None,
            health_timeout_seconds: 120,
            keep_releases: 10,
            public_api_docs: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct OcrConfig {
    /// `paddle` (offline, the default), `tesseract` (offline), `gemini` or `openai`.
    pub(crate) backend: String,
    /// The SSM SecureString holding the backend's API key (gemini, openai).
    pub(crate) api_key_parameter: Option<String>,
    /// The SSM SecureString holding the OCR callback secret; default `/<stack>/ocr-callback-secret`.
    pub(crate) callback_secret_parameter: Option<String>,
}

impl Default for OcrConfig {
    fn default() -> Self {
        Self {
            backend: "paddle".into(),
            api_key_parameter: None,
            callback_secret_parameter: None,
        }
    }
}

/// Everything wrong with a configuration, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{origin} is not a valid stack configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub(crate) struct ConfigError {
    pub(crate) origin: String,
    pub(crate) problems: Vec<String>,
}

fn is_name(text: &str) -> bool {
    (3..=24).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && !text.ends_with('-')
        && !text.contains("--")
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn is_hostname(text: &str) -> bool {
    text.len() <= 253
        && text.contains('.')
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

/// A CIDR block written without host bits set.
pub(crate) fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let Some((address, prefix)) = text.split_once('/') else {
        return Err(format!(
            "`{text}` is not a CIDR block; write it as 203.0.113.7/32"
        ));
    };
    let parsed: IpAddr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an IP address"))?;
    let bits = if parsed.is_ipv4() { 32 } else { 128 };
    let net: IpNet = text
        .parse()
        .map_err(|_| format!("`/{prefix}` is not a prefix length of an address (/0 to /{bits})"))?;
    if net.trunc() != net {
        return Err(format!(
            "`{text}` has host bits set; for one address write {parsed}/{bits}"
        ));
    }
    Ok(net)
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a CIDR block or a list of them, e.g. 203.0.113.7/32 or [203.0.113.7/32, 2001:db8:1::/48]")
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(vec![value.to_owned()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                all.push(item);
            }
            Ok(all)
        }
    }
    deserializer.deserialize_any(Visitor)
}

impl StackConfig {
    /// Reads and checks `path`.
    pub(crate) fn load(path: &Path) -> Result<StackConfig, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            problems: vec![format!("cannot read it: {e}")],
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses and checks YAML `text` (from `origin`, for messages).
    pub(crate) fn parse(text: &str, origin: &str) -> Result<StackConfig, ConfigError> {
        let mut config: StackConfig = yaml_serde::from_str(text).map_err(|e| ConfigError {
            origin: origin.to_owned(),
            problems: vec![e.to_string()],
        })?;
        let mut problems = config.problems();
        match (config.topology, &config.ecs) {
            (Topology::Ecs, None) => config.ecs = Some(EcsConfig::default()),
            (Topology::Instance, Some(_)) => problems.push(
                "ecs: the section is only read with `topology: ecs`; add that line or remove the section".into(),
            ),
            _ => {}
        }
        if config.topology == Topology::Ecs && config.dns.hosted_zone_id.is_some() {
            problems.push(
                "dns.hosted_zone_id: with `topology: ecs` the hosted zone goes under ecs.dns.hosted_zone_id (the record is an alias to the load balancer)".into(),
            );
        }
        if let Some(zone) = &config.dns.hosted_zone_id
            && !ecs::is_zone_id(zone)
        {
            problems.push(format!(
                "dns.hosted_zone_id: `{zone}` is not a Route 53 hosted zone id; e.g. Z0123456789ABCDEFGHIJ"
            ));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    /// Every problem with the values, each naming its field and the fix.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        check(
            is_name(&self.stack),
            format!(
                "stack: `{}` must be 3 to 24 lowercase letters, digits and single hyphens, starting with a letter (it prefixes every resource name), e.g. ledgerly-prod",
                self.stack
            ),
        );
        check(
            is_region(&self.region),
            format!(
                "region: `{}` is not an AWS region; e.g. ap-south-1",
                self.region
            ),
        );
        check(
            is_hostname(&self.domain),
            format!(
                "domain: `{}` is not a domain name; give the one DNS will point at the instance, e.g. ledgerly.example.com",
                self.domain
            ),
        );
        check(
            self.acme_email.contains('@') && !self.acme_email.contains(char::is_whitespace),
            format!(
                "acme_email: `{}` is not an email address; Let's Encrypt writes to it about the certificate",
                self.acme_email
            ),
        );
        if self.admin_cidr.is_empty() {
            problems.push(
                "admin_cidr: give at least one address range SSH is open to, e.g. 203.0.113.7/32"
                    .into(),
            );
        }
        for cidr in &self.admin_cidr {
            match parse_cidr(cidr) {
                Ok(net) if net.prefix_len() == 0 => problems.push(format!(
                    "admin_cidr: {cidr} opens SSH to the world; give your own address, e.g. 203.0.113.7/32"
                )),
                Ok(IpNet::V4(net)) if net.prefix_len() < 16 => problems.push(format!(
                    "admin_cidr: {cidr} opens SSH to {} addresses; give your own address or office range (/16 at the widest), e.g. 203.0.113.7/32",
                    1u64 << (32 - u32::from(net.prefix_len()))
                )),
                Ok(IpNet::V6(net)) if net.prefix_len() < 48 => problems.push(format!(
                    "admin_cidr: {cidr} opens SSH to 2^{} addresses, more than a site's /48; give your own network, e.g. 2001:db8:1::/48 or one address /128",
                    128 - u32::from(net.prefix_len())
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("admin_cidr: {e}")),
            }
        }
        let instance = &self.instance;
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        check(
            instance
                .instance_type
                .split_once('.')
                .is_some_and(|(family, size)| {
                    !family.is_empty()
                        && !size.is_empty()
                        && instance.instance_type.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'
                        })
                }),
            format!(
                "instance.type: `{}` is not an EC2 instance type; e.g. t3.small",
                instance.instance_type
            ),
        );
        check(
            instance.key_pair.public_key_file.is_some() != instance.key_pair.name.is_some(),
            "instance.key_pair: give either public_key_file (a public key to import) or name (an existing key pair), not both or neither".into(),
        );
        if let Some(ami) = &instance.ami {
            check(
                ami.strip_prefix("ami-").is_some_and(|hex| {
                    (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
                }),
                format!(
                    "instance.ami: `{ami}` is not an AMI id; e.g. ami-0abcdef1234567890, or leave it out to use instance.ami_parameter"
                ),
            );
        }
        check(
            instance.ami_parameter.starts_with('/'),
            format!(
                "instance.ami_parameter: `{}` is not an SSM parameter name (they start with /)",
                instance.ami_parameter
            ),
        );
        check(
            (8..=16384).contains(&instance.root_volume_gb),
            format!(
                "instance.root_volume_gb: {} must be between 8 and 16384",
                instance.root_volume_gb
            ),
        );
        check(
            !instance.ssh_user.is_empty()
                && instance
                    .ssh_user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            format!(
                "instance.ssh_user: `{}` is not a user name",
                instance.ssh_user
            ),
        );
        check(
            instance.ssh_port != 0,
            "instance.ssh_port: 0 is not a port; leave it out for 22".into(),
        );
        if let Some(github) = &self.github {
            let part_ok = |p: &str| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            };
            check(
                github
                    .repository
                    .split_once('/')
                    .is_some_and(|(owner, name)| part_ok(owner) && part_ok(name)),
                format!(
                    "github.repository: `{}` is not owner/name, e.g. acme/ledgerly",
                    github.repository
                ),
            );
            check(
                part_ok(&github.environment),
                format!(
                    "github.environment: `{}` is not a GitHub environment name, e.g. production",
                    github.environment
                ),
            );
            check(
                !github.branch.is_empty()
                    && !github.branch.starts_with("refs/")
                    && github.branch.split('/').all(part_ok),
                format!(
                    "github.branch: `{}` is not a branch name (no wildcards, no refs/heads/), e.g. main",
                    github.branch
                ),
            );
            check(
                github.workflow.starts_with(".github/workflows/")
                    && (github.workflow.ends_with(".yml") || github.workflow.ends_with(".yaml"))
                    && github.workflow.split('/').all(part_ok),
                format!(
                    "github.workflow: `{}` is not a workflow file of the repository, e.g. .github/workflows/release.yml",
                    github.workflow
                ),
            );
        }
        let deploy = &self.deploy;
        check(
            (5..=3600).contains(&deploy.health_timeout_seconds),
            format!(
                "deploy.health_timeout_seconds: {} must be between 5 and 3600",
                deploy.health_timeout_seconds
            ),
        );
        check(
            (1..=15).contains(&deploy.keep_releases),
            format!(
                "deploy.keep_releases: {} must be between 1 and 15 (the history is one SSM parameter of at most 4 KB)",
                deploy.keep_releases
            ),
        );
        let db = &self.database;
        check(
            db.instance_class.starts_with("db."),
            format!(
                "database.instance_class: `{}` is not an RDS instance class; e.g. db.t4g.micro",
                db.instance_class
            ),
        );
        check(
            (20..=65536).contains(&db.storage_gb),
            format!(
                "database.storage_gb: {} must be between 20 and 65536",
                db.storage_gb
            ),
        );
        check(
            !db.engine_version.is_empty()
                && db
                    .engine_version
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.'),
            format!(
                "database.engine_version: `{}` is not a PostgreSQL version; e.g. 16 or 16.4",
                db.engine_version
            ),
        );
        check(
            db.backup_retention_days <= 35,
            format!(
                "database.backup_retention_days: {} must be 0 to 35",
                db.backup_retention_days
            ),
        );
        if let Some(url) = &db.ca_bundle_url {
            check(
                is_fetchable(url),
                format!(
                    "database.ca_bundle_url: `{url}` must be an https:// address (plain http:// only on 127.0.0.1 or localhost)"
                ),
            );
        }
        if let Some(hash) = &db.ca_bundle_sha256 {
            check(
                hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()),
                format!(
                    "database.ca_bundle_sha256: `{hash}` is not a SHA-256 (64 hex digits, as sha256sum prints)"
                ),
            );
        }
        check(
            (128..=10240).contains(&self.lambda.memory_mb),
            format!(
                "lambda.memory_mb: {} must be between 128 and 10240",
                self.lambda.memory_mb
            ),
        );
        check(
            (1..=900).contains(&self.lambda.timeout_seconds),
            format!(
                "lambda.timeout_seconds: {} must be between 1 and 900",
                self.lambda.timeout_seconds
            ),
        );
        check(
            (1..=1000).contains(&self.ecr.keep_images),
            format!(
                "ecr.keep_images: {} must be between 1 and 1000",
                self.ecr.keep_images
            ),
        );
        check(
            (1..=3650).contains(&self.receipts.keep_deleted_days),
            format!(
                "receipts.keep_deleted_days: {} must be between 1 and 3650",
                self.receipts.keep_deleted_days
            ),
        );
        let backend = self.ocr.backend.as_str();
        check(
            matches!(backend, "paddle" | "tesseract" | "gemini" | "openai"),
            format!("ocr.backend: `{backend}` must be paddle, tesseract, gemini or openai"),
        );
        check(
            matches!(backend, "paddle" | "tesseract") || self.ocr.api_key_parameter.is_some(),
            format!(
                "ocr.api_key_parameter: the {backend} backend needs its API key in an SSM SecureString; name it here, e.g. /ledgerly/ocr-api-key"
            ),
        );
        for parameter in [
            &self.ocr.api_key_parameter,
            &self.ocr.callback_secret_parameter,
        ]
        .into_iter()
        .flatten()
        {
            check(
                parameter.starts_with('/'),
                format!("ocr: `{parameter}` is not an SSM parameter name (they start with /)"),
            );
        }
        if let Some(ecs) = &self.ecs {
            problems.extend(ecs.problems(&self.region));
        }
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        check(
            self.tags.len() <= 40,
            format!(
                "tags: {} tags; AWS allows 50 per resource and ledgerctl uses a few",
                self.tags.len()
            ),
        );
        for key in self.tags.keys() {
            let lower = key.to_lowercase();
            check(
                !lower.starts_with("aws:")
                    && !lower.starts_with("ledgerly:")
                    && !key.is_empty()
                    && key.len() <= 128,
                format!(
                    "tags: `{key}` cannot be used; keys starting with aws: or ledgerly: are reserved"
                ),
            );
        }
        problems
    }

    /// The public key to import, read from `instance.key_pair.public_key_file` (`~` is the home
    /// directory); `None` when the stack names an existing key pair.
    pub(crate) fn public_key(&self, origin: &str) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.instance.key_pair.public_key_file else {
            return Ok(None);
        };
        let problem = |p: String| ConfigError {
            origin: origin.to_owned(),
            problems: vec![format!("instance.key_pair.public_key_file: {p}")],
        };
        let expanded = match (path.strip_prefix("~"), dirs::home_dir()) {
            (Ok(rest), Some(home)) => home.join(rest),
            _ => path.clone(),
        };
        let text = std::fs::read_to_string(&expanded).map_err(|e| {
            problem(format!(
                "cannot read {} ({e}); give your SSH public key, e.g. ~/.ssh/id_ed25519.pub (make one with ssh-keygen -t ed25519)",
                expanded.display()
            ))
        })?;
        let key = text.trim().to_owned();
        let known = ["ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp"];
        if !known.iter().any(|k| key.starts_with(k)) || key.contains('\n') {
            return Err(problem(format!(
                "{} is not one OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa); give the .pub file, never the private key",
                expanded.display()
            )));
        }
        Ok(Some(key))
    }

    /// The tags every resource of the stack carries.
    pub(crate) fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(STACK_TAG.into(), self.stack.clone());
        tags
    }

    /// The name of a resource of this stack: `<stack>-<suffix>`.
    pub(crate) fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.stack)
    }
}

/// The tag that marks a resource as the stack's.
pub(crate) const STACK_TAG: &str = "ledgerly:stack";

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "stack: ledgerly-test\nregion: ap-south-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: ops\n";

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ledgerly.example.yaml");
        let config = StackConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.stack, "ledgerly");
        assert_eq!(config.tags()["ledgerly:stack"], "ledgerly");
    }

    #[test]
    fn the_topology_is_the_instance_unless_ecs_is_asked_for() {
        let config = StackConfig::parse(GOOD, "test").unwrap();
        assert_eq!(config.topology, Topology::Instance);
        assert!(config.ecs.is_none());
        let ecs = StackConfig::parse(&format!("{GOOD}topology: ecs\n"), "test").unwrap();
        assert_eq!(
            ecs.ecs,
            Some(EcsConfig::default()),
            "the section's defaults"
        );
        let sized = StackConfig::parse(
            &format!("{GOOD}topology: ecs\necs:\n  cpu: 1024\n  memory_mb: 2048\n"),
            "test",
        )
        .unwrap();
        assert_eq!(sized.ecs.map(|e| e.cpu), Some(1024));
    }

    #[test]
    fn the_ecs_section_is_refused_without_the_ecs_topology_and_checked_with_it() {
        let stray = StackConfig::parse(&format!("{GOOD}ecs:\n  cpu: 512\n"), "f").unwrap_err();
        assert!(
            stray
                .to_string()
                .contains("ecs: the section is only read with `topology: ecs`"),
            "{stray}"
        );
        let bad = StackConfig::parse(
            &format!(
                "{GOOD}topology: ecs\necs:\n  cpu: 300\n  tasks: {{min: 3, desired: 1, max: 2}}\n"
            ),
            "f",
        )
        .unwrap_err();
        assert_eq!(bad.problems.len(), 2, "{bad}");
        let unknown =
            StackConfig::parse(&format!("{GOOD}topology: kubernetes\n"), "f").unwrap_err();
        assert!(
            unknown.to_string().contains("unknown variant `kubernetes`"),
            "{unknown}"
        );
    }

    #[test]
    fn the_instance_s_hosted_zone_is_checked_and_belongs_under_ecs_with_that_topology() {
        let zoned = StackConfig::parse(
            &format!("{GOOD}dns:\n  hosted_zone_id: Z0123456789ABC\n"),
            "t",
        )
        .unwrap();
        assert_eq!(zoned.dns.hosted_zone_id.as_deref(), Some("Z0123456789ABC"));
        let bad = StackConfig::parse(&format!("{GOOD}dns:\n  hosted_zone_id: zone-1\n"), "t")
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("dns.hosted_zone_id: `zone-1` is not a Route 53 hosted zone id"),
            "{bad}"
        );
        let ecs = StackConfig::parse(
            &format!("{GOOD}topology: ecs\ndns:\n  hosted_zone_id: Z0123456789ABC\n"),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(ecs.contains("goes under ecs.dns.hosted_zone_id"), "{ecs}");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config = StackConfig::parse(GOOD, "test").unwrap();
        assert_eq!(config.lambda.memory_mb, 1769);
        assert_eq!(config.lambda.timeout_seconds, 30);
        assert_eq!(config.instance.instance_type, "t3.small");
        assert!(config.database.deletion_protection);
        assert_eq!(config.name("receipts"), "ledgerly-test-receipts");
        assert_eq!(config.receipts.keep_deleted_days, 30);
    }

    #[test]
    fn every_problem_is_named_with_its_fix() {
        let bad = GOOD
            .replace("admin_cidr: 203.0.113.7/32", "admin_cidr: 0.0.0.0/0")
            .replace("stack: ledgerly-test", "stack: Ledgerly_Prod")
            .replace("region: ap-south-1", "region: mumbai")
            + "lambda:\n  memory_mb: 64\nocr:\n  backend: gemini\ngithub:\n  repository: not-a-repo\ndeploy:\n  keep_releases: 40\nreceipts:\n  keep_deleted_days: 0\n";
        let err = StackConfig::parse(&bad, "ledgerly.yaml").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("admin_cidr: 0.0.0.0/0 opens SSH to the world; give your own address, e.g. 203.0.113.7/32"), "{text}");
        assert!(text.contains("stack: `Ledgerly_Prod`"), "{text}");
        assert!(text.contains("region: `mumbai`"), "{text}");
        assert!(text.contains("lambda.memory_mb: 64"), "{text}");
        assert!(text.contains("ocr.api_key_parameter"), "{text}");
        assert!(text.contains("github.repository: `not-a-repo`"), "{text}");
        assert!(text.contains("deploy.keep_releases: 40"), "{text}");
        assert!(text.contains("receipts.keep_deleted_days: 0"), "{text}");
        assert_eq!(err.problems.len(), 8, "{text}");
    }

    #[test]
    fn the_rds_certificate_bundle_is_fetched_over_https_and_pinned_by_sha256() {
        let config = StackConfig::parse(GOOD, "test").unwrap();
        assert_eq!(
            config.database.ca_bundle_url("eu-west-1"),
            crate::aws::rds_ca::default_url("eu-west-1")
        );
        let with = |db: &str| StackConfig::parse(&format!("{GOOD}database:\n{db}"), "x");
        let mirror = with("  ca_bundle_url: http://127.0.0.1:8123/bundle.pem\n").unwrap();
        assert_eq!(
            mirror.database.ca_bundle_url("eu-west-1"),
            "http://127.0.0.1:8123/bundle.pem"
        );
        with(&format!("  ca_bundle_sha256: {}\n", "aB".repeat(32))).unwrap();
        for (bad, expected) in [
            (
                "  ca_bundle_url: http://mirror.example/bundle.pem\n",
                "database.ca_bundle_url: `http://mirror.example/bundle.pem` must be an https:// address",
            ),
            (
                "  ca_bundle_url: http://127.0.0.1.example/b.pem\n",
                "must be an https:// address",
            ),
            (
                "  ca_bundle_sha256: 1234\n",
                "database.ca_bundle_sha256: `1234` is not a SHA-256",
            ),
        ] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn admin_cidr_is_one_range_or_a_list_each_checked_ipv6_too() {
        let one = StackConfig::parse(GOOD, "x").unwrap();
        assert_eq!(one.admin_cidr, ["203.0.113.7/32"]);
        let list = GOOD.replace(
            "admin_cidr: 203.0.113.7/32",
            "admin_cidr: [203.0.113.7/32, '2001:db8:1::/48', 198.51.100.0/24]",
        );
        let many = StackConfig::parse(&list, "x").unwrap();
        assert_eq!(
            many.admin_cidr,
            ["203.0.113.7/32", "2001:db8:1::/48", "198.51.100.0/24"]
        );
        for (value, expected) in [
            (
                "'2001:db8::/32'",
                "admin_cidr: 2001:db8::/32 opens SSH to 2^96 addresses",
            ),
            ("['::/0']", "admin_cidr: ::/0 opens SSH to the world"),
            (
                "[203.0.113.7/32, 10.0.0.0/8]",
                "admin_cidr: 10.0.0.0/8 opens SSH to 16777216 addresses",
            ),
            ("[]", "admin_cidr: give at least one address range"),
            ("[203.0.113.7]", "`203.0.113.7` is not a CIDR block"),
            ("{a: b}", "a CIDR block or a list of them"),
        ] {
            let text = GOOD.replace(
                "admin_cidr: 203.0.113.7/32",
                &format!("admin_cidr: {value}"),
            );
            let err = StackConfig::parse(&text, "x").unwrap_err().to_string();
            assert!(err.contains(expected), "{value}: {err}");
        }
        StackConfig::parse(
            &GOOD.replace("203.0.113.7/32", "'2001:db8:1:2::1/128'"),
            "x",
        )
        .unwrap();
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        let err = StackConfig::parse(&(GOOD.to_owned() + "instanse: {}\n"), "x").unwrap_err();
        assert!(err.to_string().contains("instanse"), "{err}");
        let err = StackConfig::parse(&GOOD.replace("ops@example.com", "[a]"), "x").unwrap_err();
        assert!(err.to_string().contains("acme_email"), "{err}");
    }

    #[test]
    fn cidr_blocks_are_read_strictly() {
        assert!(parse_cidr("203.0.113.7/32").is_ok());
        assert!(parse_cidr("2001:db8::/48").is_ok());
        assert!(
            parse_cidr("203.0.113.7/24")
                .unwrap_err()
                .contains("host bits")
        );
        assert!(parse_cidr("203.0.113.7").is_err());
        assert!(parse_cidr("203.0.113.7/33").is_err());
        let wide = GOOD.replace("203.0.113.7/32", "10.0.0.0/8");
        assert!(
            StackConfig::parse(&wide, "x")
                .unwrap_err()
                .to_string()
                .contains("16777216 addresses")
        );
    }
}
