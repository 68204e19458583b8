//! The stack's ECS cluster, named after the stack: where the API's Fargate service runs. Its
//! capacity providers are Fargate and Fargate Spot, Fargate its default. Container Insights is
//! off: the stack's monitoring is Prometheus on the ops instance, and Container Insights is
//! billed per metric it sends to CloudWatch.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context as _, Result};
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, ClusterField, ClusterSetting, ClusterSettingName, Tag,
};

use crate::aws::{
    Aws, PROPAGATION_ATTEMPTS, PROPAGATION_DELAY, ensure_owned, found, retry_propagation, sdk_error,
};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The cluster: the stack's own name.
pub(crate) fn name(config: &StackConfig) -> String {
    config.stack.clone()
}

/// The status of a cluster in use; a deleted one stays visible a while as `INACTIVE`.
const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";

/// Container Insights' setting: off (see the module's header).
const CONTAINER_INSIGHTS: &str = "disabled";

/// One entry of a capacity provider strategy: `base` tasks on `provider` first, then the rest
/// shared by `weight`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Share {
    pub(crate) provider: String,
    pub(crate) base: i32,
    pub(crate) weight: i32,
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (base {}, weight {})",
            self.provider, self.base, self.weight
        )
    }
}

/// The cluster, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cluster {
    pub(crate) name: String,
    pub(crate) container_insights: String,
    /// Sorted.
    pub(crate) capacity_providers: Vec<String>,
    /// The default capacity provider strategy, sorted.
    pub(crate) default_strategy: Vec<Share>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    /// `ACTIVE`, `PROVISIONING`, `DEPROVISIONING` or `FAILED`.
    pub(crate) status: String,
    pub(crate) container_insights: Option<String>,
    /// Sorted.
    pub(crate) capacity_providers: Vec<String>,
    /// Sorted.
    pub(crate) default_strategy: Vec<Share>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The stack's cluster, when it runs the ECS topology.
fn desired(config: &StackConfig) -> Vec<Cluster> {
    if config.ecs.is_none() {
        return vec![];
    }
    vec![Cluster {
        name: name(config),
        container_insights: CONTAINER_INSIGHTS.into(),
        capacity_providers: vec!["FARGATE".into(), "FARGATE_SPOT".into()],
        default_strategy: vec![Share {
            provider: "FARGATE".into(),
            base: 0,
            weight: 1,
        }],
        tags: config.tags(),
    }]
}

/// What a described cluster is, compared as the stack file's; `None` when it was deleted.
fn observed(cluster: &aws_sdk_ecs::types::Cluster) -> Option<Observed> {
    let status = cluster.status().unwrap_or_default();
    if status == INACTIVE {
        return None;
    }
    let mut capacity_providers = cluster.capacity_providers().to_vec();
    capacity_providers.sort();
    let mut default_strategy: Vec<Share> = cluster
        .default_capacity_provider_strategy()
        .iter()
        .map(|item| Share {
            provider: item.capacity_provider().to_owned(),
            base: item.base(),
            weight: item.weight(),
        })
        .collect();
    default_strategy.sort();
    Some(Observed {
        arn: cluster.cluster_arn().unwrap_or_default().to_owned(),
        status: status.to_owned(),
        container_insights: cluster
            .settings()
            .iter()
            .find(|s| s.name() == Some(&ClusterSettingName::ContainerInsights))
            .and_then(|s| s.value())
            .map(str::to_owned),
        capacity_providers,
        default_strategy,
        tags: cluster
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
    })
}

/// The cluster `name` as ECS has it; `None` if there is none (or only a deleted one).
pub(crate) async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = aws
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Settings)
        .include(ClusterField::Tags)
        .send()
        .await
        .map_err(sdk_error(format!("describing the ECS cluster {name}")))?;
    Ok(reply
        .clusters()
        .iter()
        .filter(|c| c.cluster_name() == Some(name))
        .find_map(observed))
}

fn shown_list(items: &[impl fmt::Display]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tags of `desired` that `observed` lacks or has with another value, as ECS takes them.
fn missing_tags(
    desired: &BTreeMap<String, String>,
    observed: &BTreeMap<String, String>,
) -> Vec<Tag> {
    desired
        .iter()
        .filter(|(k, v)| observed.get(*k) != Some(*v))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Cluster {
    fn insights(&self) -> ClusterSetting {
        ClusterSetting::builder()
            .name(ClusterSettingName::ContainerInsights)
            .value(&self.container_insights)
            .build()
    }

    fn strategy(&self) -> Result<Vec<CapacityProviderStrategyItem>> {
        self.default_strategy
            .iter()
            .map(|share| {
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&share.provider)
                    .base(share.base)
                    .weight(share.weight)
                    .build()
                    .context("building a capacity provider strategy")
            })
            .collect()
    }

    /// Creates the cluster with everything set, retrying while ECS's service-linked role is
    /// new to the account.
    async fn create(&self, aws: &Aws) -> Result<()> {
        let name = &self.name;
        let strategy = self.strategy()?;
        let tags = missing_tags(&self.tags, &BTreeMap::new());
        let create = || {
            aws.ecs
                .create_cluster()
                .cluster_name(name)
                .settings(self.insights())
                .set_capacity_providers(Some(self.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(strategy.clone()))
                .set_tags(Some(tags.clone()))
                .send()
        };
        retry_propagation(
            &format!("creating the ECS cluster {name}"),
            PROPAGATION_ATTEMPTS,
            PROPAGATION_DELAY,
            // The account's first cluster: ECS has only just made its service-linked role, which
            // capacity providers need.
            |err| {
                err.as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_exception())
                    && format!("{err:?}").contains("service linked role")
            },
            create,
        )
        .await
        .map_err(sdk_error(format!("creating the ECS cluster {name}")))?;
        Ok(())
    }

    /// Changes what differs from `have`.
    async fn update(&self, aws: &Aws, have: &Observed) -> Result<()> {
        let name = &self.name;
        if have.container_insights.as_deref() != Some(self.container_insights.as_str()) {
            aws.ecs
                .update_cluster()
                .cluster(name)
                .settings(self.insights())
                .send()
                .await
                .map_err(sdk_error(format!(
                    "setting Container Insights to {} on the ECS cluster {name}",
                    self.container_insights
                )))?;
        }
        if have.capacity_providers != self.capacity_providers
            || have.default_strategy != self.default_strategy
        {
            aws.ecs
                .put_cluster_capacity_providers()
                .cluster(name)
                .set_capacity_providers(Some(self.capacity_providers.clone()))
                .set_default_capacity_provider_strategy(Some(self.strategy()?))
                .send()
                .await
                .map_err(sdk_error(format!(
                    "setting the capacity providers of the ECS cluster {name}"
                )))?;
        }
        let missing = missing_tags(&self.tags, &have.tags);
        if !missing.is_empty() {
            aws.ecs
                .tag_resource()
                .resource_arn(&have.arn)
                .set_tags(Some(missing))
                .send()
                .await
                .map_err(sdk_error(format!("tagging the ECS cluster {name}")))?;
        }
        Ok(())
    }
}

impl Resource for Cluster {
    type Observed = Observed;
    const KIND: &'static str = "ecs cluster";

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
                "container_insights",
                have.container_insights.as_deref().unwrap_or("(none)"),
                &self.container_insights,
            );
            diff.field(
                "capacity_providers",
                shown_list(&have.capacity_providers),
                shown_list(&self.capacity_providers),
            );
            diff.field(
                "default_capacity_provider_strategy",
                shown_list(&have.default_strategy),
                shown_list(&self.default_strategy),
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// A new cluster is made whole; an existing one has only what differs changed.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        match observed {
            Some(have) => self.update(aws, have).await,
            None => self.create(aws).await,
        }
    }

    fn unhealthy(observed: &Observed) -> Option<String> {
        (observed.status != ACTIVE).then(|| observed.status.to_lowercase())
    }

    /// Deletes the stack's cluster. Its service is deleted before it (the service's kind comes
    /// after the cluster's), so a cluster that still has services or tasks is an error.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        ensure_owned(&have.tags, config, format_args!("the ECS cluster {name}"))?;
        let reply = aws.ecs.delete_cluster().cluster(&name).send().await;
        let deleted = found(
            reply,
            |e| e.is_cluster_not_found_exception(),
            || format!("deleting the ECS cluster {name}"),
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

    fn described(status: &str, spot_first: bool) -> aws_sdk_ecs::types::Cluster {
        let (first, second) = if spot_first {
            ("FARGATE_SPOT", "FARGATE")
        } else {
            ("FARGATE", "FARGATE_SPOT")
        };
        aws_sdk_ecs::types::Cluster::builder()
            .cluster_name("ledgerly-test")
            .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/ledgerly-test")
            .status(status)
            .settings(
                ClusterSetting::builder()
                    .name(ClusterSettingName::ContainerInsights)
                    .value("disabled")
                    .build(),
            )
            .capacity_providers(first)
            .capacity_providers(second)
            .default_capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider("FARGATE")
                    .weight(1)
                    .build()
                    .expect("a provider is given"),
            )
            .tags(
                Tag::builder()
                    .key("ledgerly:stack")
                    .value("ledgerly-test")
                    .build(),
            )
            .build()
    }

    #[test]
    fn the_cluster_is_the_stack_and_only_wanted_with_ecs() {
        assert!(desired(&config("")).is_empty());
        let wanted = desired(&config("topology: ecs\n"));
        assert_eq!(wanted.len(), 1);
        assert_eq!(wanted[0].name, "ledgerly-test");
        assert_eq!(wanted[0].container_insights, "disabled");
    }

    #[test]
    fn a_described_cluster_compares_equal_whatever_the_order_and_a_deleted_one_is_absent() {
        let cluster = &desired(&config("topology: ecs\n"))[0];
        let known = Known::default();
        let have = observed(&described("ACTIVE", true)).expect("active");
        assert_eq!(have.capacity_providers, ["FARGATE", "FARGATE_SPOT"]);
        assert_eq!(cluster.diff(Some(&have), &known), Change::Unchanged);
        assert_eq!(Cluster::unhealthy(&have), None);
        assert_eq!(observed(&described("INACTIVE", false)), None);
        let provisioning = observed(&described("PROVISIONING", false)).expect("there");
        assert_eq!(
            Cluster::unhealthy(&provisioning).as_deref(),
            Some("provisioning")
        );
    }

    #[test]
    fn insights_capacity_providers_and_tags_are_drift() {
        let cluster = &desired(&config("topology: ecs\n"))[0];
        let have = Observed {
            arn: "arn:aws:ecs:eu-west-1:123456789012:cluster/ledgerly-test".into(),
            status: "ACTIVE".into(),
            container_insights: Some("enabled".into()),
            capacity_providers: vec![],
            default_strategy: vec![],
            tags: BTreeMap::new(),
        };
        let Change::Update { fields } = cluster.diff(Some(&have), &Known::default()) else {
            panic!("expected an update");
        };
        let shown: Vec<_> = fields
            .iter()
            .map(|f| format!("{}: {} → {}", f.field, f.from, f.to))
            .collect();
        assert_eq!(
            shown,
            [
                "container_insights: enabled → disabled",
                "capacity_providers: (none) → FARGATE, FARGATE_SPOT",
                "default_capacity_provider_strategy: (none) → FARGATE (base 0, weight 1)",
                "tags.ledgerly:stack: (none) → ledgerly-test",
            ]
        );
    }
}
