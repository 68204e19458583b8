//! Plan, then apply: provision shows the plan and asks for `yes` at a terminal (here a
//! pseudo-terminal made by `script`), refuses without `--auto-approve` elsewhere, and asks
//! nothing when there is nothing to change.

use std::process::{Command, Output, Stdio};

use crate::assertions::*;
use crate::fixtures::*;

/// `ledgerctl provision` on a pseudo-terminal, typing `answer`.
fn provision_at_a_terminal(stack: &Stack, answer: &str) -> Output {
    at_a_terminal(stack, "provision", answer)
}

/// `ledgerctl <command>` on a pseudo-terminal, typing `answer`.
fn at_a_terminal(stack: &Stack, command: &str, answer: &str) -> Output {
    let line = format!(
        "{} {command} --config {} --endpoint-url {}",
        env!("CARGO_BIN_EXE_ledgerctl"),
        stack.path("ledgerly.yaml").display(),
        crate::common::aws_endpoint()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("script (util-linux): {e}"));
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{answer}").unwrap();
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn provision_asks_at_a_terminal_and_needs_auto_approve_elsewhere() {
    let stack = Stack::new("ask");
    // Destroy is asked about at the end; protection would stop it before the question.
    stack.write("database:\n  deletion_protection: false\n");

    // Not at a terminal, not approved: refused, nothing made.
    let refused = stack.ledgerctl(&["provision"], None);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("pass --auto-approve to apply them when not at a terminal"),
        "{stderr}"
    );
    assert_nothing_created(&stack).await;

    // At a terminal: the plan, the question; anything but `yes` changes nothing.
    let declined = provision_at_a_terminal(&stack, "y");
    assert!(!declined.status.success(), "{declined:?}");
    let shown = String::from_utf8_lossy(&declined.stdout);
    assert!(
        shown.contains(&format!("{}-api", stack.name)),
        "the plan: {shown}"
    );
    assert!(shown.contains("Only 'yes' is accepted"), "{shown}");
    assert!(
        shown.contains("not applied; nothing was changed"),
        "{shown}"
    );
    assert_nothing_created(&stack).await;

    let applied = provision_at_a_terminal(&stack, "yes");
    assert!(applied.status.success(), "{applied:?}");
    let ecr = aws_sdk_ecr::Client::new(&crate::common::aws().await);
    ecr.describe_repositories()
        .repository_names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap_or_else(|e| panic!("provisioned after yes: {e:?}"));

    // Nothing to change: nothing asked, even without a terminal.
    let again = stack.ledgerctl(&["provision"], None);
    assert!(again.status.success(), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("no changes"),
        "{again:?}"
    );

    // Destroy, at a terminal, lists what it would delete, resource by resource, before asking.
    let declined = at_a_terminal(&stack, "destroy", "no");
    assert!(!declined.status.success(), "{declined:?}");
    let shown = String::from_utf8_lossy(&declined.stdout);
    let repository = format!("- ecr repository {}-api", stack.name);
    // In destroy's order: the repositories go before the key pair provision made first.
    let key_pair = shown.find(&format!("- key pair {}-deploy", stack.name));
    assert!(shown.contains(&repository), "{shown}");
    assert!(shown.contains("resource(s) of"), "{shown}");
    assert!(shown.contains("nothing was deleted"), "{shown}");
    assert!(key_pair > shown.find(&repository), "{shown}");
    ecr.describe_repositories()
        .repository_names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap_or_else(|e| panic!("still there: {e:?}"));
}
