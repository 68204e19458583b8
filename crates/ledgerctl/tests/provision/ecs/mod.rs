//! `topology: ecs` against the emulator: from zero (the service waits for deploy's first task
//! definition), again with no mutating call, after drift, after an interruption at every
//! mutating step, destroyed beside another ECS stack, and a running stack's topology switch
//! refused. With a hosted zone, the domain's alias to the load balancer (`dns`).

mod access_logs;
mod assertions;
mod dns;
mod fixtures;
mod operate;
mod private_paths;

use serde_json::Value;

use crate::assertions::assert_provisioned;
use crate::fixtures::*;
use access_logs::*;
use assertions::*;
use fixtures::*;
use private_paths::{assert_people_s_rule_left, drift_private_paths};

#[tokio::test]
async fn an_ecs_stack_is_provisioned_from_zero_and_a_second_run_changes_nothing() {
    let stack = Stack::ecs("ecs");
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    let created = kinds_of(&plan, "create");
    for kind in ECS_KINDS {
        assert!(created.iter().any(|k| k == kind), "{kind}: {plan}");
    }
    let waiting = kinds_of(&plan, "waiting");
    for kind in SERVICE_KINDS {
        assert!(waiting.iter().any(|k| k == kind), "{kind} waits: {plan}");
    }
    assert!(
        plan.to_string()
            .contains("`ledgerctl deploy` registers one"),
        "the service says what it waits for: {plan}"
    );

    let first = stack.provision();
    assert!(first["calls"]["mutating"].as_u64().unwrap() > 0);
    assert_ecs(&stack, false).await;
    assert_provisioned(&stack, false).await;
    let second = stack.provision();
    assert_eq!(second["calls"]["mutating"], 0, "{second}");

    // Deploy's first task definition: the service and its scaling follow.
    let task_definition = stack.register_task_definition().await;
    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let created = kinds_of(&plan, "create");
    for kind in SERVICE_KINDS {
        assert!(created.iter().any(|k| k == kind), "{kind}: {plan}");
    }
    stack.provision();
    assert_ecs(&stack, true).await;
    let service = service(&stack).await;
    assert_eq!(service.task_definition(), Some(task_definition.as_str()));
    assert_eq!(service.desired_count(), 2);
    assert_eq!(
        policy_names(&stack).await,
        [
            format!("{}-cpu", stack.name),
            format!("{}-requests", stack.name)
        ]
    );
    let again = stack.provision();
    assert_eq!(again["calls"]["mutating"], 0, "{again}");
    assert_settled(&stack);
}

#[tokio::test]
async fn drift_in_an_ecs_stack_shows_in_plan_and_provision_puts_it_right() {
    let stack = Stack::ecs("ecsdrift");
    stack.provision();
    stack.register_task_definition().await;
    stack.provision();
    let elb = elb().await;
    let target_group = target_group(&stack).await;
    let arn = target_group.target_group_arn().unwrap();
    elb.modify_target_group()
        .target_group_arn(arn)
        .health_check_path("/")
        .send()
        .await
        .unwrap();
    aws_sdk_cloudwatchlogs::Client::new(&aws().await)
        .put_retention_policy()
        .log_group_name(format!("/ledgerly/{}/api", stack.name))
        .retention_in_days(3)
        .send()
        .await
        .unwrap();
    let groups = group_ids(&stack).await;
    aws_sdk_ec2::Client::new(&aws().await)
        .authorize_security_group_ingress()
        .group_id(&groups["tasks"])
        .ip_protocol("tcp")
        .from_port(8080)
        .to_port(8080)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    aws_sdk_applicationautoscaling::Client::new(&aws().await)
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(format!("service/{}/api", stack.name))
        .scalable_dimension(
            aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
        )
        .min_capacity(1)
        .max_capacity(20)
        .send()
        .await
        .unwrap();
    let balancer = elb
        .describe_load_balancers()
        .names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    let balancer = balancer.load_balancers()[0].load_balancer_arn().unwrap();
    drift_access_logs(&stack, balancer).await;
    drift_private_paths(&stack).await;

    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let changes = plan["changes"].to_string();
    for expected in [
        r#""kind":"target group""#,
        r#""kind":"log group""#,
        r#""kind":"security group""#,
        r#""kind":"scalable target""#,
        r#""kind":"listener rule""#,
        r#""field":"priority_1.action""#,
        "/readyz",
        "tcp/8080 from 0.0.0.0/0",
        r#""kind":"s3 log bucket""#,
        r#""field":"expire_days","from":"(none)","to":"7""#,
        r#""field":"attributes.access_logs.s3.enabled","from":"false","to":"true""#,
    ] {
        assert!(changes.contains(expected), "{expected}: {changes}");
    }
    stack.provision();
    assert_settled(&stack);
    assert_ecs(&stack, true).await;
    assert_people_s_rule_left(&stack).await;

    // Dropping a scaling policy from the stack file deletes it.
    stack.write(&ECS.replace(", requests_per_target: 500", ""));
    let (code, plan) = stack.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan["changes"].to_string().contains("requests"), "{plan}");
    stack.provision();
    assert_settled(&stack);
    assert_eq!(policy_names(&stack).await, [format!("{}-cpu", stack.name)]);
}

#[tokio::test]
async fn an_ecs_provision_interrupted_at_any_mutating_step_converges_when_run_again() {
    // The instance part is the other test's: here each stack starts provisioned as an instance
    // stack that never deployed (so it may change topology), and is cut on the way to ECS.
    let fresh = || async {
        let stack = Stack::new("ecscut");
        stack.provision();
        stack.write(ECS);
        stack.register_task_definition().await;
        stack
    };
    let probe = fresh().await;
    let total = probe.provision()["calls"]["mutating"].as_u64().unwrap() as usize;
    assert!(total >= 20, "{total}");
    for n in 1..=total {
        let stack = fresh().await;
        let cut = stack.ledgerctl(&["provision", "--auto-approve"], Some(n));
        assert!(
            !cut.status.success(),
            "step {n} was not interrupted: {cut:?}"
        );
        let rerun = stack.provision();
        let again = stack.provision();
        assert_eq!(
            again["calls"]["mutating"], 0,
            "step {n}: not converged: {rerun} then {again}"
        );
        assert_ecs(&stack, true).await;
    }
}

#[tokio::test]
async fn destroy_removes_an_ecs_stack_and_leaves_the_one_beside_it() {
    let doomed = Stack::named("ecsdoomed");
    doomed.write(&format!("{ECS}database:\n  deletion_protection: false\n"));
    let kept = Stack::ecs("ecskept");
    for stack in [&doomed, &kept] {
        stack.provision();
        stack.register_task_definition().await;
        stack.provision();
    }
    // Logs in the bucket do not stop destroy: they go with it.
    put_log_file(&doomed).await;
    let output = doomed.ledgerctl(&["destroy", "--yes", "--output", "json"], None);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let deleted = report["deleted"].to_string();
    for what in [
        "ecs service",
        "load balancer",
        "ecs cluster",
        "acm certificate",
        "s3 log bucket",
        "listener rule",
    ] {
        assert!(deleted.contains(what), "{what}: {report}");
    }
    crate::assertions::assert_nothing_left(&doomed).await;
    assert_no_ecs_left(&doomed).await;
    assert_ecs(&kept, true).await;
    assert_settled(&kept);
}

#[tokio::test]
async fn a_running_stack_does_not_switch_topology() {
    // An ECS stack: its cluster says so.
    let stack = Stack::ecs("ecsswitch");
    stack.provision();
    stack.write("");
    let refused = stack.ledgerctl(&["plan"], None);
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("runs with `topology: ecs` but the stack file says `topology: instance`")
            && text.contains("docs/scale-out.md"),
        "{text}"
    );

    // An instance stack that has deployed: its releases say so.
    let instance = Stack::new("instswitch");
    instance.provision();
    aws_sdk_ssm::Client::new(&aws().await)
        .put_parameter()
        .name(format!("/{}/releases", instance.name))
        .value("[]")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    instance.write(ECS);
    let refused = instance.ledgerctl(&["provision", "--auto-approve"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("runs with `topology: instance`"),
        "{refused:?}"
    );
    let cluster = ecs()
        .await
        .describe_clusters()
        .clusters(&instance.name)
        .send()
        .await
        .unwrap();
    assert!(
        cluster
            .clusters()
            .iter()
            .all(|c| c.status() != Some("ACTIVE")),
        "nothing was made: {cluster:?}"
    );
}
