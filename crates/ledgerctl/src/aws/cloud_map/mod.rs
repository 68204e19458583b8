//! Cloud Map (`topology: ecs`): the private DNS namespace `ledgerly.internal` in the VPC, and
//! in it the stack's service `<stack>-api`, where ECS registers each running task of the API as
//! an A record while it is healthy. Prometheus on the ops instance finds the tasks to scrape by
//! asking for the A records of `<stack>-api.ledgerly.internal`, so it follows the service as it
//! scales.
//!
//! The namespace is shared by every Ledgerly stack in the VPC (a namespace is a private hosted
//! zone, billed each month; one serves them all): it carries the tag `ledgerly:shared`, not a
//! stack's, and destroy leaves it, as it leaves GitHub's OIDC provider.
//!
//! Cloud Map makes and deletes namespaces asynchronously: those calls start an operation, which
//! is followed until it has finished.

mod service;

pub(crate) use service::DiscoveryService;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_servicediscovery::operation::create_private_dns_namespace::CreatePrivateDnsNamespaceError;
use aws_sdk_servicediscovery::types::{
    FilterCondition, NamespaceFilter, NamespaceFilterName, NamespaceType, Operation,
    OperationStatus, Tag,
};

use super::{Aws, found, has_code, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The namespace, shared by the VPC's stacks.
pub(crate) const NAMESPACE: &str = "ledgerly.internal";

/// The tag that marks the shared namespace as Ledgerly's.
const SHARED_TAG: (&str, &str) = ("ledgerly:shared", "cloud-map-namespace");

/// The stack's service: its tasks are `<stack>-api.ledgerly.internal`.
pub(crate) fn service_name(config: &StackConfig) -> String {
    config.name("api")
}

/// How long a namespace's creation or deletion may take, and how often it is looked at.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const OPERATION_POLL: Duration = Duration::from_secs(3);

/// The private DNS namespace, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) vpc: String,
    /// Creating it again with this id while an interrupted creation goes on is the same request.
    pub(crate) request_id: String,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamespaceObserved {
    pub(crate) id: String,
    pub(crate) arn: String,
    pub(crate) tags: BTreeMap<String, String>,
}

fn desired_namespace(config: &StackConfig, known: &Known) -> Vec<Namespace> {
    if config.ecs.is_none() {
        return vec![];
    }
    vec![Namespace {
        name: NAMESPACE.into(),
        vpc: known.vpc.clone(),
        request_id: format!("ledgerly-namespace-{}", known.vpc),
        tags: BTreeMap::from([(SHARED_TAG.0.to_owned(), SHARED_TAG.1.to_owned())]),
    }]
}

/// The stack's tags as this SDK's type.
fn tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .context("building a tag")
        })
        .collect()
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

/// The tags of the namespace or service `arn`; `None` when it is gone.
async fn read_tags(aws: &Aws, arn: &str, what: &str) -> Result<Option<BTreeMap<String, String>>> {
    let reply = found(
        aws.discovery
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await,
        |e| e.is_resource_not_found_exception(),
        || format!("reading the tags of {what}"),
    )?;
    Ok(reply.map(|r| {
        r.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect()
    }))
}

/// Adds the tags of `desired` that `observed` lacks to the namespace or service `arn`.
async fn add_tags(
    aws: &Aws,
    arn: &str,
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
    what: &str,
) -> Result<()> {
    let missing = missing_tags(desired, observed);
    if missing.is_empty() {
        return Ok(());
    }
    aws.discovery
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags(&missing)?))
        .send()
        .await
        .map_err(sdk_error(format!("tagging {what}")))?;
    Ok(())
}

/// What a finished operation came to (`what` it did, for the error); `None` while it runs.
fn outcome(operation: &Operation, what: &str) -> Option<Result<()>> {
    match operation.status()? {
        OperationStatus::Success => Some(Ok(())),
        OperationStatus::Fail => Some(Err(anyhow::anyhow!(
            "{what} failed: {}",
            operation
                .error_message()
                .unwrap_or("Cloud Map gave no reason")
        ))),
        _ => None,
    }
}

/// Follows the Cloud Map operation `id` until it has succeeded: an error if it failed or has
/// not finished within [`OPERATION_TIMEOUT`].
async fn wait_for(aws: &Aws, id: &str, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
    loop {
        let reply = aws
            .discovery
            .get_operation()
            .operation_id(id)
            .send()
            .await
            .map_err(sdk_error(format!("following {what}")))?;
        let operation = reply
            .operation()
            .with_context(|| format!("Cloud Map did not describe the operation {id} ({what})"))?;
        if let Some(result) = outcome(operation, what) {
            return result;
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "gave up waiting for {what} after {} minutes; it may still finish: run the command again later",
                OPERATION_TIMEOUT.as_secs().div_ceil(60)
            );
        }
        tokio::time::sleep(OPERATION_POLL).await;
    }
}

/// The private DNS namespace `name` as Cloud Map has it; `None` if there is none.
pub(crate) async fn find_namespace(aws: &Aws, name: &str) -> Result<Option<NamespaceObserved>> {
    let filter = NamespaceFilter::builder()
        .name(NamespaceFilterName::Type)
        .values(NamespaceType::DnsPrivate.as_str())
        .condition(FilterCondition::Eq)
        .build()
        .context("building a namespace filter")?;
    let mut pages = aws
        .discovery
        .list_namespaces()
        .filters(filter)
        .into_paginator()
        .send();
    let mut namespace = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_error(format!("looking for the namespace {name}")))?;
        if let Some(matching) = page
            .namespaces()
            .iter()
            .find(|n| n.name() == Some(name) && n.r#type() == Some(&NamespaceType::DnsPrivate))
        {
            namespace = Some(matching.clone());
            break;
        }
    }
    let Some(namespace) = namespace else {
        return Ok(None);
    };
    let (Some(id), Some(arn)) = (namespace.id(), namespace.arn()) else {
        anyhow::bail!("Cloud Map listed the namespace {name} without its id or ARN");
    };
    let Some(tags) = read_tags(aws, arn, &format!("the namespace {name}")).await? else {
        return Ok(None);
    };
    Ok(Some(NamespaceObserved {
        id: id.to_owned(),
        arn: arn.to_owned(),
        tags,
    }))
}

impl Namespace {
    /// Starts creating the namespace (`request_id`: `None` for a new one); the operation to
    /// follow, or `None` when the namespace exists already.
    async fn start_create(&self, aws: &Aws, request_id: Option<&str>) -> Result<Option<String>> {
        let name = &self.name;
        let reply = aws
            .discovery
            .create_private_dns_namespace()
            .name(name)
            .vpc(&self.vpc)
            .set_creator_request_id(request_id.map(str::to_owned))
            .description("Ledgerly: the API's ECS tasks, for Prometheus")
            .set_tags(Some(tags(&self.tags)?))
            .send()
            .await;
        match reply {
            Ok(reply) => reply
                .operation_id()
                .map(|id| Some(id.to_owned()))
                .with_context(|| format!("Cloud Map gave no operation creating {name}")),
            Err(err) => match err.as_service_error() {
                // An interrupted run's creation is still going on.
                Some(CreatePrivateDnsNamespaceError::DuplicateRequest(e)) => {
                    Ok(e.duplicate_operation_id().map(str::to_owned))
                }
                Some(CreatePrivateDnsNamespaceError::NamespaceAlreadyExists(_)) => Ok(None),
                // What an emulator answers for a namespace that exists.
                _ if has_code(&err, "ConflictingDomainExists") => Ok(None),
                _ => Err(sdk_error(format!("creating the namespace {name}"))(err)),
            },
        }
    }

    /// Creates the namespace and waits until it is there.
    async fn create(&self, aws: &Aws) -> Result<NamespaceObserved> {
        let name = &self.name;
        let what = format!("the creation of the namespace {name}");
        if let Some(operation) = self.start_create(aws, Some(&self.request_id)).await? {
            wait_for(aws, &operation, &what).await?;
        }
        if let Some(have) = find_namespace(aws, name).await? {
            return Ok(have);
        }
        // The stable request id can answer with the finished operation of a namespace deleted
        // since (a destroy): created once more under a new id.
        if let Some(operation) = self.start_create(aws, None).await? {
            wait_for(aws, &operation, &what).await?;
        }
        find_namespace(aws, name).await?.with_context(|| {
            format!(
                "the namespace {name} could be neither created nor found; a private hosted zone of that name may already be associated with the VPC {}",
                self.vpc
            )
        })
    }
}

impl Resource for Namespace {
    type Observed = NamespaceObserved;
    const KIND: &'static str = "cloud map namespace";

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        Ok(desired_namespace(config, known))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<NamespaceObserved>> {
        find_namespace(aws, &self.name).await
    }

    fn learn(&self, observed: Option<&NamespaceObserved>, known: &mut Known) {
        if let Some(have) = observed {
            known.ecs.namespace = Some(have.id.clone());
        }
    }

    /// Its VPC is given at creation only: not compared.
    fn diff(&self, observed: Option<&NamespaceObserved>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| diff.tags(&have.tags, &self.tags))
    }

    async fn apply(
        &self,
        aws: &Aws,
        observed: Option<&NamespaceObserved>,
        known: &mut Known,
    ) -> Result<()> {
        let have = match observed {
            Some(have) => have.clone(),
            None => self.create(aws).await?,
        };
        known.ecs.namespace = Some(have.id.clone());
        let what = format!("the namespace {}", self.name);
        add_tags(aws, &have.arn, &self.tags, &have.tags, &what).await
    }

    /// Nothing: the namespace is shared by the VPC's stacks and left in place (an empty one
    /// costs its hosted zone's monthly fee; delete it with `aws servicediscovery
    /// delete-namespace` once no stack uses it).
    async fn delete(_: &Aws, _: &StackConfig, _: &Known) -> Result<Vec<String>> {
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "stack: ledgerly-test\nregion: eu-west-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: ops\n";

    fn config(extra: &str) -> StackConfig {
        StackConfig::parse(&format!("{STACK}{extra}"), "test").unwrap_or_else(|e| panic!("{e}"))
    }

    fn fields(change: Change) -> Vec<String> {
        match change {
            Change::Update { fields } => fields
                .iter()
                .map(|f| format!("{}: {} → {}", f.field, f.from, f.to))
                .collect(),
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn the_namespace_is_the_vpcs_shared_one_and_only_wanted_with_ecs() {
        let known = Known {
            vpc: "vpc-0abc1234".into(),
            ..Known::default()
        };
        assert!(desired_namespace(&config(""), &known).is_empty());
        let ecs = config("topology: ecs\n");
        let namespace = &desired_namespace(&ecs, &known)[0];
        assert_eq!(namespace.name, "ledgerly.internal");
        assert_eq!(namespace.vpc, "vpc-0abc1234");
        assert_eq!(namespace.request_id, "ledgerly-namespace-vpc-0abc1234");
        assert!(
            !namespace.tags.contains_key("ledgerly:stack"),
            "shared: no stack's own"
        );
    }

    #[test]
    fn the_namespace_drifts_in_its_tags_only() {
        let ecs = config("topology: ecs\n");
        let namespace = &desired_namespace(&ecs, &Known::default())[0];
        let have = NamespaceObserved {
            id: "ns-1".into(),
            arn: "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-1".into(),
            tags: BTreeMap::new(),
        };
        assert_eq!(
            fields(namespace.diff(Some(&have), &Known::default())),
            ["tags.ledgerly:shared: (none) → cloud-map-namespace"]
        );
        let mut known = Known::default();
        namespace.learn(Some(&have), &mut known);
        assert_eq!(known.ecs.namespace.as_deref(), Some("ns-1"));
    }

    #[test]
    fn an_operation_is_over_when_it_succeeded_or_failed() {
        let operation = |status| Operation::builder().status(status).build();
        assert!(outcome(&operation(OperationStatus::Pending), "x").is_none());
        assert!(outcome(&operation(OperationStatus::Submitted), "x").is_none());
        assert!(matches!(
            outcome(&operation(OperationStatus::Success), "x"),
            Some(Ok(()))
        ));
        let failed = Operation::builder()
            .status(OperationStatus::Fail)
            .error_message("the VPC is gone")
            .build();
        let err = outcome(&failed, "the creation of the namespace n")
            .expect("over")
            .expect_err("failed");
        assert_eq!(
            err.to_string(),
            "the creation of the namespace n failed: the VPC is gone"
        );
    }
}
