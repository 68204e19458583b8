//! `status` and `logs` on an ECS stack against the emulator: what they read of the service, its
//! tasks, targets and scaling, and of CloudWatch Logs. (The emulator starts no task: its service
//! stays at 0 running, which status must call a problem.)

use crate::fixtures::*;

#[tokio::test]
async fn status_shows_the_service_its_deployments_targets_and_scaling() {
    let stack = Stack::ecs("ecsstatus");
    stack.provision();
    stack.register_task_definition().await;
    stack.provision();
    let output = stack.ledgerctl(&["status", "--output", "json"], None);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    crate::common::validate_status(&report);
    let ecs = &report["ecs"];
    let service = &ecs["service"];
    assert_eq!(service["name"], format!("{}/api", stack.name), "{report:#}");
    assert_eq!(service["status"], "ACTIVE");
    assert_eq!(service["desired"], 2);
    assert_eq!(service["running"], 0, "the emulator starts no task");
    assert_eq!(
        service["deployments"][0]["task_definition"],
        format!("{}-api:1", stack.name)
    );
    assert_eq!(ecs["target_group"], format!("{}-api", stack.name));
    assert_eq!(ecs["scaling"]["min"], 2, "{ecs:#}");
    assert_eq!(ecs["scaling"]["max"], 4);
    let problems = report["problems"].to_string();
    assert!(problems.contains("running 0 of 2"), "{problems}");
    assert_eq!(report["app"]["ready"], false, "no healthy target");
    assert!(
        report["containers"].as_array().unwrap().is_empty(),
        "no SSH, no engine: {report:#}"
    );

    let text = stack.ledgerctl(&["status"], None);
    let shown = String::from_utf8_lossy(&text.stdout);
    assert!(shown.contains("running 0 of 2"), "{shown}");
}

#[tokio::test]
async fn logs_reads_the_tasks_lines_from_cloudwatch() {
    let stack = Stack::ecs("ecslogs");
    stack.provision();
    let group = format!("/ledgerly/{}/api", stack.name);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws().await);
    let now = chrono::Utc::now().timestamp_millis();
    for (stream, lines) in [
        (
            "api/api/0123456789abcdef0123456789abcdef",
            ["listening", "GET /readyz 200"],
        ),
        (
            "migrate/migrate/fedcba9876543210fedcba9876543210",
            ["migrated", "done"],
        ),
    ] {
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(stream)
            .send()
            .await
            .unwrap();
        let events = lines.iter().enumerate().map(|(i, line)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 1_000 + i as i64)
                .message(*line)
                .build()
                .unwrap()
        });
        logs.put_log_events()
            .log_group_name(&group)
            .log_stream_name(stream)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .unwrap();
    }
    let api = stack.ledgerctl(&["logs", "api", "--since", "10m"], None);
    assert!(api.status.success(), "{api:?}");
    let text = String::from_utf8_lossy(&api.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["01234567 | listening", "01234567 | GET /readyz 200"],
        "{text}"
    );
    let migrate = stack.ledgerctl(&["logs", "migrate", "--since", "10m"], None);
    let text = String::from_utf8_lossy(&migrate.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["fedcba98 | migrated", "fedcba98 | done"],
        "{text}"
    );
    let task = stack.ledgerctl(&["logs", "fedcba98", "--since", "10m"], None);
    assert!(
        String::from_utf8_lossy(&task.stdout).contains("fedcba98 | done"),
        "{task:?}"
    );
    let instance_only = stack.ledgerctl(&["logs", "prometheus"], None);
    assert!(!instance_only.status.success());
    assert!(
        String::from_utf8_lossy(&instance_only.stderr).contains("--instance"),
        "{instance_only:?}"
    );
}
