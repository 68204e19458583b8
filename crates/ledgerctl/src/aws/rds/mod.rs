//! The database: RDS PostgreSQL in a DB subnet group over the default VPC's subnets
//! ([`SubnetGroup`]), never publicly accessible, storage encrypted, reachable only through the
//! stack's `db` security group, its master password the stack's generated SecureString (never
//! printed).

mod subnet_group;

pub(crate) use subnet_group::{SubnetGroup, default_subnets};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use aws_sdk_rds::client::Waiters as _;
use aws_sdk_rds::types::Tag;

use super::{Aws, found, sdk_error, ssm, waited};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// How long a new database may take to become available (RDS takes 5 to 15 minutes).
pub(crate) const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(40 * 60);
/// How long a deleted database may take to go.
pub(crate) const DELETED_TIMEOUT: Duration = Duration::from_secs(40 * 60);

pub(crate) const MASTER_USER: &str = "ledgerly";
/// The role the API connects as: rows only, no schema (`ledgerly-api migrate --app-role`
/// creates it with the master credentials).
pub(crate) const APP_USER: &str = "ledgerly_app";
pub(crate) const DATABASE: &str = "ledgerly";

/// The database instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Database {
    pub(crate) identifier: String,
    pub(crate) subnet_group: String,
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

pub(crate) fn identifier(config: &StackConfig) -> String {
    config.name("db")
}

fn desired(config: &StackConfig) -> Database {
    let db = &config.database;
    Database {
        identifier: identifier(config),
        subnet_group: subnet_group::name(config),
        class: db.instance_class.clone(),
        storage_gb: i32::try_from(db.storage_gb).unwrap_or(i32::MAX),
        engine_version: db.engine_version.clone(),
        backup_retention_days: i32::try_from(db.backup_retention_days).unwrap_or(35),
        deletion_protection: db.deletion_protection,
        security_group: config.name("db"),
        password_parameter: ssm::database_password(config).name,
        tags: config.tags(),
    }
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

async fn add_tags(
    aws: &Aws,
    arn: &str,
    desired: &BTreeMap<String, String>,
    name: &str,
) -> Result<()> {
    aws.rds
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(tags(desired)))
        .send()
        .await
        .map_err(sdk_error(format!("tagging {name}")))?;
    Ok(())
}

/// The database as RDS has it; `group_names` maps the stack's security group ids to names.
pub(crate) async fn observe(
    aws: &Aws,
    identifier: &str,
    group_names: &BTreeMap<String, String>,
) -> Result<Option<Observed>> {
    let reply = found(
        aws.rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await,
        |e| e.is_db_instance_not_found_fault(),
        || format!("reading the database {identifier}"),
    )?;
    let Some(db) = reply.as_ref().and_then(|r| r.db_instances().first()) else {
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

async fn instance_arn(aws: &Aws, id: &str) -> Result<String> {
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

pub(crate) async fn wait_available(aws: &Aws, id: &str) -> Result<()> {
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

/// Waits until the database `id` is gone (its network interfaces hold the security groups).
async fn wait_deleted(aws: &Aws, id: &str) -> Result<()> {
    match aws
        .rds
        .wait_until_db_instance_deleted()
        .db_instance_identifier(id)
        .wait(DELETED_TIMEOUT)
        .await
    {
        Ok(_) => Ok(()),
        Err(aws_smithy_runtime_api::client::waiters::error::WaiterError::OperationFailed(e))
            if e.error()
                .as_service_error()
                .is_some_and(|e| e.is_db_instance_not_found_fault()) =>
        {
            Ok(())
        }
        Err(err) => Err(waited(
            format!("the database {id} to be deleted"),
            DELETED_TIMEOUT,
        )(err)),
    }
}

impl Database {
    /// Creates the database and waits until it is available.
    async fn create(&self, aws: &Aws, group_id: &str) -> Result<()> {
        let id = &self.identifier;
        let password = ssm::value(aws, &self.password_parameter).await?;
        let created = aws
            .rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("postgres")
            .engine_version(&self.engine_version)
            .db_instance_class(&self.class)
            .allocated_storage(self.storage_gb)
            .storage_type("gp3")
            .storage_encrypted(true)
            .publicly_accessible(false)
            .db_subnet_group_name(&self.subnet_group)
            .vpc_security_group_ids(group_id)
            .master_username(MASTER_USER)
            .master_user_password(secrecy::ExposeSecret::expose_secret(&password))
            .db_name(DATABASE)
            .backup_retention_period(self.backup_retention_days)
            .deletion_protection(self.deletion_protection)
            .copy_tags_to_snapshot(true)
            .auto_minor_version_upgrade(true)
            .set_tags(Some(tags(&self.tags)))
            .send()
            .await;
        // Created by an interrupted run: wait for it like a new one.
        found(
            created,
            |e| e.is_db_instance_already_exists_fault(),
            || format!("creating the database {id}"),
        )?;
        wait_available(aws, id).await
    }

    /// Modifies what differs from `have`, at once; adds missing tags.
    async fn update(&self, aws: &Aws, have: &Observed, group_id: &str) -> Result<()> {
        let id = &self.identifier;
        let mut modify = aws
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        let mut needed = false;
        if have.class != self.class {
            modify = modify.db_instance_class(&self.class);
            needed = true;
        }
        if have.storage_gb != self.storage_gb {
            modify = modify.allocated_storage(self.storage_gb);
            needed = true;
        }
        if !version_meets(&have.engine_version, &self.engine_version) {
            let major = |v: &str| v.split('.').next().unwrap_or_default().to_owned();
            modify = modify
                .engine_version(&self.engine_version)
                .allow_major_version_upgrade(
                    major(&have.engine_version) != major(&self.engine_version),
                );
            needed = true;
        }
        if have.backup_retention_days != self.backup_retention_days {
            modify = modify.backup_retention_period(self.backup_retention_days);
            needed = true;
        }
        if have.deletion_protection != self.deletion_protection {
            modify = modify.deletion_protection(self.deletion_protection);
            needed = true;
        }
        if have.publicly_accessible {
            modify = modify.publicly_accessible(false);
            needed = true;
        }
        if have.security_groups != BTreeSet::from([self.security_group.clone()]) {
            modify = modify.vpc_security_group_ids(group_id);
            needed = true;
        }
        if needed {
            modify
                .send()
                .await
                .map_err(sdk_error(format!("modifying the database {id}")))?;
        }
        if crate::stack::tags_missing(&self.tags, &have.tags) {
            let arn = instance_arn(aws, id).await?;
            add_tags(aws, &arn, &self.tags, id).await?;
        }
        Ok(())
    }
}

impl Resource for Database {
    type Observed = Observed;
    const KIND: &'static str = "rds instance";
    const AFTER: &'static [&'static str] = &[SubnetGroup::KIND, "security group", "ssm secret"];
    const READS_AFTER: &'static [&'static str] = &["security group"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(vec![desired(config)])
    }

    fn name(&self) -> String {
        self.identifier.clone()
    }

    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.identifier, &known.group_names()).await
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("instance_class", &have.class, &self.class);
            diff.field("storage_gb", have.storage_gb, self.storage_gb);
            if !version_meets(&have.engine_version, &self.engine_version) {
                diff.field("engine_version", &have.engine_version, &self.engine_version);
            }
            diff.field(
                "backup_retention_days",
                have.backup_retention_days,
                self.backup_retention_days,
            );
            diff.field(
                "deletion_protection",
                have.deletion_protection,
                self.deletion_protection,
            );
            diff.field("publicly_accessible", have.publicly_accessible, false);
            diff.field(
                "security_groups",
                have.security_groups
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(","),
                &self.security_group,
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Needs the security group's id in `known.groups`. A new database is waited for until it is
    /// available.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let group_id = known.groups.get(&self.security_group).ok_or_else(|| {
            anyhow::anyhow!(
                "the security group {} is missing; it is created before the database",
                self.security_group
            )
        })?;
        match observed {
            None => self.create(aws, group_id).await,
            Some(have) => self.update(aws, have, group_id).await,
        }
    }

    fn unhealthy(observed: &Observed) -> Option<String> {
        (observed.status != "available").then(|| observed.status.clone())
    }

    /// Deletes the stack's database, with the final snapshot `known.final_snapshot` (none when
    /// it is `None`); waits until it is gone (its network interfaces hold the security groups).
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let id = identifier(config);
        let Some(have) = observe(aws, &id, &BTreeMap::new()).await? else {
            return Ok(vec![]);
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
            delete = match &known.final_snapshot {
                Some(snapshot) => delete.final_db_snapshot_identifier(snapshot),
                None => delete.skip_final_snapshot(true),
            };
            found(
                delete.send().await,
                |e| e.is_db_instance_not_found_fault(),
                || format!("deleting the database {id}"),
            )?;
        }
        wait_deleted(aws, &id).await?;
        Ok(vec![id])
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
