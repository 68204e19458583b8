//! `topology: ecs` with a hosted zone against the emulator: the domain's alias to the load
//! balancer from zero and again with no mutating call, put right after drift (deleted, pointing
//! at another load balancer of the stack's name), a record the stack did not make left alone
//! while the alias waits, and destroy deleting the stack's alias and nothing else.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::Value;

use super::fixtures::*;
use crate::fixtures::*;

/// The stacks' domain, as Route 53 spells it.
const DOMAIN: &str = "ledgerly.example.com.";
const KIND: &str = "route53 record";

async fn route53() -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&aws().await)
}

impl Stack {
    /// An ECS stack whose domain's DNS is the hosted zone `zone`, which destroy may delete.
    fn ecs_in_zone(prefix: &str, zone: &str) -> Stack {
        let stack = Stack::named(prefix);
        stack.write(&format!(
            "{ECS}  dns: {{hosted_zone_id: {zone}}}\ndatabase:\n  deletion_protection: false\n"
        ));
        stack
    }
}

/// A record set as the assertions compare it: `A 203.0.113.7`, `A alias to <name> (<zone>)`.
fn shown(set: &ResourceRecordSet) -> String {
    let target = match set.alias_target() {
        Some(alias) => format!(
            "alias to {} ({})",
            alias.dns_name().trim_end_matches('.'),
            alias.hosted_zone_id()
        ),
        None => set
            .resource_records()
            .iter()
            .map(|r| r.value())
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!("{} {target}", set.r#type().as_str())
}

/// The `A` and `CNAME` records for the domain in `zone`.
async fn domain_records(zone: &str) -> Vec<ResourceRecordSet> {
    let listed = route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(DOMAIN)
        .send()
        .await
        .unwrap();
    listed
        .resource_record_sets()
        .iter()
        .filter(|s| s.name().trim_end_matches('.') == DOMAIN.trim_end_matches('.'))
        .filter(|s| matches!(s.r#type(), RrType::A | RrType::Cname))
        .cloned()
        .collect()
}

/// The stack's load balancer's DNS name and canonical hosted zone.
async fn load_balancer(stack: &Stack) -> (String, String) {
    let reply = elb()
        .await
        .describe_load_balancers()
        .names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    let balancer = &reply.load_balancers()[0];
    (
        balancer.dns_name().unwrap().to_owned(),
        balancer.canonical_hosted_zone_id().unwrap().to_owned(),
    )
}

/// Writes `set` into `zone` with `action`.
async fn write(zone: &str, action: ChangeAction, set: ResourceRecordSet) {
    let change = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .unwrap();
    route53()
        .await
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
}

fn alias_set(dns_name: &str, zone: &str, evaluate: bool) -> ResourceRecordSet {
    let target = AliasTarget::builder()
        .dns_name(dns_name)
        .hosted_zone_id(zone)
        .evaluate_target_health(evaluate)
        .build()
        .unwrap();
    ResourceRecordSet::builder()
        .name(DOMAIN)
        .r#type(RrType::A)
        .alias_target(target)
        .build()
        .unwrap()
}

/// The old instance's address, as a stack being moved has it.
fn instance_set() -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(DOMAIN)
        .r#type(RrType::A)
        .ttl(300)
        .resource_records(
            ResourceRecord::builder()
                .value("203.0.113.7")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// The domain's one record is an alias to the stack's load balancer, evaluating its health.
async fn assert_alias(stack: &Stack, zone: &str) {
    let (dns_name, balancer_zone) = load_balancer(stack).await;
    let records = domain_records(zone).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(*records[0].r#type(), RrType::A);
    let target = records[0].alias_target().expect("an alias");
    assert_eq!(
        target.dns_name().trim_end_matches('.'),
        dns_name.trim_end_matches('.')
    );
    assert_eq!(target.hosted_zone_id(), balancer_zone);
    assert!(target.evaluate_target_health());
}

/// The plan's or provision's change of the record.
fn record_change(report: &Value) -> Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == KIND)
        .unwrap_or_else(|| panic!("no {KIND}: {report}"))
        .clone()
}

#[tokio::test]
async fn with_a_hosted_zone_provision_points_the_domain_at_the_load_balancer_and_keeps_it_there() {
    let zone = hosted_zone().await;
    let stack = Stack::ecs_in_zone("ecsdns", &zone);
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let planned = record_change(&plan);
    assert_eq!(planned["name"], "ledgerly.example.com", "{planned}");
    assert!(
        planned["action"] == "create"
            || planned["reason"]
                .as_str()
                .is_some_and(|r| r.contains("does not exist yet")),
        "made once the load balancer is: {planned}"
    );

    stack.provision();
    assert_alias(&stack, &zone).await;
    let again = stack.provision();
    assert_eq!(again["calls"]["mutating"], 0, "{again}");
    let (_, plan) = stack.plan();
    for action in ["create", "update"] {
        assert_eq!(kinds_of(&plan, action), Vec::<String>::new(), "{plan}");
    }
    let output = stack.ledgerctl(&["status", "--output", "json"], None);
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    crate::common::validate_status(&status);
    let (dns_name, _) = load_balancer(&stack).await;
    assert_eq!(status["ecs"]["load_balancer_dns_name"], dns_name.as_str());
    assert!(
        status["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == KIND && r["status"] == "ok"),
        "{status:#}"
    );

    // Deleted: plan shows it missing, provision makes it again.
    let (_, balancer_zone) = load_balancer(&stack).await;
    write(
        &zone,
        ChangeAction::Delete,
        alias_set(&dns_name, &balancer_zone, true),
    )
    .await;
    assert!(domain_records(&zone).await.is_empty());
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    assert_eq!(record_change(&plan)["action"], "create", "{plan}");
    stack.provision();
    assert_alias(&stack, &zone).await;

    // Pointing at another load balancer of the stack's name (one made before, say), blind to
    // its health: the fields show, provision puts them right.
    let older = format!("{}-api-99.us-east-1.elb.amazonaws.com", stack.name);
    write(
        &zone,
        ChangeAction::Upsert,
        alias_set(&older, &balancer_zone, false),
    )
    .await;
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let drifted = record_change(&plan);
    assert_eq!(drifted["action"], "update", "{drifted}");
    let fields = drifted["fields"].to_string();
    assert!(
        fields.contains("alias.dns_name") && fields.contains("alias.evaluate_target_health"),
        "{fields}"
    );
    stack.provision();
    assert_alias(&stack, &zone).await;
    assert_eq!(stack.provision()["calls"]["mutating"], 0);

    // Destroy deletes the alias; the certificate's validation record stays (renewal needs it).
    let output = stack.ledgerctl(&["destroy", "--yes", "--output", "json"], None);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["deleted"].to_string().contains(KIND), "{report}");
    assert!(domain_records(&zone).await.is_empty());
    let left = route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    assert!(
        left.resource_record_sets()
            .iter()
            .any(|s| *s.r#type() == RrType::Cname && s.name().ends_with(DOMAIN)),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_record_the_stack_did_not_make_is_left_and_the_alias_waits_until_it_is_deleted() {
    let zone = hosted_zone().await;
    write(&zone, ChangeAction::Create, instance_set()).await;
    let stack = Stack::ecs_in_zone("ecsdnsold", &zone);
    let provisioned = stack.provision();
    let waiting = record_change(&provisioned);
    assert_eq!(waiting["action"], "waiting", "{waiting}");
    let reason = waiting["reason"].as_str().unwrap();
    for part in [
        "is A 203.0.113.7, not an alias to this stack's load balancer",
        "delete that record",
        "leave out ecs.dns.hosted_zone_id",
    ] {
        assert!(reason.contains(part), "{part}: {reason}");
    }
    let records = domain_records(&zone).await;
    assert_eq!(
        records.iter().map(shown).collect::<Vec<_>>(),
        ["A 203.0.113.7"],
        "left as it was"
    );
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "it waits: {plan}");
    assert_eq!(record_change(&plan)["reason"], reason);

    // The move's last step: delete the old record, provision.
    write(&zone, ChangeAction::Delete, instance_set()).await;
    stack.provision();
    assert_alias(&stack, &zone).await;
    assert_eq!(stack.provision()["calls"]["mutating"], 0);
}

#[tokio::test]
async fn destroy_deletes_only_an_alias_to_a_load_balancer_of_the_stacks_name() {
    // Never provisioned: destroy finds no load balancer, and knows the stack's by its name.
    let zone = hosted_zone().await;
    let stack = Stack::ecs_in_zone("ecsdnsgone", &zone);
    let destroy = |stack: &Stack| {
        let output = stack.ledgerctl(&["destroy", "--yes", "--output", "json"], None);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["deleted"].to_string()
    };
    let dangling = format!("{}-api-7.us-east-1.elb.amazonaws.com", stack.name);
    write(
        &zone,
        ChangeAction::Create,
        alias_set(&dangling, "Z35SXDOTRQ7X7K", true),
    )
    .await;
    assert!(destroy(&stack).contains(KIND));
    assert!(domain_records(&zone).await.is_empty());

    for set in [
        instance_set(),
        alias_set(
            "ledgerly-other-api-7.us-east-1.elb.amazonaws.com",
            "Z35SXDOTRQ7X7K",
            true,
        ),
    ] {
        write(&zone, ChangeAction::Create, set.clone()).await;
        assert!(!destroy(&stack).contains(KIND));
        let records = domain_records(&zone).await;
        assert_eq!(
            records.iter().map(shown).collect::<Vec<_>>(),
            [shown(&set)],
            "left"
        );
        write(&zone, ChangeAction::Delete, set).await;
    }
}
