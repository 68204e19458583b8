//! The rules on an ECS stack's 443 listener that answer the API's operational paths — and its
//! documentation, unless `deploy.public_api_docs` — with the load balancer's own 404, as the
//! instance topology's proxy keeps them private; and the rules people add beside them, left
//! alone.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, PathPatternConditionConfig, Rule,
    RuleCondition,
};

use super::fixtures::*;
use crate::fixtures::*;

/// The priority of a rule of people's own, beside the stack's (1 and 2).
const THEIRS: i32 = 10;

/// The ARN of the 443 listener of the stack's load balancer.
async fn https_listener(stack: &Stack) -> String {
    let elb = elb().await;
    let balancers = elb
        .describe_load_balancers()
        .names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    let balancer = balancers.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(balancer)
        .send()
        .await
        .unwrap();
    let listener = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("the 443 listener");
    listener.listener_arn().unwrap().to_owned()
}

/// The 443 listener's rules but its default one, by priority.
async fn rules(stack: &Stack) -> BTreeMap<i32, Rule> {
    let reply = elb()
        .await
        .describe_rules()
        .listener_arn(https_listener(stack).await)
        .send()
        .await
        .unwrap();
    reply
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| (r.priority().unwrap().parse().unwrap(), r.clone()))
        .collect()
}

/// A rule's path patterns, sorted.
fn paths(rule: &Rule) -> Vec<String> {
    let mut paths: Vec<String> = rule
        .conditions()
        .iter()
        .flat_map(|c| match c.path_pattern_config() {
            Some(config) => config.values().to_vec(),
            None => c.values().to_vec(),
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

fn path_pattern(paths: &[&str]) -> RuleCondition {
    let values = paths.iter().map(|p| (*p).to_owned()).collect();
    RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(
            PathPatternConditionConfig::builder()
                .set_values(Some(values))
                .build(),
        )
        .build()
}

/// The stack's rules, exactly: the operational paths at priority 1 and, unless the
/// documentation is public, the documentation's at 2; each a fixed 404 in plain text, with the
/// stack's tag. No other rule carries the tag.
pub(super) async fn assert_private_paths(stack: &Stack, public_api_docs: bool) {
    let rules = rules(stack).await;
    let arns: Vec<String> = rules
        .values()
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    assert!(
        !arns.is_empty(),
        "the 443 listener has no rule of the stack's"
    );
    let described = elb()
        .await
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .unwrap();
    let tagged: Vec<&str> = described
        .tag_descriptions()
        .iter()
        .filter(|d| {
            d.tags().iter().any(|t| {
                t.key() == Some("ledgerly:stack") && t.value() == Some(stack.name.as_str())
            })
        })
        .filter_map(|d| d.resource_arn())
        .collect();
    let ours: Vec<(i32, Vec<String>)> = rules
        .iter()
        .filter(|(_, r)| r.rule_arn().is_some_and(|arn| tagged.contains(&arn)))
        .map(|(priority, r)| (*priority, paths(r)))
        .collect();
    let mut expected = vec![(1, vec!["/healthz", "/metrics", "/readyz"])];
    if !public_api_docs {
        expected.push((2, vec!["/api/docs*", "/api/v1/openapi.json"]));
    }
    let expected: Vec<(i32, Vec<String>)> = expected
        .into_iter()
        .map(|(p, paths)| (p, paths.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(ours, expected, "{rules:#?}");
    for (priority, _) in &expected {
        let rule = &rules[priority];
        assert_eq!(rule.conditions().len(), 1, "{rule:?}");
        assert_eq!(rule.conditions()[0].field(), Some("path-pattern"));
        assert_eq!(rule.actions().len(), 1, "{rule:?}");
        let action = &rule.actions()[0];
        assert_eq!(action.r#type(), Some(&ActionTypeEnum::FixedResponse));
        let fixed = action.fixed_response_config().unwrap();
        assert_eq!(fixed.status_code(), Some("404"));
        assert_eq!(fixed.content_type(), Some("text/plain"));
        assert_eq!(fixed.message_body(), Some("Not found"));
    }
}

/// A rule of people's own at [`THEIRS`], without the stack's tag.
async fn add_people_s_rule(stack: &Stack) {
    let answer = Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("200")
                .content_type("text/plain")
                .message_body("theirs")
                .build(),
        )
        .build();
    elb()
        .await
        .create_rule()
        .listener_arn(https_listener(stack).await)
        .priority(THEIRS)
        .conditions(path_pattern(&["/theirs"]))
        .actions(answer)
        .send()
        .await
        .unwrap();
}

/// People's rule is there as they made it.
pub(super) async fn assert_people_s_rule_left(stack: &Stack) {
    let rules = rules(stack).await;
    let theirs = rules.get(&THEIRS).expect("people's rule is left alone");
    assert_eq!(paths(theirs), ["/theirs"]);
    let status = theirs.actions()[0]
        .fixed_response_config()
        .and_then(|c| c.status_code());
    assert_eq!(status, Some("200"));
}

/// Drift in the stack's rules: the operational one answers `/metrics` alone and forwards it to
/// the tasks, the documentation's is deleted; and a rule of people's own is added beside them.
pub(super) async fn drift_private_paths(stack: &Stack) {
    let elb = elb().await;
    let rules = rules(stack).await;
    let target_group = target_group(stack).await;
    let forward = Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group.target_group_arn().unwrap())
        .build();
    elb.modify_rule()
        .rule_arn(rules[&1].rule_arn().unwrap())
        .conditions(path_pattern(&["/metrics"]))
        .actions(forward)
        .send()
        .await
        .unwrap();
    elb.delete_rule()
        .rule_arn(rules[&2].rule_arn().unwrap())
        .send()
        .await
        .unwrap();
    add_people_s_rule(stack).await;
}

#[tokio::test]
async fn public_docs_lose_their_rule_and_people_s_rules_are_left_alone() {
    let stack = Stack::ecs("ecsdocs");
    let (_, plan) = stack.plan();
    assert!(
        kinds_of(&plan, "waiting")
            .iter()
            .any(|k| k == "listener rule"),
        "the rules wait with the 443 listener for the certificate: {plan}"
    );
    stack.provision();
    assert_private_paths(&stack, false).await;
    add_people_s_rule(&stack).await;

    stack.write(&format!("{ECS}deploy:\n  public_api_docs: true\n"));
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    let changes = plan["changes"].to_string();
    assert!(
        changes.contains(r#""kind":"listener rule""#) && changes.contains("priority_2"),
        "{changes}"
    );
    stack.provision();
    assert_private_paths(&stack, true).await;
    assert_people_s_rule_left(&stack).await;
    let again = stack.provision();
    assert_eq!(again["calls"]["mutating"], 0, "{again}");

    // Private again: the documentation's rule is made anew.
    stack.write(ECS);
    stack.provision();
    assert_private_paths(&stack, false).await;
    assert_people_s_rule_left(&stack).await;
}
