//! Temporary SSH access to the instance: an ingress rule on the stack's `ssh` security group for
//! one address, on `instance.ssh_port`, that runs out. It is how a machine outside `admin_cidr` —
//! a GitHub Actions runner, an operator travelling — reaches the instance for a while.
//!
//! A grant is an ordinary rule that says what it is twice: its description
//! (`ledgerctl access until <RFC 3339> for <holder>`), which `describe-security-groups` shows and
//! the security group's drift check reads, and its tags ([`EXPIRES_TAG`], [`HOLDER_TAG`] and the
//! stack's own), for people and for IAM. AWS has no expiring rules, so a grant runs out where
//! ledgerctl looks: a rule past its time is drift to `plan` and `provision`, and `access open`
//! and `access close` revoke every such rule first — so the rule of a job that crashed before
//! closing its access is gone by the next run at the latest.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate,
};
use chrono::{DateTime, SecondsFormat, Utc};
use ipnet::IpNet;
use serde::Serialize;

use super::{Aws, ec2, sdk_error};
use crate::stack::StackConfig;

/// How a grant's description starts; the time it runs out follows.
pub(crate) const DESCRIPTION_PREFIX: &str = "ledgerctl access until ";
/// The tag holding when a grant runs out (RFC 3339, UTC).
pub(crate) const EXPIRES_TAG: &str = "ledgerly:access-expires";
/// The tag naming who opened a grant.
pub(crate) const HOLDER_TAG: &str = "ledgerly:access-for";
/// The tag (and value) marking the one group grants go to, which the deploy role's IAM policy
/// names: it may add and remove rules on that group alone.
pub(crate) const GROUP_TAG: (&str, &str) = ("ledgerly:access", "ssh");
/// The longest a grant may last.
pub(crate) const LONGEST: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// One grant as AWS has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Grant {
    /// The security group rule's id (`sgr-…`).
    pub(crate) rule: String,
    pub(crate) cidr: String,
    pub(crate) port: i32,
    pub(crate) expires: DateTime<Utc>,
    pub(crate) holder: String,
}

impl Grant {
    pub(crate) fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires <= now
    }
}

/// The description of a grant running out at `expires`, opened by `holder`: within EC2's 255
/// characters and the characters it allows in one.
pub(crate) fn description(expires: DateTime<Utc>, holder: &str) -> String {
    let text = format!(
        "{DESCRIPTION_PREFIX}{} for {holder}",
        expires.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(255)
        .collect()
}

/// When the grant a rule's description names runs out; `None` for any other rule.
pub(crate) fn expiry_of(description: &str) -> Option<DateTime<Utc>> {
    let rest = description.strip_prefix(DESCRIPTION_PREFIX)?;
    let time = rest.split(' ').next()?;
    DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Who opened a grant, from its description.
fn holder_of(description: &str) -> String {
    description
        .split_once(" for ")
        .map_or_else(|| "someone".to_owned(), |(_, holder)| holder.to_owned())
}

/// The address as the single-address network a rule names: `/32` or `/128` when none is given.
pub(crate) fn single(cidr: &str) -> Result<IpNet> {
    let net = match cidr.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => cidr
            .parse::<std::net::IpAddr>()
            .map(IpNet::from)
            .ok()
            .with_context(|| {
                format!("{cidr} is not an address or a CIDR block (like 198.51.100.7 or 198.51.100.0/28)")
            })?,
    };
    Ok(net.trunc())
}

/// Whether `admin_cidr` already admits all of `net`: then a grant adds nothing.
pub(crate) fn admitted(config: &StackConfig, net: &IpNet) -> Option<String> {
    config
        .admin_cidr
        .iter()
        .find(|block| block.parse::<IpNet>().is_ok_and(|b| b.contains(net)))
        .cloned()
}

/// The stack's `ssh` group: its id. An error says to provision when it is not there.
pub(crate) async fn ssh_group(aws: &Aws, config: &StackConfig) -> Result<String> {
    let name = config.name("ssh");
    let vpc = super::sg::default_vpc(aws).await?;
    let groups = aws
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(&name).build())
        .send()
        .await
        .map_err(sdk_error(format!("looking for the security group {name}")))?;
    let group = groups.security_groups().first().with_context(|| {
        format!(
            "the stack {} has no security group {name} yet; run ledgerctl provision first",
            config.stack
        )
    })?;
    super::ensure_owned(
        &ec2::tags_of(group.tags()),
        config,
        format_args!("the security group {name}"),
    )?;
    group
        .group_id()
        .map(str::to_owned)
        .context("AWS gave the security group no id")
}

/// The grants on the group `group`, oldest running out first.
pub(crate) async fn grants(aws: &Aws, group: &str) -> Result<Vec<Grant>> {
    let mut grants = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group).build())
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk_error("reading the SSH group's rules".into()))?;
        for rule in page.security_group_rules() {
            if rule.is_egress() == Some(true) {
                continue;
            }
            // The emulator lists every group's rules whatever the filter says.
            if rule.group_id() != Some(group) {
                continue;
            }
            let description = rule.description().unwrap_or_default();
            let tags = ec2::tags_of(rule.tags());
            let expires = tags
                .get(EXPIRES_TAG)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                .or_else(|| expiry_of(description));
            let (Some(expires), Some(id)) = (expires, rule.security_group_rule_id()) else {
                continue;
            };
            let Some(cidr) = rule.cidr_ipv4().or(rule.cidr_ipv6()) else {
                continue;
            };
            grants.push(Grant {
                rule: id.to_owned(),
                cidr: cidr.to_owned(),
                port: rule.from_port().unwrap_or(-1),
                expires,
                holder: tags
                    .get(HOLDER_TAG)
                    .cloned()
                    .unwrap_or_else(|| holder_of(description)),
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    grants.sort_by(|a, b| (a.expires, &a.cidr).cmp(&(b.expires, &b.cidr)));
    Ok(grants)
}

/// One grant's rule as an EC2 permission (to revoke by content: the emulator does not revoke by
/// rule id).
fn permission(cidr: &str, port: i32, description: Option<String>) -> IpPermission {
    let builder = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port);
    if cidr.contains(':') {
        builder
            .ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(cidr)
                    .set_description(description)
                    .build(),
            )
            .build()
    } else {
        builder
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .set_description(description)
                    .build(),
            )
            .build()
    }
}

/// Revokes `grants` from the group `group`.
pub(crate) async fn revoke(aws: &Aws, group: &str, grants: &[Grant]) -> Result<()> {
    if grants.is_empty() {
        return Ok(());
    }
    aws.ec2
        .revoke_security_group_ingress()
        .group_id(group)
        .set_ip_permissions(Some(
            grants
                .iter()
                .map(|g| permission(&g.cidr, g.port, None))
                .collect(),
        ))
        .send()
        .await
        .map_err(sdk_error("revoking temporary SSH access".into()))?;
    Ok(())
}

/// What [`open`] did.
#[derive(Debug, Serialize)]
pub(crate) struct Opened {
    /// The grant now in place; `None` when `admin_cidr` admits the address already.
    pub(crate) grant: Option<Grant>,
    /// Whether a grant for the address was there and was made to last longer.
    pub(crate) extended: bool,
    /// The `admin_cidr` block that admits the address already.
    pub(crate) admitted_by: Option<String>,
    /// Grants that had run out, revoked first.
    pub(crate) removed: Vec<Grant>,
}

/// Admits `net` to the instance's SSH port until `expires`, for `holder`: the grants that have run
/// out revoked first, a grant of the same address made to last until `expires` (never shortened),
/// nothing added when `admin_cidr` admits it already.
pub(crate) async fn open(
    aws: &Aws,
    config: &StackConfig,
    net: &IpNet,
    expires: DateTime<Utc>,
    holder: &str,
) -> Result<Opened> {
    let group = ssh_group(aws, config).await?;
    let now = Utc::now();
    let (removed, live): (Vec<Grant>, Vec<Grant>) = grants(aws, &group)
        .await?
        .into_iter()
        .partition(|g| g.expired(now));
    revoke(aws, &group, &removed).await?;
    if let Some(block) = admitted(config, net) {
        return Ok(Opened {
            grant: None,
            extended: false,
            admitted_by: Some(block),
            removed,
        });
    }
    let cidr = net.to_string();
    let port = i32::from(config.instance.ssh_port);
    let mut tags: BTreeMap<String, String> = config.tags();
    tags.insert(
        EXPIRES_TAG.into(),
        expires.to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    tags.insert(HOLDER_TAG.into(), tag_value(holder));
    if let Some(existing) = live.iter().find(|g| g.cidr == cidr && g.port == port) {
        if existing.expires >= expires {
            return Ok(Opened {
                grant: Some(existing.clone()),
                extended: false,
                admitted_by: None,
                removed,
            });
        }
        let request = SecurityGroupRuleRequest::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .description(description(expires, holder));
        let request = if cidr.contains(':') {
            request.cidr_ipv6(&cidr)
        } else {
            request.cidr_ipv4(&cidr)
        };
        aws.ec2
            .modify_security_group_rules()
            .group_id(&group)
            .security_group_rules(
                SecurityGroupRuleUpdate::builder()
                    .security_group_rule_id(&existing.rule)
                    .security_group_rule(request.build())
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_error(format!("extending the SSH access of {cidr}")))?;
        ec2::create_tags(aws, &existing.rule, &tags, "the SSH access rule").await?;
        return Ok(Opened {
            grant: Some(Grant {
                expires,
                holder: holder.to_owned(),
                ..existing.clone()
            }),
            extended: true,
            admitted_by: None,
            removed,
        });
    }
    let reply = aws
        .ec2
        .authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(permission(&cidr, port, Some(description(expires, holder))))
        .tag_specifications(ec2::tag_specification(
            ResourceType::SecurityGroupRule,
            &tags,
        ))
        .send()
        .await
        .map_err(sdk_error(format!("admitting {cidr} to SSH")))?;
    let rule = reply
        .security_group_rules()
        .first()
        .and_then(|r| r.security_group_rule_id())
        .unwrap_or_default()
        .to_owned();
    Ok(Opened {
        grant: Some(Grant {
            rule,
            cidr,
            port,
            expires,
            holder: holder.to_owned(),
        }),
        extended: false,
        admitted_by: None,
        removed,
    })
}

/// A tag value within AWS's 256 characters.
fn tag_value(text: &str) -> String {
    text.chars().take(256).collect()
}

/// Which grants [`close`] revokes besides the ones that have run out.
#[derive(Debug, Clone)]
pub(crate) enum Closing {
    /// The grants of this network.
    Of(IpNet),
    /// Every grant.
    All,
}

/// Revokes the grants `which` names and every one that has run out; the revoked ones.
pub(crate) async fn close(aws: &Aws, config: &StackConfig, which: &Closing) -> Result<Vec<Grant>> {
    let group = ssh_group(aws, config).await?;
    let now = Utc::now();
    let closing: Vec<Grant> = grants(aws, &group)
        .await?
        .into_iter()
        .filter(|g| {
            g.expired(now)
                || match which {
                    Closing::All => true,
                    Closing::Of(net) => single(&g.cidr).is_ok_and(|c| c == *net),
                }
        })
        .collect();
    revoke(aws, &group, &closing).await?;
    Ok(closing)
}

/// The grants on the stack's `ssh` group.
pub(crate) async fn list(aws: &Aws, config: &StackConfig) -> Result<Vec<Grant>> {
    let group = ssh_group(aws, config).await?;
    grants(aws, &group).await
}

/// How long a grant is to last: at least a minute, at most [`LONGEST`].
pub(crate) fn checked_length(length: std::time::Duration) -> Result<chrono::Duration> {
    if length < std::time::Duration::from_secs(60) || length > LONGEST {
        bail!(
            "--for {}: give between 1m and 24h",
            humantime::format_duration(length)
        );
    }
    chrono::Duration::from_std(length).context("a duration out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_s_description_names_its_end_and_holder_within_ec2_s_rules() {
        let expires = DateTime::parse_from_rfc3339("2026-12-05T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = description(expires, "runner@fv-az1 pid 42 (GitHub run 7) ~é");
        assert_eq!(
            text,
            "ledgerctl access until 2026-12-05T16:30:00Z for runner@fv-az1 pid 42 (GitHub run 7) --"
        );
        assert_eq!(expiry_of(&text), Some(expires));
        assert_eq!(holder_of(&text), "runner@fv-az1 pid 42 (GitHub run 7) --");
        assert_eq!(expiry_of("ssh from the office"), None);
        assert_eq!(description(expires, &"x".repeat(400)).len(), 255);
    }

    #[test]
    fn an_address_is_a_single_address_network_and_admin_cidr_may_admit_it_already() {
        assert_eq!(
            single("198.51.100.7").unwrap().to_string(),
            "198.51.100.7/32"
        );
        assert_eq!(
            single("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert_eq!(
            single("198.51.100.7/28").unwrap().to_string(),
            "198.51.100.0/28"
        );
        assert!(
            single("runner")
                .unwrap_err()
                .to_string()
                .contains("not an address")
        );
        let config = StackConfig::parse(
            "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: [203.0.113.0/24]\ninstance:\n  key_pair:\n    name: k\n",
            "test",
        )
        .unwrap();
        assert_eq!(
            admitted(&config, &single("203.0.113.9").unwrap()).as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(admitted(&config, &single("198.51.100.7").unwrap()), None);
    }

    #[test]
    fn a_grant_lasts_between_a_minute_and_a_day() {
        use std::time::Duration;
        assert!(checked_length(Duration::from_secs(15 * 60)).is_ok());
        assert!(checked_length(Duration::from_secs(30)).is_err());
        assert!(checked_length(Duration::from_secs(25 * 3600)).is_err());
    }
}
