//! The database: RDS PostgreSQL in a DB subnet group over the default VPC's subnets, never
//! publicly accessible, storage encrypted, reachable only through the stack's `db` security
//! group, its master password the stack's generated SecureString (never printed).
//!
//! Over 500 lines: the subnet group and the instance in one module, until the resource kinds share
//! one trait and each gets a module of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_rds::client::Waiters as _;
use aws_sdk_rds::types::Tag;

use super::{Aws, sdk_error, waited};
use crate::stack::{Change, Diff, ResourceChange, StackConfig};

pub(crate) const INSTANCE: &str = "rds instance";
pub(crate) const SUBNET_GROUP: &str = "db subnet group";

/// How long a new database may take to become available (RDS takes 5 to 15 minutes).
pub(crate) const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// How long a deleted database may take to go.
pub(crate) const DELETED_TIMEOUT: Duration = Duration::from_secs(40 * 60);

pub(crate) const MASTER_USER: &str = "ledgerly";
/// The role the API connects as: rows only, no schema (`ledgerly-api migrate --app-role`
/// creates it with the master credentials).
pub(crate) const APP_USER: &str = "ledgerly_app";
pub(crate) const DATABASE: &str = "ledgerly";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) identifier: String,
    pub(crate) subnet_group: String,
    pub(crate) subnets: BTreeSet<String>,
    pub(crate) class: String,
    pub(crate) storage_gb: i32,
    pub(crate) engine_version: String,
    pub(crate) backup_retention_days: i32,
    pub(crate) deletion_protection: bool,
    /// The security group, by name.
    pub(crate) security_group: String,
    pub(crate) password_parameter: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) status: String,
    /// Values pending a modification count as set: RDS applies them shortly.
    pub(crate) class: String,
    pub(crate) storage_gb: i32,
    pub(crate) engine_version: String,
    pub(crate) backup_retention_days: i32,
    pub(crate) deletion_protection: bool,
    pub(crate) publicly_accessible: bool,
    pub(crate) encrypted: bool,
    /// By name where the group is the stack's, by id otherwise.
    pub(crate) security_groups: BTreeSet<String>,
    pub(crate) subnet_group: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedSubnetGroup {
    pub(crate) subnets: BTreeSet<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

pub(crate) fn identifier(config: &StackConfig) -> String {
    config.name("db")
}

pub(crate) fn desired(
    config: &StackConfig,
    subnets: BTreeSet<String>,
    password_parameter: String,
) -> Desired {
    let db = &config.database;
    Desired {
        identifier: identifier(config),
        subnet_group: config.name("db"),
        subnets,
        class: db.instance_class.clone(),
        storage_gb: i32::try_from(db.storage_gb).unwrap_or(i32::MAX),
        engine_version: db.engine_version.clone(),
        backup_retention_days: i32::try_from(db.backup_retention_days).unwrap_or(35),
        deletion_protection: db.deletion_protection,
        security_group: config.name("db"),
        password_parameter,
        tags: config.tags(),
    }
}

/// The default VPC's subnets (one per availability zone).
pub(crate) async fn default_subnets(aws: &Aws, vpc: &str) -> anyhow::Result<BTreeSet<String>> {
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

fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn tags(desired: &BTreeMap<String, String>) -> Vec<Tag> {
    desired
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) async fn observe_subnet_group(
    aws: &Aws,
    name: &str,
) -> anyhow::Result<Option<ObservedSubnetGroup>> {
    let reply = match aws
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(reply) => reply,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_db_subnet_group_not_found_fault()) =>
        {
            return Ok(None);
        }
        Err(err) => {
            return Err(sdk_error(format!("reading the DB subnet group {name}"))(
                err,
            ));
        }
    };
    let Some(group) = reply.db_subnet_groups().first() else {
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
    Ok(Some(ObservedSubnetGroup {
        subnets: group
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
            .collect(),
        tags,
    }))
}

/// The database as RDS has it; `group_names` maps the stack's security group ids to names.
pub(crate) async fn observe(
    aws: &Aws,
    identifier: &str,
    group_names: &BTreeMap<String, String>,
) -> anyhow::Result<Option<Observed>> {
    let reply = match aws
        .rds
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
    {
        Ok(reply) => reply,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_db_instance_not_found_fault()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(sdk_error(format!("reading the database {identifier}"))(err)),
    };
    let Some(db) = reply.db_instances().first() else {
        return Ok(None);
    };
    let pending = db.pending_modified_values();
    Ok(Some(Observed {
        status: db.db_instance_status().unwrap_or("unknown").to_owned(),
        class: pending
            .and_then(|p| p.db_instance_class())
            .or(db.db_instance_class())
            .unwrap_or_default()
            .to_owned(),
        storage_gb: pending
            .and_then(|p| p.allocated_storage())
            .or(db.allocated_storage())
            .unwrap_or_default(),
        engine_version: pending
            .and_then(|p| p.engine_version())
            .or(db.engine_version())
            .unwrap_or_default()
            .to_owned(),
        backup_retention_days: pending
            .and_then(|p| p.backup_retention_period())
            .or(db.backup_retention_period())
            .unwrap_or_default(),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        publicly_accessible: db.publicly_accessible().unwrap_or(false),
        encrypted: db.storage_encrypted().unwrap_or(false),
        security_groups: db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .map(|id| {
                group_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.to_owned())
            })
            .collect(),
        subnet_group: db
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .unwrap_or_default()
            .to_owned(),
        endpoint: db
            .endpoint()
            .and_then(|e| Some(format!("{}:{}", e.address()?, e.port()?))),
        tags: tags_of(db.tag_list()),
    }))
}

/// `16` is met by `16.4`: the configuration names a major version, RDS picks the minor.
fn version_meets(have: &str, want: &str) -> bool {
    have == want || have.starts_with(&format!("{want}."))
}

pub(crate) fn diff_subnet_group(
    desired: &Desired,
    observed: Option<&ObservedSubnetGroup>,
) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            let shown = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
            diff.field("subnets", shown(&have.subnets), shown(&desired.subnets));
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: SUBNET_GROUP,
        name: desired.subnet_group.clone(),
        change,
    }
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            diff.field("instance_class", &have.class, &desired.class);
            diff.field("storage_gb", have.storage_gb, desired.storage_gb);
            if !version_meets(&have.engine_version, &desired.engine_version) {
                diff.field(
                    "engine_version",
                    &have.engine_version,
                    &desired.engine_version,
                );
            }
            diff.field(
                "backup_retention_days",
                have.backup_retention_days,
                desired.backup_retention_days,
            );
            diff.field(
                "deletion_protection",
                have.deletion_protection,
                desired.deletion_protection,
            );
            diff.field("publicly_accessible", have.publicly_accessible, false);
            diff.field(
                "security_groups",
                have.security_groups
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
                &desired.security_group,
            );
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: INSTANCE,
        name: desired.identifier.clone(),
        change,
    }
}

pub(crate) async fn apply_subnet_group(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&ObservedSubnetGroup>,
) -> anyhow::Result<()> {
    let name = &desired.subnet_group;
    match observed {
        None => {
            match aws
                .rds
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description("Ledgerly: the default VPC's subnets")
                .set_subnet_ids(Some(desired.subnets.iter().cloned().collect()))
                .set_tags(Some(tags(&desired.tags)))
                .send()
                .await
            {
                Ok(_) => {}
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_db_subnet_group_already_exists_fault()) => {}
                Err(err) => {
                    return Err(sdk_error(format!("creating the DB subnet group {name}"))(
                        err,
                    ));
                }
            }
        }
        Some(have) => {
            if have.subnets != desired.subnets {
                aws.rds
                    .modify_db_subnet_group()
                    .db_subnet_group_name(name)
                    .set_subnet_ids(Some(desired.subnets.iter().cloned().collect()))
                    .send()
                    .await
                    .map_err(sdk_error(format!("setting the subnets of {name}")))?;
            }
            if crate::stack::tags_missing(&desired.tags, &have.tags) {
                let arn = subnet_group_arn(aws, name).await?;
                add_tags(aws, &arn, &desired.tags, name).await?;
            }
        }
    }
    Ok(())
}

async fn add_tags(
    aws: &Aws,
    arn: &str,
    desired: &BTreeMap<String, String>,
    name: &str,
) -> anyhow::Result<()> {
    aws.rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags(desired)))
        .send()
        .await
        .map_err(sdk_error(format!("tagging {name}")))?;
    Ok(())
}

async fn subnet_group_arn(aws: &Aws, name: &str) -> anyhow::Result<String> {
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

/// Makes the database what `desired` says; `group_ids` holds the stack's security groups' ids
/// by name. A new database is waited for until it is available.
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
    group_ids: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let id = &desired.identifier;
    let group_id = group_ids.get(&desired.security_group).ok_or_else(|| {
        anyhow::anyhow!(
            "the security group {} is missing; it is created before the database",
            desired.security_group
        )
    })?;
    let Some(have) = observed else {
        let password = super::ssm::value(aws, &desired.password_parameter).await?;
        let created = aws
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("postgres")
            .engine_version(&desired.engine_version)
            .db_instance_class(&desired.class)
            .allocated_storage(desired.storage_gb)
            .storage_type("gp3")
            .storage_encrypted(true)
            .publicly_accessible(false)
            .db_subnet_group_name(&desired.subnet_group)
            .vpc_security_group_ids(group_id)
            .master_username(MASTER_USER)
            .master_user_password(secrecy::ExposeSecret::expose_secret(&password))
            .db_name(DATABASE)
            .backup_retention_period(desired.backup_retention_days)
            .deletion_protection(desired.deletion_protection)
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            .set_tags(Some(tags(&desired.tags)))
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Created by an interrupted run: wait for it like a new one.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_db_instance_already_exists_fault()) => {}
            Err(err) => return Err(sdk_error(format!("creating the database {id}"))(err)),
        }
        return wait_available(aws, id).await;
    };
    let mut modify = aws
        .rds
        .modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true);
    let mut needed = false;
    if have.class != desired.class {
        modify = modify.db_instance_class(&desired.class);
        needed = true;
    }
    if have.storage_gb != desired.storage_gb {
        modify = modify.allocated_storage(desired.storage_gb);
        needed = true;
    }
    if !version_meets(&have.engine_version, &desired.engine_version) {
        let major = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
        modify = modify
            .engine_version(&desired.engine_version)
            .allow_major_version_upgrade(
                major(&have.engine_version) != major(&desired.engine_version),
            );
        needed = true;
    }
    if have.backup_retention_days != desired.backup_retention_days {
        modify = modify.backup_retention_period(desired.backup_retention_days);
        needed = true;
    }
    if have.deletion_protection != desired.deletion_protection {
        modify = modify.deletion_protection(desired.deletion_protection);
        needed = true;
    }
    if have.publicly_accessible {
        modify = modify.publicly_accessible(false);
        needed = true;
    }
    if have.security_groups != BTreeSet::from([desired.security_group.clone()]) {
        modify = modify.vpc_security_group_ids(group_id);
        needed = true;
    }
    if needed {
        modify
            .send()
            .await
            .map_err(sdk_error(format!("modifying the database {id}")))?;
    }
    if crate::stack::tags_missing(&desired.tags, &have.tags) {
        let arn = instance_arn(aws, id).await?;
        add_tags(aws, &arn, &desired.tags, id).await?;
    }
    Ok(())
}

async fn instance_arn(aws: &Aws, id: &str) -> anyhow::Result<String> {
    aws.rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(sdk_error(format!("reading the database {id}")))?
        .db_instances()
        .first()
        .and_then(|d| d.db_instance_arn())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("RDS did not give the ARN of {id}"))
}

pub(crate) async fn wait_available(aws: &Aws, id: &str) -> anyhow::Result<()> {
    aws.rds
        .wait_until_db_instance_available()
        .db_instance_identifier(id)
        .wait(AVAILABLE_TIMEOUT)
        .await
        .map(drop)
        .map_err(waited(
            format!("the database {id} to become available"),
            AVAILABLE_TIMEOUT,
        ))
}

/// Deletes the stack's database, with a final snapshot unless told not to; waits until it is
/// gone (its network interfaces hold the security groups). Already gone is fine.
pub(crate) async fn delete(
    aws: &Aws,
    config: &StackConfig,
    final_snapshot: Option<&str>,
) -> anyhow::Result<bool> {
    let id = identifier(config);
    let Some(have) = observe(aws, &id, &BTreeMap::new()).await? else {
        return Ok(false);
    };
    super::ensure_owned(&have.tags, config, format_args!("the database {id}"))?;
    if have.deletion_protection {
        anyhow::bail!(
            "the database {id} has deletion protection on; set database.deletion_protection: false \
             in the stack file, run `ledgerctl provision`, then destroy again"
        );
    }
    if have.status != "deleting" {
        let mut delete = aws.rds.delete_db_instance().db_instance_identifier(&id);
        delete = match final_snapshot {
            Some(snapshot) => delete.final_db_snapshot_identifier(snapshot),
            None => delete.skip_final_snapshot(true),
        };
        match delete.send().await {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_db_instance_not_found_fault()) => {}
            Err(err) => return Err(sdk_error(format!("deleting the database {id}"))(err)),
        }
    }
    match aws
        .rds
        .wait_until_db_instance_deleted()
        .db_instance_identifier(&id)
        .wait(DELETED_TIMEOUT)
        .await
    {
        Ok(_) => {}
        Err(aws_smithy_runtime_api::client::waiters::error::WaiterError::OperationFailed(e))
            if e.error()
                .as_service_error()
                .is_some_and(|e| e.is_db_instance_not_found_fault()) => {}
        Err(err) => {
            return Err(waited(
                format!("the database {id} to be deleted"),
                DELETED_TIMEOUT,
            )(err));
        }
    }
    Ok(true)
}

pub(crate) async fn delete_subnet_group(aws: &Aws, config: &StackConfig) -> anyhow::Result<bool> {
    let name = config.name("db");
    let Some(have) = observe_subnet_group(aws, &name).await? else {
        return Ok(false);
    };
    super::ensure_owned(
        &have.tags,
        config,
        format_args!("the DB subnet group {name}"),
    )?;
    match aws
        .rds
        .delete_db_subnet_group()
        .db_subnet_group_name(&name)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_db_subnet_group_not_found_fault()) =>
        {
            Ok(false)
        }
        Err(err) => Err(sdk_error(format!("deleting the DB subnet group {name}"))(
            err,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_major_version_is_met_by_its_minor_versions_only() {
        assert!(version_meets("16.4", "16"));
        assert!(version_meets("16.4", "16.4"));
        assert!(!version_meets("16.4", "16.5"));
        assert!(!version_meets("160.1", "16"));
        assert!(!version_meets("15.8", "16"));
    }
}
