//! GitHub Actions' OIDC identity provider in IAM (opt-in: the stack file's `github` section), so
//! the release workflow gets short-lived credentials for the deploy role instead of stored keys.
//!
//! The provider is account-wide — one per URL, shared by every stack and tool that uses GitHub's
//! tokens — so provision creates it when it is missing and adds the STS audience when that is
//! missing, but never claims it: it is not drift when someone else made it, and `destroy` leaves
//! it in place.

use std::collections::BTreeMap;

use super::{Aws, sdk_error};
use crate::stack::{Change, Diff, ResourceChange, StackConfig};

pub(crate) const KIND: &str = "iam oidc provider";
pub(crate) const HOST: &str = "token.actions.githubusercontent.com";
pub(crate) const AUDIENCE: &str = "sts.amazonaws.com";
/// GitHub's published thumbprints (IAM no longer checks them for this provider, but the API
/// still wants one).
const THUMBPRINTS: [&str; 2] = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) arn: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) audiences: Vec<String>,
}

pub(crate) fn desired(config: &StackConfig, account: &str) -> Desired {
    Desired {
        arn: arn(account),
        tags: config.tags(),
    }
}

pub(crate) fn arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:oidc-provider/{HOST}")
}

pub(crate) async fn observe(aws: &Aws, desired: &Desired) -> anyhow::Result<Option<Observed>> {
    match aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&desired.arn)
        .send()
        .await
    {
        Ok(reply) => Ok(Some(Observed {
            audiences: reply.client_id_list().to_vec(),
        })),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(sdk_error(format!("reading the OIDC provider {HOST}"))(err)),
    }
}

pub(crate) fn diff(observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            if !have.audiences.iter().any(|a| a == AUDIENCE) {
                diff.field("audiences", have.audiences.join(","), AUDIENCE);
            }
            diff.into_change()
        }
    };
    ResourceChange {
        kind: KIND,
        name: HOST.to_owned(),
        change,
    }
}

pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    match observed {
        None => {
            let tags = super::iam::tags(&desired.tags)?;
            let created = aws
                .iam
                .create_open_id_connect_provider()
                .url(format!("https://{HOST}"))
                .client_id_list(AUDIENCE)
                .set_thumbprint_list(Some(THUMBPRINTS.iter().map(|t| (*t).to_owned()).collect()))
                .set_tags(Some(tags))
                .send()
                .await;
            match created {
                Ok(_) => Ok(()),
                // Made a moment ago by an interrupted run, or by someone else.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_entity_already_exists_exception()) =>
                {
                    Ok(())
                }
                Err(err) => Err(sdk_error(format!("creating the OIDC provider {HOST}"))(err)),
            }
        }
        Some(_) => aws
            .iam
            .add_client_id_to_open_id_connect_provider()
            .open_id_connect_provider_arn(&desired.arn)
            .client_id(AUDIENCE)
            .send()
            .await
            .map(drop)
            .map_err(sdk_error(format!(
                "adding the {AUDIENCE} audience to {HOST}"
            ))),
    }
}
