//! The Elastic IP: the instance's fixed public address (DNS points the domain at it; deploy
//! connects to it). Found by its tags (`Name=<stack>-ip`), associated with the stack's instance.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_ec2::types::{DomainType, Filter, ResourceType};

use super::{Aws, code, ec2, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The address; the instance it belongs to is `known.instance`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Address {
    pub(crate) name: String,
    /// How EC2 finds it: by the stack's tag and its `Name`.
    pub(crate) filters: [Filter; 2],
    /// The instance it belongs to, by name: what the plan shows before the instance exists.
    pub(crate) instance_name: String,
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

/// The stack's address as EC2 has it.
pub(crate) async fn observe(aws: &Aws, config: &StackConfig) -> Result<Option<Observed>> {
    let name = config.name("ip");
    find(aws, &ec2::named(config, name.clone()), &name).await
}

/// The address `filters` find (`name`: what it is called in an error).
async fn find(aws: &Aws, filters: &[Filter], name: &str) -> Result<Option<Observed>> {
    let reply = aws
        .ec2
        .describe_addresses()
        .set_filters(Some(filters.to_vec()))
        .send()
        .await
        .map_err(sdk_error("looking for the stack's Elastic IP".into()))?;
    let addresses = reply.addresses();
    if addresses.len() > 1 {
        let ips: Vec<&str> = addresses.iter().filter_map(|a| a.public_ip()).collect();
        anyhow::bail!(
            "the stack has {} Elastic IPs named {name} ({}); release the ones you do not want",
            addresses.len(),
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

impl Resource for Address {
    type Observed = Observed;
    const KIND: &'static str = "elastic ip";
    const AFTER: &'static [&'static str] = &["ec2 instance"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        let name = config.name("ip");
        let mut tags = config.tags();
        tags.insert("Name".into(), name.clone());
        Ok(vec![Address {
            filters: ec2::named(config, name.clone()),
            name,
            instance_name: super::instance::name(config),
            tags,
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        find(aws, &self.filters, &self.name).await
    }

    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        if let Some(have) = observed {
            known.address = Some(have.public_ip.clone());
        }
    }

    /// Against `known.instance`: the instance as surveyed for the plan, the one just made or
    /// kept when provision gets here.
    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            let want = known
                .instance
                .clone()
                .unwrap_or_else(|| format!("{} (new)", self.instance_name));
            diff.field(
                "instance",
                have.instance_id.as_deref().unwrap_or("(none)"),
                want,
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Allocates the address if it is missing and associates it with `known.instance`.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let name = &self.name;
        let Some(instance_id) = known.instance.clone() else {
            anyhow::bail!(
                "the instance {} has no id to associate {name} with; provision it first",
                self.instance_name
            );
        };
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
                    .tag_specifications(ec2::tag_specification(ResourceType::ElasticIp, &self.tags))
                    .send()
                    .await
                    .map_err(sdk_error(format!("allocating the Elastic IP {name}")))?;
                known.address = reply.public_ip().map(str::to_owned);
                (
                    reply
                        .allocation_id()
                        .context("EC2 did not give the address's allocation id")?
                        .to_owned(),
                    None,
                    self.tags.clone(),
                )
            }
        };
        if have_instance.as_deref() != Some(instance_id.as_str()) {
            aws.ec2
                .associate_address()
                .allocation_id(&allocation)
                .instance_id(&instance_id)
                .allow_reassociation(true)
                .send()
                .await
                .map_err(sdk_error(format!("associating {name} with {instance_id}")))?;
        }
        if crate::stack::tags_missing(&self.tags, &have_tags) {
            ec2::create_tags(aws, &allocation, &self.tags, name).await?;
        }
        Ok(())
    }

    /// Releases the stack's address (found by the stack's tag), first taking it off the
    /// instance.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let Some(have) = observe(aws, config).await? else {
            return Ok(vec![]);
        };
        if let Some(association) = &have.association_id {
            let reply = aws
                .ec2
                .disassociate_address()
                .association_id(association)
                .send()
                .await;
            found(reply, code("InvalidAssociationID.NotFound"), || {
                format!("disassociating {}", have.public_ip)
            })?;
        }
        let reply = aws
            .ec2
            .release_address()
            .allocation_id(&have.allocation_id)
            .send()
            .await;
        let released = found(reply, code("InvalidAllocationID.NotFound"), || {
            format!("releasing {}", have.public_ip)
        })?;
        Ok(released.map(|_| config.name("ip")).into_iter().collect())
    }
}
