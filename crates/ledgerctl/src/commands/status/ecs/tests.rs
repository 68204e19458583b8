//! The ECS part of status judged from AWS's answers, built with the SDK's builders.

use aws_sdk_applicationautoscaling::types::ScalingActivityStatusCode;
use aws_sdk_ecs::types::{DeploymentRolloutState, HealthStatus, ServiceEvent};
use aws_sdk_elasticloadbalancingv2::types::{
    TargetDescription, TargetHealth, TargetHealthReasonEnum, TargetHealthStateEnum,
};
use aws_smithy_types::DateTime;
use serde_json::Value;

use super::*;

const ARN: &str = "arn:aws:ecs:eu-west-1:123456789012";
const T0: i64 = 1_750_000_000;

fn at(minute: i64) -> DateTime {
    DateTime::from_secs(T0 + minute * 60)
}

fn deployment(
    revision: u32,
    status: &str,
    rollout: DeploymentRolloutState,
    reason: Option<&str>,
    running: i32,
) -> aws_sdk_ecs::types::Deployment {
    aws_sdk_ecs::types::Deployment::builder()
        .id(format!("ecs-svc/{revision}"))
        .status(status)
        .task_definition(format!("{ARN}:task-definition/stk-api:{revision}"))
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running)
        .created_at(at(0))
        .rollout_state(rollout)
        .set_rollout_state_reason(reason.map(str::to_owned))
        .build()
}

/// The service `api`, wanting 2 tasks, with `events` events a minute apart, oldest last.
fn service(
    status: &str,
    running: i32,
    deployments: Vec<aws_sdk_ecs::types::Deployment>,
    events: i64,
) -> EcsService {
    let mut service = EcsService::builder()
        .service_name("api")
        .status(status)
        .desired_count(2)
        .running_count(running)
        .pending_count(2 - running)
        .set_deployments(Some(deployments));
    for minute in (0..events).rev() {
        service = service.events(
            ServiceEvent::builder()
                .id(minute.to_string())
                .created_at(at(minute))
                .message(format!("event {minute}"))
                .build(),
        );
    }
    service.build()
}

fn task(id: &str, started: Option<i64>) -> EcsTask {
    EcsTask::builder()
        .task_arn(format!("{ARN}:task/stk/{id}"))
        .task_definition_arn(format!("{ARN}:task-definition/stk-api:7"))
        .last_status(if started.is_some() {
            "RUNNING"
        } else {
            "PENDING"
        })
        .health_status(HealthStatus::Healthy)
        .availability_zone("eu-west-1a")
        .set_started_at(started.map(at))
        .build()
}

fn stopped(id: &str, minute: i64) -> EcsTask {
    EcsTask::builder()
        .task_arn(format!("{ARN}:task/stk/{id}"))
        .task_definition_arn(format!("{ARN}:task-definition/stk-api:6"))
        .last_status("STOPPED")
        .stopped_at(at(minute))
        .stopped_reason(format!("Task failed ELB health checks ({id})"))
        .build()
}

fn target(ip: &str, state: TargetHealthStateEnum) -> TargetHealthDescription {
    let failing = state == TargetHealthStateEnum::Unhealthy;
    let health = TargetHealth::builder()
        .state(state)
        .set_reason(failing.then_some(TargetHealthReasonEnum::FailedHealthChecks))
        .set_description(failing.then(|| "Health checks failed with these codes: [503]".into()));
    TargetHealthDescription::builder()
        .target(TargetDescription::builder().id(ip).port(8080).build())
        .target_health(health.build())
        .build()
}

fn activity(minute: i64, description: &str) -> ScalingActivity {
    ScalingActivity::builder()
        .activity_id(minute.to_string())
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id("service/stk/api")
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .description(description)
        .cause("monitor alarm TargetTracking-service/stk/api")
        .start_time(at(minute))
        .status_code(ScalingActivityStatusCode::Successful)
        .build()
        .expect("every required field is given")
}

fn described(
    service: Option<EcsService>,
    tasks: Vec<EcsTask>,
    targets: Vec<TargetHealthDescription>,
) -> Described {
    Described {
        service_name: "stk/api".into(),
        target_group: "stk-api".into(),
        service,
        tasks,
        targets: Some(targets),
        ..Described::default()
    }
}

fn steady() -> Described {
    let running = deployment(7, "PRIMARY", DeploymentRolloutState::Completed, None, 2);
    Described {
        stopped: vec![
            stopped("s1", 1),
            stopped("s4", 4),
            stopped("s2", 2),
            stopped("s3", 3),
        ],
        bounds: Some((1, 4)),
        activities: ["one", "nine", "five", "three"]
            .iter()
            .zip([1, 9, 5, 3])
            .map(|(what, minute)| activity(minute, what))
            .collect(),
        ..described(
            Some(service("ACTIVE", 2, vec![running], 7)),
            vec![
                task("bbb", Some(3)),
                task("ccc", None),
                task("aaa", Some(5)),
            ],
            vec![
                target("10.0.2.7", TargetHealthStateEnum::Healthy),
                target("10.0.1.5", TargetHealthStateEnum::Healthy),
            ],
        )
    }
}

/// Each object in `value` has exactly the fields the schema names for it (docs/status.schema.json).
fn conforms(value: &Value, schema: &Value, path: &str) {
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("the schema names no fields for {path}"));
            let mut given: Vec<&String> = fields.keys().collect();
            let mut named: Vec<&String> = properties.keys().collect();
            given.sort();
            named.sort();
            assert_eq!(given, named, "the fields of {path}");
            for (name, field) in fields {
                conforms(field, &properties[name], &format!("{path}.{name}"));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(item, &schema["items"], &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn a_steady_service_with_healthy_targets_is_no_problem_and_the_app_is_ready() {
    let seen = judge::judge(&steady(), true);
    assert_eq!(seen.problems, Vec::<String>::new());
    assert!(seen.app.ready);
    assert_eq!(
        seen.app.detail,
        "2 of 2 targets healthy in stk-api (its health check: /readyz)"
    );
    let report = &seen.report;
    assert_eq!(report.service.status, "ACTIVE");
    assert_eq!(report.service.deployments[0].task_definition, "stk-api:7");
    assert_eq!(
        report.service.deployments[0].rollout_state.as_deref(),
        Some("COMPLETED")
    );
    let events: Vec<&str> = report
        .service
        .events
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        events,
        ["event 6", "event 5", "event 4", "event 3", "event 2"]
    );
    let tasks: Vec<(&str, &str)> = report
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.last_status.as_str()))
        .collect();
    assert_eq!(
        tasks,
        [("aaa", "RUNNING"), ("bbb", "RUNNING"), ("ccc", "PENDING")]
    );
    assert_eq!(report.tasks[0].task_definition, "stk-api:7");
    assert_eq!(report.tasks[0].health, "HEALTHY");
    assert_eq!(report.tasks[0].started_at, Some(T0 + 5 * 60));
    let targets: Vec<&str> = report.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(targets, ["10.0.1.5:8080", "10.0.2.7:8080"]);
    let scaling = report.scaling.as_ref().expect("a scalable target");
    assert_eq!((scaling.min, scaling.max, scaling.desired), (1, 4, 2));
    let activities: Vec<&str> = scaling
        .activities
        .iter()
        .map(|a| a.description.as_str())
        .collect();
    assert_eq!(activities, ["nine", "five", "three"]);
    assert_eq!(scaling.activities[0].status, "Successful");
}

#[test]
fn the_latest_stopped_tasks_are_shown_newest_first_with_why() {
    let seen = judge::judge(&steady(), true);
    let stopped: Vec<(&str, &str, &str)> = seen
        .report
        .stopped_tasks
        .iter()
        .map(|t| (t.id.as_str(), t.task_definition.as_str(), t.reason.as_str()))
        .collect();
    assert_eq!(
        stopped,
        [
            ("s4", "stk-api:6", "Task failed ELB health checks (s4)"),
            ("s3", "stk-api:6", "Task failed ELB health checks (s3)"),
            ("s2", "stk-api:6", "Task failed ELB health checks (s2)"),
        ]
    );
}

#[test]
fn tasks_short_a_failed_primary_deployment_and_an_unhealthy_target_are_problems() {
    let failed = deployment(
        8,
        "PRIMARY",
        DeploymentRolloutState::Failed,
        Some("ECS deployment circuit breaker: tasks failed to start."),
        0,
    );
    let older = deployment(7, "ACTIVE", DeploymentRolloutState::Completed, None, 1);
    let seen = judge::judge(
        &described(
            Some(service("ACTIVE", 1, vec![failed, older], 0)),
            vec![task("aaa", Some(1))],
            vec![
                target("10.0.1.5", TargetHealthStateEnum::Healthy),
                target("10.0.2.7", TargetHealthStateEnum::Unhealthy),
            ],
        ),
        true,
    );
    assert_eq!(
        seen.problems,
        [
            "ECS service stk/api: running 1 of 2 (1 pending)",
            "ECS service stk/api: the deployment of stk-api:8 failed: ECS deployment circuit breaker: tasks failed to start.",
            "target 10.0.2.7:8080 in stk-api: unhealthy (Health checks failed with these codes: [503])",
        ]
    );
    assert!(seen.app.ready, "one target is healthy");
    assert_eq!(
        seen.app.detail,
        "1 of 2 targets healthy in stk-api (its health check: /readyz)"
    );
    let unhealthy = &seen.report.targets[1];
    assert_eq!(unhealthy.state, "unhealthy");
    assert_eq!(
        unhealthy.reason.as_deref(),
        Some("Target.FailedHealthChecks")
    );
}

#[test]
fn before_the_first_deploy_the_service_waits_and_that_is_no_problem() {
    let seen = judge::judge(&described(None, vec![], vec![]), false);
    assert_eq!(seen.report.service.status, "waiting");
    assert_eq!(seen.problems, Vec::<String>::new());
    assert!(!seen.app.ready);
    assert_eq!(seen.app.detail, "not deployed yet");
    assert!(seen.report.scaling.is_none());
}

#[test]
fn after_a_release_a_missing_or_deleted_service_and_no_healthy_target_are_problems() {
    let seen = judge::judge(
        &described(
            None,
            vec![],
            vec![target("10.0.1.5", TargetHealthStateEnum::Initial)],
        ),
        true,
    );
    assert_eq!(seen.report.service.status, "missing");
    assert_eq!(seen.problems, ["ECS service stk/api: missing"]);
    assert!(!seen.app.ready);
    assert_eq!(
        seen.app.detail,
        "0 of 1 targets healthy in stk-api (its health check: /readyz)"
    );

    let draining = described(Some(service("DRAINING", 0, vec![], 0)), vec![], vec![]);
    let seen = judge::judge(&draining, true);
    assert_eq!(seen.problems, ["ECS service stk/api: draining"]);

    let no_group = Described {
        targets: None,
        ..described(None, vec![], vec![])
    };
    assert_eq!(
        judge::judge(&no_group, true).app.detail,
        "no target group stk-api"
    );
}

#[test]
fn the_report_has_exactly_the_fields_the_schema_names() {
    let schema: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/status.schema.json"
    )))
    .expect("the schema is JSON");
    let seen = judge::judge(&steady(), true);
    let report = serde_json::to_value(&seen.report).expect("the report serializes");
    conforms(&report, &schema["properties"]["ecs"], "ecs");
}
