//! The API service's autoscaling (`topology: ecs`): its scalable target — the service's task
//! count, kept between `ecs.tasks.min` and `max` — and the target-tracking policies that move
//! it: average CPU (`<stack>-cpu`) and requests per task through the load balancer
//! (`<stack>-requests`), as `ecs.scaling` asks. Like the service, both wait for the first deploy.
//!
//! moto (5.2.6) does not implement Application Auto Scaling's tagging operations: there the
//! target's tags are unknown, neither compared nor required before a delete.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_applicationautoscaling::config::retry::RetryConfig;
use aws_sdk_applicationautoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_applicationautoscaling::operation::list_tags_for_resource::ListTagsForResourceError;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};

use super::{Aws, ensure_owned, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig, tags_missing};

/// How soon a policy may add tasks again after adding some, and remove them after removing.
const SCALE_OUT_COOLDOWN: i32 = 60;
const SCALE_IN_COOLDOWN: i32 = 300;

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

/// Whether reading tags failed with an answer that names no error: moto's 500 for the
/// operations it does not implement. AWS names every error it answers.
fn unimplemented(err: &SdkError<ListTagsForResourceError>) -> bool {
    err.as_service_error().is_some_and(|e| e.code().is_none())
        && err
            .raw_response()
            .is_some_and(|r| r.status().is_server_error())
}

/// The scalable target's tags; `None` when they cannot be read (moto).
async fn target_tags(aws: &Aws, arn: &str) -> Result<Option<BTreeMap<String, String>>> {
    // One quick retry: the client's patient policy would spend a minute on moto's 500s.
    let retry = aws_sdk_applicationautoscaling::config::Builder::default().retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(200)),
    );
    let reply = aws
        .scaling
        .list_tags_for_resource()
        .resource_arn(arn)
        .customize()
        .config_override(retry)
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

/// The scalable target `resource_id` as Application Auto Scaling has it; `None` if there is none.
async fn observe_target(aws: &Aws, resource_id: &str) -> Result<Option<ObservedTarget>> {
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
    let Some(target) = reply
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == resource_id)
    else {
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

/// One target-tracking policy as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub(crate) name: String,
    pub(crate) metric: MetricType,
    /// Average CPU in percent, or requests per task per minute.
    pub(crate) target: u32,
}

/// The policies `ecs.scaling` asks for: `<stack>-cpu` and `<stack>-requests`, each if set.
pub(crate) fn policies(config: &StackConfig) -> Vec<Policy> {
    let Some(ecs) = &config.ecs else {
        return vec![];
    };
    let wanted = [
        (
            "cpu",
            MetricType::EcsServiceAverageCpuUtilization,
            ecs.scaling.cpu_percent,
        ),
        (
            "requests",
            MetricType::AlbRequestCountPerTarget,
            ecs.scaling.requests_per_target,
        ),
    ];
    wanted
        .into_iter()
        .filter_map(|(suffix, metric, target)| {
            Some(Policy {
                name: config.name(suffix),
                metric,
                target: target?,
            })
        })
        .collect()
}

/// A target-tracking policy as compared: its metric (and the metric's resource), its target
/// value and its cooldowns.
fn policy_shown(
    metric: &str,
    label: Option<&str>,
    target: f64,
    scale_out: Option<i32>,
    scale_in: Option<i32>,
) -> String {
    let of = label.map(|l| format!(" of {l}")).unwrap_or_default();
    let seconds = |s: Option<i32>| s.map_or_else(|| "(default)".to_owned(), |s| format!("{s} s"));
    format!(
        "{metric}{of} at {target}, cooldown out {}, in {}",
        seconds(scale_out),
        seconds(scale_in)
    )
}

/// A policy as Application Auto Scaling has it, as compared.
fn observed_shown(policy: &ScalingPolicy) -> String {
    let Some(configuration) = policy.target_tracking_scaling_policy_configuration() else {
        return format!("a {} policy", policy.policy_type().as_str());
    };
    let (metric, label) = match configuration.predefined_metric_specification() {
        Some(spec) => (
            spec.predefined_metric_type().as_str(),
            spec.resource_label(),
        ),
        None => ("a customized metric", None),
    };
    let mut shown = policy_shown(
        metric,
        label,
        configuration.target_value(),
        configuration.scale_out_cooldown(),
        configuration.scale_in_cooldown(),
    );
    if configuration.disable_scale_in() == Some(true) {
        shown.push_str(", scale-in disabled");
    }
    shown
}

/// The load balancer's request count label, once the load balancer and its target group exist.
fn request_label(known: &Known) -> Option<String> {
    resource_label(
        known.ecs.load_balancer.as_deref()?,
        known.ecs.target_group.as_deref()?,
    )
}

impl Policy {
    fn counts_requests(&self) -> bool {
        self.metric == MetricType::AlbRequestCountPerTarget
    }

    fn shown(&self, known: &Known) -> String {
        let label = self.counts_requests().then(|| {
            request_label(known).unwrap_or_else(|| "(the load balancer's, once made)".into())
        });
        policy_shown(
            self.metric.as_str(),
            label.as_deref(),
            f64::from(self.target),
            Some(SCALE_OUT_COOLDOWN),
            Some(SCALE_IN_COOLDOWN),
        )
    }
}

/// The stack's policies on the service's scalable target: all of them, as one resource, so
/// that one the stack file no longer asks for is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalingPolicies {
    pub(crate) resource_id: String,
    /// What names the stack's policies begin with: `<stack>-`.
    pub(crate) prefix: String,
    pub(crate) policies: Vec<Policy>,
}

/// The stack's policies on `resource_id` (named `prefix…`), as compared, by name.
async fn observe_policies(
    aws: &Aws,
    resource_id: &str,
    prefix: &str,
) -> Result<BTreeMap<String, String>> {
    let policies: Vec<ScalingPolicy> = aws
        .scaling
        .describe_scaling_policies()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(sdk_error(format!(
            "reading the scaling policies of {resource_id}"
        )))?;
    Ok(policies
        .iter()
        .filter(|p| p.policy_name().starts_with(prefix))
        .map(|p| (p.policy_name().to_owned(), observed_shown(p)))
        .collect())
}

/// Deletes the policy `name` on `resource_id`; false if it was already gone.
async fn delete_policy(aws: &Aws, resource_id: &str, name: &str) -> Result<bool> {
    let reply = aws
        .scaling
        .delete_scaling_policy()
        .policy_name(name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .send()
        .await;
    let deleted = found(
        reply,
        |e| e.is_object_not_found_exception() || moto_not_found(e),
        || format!("deleting the scaling policy {name}"),
    )?;
    Ok(deleted.is_some())
}

impl ScalingPolicies {
    fn wants(&self, name: &str) -> bool {
        self.policies.iter().any(|p| p.name == name)
    }

    /// Creates or replaces `policy`.
    async fn put(&self, aws: &Aws, policy: &Policy, known: &Known) -> Result<()> {
        let mut metric =
            PredefinedMetricSpecification::builder().predefined_metric_type(policy.metric.clone());
        if policy.counts_requests() {
            let label = request_label(known).context(
                "the load balancer or its target group has no ARN yet; they are made before the scaling policies",
            )?;
            metric = metric.resource_label(label);
        }
        let configuration = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(f64::from(policy.target))
            .predefined_metric_specification(metric.build()?)
            .scale_out_cooldown(SCALE_OUT_COOLDOWN)
            .scale_in_cooldown(SCALE_IN_COOLDOWN)
            .build()?;
        aws.scaling
            .put_scaling_policy()
            .policy_name(&policy.name)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&self.resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(configuration)
            .send()
            .await
            .map_err(sdk_error(format!(
                "setting the scaling policy {}",
                policy.name
            )))?;
        Ok(())
    }
}

impl Resource for ScalingPolicies {
    /// The stack's policies as compared, by name; `None` when it has none.
    type Observed = BTreeMap<String, String>;
    const KIND: &'static str = "scaling policy";
    const AFTER: &'static [&'static str] = &["scalable target", "target group", "load balancer"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        if config.ecs.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![ScalingPolicies {
            resource_id: resource_id(config),
            prefix: config.name(""),
            policies: policies(config),
        }])
    }

    fn name(&self) -> String {
        if self.policies.is_empty() {
            return format!("{}*", self.prefix);
        }
        self.policies
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Self::Observed>> {
        let have = observe_policies(aws, &self.resource_id, &self.prefix).await?;
        Ok((!have.is_empty()).then_some(have))
    }

    /// Each wanted policy as it should be, and each of the stack's that is not wanted, to go.
    fn diff(&self, observed: Option<&Self::Observed>, known: &Known) -> Change {
        match observed {
            None if known.ecs.service_waits => Change::Waiting {
                reason: WAITS_FOR.into(),
            },
            None => Change::Create,
            Some(have) => {
                let mut diff = Diff::default();
                for policy in &self.policies {
                    let current = have.get(&policy.name).map_or("(none)", String::as_str);
                    diff.field(&policy.name, current, policy.shown(known));
                }
                for (name, shown) in have {
                    if !self.wants(name) {
                        diff.field(name, shown, "(none)");
                    }
                }
                diff.into_change()
            }
        }
    }

    /// Puts the policies that are missing or differ (PutScalingPolicy replaces one) and deletes
    /// the stack's that are not wanted.
    async fn apply(
        &self,
        aws: &Aws,
        observed: Option<&Self::Observed>,
        known: &mut Known,
    ) -> Result<()> {
        let none = BTreeMap::new();
        let have = observed.unwrap_or(&none);
        for policy in &self.policies {
            if have.get(&policy.name) != Some(&policy.shown(known)) {
                self.put(aws, policy, known).await?;
            }
        }
        for name in have.keys().filter(|name| !self.wants(name)) {
            delete_policy(aws, &self.resource_id, name).await?;
        }
        Ok(())
    }

    /// Deletes the stack's policies. AWS deletes them with the scalable target; moto keeps
    /// them, so they go first, by name: they take no tags, and the stack's name begins theirs.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let resource_id = resource_id(config);
        let have = observe_policies(aws, &resource_id, &config.name("")).await?;
        let mut deleted = Vec::new();
        for name in have.keys() {
            if delete_policy(aws, &resource_id, name).await? {
                deleted.push(name.clone());
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::resource::EcsKnown;

    const LOAD_BALANCER: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/stk-alb/50dc6c495c0c9188";
    const TARGET_GROUP: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/stk-api/943f017f100becff";
    const LABEL: &str = "app/stk-alb/50dc6c495c0c9188/targetgroup/stk-api/943f017f100becff";

    fn config(scaling: &str) -> StackConfig {
        StackConfig::parse(
            &format!(
                "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\necs:\n  scaling: {scaling}\n"
            ),
            "test",
        )
        .unwrap()
    }

    fn known() -> Known {
        Known {
            ecs: EcsKnown {
                load_balancer: Some(LOAD_BALANCER.into()),
                target_group: Some(TARGET_GROUP.into()),
                ..EcsKnown::default()
            },
            ..Known::default()
        }
    }

    fn desired(scaling: &str) -> ScalingPolicies {
        let config = config(scaling);
        ScalingPolicies {
            resource_id: resource_id(&config),
            prefix: config.name(""),
            policies: policies(&config),
        }
    }

    fn cpu_at(target: f64) -> String {
        policy_shown(
            "ECSServiceAverageCPUUtilization",
            None,
            target,
            Some(60),
            Some(300),
        )
    }

    fn requests_at(target: f64) -> String {
        policy_shown(
            "ALBRequestCountPerTarget",
            Some(LABEL),
            target,
            Some(60),
            Some(300),
        )
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
    fn the_stack_file_picks_the_policies() {
        let both = policies(&config("{cpu_percent: 50, requests_per_target: 800}"));
        assert_eq!(
            both,
            [
                Policy {
                    name: "stk-cpu".into(),
                    metric: MetricType::EcsServiceAverageCpuUtilization,
                    target: 50,
                },
                Policy {
                    name: "stk-requests".into(),
                    metric: MetricType::AlbRequestCountPerTarget,
                    target: 800,
                },
            ]
        );
        let cpu = policies(&config("{cpu_percent: 60}"));
        assert_eq!(cpu.len(), 1, "the default: CPU at 60 %");
        assert_eq!((cpu[0].name.as_str(), cpu[0].target), ("stk-cpu", 60));
        let requests = policies(&config("{cpu_percent: null, requests_per_target: 1000}"));
        assert_eq!(requests[0].name, "stk-requests");
        assert!(
            policies(&StackConfig {
                ecs: None,
                ..config("{cpu_percent: 60}")
            })
            .is_empty()
        );
    }

    #[test]
    fn policies_as_made_are_unchanged() {
        let wanted = desired("{cpu_percent: 50, requests_per_target: 800}");
        let have = BTreeMap::from([
            ("stk-cpu".to_owned(), cpu_at(50.0)),
            ("stk-requests".to_owned(), requests_at(800.0)),
        ]);
        assert_eq!(wanted.diff(Some(&have), &known()), Change::Unchanged);
        assert_eq!(wanted.name(), "stk-cpu, stk-requests");
    }

    #[test]
    fn a_policy_no_longer_asked_for_is_deleted_and_a_changed_one_replaced() {
        let wanted = desired("{cpu_percent: 70}");
        let have = BTreeMap::from([
            ("stk-cpu".to_owned(), cpu_at(50.0)),
            ("stk-requests".to_owned(), requests_at(800.0)),
        ]);
        let Change::Update { fields } = wanted.diff(Some(&have), &known()) else {
            panic!("expected an update");
        };
        let fields: Vec<(&str, &str, &str)> = fields
            .iter()
            .map(|f| (f.field.as_str(), f.from.as_str(), f.to.as_str()))
            .collect();
        let (cpu_50, cpu_70, requests) = (cpu_at(50.0), cpu_at(70.0), requests_at(800.0));
        assert_eq!(
            fields,
            [
                ("stk-cpu", cpu_50.as_str(), cpu_70.as_str()),
                ("stk-requests", requests.as_str(), "(none)"),
            ]
        );
        assert_eq!(
            cpu_70,
            "ECSServiceAverageCPUUtilization at 70, cooldown out 60 s, in 300 s"
        );
    }

    #[test]
    fn the_request_policy_follows_the_load_balancer() {
        let wanted = desired("{requests_per_target: 800}");
        let elsewhere = BTreeMap::from([(
            "stk-requests".to_owned(),
            policy_shown(
                "ALBRequestCountPerTarget",
                Some("app/old/1/targetgroup/old/2"),
                800.0,
                Some(60),
                Some(300),
            ),
        )]);
        assert!(matches!(
            wanted.diff(Some(&elsewhere), &known()),
            Change::Update { .. }
        ));
        assert!(
            wanted.policies[0]
                .shown(&Known::default())
                .contains("(the load balancer's, once made)")
        );
    }

    #[test]
    fn both_wait_for_the_service_and_are_made_once_it_is_there() {
        let waiting = Known {
            ecs: EcsKnown {
                service_waits: true,
                ..EcsKnown::default()
            },
            ..Known::default()
        };
        let policies = desired("{cpu_percent: 60}");
        let target = ScalableTarget {
            resource_id: "service/stk/api".into(),
            min: 2,
            max: 6,
            tags: config("{cpu_percent: 60}").tags(),
        };
        let reason = Change::Waiting {
            reason: "after the ecs service".into(),
        };
        assert_eq!(policies.diff(None, &waiting), reason);
        assert_eq!(target.diff(None, &waiting), reason);
        assert_eq!(policies.diff(None, &known()), Change::Create);
        assert_eq!(target.diff(None, &known()), Change::Create);
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
