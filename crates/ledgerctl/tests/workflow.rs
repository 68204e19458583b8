//! The release workflow: what it promises in docs/operations.md — tests before any deploy, AWS
//! credentials from GitHub's OIDC token only, one deploy at a time, the SSH key from secrets.

#![allow(clippy::unwrap_used)]

use serde_json::Value;

fn workflow(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.github/workflows/");
    let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
    yaml_serde::from_str(&text).unwrap()
}

/// Every step of a job.
fn steps(job: &Value) -> &Vec<Value> {
    job["steps"].as_array().unwrap()
}

#[test]
fn a_push_to_main_is_tested_then_deployed_with_oidc_one_deploy_at_a_time() {
    let release = workflow("release.yml");
    // yaml_serde reads the `on` key as the string "on".
    assert_eq!(release["on"]["push"]["branches"][0], "main");
    let jobs = &release["jobs"];
    let test = &jobs["test"];
    assert!(
        steps(test)
            .iter()
            .any(|s| s["run"].as_str() == Some("scripts/test")),
        "the test job runs the same command as .ci/run"
    );
    let deploy = &jobs["deploy"];
    assert_eq!(deploy["needs"], "test", "no deploy without passing tests");
    assert_eq!(
        deploy["if"], "github.ref == 'refs/heads/main' && vars.LEDGERLY_DEPLOY_ROLE_ARN != ''",
        "a manual run on another branch never deploys; a fork without the role skips the job"
    );
    assert_eq!(
        deploy["environment"], "production",
        "the environment the deploy role trusts"
    );
    assert_eq!(deploy["concurrency"]["cancel-in-progress"], false);
    assert!(
        deploy["concurrency"]["group"]
            .as_str()
            .unwrap()
            .contains("deploy")
    );
    assert_eq!(deploy["permissions"]["id-token"], "write");
    // The workflow-wide default grants nothing more than reading the code.
    assert_eq!(release["permissions"]["contents"], "read");
    assert!(release["permissions"]["id-token"].is_null());

    let credentials = steps(deploy)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
        })
        .expect("credentials from aws-actions/configure-aws-credentials");
    assert!(
        credentials["with"]["role-to-assume"]
            .as_str()
            .unwrap()
            .contains("vars.")
    );
    let text = yaml_serde::to_string(&release).unwrap();
    for long_lived in [
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(!text.contains(long_lived), "{long_lived} in the workflow");
    }
    let runs: Vec<&str> = steps(deploy)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let deploy_step = runs
        .iter()
        .find(|r| r.contains("ledgerctl deploy") && r.contains("--ssh-key"))
        .expect("an instance deploy step");
    assert!(deploy_step.contains("--lock-wait"), "{deploy_step}");
    // An ECS stack deploys through AWS's APIs alone: its steps have no SSH at all.
    let on = |topology: &str| {
        steps(deploy)
            .iter()
            .filter(move |s| s["if"].as_str() == Some(topology))
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
    };
    let ecs = on("steps.stack.outputs.topology == 'ecs'");
    assert!(
        ecs.iter()
            .any(|r| r.contains("ledgerctl deploy") && r.contains("--skip-monitoring")),
        "{ecs:?}"
    );
    assert!(
        ecs.iter().any(|r| r.contains("ledgerctl status")),
        "{ecs:?}"
    );
    assert!(ecs.iter().all(|r| !r.contains("ssh")), "{ecs:?}");
    let instance = on("steps.stack.outputs.topology == 'instance'");
    assert!(
        instance.iter().any(|r| r.contains(deploy_step)),
        "{instance:?}"
    );
    // Without a stack file every step after the check is skipped: none runs unconditionally.
    let check = steps(deploy)
        .iter()
        .position(|s| s["id"] == "stack")
        .expect("the step reading the stack file");
    assert!(
        steps(deploy)[check]["run"]
            .as_str()
            .unwrap()
            .contains("topology=none"),
        "no stack file: topology none"
    );
    for step in &steps(deploy)[check + 1..] {
        assert!(step["if"].is_string(), "{step:?} runs without a stack file");
    }
    // The host key is checked against the instance's recorded keys, not a file of the CI's.
    assert!(!text.contains("ssh-known-hosts"), "{text}");
    assert!(!text.contains("StrictHostKeyChecking"), "{text}");
    assert!(runs.iter().any(|r| r.contains("ledgerctl status")));
    let ssh = steps(deploy)
        .iter()
        .find(|s| s["env"]["SSH_KEY"].is_string())
        .expect("the SSH key from secrets");
    assert!(ssh["env"]["SSH_KEY"].as_str().unwrap().contains("secrets."));

    // The runner reaches the instance: SSH opened for its address before the deploy, for a while
    // that outlasts the job, and closed after it whatever happened (once it was opened).
    let position = |needle: &str| {
        steps(deploy)
            .iter()
            .position(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
            .unwrap_or_else(|| panic!("a step running {needle}"))
    };
    let (open, deploy_at, close) = (
        position("ledgerctl access open"),
        position(deploy_step),
        position("ledgerctl access close"),
    );
    assert!(open < deploy_at && deploy_at < close);
    let opening = &steps(deploy)[open];
    assert_eq!(opening["if"], "steps.stack.outputs.topology == 'instance'");
    let length = opening["run"]
        .as_str()
        .unwrap()
        .split("--for ")
        .nth(1)
        .unwrap()
        .trim_end_matches('m')
        .parse::<i64>()
        .unwrap();
    assert!(
        length > deploy["timeout-minutes"].as_i64().unwrap(),
        "the access outlasts the job: {length}m"
    );
    assert_eq!(
        steps(deploy)[close]["if"],
        format!(
            "always() && steps.{}.outcome != 'skipped'",
            opening["id"].as_str().unwrap()
        )
    );

    // Pushes to main are tested there, not twice.
    let ci = workflow("ci.yml");
    assert_eq!(ci["on"]["push"]["branches-ignore"][0], "main");
}

#[test]
fn every_action_is_pinned_by_commit_with_its_version_beside_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.github/workflows/");
    let mut seen = 0;
    for name in ["ci.yml", "release.yml"] {
        let text = std::fs::read_to_string(format!("{path}{name}")).unwrap();
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("uses:") || l.trim_start().starts_with("- uses:")
        }) {
            seen += 1;
            let reference = line.split("uses:").nth(1).unwrap().trim();
            let (action, rest) = reference.split_once('@').unwrap();
            let (sha, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            assert!(
                sha.len() == 40
                    && sha
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{name}: {action} is not pinned by a commit SHA: {line}"
            );
            assert!(
                comment.starts_with('v'),
                "{name}: {action}@{sha} has no version comment: {line}"
            );
        }
        // A checkout keeps no token in the working copy for later steps.
        let workflow = workflow(name);
        for job in workflow["jobs"].as_object().unwrap().values() {
            for step in steps(job) {
                if step["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("actions/checkout@"))
                {
                    assert_eq!(step["with"]["persist-credentials"], false, "{name}");
                }
            }
        }
    }
    assert!(seen >= 8, "{seen} actions");
}
