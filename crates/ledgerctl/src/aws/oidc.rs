//! GitHub Actions' OIDC identity provider in IAM (opt-in: the stack file's `github` section), so
//! the release workflow gets short-lived credentials for the deploy role instead of stored keys.
//!
//! The provider is account-wide — one per URL, shared by every stack and tool that uses GitHub's
//! tokens — so provision creates it when it is missing and adds the STS audience when that is
//! missing, but never claims it: it is not drift when someone else made it, and `destroy` leaves
//! it in place.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{Aws, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

pub(crate) const HOST: &str = "token.actions.githubusercontent.com";
pub(crate) const AUDIENCE: &str = "sts.amazonaws.com";
/// GitHub's published thumbprints (IAM no longer checks them for this provider, but the API
/// still wants one).
const THUMBPRINTS: [&str; 2] = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
];

/// GitHub's provider in the account, as the stack wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provider {
    pub(crate) arn: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) audiences: Vec<String>,
}

pub(crate) fn arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{HOST}")
}

impl Resource for Provider {
    type Observed = Observed;
    const KIND: &'static str = "iam oidc provider";

    /// Only with the stack file's `github` section.
    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        if config.github.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![Provider {
            arn: arn(&known.account),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        HOST.to_owned()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        let reply = aws
            .iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(&self.arn)
            .send()
            .await;
        let reply = found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("reading the OIDC provider {HOST}"),
        )?;
        Ok(reply.map(|reply| Observed {
            audiences: reply.client_id_list().to_vec(),
        }))
    }

    /// Only the STS audience can be missing: the rest is someone else's as much as ours.
    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            if !have.audiences.iter().any(|a| a == AUDIENCE) {
                diff.field("audiences", have.audiences.join(","), AUDIENCE);
            }
        })
    }

    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        if observed.is_some() {
            return aws
                .iam
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(&self.arn)
                .client_id(AUDIENCE)
                .send()
                .await
                .map(drop)
                .map_err(sdk_error(format!(
                    "adding the {AUDIENCE} audience to {HOST}"
                )));
        }
        let created = aws
            .iam
            .create_open_id_connect_provider()
            .url(format!("https://{HOST}"))
            .client_id_list(AUDIENCE)
            .set_thumbprint_list(Some(THUMBPRINTS.iter().map(|t| (*t).to_owned()).collect()))
            .set_tags(Some(super::iam::tags(&self.tags)?))
            .send()
            .await;
        // Made a moment ago by an interrupted run, or by someone else.
        found(
            created,
            |e| e.is_entity_already_exists_exception(),
            || format!("creating the OIDC provider {HOST}"),
        )?;
        Ok(())
    }

    /// Never: the provider is account-wide, and may serve other stacks and tools.
    async fn delete(_: &Aws, _: &StackConfig, _: &Known) -> Result<Vec<String>> {
        Ok(vec![])
    }
}
