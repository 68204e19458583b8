//! The service's roll-out: left alone, waited for, failed by the circuit breaker, timed out.

use super::answers::*;
use super::*;
use crate::commands::deploy::ecs::rollout::{ROLLOUT_POLL, ROLLOUT_TIMEOUT};

#[tokio::test(start_paused = true)]
async fn a_service_already_running_the_revision_is_left_alone() {
    let (aws, asked) = replay(vec![(
        "DescribeServices",
        service(
            API_8,
            vec![deployment(API_8, "PRIMARY", "COMPLETED", 2)],
            &[],
        ),
    )]);
    let outcome = roll_out(&aws, &config(), API_8).await.unwrap();
    assert_eq!(
        outcome,
        RolloutOutcome::Unchanged {
            task_definition: API_8.into()
        }
    );
    assert_eq!(operations(&asked), ["DescribeServices"]);
}

#[tokio::test(start_paused = true)]
async fn a_roll_out_is_waited_for_until_its_deployment_completes() {
    let old = || deployment(API_7, "ACTIVE", "COMPLETED", 2);
    let (aws, asked) = replay(vec![
        (
            "DescribeServices",
            service(
                API_7,
                vec![deployment(API_7, "PRIMARY", "COMPLETED", 2)],
                &[],
            ),
        ),
        (
            "UpdateService",
            updated(
                API_8,
                vec![deployment(API_8, "PRIMARY", "IN_PROGRESS", 0), old()],
            ),
        ),
        (
            "DescribeServices",
            service(
                API_8,
                vec![deployment(API_8, "PRIMARY", "IN_PROGRESS", 1), old()],
                &[],
            ),
        ),
        (
            "DescribeServices",
            service(
                API_8,
                vec![deployment(API_8, "PRIMARY", "COMPLETED", 2)],
                &[],
            ),
        ),
    ]);
    let outcome = roll_out(&aws, &config(), API_8).await.unwrap();
    assert_eq!(
        outcome,
        RolloutOutcome::Deployed {
            task_definition: API_8.into(),
            from: Some(API_7.into())
        }
    );
    assert_eq!(
        operations(&asked),
        [
            "DescribeServices",
            "UpdateService",
            "DescribeServices",
            "DescribeServices"
        ]
    );
    let update = asked.lock().unwrap()[1].body.clone();
    assert!(
        update.contains(&format!("\"taskDefinition\":\"{API_8}\"")),
        "{update}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_roll_out_the_circuit_breaker_fails_says_why_with_the_stopped_tasks_and_their_logs() {
    let mut failed = deployment(API_8, "ACTIVE", "FAILED", 0);
    failed["failedTasks"] = 10.into();
    failed["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start.".into();
    let events = [
        "(service api) rolling back to deployment ecs-svc/7.",
        "(service api) (deployment ecs-svc/8) deployment failed: tasks failed to start.",
    ];
    let (aws, asked) = replay(vec![
        (
            "DescribeServices",
            service(
                API_7,
                vec![deployment(API_7, "PRIMARY", "COMPLETED", 2)],
                &[],
            ),
        ),
        (
            "UpdateService",
            updated(API_8, vec![deployment(API_8, "PRIMARY", "IN_PROGRESS", 0)]),
        ),
        (
            "DescribeServices",
            service(
                API_7,
                vec![deployment(API_7, "PRIMARY", "IN_PROGRESS", 2), failed],
                &events,
            ),
        ),
        ("ListTasks", listed(&[TASK])),
        (
            "DescribeTasks",
            tasks(&[task(
                API_8,
                "api",
                Some(1),
                "Essential container in task exited",
            )]),
        ),
        (
            "GetLogEvents",
            log_lines(&[
                "ledgerly-api listening",
                "Error: the database schema is behind: missing 20250601_budgets",
            ]),
        ),
    ]);
    let err = roll_out(&aws, &config(), API_8)
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "did not roll out stk-api:8: ECS deployment circuit breaker: tasks failed to start.",
        "the service runs stk-api:7 again",
        "(deployment ecs-svc/8) deployment failed",
        "its container api exited with code 1",
        "Essential container in task exited",
        "api/api/0f3c2a9e8b7d4c6a",
        "  Error: the database schema is behind",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert_eq!(
        operations(&asked),
        [
            "DescribeServices",
            "UpdateService",
            "DescribeServices",
            "ListTasks",
            "DescribeTasks",
            "GetLogEvents"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_roll_out_that_does_not_finish_in_time_says_it_may_still_finish() {
    let old = || deployment(API_7, "ACTIVE", "COMPLETED", 2);
    let (aws, asked) = replay(vec![
        (
            "DescribeServices",
            service(
                API_7,
                vec![deployment(API_7, "PRIMARY", "COMPLETED", 2)],
                &[],
            ),
        ),
        (
            "UpdateService",
            updated(
                API_8,
                vec![deployment(API_8, "PRIMARY", "IN_PROGRESS", 0), old()],
            ),
        ),
        // Then the same answer for as long as it is asked.
        (
            "DescribeServices",
            service(
                API_8,
                vec![deployment(API_8, "PRIMARY", "IN_PROGRESS", 1), old()],
                &[],
            ),
        ),
    ]);
    let err = roll_out(&aws, &config(), API_8)
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "after 20 minutes (1 of 2 tasks running, 0 failed)",
        "may still finish",
        "`ledgerctl status`",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    let polls = operations(&asked)
        .iter()
        .filter(|o| *o == "DescribeServices")
        .count()
        - 1;
    let expected = (ROLLOUT_TIMEOUT.as_secs() / ROLLOUT_POLL.as_secs()) as usize;
    assert!(
        (expected - 1..=expected + 1).contains(&polls),
        "{polls} polls"
    );
}
