//! The listener rules' tests: what the stack file asks for, what the rules answer, how drift
//! shows; `replay`: reading and making them over Elastic Load Balancing's own answers.

mod replay;

use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, FixedResponseActionConfig};

use super::*;

const LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/tst-api/1/2";

fn config(public_api_docs: bool) -> StackConfig {
    let mut config = crate::aws::elb::tests::config();
    config.deploy.public_api_docs = public_api_docs;
    config
}

fn desired(public_api_docs: bool) -> ListenerRules {
    let config = config(public_api_docs);
    ListenerRules {
        load_balancer: crate::aws::elb::name(&config),
        rules: rules(&config),
        tags: config.tags(),
    }
}

fn known() -> Known {
    let mut known = Known::default();
    known.ecs.https_listener = Some(LISTENER.into());
    known
}

/// A path-pattern condition as AWS answers it: the values in both places, in its own order.
fn path_condition(paths: &[&str]) -> RuleCondition {
    let mut config = PathPatternConditionConfig::builder();
    let mut condition = RuleCondition::builder().field("path-pattern");
    for path in paths.iter().rev() {
        config = config.values(*path);
        condition = condition.values(*path);
    }
    condition.path_pattern_config(config.build()).build()
}

fn fixed(status: &str) -> sdk::Action {
    sdk::Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .order(1)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(status)
                .content_type("text/plain")
                .message_body("Not found")
                .build(),
        )
        .build()
}

/// A rule at `priority` as AWS describes it, with the stack's tags.
fn observed_rule(priority: i32, condition: RuleCondition, action: sdk::Action) -> ObservedRule {
    let rule = sdk::Rule::builder()
        .rule_arn(format!("{LISTENER}/rule-{priority}"))
        .priority(priority.to_string())
        .conditions(condition)
        .actions(action)
        .is_default(false)
        .build();
    let arn = rule.rule_arn().unwrap().to_owned();
    ObservedRule::of(&rule, arn, config(false).tags())
}

/// Both of the stack's rules as provision makes them.
fn as_made() -> BTreeMap<i32, ObservedRule> {
    BTreeMap::from([
        (
            1,
            observed_rule(1, path_condition(OPERATIONAL), fixed("404")),
        ),
        (2, observed_rule(2, path_condition(DOCS), fixed("404"))),
    ])
}

/// Whether an Application Load Balancer path pattern matches `path`: `*` any characters, `?`
/// exactly one, everything else itself (case-sensitive), the whole path.
fn pattern_matches(pattern: &[u8], path: &[u8]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((b'*', rest)) => (0..=path.len()).any(|i| pattern_matches(rest, &path[i..])),
        Some((b'?', rest)) => !path.is_empty() && pattern_matches(rest, &path[1..]),
        Some((c, rest)) => path.first() == Some(c) && pattern_matches(rest, &path[1..]),
    }
}

/// Every path the app serves (the API's, from its OpenAPI document, and the dashboard's
/// pages), with `{id}` filled in, and its documentation's.
fn app_paths() -> Vec<String> {
    let settings = ledgerly_api::settings::Settings::load(
        None,
        [("LEDGERLY__OCR__CALLBACK_SECRET".to_owned(), "c".repeat(40))],
    )
    .unwrap();
    let (_, document) = ledgerly_api::startup::api(&settings);
    let pages = [
        "/",
        "/login",
        "/signup",
        "/logout",
        "/dashboard",
        "/expenses",
        "/expenses/{id}",
        "/receipts",
        "/profile",
        "/static/app.css",
        "/internal/ocr-results",
        "/api/docs",
        "/api/docs/",
        "/api/docs/index.html",
        "/api/v1/openapi.json",
    ];
    document
        .paths
        .paths
        .keys()
        .map(String::as_str)
        .chain(pages)
        .map(|p| p.replace("{id}", "7"))
        .collect()
}

#[test]
fn the_stack_file_picks_the_rules() {
    let private = desired(false);
    assert_eq!(
        private.rules,
        [
            Rule {
                priority: 1,
                paths: &["/metrics", "/readyz", "/healthz"],
            },
            Rule {
                priority: 2,
                paths: &["/api/docs*", "/api/v1/openapi.json"],
            },
        ]
    );
    assert_eq!(private.name(), "tst-api:443/1, tst-api:443/2");
    let public = desired(true);
    assert_eq!(public.rules.len(), 1);
    assert_eq!(public.name(), "tst-api:443/1");
}

#[test]
fn each_rule_stays_within_the_load_balancer_s_limits() {
    for public_api_docs in [false, true] {
        let rules = rules(&config(public_api_docs));
        let mut priorities: Vec<i32> = rules.iter().map(|r| r.priority).collect();
        priorities.dedup();
        assert_eq!(priorities.len(), rules.len(), "one rule per priority");
        for rule in &rules {
            assert!(PRIORITIES.contains(&rule.priority), "{rule:?}");
            // Three values per condition, five per rule, 128 characters each.
            assert!((1..=3).contains(&rule.paths.len()), "{rule:?}");
            assert!(
                rule.paths
                    .iter()
                    .all(|p| p.len() <= 128 && p.starts_with('/'))
            );
        }
    }
}

#[test]
fn the_rules_answer_exactly_the_paths_the_proxy_keeps_private() {
    let operational = ["/metrics", "/readyz", "/healthz"];
    let docs = |path: &str| path.starts_with("/api/docs") || path == "/api/v1/openapi.json";
    let paths = app_paths();
    assert!(paths.len() > 20, "{paths:?}");
    for path in operational {
        assert!(paths.iter().any(|p| p == path), "the app serves {path}");
    }
    for public_api_docs in [false, true] {
        let rules = rules(&config(public_api_docs));
        for path in paths.iter().map(String::as_str) {
            let answered = rules.iter().any(|rule| {
                rule.paths
                    .iter()
                    .any(|p| pattern_matches(p.as_bytes(), path.as_bytes()))
            });
            let private = operational.contains(&path) || (docs(path) && !public_api_docs);
            assert_eq!(
                answered, private,
                "{path} (public_api_docs: {public_api_docs})"
            );
        }
    }
}

#[test]
fn rules_as_made_are_unchanged_however_aws_spells_them() {
    let have = as_made();
    assert_eq!(
        have[&1].conditions,
        "path-pattern /healthz, /metrics, /readyz"
    );
    assert_eq!(
        have[&1].action,
        r#"fixed response 404 text/plain "Not found""#
    );
    let wanted = desired(false);
    assert_eq!(wanted.diff(Some(&have), &known()), Change::Unchanged);
    assert!(!wanted.rules[0].differs_from(&have[&1]));
    // The documentation made public: its rule is not the stack's to keep.
    let Change::Update { fields } = desired(true).diff(Some(&have), &known()) else {
        panic!("an update");
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "priority_2");
    assert_eq!(fields[0].to, "(none)");
}

#[test]
fn drift_in_the_paths_action_and_tags_is_shown_and_a_missing_rule_made() {
    let wanted = desired(false);
    let forward = sdk::Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn("arn:tg")
        .build();
    let mut have = BTreeMap::from([(1, observed_rule(1, path_condition(&["/metrics"]), forward))]);
    have.get_mut(&1).unwrap().tags.clear();
    let Change::Update { fields } = wanted.diff(Some(&have), &known()) else {
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
                "priority_1.conditions",
                "path-pattern /metrics",
                "path-pattern /healthz, /metrics, /readyz"
            ),
            (
                "priority_1.action",
                "forward to arn:tg",
                r#"fixed response 404 text/plain "Not found""#
            ),
            ("priority_1.tags.ledgerly:stack", "(none)", "tst"),
            (
                "priority_2",
                "(none)",
                r#"path-pattern /api/docs*, /api/v1/openapi.json → fixed response 404 text/plain "Not found""#
            ),
        ]
    );
    assert!(wanted.rules[0].differs_from(&have[&1]));
    // Another status, or a condition added beside ours, is drift too.
    let mut other = as_made();
    other.insert(
        1,
        observed_rule(1, path_condition(OPERATIONAL), fixed("403")),
    );
    assert!(wanted.rules[0].differs_from(&other[&1]));
    let host = RuleCondition::builder()
        .field("host-header")
        .values("api.example.com")
        .build();
    let both = conditions_shown(&[path_condition(OPERATIONAL), host]);
    assert_eq!(
        both,
        "host-header api.example.com; path-pattern /healthz, /metrics, /readyz"
    );
}

#[test]
fn the_rules_wait_with_the_https_listener_for_the_certificate() {
    let wanted = desired(false);
    assert_eq!(
        wanted.diff(None, &Known::default()),
        Change::Waiting {
            reason: "after the listener tst-api:443, which waits for its certificate".into()
        }
    );
    let mut issued = Known::default();
    issued.ecs.certificate = Some("arn:aws:acm:us-east-1:123456789012:certificate/c".into());
    assert_eq!(wanted.diff(None, &issued), Change::Create);
    assert_eq!(wanted.diff(None, &known()), Change::Create);
}

#[test]
fn the_default_rule_has_no_priority_of_ours() {
    let default = sdk::Rule::builder()
        .priority("default")
        .is_default(true)
        .build();
    assert_eq!(priority_of(&default), None);
    let ours = sdk::Rule::builder().priority("2").is_default(false).build();
    assert_eq!(priority_of(&ours), Some(2));
}
