//! The Elastic IP: the instance's fixed public address (DNS points the domain at it; deploy
//! connects to it). Found by its tags (`Name=<stack>-ip`), associated with the stack's instance.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::{Aws, ec2, has_code, sdk_error};
use crate::stack::{Change, Diff, ResourceChange, StackConfig};

pub(crate) const KIND: &str = "elastic ip";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    /// The instance it belongs to: its name, and its id when it exists.
    pub(crate) instance_name: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) allocation_id: String,
    pub(crate) public_ip: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) association_id: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

pub(crate) fn desired(config: &StackConfig, instance_id: Option<String>) -> Desired {
    let mut tags = config.tags();
    tags.insert("Name".into(), config.name("ip"));
    Desired {
        name: config.name("ip"),
        instance_name: super::instance::name(config),
        instance_id,
        tags,
    }
}

pub(crate) async fn observe(aws: &Aws, config: &StackConfig) -> anyhow::Result<Option<Observed>> {
    let reply = aws
        .ec2
        .describe_addresses()
        .set_filters(Some(ec2::named(config, config.name("ip")).to_vec()))
        .send()
        .await
        .map_err(sdk_error("looking for the stack's Elastic IP".into()))?;
    let addresses = reply.addresses();
    if addresses.len() > 1 {
        let ips: Vec<&str> = addresses.iter().filter_map(|a| a.public_ip()).collect();
        anyhow::bail!(
            "the stack has {} Elastic IPs named {} ({}); release the ones you do not want",
            addresses.len(),
            config.name("ip"),
            ips.join(", ")
        );
    }
    Ok(addresses.first().map(|a| Observed {
        allocation_id: a.allocation_id().unwrap_or_default().to_owned(),
        public_ip: a.public_ip().unwrap_or_default().to_owned(),
        instance_id: a.instance_id().map(str::to_owned),
        association_id: a.association_id().map(str::to_owned),
        tags: ec2::tags_of(a.tags()),
    }))
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            let want = desired
                .instance_id
                .clone()
                .unwrap_or_else(|| format!("{} (new)", desired.instance_name));
            diff.field(
                "instance",
                have.instance_id.as_deref().unwrap_or("(none)"),
                want,
            );
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: KIND,
        name: desired.name.clone(),
        change,
    }
}

/// Allocates the address if it is missing and associates it with `instance_id`.
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
    instance_id: &str,
) -> anyhow::Result<()> {
    let (allocation, have_instance, have_tags) = match observed {
        Some(have) => (
            have.allocation_id.clone(),
            have.instance_id.clone(),
            have.tags.clone(),
        ),
        None => {
            let reply = aws
                .ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(ec2::tag_specification(
                    ResourceType::ElasticIp,
                    &desired.tags,
                ))
                .send()
                .await
                .map_err(sdk_error(format!(
                    "allocating the Elastic IP {}",
                    desired.name
                )))?;
            (
                reply
                    .allocation_id()
                    .context("EC2 did not give the address's allocation id")?
                    .to_owned(),
                None,
                desired.tags.clone(),
            )
        }
    };
    if have_instance.as_deref() != Some(instance_id) {
        aws.ec2
            .associate_address()
            .allocation_id(&allocation)
            .instance_id(instance_id)
            .allow_reassociation(true)
            .send()
            .await
            .map_err(sdk_error(format!(
                "associating {} with {instance_id}",
                desired.name
            )))?;
    }
    if crate::stack::tags_missing(&desired.tags, &have_tags) {
        ec2::create_tags(aws, &allocation, &desired.tags, &desired.name).await?;
    }
    Ok(())
}

/// Releases the stack's address; whether there was one.
pub(crate) async fn delete(aws: &Aws, config: &StackConfig) -> anyhow::Result<bool> {
    let Some(have) = observe(aws, config).await? else {
        return Ok(false);
    };
    if let Some(association) = &have.association_id {
        match aws
            .ec2
            .disassociate_address()
            .association_id(association)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) if has_code(&err, "InvalidAssociationID.NotFound") => {}
            Err(err) => {
                return Err(sdk_error(format!("disassociating {}", have.public_ip))(err));
            }
        }
    }
    match aws
        .ec2
        .release_address()
        .allocation_id(&have.allocation_id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if has_code(&err, "InvalidAllocationID.NotFound") => Ok(false),
        Err(err) => Err(sdk_error(format!("releasing {}", have.public_ip))(err)),
    }
}
