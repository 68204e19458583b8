//! The load balancer's tests, and the stack they share with its target group's and listeners'
//! tests: [`config`].

use super::subnets::subnet_problem;
use super::*;

/// A stack with the ECS topology, named `t`.
pub(super) fn config() -> StackConfig {
    StackConfig::parse(
        "stack: tst\nregion: us-east-1\ndomain: api.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
        "test",
    )
    .unwrap()
}

/// The stack's access-log bucket, in the account of [`observed`].
const LOG_BUCKET: &str = "tst-alb-logs-123456789012";

fn subnet(id: &str, vpc: &str, zone: &str) -> (String, String, String) {
    (id.into(), vpc.into(), zone.into())
}

fn desired() -> LoadBalancer {
    let config = config();
    LoadBalancer {
        name: name(&config),
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        security_group: config.name("alb"),
        attributes: attributes(LOG_BUCKET),
        tags: config.tags(),
    }
}

fn observed() -> Observed {
    Observed {
        arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/tst-api/1"
            .into(),
        dns_name: "tst-api-1.us-east-1.elb.amazonaws.com".into(),
        canonical_zone: "Z35SXDOTRQ7X7K".into(),
        state: "active".into(),
        kind: TYPE.into(),
        scheme: SCHEME.into(),
        ip_address_type: IP_ADDRESS_TYPE.into(),
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        security_groups: vec!["sg-1".into()],
        attributes: attributes(LOG_BUCKET),
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
fn access_logs_go_to_the_stacks_log_bucket_under_api_and_turned_off_is_drift() {
    assert_eq!(
        access_logs::name(&config(), "123456789012"),
        LOG_BUCKET,
        "the bucket the access-log kind makes"
    );
    let wanted = &desired().attributes;
    assert_eq!(wanted["access_logs.s3.enabled"], "true");
    assert_eq!(wanted["access_logs.s3.bucket"], LOG_BUCKET);
    assert_eq!(wanted["access_logs.s3.prefix"], "api");
    let mut have = observed();
    have.attributes
        .insert("access_logs.s3.enabled".into(), "false".into());
    have.attributes.remove("access_logs.s3.bucket");
    let Change::Update { fields } = desired().diff(Some(&have), &known()) else {
        panic!("an update");
    };
    let shown: Vec<(&str, &str, &str)> = fields
        .iter()
        .map(|f| (f.field.as_str(), f.from.as_str(), f.to.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("attributes.access_logs.s3.bucket", "(none)", LOG_BUCKET),
            ("attributes.access_logs.s3.enabled", "false", "true"),
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

#[test]
fn the_load_balancer_teaches_its_arn_and_what_an_alias_to_it_names() {
    let mut known = known();
    desired().learn(Some(&observed()), &mut known);
    assert_eq!(known.ecs.load_balancer, Some(observed().arn));
    assert_eq!(
        known.ecs.load_balancer_dns.as_deref(),
        Some("tst-api-1.us-east-1.elb.amazonaws.com")
    );
    assert_eq!(
        known.ecs.load_balancer_zone.as_deref(),
        Some("Z35SXDOTRQ7X7K")
    );
}
