//! AWS's answers, shaped as ECS and CloudWatch Logs give them (awsJson 1.1; the field names the
//! SDK's deserializers read), and the client that replays them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use crate::aws::Aws;
use crate::commands::deploy::ecs::task_definitions::TaskDefinition;

/// The API's revision the service runs.
pub(super) const API_7: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stk-api:7";
/// The API's revision being deployed.
pub(super) const API_8: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stk-api:8";
/// The migration's revision.
pub(super) const MIGRATE_3: &str =
    "arn:aws:ecs:eu-west-1:123456789012:task-definition/stk-migrate:3";
/// The one task every answer names.
pub(super) const TASK: &str = "arn:aws:ecs:eu-west-1:123456789012:task/stk/0f3c2a9e8b7d4c6a";
/// The stack's cluster.
const CLUSTER: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/stk";
/// When things happened, in epoch seconds.
const AT: f64 = 1_750_000_000.0;

/// One canned answer: HTTP status and JSON body.
pub(super) type Answer = (u16, String);

/// One request: its operation (from `X-Amz-Target`) and its JSON body.
#[derive(Debug, Clone)]
pub(super) struct Asked {
    pub(super) operation: String,
    pub(super) body: String,
}

/// Clients answering each operation with its answers in order, the last one again for as long
/// as it is asked (a wait that never ends is one answer); an operation with none gets 500s. And
/// the log of what was asked.
pub(super) fn replay(answers: Vec<(&'static str, Answer)>) -> (Aws, Arc<Mutex<Vec<Asked>>>) {
    let mut queues: HashMap<&'static str, VecDeque<Answer>> = HashMap::new();
    for (operation, answer) in answers {
        queues.entry(operation).or_default().push_back(answer);
    }
    let queues = Mutex::new(queues);
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let http = infallible_client_fn(move |request: http::Request<SdkBody>| {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        log.lock().unwrap().push(Asked {
            operation: operation.clone(),
            body,
        });
        let (status, body) = match queues.lock().unwrap().get_mut(operation.as_str()) {
            Some(queue) if queue.len() > 1 => queue.pop_front().unwrap(),
            Some(queue) => queue.front().cloned().unwrap(),
            None => (
                500,
                json!({ "message": format!("no answer for {operation}") }).to_string(),
            ),
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(body))
            .unwrap()
    });
    (Aws::for_test(http), asked)
}

/// The operations asked, in order.
pub(super) fn operations(asked: &Arc<Mutex<Vec<Asked>>>) -> Vec<String> {
    asked
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.operation.clone())
        .collect()
}

/// A successful answer with `body`.
pub(super) fn ok(body: Value) -> Answer {
    (200, body.to_string())
}

/// A service error: its type and message, as awsJson gives them.
pub(super) fn error(kind: &str, message: &str) -> Answer {
    (
        400,
        json!({ "__type": kind, "message": message }).to_string(),
    )
}

/// DescribeTaskDefinition's answer for `definition` registered as `arn`, with what ECS adds to
/// what was registered (defaults, empty lists, the variables in its own order).
pub(super) fn described(definition: &TaskDefinition, arn: &str) -> Answer {
    let c = &definition.container;
    let environment: Vec<Value> = c
        .environment
        .iter()
        .rev()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect();
    let secrets: Vec<Value> = c
        .secrets
        .iter()
        .map(|(k, v)| json!({ "name": k, "valueFrom": v }))
        .collect();
    let ports: Vec<Value> = c
        .port
        .iter()
        .map(|p| json!({ "containerPort": p, "hostPort": p, "protocol": "tcp" }))
        .collect();
    let health = c.health_check.as_ref().map(|h| {
        json!({ "command": h.command, "interval": h.interval, "timeout": h.timeout, "retries": h.retries, "startPeriod": h.start_period })
    });
    let tags: Vec<Value> = definition
        .tags
        .iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect();
    ok(json!({
        "taskDefinition": {
            "taskDefinitionArn": arn, "family": definition.family, "revision": 7, "status": "ACTIVE",
            "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "compatibilities": ["EC2", "FARGATE"],
            "cpu": definition.cpu, "memory": definition.memory,
            "executionRoleArn": definition.execution_role, "taskRoleArn": definition.task_role,
            "containerDefinitions": [{
                "name": c.name, "image": c.image, "cpu": 0, "essential": true, "command": c.command,
                "portMappings": ports, "environment": environment, "secrets": secrets,
                "mountPoints": [], "volumesFrom": [], "systemControls": [],
                "logConfiguration": { "logDriver": c.log.driver, "options": c.log.options, "secretOptions": [] },
                "healthCheck": health, "stopTimeout": c.stop_timeout,
            }],
            "registeredAt": AT, "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/ci",
        },
        "tags": tags,
    }))
}

/// RegisterTaskDefinition's answer: the new revision `arn`.
pub(super) fn registered(arn: &str) -> Answer {
    let (family, revision) = arn.rsplit('/').next().unwrap().split_once(':').unwrap();
    let revision: i32 = revision.parse().unwrap();
    ok(json!({
        "taskDefinition": { "taskDefinitionArn": arn, "family": family, "revision": revision, "status": "ACTIVE" },
        "tags": [],
    }))
}

/// A deployment of `task_definition` (2 tasks wanted, `running` of them running).
pub(super) fn deployment(
    task_definition: &str,
    status: &str,
    rollout: &str,
    running: i32,
) -> Value {
    let revision = task_definition.rsplit(':').next().unwrap();
    let state = rollout.to_lowercase().replace('_', " ");
    json!({
        "id": format!("ecs-svc/{revision}"), "status": status, "taskDefinition": task_definition,
        "desiredCount": 2, "pendingCount": 2 - running, "runningCount": running, "failedTasks": 0,
        "createdAt": AT, "updatedAt": AT, "launchType": "FARGATE", "platformVersion": "1.4.0",
        "rolloutState": rollout, "rolloutStateReason": format!("ECS deployment ecs-svc/{revision} {state}."),
    })
}

/// The service `api` running `task_definition`, with its deployments and latest events.
fn service_json(task_definition: &str, deployments: Vec<Value>, events: &[&str]) -> Value {
    let events: Vec<Value> = events.iter().enumerate()
        .map(|(i, message)| json!({ "id": format!("event-{i}"), "createdAt": AT - 60.0 * (i as f64), "message": message }))
        .collect();
    json!({
        "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/stk/api", "serviceName": "api",
        "clusterArn": CLUSTER, "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
        "launchType": "FARGATE", "taskDefinition": task_definition,
        "deployments": deployments, "events": events,
    })
}

/// DescribeServices' answer.
pub(super) fn service(task_definition: &str, deployments: Vec<Value>, events: &[&str]) -> Answer {
    ok(json!({ "services": [service_json(task_definition, deployments, events)], "failures": [] }))
}

/// UpdateService's answer.
pub(super) fn updated(task_definition: &str, deployments: Vec<Value>) -> Answer {
    ok(json!({ "service": service_json(task_definition, deployments, &[]) }))
}

/// ListTasks' answer.
pub(super) fn listed(arns: &[&str]) -> Answer {
    ok(json!({ "taskArns": arns }))
}

/// RunTask's or DescribeTasks' answer.
pub(super) fn tasks(tasks: &[Value]) -> Answer {
    ok(json!({ "tasks": tasks, "failures": [] }))
}

/// The task [`TASK`] of `task_definition` with its one container `container`: stopped for
/// `stopped_reason` (its container exited with `exit_code`, if it ran), or, without a reason,
/// just started.
pub(super) fn task(
    task_definition: &str,
    container: &str,
    exit_code: Option<i32>,
    stopped_reason: &str,
) -> Value {
    let stopped = !stopped_reason.is_empty();
    let status = if stopped { "STOPPED" } else { "PROVISIONING" };
    let family = task_definition
        .rsplit('/')
        .next()
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let stop_code = if exit_code.is_some() {
        "EssentialContainerExited"
    } else {
        "TaskFailedToStart"
    };
    let desired = if stopped { "STOPPED" } else { "RUNNING" };
    json!({
        "taskArn": TASK, "clusterArn": CLUSTER, "taskDefinitionArn": task_definition,
        "lastStatus": status, "desiredStatus": desired,
        "launchType": "FARGATE", "platformVersion": "1.4.0", "cpu": "256", "memory": "512",
        "group": format!("family:{family}"), "startedBy": "ledgerctl-deploy", "createdAt": AT,
        "stopCode": stopped.then_some(stop_code), "stoppedReason": stopped.then_some(stopped_reason),
        "stoppedAt": stopped.then_some(AT + 60.0),
        "containers": [{
            "containerArn": format!("arn:aws:ecs:eu-west-1:123456789012:container/stk/0f3c2a9e8b7d4c6a/{container}"),
            "taskArn": TASK, "name": container, "lastStatus": status, "exitCode": exit_code,
        }],
    })
}

/// `task`, running.
pub(super) fn running(mut task: Value) -> Value {
    task["lastStatus"] = "RUNNING".into();
    task["containers"][0]["lastStatus"] = "RUNNING".into();
    task
}

/// GetLogEvents' answer: `lines`, oldest first.
pub(super) fn log_lines(lines: &[&str]) -> Answer {
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let at = 1_750_000_000_000_i64 + i as i64;
            json!({ "timestamp": at, "message": line, "ingestionTime": at + 500 })
        })
        .collect();
    ok(json!({ "events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1" }))
}
