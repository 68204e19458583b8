//! The key pair the instance is created with: imported from the stack file's public key (and
//! then tagged and deleted with the stack), or one the operator named, which is only checked for.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_ec2::types::ResourceType;

use super::{Aws, code, ec2, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The key pair the instance is created with: imported from the stack file's public key, or one
/// that already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPair {
    pub(crate) name: String,
    /// The OpenSSH public key to import; `None` for an existing key pair.
    pub(crate) public_key: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) tags: BTreeMap<String, String>,
}

impl KeyPair {
    pub(crate) fn of(config: &StackConfig, public_key: Option<String>) -> KeyPair {
        KeyPair {
            name: match (&config.instance.key_pair.name, &public_key) {
                (Some(name), None) => name.clone(),
                _ => config.name("deploy"),
            },
            public_key,
            tags: config.tags(),
        }
    }
}

async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = found(
        aws.ec2.describe_key_pairs().key_names(name).send().await,
        code("InvalidKeyPair.NotFound"),
        || format!("looking for the key pair {name}"),
    )?;
    Ok(reply.and_then(|r| {
        r.key_pairs().first().map(|k| Observed {
            tags: ec2::tags_of(k.tags()),
        })
    }))
}

impl Resource for KeyPair {
    type Observed = Observed;
    const KIND: &'static str = "key pair";

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        Ok(vec![KeyPair::of(config, known.public_key.clone())])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    /// Stops the survey when the operator named a key pair that is not there.
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        let observed = observe(aws, &self.name).await?;
        if observed.is_none() && self.public_key.is_none() {
            anyhow::bail!(
                "instance.key_pair.name: there is no key pair {} in {}; import yours with \
                 `aws ec2 import-key-pair`, or give instance.key_pair.public_key_file instead",
                self.name,
                known.region
            );
        }
        Ok(observed)
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        match observed {
            None => Change::Create,
            // An existing key pair is the operator's: only an imported one carries our tags.
            Some(_) if self.public_key.is_none() => Change::Unchanged,
            Some(have) => Diff::tags_only(&have.tags, &self.tags),
        }
    }

    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let Some(public_key) = &self.public_key else {
            anyhow::bail!(
                "instance.key_pair.name: there is no key pair {name} in {}; create or import it, or give public_key_file instead",
                aws.region
            );
        };
        if observed.is_none() {
            let imported = aws
                .ec2
                .import_key_pair()
                .key_name(name)
                .public_key_material(aws_smithy_types::Blob::new(public_key.as_bytes()))
                .tag_specifications(ec2::tag_specification(ResourceType::KeyPair, &self.tags))
                .send()
                .await;
            // Imported by a run that was interrupted before it could say so: fine.
            found(imported, code("InvalidKeyPair.Duplicate"), || {
                format!("importing the key pair {name}")
            })?;
            return Ok(());
        }
        let id = aws
            .ec2
            .describe_key_pairs()
            .key_names(name)
            .send()
            .await
            .map_err(sdk_error(format!("reading the key pair {name}")))?
            .key_pairs()
            .first()
            .and_then(|k| k.key_pair_id())
            .map(str::to_owned)
            .context("EC2 did not give the key pair's id")?;
        ec2::create_tags(aws, &id, &self.tags, &id).await
    }

    /// Deletes the key pair ledgerctl imported (never one the operator named).
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = config.name("deploy");
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        if !super::owned(&have.tags, config) {
            return Ok(vec![]);
        }
        aws.ec2
            .delete_key_pair()
            .key_name(&name)
            .send()
            .await
            .map_err(sdk_error(format!("deleting the key pair {name}")))?;
        Ok(vec![name])
    }
}
