//! The load balancer's target group `<stack>-api`: the API's tasks, registered by IP on
//! [`API_PORT`] by the ECS service, health-checked on `/readyz`, and given [`DRAIN_SECONDS`] to
//! finish their requests when they leave it.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_elasticloadbalancingv2::types::{
    Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum,
};

use super::tags::{add_missing_tags, tag_list, tags_of};
use super::{refuse_set_at_creation, set_at_creation};
use crate::aws::{Aws, code, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The port the API listens on in its task.
pub(crate) const API_PORT: i32 = 8080;

/// How long the load balancer lets a leaving task finish its requests before it stops sending
/// it any: the API's stop grace, so no request in flight is cut when a task is stopped.
pub(crate) const DRAIN_SECONDS: i32 = 35;

const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

/// The target group's name: `<stack>-api`.
pub(crate) fn name(config: &StackConfig) -> String {
    config.name("api")
}

/// How the load balancer tells a task is ready for requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthCheck {
    pub(crate) enabled: bool,
    pub(crate) protocol: String,
    pub(crate) path: String,
    pub(crate) interval_seconds: i32,
    pub(crate) timeout_seconds: i32,
    pub(crate) healthy_threshold: i32,
    pub(crate) unhealthy_threshold: i32,
    /// The HTTP codes that mean healthy.
    pub(crate) matcher: String,
}

impl HealthCheck {
    /// Every setting, as a diff shows it.
    fn fields(&self) -> [(&'static str, String); 8] {
        [
            ("health_check.enabled", self.enabled.to_string()),
            ("health_check.protocol", self.protocol.clone()),
            ("health_check.path", self.path.clone()),
            (
                "health_check.interval_seconds",
                self.interval_seconds.to_string(),
            ),
            (
                "health_check.timeout_seconds",
                self.timeout_seconds.to_string(),
            ),
            (
                "health_check.healthy_threshold",
                self.healthy_threshold.to_string(),
            ),
            (
                "health_check.unhealthy_threshold",
                self.unhealthy_threshold.to_string(),
            ),
            ("health_check.matcher", self.matcher.clone()),
        ]
    }
}

/// The target group, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetGroup {
    pub(crate) name: String,
    pub(crate) vpc: String,
    pub(crate) protocol: String,
    pub(crate) port: i32,
    pub(crate) target_type: String,
    pub(crate) health_check: HealthCheck,
    pub(crate) deregistration_delay: i32,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    pub(crate) vpc: String,
    pub(crate) protocol: String,
    pub(crate) port: i32,
    pub(crate) target_type: String,
    pub(crate) health_check: HealthCheck,
    /// `None` when AWS does not say.
    pub(crate) deregistration_delay: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

fn desired(config: &StackConfig, known: &Known) -> TargetGroup {
    TargetGroup {
        name: name(config),
        vpc: known.vpc.clone(),
        protocol: ProtocolEnum::Http.as_str().to_owned(),
        port: API_PORT,
        target_type: TargetTypeEnum::Ip.as_str().to_owned(),
        health_check: HealthCheck {
            enabled: true,
            protocol: ProtocolEnum::Http.as_str().to_owned(),
            path: "/readyz".into(),
            interval_seconds: 10,
            timeout_seconds: 5,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            matcher: "200".into(),
        },
        deregistration_delay: DRAIN_SECONDS,
        tags: config.tags(),
    }
}

/// The target group named `name` as AWS has it; `None` if there is none.
async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = found(
        aws.elb.describe_target_groups().names(name).send().await,
        |e| e.is_target_group_not_found_exception(),
        || format!("looking for the target group {name}"),
    )?;
    let Some(group) = reply.as_ref().and_then(|r| r.target_groups().first()) else {
        return Ok(None);
    };
    let arn = group
        .target_group_arn()
        .with_context(|| format!("AWS described the target group {name} without its ARN"))?
        .to_owned();
    let deregistration_delay = aws
        .elb
        .describe_target_group_attributes()
        .target_group_arn(&arn)
        .send()
        .await
        .map_err(sdk_error(format!(
            "reading the attributes of the target group {name}"
        )))?
        .attributes()
        .iter()
        .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
        .and_then(|a| a.value())
        .map(str::to_owned);
    let tags = tags_of(aws, &arn, &format!("the target group {name}")).await?;
    let protocol = |p: Option<&ProtocolEnum>| p.map_or("(none)", |p| p.as_str()).to_owned();
    Ok(Some(Observed {
        vpc: group.vpc_id().unwrap_or("(none)").to_owned(),
        protocol: protocol(group.protocol()),
        port: group.port().unwrap_or_default(),
        target_type: group
            .target_type()
            .map_or("(none)", |t| t.as_str())
            .to_owned(),
        health_check: HealthCheck {
            enabled: group.health_check_enabled().unwrap_or_default(),
            protocol: protocol(group.health_check_protocol()),
            path: group.health_check_path().unwrap_or("(none)").to_owned(),
            interval_seconds: group.health_check_interval_seconds().unwrap_or_default(),
            timeout_seconds: group.health_check_timeout_seconds().unwrap_or_default(),
            healthy_threshold: group.healthy_threshold_count().unwrap_or_default(),
            unhealthy_threshold: group.unhealthy_threshold_count().unwrap_or_default(),
            matcher: group
                .matcher()
                .and_then(|m| m.http_code())
                .unwrap_or("(none)")
                .to_owned(),
        },
        arn,
        deregistration_delay,
        tags,
    }))
}

impl TargetGroup {
    /// The settings fixed at creation, as (field, observed, desired).
    fn fixed_settings(&self, have: &Observed) -> [(&'static str, String, String); 4] {
        [
            ("vpc", have.vpc.clone(), self.vpc.clone()),
            ("protocol", have.protocol.clone(), self.protocol.clone()),
            ("port", have.port.to_string(), self.port.to_string()),
            (
                "target_type",
                have.target_type.clone(),
                self.target_type.clone(),
            ),
        ]
    }

    /// Creates the target group with its health check and tags; its ARN.
    async fn create(&self, aws: &Aws) -> Result<String> {
        let name = &self.name;
        let health = &self.health_check;
        let reply = aws
            .elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::from(self.protocol.as_str()))
            .port(self.port)
            .vpc_id(&self.vpc)
            .target_type(TargetTypeEnum::from(self.target_type.as_str()))
            .health_check_enabled(health.enabled)
            .health_check_protocol(ProtocolEnum::from(health.protocol.as_str()))
            .health_check_path(&health.path)
            .health_check_interval_seconds(health.interval_seconds)
            .health_check_timeout_seconds(health.timeout_seconds)
            .healthy_threshold_count(health.healthy_threshold)
            .unhealthy_threshold_count(health.unhealthy_threshold)
            .matcher(Matcher::builder().http_code(&health.matcher).build())
            .set_tags(Some(tag_list(&self.tags)))
            .send()
            .await
            .map_err(sdk_error(format!("creating the target group {name}")))?;
        Ok(reply
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .with_context(|| format!("AWS did not give the new target group {name}'s ARN"))?
            .to_owned())
    }
}

impl Resource for TargetGroup {
    type Observed = Observed;
    const KIND: &'static str = "target group";

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        if config.ecs.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![desired(config, known)])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        if let Some(observed) = observed {
            known.ecs.target_group = Some(observed.arn.clone());
        }
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            for (field, from, to) in self.fixed_settings(have) {
                set_at_creation(diff, field, &from, &to);
            }
            for ((field, from), (_, to)) in have
                .health_check
                .fields()
                .into_iter()
                .zip(self.health_check.fields())
            {
                diff.field(field, from, to);
            }
            diff.field(
                &format!("attributes.{DEREGISTRATION_DELAY}"),
                have.deregistration_delay.as_deref().unwrap_or("(none)"),
                self.deregistration_delay,
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Creates it or fixes its health check; sets the deregistration delay where it differs
    /// (always after a create: AWS's default is 300 s) and adds the tags it lacks. A VPC, port,
    /// protocol or target type that differs is an error saying what to do.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let name = &self.name;
        let (arn, health_check, deregistration_delay, tags) = match observed {
            Some(have) => {
                let settings = self.fixed_settings(have);
                let fixed: Vec<(&str, &str, &str)> = settings
                    .iter()
                    .map(|(field, have, want)| (*field, have.as_str(), want.as_str()))
                    .collect();
                refuse_set_at_creation(&format!("the target group {name}"), &fixed)?;
                (
                    have.arn.clone(),
                    Some(&have.health_check),
                    have.deregistration_delay.clone(),
                    have.tags.clone(),
                )
            }
            None => (self.create(aws).await?, None, None, self.tags.clone()),
        };
        known.ecs.target_group = Some(arn.clone());
        let health = &self.health_check;
        if health_check.is_some_and(|have| have != health) {
            aws.elb
                .modify_target_group()
                .target_group_arn(&arn)
                .health_check_enabled(health.enabled)
                .health_check_protocol(ProtocolEnum::from(health.protocol.as_str()))
                .health_check_path(&health.path)
                .health_check_interval_seconds(health.interval_seconds)
                .health_check_timeout_seconds(health.timeout_seconds)
                .healthy_threshold_count(health.healthy_threshold)
                .unhealthy_threshold_count(health.unhealthy_threshold)
                .matcher(Matcher::builder().http_code(&health.matcher).build())
                .send()
                .await
                .map_err(sdk_error(format!("changing {name}'s health check")))?;
        }
        let delay = self.deregistration_delay.to_string();
        if deregistration_delay.as_deref() != Some(delay.as_str()) {
            aws.elb
                .modify_target_group_attributes()
                .target_group_arn(&arn)
                .attributes(
                    TargetGroupAttribute::builder()
                        .key(DEREGISTRATION_DELAY)
                        .value(delay)
                        .build(),
                )
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s deregistration delay")))?;
        }
        add_missing_tags(
            aws,
            &arn,
            &tags,
            &self.tags,
            &format!("the target group {name}"),
        )
        .await
    }

    /// Deletes the stack's target group; one still in use (by a listener or the ECS service)
    /// is an error.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        crate::aws::ensure_owned(&have.tags, config, format_args!("the target group {name}"))?;
        let reply = aws
            .elb
            .delete_target_group()
            .target_group_arn(&have.arn)
            .send()
            .await;
        let deleted = found(reply, code("TargetGroupNotFound"), || {
            format!("deleting the target group {name}")
        })?;
        Ok(deleted.map(|_| name).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            vpc: "vpc-1".into(),
            ..Known::default()
        }
    }

    fn observed(want: &TargetGroup) -> Observed {
        Observed {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tst-api/1".into(),
            vpc: want.vpc.clone(),
            protocol: "HTTP".into(),
            port: 8080,
            target_type: "ip".into(),
            health_check: want.health_check.clone(),
            deregistration_delay: Some("35".into()),
            tags: want.tags.clone(),
        }
    }

    #[test]
    fn the_target_group_holds_the_api_tasks_by_ip_on_its_port() {
        let want = desired(&super::super::tests::config(), &known());
        assert_eq!(want.name, "tst-api");
        assert_eq!((want.protocol.as_str(), want.port), ("HTTP", 8080));
        assert_eq!(want.target_type, "ip");
        assert_eq!(want.vpc, "vpc-1");
        assert_eq!(want.health_check.path, "/readyz");
        assert_eq!(want.deregistration_delay, 35);
        assert_eq!(
            want.diff(Some(&observed(&want)), &known()),
            Change::Unchanged
        );
    }

    #[test]
    fn drift_shows_fixed_settings_with_their_fix() {
        let want = desired(&super::super::tests::config(), &known());
        let mut have = observed(&want);
        have.port = 80;
        have.health_check.path = "/".into();
        have.deregistration_delay = Some("300".into());
        let Change::Update { fields } = want.diff(Some(&have), &known()) else {
            panic!("an update");
        };
        let shown: Vec<(&str, &str, &str)> = fields
            .iter()
            .map(|f| (f.field.as_str(), f.from.as_str(), f.to.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "port",
                    "80",
                    "8080 (set at creation: delete it, then provision)"
                ),
                ("health_check.path", "/", "/readyz"),
                (
                    "attributes.deregistration_delay.timeout_seconds",
                    "300",
                    "35"
                ),
            ]
        );
    }
}
