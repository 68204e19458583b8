//! The instance topology with `dns.hosted_zone_id` against the emulator: the domain's `A` record
//! to the Elastic IP made by provision (and named by setup as kept there), nothing to do again,
//! another stack's record for the domain left alone while its own waits, and destroy deleting
//! the stack's record.

use aws_sdk_route53::types::RrType;

use crate::fixtures::*;

const DOMAIN: &str = "ledgerly.example.com.";

async fn route53() -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&aws().await)
}

/// The domain's `A` records in `zone`: their values.
async fn a_records(zone: &str) -> Vec<Vec<String>> {
    route53()
        .await
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|s| s.name() == DOMAIN && *s.r#type() == RrType::A)
        .map(|s| {
            s.resource_records()
                .iter()
                .map(|r| r.value().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn provision_keeps_the_domain_s_a_record_in_the_hosted_zone_and_never_takes_another_s() {
    let zone = hosted_zone().await;
    let settings =
        format!("dns:\n  hosted_zone_id: {zone}\ndatabase:\n  deletion_protection: false\n");
    let stack = Stack::named("dnsa");
    stack.write(&settings);
    let report = stack.provision();
    assert!(
        actions(&report).contains(&"create route53 a record ledgerly.example.com".to_owned()),
        "{report}"
    );
    let address = elastic_ip(&stack).await;
    assert_eq!(a_records(&zone).await, [vec![address.clone()]]);
    let (_, plan) = stack.plan();
    assert!(Stack::settled(&plan), "{plan}");

    // setup finds it made: nothing to create by hand.
    let output = stack.ledgerctl(&["setup", "--auto-approve", "--dns-timeout", "1s"], None);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!(
            "Route 53 has the record: ledgerly.example.com. A {address}"
        )),
        "{output:?}"
    );

    // Another stack for the same domain waits, naming the record it will not replace.
    let other = Stack::named("dnsb");
    other.write(&settings);
    let report = other.provision();
    let waiting = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "route53 a record")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(waiting["action"], "waiting", "{report}");
    assert!(
        waiting["reason"].as_str().unwrap().contains(&format!(
            "is A {address}, not an A record to this stack's address"
        )),
        "{waiting}"
    );
    assert_eq!(a_records(&zone).await, [vec![address.clone()]]);

    // Destroy deletes the stack's own record, and the other stack's destroy leaves it.
    let output = other.ledgerctl(
        &["destroy", "--auto-approve", "--skip-final-snapshot"],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(a_records(&zone).await, [vec![address.clone()]]);
    let output = stack.ledgerctl(
        &[
            "destroy",
            "--auto-approve",
            "--skip-final-snapshot",
            "--output",
            "json",
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("route53 a record"),
        "{output:?}"
    );
    assert!(a_records(&zone).await.is_empty());
}
