//! Security groups in the default VPC: `web` (80 and 443 from anywhere), `ssh` (`instance.ssh_port`,
//! 22 by default, from the admin CIDR only), `db` (5432 only from the web group). With `topology: ecs` two more: `alb` (80 and
//! 443 from anywhere, for the load balancer) and `tasks` (the API's port from the load balancer,
//! and from the `web` group for the ops instance's Prometheus, which scrapes each task), and the
//! database is open to the tasks too (and to the instance). Any other ingress rule is drift, and
//! revoked — but for a temporary SSH grant still running ([`super::access`]).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, Ipv6Range, ResourceType, UserIdGroupPair};

use super::{Aws, code, ec2, found, has_code, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// Where traffic may come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    Cidr(String),
    /// Another of the stack's groups, by name.
    Group(String),
}

/// One ingress rule: `protocol` (`tcp`, or `-1` for all traffic) on `port` (from `from_port`
/// to `to_port` as AWS has it; ours are single ports) from `source`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rule {
    pub(crate) protocol: String,
    pub(crate) ports: (i32, i32),
    pub(crate) source: Source,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match (self.protocol.as_str(), self.ports) {
            ("-1", _) => "all traffic".to_owned(),
            (protocol, (from, to)) if from == to => format!("{protocol}/{from}"),
            (protocol, (from, to)) => format!("{protocol}/{from}-{to}"),
        };
        match &self.source {
            Source::Cidr(cidr) => write!(f, "{what} from {cidr}"),
            Source::Group(group) => write!(f, "{what} from {group}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) rules: BTreeSet<Rule>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) id: String,
    /// Rules as AWS has them, group sources by name where the group is the stack's (by id
    /// otherwise).
    pub(crate) rules: BTreeSet<Rule>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// The stack's groups, each after the groups its rules name: the three of the instance
/// topology, and with `ecs` (`all`: whatever the topology, for destroy) the load balancer's and
/// the tasks'.
pub(super) fn desired(config: &StackConfig, all: bool) -> Vec<Group> {
    let ecs = all || config.ecs.is_some();
    let web = config.name("web");
    let alb = config.name("alb");
    let tasks = config.name("tasks");
    let cidr = |c: &str| Source::Cidr(c.to_owned());
    let rule = |port, source| Rule {
        protocol: "tcp".into(),
        ports: (port, port),
        source,
    };
    let from_anywhere = || {
        [
            rule(80, cidr("0.0.0.0/0")),
            rule(80, cidr("::/0")),
            rule(443, cidr("0.0.0.0/0")),
            rule(443, cidr("::/0")),
        ]
        .into()
    };
    let mut database = BTreeSet::from([rule(5432, Source::Group(web.clone()))]);
    let mut groups = vec![
        Group {
            name: web.clone(),
            description: "Ledgerly: HTTP and HTTPS from anywhere".into(),
            rules: from_anywhere(),
            tags: config.tags(),
        },
        Group {
            name: config.name("ssh"),
            description: "Ledgerly: SSH from the admin CIDR only".into(),
            rules: config
                .admin_cidr
                .iter()
                .map(|block| rule(config.instance.ssh_port.into(), cidr(block)))
                .collect(),
            tags: {
                let mut tags = config.tags();
                let (key, value) = super::access::GROUP_TAG;
                tags.insert(key.into(), value.into());
                tags
            },
        },
    ];
    if ecs {
        let api_port = super::elb::target_group::API_PORT;
        groups.push(Group {
            name: alb.clone(),
            description: "Ledgerly: the load balancer, HTTP and HTTPS from anywhere".into(),
            rules: from_anywhere(),
            tags: config.tags(),
        });
        groups.push(Group {
            name: tasks.clone(),
            description: "Ledgerly: the API's tasks, from the load balancer and the monitoring"
                .into(),
            rules: [
                rule(api_port, Source::Group(alb)),
                rule(api_port, Source::Group(web.clone())),
            ]
            .into(),
            tags: config.tags(),
        });
        database.insert(rule(5432, Source::Group(tasks)));
    }
    groups.push(Group {
        name: config.name("db"),
        description: "Ledgerly: PostgreSQL from the stack's own groups only".into(),
        rules: database,
        tags: config.tags(),
    });
    groups
}

/// The default VPC's id.
pub(crate) async fn default_vpc(aws: &Aws) -> Result<String> {
    let vpcs = aws
        .ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(sdk_error("looking for the default VPC".into()))?;
    vpcs.vpcs()
        .first()
        .and_then(|v| v.vpc_id())
        .map(str::to_owned)
        .context("the region has no default VPC; create one with `aws ec2 create-default-vpc`")
}

/// The stack's groups named `names` as AWS has them, by name. Group sources are shown by name
/// where `known` (the stack's groups' ids by name) has them, by id otherwise.
async fn observe(
    aws: &Aws,
    vpc: &str,
    names: &[String],
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Observed>> {
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .set_values(Some(names.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(sdk_error("describing the security groups".into()))?;
    let mut ids: BTreeMap<String, String> = known
        .iter()
        .map(|(name, id)| (id.clone(), name.clone()))
        .collect();
    ids.extend(
        groups
            .security_groups()
            .iter()
            .filter_map(|g| Some((g.group_id()?.to_owned(), g.group_name()?.to_owned()))),
    );
    let now = chrono::Utc::now();
    let mut observed = BTreeMap::new();
    for group in groups.security_groups() {
        let (Some(id), Some(name)) = (group.group_id(), group.group_name()) else {
            continue;
        };
        let mut rules = BTreeSet::new();
        for permission in group.ip_permissions() {
            let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
            let ports = (
                permission.from_port().unwrap_or(-1),
                permission.to_port().unwrap_or(-1),
            );
            let rule = |source| Rule {
                protocol: protocol.clone(),
                ports,
                source,
            };
            for range in permission.ip_ranges() {
                if granted(range.description(), now) {
                    continue;
                }
                rules.insert(rule(Source::Cidr(
                    range.cidr_ip().unwrap_or_default().to_owned(),
                )));
            }
            for range in permission.ipv6_ranges() {
                if granted(range.description(), now) {
                    continue;
                }
                rules.insert(rule(Source::Cidr(
                    range.cidr_ipv6().unwrap_or_default().to_owned(),
                )));
            }
            for pair in permission.user_id_group_pairs() {
                let group_id = pair.group_id().unwrap_or_default();
                rules.insert(rule(Source::Group(
                    ids.get(group_id)
                        .cloned()
                        .unwrap_or_else(|| group_id.to_owned()),
                )));
            }
        }
        let tags = ec2::tags_of(group.tags());
        observed.insert(
            name.to_owned(),
            Observed {
                id: id.to_owned(),
                rules,
                tags,
            },
        );
    }
    Ok(observed)
}

/// Whether a rule's description makes it a temporary SSH grant still running
/// ([`super::access`]): not drift. One that has run out is, and is revoked.
fn granted(description: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> bool {
    description
        .and_then(super::access::expiry_of)
        .is_some_and(|expires| expires > now)
}

fn rules_shown(rules: &BTreeSet<Rule>) -> String {
    if rules.is_empty() {
        return "(none)".into();
    }
    rules
        .iter()
        .map(Rule::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One rule as an EC2 permission; group sources by id (`ids`: the stack's groups by name).
fn permission(rule: &Rule, ids: &BTreeMap<String, String>) -> Result<IpPermission> {
    let mut builder = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        builder = builder.from_port(rule.ports.0).to_port(rule.ports.1);
    }
    Ok(match &rule.source {
        Source::Cidr(cidr) if cidr.contains(':') => builder
            .ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
            .build(),
        Source::Cidr(cidr) => builder
            .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build(),
        Source::Group(group) => {
            let id = ids
                .get(group)
                .cloned()
                // Not one of ours: the rule was written with the id itself.
                .unwrap_or_else(|| group.clone());
            builder
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
                .build()
        }
    })
}

/// How long a group's delete is tried again while network interfaces still hold it: a load
/// balancer's, and an ECS task's, are released some minutes after it is gone.
const RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// The wait between those tries.
const RELEASE_POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// Deletes the group `id` (`name`), trying again while it is still in use
/// (`DependencyViolation`) for up to [`RELEASE_TIMEOUT`]; whether it was there.
pub(crate) async fn delete_group(aws: &Aws, id: &str, name: &str) -> Result<bool> {
    let deadline = tokio::time::Instant::now() + RELEASE_TIMEOUT;
    loop {
        let reply = aws.ec2.delete_security_group().group_id(id).send().await;
        match reply {
            Err(err)
                if has_code(&err, "DependencyViolation")
                    && tokio::time::Instant::now() < deadline =>
            {
                tracing::info!(
                    "the security group {name} is still held by network interfaces being released; trying again in {} s",
                    RELEASE_POLL.as_secs()
                );
                tokio::time::sleep(RELEASE_POLL).await;
            }
            reply => {
                let deleted = found(reply, code("InvalidGroup.NotFound"), || {
                    format!("deleting the security group {name}")
                })?;
                return Ok(deleted.is_some());
            }
        }
    }
}

impl Resource for Group {
    type Observed = Observed;
    const KIND: &'static str = "security group";

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        Ok(desired(config, false))
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Observed>> {
        let names = [self.name.clone()];
        Ok(observe(aws, &known.vpc, &names, &known.groups)
            .await?
            .remove(&self.name))
    }

    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        if let Some(observed) = observed {
            known.groups.insert(self.name.clone(), observed.id.clone());
        }
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field(
                "ingress",
                rules_shown(&have.rules),
                rules_shown(&self.rules),
            );
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Rules that do not belong are revoked, missing ones authorized; the group's id joins
    /// `known.groups`.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, known: &mut Known) -> Result<()> {
        let name = &self.name;
        let (id, have_rules, have_tags) = match observed {
            Some(observed) => (
                observed.id.clone(),
                observed.rules.clone(),
                observed.tags.clone(),
            ),
            None => {
                let created = aws
                    .ec2
                    .create_security_group()
                    .group_name(name)
                    .description(&self.description)
                    .vpc_id(&known.vpc)
                    .tag_specifications(ec2::tag_specification(
                        ResourceType::SecurityGroup,
                        &self.tags,
                    ))
                    .send()
                    .await
                    .map_err(sdk_error(format!("creating the security group {name}")))?;
                (
                    created.group_id().context("no group id")?.to_owned(),
                    BTreeSet::new(),
                    self.tags.clone(),
                )
            }
        };
        known.groups.insert(name.clone(), id.clone());
        let ids = &known.groups;
        let extra: Vec<IpPermission> = have_rules
            .difference(&self.rules)
            .map(|r| permission(r, ids))
            .collect::<Result<_>>()?;
        if !extra.is_empty() {
            aws.ec2
                .revoke_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(extra))
                .send()
                .await
                .map_err(sdk_error(format!("revoking rules from {name}")))?;
        }
        let missing: Vec<IpPermission> = self
            .rules
            .difference(&have_rules)
            .map(|r| permission(r, ids))
            .collect::<Result<_>>()?;
        if !missing.is_empty() {
            aws.ec2
                .authorize_security_group_ingress()
                .group_id(&id)
                .set_ip_permissions(Some(missing))
                .send()
                .await
                .map_err(sdk_error(format!("authorizing rules on {name}")))?;
        }
        if crate::stack::tags_missing(&self.tags, &have_tags) {
            ec2::create_tags(aws, &id, &self.tags, name).await?;
        }
        Ok(())
    }

    /// Each group before the groups its rules name (the database group first).
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let mut names: Vec<String> = desired(config, true).into_iter().map(|g| g.name).collect();
        names.reverse();
        let observed = observe(aws, &known.vpc, &names, &BTreeMap::new()).await?;
        let mut deleted = Vec::new();
        for name in names {
            let Some(group) = observed.get(&name) else {
                continue;
            };
            super::ensure_owned(
                &group.tags,
                config,
                format_args!("the security group {name}"),
            )?;
            if delete_group(aws, &group.id, &name).await? {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}
