//! What `plan` and `provision` share: the stack file and AWS flags, and the survey of the stack —
//! each resource's desired state beside what AWS has — from which both work.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::aws::{self, Aws, AwsOptions};
use crate::stack::{ResourceChange, StackConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StackArgs {
    /// The stack file (see config/ledgerly.example.yaml).
    #[arg(long, env = "LEDGERLY_STACK_CONFIG", default_value = "ledgerly.yaml")]
    config: PathBuf,
    /// The AWS region; default the stack file's.
    #[arg(long)]
    region: Option<String>,
    /// The AWS profile (default: the standard credential chain).
    #[arg(long, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Send every AWS call here (an emulator, a VPC endpoint); S3 is then addressed by path.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) output: Output,
}

impl StackArgs {
    /// The checked stack file, then — only then — the AWS clients.
    pub(crate) async fn open(&self) -> anyhow::Result<(StackConfig, Aws)> {
        let config = StackConfig::load(&self.config)?;
        let aws = Aws::connect(&AwsOptions {
            region: self.region.clone().unwrap_or_else(|| config.region.clone()),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        })
        .await;
        Ok((config, aws))
    }
}

/// Each resource's desired state and what AWS has.
#[derive(Debug)]
pub(crate) struct Survey {
    ecr: Vec<(aws::ecr::Desired, Option<aws::ecr::Observed>)>,
    roles: Vec<(aws::iam::Desired, Option<aws::iam::Observed>)>,
    secret: (aws::ssm::Desired, Option<aws::ssm::Observed>),
    vpc: String,
    groups: Vec<(aws::sg::Desired, Option<aws::sg::Observed>)>,
    bucket: (aws::s3::Desired, Option<aws::s3::Observed>),
}

impl Survey {
    pub(crate) async fn take(aws: &Aws, config: &StackConfig) -> anyhow::Result<Survey> {
        let account = aws.account_id().await?;
        if let Some(parameter) = &config.ocr.api_key_parameter {
            aws::ssm::require(aws, "ocr.api_key_parameter", parameter).await?;
        }
        let secret = aws::ssm::callback_secret(config);
        let secret_observed = aws::ssm::observe(aws, &secret.name).await?;
        let mut ecr = Vec::new();
        for name in aws::ecr::names(config) {
            let desired = aws::ecr::desired(config, &name);
            let observed = aws::ecr::observe(aws, &name).await?;
            ecr.push((desired, observed));
        }
        let desired = aws::s3::desired(config, &account);
        let observed = aws::s3::observe(aws, &desired.name).await?;
        let targets = aws::iam::Targets {
            account,
            region: aws.region.clone(),
            bucket: desired.name.clone(),
            repositories: aws::ecr::names(config).to_vec(),
        };
        let mut roles = Vec::new();
        for role in [
            aws::iam::lambda_role(config, &targets),
            aws::iam::instance_role(config, &targets),
        ] {
            let observed = aws::iam::observe(aws, &role).await?;
            roles.push((role, observed));
        }
        let vpc = aws::sg::default_vpc(aws).await?;
        let wanted = aws::sg::desired(config);
        let names: Vec<String> = wanted.iter().map(|g| g.name.clone()).collect();
        let mut observed_groups = aws::sg::observe(aws, &vpc, &names).await?;
        let groups = wanted
            .into_iter()
            .map(|g| {
                let observed = observed_groups.remove(&g.name);
                (g, observed)
            })
            .collect();
        Ok(Survey {
            ecr,
            roles,
            secret: (secret, secret_observed),
            vpc,
            groups,
            bucket: (desired, observed),
        })
    }

    /// What each resource needs, in dependency order.
    pub(crate) fn changes(&self) -> Vec<ResourceChange> {
        let mut changes: Vec<ResourceChange> = self
            .ecr
            .iter()
            .map(|(desired, observed)| aws::ecr::diff(desired, observed.as_ref()))
            .collect();
        changes.push(aws::s3::diff(&self.bucket.0, self.bucket.1.as_ref()));
        changes.extend(
            self.roles
                .iter()
                .map(|(desired, observed)| aws::iam::diff(desired, observed.as_ref())),
        );
        changes.extend(
            self.groups
                .iter()
                .map(|(desired, observed)| aws::sg::diff(desired, observed.as_ref())),
        );
        changes.push(aws::ssm::diff(&self.secret.0, self.secret.1.as_ref()));
        changes
    }

    /// Carries out the changes: independent resources at once; unchanged ones are not touched.
    /// The changes made, in dependency order.
    pub(crate) async fn apply(
        &self,
        aws: &Aws,
        report: impl Fn(&ResourceChange) + Sync,
    ) -> anyhow::Result<Vec<ResourceChange>> {
        let report = &report;
        let ecr = async {
            let mut done = Vec::new();
            for (desired, observed) in &self.ecr {
                let change = aws::ecr::diff(desired, observed.as_ref());
                done.extend(
                    converge(change, report, || {
                        aws::ecr::apply(aws, desired, observed.as_ref())
                    })
                    .await?,
                );
            }
            anyhow::Ok(done)
        };
        let bucket = async {
            let (desired, observed) = &self.bucket;
            let change = aws::s3::diff(desired, observed.as_ref());
            converge(change, report, || {
                aws::s3::apply(aws, desired, observed.as_ref())
            })
            .await
        };
        let roles = async {
            let mut done = Vec::new();
            for (desired, observed) in &self.roles {
                let change = aws::iam::diff(desired, observed.as_ref());
                done.extend(
                    converge(change, report, || {
                        aws::iam::apply(aws, desired, observed.as_ref())
                    })
                    .await?,
                );
            }
            anyhow::Ok(done)
        };
        let groups = async {
            // In order: the database group's rule names the web group.
            let mut ids: std::collections::BTreeMap<String, String> = self
                .groups
                .iter()
                .filter_map(|(d, o)| Some((d.name.clone(), o.as_ref()?.id.clone())))
                .collect();
            let mut done = Vec::new();
            for (desired, observed) in &self.groups {
                let change = aws::sg::diff(desired, observed.as_ref());
                done.extend(
                    converge(change, report, || {
                        aws::sg::apply(aws, &self.vpc, desired, observed.as_ref(), &mut ids)
                    })
                    .await?,
                );
            }
            anyhow::Ok(done)
        };
        let secret = async {
            let (desired, observed) = &self.secret;
            let change = aws::ssm::diff(desired, observed.as_ref());
            converge(change, report, || {
                aws::ssm::apply(aws, desired, observed.as_ref())
            })
            .await
        };
        let (ecr, bucket, roles, groups, secret) =
            tokio::try_join!(ecr, bucket, roles, groups, secret)?;
        // The order `changes` lists them in.
        Ok(ecr
            .into_iter()
            .chain(bucket)
            .chain(roles)
            .chain(groups)
            .chain(secret)
            .collect())
    }
}

/// Applies one resource's change, if it has one, and reports it; the change made, if any.
async fn converge<F>(
    change: ResourceChange,
    report: &(impl Fn(&ResourceChange) + Sync),
    apply: impl FnOnce() -> F,
) -> anyhow::Result<Option<ResourceChange>>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    if !change.is_change() {
        return Ok(None);
    }
    apply()
        .await
        .with_context(|| format!("{} {}", change.kind, change.name))?;
    report(&change);
    Ok(Some(change))
}

/// The JSON report of a run: the changes and the AWS calls it made.
pub(crate) fn json_report(changes: &[ResourceChange], aws: &Aws) -> serde_json::Value {
    serde_json::json!({
        "changes": changes,
        "calls": {
            "read": aws.log.reads(),
            "mutating": aws.log.writes(),
            "log": aws.log.calls(),
        },
    })
}

/// `3 to create, 1 to update` or `no changes`.
pub(crate) fn summary(changes: &[ResourceChange]) -> String {
    use crate::stack::Change;
    let count = |f: fn(&Change) -> bool| changes.iter().filter(|c| f(&c.change)).count();
    let (create, update) = (
        count(|c| matches!(c, Change::Create)),
        count(|c| matches!(c, Change::Update { .. })),
    );
    if create + update == 0 {
        "no changes".into()
    } else {
        format!("{create} to create, {update} to update")
    }
}
