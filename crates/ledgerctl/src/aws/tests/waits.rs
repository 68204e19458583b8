//! Waiters, IAM propagation retries and throttling retries, over the SDK's test HTTP client:
//! AWS's real answers (`creating`, "the role cannot be assumed", `Throttling`) replayed in order,
//! with sleeps that end at once while the clock moves on. The emulator cannot show these: its
//! resources are ready at once and its IAM is consistent.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;

use crate::aws::Aws;
use crate::stack::StackConfig;
use crate::stack::resource::{Known, Resource as _};

/// One canned answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, String);

/// Clients answering with `answers` in order (then 500s), and the log of what was asked: the
/// method and path, and the Query `Action` where there is one.
fn replay(answers: Vec<Answer>) -> (Aws, Arc<Mutex<Vec<String>>>) {
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let http = infallible_client_fn(move |request: http::Request<SdkBody>| {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let action = body
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .unwrap_or_default()
            .to_owned();
        log.lock().unwrap().push(
            format!("{} {} {action}", request.method(), request.uri().path())
                .trim()
                .to_owned(),
        );
        let (status, headers, body) =
            answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or((500, vec![], "no more answers".into()));
        let mut response = http::Response::builder().status(status);
        for (name, value) in headers {
            response = response.header(name, value);
        }
        response.body(SdkBody::from(body)).unwrap()
    });
    (Aws::for_test(http), asked)
}

fn config() -> StackConfig {
    StackConfig::parse(
        "stack: waits\nregion: us-east-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\n",
        "test",
    )
    .unwrap()
}

fn known() -> Known {
    Known {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        ..Known::default()
    }
}

fn function() -> crate::aws::lambda::Function {
    crate::aws::lambda::Function::of(
        &config(),
        &known(),
        Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/waits-ocr@sha256:ab".into()),
    )
}

fn role_not_assumable() -> Answer {
    (
        400,
        vec![("x-amzn-errortype", "InvalidParameterValueException")],
        r#"{"Type":"User","message":"The role defined for the function cannot be assumed by Lambda."}"#.into(),
    )
}

fn lambda_state(state: &str) -> Answer {
    (
        200,
        vec![("content-type", "application/json")],
        format!(
            r#"{{"Configuration":{{"FunctionName":"waits-ocr","State":"{state}","LastUpdateStatus":"Successful"}}}}"#
        ),
    )
}

#[tokio::test(start_paused = true)]
async fn a_new_function_is_retried_while_iam_propagates_its_role_then_waited_for() {
    let created = (
        201,
        vec![("content-type", "application/json")],
        r#"{"FunctionName":"waits-ocr","State":"Pending"}"#.into(),
    );
    let (aws, asked) = replay(vec![
        role_not_assumable(),
        role_not_assumable(),
        created,
        lambda_state("Pending"),
        lambda_state("Active"),
    ]);
    function().apply(&aws, None, &mut known()).await.unwrap();
    let asked = asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [
            "POST /2015-03-31/functions",
            "POST /2015-03-31/functions",
            "POST /2015-03-31/functions",
            "GET /2015-03-31/functions/waits-ocr",
            "GET /2015-03-31/functions/waits-ocr",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_role_that_never_becomes_assumable_fails_after_a_bounded_number_of_tries() {
    let (aws, asked) = replay(
        (0..crate::aws::PROPAGATION_ATTEMPTS + 3)
            .map(|_| role_not_assumable())
            .collect(),
    );
    let err = function()
        .apply(&aws, None, &mut known())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("cannot be assumed"), "{err:#}");
    assert_eq!(
        asked.lock().unwrap().len(),
        crate::aws::PROPAGATION_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn other_errors_are_not_retried_as_propagation() {
    let (aws, asked) = replay(vec![(
        400,
        vec![("x-amzn-errortype", "InvalidParameterValueException")],
        r#"{"Type":"User","message":"Memory size 64 is below the minimum"}"#.into(),
    )]);
    let err = function()
        .apply(&aws, None, &mut known())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("below the minimum"), "{err:#}");
    assert_eq!(asked.lock().unwrap().len(), 1);
}

fn db_status(status: &str) -> Answer {
    (
        200,
        vec![("content-type", "text/xml")],
        format!(
            "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult><DBInstances><DBInstance><DBInstanceIdentifier>waits-db</DBInstanceIdentifier><DBInstanceStatus>{status}</DBInstanceStatus></DBInstance></DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>"
        ),
    )
}

#[tokio::test]
async fn the_database_is_waited_for_until_available() {
    let (aws, asked) = replay(vec![
        db_status("creating"),
        db_status("backing-up"),
        db_status("available"),
    ]);
    crate::aws::rds::wait_available(&aws, "waits-db")
        .await
        .unwrap();
    assert_eq!(asked.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_database_that_never_becomes_available_times_out_with_a_clear_error() {
    let (aws, asked) = replay((0..500).map(|_| db_status("creating")).collect());
    let err = crate::aws::rds::wait_available(&aws, "waits-db")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gave up waiting for the database waits-db to become available after 40 minutes; it may still finish: run the command again later"
    );
    // Polled with backoff (30 s at least between polls), not in a tight loop.
    let polls = asked.lock().unwrap().len();
    assert!((3..=80).contains(&polls), "{polls} polls");
}

#[tokio::test]
async fn a_database_that_fails_is_reported_as_failed() {
    let (aws, _) = replay(vec![db_status("creating"), db_status("failed")]);
    let err = crate::aws::rds::wait_available(&aws, "waits-db")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ended in a failed state"), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let throttled = (
        400,
        vec![("content-type", "text/xml")],
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>".to_owned(),
    );
    let (aws, asked) = replay(vec![throttled.clone(), throttled, db_status("available")]);
    let observed = crate::aws::rds::observe(&aws, "waits-db", &Default::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.status, "available");
    assert_eq!(asked.lock().unwrap().len(), 3);
    // Counted once: the call log is per operation, not per attempt.
    assert_eq!(aws.log.reads(), 1);
}

fn instance_state(code: u8, name: &str) -> Answer {
    (
        200,
        vec![("content-type", "text/xml")],
        format!(
            "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet><item><instancesSet><item><instanceId>i-0abc</instanceId><instanceState><code>{code}</code><name>{name}</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>"
        ),
    )
}

#[tokio::test]
async fn terminating_instances_are_waited_for() {
    let terminate = (
        200,
        vec![("content-type", "text/xml")],
        "<TerminateInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><instancesSet><item><instanceId>i-0abc</instanceId></item></instancesSet></TerminateInstancesResponse>".to_owned(),
    );
    let (aws, asked) = replay(vec![
        instance_state(16, "running"),
        terminate,
        instance_state(32, "shutting-down"),
        instance_state(48, "terminated"),
    ]);
    let deleted = crate::aws::instance::Instance::delete(&aws, &config(), &Known::default())
        .await
        .unwrap();
    assert_eq!(deleted, ["waits-app"]);
    let asked = asked.lock().unwrap().clone();
    let actions: Vec<&str> = asked
        .iter()
        .map(|a| a.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "DescribeInstances",
            "TerminateInstances",
            "DescribeInstances",
            "DescribeInstances"
        ]
    );
}

fn ec2_error(code: &str) -> Answer {
    (
        400,
        vec![("content-type", "text/xml")],
        format!(
            "<Response><Errors><Error><Code>{code}</Code><Message>resource sg-0abc has a dependent object</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
        ),
    )
}

fn group_deleted() -> Answer {
    (
        200,
        vec![("content-type", "text/xml")],
        "<DeleteSecurityGroupResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r-2</requestId><return>true</return></DeleteSecurityGroupResponse>".into(),
    )
}

#[tokio::test(start_paused = true)]
async fn a_group_still_held_by_a_released_interface_is_deleted_once_it_is_free() {
    let (aws, asked) = replay(vec![
        ec2_error("DependencyViolation"),
        ec2_error("DependencyViolation"),
        group_deleted(),
    ]);
    let started = tokio::time::Instant::now();
    assert!(
        crate::aws::sg::delete_group(&aws, "sg-0abc", "waits-alb")
            .await
            .unwrap()
    );
    assert_eq!(asked.lock().unwrap().len(), 3);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(30),
        "waited between tries"
    );
}

#[tokio::test(start_paused = true)]
async fn a_group_held_for_good_fails_after_the_timeout_and_a_missing_one_is_fine() {
    let (aws, asked) = replay((0..100).map(|_| ec2_error("DependencyViolation")).collect());
    let err = crate::aws::sg::delete_group(&aws, "sg-0abc", "waits-alb")
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("deleting the security group waits-alb"),
        "{err:#}"
    );
    let tries = asked.lock().unwrap().len();
    assert!(
        (30..=45).contains(&tries),
        "{tries} tries in 10 minutes, 15 s apart"
    );
    let (aws, _) = replay(vec![ec2_error("InvalidGroup.NotFound")]);
    assert!(
        !crate::aws::sg::delete_group(&aws, "sg-0abc", "waits-alb")
            .await
            .unwrap()
    );
}

/// The ECS service `api` as DescribeServices or UpdateService give it: its deployments as
/// (id, status, running, rollout state).
fn ecs_service(deployments: &[(&str, &str, i32, &str)]) -> serde_json::Value {
    let definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/waits-api:3";
    serde_json::json!({
        "serviceName": "api",
        "status": "ACTIVE",
        "taskDefinition": definition,
        "desiredCount": 2,
        "runningCount": 2,
        "events": [],
        "deployments": deployments.iter().map(|(id, status, running, state)| serde_json::json!({
            "id": id,
            "status": status,
            "taskDefinition": definition,
            "desiredCount": 2,
            "runningCount": running,
            "failedTasks": 0,
            "rolloutState": state,
            "rolloutStateReason": format!("ECS deployment {id} {state}"),
        })).collect::<Vec<_>>(),
    })
}

fn ecs_answer(body: serde_json::Value) -> Answer {
    (
        200,
        vec![("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
}

fn described(deployments: &[(&str, &str, i32, &str)]) -> Answer {
    ecs_answer(serde_json::json!({ "services": [ecs_service(deployments)], "failures": [] }))
}

fn updated(deployments: &[(&str, &str, i32, &str)]) -> Answer {
    ecs_answer(serde_json::json!({ "service": ecs_service(deployments) }))
}

#[tokio::test(start_paused = true)]
async fn restarting_the_ecs_api_starts_a_deployment_of_the_same_revision_and_waits_for_it() {
    let (aws, asked) = replay(vec![
        described(&[("ecs-svc/1", "PRIMARY", 2, "COMPLETED")]),
        updated(&[
            ("ecs-svc/2", "PRIMARY", 0, "IN_PROGRESS"),
            ("ecs-svc/1", "ACTIVE", 2, "COMPLETED"),
        ]),
        described(&[
            ("ecs-svc/2", "PRIMARY", 1, "IN_PROGRESS"),
            ("ecs-svc/1", "ACTIVE", 1, "COMPLETED"),
        ]),
        described(&[("ecs-svc/2", "PRIMARY", 2, "COMPLETED")]),
    ]);
    let revision = crate::commands::deploy::restart_ecs_api(&aws, &config())
        .await
        .unwrap();
    assert_eq!(revision, "waits-api:3");
    assert_eq!(asked.lock().unwrap().len(), 4, "{asked:?}");

    // A deployment the circuit breaker fails: an error with ECS's reason.
    let (aws, _) = replay(vec![
        described(&[("ecs-svc/1", "PRIMARY", 2, "COMPLETED")]),
        updated(&[
            ("ecs-svc/2", "PRIMARY", 0, "IN_PROGRESS"),
            ("ecs-svc/1", "ACTIVE", 2, "COMPLETED"),
        ]),
        described(&[
            ("ecs-svc/2", "PRIMARY", 0, "FAILED"),
            ("ecs-svc/1", "ACTIVE", 2, "COMPLETED"),
        ]),
    ]);
    let err = crate::commands::deploy::restart_ecs_api(&aws, &config())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ECS deployment ecs-svc/2 FAILED"), "{err}");

    // Another deployment taking over is said, not waited out.
    let (aws, _) = replay(vec![
        described(&[("ecs-svc/1", "PRIMARY", 2, "COMPLETED")]),
        updated(&[
            ("ecs-svc/2", "PRIMARY", 0, "IN_PROGRESS"),
            ("ecs-svc/1", "ACTIVE", 2, "COMPLETED"),
        ]),
        described(&[
            ("ecs-svc/3", "PRIMARY", 0, "IN_PROGRESS"),
            ("ecs-svc/2", "ACTIVE", 0, "IN_PROGRESS"),
        ]),
    ]);
    let err = crate::commands::deploy::restart_ecs_api(&aws, &config())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("another deployment"), "{err}");
}
