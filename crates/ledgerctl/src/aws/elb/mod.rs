//! The ECS topology's Application Load Balancer `<stack>-api`: internet-facing, in the stack's
//! subnets, behind the `<stack>-alb` security group. Its target group (the API's tasks) and its
//! two listeners (80 redirects to HTTPS; 443 forwards to the tasks with the stack's
//! certificate) are kinds of their own, in this module's children. All three carry the stack's
//! tags, which Elastic Load Balancing reads and writes by ARN.

pub(crate) mod listener;
pub(crate) mod target_group;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_elasticloadbalancingv2::client::Waiters as _;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Tag,
};

use super::{Aws, code, found, sdk_error, waited};
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
/// Deletion protection stays off: destroy must be able to delete it.
fn attributes() -> BTreeMap<String, String> {
    [
        ("routing.http.drop_invalid_header_fields.enabled", "true"),
        ("idle_timeout.timeout_seconds", "60"),
        ("deletion_protection.enabled", "false"),
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

/// Tags as this SDK takes them.
fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect()
}

/// The tags of the load balancer, target group or listener `arn`; `what` names it in an error.
async fn tags_of(aws: &Aws, arn: &str, what: &str) -> Result<BTreeMap<String, String>> {
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
async fn add_missing_tags(
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
    let ours = attributes();
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

/// What is wrong with the subnets found for the load balancer, as (id, VPC, availability zone),
/// if anything; `given`: they are the stack file's `ecs.subnets` (else the default VPC's).
fn subnet_problem(found: &[(String, String, String)], vpc: &str, given: bool) -> Option<String> {
    let elsewhere: Vec<&str> = found
        .iter()
        .filter(|(_, in_vpc, _)| in_vpc != vpc)
        .map(|(id, ..)| id.as_str())
        .collect();
    if !elsewhere.is_empty() {
        return Some(format!(
            "ecs.subnets: {} not in the default VPC {vpc}, where the stack's security groups are; give subnets of {vpc}, or leave ecs.subnets out to use all of them",
            elsewhere.join(", ")
        ));
    }
    let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, _, zone) in found {
        by_zone.entry(zone.as_str()).or_default().push(id.as_str());
    }
    if let Some((zone, ids)) = by_zone.iter().find(|(_, ids)| ids.len() > 1) {
        return Some(if given {
            format!(
                "ecs.subnets: {} are all in {zone}; a load balancer takes one subnet per availability zone: keep one of them",
                ids.join(", ")
            )
        } else {
            format!(
                "ecs.subnets: the default VPC has several subnets in {zone} ({}); a load balancer takes one per availability zone: give ecs.subnets, one per zone",
                ids.join(", ")
            )
        });
    }
    if by_zone.len() >= 2 {
        return None;
    }
    let zones = by_zone.keys().copied().collect::<Vec<_>>().join(", ");
    Some(if given {
        format!(
            "ecs.subnets: all in {zones}; a load balancer needs subnets in two availability zones at least: add a subnet of another zone"
        )
    } else {
        format!(
            "ecs.subnets: the default VPC's subnets are all in {zones}; a load balancer needs subnets in two availability zones at least: add one (`aws ec2 create-default-subnet --availability-zone <zone>`) or give ecs.subnets"
        )
    })
}

/// Checks (one DescribeSubnets call) that `subnets` exist, are in `vpc` and span two
/// availability zones at least.
async fn check_subnets(aws: &Aws, subnets: &[String], vpc: &str, given: bool) -> Result<()> {
    if subnets.is_empty() {
        anyhow::bail!(
            "ecs.subnets: the default VPC {vpc} has no subnets; give ecs.subnets (two or more, in different availability zones)"
        );
    }
    let reply = found(
        aws.ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await,
        code("InvalidSubnetID.NotFound"),
        || "reading the load balancer's subnets".into(),
    )?;
    let Some(reply) = reply else {
        anyhow::bail!(
            "ecs.subnets: one of {} does not exist in this region; give subnets of the default VPC {vpc}, or leave ecs.subnets out to use all of them",
            subnets.join(", ")
        );
    };
    let found: Vec<(String, String, String)> = reply
        .subnets()
        .iter()
        .map(|s| {
            (
                s.subnet_id().unwrap_or_default().to_owned(),
                s.vpc_id().unwrap_or_default().to_owned(),
                s.availability_zone().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    match subnet_problem(&found, vpc, given) {
        Some(problem) => Err(anyhow::anyhow!(problem)),
        None => Ok(()),
    }
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
    const AFTER: &'static [&'static str] = &["security group"];
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
            attributes: attributes(),
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
            known.ecs.load_balancer = Some(observed.arn.clone());
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
        known.ecs.load_balancer = Some(arn.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack with the ECS topology, named `t`.
    pub(super) fn config() -> StackConfig {
        StackConfig::parse(
            "stack: tst\nregion: us-east-1\ndomain: api.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
            "test",
        )
        .unwrap()
    }

    fn subnet(id: &str, vpc: &str, zone: &str) -> (String, String, String) {
        (id.into(), vpc.into(), zone.into())
    }

    fn desired() -> LoadBalancer {
        let config = config();
        LoadBalancer {
            name: name(&config),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_group: config.name("alb"),
            attributes: attributes(),
            tags: config.tags(),
        }
    }

    fn observed() -> Observed {
        Observed {
            arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/tst-api/1"
                .into(),
            dns_name: "tst-api-1.us-east-1.elb.amazonaws.com".into(),
            state: "active".into(),
            kind: TYPE.into(),
            scheme: SCHEME.into(),
            ip_address_type: IP_ADDRESS_TYPE.into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            attributes: attributes(),
            tags: config().tags(),
        }
    }

    fn known() -> Known {
        let mut known = Known::default();
        known.groups.insert("tst-alb".into(), "sg-1".into());
        known
    }

    #[test]
    fn subnets_must_be_in_the_default_vpc_and_two_zones() {
        let two = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-1", "us-east-1b"),
        ];
        assert_eq!(subnet_problem(&two, "vpc-1", true), None);
        let other_vpc = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-c", "vpc-2", "us-east-1b"),
        ];
        let problem = subnet_problem(&other_vpc, "vpc-1", true).unwrap();
        assert!(
            problem.starts_with("ecs.subnets: subnet-c not in the default VPC vpc-1"),
            "{problem}"
        );
        let same_zone = [
            subnet("subnet-a", "vpc-1", "us-east-1a"),
            subnet("subnet-b", "vpc-1", "us-east-1a"),
        ];
        let problem = subnet_problem(&same_zone, "vpc-1", true).unwrap();
        assert!(
            problem.starts_with("ecs.subnets: subnet-a, subnet-b are all in us-east-1a; a load balancer takes one subnet per availability zone"),
            "{problem}"
        );
        let one = [subnet("subnet-a", "vpc-1", "us-east-1a")];
        let problem = subnet_problem(&one, "vpc-1", false).unwrap();
        assert!(
            problem.starts_with("ecs.subnets: the default VPC's subnets are all in us-east-1a"),
            "{problem}"
        );
    }

    #[test]
    fn the_load_balancer_as_wanted_is_unchanged() {
        assert_eq!(
            desired().diff(Some(&observed()), &known()),
            Change::Unchanged
        );
        assert_eq!(desired().diff(None, &known()), Change::Create);
    }

    #[test]
    fn drift_is_shown_field_by_field_groups_by_name() {
        let mut have = observed();
        have.security_groups = vec!["sg-9".into()];
        have.subnets = vec!["subnet-a".into()];
        have.attributes.remove("idle_timeout.timeout_seconds");
        have.scheme = "internal".into();
        let mut known = known();
        known.groups.insert("tst-web".into(), "sg-9".into());
        let Change::Update { fields } = desired().diff(Some(&have), &known) else {
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
                    "scheme",
                    "internal",
                    "internet-facing (set at creation: delete it, then provision)"
                ),
                ("subnets", "subnet-a", "subnet-a, subnet-b"),
                ("security_groups", "tst-web", "tst-alb"),
                ("attributes.idle_timeout.timeout_seconds", "(none)", "60"),
            ]
        );
    }

    #[test]
    fn a_setting_fixed_at_creation_is_refused_with_what_to_do() {
        assert!(refuse_set_at_creation("x", &[("scheme", "a", "a")]).is_ok());
        let err = refuse_set_at_creation(
            "the load balancer tst-api",
            &[
                ("scheme", "internal", "internet-facing"),
                ("type", "a", "a"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "the load balancer tst-api: its scheme is internal, not internet-facing; that is set when it is created"
            ),
            "{err}"
        );
        assert!(err.contains("run provision again"), "{err}");
    }

    #[test]
    fn only_an_active_load_balancer_is_healthy() {
        assert_eq!(LoadBalancer::unhealthy(&observed()), None);
        let mut failed = observed();
        failed.state = "failed".into();
        assert_eq!(LoadBalancer::unhealthy(&failed).as_deref(), Some("failed"));
    }
}
