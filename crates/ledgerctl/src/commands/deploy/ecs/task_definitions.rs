//! The task definitions an ECS deploy registers, as plain values: the API's (family
//! `<stack>-api`, which the service runs) and the migration's (family `<stack>-migrate`, run as
//! a one-off task before the API changes). Built from the stack file and what the stack has,
//! translating what templates/stack.yaml gives the `api` service and its `migrate` step on the
//! instance; compared in this form with the family's newest revision (`super::register`).
//!
//! No secret value is ever in one: each secret is named by its SSM parameter's ARN, and ECS
//! reads it when it starts a task, as the task execution role, which may read exactly the
//! parameters named here (aws/iam/policies.rs, `task_secret_parameters`).

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::aws::ecs::service::{CONTAINER, family};
use crate::aws::elb::target_group::API_PORT;
use crate::aws::{rds, rds_ca, ssm};
use crate::commands::deploy::facts::Facts;
use crate::stack::StackConfig;

pub(crate) use crate::aws::logs::STREAM_PREFIX;
/// The migration's container; its streams are `migrate/migrate/<task id>`.
pub(crate) const MIGRATION_CONTAINER: &str = "migrate";
pub(crate) use crate::aws::logs::MIGRATION_STREAM_PREFIX;
/// Where the API image has its binary (its entrypoint).
const API_BINARY: &str = "/usr/local/bin/ledgerly-api";
/// How long the API answers `/readyz` with 503 after SIGTERM before it closes its listener. On
/// the instance Traefik's 1 s health check had to notice first (3 s). Here ECS deregisters the
/// task from the target group and waits until the load balancer has drained it (up to the
/// 35 s deregistration delay) before it sends SIGTERM: by then nothing new is sent to it, so the
/// window does no work, and 2 s is a margin only.
const DRAIN_SECONDS: u32 = 2;
/// How long ECS waits after SIGTERM before it kills the API (Fargate allows 120): the drain and
/// what is still in flight, which the deregistration delay has mostly let finish already.
const STOP_TIMEOUT_SECONDS: i32 = 30;
/// The migration's CPU units: Fargate's smallest task; the work is the database's.
const MIGRATION_CPU: &str = "256";
/// The migration's memory, the least Fargate gives 256 CPU units.
const MIGRATION_MEMORY_MB: &str = "512";

/// A task definition deploy registers: one container on Fargate (`awsvpc`), in the form it is
/// compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskDefinition {
    pub(crate) family: String,
    /// CPU units and MiB, as ECS writes them: `"512"`, `"1024"`.
    pub(crate) cpu: String,
    pub(crate) memory: String,
    /// The role ECS pulls the image, writes the logs and reads the secrets as.
    pub(crate) execution_role: String,
    /// The role the task's own code calls AWS as; `None`: it calls nothing (the migration).
    pub(crate) task_role: Option<String>,
    pub(crate) container: Container,
    /// The stack's tags: destroy deletes a family only if its newest revision has the stack's.
    pub(crate) tags: BTreeMap<String, String>,
}

/// The task's one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Container {
    pub(crate) name: String,
    /// By digest: `<repository>@sha256:…`.
    pub(crate) image: String,
    /// The arguments to the image's entrypoint (`ledgerly-api`); empty: the server.
    pub(crate) command: Vec<String>,
    /// The port the load balancer sends requests to; `None`: it serves nothing.
    pub(crate) port: Option<i32>,
    pub(crate) environment: BTreeMap<String, String>,
    /// Variable → the ARN of the SSM parameter ECS sets it from.
    pub(crate) secrets: BTreeMap<String, String>,
    pub(crate) log: Log,
    pub(crate) health_check: Option<HealthCheck>,
    pub(crate) stop_timeout: Option<i32>,
}

/// Where the container's output goes: the log driver and its options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Log {
    pub(crate) driver: String,
    pub(crate) options: BTreeMap<String, String>,
}

/// The container's own health check; ECS replaces a task whose check keeps failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthCheck {
    pub(crate) command: Vec<String>,
    pub(crate) interval: i32,
    pub(crate) timeout: i32,
    pub(crate) retries: i32,
    pub(crate) start_period: i32,
}

/// What the task definitions are made from besides the stack file: the release's API image and
/// what the stack has (no secret: those stay in SSM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inputs {
    /// The API image by digest: `<repository URI>@sha256:…`.
    pub(crate) image: String,
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) bucket: String,
    /// The database's endpoint.
    pub(crate) database_host: String,
    pub(crate) database_port: u16,
}

impl Inputs {
    /// The inputs for the API image `image` (by digest) from what a deploy read of the stack.
    pub(crate) fn of(facts: &Facts, image: String, account: String, region: String) -> Self {
        Self {
            image,
            account,
            region,
            bucket: facts.bucket.clone(),
            database_host: facts.database_host.clone(),
            database_port: facts.database_port,
        }
    }

    /// The ARN of the SSM parameter `name` (which starts with `/`).
    fn parameter(&self, name: &str) -> String {
        format!(
            "arn:aws:ssm:{}:{}:parameter{name}",
            self.region, self.account
        )
    }

    /// The ARN of the stack's IAM role `name`.
    fn role(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:role/{name}", self.account)
    }
}

pub(crate) use crate::aws::ecs::task_definition::migration_family;

/// An error unless `image` names an image by digest: a tag could move under a running service.
fn by_digest(image: &str) -> Result<()> {
    match image.split_once("@sha256:") {
        Some((repository, digest)) if !repository.is_empty() && digest.len() == 64 => Ok(()),
        _ => bail!("the API image {image} is not named by digest (`<repository>@sha256:<64 hex>`)"),
    }
}

/// The `awslogs` driver sending to the stack's log group under `prefix`. The group exists
/// (provision makes it), so the driver is not asked to create it.
fn awslogs(config: &StackConfig, inputs: &Inputs, prefix: &str) -> Log {
    let options = [
        ("awslogs-group", crate::aws::logs::name(config)),
        ("awslogs-region", inputs.region.clone()),
        ("awslogs-stream-prefix", prefix.to_owned()),
    ];
    Log {
        driver: "awslogs".into(),
        options: options.map(|(k, v)| (k.to_owned(), v)).into(),
    }
}

/// Pairs of names and values, as a map.
fn strings<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_owned(), v)).into()
}

/// The API's task definition (family `<stack>-api`): the service's tasks.
pub(crate) fn api_task_definition(config: &StackConfig, inputs: &Inputs) -> Result<TaskDefinition> {
    let Some(ecs) = &config.ecs else {
        bail!("the stack {} does not run `topology: ecs`", config.stack);
    };
    by_digest(&inputs.image)?;
    // As templates/stack.yaml's `api` service, behind the load balancer instead of Traefik.
    let environment = strings([
        // The load balancer appends the client's address to X-Forwarded-For.
        ("LEDGERLY__SERVER__TRUST_FORWARDED_FOR", "true".into()),
        ("LEDGERLY__SERVER__PORT", API_PORT.to_string()),
        ("LEDGERLY__SERVER__DRAIN_SECONDS", DRAIN_SECONDS.to_string()),
        ("LEDGERLY__AUTH__COOKIE_SECURE", "true".into()),
        // What links in emails (password resets) start with.
        (
            "LEDGERLY__SERVER__PUBLIC_URL",
            format!("https://{}", config.domain),
        ),
        // The schema is the migration task's; the API only checks it is current.
        ("LEDGERLY__DATABASE__MIGRATE", "false".into()),
        ("LEDGERLY__STORAGE__BACKEND", "s3".into()),
        ("LEDGERLY__STORAGE__BUCKET", inputs.bucket.clone()),
        ("LEDGERLY__STORAGE__REGION", inputs.region.clone()),
        ("LEDGERLY__OCR__DISPATCH", "s3-events".into()),
    ]);
    // The URL deploy writes (the application role's password in it) verifies the database
    // against sslrootcert=/etc/ledgerly/rds-ca.pem. The CA bundle is baked into the API image
    // (see crate::aws::rds_ca::FILE): a Fargate task has no file mount to receive it, as the
    // instance's container does.
    let secrets = strings([
        (
            "LEDGERLY__DATABASE__URL",
            inputs.parameter(&crate::aws::ecs::database_url_parameter(config)),
        ),
        (
            "LEDGERLY__OCR__CALLBACK_SECRET",
            inputs.parameter(&ssm::callback_secret(config).name),
        ),
    ]);
    Ok(TaskDefinition {
        family: family(config),
        cpu: ecs.cpu.to_string(),
        memory: ecs.memory_mb.to_string(),
        execution_role: inputs.role(&config.name("task-execution")),
        task_role: Some(inputs.role(&config.name("task"))),
        container: Container {
            name: CONTAINER.into(),
            image: inputs.image.clone(),
            command: vec![],
            port: Some(API_PORT),
            environment,
            secrets,
            log: awslogs(config, inputs, STREAM_PREFIX),
            // The image's own check (templates/stack.yaml), at the pace ECS allows (5 s at
            // least between checks); the load balancer's /readyz check decides the traffic.
            health_check: Some(HealthCheck {
                command: ["CMD", API_BINARY, "healthcheck"].map(str::to_owned).into(),
                interval: 10,
                timeout: 5,
                retries: 3,
                start_period: 30,
            }),
            stop_timeout: Some(STOP_TIMEOUT_SECONDS),
        },
        tags: config.tags(),
    })
}

/// The migration's task definition (family `<stack>-migrate`): the API image's `migrate`, as
/// the database's owner, which then sets the application role's password — as the instance's
/// `migrate` step runs it.
///
/// The owner's URL holds no password: the image's PostgreSQL driver (sqlx) takes one missing
/// from the URL from `PGPASSWORD`, which ECS sets from `/<stack>/db-password`, the parameter
/// provision keeps. So no second copy of the owner's password is written anywhere, and the
/// task reads nothing but the two passwords it needs (not the API's URL nor the callback
/// secret); it has no task role, as it calls no AWS API.
pub(crate) fn migration_task_definition(
    config: &StackConfig,
    inputs: &Inputs,
) -> Result<TaskDefinition> {
    by_digest(&inputs.image)?;
    // The CA bundle is baked into the API image (see crate::aws::rds_ca::FILE), as for the API.
    let url = format!(
        "postgres://{}@{}:{}/{}?sslmode=verify-full&sslrootcert={}",
        rds::MASTER_USER,
        inputs.database_host,
        inputs.database_port,
        rds::DATABASE,
        rds_ca::FILE
    );
    let secrets = strings([
        (
            "PGPASSWORD",
            inputs.parameter(&ssm::database_password(config).name),
        ),
        (
            "LEDGERLY_APP_ROLE_PASSWORD",
            inputs.parameter(&ssm::app_password(config).name),
        ),
    ]);
    Ok(TaskDefinition {
        family: migration_family(config),
        cpu: MIGRATION_CPU.into(),
        memory: MIGRATION_MEMORY_MB.into(),
        execution_role: inputs.role(&config.name("task-execution")),
        task_role: None,
        container: Container {
            name: MIGRATION_CONTAINER.into(),
            image: inputs.image.clone(),
            command: ["migrate", "--app-role", rds::APP_USER]
                .map(str::to_owned)
                .into(),
            port: None,
            environment: strings([("LEDGERLY__DATABASE__URL", url)]),
            secrets,
            log: awslogs(config, inputs, MIGRATION_STREAM_PREFIX),
            health_check: None,
            stop_timeout: None,
        },
        tags: config.tags(),
    })
}
