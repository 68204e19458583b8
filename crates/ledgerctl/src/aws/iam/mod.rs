//! IAM roles: the Lambda's, the instance's with its instance profile, and (with the stack file's
//! `github` section) the one GitHub Actions deploys with. Inline policies only: no managed policy
//! is attached, and one attached out of band is drift, and removed. What each role trusts and
//! allows is written in `policies`.

mod policies;

use policies::{github_role, instance_role, lambda_role, task_execution_role, task_role};

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_iam::types::Tag;

use super::{Aws, found, sdk_error};
use crate::stack::config::{GithubConfig, STACK_TAG};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig, canonical_json};

/// What the roles may reach.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    pub(crate) account: String,
    pub(crate) region: String,
    pub(crate) bucket: String,
    /// The access-log bucket (`topology: ecs`).
    pub(crate) log_bucket: String,
    pub(crate) repositories: Vec<String>,
}

impl Targets {
    fn of(config: &StackConfig, known: &Known) -> Targets {
        Targets {
            account: known.account.clone(),
            region: known.region.clone(),
            bucket: super::s3::name(config, &known.account),
            log_bucket: super::s3::access_logs::name(config, &known.account),
            repositories: super::ecr::names(config).to_vec(),
        }
    }
}

/// One of the stack's roles, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Role {
    pub(crate) name: String,
    pub(crate) trust: String,
    pub(crate) policy: String,
    /// The instance profile carrying the role, for the instance's.
    pub(crate) instance_profile: bool,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Observed {
    pub(crate) trust: String,
    pub(crate) policy: Option<String>,
    pub(crate) managed_policies: Vec<String>,
    pub(crate) tags: BTreeMap<String, String>,
    /// `None`: no instance profile; otherwise the roles in it.
    pub(crate) profile_roles: Option<Vec<String>>,
}

/// IAM returns policy documents URL-encoded.
fn url_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn document(text: &str) -> String {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        url_decoded(text)
    };
    canonical_json(&decoded)
}

/// The stack's tags as this SDK's type.
pub(super) fn tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>> {
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

/// The roles in the instance profile `name`; `None` when there is no such profile.
async fn observe_profile(aws: &Aws, name: &str) -> Result<Option<Vec<String>>> {
    let reply = aws
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await;
    let reply = found(
        reply,
        |e| e.is_no_such_entity_exception(),
        || format!("reading the instance profile {name}"),
    )?;
    Ok(reply.map(|reply| {
        reply
            .instance_profile()
            .map(|p| p.roles().iter().map(|r| r.role_name().to_owned()).collect())
            .unwrap_or_default()
    }))
}

impl Role {
    /// Creates the role; what it then has.
    async fn create(&self, aws: &Aws) -> Result<Observed> {
        let name = &self.name;
        let stack = self.tags.get(STACK_TAG).map_or("", String::as_str);
        let created = aws
            .iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(&self.trust)
            .description(format!("Ledgerly stack {stack}"))
            .set_tags(Some(tags(&self.tags)?))
            .send()
            .await;
        // Made by a run that was interrupted before it could say so: fine.
        found(
            created,
            |e| e.is_entity_already_exists_exception(),
            || format!("creating the role {name}"),
        )?;
        Ok(Observed {
            trust: canonical_json(&self.trust),
            tags: self.tags.clone(),
            ..Observed::default()
        })
    }

    /// Makes the instance profile hold this role and no other (`roles`: those it holds; `None`:
    /// there is no profile yet).
    async fn apply_profile(&self, aws: &Aws, roles: Option<&[String]>) -> Result<()> {
        let name = &self.name;
        let roles: &[String] = match roles {
            Some(roles) => roles,
            None => {
                let created = aws
                    .iam
                    .create_instance_profile()
                    .instance_profile_name(name)
                    .set_tags(Some(tags(&self.tags)?))
                    .send()
                    .await;
                found(
                    created,
                    |e| e.is_entity_already_exists_exception(),
                    || format!("creating the instance profile {name}"),
                )?;
                &[]
            }
        };
        for other in roles.iter().filter(|r| *r != name) {
            aws.iam
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(other)
                .send()
                .await
                .map_err(sdk_error(format!(
                    "removing {other} from the instance profile {name}"
                )))?;
        }
        if !roles.contains(name) {
            aws.iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(name)
                .send()
                .await
                .map_err(sdk_error(format!("adding {name} to its instance profile")))?;
        }
        Ok(())
    }
}

impl Resource for Role {
    type Observed = Observed;
    const KIND: &'static str = "iam role";
    /// The deploy role's trust names GitHub's provider.
    const AFTER: &'static [&'static str] = &["iam oidc provider"];

    /// The Lambda's role, the instance's, the ECS tasks' two with `topology: ecs`, and the
    /// deploy role with the `github` section.
    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let targets = Targets::of(config, known);
        let mut roles = vec![
            lambda_role(config, &targets),
            instance_role(config, &targets),
        ];
        if config.ecs.is_some() {
            roles.push(task_execution_role(config, &targets));
            roles.push(task_role(config, &targets));
        }
        if let Some(github) = &config.github {
            roles.push(github_role(config, &targets, github));
        }
        Ok(roles)
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        let name = &self.name;
        let reply = aws.iam.get_role().role_name(name).send().await;
        let reply = found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("reading the role {name}"),
        )?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        let role = reply.role.context("GetRole answered without the role")?;
        let reply = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(name)
            .send()
            .await;
        let policy = found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("reading {name}'s policy"),
        )?
        .map(|reply| document(reply.policy_document()));
        let managed_policies = aws
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(sdk_error(format!("listing {name}'s attached policies")))?
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        let tags = aws
            .iam
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .map_err(sdk_error(format!("listing {name}'s tags")))?
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let profile_roles = if self.instance_profile {
            observe_profile(aws, name).await?
        } else {
            None
        };
        Ok(Some(Observed {
            trust: role
                .assume_role_policy_document()
                .map(document)
                .unwrap_or_default(),
            policy,
            managed_policies,
            tags,
            profile_roles,
        }))
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        Diff::of(observed, |have, diff| {
            diff.field("trust_policy", &have.trust, canonical_json(&self.trust));
            diff.field(
                "inline_policy",
                have.policy.as_deref().unwrap_or("(none)"),
                canonical_json(&self.policy),
            );
            diff.field(
                "managed_policies",
                if have.managed_policies.is_empty() {
                    "(none)".to_owned()
                } else {
                    have.managed_policies.join(",")
                },
                "(none)",
            );
            if self.instance_profile {
                let shown = |roles: &Option<Vec<String>>| match roles {
                    None => "(no instance profile)".to_owned(),
                    Some(roles) => format!("[{}]", roles.join(",")),
                };
                diff.field(
                    "instance_profile",
                    shown(&have.profile_roles),
                    shown(&Some(vec![self.name.clone()])),
                );
            }
            diff.tags(&have.tags, &self.tags);
        })
    }

    /// Makes the role (and its instance profile) what `self` says, changing only what differs.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let name = &self.name;
        let observed = match observed {
            Some(observed) => observed.clone(),
            None => self.create(aws).await?,
        };
        if observed.trust != canonical_json(&self.trust) {
            aws.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(&self.trust)
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s trust policy")))?;
        }
        if observed.policy.as_deref() != Some(canonical_json(&self.policy).as_str()) {
            aws.iam
                .put_role_policy()
                .role_name(name)
                .policy_name(name)
                .policy_document(&self.policy)
                .send()
                .await
                .map_err(sdk_error(format!("setting {name}'s policy")))?;
        }
        for arn in &observed.managed_policies {
            aws.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(sdk_error(format!("detaching {arn} from {name}")))?;
        }
        if crate::stack::tags_missing(&self.tags, &observed.tags) {
            aws.iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(tags(&self.tags)?))
                .send()
                .await
                .map_err(sdk_error(format!("tagging {name}")))?;
        }
        if self.instance_profile {
            let roles = observed.profile_roles.as_deref();
            self.apply_profile(aws, roles).await?;
        }
        Ok(())
    }

    /// The deploy role also when the stack file no longer has its `github` section (the OIDC
    /// provider is account-wide and stays), then the instance's and the Lambda's.
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let targets = Targets::of(config, known);
        // Without the section, a stand-in: deleting needs only the role's name.
        let stand_in = GithubConfig {
            repository: "-/-".into(),
            environment: "-".into(),
            branch: "-".into(),
            workflow: "-".into(),
        };
        let github = config.github.as_ref().unwrap_or(&stand_in);
        let mut deleted = Vec::new();
        for role in [
            github_role(config, &targets, github),
            instance_role(config, &targets),
            lambda_role(config, &targets),
            task_execution_role(config, &targets),
            task_role(config, &targets),
        ] {
            if delete_role(aws, config, &role, known).await? {
                deleted.push(role.name);
            }
        }
        Ok(deleted)
    }
}

/// Deletes the role with its inline policy, any attached policy and its instance profile;
/// whether it was there.
async fn delete_role(aws: &Aws, config: &StackConfig, role: &Role, known: &Known) -> Result<bool> {
    let name = &role.name;
    let Some(have) = role.observe(aws, known).await? else {
        return Ok(false);
    };
    super::ensure_owned(&have.tags, config, format_args!("the role {name}"))?;
    if let Some(roles) = &have.profile_roles {
        delete_profile(aws, name, roles).await?;
    }
    for arn in &have.managed_policies {
        let reply = aws
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await;
        found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("detaching {arn} from {name}"),
        )?;
    }
    if have.policy.is_some() {
        let reply = aws
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(name)
            .send()
            .await;
        found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("deleting {name}'s policy"),
        )?;
    }
    let reply = aws.iam.delete_role().role_name(name).send().await;
    let deleted = found(
        reply,
        |e| e.is_no_such_entity_exception(),
        || format!("deleting the role {name}"),
    )?;
    Ok(deleted.is_some())
}

/// Empties the instance profile `name` (holding `roles`) and deletes it.
async fn delete_profile(aws: &Aws, name: &str, roles: &[String]) -> Result<()> {
    for role in roles {
        let reply = aws
            .iam
            .remove_role_from_instance_profile()
            .instance_profile_name(name)
            .role_name(role)
            .send()
            .await;
        found(
            reply,
            |e| e.is_no_such_entity_exception(),
            || format!("emptying the instance profile {name}"),
        )?;
    }
    let reply = aws
        .iam
        .delete_instance_profile()
        .instance_profile_name(name)
        .send()
        .await;
    found(
        reply,
        |e| e.is_no_such_entity_exception(),
        || format!("deleting the instance profile {name}"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_from_iam_are_decoded_and_compared_canonically() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            document(encoded),
            canonical_json(r#"{"Statement":[],"Version":"2012-10-17"}"#)
        );
    }
}
