//! A release rolled out to an ECS stack, as deploy and rollback both do it: the OCR Lambda
//! pointed at the release's OCR image; the API's database URL kept in its SSM SecureString; the
//! API's task definition registered if it changed; and, when the service does not run it yet, the
//! migration run first, the service created on the first deploy (provision's own path), then
//! rolled out and waited for.

use anyhow::{Context as _, Result, bail};
use aws_sdk_ec2::types::Filter;
use serde::Serialize;

use super::super::facts::Facts;
use super::super::lambda::{FunctionChange, update_function};
use super::super::releases::Release;
use super::migration::{OneOff, run_one_off};
use super::{
    Inputs, RolloutOutcome, api_task_definition, migration_task_definition, register_if_changed,
    roll_out, run_migration, service_runs,
};
use crate::aws::{self, Aws, sdk_error};
use crate::commands::stack::Opened;
use crate::stack::StackConfig;
use crate::stack::resource::{Known, Resource as _};
use crate::stack::survey::Survey;

/// What rolling a release out to an ECS stack did.
#[derive(Debug, Serialize)]
pub(crate) struct Outcome {
    pub(crate) function: FunctionChange,
    /// Whether the migration ran (it runs whenever the service is about to change).
    pub(crate) migrated: bool,
    pub(crate) service: RolloutOutcome,
}

impl Outcome {
    /// Whether anything changed.
    pub(crate) fn changed(&self) -> bool {
        !matches!(self.function, FunctionChange::Unchanged)
            || matches!(self.service, RolloutOutcome::Deployed { .. })
    }
}

/// Rolls `release` out to the ECS stack `opened`: its images are in ECR already, by digest.
pub(crate) async fn release_to(
    opened: &Opened,
    facts: &Facts,
    bundle: &aws::rds_ca::Bundle,
    release: &Release,
) -> Result<Outcome> {
    let (config, aws) = (&opened.config, &opened.aws);
    let ecs = config
        .ecs
        .as_ref()
        .context("the stack file's topology is not ecs")?;
    let function = update_function(
        opened,
        facts,
        &format!("{}@{}", facts.repositories[1], release.ocr),
    )
    .await?;
    // The URL names the bundle the API image carries at rds_ca::FILE.
    aws::ssm::write_secret(
        aws,
        config,
        &aws::ecs::database_url_parameter(config),
        &facts.database(bundle).url,
        "Ledgerly: the API's database URL, its password included (ledgerctl deploy writes it)",
    )
    .await?;
    let image = format!("{}@{}", facts.repositories[0], release.api);
    let inputs = Inputs::of(facts, image, facts.account.clone(), aws.region.clone());
    let (api, _) = register_if_changed(aws, &api_task_definition(config, &inputs)?).await?;
    if service_runs(aws, config, &api).await? {
        return Ok(Outcome {
            function,
            migrated: false,
            service: RolloutOutcome::Unchanged {
                task_definition: api,
            },
        });
    }
    let (migration, _) =
        register_if_changed(aws, &migration_task_definition(config, &inputs)?).await?;
    let known = Known::read(aws, None).await?;
    let subnets = known.ecs_subnets(ecs);
    let group = tasks_group(aws, config, &known.vpc).await?;
    run_migration(aws, config, &migration, &subnets, &group).await?;
    create_service(opened).await?;
    let service = roll_out(aws, config, &api).await?;
    Ok(Outcome {
        function,
        migrated: true,
        service,
    })
}

/// Runs `command` — arguments of the API image's `ledgerly-api` — once as a task of the newest
/// migration task definition, with the database's owner, in the tasks' subnets and security
/// group, and waits for it to end: how `ledgerctl invite` reaches an ECS stack's database.
pub(crate) async fn run_api_command(
    aws: &Aws,
    config: &StackConfig,
    what: &'static str,
    command: Vec<String>,
) -> Result<()> {
    let ecs = config
        .ecs
        .as_ref()
        .context("the stack file's topology is not ecs")?;
    let family = aws::ecs::task_definition::migration_family(config);
    let Some(task_definition) =
        aws::ecs::task_definition::newest_task_definition(aws, &family).await?
    else {
        bail!(
            "the stack {} has no migration task definition ({family}) yet: deploy it first \
             (ledgerctl deploy)",
            config.stack
        );
    };
    let known = Known::read(aws, None).await?;
    let subnets = known.ecs_subnets(ecs);
    let group = tasks_group(aws, config, &known.vpc).await?;
    let job = OneOff {
        task_definition: &task_definition,
        what,
        command: Some(command),
        after_failure: "",
        started_by: "ledgerctl",
    };
    run_one_off(aws, config, &job, &subnets, &group).await
}

/// The id of the stack's security group for the API's tasks.
async fn tasks_group(aws: &Aws, config: &StackConfig, vpc: &str) -> Result<String> {
    let name = config.name("tasks");
    let reply = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(&name).build())
        .send()
        .await
        .map_err(sdk_error(format!("looking for the security group {name}")))?;
    reply
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(str::to_owned)
        .with_context(|| {
            format!("the security group {name} does not exist; run ledgerctl provision first")
        })
}

/// Creates the API's service and its scaling if they wait for this first task definition:
/// provision's own path, when nothing else of the stack is pending (a deploy does not fix drift
/// behind the operator's back).
async fn create_service(opened: &Opened) -> Result<()> {
    let (config, aws) = (&opened.config, &opened.aws);
    let cluster = aws::ecs::cluster::name(config);
    if aws::ecs::service::observe(aws, &cluster)
        .await?
        .is_some_and(|s| s.is_active())
    {
        return Ok(());
    }
    let survey = Survey::take(aws, config, opened.public_key.clone()).await?;
    let service_kinds = [
        aws::ecs::service::Service::KIND,
        aws::scaling::ScalableTarget::KIND,
        aws::scaling::ScalingPolicies::KIND,
    ];
    let changes = survey.changes();
    if !changes
        .iter()
        .any(|c| c.is_change() && service_kinds.contains(&c.kind))
    {
        return Ok(());
    }
    let others: Vec<String> = changes
        .iter()
        .filter(|c| c.is_change() && !service_kinds.contains(&c.kind))
        .map(ToString::to_string)
        .collect();
    if !others.is_empty() {
        bail!(
            "the API's service does not exist yet, and the stack has other pending changes:\n  {}\n\
             run ledgerctl provision (it creates the service from the task definition just registered), then deploy again",
            others.join("\n  ")
        );
    }
    survey.apply(aws, &|_| {}).await?;
    Ok(())
}
