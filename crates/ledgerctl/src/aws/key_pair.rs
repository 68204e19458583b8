//! The key pair the instance is created with: imported from the stack file's public key (and
//! then tagged and deleted with the stack), or one the operator named, which is only checked for.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_ec2::types::ResourceType;

use super::{Aws, ec2, has_code, sdk_error};
use crate::stack::{Change, Diff, ResourceChange, StackConfig};

pub(crate) const KIND: &str = "key pair";

/// The key pair the instance is created with: imported from the stack file's public key, or one
/// that already exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    /// The OpenSSH public key to import; `None` for an existing key pair.
    pub(crate) public_key: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) tags: BTreeMap<String, String>,
}

pub(crate) fn desired(config: &StackConfig, public_key: Option<String>) -> Desired {
    Desired {
        name: match (&config.instance.key_pair.name, &public_key) {
            (Some(name), None) => name.clone(),
            _ => config.name("deploy"),
        },
        public_key,
        tags: config.tags(),
    }
}

pub(crate) async fn observe(aws: &Aws, name: &str) -> anyhow::Result<Option<Observed>> {
    match aws.ec2.describe_key_pairs().key_names(name).send().await {
        Ok(reply) => Ok(reply.key_pairs().first().map(|k| Observed {
            tags: ec2::tags_of(k.tags()),
        })),
        Err(err) if has_code(&err, "InvalidKeyPair.NotFound") => Ok(None),
        Err(err) => Err(sdk_error(format!("looking for the key pair {name}"))(err)),
    }
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        // An existing key pair is the operator's: only an imported one carries our tags.
        Some(_) if desired.public_key.is_none() => Change::Unchanged,
        Some(have) => {
            let mut diff = Diff::default();
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

pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    let name = &desired.name;
    let Some(public_key) = &desired.public_key else {
        anyhow::bail!(
            "instance.key_pair.name: there is no key pair {name} in {}; create or import it, or give public_key_file instead",
            aws.region
        );
    };
    match observed {
        None => match aws
            .ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_smithy_types::Blob::new(public_key.as_bytes()))
            .tag_specifications(ec2::tag_specification(ResourceType::KeyPair, &desired.tags))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if has_code(&err, "InvalidKeyPair.Duplicate") => Ok(()),
            Err(err) => Err(sdk_error(format!("importing the key pair {name}"))(err)),
        },
        Some(_) => {
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
            ec2::create_tags(aws, &id, &desired.tags, &id).await
        }
    }
}

/// Deletes the key pair ledgerctl imported (never one the operator named).
pub(crate) async fn delete(aws: &Aws, config: &StackConfig) -> anyhow::Result<bool> {
    let name = config.name("deploy");
    let Some(have) = observe(aws, &name).await? else {
        return Ok(false);
    };
    if !super::owned(&have.tags, config) {
        return Ok(false);
    }
    aws.ec2
        .delete_key_pair()
        .key_name(&name)
        .send()
        .await
        .map_err(sdk_error(format!("deleting the key pair {name}")))?;
    Ok(true)
}
