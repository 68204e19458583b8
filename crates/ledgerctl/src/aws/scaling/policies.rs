//! The target-tracking policies on the service's scalable target, as one kind: `<stack>-cpu`
//! and `<stack>-requests`, each where `ecs.scaling` asks for it, and none of the stack's others.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ScalingPolicy,
    ServiceNamespace, TargetTrackingScalingPolicyConfiguration,
};

use super::{WAITS_FOR, moto_not_found, resource_id, resource_label};
use crate::aws::{Aws, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// How soon a policy may add tasks again after adding some, and remove them after removing.
const SCALE_OUT_COOLDOWN: i32 = 60;
const SCALE_IN_COOLDOWN: i32 = 300;

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
    use crate::aws::scaling::ScalableTarget;
    use crate::aws::scaling::tests::{LABEL, config, known};
    use crate::stack::resource::EcsKnown;

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
}
