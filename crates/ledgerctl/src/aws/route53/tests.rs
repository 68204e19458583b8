//! The domain's alias record: what the stack file wants, whose a record is, what plan shows and
//! what provision and destroy send — the sends over the SDK's test HTTP client, answering as
//! Route 53 does.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;

use super::Observed;
use super::alias::Verdict;
use super::*;
use crate::stack::resource::{Known, Resource as _};
use crate::stack::{Change, FieldChange, StackConfig};

const STACK: &str = "stack: tst\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n";
const ZONE: &str = "Z0123456789ABC";
const LB_DNS: &str = "tst-api-1234567890.us-east-1.elb.amazonaws.com";
const LB_ZONE: &str = "Z35SXDOTRQ7X7K";

fn config(extra: &str) -> StackConfig {
    StackConfig::parse(&format!("{STACK}{extra}"), "test").unwrap()
}

fn with_zone() -> StackConfig {
    config(&format!("ecs:\n  dns: {{hosted_zone_id: {ZONE}}}\n"))
}

fn record() -> AliasRecord {
    AliasRecord::of(&with_zone()).unwrap()
}

/// What the survey knows once the load balancer exists.
fn known() -> Known {
    let mut known = Known::default();
    known.ecs.load_balancer_dns = Some(LB_DNS.into());
    known.ecs.load_balancer_zone = Some(LB_ZONE.into());
    known
}

fn alias(dns_name: &str, evaluate_health: bool) -> Alias {
    Alias {
        dns_name: dns_name.into(),
        hosted_zone: LB_ZONE.into(),
        evaluate_health,
    }
}

fn alias_record(alias: Alias) -> RecordSet {
    RecordSet {
        kind: "A".into(),
        set_identifier: None,
        alias: Some(alias),
        values: vec![],
    }
}

fn plain(kind: &str, value: &str) -> RecordSet {
    RecordSet {
        kind: kind.into(),
        set_identifier: None,
        alias: None,
        values: vec![value.into()],
    }
}

fn observed(records: Vec<RecordSet>) -> Observed {
    Observed { records }
}

fn ours() -> Observed {
    observed(vec![alias_record(alias(&format!("{LB_DNS}."), true))])
}

#[test]
fn the_record_is_the_domains_alias_in_the_zone_and_only_with_a_zone() {
    assert_eq!(
        record(),
        AliasRecord {
            zone: ZONE.into(),
            domain: "ledgerly.example.com".into(),
            load_balancer: "tst-api".into(),
            region: "us-east-1".into(),
        }
    );
    assert_eq!(record().name(), "ledgerly.example.com");
    assert_eq!(AliasRecord::of(&config("")), None, "no zone");
    let instance = StackConfig::parse(&STACK.replace("topology: ecs\n", ""), "test").unwrap();
    assert_eq!(AliasRecord::of(&instance), None, "no ECS");
}

#[test]
fn the_alias_points_at_the_load_balancer_evaluating_its_health() {
    let set = alias_set("ledgerly.example.com.", &alias(LB_DNS, true)).unwrap();
    assert_eq!(set.name(), "ledgerly.example.com.");
    assert_eq!(*set.r#type(), aws_sdk_route53::types::RrType::A);
    let target = set.alias_target().unwrap();
    assert_eq!(target.dns_name(), LB_DNS);
    assert_eq!(target.hosted_zone_id(), LB_ZONE);
    assert!(target.evaluate_target_health());
    assert!(set.ttl().is_none() && set.resource_records().is_empty());
}

#[test]
fn plan_creates_the_missing_alias_once_the_load_balancer_exists() {
    assert_eq!(record().diff(None, &known()), Change::Create);
    let Change::Waiting { reason } = record().diff(None, &Known::default()) else {
        panic!("waits for the load balancer");
    };
    assert!(
        reason.contains("the load balancer tst-api does not exist yet"),
        "{reason}"
    );
    assert_eq!(record().diff(Some(&ours()), &known()), Change::Unchanged);
}

#[test]
fn an_alias_of_the_stack_that_drifted_is_put_right() {
    let field = |field: &str, from: &str, to: &str| FieldChange {
        field: field.into(),
        from: from.into(),
        to: to.into(),
    };
    // The load balancer made anew: its old name, dangling.
    let old = observed(vec![alias_record(alias(
        "tst-api-42.us-east-1.elb.amazonaws.com.",
        true,
    ))]);
    assert_eq!(
        record().diff(Some(&old), &known()),
        Change::Update {
            fields: vec![field(
                "alias.dns_name",
                "tst-api-42.us-east-1.elb.amazonaws.com.",
                &format!("{LB_DNS}."),
            )]
        }
    );
    let blind = observed(vec![alias_record(alias(LB_DNS, false))]);
    assert_eq!(
        record().diff(Some(&blind), &known()),
        Change::Update {
            fields: vec![field("alias.evaluate_target_health", "false", "true")]
        }
    );
    let dualstack = observed(vec![alias_record(alias(
        &format!("dualstack.{LB_DNS}"),
        true,
    ))]);
    assert!(matches!(
        record().verdict(Some(&dualstack), None),
        Verdict::Ours(_)
    ));
    assert!(matches!(
        record().diff(Some(&dualstack), &known()),
        Change::Update { fields } if fields[0].field == "alias.dns_name"
    ));
}

#[test]
fn a_record_the_stack_did_not_make_is_never_replaced_and_says_how_to_proceed() {
    let elsewhere = [
        vec![plain("A", "203.0.113.7")],
        vec![plain("CNAME", "old.example.com.")],
        vec![alias_record(alias(
            "other-api-1.us-east-1.elb.amazonaws.com.",
            true,
        ))],
        vec![alias_record(alias(
            "tst-api-1.eu-west-1.elb.amazonaws.com.",
            true,
        ))],
        vec![alias_record(alias(
            "internal-tst-api-1.us-east-1.elb.amazonaws.com.",
            true,
        ))],
        vec![RecordSet {
            set_identifier: Some("blue".into()),
            ..alias_record(alias(LB_DNS, true))
        }],
    ];
    for records in elsewhere {
        let have = observed(records);
        let Change::Waiting { reason } = record().diff(Some(&have), &known()) else {
            panic!("{have:?} is replaced");
        };
        assert!(
            reason.contains("not an alias to this stack's load balancer tst-api")
                && reason.contains("delete that record")
                && reason.contains("leave out ecs.dns.hosted_zone_id"),
            "{reason}"
        );
        // Before the load balancer exists too: the record is what the operator must act on.
        let Change::Waiting { reason } = record().diff(Some(&have), &Known::default()) else {
            panic!("{have:?}");
        };
        assert!(reason.contains("provision does not replace a record"));
    }
    let instance = observed(vec![plain("A", "203.0.113.7")]);
    assert_eq!(
        record().refusal(&instance.records),
        "ledgerly.example.com in the hosted zone Z0123456789ABC is A 203.0.113.7, not an alias to this stack's load balancer tst-api, and provision does not replace a record it did not make: delete that record (an old one, say, pointing at the instance of a stack being moved: docs/scale-out.md) and run provision again, or leave out ecs.dns.hosted_zone_id and point ledgerly.example.com at the load balancer yourself"
    );
}

#[test]
fn the_stacks_load_balancer_is_known_by_its_name_in_its_region() {
    let names = |dns: &str| record().names_ours(&alias(dns, true));
    assert!(names("tst-api-1234567890.us-east-1.elb.amazonaws.com"));
    assert!(names("dualstack.TST-API-7.us-east-1.elb.amazonaws.com."));
    assert!(names("tst-api-7.us-east-1.elb.amazonaws.com.cn."));
    assert!(
        !names("tst-api-api-7.us-east-1.elb.amazonaws.com."),
        "another stack's"
    );
    assert!(!names("tst-api-.us-east-1.elb.amazonaws.com."));
    assert!(!names("tst-api-7.us-west-2.elb.amazonaws.com."));
    assert!(!names("tst-api-7.example.com."));
    assert!(!names("tst-api-7"));
}

#[test]
fn without_a_zone_plan_says_where_to_point_the_domain() {
    let no_zone = config("");
    let note = by_hand(&no_zone, &known()).unwrap();
    assert!(
        note.contains(&format!(
            "Point ledgerly.example.com at the load balancer's DNS name {LB_DNS}"
        )),
        "{note}"
    );
    let before = by_hand(&no_zone, &Known::default()).unwrap();
    assert!(
        before.contains("Once provision has made the load balancer tst-api"),
        "{before}"
    );
    assert_eq!(by_hand(&with_zone(), &known()), None);
    let instance = StackConfig::parse(&STACK.replace("topology: ecs\n", ""), "test").unwrap();
    assert_eq!(by_hand(&instance, &known()), None);
}

/// Clients answering with `answers` in order (then 500s), and what was asked: the method, the
/// path and query, and the body.
fn replay(answers: Vec<String>) -> (Aws, Arc<Mutex<Vec<String>>>) {
    let answers = Arc::new(Mutex::new(std::collections::VecDeque::from(answers)));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let http = infallible_client_fn(move |request: http::Request<SdkBody>| {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        log.lock()
            .unwrap()
            .push(format!("{} {} {body}", request.method(), request.uri()));
        let (status, body) = match answers.lock().unwrap().pop_front() {
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

const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

fn listed(sets: &str, next: Option<&str>) -> String {
    let truncated = match next {
        Some(kind) => format!(
            "<IsTruncated>true</IsTruncated><NextRecordName>ledgerly.example.com.</NextRecordName><NextRecordType>{kind}</NextRecordType>"
        ),
        None => "<IsTruncated>false</IsTruncated>".into(),
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListResourceRecordSetsResponse xmlns="{XMLNS}"><ResourceRecordSets>{sets}</ResourceRecordSets>{truncated}<MaxItems>100</MaxItems></ListResourceRecordSetsResponse>"#
    )
}

fn changed() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsResponse xmlns="{XMLNS}"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>"#
    )
}

const ALIAS_SET: &str = "<ResourceRecordSet><Name>ledgerly.example.com.</Name><Type>A</Type><AliasTarget><HostedZoneId>Z35SXDOTRQ7X7K</HostedZoneId><DNSName>tst-api-1234567890.us-east-1.elb.amazonaws.com.</DNSName><EvaluateTargetHealth>true</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>";

#[tokio::test]
async fn reading_takes_the_names_a_and_cname_records_across_pages_and_stops_at_the_next_name() {
    let (aws, asked) = replay(vec![
        listed(ALIAS_SET, Some("CNAME")),
        listed(
            "<ResourceRecordSet><Name>ledgerly.example.com.</Name><Type>TXT</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>\"v\"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>\
             <ResourceRecordSet><Name>_x.ledgerly.example.com.</Name><Type>CNAME</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>y.</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>",
            Some("CNAME"),
        ),
    ]);
    let records = records_named(&aws, ZONE, "ledgerly.example.com.")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        records,
        [alias_record(alias(&format!("{LB_DNS}."), true))],
        "the TXT is not read, the next name ends it"
    );
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].contains("type=CNAME"), "{asked:?}");
}

#[tokio::test]
async fn provision_upserts_the_missing_alias_and_the_stacks_own() {
    let (aws, asked) = replay(vec![changed()]);
    let mut known = known();
    record().apply(&aws, None, &mut known).await.unwrap();
    let old = observed(vec![alias_record(alias(
        "tst-api-42.us-east-1.elb.amazonaws.com.",
        true,
    ))]);
    let (again, asked_again) = replay(vec![changed()]);
    record()
        .apply(&again, Some(&old), &mut known)
        .await
        .unwrap();
    for asked in [asked, asked_again] {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 1, "{asked:?}");
        let sent = &asked[0];
        assert!(sent.starts_with("POST "), "{sent}");
        for part in [
            "<Action>UPSERT</Action>".into(),
            "<Name>ledgerly.example.com.</Name>".into(),
            "<Type>A</Type>".into(),
            format!("<DNSName>{LB_DNS}.</DNSName>"),
            format!("<HostedZoneId>{LB_ZONE}</HostedZoneId>"),
            "<EvaluateTargetHealth>true</EvaluateTargetHealth>".into(),
        ] {
            assert!(sent.contains(&part), "{part}: {sent}");
        }
    }
}

#[tokio::test]
async fn provision_refuses_a_foreign_record_without_a_call() {
    let (aws, asked) = replay(vec![]);
    let have = observed(vec![plain("A", "203.0.113.7")]);
    let err = record()
        .apply(&aws, Some(&have), &mut known())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("delete that record"), "{err:#}");
    assert!(asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn destroy_deletes_only_the_stacks_alias_as_route53_has_it() {
    // The load balancer is gone already: an alias to one of its name is the stack's.
    let none = r#"<?xml version="1.0" encoding="UTF-8"?><DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeLoadBalancersResult><LoadBalancers></LoadBalancers></DescribeLoadBalancersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeLoadBalancersResponse>"#;
    let (aws, asked) = replay(vec![listed(ALIAS_SET, None), none.into(), changed()]);
    let deleted = AliasRecord::delete(&aws, &with_zone(), &Known::default())
        .await
        .unwrap();
    assert_eq!(deleted, ["ledgerly.example.com"]);
    {
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 3, "{asked:?}");
        assert!(
            asked[2].contains("<Action>DELETE</Action>")
                && asked[2].contains(&format!("<DNSName>{LB_DNS}.</DNSName>")),
            "{asked:?}"
        );
    }

    let instance = "<ResourceRecordSet><Name>ledgerly.example.com.</Name><Type>A</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>203.0.113.7</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>";
    let (aws, asked) = replay(vec![listed(instance, None), none.into()]);
    let deleted = AliasRecord::delete(&aws, &with_zone(), &Known::default())
        .await
        .unwrap();
    assert!(deleted.is_empty());
    assert_eq!(asked.lock().unwrap().len(), 2, "read, and nothing sent");

    let (aws, asked) = replay(vec![]);
    assert!(
        AliasRecord::delete(&aws, &config(""), &Known::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(asked.lock().unwrap().is_empty(), "no zone, no call");
}
