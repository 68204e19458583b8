//! The API service's autoscaling (`topology: ecs`): its scalable target — the service's task
//! count, kept between `ecs.tasks.min` and `max` — and the target-tracking policies that move
//! it: average CPU (`<stack>-cpu`) and requests per task through the load balancer
//! (`<stack>-requests`), as `ecs.scaling` asks. The policies are a kind of their own
//! ([`ScalingPolicies`], in `policies`). Like the service, both wait for the first deploy.
//!
//! moto (5.2.6) does not implement Application Auto Scaling's tagging operations: there the
//! target's tags are unknown, neither compared nor required before a delete.

mod policies;

pub(crate) use policies::ScalingPolicies;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_applicationautoscaling::config::retry::RetryConfig;
use aws_sdk_applicationautoscaling::error::ProvideErrorMetadata;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::{Aws, ensure_owned, found, sdk_error, unimplemented};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig, tags_missing};

/// What the plan says a kind here waits for while the service does.
const WAITS_FOR: &str = "after the ecs service";

/// The service's scalable target: `service/<cluster>/api`.
pub(crate) fn resource_id(config: &StackConfig) -> String {
    format!(
        "service/{}/{}",
        super::ecs::cluster::name(config),
        super::ecs::service::NAME
    )
}

/// The ALB request count metric's resource label, `app/<lb-name>/<lb-id>/targetgroup/<tg-name>/
/// <tg-id>`, from the load balancer's and the target group's ARNs; `None` if they are not an
/// Application Load Balancer's and a target group's.
pub(crate) fn resource_label(load_balancer: &str, target_group: &str) -> Option<String> {
    let (_, balancer) = load_balancer.split_once(":loadbalancer/")?;
    let (_, group) = target_group.split_once(":targetgroup/")?;
    let whole = |path: &str, parts: usize| {
        let segments: Vec<&str> = path.split('/').collect();
        segments.len() == parts && segments.iter().all(|s| !s.is_empty())
    };
    (balancer.starts_with("app/") && whole(balancer, 3) && whole(group, 2))
        .then(|| format!("{balancer}/targetgroup/{group}"))
}

/// Whether a delete found nothing to delete as moto says it: a ValidationException "No scalable
/// target found …" or "No scaling policy found …" (AWS: ObjectNotFoundException).
fn moto_not_found(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ValidationException") && e.message().is_some_and(|m| m.starts_with("No scal"))
}

/// The scalable target's tags; `None` when they cannot be read (moto).
async fn target_tags(aws: &Aws, arn: &str) -> Result<Option<BTreeMap<String, String>>> {
    let reply = aws
        .scaling
        .list_tags_for_resource()
        .resource_arn(arn)
        .customize()
        .config_override(quick_retry())
        .send()
        .await;
    match reply {
        Ok(reply) => Ok(Some(
            reply
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        )),
        Err(err) if unimplemented(&err) => Ok(None),
        Err(err) => Err(sdk_error(format!(
            "reading the tags of the scalable target {arn}"
        ))(err)),
    }
}

/// The service's task count as Application Auto Scaling keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalableTarget {
    pub(crate) resource_id: String,
    pub(crate) min: i32,
    pub(crate) max: i32,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedTarget {
    pub(crate) arn: Option<String>,
    pub(crate) min: i32,
    pub(crate) max: i32,
    /// `None` when they cannot be read (moto).
    pub(crate) tags: Option<BTreeMap<String, String>>,
}

/// One quick retry, for reads the emulator does not implement: the client's patient policy
/// would spend a minute on its 500s.
pub(crate) fn quick_retry() -> aws_sdk_applicationautoscaling::config::Builder {
    aws_sdk_applicationautoscaling::config::Builder::default().retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(200)),
    )
}

/// The service's scalable target `resource_id` as AWS describes it; `None` if there is none.
pub(crate) async fn describe_target(
    aws: &Aws,
    resource_id: &str,
) -> Result<Option<aws_sdk_applicationautoscaling::types::ScalableTarget>> {
    let reply = aws
        .scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await
        .map_err(sdk_error(format!(
            "reading the scalable target {resource_id}"
        )))?;
    Ok(reply
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == resource_id)
        .cloned())
}

/// The scalable target `resource_id` as Application Auto Scaling has it; `None` if there is none.
async fn observe_target(aws: &Aws, resource_id: &str) -> Result<Option<ObservedTarget>> {
    let Some(target) = describe_target(aws, resource_id).await? else {
        return Ok(None);
    };
    let arn = target.scalable_target_arn().map(str::to_owned);
    let tags = match &arn {
        Some(arn) => target_tags(aws, arn).await?,
        None => None,
    };
    Ok(Some(ObservedTarget {
        arn,
        min: target.min_capacity(),
        max: target.max_capacity(),
        tags,
    }))
}

impl Resource for ScalableTarget {
    type Observed = ObservedTarget;
    const KIND: &'static str = "scalable target";
    const AFTER: &'static [&'static str] = &["ecs service"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        let Some(ecs) = &config.ecs else {
            return Ok(vec![]);
        };
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(vec![ScalableTarget {
            resource_id: resource_id(config),
            min: count(ecs.tasks.min),
            max: count(ecs.tasks.max),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.resource_id.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<ObservedTarget>> {
        observe_target(aws, &self.resource_id).await
    }

    fn diff(&self, observed: Option<&ObservedTarget>, known: &Known) -> Change {
        match observed {
            None if known.ecs.service_waits => Change::Waiting {
                reason: WAITS_FOR.into(),
            },
            None => Change::Create,
            Some(have) => {
                let mut diff = Diff::default();
                diff.field("min_capacity", have.min, self.min);
                diff.field("max_capacity", have.max, self.max);
                if let Some(tags) = &have.tags {
                    diff.tags(tags, &self.tags);
                }
                diff.into_change()
            }
        }
    }

    /// Registers the target (which creates or updates it) when it is missing or its bounds
    /// differ; adds the tags it lacks.
    async fn apply(
        &self,
        aws: &Aws,
        observed: Option<&ObservedTarget>,
        _: &mut Known,
    ) -> Result<()> {
        let name = &self.resource_id;
        let mut arn = observed.and_then(|have| have.arn.clone());
        if observed.is_none_or(|have| have.min != self.min || have.max != self.max) {
            let reply = aws
                .scaling
                .register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(name)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .min_capacity(self.min)
                .max_capacity(self.max)
                // Tags are given at creation; an existing target is tagged below.
                .set_tags(
                    observed
                        .is_none()
                        .then(|| self.tags.clone().into_iter().collect()),
                )
                .send()
                .await
                .map_err(sdk_error(format!("registering the scalable target {name}")))?;
            arn = reply.scalable_target_arn().map(str::to_owned).or(arn);
        }
        if let Some(have) = observed
            && let Some(tags) = &have.tags
            && tags_missing(&self.tags, tags)
        {
            let arn = arn.context("Application Auto Scaling gave the scalable target no ARN")?;
            aws.scaling
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(self.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(sdk_error(format!("tagging the scalable target {name}")))?;
        }
        Ok(())
    }

    /// Deregisters the stack's scalable target: by its tags where they can be read, else by its
    /// resource id, which names the stack's cluster.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = resource_id(config);
        let Some(have) = observe_target(aws, &name).await? else {
            return Ok(vec![]);
        };
        if let Some(tags) = &have.tags {
            ensure_owned(tags, config, format_args!("the scalable target {name}"))?;
        }
        let reply = aws
            .scaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&name)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await;
        let deregistered = found(
            reply,
            |e| e.is_object_not_found_exception() || moto_not_found(e),
            || format!("deregistering the scalable target {name}"),
        )?;
        Ok(deregistered.map(|_| name).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::resource::EcsKnown;

    const LOAD_BALANCER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/stk-alb/50dc6c495c0c9188";
    const TARGET_GROUP: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/stk-api/943f017f100becff";
    pub(super) const LABEL: &str =
        "app/stk-alb/50dc6c495c0c9188/targetgroup/stk-api/943f017f100becff";

    pub(super) fn config(scaling: &str) -> StackConfig {
        StackConfig::parse(
            &format!(
                "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\necs:\n  scaling: {scaling}\n"
            ),
            "test",
        )
        .unwrap()
    }

    pub(super) fn known() -> Known {
        Known {
            ecs: EcsKnown {
                load_balancer: Some(LOAD_BALANCER.into()),
                target_group: Some(TARGET_GROUP.into()),
                ..EcsKnown::default()
            },
            ..Known::default()
        }
    }

    #[test]
    fn the_request_label_comes_from_the_two_arns() {
        assert_eq!(
            resource_label(LOAD_BALANCER, TARGET_GROUP).as_deref(),
            Some(LABEL)
        );
        let network = LOAD_BALANCER.replace("/app/", "/net/");
        assert_eq!(resource_label(&network, TARGET_GROUP), None);
        assert_eq!(resource_label(TARGET_GROUP, LOAD_BALANCER), None);
        assert_eq!(resource_label("stk-alb", TARGET_GROUP), None);
        let truncated = TARGET_GROUP.trim_end_matches("/943f017f100becff");
        assert_eq!(resource_label(LOAD_BALANCER, truncated), None);
    }

    #[test]
    fn the_target_is_the_stack_s_service() {
        let config = config("{cpu_percent: 60}");
        assert_eq!(resource_id(&config), "service/stk/api");
    }

    #[test]
    fn the_target_s_bounds_and_readable_tags_are_compared() {
        let config = config("{cpu_percent: 60}");
        let target = ScalableTarget {
            resource_id: resource_id(&config),
            min: 2,
            max: 6,
            tags: config.tags(),
        };
        let have = ObservedTarget {
            arn: Some(
                "arn:aws:application-autoscaling:eu-west-1:123456789012:scalable-target/x".into(),
            ),
            min: 1,
            max: 6,
            tags: Some(BTreeMap::new()),
        };
        let Change::Update { fields } = target.diff(Some(&have), &known()) else {
            panic!("expected an update");
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["min_capacity", "tags.ledgerly:stack"]);
        let unreadable = ObservedTarget {
            min: 2,
            tags: None,
            ..have
        };
        assert_eq!(
            target.diff(Some(&unreadable), &known()),
            Change::Unchanged,
            "tags that cannot be read (moto) are not drift"
        );
    }
}
