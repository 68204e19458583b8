//! The rules read, made and changed over answers shaped as Elastic Load Balancing gives them
//! (awsQuery XML: a path-pattern's values both in `Values` and in `PathPatternConfig`, the
//! default rule among the others), and the requests that go out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;

use super::super::{DOCS, OPERATIONAL};
use super::{LISTENER, desired, known};
use crate::aws::Aws;
use crate::stack::Change;
use crate::stack::resource::Resource as _;

const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// One request: its Query `Action` and its form-encoded body.
type Asked = (String, String);

/// Clients answering with `answers` in order (then 500s), and the log of what was asked.
fn replay(answers: Vec<String>) -> (Aws, Arc<Mutex<Vec<Asked>>>) {
    let answers = Mutex::new(VecDeque::from(answers));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let http = infallible_client_fn(move |request: http::Request<SdkBody>| {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let action = body
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .unwrap_or_default()
            .to_owned();
        log.lock().unwrap().push((action, body));
        let (status, body): (u16, String) = match answers.lock().unwrap().pop_front() {
            Some(body) => (200, body),
            None => (500, "no more answers".into()),
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(SdkBody::from(body))
            .unwrap()
    });
    (Aws::for_test(http), asked)
}

fn actions(asked: &Arc<Mutex<Vec<Asked>>>) -> Vec<String> {
    asked
        .lock()
        .unwrap()
        .iter()
        .map(|(a, _)| a.clone())
        .collect()
}

/// `operation`'s answer with `result` inside.
fn answer(operation: &str, result: &str) -> String {
    format!(
        "<{operation}Response xmlns=\"{XMLNS}\"><{operation}Result>{result}</{operation}Result><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{operation}Response>"
    )
}

fn rule_arn(priority: i32) -> String {
    format!("{LISTENER}/rule-{priority}")
}

/// A rule answering `paths` with the stack's 404, as DescribeRules lists it.
fn path_rule(priority: i32, paths: &[&str]) -> String {
    let values: String = paths
        .iter()
        .map(|p| format!("<member>{p}</member>"))
        .collect();
    let arn = rule_arn(priority);
    format!(
        "<member><IsDefault>false</IsDefault><Priority>{priority}</Priority><RuleArn>{arn}</RuleArn><Conditions><member><Field>path-pattern</Field><Values>{values}</Values><PathPatternConfig><Values>{values}</Values></PathPatternConfig></member></Conditions><Actions><member><Type>fixed-response</Type><Order>1</Order><FixedResponseConfig><MessageBody>Not found</MessageBody><StatusCode>404</StatusCode><ContentType>text/plain</ContentType></FixedResponseConfig></member></Actions></member>"
    )
}

/// DescribeRules's answer: `rules`, then the listener's default rule.
fn describe_rules(rules: &[String]) -> String {
    let default = format!(
        "<member><IsDefault>true</IsDefault><Priority>default</Priority><RuleArn>{LISTENER}/default</RuleArn><Conditions></Conditions><Actions><member><Type>forward</Type><TargetGroupArn>arn:tg</TargetGroupArn></member></Actions></member>"
    );
    answer(
        "DescribeRules",
        &format!("<Rules>{}{default}</Rules>", rules.concat()),
    )
}

/// DescribeTags's answer for the rule at `priority`: the stack's tag, or none.
fn describe_tags(priority: i32, stack: Option<&str>) -> String {
    let tags = stack
        .map(|s| format!("<member><Key>ledgerly:stack</Key><Value>{s}</Value></member>"))
        .unwrap_or_default();
    let arn = rule_arn(priority);
    answer(
        "DescribeTags",
        &format!(
            "<TagDescriptions><member><ResourceArn>{arn}</ResourceArn><Tags>{tags}</Tags></member></TagDescriptions>"
        ),
    )
}

#[tokio::test]
async fn rules_as_aws_describes_them_need_nothing_but_reads() {
    let (aws, asked) = replay(vec![
        describe_rules(&[path_rule(2, DOCS), path_rule(1, OPERATIONAL)]),
        describe_tags(2, Some("tst")),
        describe_tags(1, Some("tst")),
    ]);
    let wanted = desired(false);
    let mut known = known();
    let observed = wanted.observe(&aws, &known).await.unwrap();
    let priorities: Vec<i32> = observed.iter().flat_map(|o| o.keys().copied()).collect();
    assert_eq!(priorities, [1, 2]);
    assert_eq!(wanted.diff(observed.as_ref(), &known), Change::Unchanged);
    wanted
        .apply(&aws, observed.as_ref(), &mut known)
        .await
        .unwrap();
    assert_eq!(
        actions(&asked),
        ["DescribeRules", "DescribeTags", "DescribeTags"]
    );
}

#[tokio::test]
async fn public_docs_drop_the_stack_s_rule_and_leave_people_s_at_its_priority() {
    let ours = vec![
        describe_rules(&[path_rule(1, OPERATIONAL), path_rule(2, DOCS)]),
        describe_tags(1, Some("tst")),
        describe_tags(2, Some("tst")),
        answer("DeleteRule", ""),
    ];
    let (aws, asked) = replay(ours);
    let wanted = desired(true);
    let mut known = known();
    let observed = wanted.observe(&aws, &known).await.unwrap();
    assert!(matches!(
        wanted.diff(observed.as_ref(), &known),
        Change::Update { .. }
    ));
    wanted
        .apply(&aws, observed.as_ref(), &mut known)
        .await
        .unwrap();
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 4, "{asked:?}");
    assert_eq!(asked[3].0, "DeleteRule");
    assert!(asked[3].1.contains("rule-2"), "{asked:?}");

    // The same priority holding a rule without the stack's tag: people's own.
    let theirs = vec![
        describe_rules(&[path_rule(1, OPERATIONAL), path_rule(2, &["/theirs"])]),
        describe_tags(1, Some("tst")),
        describe_tags(2, None),
    ];
    let (aws, asked) = replay(theirs);
    let observed = wanted.observe(&aws, &known).await.unwrap();
    let priorities: Vec<i32> = observed.iter().flat_map(|o| o.keys().copied()).collect();
    assert_eq!(priorities, [1]);
    assert_eq!(wanted.diff(observed.as_ref(), &known), Change::Unchanged);
    assert_eq!(actions(&asked).len(), 3);
}

#[tokio::test]
async fn missing_rules_are_created_with_their_paths_404_and_tags() {
    let (aws, asked) = replay(vec![
        describe_rules(&[]),
        answer("CreateRule", ""),
        answer("CreateRule", ""),
    ]);
    let wanted = desired(false);
    let mut known = known();
    let observed = wanted.observe(&aws, &known).await.unwrap();
    assert_eq!(observed, None, "the default rule is not the stack's");
    assert_eq!(wanted.diff(None, &known), Change::Create);
    wanted.apply(&aws, None, &mut known).await.unwrap();
    let asked = asked.lock().unwrap().clone();
    let creates: Vec<&str> = asked
        .iter()
        .filter(|(action, _)| action == "CreateRule")
        .map(|(_, body)| body.as_str())
        .collect();
    assert_eq!(creates.len(), 2, "{asked:?}");
    for expected in [
        "Priority=1",
        "Conditions.member.1.Field=path-pattern",
        "Conditions.member.1.PathPatternConfig.Values.member.1=%2Fmetrics",
        "Conditions.member.1.PathPatternConfig.Values.member.3=%2Fhealthz",
        "Actions.member.1.Type=fixed-response",
        "Actions.member.1.FixedResponseConfig.StatusCode=404",
        "Actions.member.1.FixedResponseConfig.ContentType=text%2Fplain",
        "Tags.member.1.Key=ledgerly%3Astack",
        "Tags.member.1.Value=tst",
    ] {
        assert!(creates[0].contains(expected), "{expected}: {}", creates[0]);
    }
    assert!(creates[1].contains("Priority=2"), "{}", creates[1]);
    assert!(
        creates[1].contains("Values.member.1=%2Fapi%2Fdocs%2A"),
        "{}",
        creates[1]
    );
}
