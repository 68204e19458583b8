//! The rules on the 443 listener that keep the API's operational paths off the internet, as the
//! instance topology's proxy does (templates/stack.yaml routes none of them): the load balancer
//! answers `/metrics`, `/readyz`, `/healthz` and — unless `deploy.public_api_docs` — the API's
//! documentation with a 404 of its own. Nothing needs them through it: Prometheus scrapes the
//! tasks on their addresses, and the target group's health checks reach the tasks directly.
//!
//! The stack's rules take priorities 1 and 2 ([`PRIORITIES`]), before any other: a path-pattern
//! condition takes three values at most, so the documentation has a rule of its own. Whatever
//! is at those priorities is the stack's to set (as the listener on port 443 is); rules at other
//! priorities are people's own and are left alone.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use aws_sdk_elasticloadbalancingv2::types as sdk;
use aws_sdk_elasticloadbalancingv2::types::{PathPatternConditionConfig, RuleCondition};

use super::super::tags::{add_missing_tags, tag_list, tags_of};
use super::routing::{FixedResponse, actions_shown, conditions_shown};
use crate::aws::{Aws, found, owned, sdk_error};
use crate::stack::config::STACK_TAG;
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The port of the listener the rules are on.
const PORT: i32 = 443;

/// The priorities the stack's rules may take.
pub(crate) const PRIORITIES: [i32; 2] = [1, 2];

/// The API's operational endpoints.
const OPERATIONAL: &[&str] = &["/metrics", "/readyz", "/healthz"];

/// The API's documentation: Swagger UI (`/api/docs`, `/api/docs/…`) and the OpenAPI document.
const DOCS: &[&str] = &["/api/docs*", "/api/v1/openapi.json"];

/// What the load balancer answers on them.
const NOT_FOUND: FixedResponse<'static> = FixedResponse {
    status: "404",
    content_type: "text/plain",
    body: "Not found",
};

/// One rule: requests for any of `paths` get [`NOT_FOUND`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) priority: i32,
    /// Path patterns (`*` any characters, `?` one), case-sensitive.
    pub(crate) paths: &'static [&'static str],
}

/// The stack's rules on its 443 listener, as one resource, so that one the stack file no
/// longer asks for (the documentation's, once it is public) is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerRules {
    /// The load balancer's name.
    pub(crate) load_balancer: String,
    pub(crate) rules: Vec<Rule>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// One of the stack's rules as Elastic Load Balancing has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObservedRule {
    pub(crate) arn: String,
    /// As [`conditions_shown`] gives them.
    pub(crate) conditions: String,
    /// As [`actions_shown`] gives them.
    pub(crate) action: String,
    pub(crate) tags: BTreeMap<String, String>,
}

impl ObservedRule {
    /// `rule`, found at `arn` with `tags`, as compared.
    fn of(rule: &sdk::Rule, arn: String, tags: BTreeMap<String, String>) -> ObservedRule {
        ObservedRule {
            arn,
            conditions: conditions_shown(rule.conditions()),
            action: actions_shown(rule.actions()),
            tags,
        }
    }

    fn shown(&self) -> String {
        format!("{} → {}", self.conditions, self.action)
    }
}

/// The rules the stack file asks for: the operational endpoints', and the documentation's
/// unless it is public.
pub(crate) fn rules(config: &StackConfig) -> Vec<Rule> {
    let mut rules = vec![Rule {
        priority: PRIORITIES[0],
        paths: OPERATIONAL,
    }];
    if !config.deploy.public_api_docs {
        rules.push(Rule {
            priority: PRIORITIES[1],
            paths: DOCS,
        });
    }
    rules
}

/// A rule's name: its listener's and its priority, `<stack>-api:443/1`.
fn rule_name(load_balancer: &str, priority: i32) -> String {
    format!("{load_balancer}:{PORT}/{priority}")
}

impl Rule {
    /// Its condition as the SDK takes it.
    fn condition(&self) -> RuleCondition {
        let paths = self.paths.iter().map(|p| (*p).to_owned()).collect();
        RuleCondition::builder()
            .field("path-pattern")
            .path_pattern_config(
                PathPatternConditionConfig::builder()
                    .set_values(Some(paths))
                    .build(),
            )
            .build()
    }

    fn conditions_shown(&self) -> String {
        conditions_shown(&[self.condition()])
    }

    fn action_shown() -> String {
        actions_shown(&[NOT_FOUND.action()])
    }

    fn shown(&self) -> String {
        format!("{} → {}", self.conditions_shown(), Self::action_shown())
    }

    /// Whether the rule `have` must be modified to be this one.
    fn differs_from(&self, have: &ObservedRule) -> bool {
        have.conditions != self.conditions_shown() || have.action != Self::action_shown()
    }
}

/// The rules of the listener `arn`; `None` if it does not exist.
async fn rules_of(aws: &Aws, arn: &str) -> Result<Option<Vec<sdk::Rule>>> {
    let mut rules = Vec::new();
    let mut pages = aws
        .elb
        .describe_rules()
        .listener_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = found(
            page,
            |e| e.is_listener_not_found_exception(),
            || format!("listing the rules of the listener {arn}"),
        )?
        else {
            return Ok(None);
        };
        rules.extend(page.rules().iter().cloned());
    }
    Ok(Some(rules))
}

/// A rule's priority; `None` for the listener's default rule.
fn priority_of(rule: &sdk::Rule) -> Option<i32> {
    if rule.is_default() == Some(true) {
        return None;
    }
    rule.priority()?.parse().ok()
}

/// Deletes the rule `arn`; false if it was already gone.
async fn delete_rule(aws: &Aws, arn: &str, name: &str) -> Result<bool> {
    let reply = aws.elb.delete_rule().rule_arn(arn).send().await;
    let deleted = found(
        reply,
        |e| e.is_rule_not_found_exception(),
        || format!("deleting the listener rule {name}"),
    )?;
    Ok(deleted.is_some())
}

impl ListenerRules {
    fn wants(&self, priority: i32) -> bool {
        self.rules.iter().any(|r| r.priority == priority)
    }

    fn rule_name(&self, priority: i32) -> String {
        rule_name(&self.load_balancer, priority)
    }

    /// Creates `rule` on the listener `listener`, with its tags.
    async fn create(&self, aws: &Aws, listener: &str, rule: &Rule) -> Result<()> {
        aws.elb
            .create_rule()
            .listener_arn(listener)
            .priority(rule.priority)
            .conditions(rule.condition())
            .actions(NOT_FOUND.action())
            .set_tags(Some(tag_list(&self.tags)))
            .send()
            .await
            .map_err(sdk_error(format!(
                "creating the listener rule {}",
                self.rule_name(rule.priority)
            )))?;
        Ok(())
    }

    /// Sets the condition and action of the rule `have` to `rule`'s.
    async fn modify(&self, aws: &Aws, have: &ObservedRule, rule: &Rule) -> Result<()> {
        aws.elb
            .modify_rule()
            .rule_arn(&have.arn)
            .conditions(rule.condition())
            .actions(NOT_FOUND.action())
            .send()
            .await
            .map_err(sdk_error(format!(
                "changing the listener rule {}",
                self.rule_name(rule.priority)
            )))?;
        Ok(())
    }
}

impl Resource for ListenerRules {
    /// The stack's rules as compared, by priority; `None` when there are none (or no listener).
    type Observed = BTreeMap<i32, ObservedRule>;
    const KIND: &'static str = "listener rule";
    const AFTER: &'static [&'static str] = &["listener"];
    /// The rules are read by the listener's ARN.
    const READS_AFTER: &'static [&'static str] = &["listener"];

    async fn desired(_: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<Self>> {
        if config.ecs.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![ListenerRules {
            load_balancer: super::super::name(config),
            rules: rules(config),
            tags: config.tags(),
        }])
    }

    fn name(&self) -> String {
        self.rules
            .iter()
            .map(|r| self.rule_name(r.priority))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The rules at the stack's priorities: at a priority the stack file no longer asks for,
    /// only one carrying the stack's tag.
    async fn observe(&self, aws: &Aws, known: &Known) -> Result<Option<Self::Observed>> {
        let Some(listener) = &known.ecs.https_listener else {
            return Ok(None);
        };
        let Some(rules) = rules_of(aws, listener).await? else {
            return Ok(None);
        };
        let mut observed = BTreeMap::new();
        for rule in &rules {
            let Some(priority) = priority_of(rule).filter(|p| PRIORITIES.contains(p)) else {
                continue;
            };
            let name = self.rule_name(priority);
            let arn = rule
                .rule_arn()
                .with_context(|| format!("AWS described the listener rule {name} without its ARN"))?
                .to_owned();
            let tags = tags_of(aws, &arn, &format!("the listener rule {name}")).await?;
            if !self.wants(priority) && tags.get(STACK_TAG) != self.tags.get(STACK_TAG) {
                continue;
            }
            observed.insert(priority, ObservedRule::of(rule, arn, tags));
        }
        Ok((!observed.is_empty()).then_some(observed))
    }

    /// Each wanted rule as it should be, and each of the stack's that is not wanted, to go.
    /// Waits with the 443 listener for the certificate.
    fn diff(&self, observed: Option<&Self::Observed>, known: &Known) -> Change {
        if observed.is_none()
            && known.ecs.https_listener.is_none()
            && known.ecs.certificate.is_none()
        {
            return Change::Waiting {
                reason: format!(
                    "after the listener {}:{PORT}, which waits for its certificate",
                    self.load_balancer
                ),
            };
        }
        Diff::of(observed, |have, diff| {
            for rule in &self.rules {
                let field = format!("priority_{}", rule.priority);
                let Some(current) = have.get(&rule.priority) else {
                    diff.field(&field, "(none)", rule.shown());
                    continue;
                };
                let conditions = rule.conditions_shown();
                diff.field(
                    &format!("{field}.conditions"),
                    &current.conditions,
                    conditions,
                );
                let action = Rule::action_shown();
                diff.field(&format!("{field}.action"), &current.action, action);
                for (key, value) in &self.tags {
                    let tag = current.tags.get(key).map_or("(none)", String::as_str);
                    diff.field(&format!("{field}.tags.{key}"), tag, value);
                }
            }
            for (priority, current) in have {
                if !self.wants(*priority) {
                    diff.field(&format!("priority_{priority}"), current.shown(), "(none)");
                }
            }
        })
    }

    /// Creates the rules that are missing, sets the condition and action of those that differ
    /// and adds the tags they lack; deletes the stack's that are not wanted.
    async fn apply(
        &self,
        aws: &Aws,
        observed: Option<&Self::Observed>,
        known: &mut Known,
    ) -> Result<()> {
        let none = BTreeMap::new();
        let have = observed.unwrap_or(&none);
        let listener = known.ecs.https_listener.as_deref().with_context(|| {
            format!(
                "the listener {}:{PORT} has no ARN yet; it is made before its rules",
                self.load_balancer
            )
        })?;
        for rule in &self.rules {
            let Some(current) = have.get(&rule.priority) else {
                self.create(aws, listener, rule).await?;
                continue;
            };
            if rule.differs_from(current) {
                self.modify(aws, current, rule).await?;
            }
            let name = self.rule_name(rule.priority);
            let what = format!("the listener rule {name}");
            add_missing_tags(aws, &current.arn, &current.tags, &self.tags, &what).await?;
        }
        for (priority, current) in have {
            if !self.wants(*priority) {
                delete_rule(aws, &current.arn, &self.rule_name(*priority)).await?;
            }
        }
        Ok(())
    }

    /// Deletes the rules carrying the stack's tag on its load balancer's 443 listener. (They
    /// would go with the listener, deleted next; deleted here, destroy names them.)
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let load_balancer = super::super::name(config);
        let Some(balancer) = super::super::observe_by_name(aws, &load_balancer).await? else {
            return Ok(vec![]);
        };
        let Some(listeners) = super::listeners_of(aws, &balancer.arn).await? else {
            return Ok(vec![]);
        };
        let Some(listener) = listeners
            .iter()
            .find(|l| l.port() == Some(PORT))
            .and_then(|l| l.listener_arn())
        else {
            return Ok(vec![]);
        };
        let mut deleted = Vec::new();
        for rule in rules_of(aws, listener).await?.unwrap_or_default() {
            let (Some(priority), Some(arn)) = (priority_of(&rule), rule.rule_arn()) else {
                continue;
            };
            let name = rule_name(&load_balancer, priority);
            let tags = tags_of(aws, arn, &format!("the listener rule {name}")).await?;
            if owned(&tags, config) && delete_rule(aws, arn, &name).await? {
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}
