//! `ledgerctl setup`: provision, then the DNS record to make and a bounded wait for it — run
//! again, it finds the stack provisioned and goes on to the same step.

use crate::fixtures::*;

#[tokio::test]
async fn setup_provisions_names_the_record_and_waits_for_it_a_bounded_time_then_runs_again() {
    let stack = Stack::new("set");
    let output = stack.ledgerctl(&["setup", "--auto-approve", "--dns-timeout", "1s"], None);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(!output.status.success(), "{output:?}");
    let address = elastic_ip(&stack).await;
    let record = format!("ledgerly.example.com. A {address}");
    assert!(stdout.contains("1/4 Provision"), "{stdout}");
    assert!(stdout.contains("2/4 DNS"), "{stdout}");
    assert!(stdout.contains(&record), "{stdout}");
    assert!(!stdout.contains("3/4 Deploy"), "{stdout}");
    assert!(
        stderr.contains("ledgerly.example.com does not resolve to the stack after 1s")
            && stderr.contains(&format!("Make the record {record}"))
            && stderr.contains("run ledgerctl setup again"),
        "{stderr}"
    );
    let (_, plan) = stack.plan();
    assert!(Stack::settled(&plan), "provisioned whole: {plan}");

    // Again, and not at a terminal without --auto-approve: nothing to approve, on to DNS.
    let again = stack.ledgerctl(&["setup", "--dns-timeout", "1s"], None);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("no changes"), "{again:?}");
    assert!(stdout.contains(&record), "{again:?}");
    assert!(!again.status.success());
}
