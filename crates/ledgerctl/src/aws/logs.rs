//! The API's log group in CloudWatch Logs (`topology: ecs`): the ECS tasks' output, which the
//! task definition's `awslogs` driver sends there under the stream prefix [`STREAM_PREFIX`], kept
//! for `ecs.log_retention_days`.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::{Aws, ensure_owned, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The log group: `/ledgerly/<stack>/api`.
pub(crate) fn name(config: &StackConfig) -> String {
    format!("/ledgerly/{}/api", config.stack)
}

/// The stream prefix of the API's logs: its streams are `api/api/<task id>`.
pub(crate) const STREAM_PREFIX: &str = "api";

/// The stream prefix of the one-off migration tasks' logs: `migrate/migrate/<task id>`.
pub(crate) const MIGRATION_STREAM_PREFIX: &str = "migrate";

/// The log group, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogGroup {
    pub(crate) name: String,
    pub(crate) retention_days: u32,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    /// `None`: its events never expire.
    pub(crate) retention_days: Option<u32>,
    /// The ARN as tagging takes it (without the `:*` DescribeLogGroups adds to `arn`).
    pub(crate) arn: String,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The stack's log group, when it runs the ECS topology.
fn desired(config: &StackConfig) -> Vec<LogGroup> {
    let Some(ecs) = &config.ecs else {
        return vec![];
    };
    vec![LogGroup {
        name: name(config),
        retention_days: ecs.log_retention_days,
        tags: config.tags(),
    }]
}

/// A log group's ARN as TagResource and ListTagsForResource take it: `logGroupArn`, or else
/// `arn` without its trailing `:*`.
fn tagging_arn(log_group_arn: Option<&str>, arn: Option<&str>) -> Option<String> {
    log_group_arn
        .or_else(|| arn.map(|a| a.strip_suffix(":*").unwrap_or(a)))
        .map(str::to_owned)
}

fn shown_retention(days: Option<u32>) -> String {
    days.map_or_else(|| "never expire".to_owned(), |d| format!("{d} days"))
}

/// The tags of `desired` that `observed` lacks or has with another value.
fn missing_tags(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The log group `name` as CloudWatch Logs has it; `None` if there is none.
pub(crate) async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let mut pages = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .send();
    let mut group = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error(format!("looking for the log group {name}")))?;
        // The prefix matches longer names too.
        if let Some(matching) = page
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            group = Some(matching.clone());
            break;
        }
    }
    let Some(group) = group else {
        return Ok(None);
    };
    let arn = tagging_arn(group.log_group_arn(), group.arn()).with_context(|| {
        format!("CloudWatch Logs described the log group {name} without its ARN")
    })?;
    let reply = found(
        aws.logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        || format!("reading the tags of the log group {name}"),
    )?;
    // Deleted in between.
    let Some(reply) = reply else {
        return Ok(None);
    };
    Ok(Some(Observed {
        retention_days: group
            .retention_in_days()
            .and_then(|d| u32::try_from(d).ok()),
        arn,
        tags: reply
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

impl LogGroup {
    /// Creates the log group with its tags and sets its retention; one that turns out to exist
    /// already is brought in line instead.
    async fn create(&self, aws: &Aws) -> Result<()> {
        let name = &self.name;
        let created = aws
            .logs
            .create_log_group()
            .log_group_name(name)
            .set_tags(Some(self.tags.clone().into_iter().collect()))
            .send()
            .await;
        let created = found(
            created,
            |e| e.is_resource_already_exists_exception(),
            || format!("creating the log group {name}"),
        )?;
        if created.is_none() {
            // Made by a run interrupted before it could say so.
            let have = observe(aws, name)
                .await?
                .with_context(|| format!("the log group {name} exists, yet is not listed"))?;
            return self.update(aws, &have).await;
        }
        self.set_retention(aws).await
    }

    /// Changes what differs from `have`.
    async fn update(&self, aws: &Aws, have: &Observed) -> Result<()> {
        let name = &self.name;
        if have.retention_days != Some(self.retention_days) {
            self.set_retention(aws).await?;
        }
        let missing = missing_tags(&self.tags, &have.tags);
        if !missing.is_empty() {
            aws.logs
                .tag_resource()
                .resource_arn(&have.arn)
                .set_tags(Some(missing.into_iter().collect()))
                .send()
                .await
                .map_err(sdk_error(format!("tagging the log group {name}")))?;
        }
        Ok(())
    }

    async fn set_retention(&self, aws: &Aws) -> Result<()> {
        let name = &self.name;
        let days = i32::try_from(self.retention_days)
            .with_context(|| format!("{} days is no retention period", self.retention_days))?;
        aws.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(sdk_error(format!(
                "keeping the log group {name}'s events {days} days"
            )))?;
        Ok(())
    }
}

impl Resource for LogGroup {
    type Observed = Observed;
    const KIND: &'static str = "log group";

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(desired(config))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field(
                "retention",
                shown_retention(have.retention_days),
                shown_retention(Some(self.retention_days)),
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        match observed {
            Some(have) => self.update(aws, have).await,
            None => self.create(aws).await,
        }
    }

    /// Deletes the stack's log group with the logs in it.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        ensure_owned(&have.tags, config, format_args!("the log group {name}"))?;
        let reply = aws
            .logs
            .delete_log_group()
            .log_group_name(&name)
            .send()
            .await;
        let deleted = found(
            reply,
            |e| e.is_resource_not_found_exception(),
            || format!("deleting the log group {name}"),
        )?;
        Ok(deleted.map(|_| name).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "stack: ledgerly-test\nregion: eu-west-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: ops\n";

    fn config(extra: &str) -> StackConfig {
        StackConfig::parse(&format!("{STACK}{extra}"), "test").unwrap_or_else(|e| panic!("{e}"))
    }

    fn observed(retention_days: Option<u32>, tags: BTreeMap<String, String>) -> Observed {
        Observed {
            retention_days,
            arn: "arn:aws:logs:eu-west-1:123456789012:log-group:x".into(),
            tags,
        }
    }

    #[test]
    fn the_log_group_is_named_after_the_stack_and_only_wanted_with_ecs() {
        assert!(desired(&config("")).is_empty());
        let wanted = desired(&config("topology: ecs\necs:\n  log_retention_days: 90\n"));
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].name, "/ledgerly/ledgerly-test/api");
        assert_eq!(wanted[0].retention_days, 90);
        assert_eq!(wanted[0].tags["ledgerly:stack"], "ledgerly-test");
    }

    #[test]
    fn tagging_takes_the_arn_without_its_wildcard() {
        let bare = "arn:aws:logs:eu-west-1:123456789012:log-group:/ledgerly/x/api";
        let starred = format!("{bare}:*");
        assert_eq!(
            tagging_arn(Some(bare), Some(&starred)).as_deref(),
            Some(bare)
        );
        assert_eq!(tagging_arn(None, Some(&starred)).as_deref(), Some(bare));
        assert_eq!(tagging_arn(None, Some(bare)).as_deref(), Some(bare));
        assert_eq!(tagging_arn(None, None), None);
    }

    #[test]
    fn retention_and_missing_tags_are_drift() {
        let group = &desired(&config("topology: ecs\n"))[0];
        let known = Known::default();
        assert_eq!(group.diff(None, &known), Change::Create);
        let same = observed(Some(30), group.tags.clone());
        assert_eq!(group.diff(Some(&same), &known), Change::Unchanged);
        let drifted = observed(None, BTreeMap::new());
        let Change::Update { fields } = group.diff(Some(&drifted), &known) else {
            panic!("expected an update");
        };
        let shown: Vec<_> = fields
            .iter()
            .map(|f| format!("{}: {} → {}", f.field, f.from, f.to))
            .collect();
        assert_eq!(
            shown,
            [
                "retention: never expire → 30 days",
                "tags.ledgerly:stack: (none) → ledgerly-test"
            ]
        );
    }

    #[test]
    fn tags_people_added_are_kept_and_only_ours_are_put() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let desired = map(&[("ledgerly:stack", "s"), ("team", "ops")]);
        let observed = map(&[("team", "ops"), ("owner", "ana")]);
        assert_eq!(
            missing_tags(&desired, &observed),
            map(&[("ledgerly:stack", "s")])
        );
    }
}
