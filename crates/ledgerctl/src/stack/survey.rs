//! The survey of the stack — each resource's desired state beside what AWS has, read at once —
//! and the changes it implies, carried out in dependency order with independent resources at
//! the same time. `plan`, `provision` and `status` work from it.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::{ResourceChange, StackConfig};
use crate::aws::{self, Aws};

/// Each resource's desired state and what AWS has.
#[derive(Debug)]
pub(crate) struct Survey {
    region: String,
    key_pair: (aws::key_pair::Desired, Option<aws::key_pair::Observed>),
    ecr: Vec<(aws::ecr::Desired, Option<aws::ecr::Observed>)>,
    bucket: (aws::s3::Desired, Option<aws::s3::Observed>),
    /// GitHub's OIDC provider, when the stack file has a `github` section.
    oidc: Option<(aws::oidc::Desired, Option<aws::oidc::Observed>)>,
    roles: Vec<(aws::iam::Desired, Option<aws::iam::Observed>)>,
    vpc: String,
    groups: Vec<(aws::sg::Desired, Option<aws::sg::Observed>)>,
    secrets: Vec<(aws::ssm::Desired, Option<aws::ssm::Observed>)>,
    subnet_group: Option<aws::rds::ObservedSubnetGroup>,
    database: (aws::rds::Desired, Option<aws::rds::Observed>),
    instance: (aws::instance::Desired, Option<aws::instance::Observed>),
    address: (aws::eip::Desired, Option<aws::eip::Observed>),
    function: (aws::lambda::Desired, Option<aws::lambda::Observed>),
    notification: Option<aws::lambda::notification::Observed>,
}

impl Survey {
    /// Reads the whole stack, independent reads at once. Stops before any change when something
    /// the operator must supply (the OCR key, a named key pair) is missing.
    pub(crate) async fn take(
        aws: &Aws,
        config: &StackConfig,
        public_key: Option<String>,
    ) -> anyhow::Result<Survey> {
        let account = aws.account_id().await?;
        if let Some(parameter) = &config.ocr.api_key_parameter {
            aws::ssm::require(aws, "ocr.api_key_parameter", parameter).await?;
        }
        let key_pair = aws::key_pair::desired(config, public_key);
        let bucket = aws::s3::desired(config, &account);
        let ecr = async {
            let mut ecr = Vec::new();
            for name in aws::ecr::names(config) {
                let desired = aws::ecr::desired(config, &name);
                let observed = aws::ecr::observe(aws, &name).await?;
                ecr.push((desired, observed));
            }
            anyhow::Ok(ecr)
        };
        let bucket_observed = async {
            let observed = aws::s3::observe(aws, &bucket.name).await?;
            let notification = match observed {
                Some(_) => aws::lambda::notification::observe(aws, &bucket.name).await?,
                None => None,
            };
            anyhow::Ok((observed, notification))
        };
        let roles = async {
            let targets = aws::iam::Targets {
                account: account.clone(),
                region: aws.region.clone(),
                bucket: bucket.name.clone(),
                repositories: aws::ecr::names(config).to_vec(),
            };
            let mut roles = Vec::new();
            let mut wanted = vec![
                aws::iam::lambda_role(config, &targets),
                aws::iam::instance_role(config, &targets),
            ];
            let mut oidc = None;
            if let Some(github) = &config.github {
                let provider = aws::oidc::desired(config, &account);
                let observed = aws::oidc::observe(aws, &provider).await?;
                oidc = Some((provider, observed));
                wanted.push(aws::iam::github_role(config, &targets, github));
            }
            for role in wanted {
                let observed = aws::iam::observe(aws, &role).await?;
                roles.push((role, observed));
            }
            anyhow::Ok((roles, oidc))
        };
        let secrets = async {
            let mut secrets = Vec::new();
            for secret in aws::ssm::generated_secrets(config) {
                let observed = aws::ssm::observe(aws, &secret.name).await?;
                secrets.push((secret, observed));
            }
            anyhow::Ok(secrets)
        };
        let key_pair_observed = aws::key_pair::observe(aws, &key_pair.name);
        let network = async {
            let vpc = aws::sg::default_vpc(aws).await?;
            let wanted = aws::sg::desired(config);
            let names: Vec<String> = wanted.iter().map(|g| g.name.clone()).collect();
            let (mut observed_groups, subnets) = tokio::try_join!(
                aws::sg::observe(aws, &vpc, &names),
                aws::rds::default_subnets(aws, &vpc)
            )?;
            let group_names: BTreeMap<String, String> = observed_groups
                .iter()
                .map(|(name, g)| (g.id.clone(), name.clone()))
                .collect();
            let groups: Vec<_> = wanted
                .into_iter()
                .map(|g| {
                    let observed = observed_groups.remove(&g.name);
                    (g, observed)
                })
                .collect();
            let database =
                aws::rds::desired(config, subnets, aws::ssm::database_password(config).name);
            let database_observed = async {
                tokio::try_join!(
                    aws::rds::observe_subnet_group(aws, &database.subnet_group),
                    aws::rds::observe(aws, &database.identifier, &group_names)
                )
            };
            let instance_observed = async {
                let instance = aws::instance::observe(aws, config, &group_names).await?;
                let address = aws::eip::observe(aws, config).await?;
                anyhow::Ok((instance, address))
            };
            let ((subnet_group, database_observed), (instance, address)) =
                tokio::try_join!(database_observed, instance_observed)?;
            anyhow::Ok((
                vpc,
                groups,
                subnet_group,
                (database, database_observed),
                instance,
                address,
            ))
        };
        let function = async {
            let name = aws::lambda::name(config);
            let observed = aws::lambda::observe(aws, &name).await?;
            let image = match &observed {
                Some(function) => function.image.clone(),
                None => {
                    aws::lambda::newest_image(aws, &account, &aws::ecr::names(config)[1]).await?
                }
            };
            let desired = aws::lambda::desired(config, &account, &aws.region, &bucket.name, image);
            anyhow::Ok((desired, observed))
        };
        let (
            ecr,
            (bucket_observed, notification),
            (roles, oidc),
            secrets,
            key_pair_observed,
            (vpc, groups, subnet_group, database, instance_observed, address_observed),
            function,
        ) = tokio::try_join!(
            ecr,
            bucket_observed,
            roles,
            secrets,
            key_pair_observed,
            network,
            function
        )?;
        if key_pair.public_key.is_none() && key_pair_observed.is_none() {
            anyhow::bail!(
                "instance.key_pair.name: there is no key pair {} in {}; import yours with \
                 `aws ec2 import-key-pair`, or give instance.key_pair.public_key_file instead",
                key_pair.name,
                aws.region
            );
        }
        let instance = aws::instance::desired(config, &key_pair);
        let address = aws::eip::desired(config, instance_observed.as_ref().map(|i| i.id.clone()));
        Ok(Survey {
            region: aws.region.clone(),
            key_pair: (key_pair, key_pair_observed),
            ecr,
            bucket: (bucket, bucket_observed),
            oidc,
            roles,
            vpc,
            groups,
            secrets,
            subnet_group,
            database,
            instance: (instance, instance_observed),
            address: (address, address_observed),
            function,
            notification,
        })
    }

    /// The run state of what has one, where it is not the healthy one: the instance when it is
    /// not running, the database when it is not available. (kind, name, state)
    pub(crate) fn unhealthy_states(&self) -> Vec<(&'static str, String, String)> {
        let mut states = Vec::new();
        if let (desired, Some(have)) = &self.instance
            && have.state != "running"
        {
            states.push((
                aws::instance::KIND,
                desired.name.clone(),
                have.state.clone(),
            ));
        }
        if let (desired, Some(have)) = &self.database
            && have.status != "available"
        {
            states.push((
                aws::rds::INSTANCE,
                desired.identifier.clone(),
                have.status.clone(),
            ));
        }
        states
    }

    /// What each resource needs, in dependency order.
    pub(crate) fn changes(&self) -> Vec<ResourceChange> {
        let mut changes = vec![aws::key_pair::diff(
            &self.key_pair.0,
            self.key_pair.1.as_ref(),
        )];
        changes.extend(
            self.ecr
                .iter()
                .map(|(desired, observed)| aws::ecr::diff(desired, observed.as_ref())),
        );
        changes.push(aws::s3::diff(&self.bucket.0, self.bucket.1.as_ref()));
        changes.extend(
            self.oidc
                .iter()
                .map(|(_, observed)| aws::oidc::diff(observed.as_ref())),
        );
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
        changes.extend(
            self.secrets
                .iter()
                .map(|(desired, observed)| aws::ssm::diff(desired, observed.as_ref())),
        );
        let (database, database_observed) = &self.database;
        changes.push(aws::rds::diff_subnet_group(
            database,
            self.subnet_group.as_ref(),
        ));
        changes.push(aws::rds::diff(database, database_observed.as_ref()));
        changes.push(aws::instance::diff(
            &self.instance.0,
            self.instance.1.as_ref(),
        ));
        changes.push(aws::eip::diff(&self.address.0, self.address.1.as_ref()));
        let (function, function_observed) = &self.function;
        changes.push(aws::lambda::diff(function, function_observed.as_ref()));
        changes.push(aws::lambda::permission::diff(
            function,
            function_observed.as_ref(),
        ));
        changes.push(aws::lambda::notification::diff(
            function,
            &self.region,
            self.notification.as_ref(),
        ));
        changes
    }

    /// Carries out the changes: independent resources at once; unchanged ones are not touched.
    /// The changes made, in dependency order.
    pub(crate) async fn apply(
        &self,
        aws: &Aws,
        report: &(dyn Fn(&ResourceChange) + Sync),
    ) -> anyhow::Result<Vec<ResourceChange>> {
        // First what depends on nothing of ours.
        let key_pair = async {
            let (desired, observed) = &self.key_pair;
            let change = aws::key_pair::diff(desired, observed.as_ref());
            converge(change, report, || {
                aws::key_pair::apply(aws, desired, observed.as_ref())
            })
            .await
        };
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
            // The provider first: the deploy role's trust names it.
            if let Some((desired, observed)) = &self.oidc {
                let change = aws::oidc::diff(observed.as_ref());
                done.extend(
                    converge(change, report, || {
                        aws::oidc::apply(aws, desired, observed.as_ref())
                    })
                    .await?,
                );
            }
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
            let mut ids: BTreeMap<String, String> = self
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
            anyhow::Ok((done, ids))
        };
        let secrets = async {
            let mut done = Vec::new();
            for (desired, observed) in &self.secrets {
                let change = aws::ssm::diff(desired, observed.as_ref());
                done.extend(
                    converge(change, report, || {
                        aws::ssm::apply(aws, desired, observed.as_ref())
                    })
                    .await?,
                );
            }
            anyhow::Ok(done)
        };
        let (key_pair, ecr, bucket, roles, (groups, ids), secrets) =
            tokio::try_join!(key_pair, ecr, bucket, roles, groups, secrets)?;

        // Then the three chains that need them, at once.
        let ids = &ids;
        let database = async {
            let (desired, observed) = &self.database;
            let mut done = Vec::new();
            let change = aws::rds::diff_subnet_group(desired, self.subnet_group.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::rds::apply_subnet_group(aws, desired, self.subnet_group.as_ref())
                })
                .await?,
            );
            let change = aws::rds::diff(desired, observed.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::rds::apply(aws, desired, observed.as_ref(), ids)
                })
                .await?,
            );
            anyhow::Ok(done)
        };
        let instance = async {
            let (desired, observed) = &self.instance;
            let mut done = Vec::new();
            let change = aws::instance::diff(desired, observed.as_ref());
            let mut id = observed.as_ref().map(|o| o.id.clone());
            if change.is_change() {
                id = Some(
                    aws::instance::apply(aws, desired, observed.as_ref(), ids)
                        .await
                        .with_context(|| format!("{} {}", change.kind, change.name))?,
                );
                report(&change);
                done.push(change);
            }
            let id = id.context("the instance has no id")?;
            let (address, address_observed) = &self.address;
            let address = aws::eip::Desired {
                instance_id: Some(id.clone()),
                ..address.clone()
            };
            let change = aws::eip::diff(&address, address_observed.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::eip::apply(aws, &address, address_observed.as_ref(), &id)
                })
                .await?,
            );
            anyhow::Ok(done)
        };
        let function = async {
            let (desired, observed) = &self.function;
            let mut done = Vec::new();
            let change = aws::lambda::diff(desired, observed.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::lambda::apply(aws, desired, observed.as_ref())
                })
                .await?,
            );
            let change = aws::lambda::permission::diff(desired, observed.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::lambda::permission::apply(aws, desired, observed.as_ref())
                })
                .await?,
            );
            let change =
                aws::lambda::notification::diff(desired, &aws.region, self.notification.as_ref());
            done.extend(
                converge(change, report, || {
                    aws::lambda::notification::apply(aws, desired, self.notification.as_ref())
                })
                .await?,
            );
            anyhow::Ok(done)
        };
        let (database, instance, function) = tokio::try_join!(database, instance, function)?;
        // The order `changes` lists them in.
        Ok(key_pair
            .into_iter()
            .chain(ecr)
            .chain(bucket)
            .chain(roles)
            .chain(groups)
            .chain(secrets)
            .chain(database)
            .chain(instance)
            .chain(function)
            .collect())
    }
}

/// Applies one resource's change, if it has one, and reports it; the change made, if any.
async fn converge<F>(
    change: ResourceChange,
    report: &(dyn Fn(&ResourceChange) + Sync),
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
