//! `ledgerctl access open|close|list`: SSH opened to one address on the stack's ssh group, tagged
//! with when it runs out and who opened it; left alone by plan and provision while it runs, drift
//! once it has run out; a grant that ran out (a crashed job's) removed by the next open or close.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use serde_json::Value;

use crate::common::FileServer;
use crate::fixtures::*;

fn json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `ledgerctl access <args> --output json`, this machine's address given by `checkip`.
fn access(stack: &Stack, checkip: &FileServer, args: &[&str]) -> std::process::Output {
    let mut full = vec!["access"];
    full.extend_from_slice(args);
    stack
        .ledgerctl_command(&full)
        .env("LEDGERCTL_CHECKIP_URL", &checkip.url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

/// The ingress rules of the stack's ssh group: CIDR → (description, tags).
async fn ssh_rules(stack: &Stack) -> BTreeMap<String, (String, BTreeMap<String, String>)> {
    let ec2 = aws_sdk_ec2::Client::new(&aws().await);
    let group = ssh_group(stack).await;
    ec2.describe_security_group_rules()
        .filters(ec2_filter("group-id", &[&group]))
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .filter(|r| r.group_id() == Some(group.as_str()) && r.is_egress() != Some(true))
        .map(|r| {
            (
                r.cidr_ipv4().unwrap_or_default().to_owned(),
                (
                    r.description().unwrap_or_default().to_owned(),
                    r.tags()
                        .iter()
                        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
                        .collect(),
                ),
            )
        })
        .collect()
}

async fn ssh_group(stack: &Stack) -> String {
    aws_sdk_ec2::Client::new(&aws().await)
        .describe_security_groups()
        .filters(ec2_filter("group-name", &[&format!("{}-ssh", stack.name)]))
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .group_id()
        .unwrap()
        .to_owned()
}

/// A grant that ran out an hour ago, as a job that crashed before closing leaves one.
async fn crashed_job_grant(stack: &Stack, cidr: &str) {
    let expired = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    aws_sdk_ec2::Client::new(&aws().await)
        .authorize_security_group_ingress()
        .group_id(ssh_group(stack).await)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip(cidr)
                        .description(format!(
                            "ledgerctl access until {expired} for runner@gone (GitHub run 1)"
                        ))
                        .build(),
                )
                .build(),
        )
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroupRule)
                .tags(
                    Tag::builder()
                        .key("ledgerly:access-expires")
                        .value(&expired)
                        .build(),
                )
                .tags(
                    Tag::builder()
                        .key("ledgerly:stack")
                        .value(&stack.name)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn access_opens_ssh_to_one_address_until_it_runs_out_and_the_next_run_cleans_up() {
    let stack = Stack::new("acc");
    let checkip = FileServer::start("198.51.100.9\n".into());
    let output = access(&stack, &checkip, &["open"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("run ledgerctl provision first"),
        "{output:?}"
    );
    stack.provision();

    // This machine's address, for half an hour.
    let before = chrono::Utc::now();
    let opened = json(&access(
        &stack,
        &checkip,
        &["open", "--for", "30m", "--output", "json"],
    ));
    let grant = &opened["grant"];
    assert_eq!(grant["cidr"], "198.51.100.9/32", "{opened}");
    assert_eq!(grant["port"], 22);
    let expires = chrono::DateTime::parse_from_rfc3339(grant["expires"].as_str().unwrap()).unwrap();
    let minutes = (expires.with_timezone(&chrono::Utc) - before).num_minutes();
    assert!((29..=30).contains(&minutes), "{opened}");
    let rules = ssh_rules(&stack).await;
    let (description, tags) = &rules["198.51.100.9/32"];
    assert!(
        description.starts_with("ledgerctl access until "),
        "{description}"
    );
    assert_eq!(tags["ledgerly:stack"], stack.name);
    assert_eq!(
        tags["ledgerly:access-expires"],
        grant["expires"].as_str().unwrap()
    );
    assert!(tags.contains_key("ledgerly:access-for"), "{tags:?}");
    assert!(
        rules.contains_key("203.0.113.7/32"),
        "admin_cidr stays: {rules:?}"
    );

    // A running grant is not drift.
    let (_, plan) = stack.plan();
    assert!(Stack::settled(&plan), "{plan}");
    let listed = json(&access(&stack, &checkip, &["list", "--output", "json"]));
    assert_eq!(listed["grants"].as_array().unwrap().len(), 1, "{listed}");

    // Opening again for longer extends the same rule; shorter leaves it.
    let extended = json(&access(
        &stack,
        &checkip,
        &["open", "--for", "2h", "--output", "json"],
    ));
    assert_eq!(extended["extended"], true, "{extended}");
    assert_eq!(extended["grant"]["rule"], grant["rule"]);
    let again = json(&access(
        &stack,
        &checkip,
        &["open", "--for", "5m", "--output", "json"],
    ));
    assert_eq!(again["extended"], false, "{again}");
    assert_eq!(again["grant"]["expires"], extended["grant"]["expires"]);

    // A crashed job's grant: drift to plan, removed by the next open.
    crashed_job_grant(&stack, "198.51.100.66/32").await;
    let (_, plan) = stack.plan();
    assert!(!Stack::settled(&plan), "{plan}");
    assert!(
        plan["changes"]
            .to_string()
            .contains("tcp/22 from 198.51.100.66/32"),
        "{plan}"
    );
    let other = json(&access(
        &stack,
        &checkip,
        &["open", "--cidr", "198.51.100.10", "--output", "json"],
    ));
    assert_eq!(other["removed"][0]["cidr"], "198.51.100.66/32", "{other}");
    assert_eq!(other["removed"][0]["holder"], "runner@gone (GitHub run 1)");
    let rules = ssh_rules(&stack).await;
    assert!(!rules.contains_key("198.51.100.66/32"), "{rules:?}");
    assert!(rules.contains_key("198.51.100.10/32"), "{rules:?}");

    // An address admin_cidr admits needs nothing; a wide block is refused.
    let admitted = json(&access(
        &stack,
        &checkip,
        &["open", "--cidr", "203.0.113.7", "--output", "json"],
    ));
    assert_eq!(admitted["admitted_by"], "203.0.113.7/32", "{admitted}");
    assert!(admitted["grant"].is_null());
    let wide = access(&stack, &checkip, &["open", "--cidr", "10.0.0.0/8"]);
    assert!(!wide.status.success());
    assert!(
        String::from_utf8_lossy(&wide.stderr).contains("add it to admin_cidr"),
        "{wide:?}"
    );
    let long = access(&stack, &checkip, &["open", "--for", "3d"]);
    assert!(
        String::from_utf8_lossy(&long.stderr).contains("between 1m and 24h"),
        "{long:?}"
    );

    // Close: this machine's grant alone, then every one.
    let closed = json(&access(&stack, &checkip, &["close", "--output", "json"]));
    assert_eq!(closed["closed"].as_array().unwrap().len(), 1, "{closed}");
    assert_eq!(closed["closed"][0]["cidr"], "198.51.100.9/32");
    let rules = ssh_rules(&stack).await;
    assert!(!rules.contains_key("198.51.100.9/32"), "{rules:?}");
    assert!(rules.contains_key("198.51.100.10/32"), "{rules:?}");
    let text = access(&stack, &checkip, &["close", "--all"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Closed SSH to 198.51.100.10/32"),
        "{text:?}"
    );
    let rules = ssh_rules(&stack).await;
    assert_eq!(rules.keys().collect::<Vec<_>>(), ["203.0.113.7/32"]);

    // A crashed job's grant is revoked by provision too.
    crashed_job_grant(&stack, "198.51.100.67/32").await;
    stack.provision();
    let rules = ssh_rules(&stack).await;
    assert_eq!(rules.keys().collect::<Vec<_>>(), ["203.0.113.7/32"]);
    let (_, plan) = stack.plan();
    assert!(Stack::settled(&plan), "{plan}");
}
