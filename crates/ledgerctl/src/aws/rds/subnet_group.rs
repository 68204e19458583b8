//! The database's DB subnet group: the default VPC's subnets (one per availability zone), so RDS
//! may place the database in any of them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use super::{add_tags, tags, tags_of};
use crate::aws::{Aws, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubnetGroup {
    pub(crate) name: String,
    pub(crate) subnets: BTreeSet<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) subnets: BTreeSet<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The subnet group's name (the database's own).
pub(super) fn name(config: &StackConfig) -> String {
    config.name("db")
}

/// The default VPC's subnets (one per availability zone).
pub(crate) async fn default_subnets(aws: &Aws, vpc: &str) -> Result<BTreeSet<String>> {
    let reply = aws
        .ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(vpc)
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error(format!("listing the subnets of {vpc}")))?;
    Ok(reply
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect())
}

async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = found(
        aws.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await,
        |e| e.is_db_subnet_group_not_found_fault(),
        || format!("reading the DB subnet group {name}"),
    )?;
    let Some(group) = reply.as_ref().and_then(|r| r.db_subnet_groups().first()) else {
        return Ok(None);
    };
    let tags = match group.db_subnet_group_arn() {
        Some(arn) => tags_of(
            aws.rds
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map_err(sdk_error(format!("reading the tags of {name}")))?
                .tag_list(),
        ),
        None => BTreeMap::new(),
    };
    Ok(Some(Observed {
        subnets: group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
            .collect(),
        tags,
    }))
}

async fn arn_of(aws: &Aws, name: &str) -> Result<String> {
    aws.rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .map_err(sdk_error(format!("reading the DB subnet group {name}")))?
        .db_subnet_groups()
        .first()
        .and_then(|g| g.db_subnet_group_arn())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("RDS did not give the ARN of {name}"))
}

impl Resource for SubnetGroup {
    type Observed = Observed;
    const KIND: &'static str = "db subnet group";

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        Ok(vec![SubnetGroup {
            name: name(config),
            subnets: known.subnets.clone(),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            let shown = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
            diff.field("subnets", shown(&have.subnets), shown(&self.subnets));
            diff.tags(&have.tags, &self.tags);
        })
    }

    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let Some(have) = observed else {
            let created = aws
                .rds
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description("Ledgerly: the default VPC's subnets")
                .set_subnet_ids(Some(self.subnets.iter().cloned().collect()))
                .set_tags(Some(tags(&self.tags)))
                .send()
                .await;
            // Created by an interrupted run: fine.
            found(
                created,
                |e| e.is_db_subnet_group_already_exists_fault(),
                || format!("creating the DB subnet group {name}"),
            )?;
            return Ok(());
        };
        if have.subnets != self.subnets {
            aws.rds
                .modify_db_subnet_group()
                .db_subnet_group_name(name)
                .set_subnet_ids(Some(self.subnets.iter().cloned().collect()))
                .send()
                .await
                .map_err(sdk_error(format!("setting the subnets of {name}")))?;
        }
        if crate::stack::tags_missing(&self.tags, &have.tags) {
            let arn = arn_of(aws, name).await?;
            add_tags(aws, &arn, &self.tags, name).await?;
        }
        Ok(())
    }

    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        crate::aws::ensure_owned(
            &have.tags,
            config,
            format_args!("the DB subnet group {name}"),
        )?;
        let reply = aws
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(&name)
            .send()
            .await;
        let deleted = found(
            reply,
            |e| e.is_db_subnet_group_not_found_fault(),
            || format!("deleting the DB subnet group {name}"),
        )?;
        Ok(match deleted {
            Some(_) => vec![name],
            None => vec![],
        })
    }
}
