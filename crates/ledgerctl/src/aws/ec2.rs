//! What the stack's EC2 resources (security groups, key pair, instance, Elastic IP) share: their
//! tags, read and written, and finding one by the stack's tag and its `Name`.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{Aws, sdk_error};
use crate::stack::StackConfig;

/// Tags as EC2 gives them, as a map.
pub(crate) fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// `tags` on a resource of `kind` made by the same call.
pub(crate) fn tag_specification(
    kind: ResourceType,
    tags: &BTreeMap<String, String>,
) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tag_list(tags)))
        .build()
}

/// Adds (or overwrites) `tags` on the resource `id`; `what` names it in an error.
pub(crate) async fn create_tags(
    aws: &Aws,
    id: &str,
    tags: &BTreeMap<String, String>,
    what: &str,
) -> anyhow::Result<()> {
    aws.ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(tag_list(tags)))
        .send()
        .await
        .map_err(sdk_error(format!("tagging {what}")))?;
    Ok(())
}

/// The filters finding the stack's resource called `name`.
pub(crate) fn named(config: &StackConfig, name: String) -> [Filter; 2] {
    [
        Filter::builder()
            .name(format!("tag:{}", crate::stack::config::STACK_TAG))
            .values(&config.stack)
            .build(),
        Filter::builder().name("tag:Name").values(name).build(),
    ]
}
