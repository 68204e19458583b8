//! The ECS topology's Application Load Balancer `<stack>-api`: internet-facing, in the stack's
//! subnets, behind the `<stack>-alb` security group. Its target group (the API's tasks) and its
//! two listeners (80 redirects to HTTPS; 443 forwards to the tasks with the stack's
//! certificate) are kinds of their own, in this module's children. All three carry the stack's
//! tags, which Elastic Load Balancing reads and writes by ARN (`tags`). Its access logs go to the
//! stack's access-log bucket (`s3::access_logs`), made before it.

pub(crate) mod listener;
mod subnets;
mod tags;
pub(crate) mod target_group;
#[cfg(test)]
mod tests;

use subnets::check_subnets;
use tags::{add_missing_tags, tag_list, tags_of};

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_elasticloadbalancingv2::client::Waiters as _;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

use super::s3::access_logs;
use super::{Aws, found, sdk_error, waited};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// How long destroy waits for the load balancer to be gone.
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

const TYPE: &str = "application";
const SCHEME: &str = "internet-facing";
const IP_ADDRESS_TYPE: &str = "ipv4";

/// The load balancer's name: `<stack>-api`.
pub(crate) fn name(config: &StackConfig) -> String {
    config.name("api")
}

/// The attributes provision sets, by key; the load balancer's others are left as they are.
/// Deletion protection stays off: destroy must be able to delete it. The access logs go to the
/// stack's access-log bucket `log_bucket`, under `api/`.
fn attributes(log_bucket: &str) -> BTreeMap<String, String> {
    [
        ("routing.http.drop_invalid_header_fields.enabled", "true"),
        ("idle_timeout.timeout_seconds", "60"),
        ("deletion_protection.enabled", "false"),
        ("access_logs.s3.enabled", "true"),
        ("access_logs.s3.bucket", log_bucket),
        ("access_logs.s3.prefix", access_logs::PREFIX),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

/// The load balancer, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadBalancer {
    pub(crate) name: String,
    /// Sorted.
    pub(crate) subnets: Vec<String>,
    /// Its security group, by name: the stack's `alb` group (its id is in `known.groups`).
    pub(crate) security_group: String,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    pub(crate) dns_name: String,
    /// Its canonical hosted zone's id: what an alias record to it names beside its DNS name.
    pub(crate) canonical_zone: String,
    /// `provisioning`, `active`, `active_impaired` or `failed`.
    pub(crate) state: String,
    pub(crate) kind: String,
    pub(crate) scheme: String,
    pub(crate) ip_address_type: String,
    /// Sorted.
    pub(crate) subnets: Vec<String>,
    /// The groups' ids, sorted.
    pub(crate) security_groups: Vec<String>,
    /// Of its attributes, the ones provision sets.
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// A setting fixed when the resource was made, in a diff: one that differs is shown with its
/// fix, making the resource anew (provision does not replace it on its own).
fn set_at_creation(diff: &mut Diff, field: &str, observed: &str, desired: &str) {
    if observed != desired {
        diff.field(
            field,
            observed,
            format!("{desired} (set at creation: delete it, then provision)"),
        );
    }
}

/// An error when any of the settings of `what` fixed at creation, as (field, observed, desired),
/// differs: provision cannot change them in place.
fn refuse_set_at_creation(what: &str, settings: &[(&str, &str, &str)]) -> Result<()> {
    let differ: Vec<String> = settings
        .iter()
        .filter(|(_, have, want)| have != want)
        .map(|(field, have, want)| format!("its {field} is {have}, not {want}"))
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{what}: {}; that is set when it is created, so it must be made anew: delete it (in the AWS console or with the AWS CLI) and run provision again",
        differ.join(", ")
    )
}

fn shown_list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// The load balancer named `name` as AWS has it; `None` if there is none.
pub(crate) async fn observe_by_name(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = found(
        aws.elb.describe_load_balancers().names(name).send().await,
        |e| e.is_load_balancer_not_found_exception(),
        || format!("looking for the load balancer {name}"),
    )?;
    let Some(lb) = reply.as_ref().and_then(|r| r.load_balancers().first()) else {
        return Ok(None);
    };
    let arn = lb
        .load_balancer_arn()
        .with_context(|| format!("AWS described the load balancer {name} without its ARN"))?
        .to_owned();
    let mut subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .filter_map(|zone| zone.subnet_id())
        .map(str::to_owned)
        .collect();
    subnets.sort();
    let mut security_groups = lb.security_groups().to_vec();
    security_groups.sort();
    // Only their keys matter here.
    let ours = attributes("");
    let attributes = aws
        .elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .map_err(sdk_error(format!(
            "reading the attributes of the load balancer {name}"
        )))?
        .attributes()
        .iter()
        .filter_map(|a| {
            Some((
                a.key()?.to_owned(),
                a.value().unwrap_or_default().to_owned(),
            ))
        })
        .filter(|(key, _)| ours.contains_key(key))
        .collect();
    let tags = tags_of(aws, &arn, &format!("the load balancer {name}")).await?;
    Ok(Some(Observed {
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        canonical_zone: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        state: lb
            .state()
            .and_then(|s| s.code())
            .map_or("(unknown)", |c| c.as_str())
            .to_owned(),
        kind: lb.r#type().map_or("(none)", |t| t.as_str()).to_owned(),
        scheme: lb.scheme().map_or("(none)", |s| s.as_str()).to_owned(),
        ip_address_type: lb
            .ip_address_type()
            .map_or("(none)", |t| t.as_str())
            .to_owned(),
        arn,
        subnets,
        security_groups,
        attributes,
        tags,
    }))
}

/// Records what later kinds need of the load balancer: its ARN (the listeners'), its DNS name
/// and canonical hosted zone (the alias record's, `route53`).
fn learn_observed(have: &Observed, known: &mut Known) {
    let given = |text: &str| Some(text.to_owned()).filter(|t| !t.is_empty());
    known.ecs.load_balancer = Some(have.arn.clone());
    known.ecs.load_balancer_dns = given(&have.dns_name);
    known.ecs.load_balancer_zone = given(&have.canonical_zone);
}

impl LoadBalancer {
    /// Creates the load balancer with its tags; what it then is (its attributes still to set).
    async fn create(&self, aws: &Aws, group: &str) -> Result<Observed> {
        let name = &self.name;
        let reply = aws
            .elb
            .create_load_balancer()
            .name(name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(self.subnets.clone()))
            .security_groups(group)
            .set_tags(Some(tag_list(&self.tags)))
            .send()
            .await
            .map_err(sdk_error(format!("creating the load balancer {name}")))?;
        let lb = reply
            .load_balancers()
            .first()
            .with_context(|| format!("AWS did not describe the new load balancer {name}"))?;
        Ok(Observed {
            arn: lb
                .load_balancer_arn()
                .with_context(|| format!("AWS did not give the new load balancer {name}'s ARN"))?
                .to_owned(),
            dns_name: lb.dns_name().unwrap_or_default().to_owned(),
            canonical_zone: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
            state: "provisioning".into(),
            kind: TYPE.into(),
            scheme: SCHEME.into(),
            ip_address_type: IP_ADDRESS_TYPE.into(),
            subnets: self.subnets.clone(),
            security_groups: vec![group.to_owned()],
            // Set right after: AWS's defaults differ (invalid header fields are kept).
            attributes: BTreeMap::new(),
            tags: self.tags.clone(),
        })
    }
}

impl Resource for LoadBalancer {
    type Observed = Observed;
    const KIND: &'static str = "load balancer";
    /// Access logs are turned on once their bucket lets Elastic Load Balancing write (AWS checks).
    const AFTER: &'static [&'static str] = &["security group", "s3 log bucket"];
    const READS_AFTER: &'static [&'static str] = &["security group"];

    /// Checks that the subnets are in the default VPC and in two availability zones at least.
    async fn desired(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let Some(ecs) = &config.ecs else {
            return Ok(vec![]);
        };
        let mut subnets = known.ecs_subnets(ecs);
        subnets.sort();
        subnets.dedup();
        check_subnets(aws, &subnets, &known.vpc, !ecs.subnets.is_empty()).await?;
        Ok(vec![LoadBalancer {
            name: name(config),
            subnets,
            security_group: config.name("alb"),
            attributes: attributes(&access_logs::name(config, &known.account)),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe_by_name(aws, &self.name).await
    }

    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        if let Some(observed) = observed {
            learn_observed(observed, known);
        }
    }

    /// Security groups shown by name where they are the stack's.
    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            set_at_creation(diff, "type", &have.kind, TYPE);
            set_at_creation(diff, "scheme", &have.scheme, SCHEME);
            diff.field("ip_address_type", &have.ip_address_type, IP_ADDRESS_TYPE);
            diff.field(
                "subnets",
                shown_list(&have.subnets),
                shown_list(&self.subnets),
            );
            let names = known.group_names();
            let mut groups: Vec<String> = have
                .security_groups
                .iter()
                .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
                .collect();
            groups.sort();
            diff.field("security_groups", shown_list(&groups), &self.security_group);
            for (key, value) in &self.attributes {
                diff.field(
                    &format!("attributes.{key}"),
                    have.attributes.get(key).map_or("(none)", String::as_str),
                    value,
                );
            }
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Creates it (with its tags) or fixes its subnets, security group and IP address type;
    /// then sets the attributes that differ and adds the tags it lacks.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let name = &self.name;
        let group = known
            .groups
            .get(&self.security_group)
            .cloned()
            .with_context(|| {
                format!(
                    "the security group {} has no id yet; it is made before the load balancer",
                    self.security_group
                )
            })?;
        let have = match observed {
            Some(have) => {
                refuse_set_at_creation(
                    &format!("the load balancer {name}"),
                    &[
                        ("type", have.kind.as_str(), TYPE),
                        ("scheme", have.scheme.as_str(), SCHEME),
                    ],
                )?;
                have.clone()
            }
            None => self.create(aws, &group).await?,
        };
        let arn = &have.arn;
        learn_observed(&have, known);
        if have.ip_address_type != IP_ADDRESS_TYPE {
            aws.elb
                .set_ip_address_type()
                .load_balancer_arn(arn)
                .ip_address_type(IpAddressType::Ipv4)
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s IP address type")))?;
        }
        if have.subnets != self.subnets {
            aws.elb
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(self.subnets.clone()))
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s subnets")))?;
        }
        if have.security_groups != [group.as_str()] {
            aws.elb
                .set_security_groups()
                .load_balancer_arn(arn)
                .security_groups(&group)
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s security group")))?;
        }
        let changed: Vec<LoadBalancerAttribute> = self
            .attributes
            .iter()
            .filter(|(key, value)| have.attributes.get(*key) != Some(*value))
            .map(|(key, value)| {
                LoadBalancerAttribute::builder()
                    .key(key)
                    .value(value)
                    .build()
            })
            .collect();
        if !changed.is_empty() {
            aws.elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(changed))
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s attributes")))?;
        }
        add_missing_tags(
            aws,
            arn,
            &have.tags,
            &self.tags,
            &format!("the load balancer {name}"),
        )
        .await
    }

    fn unhealthy(observed: &Observed) -> Option<String> {
        (observed.state != "active").then(|| observed.state.clone())
    }

    /// Deletes the stack's load balancer (its listeners go with it) and waits until it is gone:
    /// its network interfaces hold the security groups, which are deleted after it.
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe_by_name(aws, &name).await? else {
            return Ok(vec![]);
        };
        super::ensure_owned(&have.tags, config, format_args!("the load balancer {name}"))?;
        let reply = aws
            .elb
            .delete_load_balancer()
            .load_balancer_arn(&have.arn)
            .send()
            .await;
        if let Err(err) = &reply
            && err
                .as_service_error()
                .is_some_and(|e| e.is_operation_not_permitted_exception())
        {
            anyhow::bail!(
                "the load balancer {name} has deletion protection on; provision turns it off (or turn it off in the AWS console), then destroy again"
            );
        }
        let deleted = found(
            reply,
            |e| e.is_load_balancer_not_found_exception(),
            || format!("deleting the load balancer {name}"),
        )?
        .is_some();
        aws.elb
            .wait_until_load_balancers_deleted()
            .load_balancer_arns(&have.arn)
            .wait(DELETE_TIMEOUT)
            .await
            .map_err(waited(
                format!("the load balancer {name} to be deleted"),
                DELETE_TIMEOUT,
            ))?;
        Ok(if deleted { vec![name] } else { vec![] })
    }
}
