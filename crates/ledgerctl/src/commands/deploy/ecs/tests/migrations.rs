//! The migration task: exiting 0 or 1, unable to start, refused, timed out.

use super::answers::*;
use super::*;

/// The migration's RunTask, then DescribeTasks answers, then whatever else is given.
fn migration_answers(
    described: Vec<Answer>,
    rest: Vec<(&'static str, Answer)>,
) -> Vec<(&'static str, Answer)> {
    let started = task(MIGRATE_3, "migrate", None, "");
    let mut answers = vec![("RunTask", tasks(&[started]))];
    answers.extend(described.into_iter().map(|a| ("DescribeTasks", a)));
    answers.extend(rest);
    answers
}

/// Runs the migration `MIGRATE_3` in two subnets with the tasks' group.
async fn migrate(aws: &crate::aws::Aws) -> anyhow::Result<()> {
    let subnets = ["subnet-0a".to_owned(), "subnet-0b".to_owned()];
    run_migration(aws, &config(), MIGRATE_3, &subnets, "sg-0tasks").await
}

#[tokio::test(start_paused = true)]
async fn a_migration_that_exits_0_succeeds() {
    let started = running(task(MIGRATE_3, "migrate", None, ""));
    let exited = task(
        MIGRATE_3,
        "migrate",
        Some(0),
        "Essential container in task exited",
    );
    let (aws, asked) = replay(migration_answers(
        vec![tasks(&[started]), tasks(&[exited])],
        vec![],
    ));
    migrate(&aws).await.unwrap();
    assert_eq!(
        operations(&asked),
        ["RunTask", "DescribeTasks", "DescribeTasks"]
    );
    let run = asked.lock().unwrap()[0].body.clone();
    for part in [
        "\"launchType\":\"FARGATE\"",
        "\"startedBy\":\"ledgerctl-deploy\"",
        "\"assignPublicIp\":\"ENABLED\"",
        "\"securityGroups\":[\"sg-0tasks\"]",
        "\"subnets\":[\"subnet-0a\",\"subnet-0b\"]",
    ] {
        assert!(run.contains(part), "{part} not in {run}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_migration_that_exits_1_fails_with_its_exit_code_and_last_log_lines() {
    let exited = task(
        MIGRATE_3,
        "migrate",
        Some(1),
        "Essential container in task exited",
    );
    let lines = [
        "applying 20250601_budgets",
        "Caused by: password authentication failed for user \"ledgerly\"",
    ];
    let (aws, asked) = replay(migration_answers(
        vec![tasks(&[exited])],
        vec![("GetLogEvents", log_lines(&lines))],
    ));
    let err = migrate(&aws).await.unwrap_err().to_string();
    for part in [
        "its container migrate exited with code 1",
        "the API was not changed",
        "  Caused by: password authentication failed",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    let asked = asked.lock().unwrap().clone();
    let logs = &asked.last().unwrap().body;
    for part in [
        "\"logGroupName\":\"/ledgerly/stk/api\"",
        "\"logStreamName\":\"migrate/migrate/0f3c2a9e8b7d4c6a\"",
        "\"startFromHead\":false",
    ] {
        assert!(logs.contains(part), "{part} not in {logs}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_migration_task_that_cannot_start_says_why() {
    let reason =
        "CannotPullContainerError: pull image manifest has been retried 7 time(s): not found";
    let (aws, _) = replay(migration_answers(
        vec![tasks(&[task(MIGRATE_3, "migrate", None, reason)])],
        vec![(
            "GetLogEvents",
            error(
                "ResourceNotFoundException",
                "The specified log stream does not exist.",
            ),
        )],
    ));
    let err = migrate(&aws).await.unwrap_err().to_string();
    for part in [
        "it stopped before its container migrate finished: CannotPullContainerError",
        "the container never started",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_migration_ecs_will_not_run_is_an_error() {
    let refused = ok(
        serde_json::json!({"tasks": [], "failures": [{"arn": MIGRATE_3, "reason": "RESOURCE:ENI"}]}),
    );
    let (aws, asked) = replay(vec![("RunTask", refused)]);
    let err = migrate(&aws).await.unwrap_err().to_string();
    assert!(
        err.contains("did not start the migration task stk-migrate:3: RESOURCE:ENI"),
        "{err}"
    );
    assert_eq!(operations(&asked), ["RunTask"]);
}

#[tokio::test(start_paused = true)]
async fn a_migration_still_running_at_the_time_out_is_stopped() {
    let still = running(task(MIGRATE_3, "migrate", None, ""));
    let (aws, asked) = replay(migration_answers(
        vec![tasks(std::slice::from_ref(&still))],
        vec![
            ("StopTask", ok(serde_json::json!({"task": still}))),
            ("GetLogEvents", log_lines(&["applying 20250601_budgets"])),
        ],
    ));
    let err = migrate(&aws).await.unwrap_err().to_string();
    assert!(
        err.contains("did not finish within 15 minutes and was stopped"),
        "{err}"
    );
    let asked = operations(&asked);
    assert_eq!(asked[asked.len() - 2..], ["StopTask", "GetLogEvents"]);
}

/// `ledgerctl invite` on an ECS stack: the API image's `invite` in place of the migration's
/// command, run to its end; a failure names its exit code and log lines and nothing of the API.
#[tokio::test(start_paused = true)]
async fn another_command_runs_in_the_migration_s_place() {
    let command: Vec<String> = ["invite", "--days", "7", "--secret-sha256", "ab12"]
        .map(str::to_owned)
        .into();
    let job = super::super::migration::OneOff {
        task_definition: MIGRATE_3,
        what: "invite",
        command: Some(command.clone()),
        after_failure: "",
        started_by: "ledgerctl",
    };
    let subnets = ["subnet-0a".to_owned()];
    let exited = |code| {
        task(
            MIGRATE_3,
            "migrate",
            Some(code),
            "Essential container in task exited",
        )
    };
    let (aws, asked) = replay(migration_answers(vec![tasks(&[exited(0)])], vec![]));
    super::super::migration::run_one_off(&aws, &config(), &job, &subnets, "sg-0tasks")
        .await
        .unwrap();
    let run = asked.lock().unwrap()[0].body.clone();
    for part in [
        "\"containerOverrides\":[{",
        "\"command\":[\"invite\",\"--days\",\"7\",\"--secret-sha256\",\"ab12\"]",
        "\"name\":\"migrate\"",
        "\"startedBy\":\"ledgerctl\"",
        "\"launchType\":\"FARGATE\"",
    ] {
        assert!(run.contains(part), "{part} not in {run}");
    }

    let (aws, _) = replay(migration_answers(
        vec![tasks(&[exited(1)])],
        vec![(
            "GetLogEvents",
            log_lines(&["Error: registration is closed (auth.registration = closed)"]),
        )],
    ));
    let err = super::super::migration::run_one_off(&aws, &config(), &job, &subnets, "sg-0tasks")
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "the invite task",
        "its container migrate exited with code 1",
        "  Error: registration is closed",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert!(!err.contains("the API was not changed"), "{err}");
}
