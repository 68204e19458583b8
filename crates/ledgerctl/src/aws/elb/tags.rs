//! The tags of the load balancer, its target group and its listeners: Elastic Load Balancing
//! reads and writes them by ARN, the same way for all three.

use std::collections::BTreeMap;

use anyhow::Result;
use aws_sdk_elasticloadbalancingv2::types::Tag;

use crate::aws::{Aws, sdk_error};

/// Tags as this SDK takes them.
pub(super) fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// The tags of the load balancer, target group or listener `arn`; `what` names it in an error.
pub(super) async fn tags_of(aws: &Aws, arn: &str, what: &str) -> Result<BTreeMap<String, String>> {
    let reply = aws
        .elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(sdk_error(format!("reading the tags of {what}")))?;
    Ok(reply
        .tag_descriptions()
        .iter()
        .flat_map(|description| description.tags())
        .filter_map(|tag| {
            Some((
                tag.key()?.to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

/// Adds to the resource `arn` the `desired` tags that `observed` lacks or has with another value.
pub(super) async fn add_missing_tags(
    aws: &Aws,
    arn: &str,
    observed: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    what: &str,
) -> Result<()> {
    if !crate::stack::tags_missing(desired, observed) {
        return Ok(());
    }
    aws.elb
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(tag_list(desired)))
        .send()
        .await
        .map_err(sdk_error(format!("tagging {what}")))?;
    Ok(())
}
