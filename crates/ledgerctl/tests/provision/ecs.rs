//! `topology: ecs` against the emulator: from zero (the service waits for deploy's first task
//! definition), again with no mutating call, after drift, after an interruption at every
//! mutating step, destroyed beside another ECS stack, and a running stack's topology switch
//! refused.

use serde_json::Value;

use crate::assertions::assert_provisioned;
use crate::fixtures::*;

/// Both scaling policies, a fixed task range and a short log retention.
const ECS: &str = "topology: ecs\necs:\n  tasks: {desired: 2, min: 2, max: 4}\n  scaling: {cpu_percent: 60, requests_per_target: 500}\n  log_retention_days: 14\n";

impl Stack {
    fn ecs(prefix: &str) -> Stack {
        let stack = Stack::named(prefix);
        stack.write(ECS);
        stack
    }

    /// What `ledgerctl deploy` registers before it creates the service: the API's task
    /// definition. Its ARN.
    async fn register_task_definition(&self) -> String {
        use aws_sdk_ecs::types::{
            Compatibility, ContainerDefinition, NetworkMode, PortMapping, Tag,
        };
        let account = "123456789012";
        let registered = ecs()
            .await
            .register_task_definition()
            .family(format!("{}-api", self.name))
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("512")
            .memory("1024")
            .tags(
                Tag::builder()
                    .key("ledgerly:stack")
                    .value(&self.name)
                    .build(),
            )
            .execution_role_arn(format!(
                "arn:aws:iam::{account}:role/{}-task-execution",
                self.name
            ))
            .task_role_arn(format!("arn:aws:iam::{account}:role/{}-task", self.name))
            .container_definitions(
                ContainerDefinition::builder()
                    .name("api")
                    .image(format!(
                        "{account}.dkr.ecr.us-east-1.amazonaws.com/{}-api@sha256:{}",
                        self.name,
                        "ab".repeat(32)
                    ))
                    .essential(true)
                    .port_mappings(PortMapping::builder().container_port(8080).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        registered
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_owned()
    }
}

async fn ecs() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&aws().await)
}

async fn elb() -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&aws().await)
}

/// The kinds only the ECS topology has, as plan names them (the Cloud Map namespace is shared
/// by the VPC's stacks: another test may have made it).
const ECS_KINDS: &[&str] = &[
    "ecs cluster",
    "log group",
    "acm certificate",
    "load balancer",
    "target group",
    "listener",
    "cloud map service",
];

/// The kinds that wait for deploy's first task definition.
const SERVICE_KINDS: &[&str] = &["ecs service", "scalable target", "scaling policy"];

/// Plan finds nothing to do but wait for the OCR image (these stacks never push one).
fn assert_settled(stack: &Stack) {
    let (_, plan) = stack.plan();
    let left: Vec<String> = actions(&plan)
        .into_iter()
        .filter(|a| !a.starts_with("waiting "))
        .collect();
    assert!(left.is_empty(), "{left:#?}");
    let waiting = kinds_of(&plan, "waiting");
    assert!(
        waiting.iter().all(
            |k| ["lambda function", "lambda permission", "s3 notification"].contains(&k.as_str())
        ),
        "{waiting:?}"
    );
}

fn kinds_of(report: &Value, action: &str) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect()
}

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

    let (code, plan) = stack.plan();
    assert_eq!(code, 2);
    let changes = plan["changes"].to_string();
    for expected in [
        r#""kind":"target group""#,
        r#""kind":"log group""#,
        r#""kind":"security group""#,
        r#""kind":"scalable target""#,
        "/readyz",
        "tcp/8080 from 0.0.0.0/0",
    ] {
        assert!(changes.contains(expected), "{expected}: {changes}");
    }
    stack.provision();
    assert_settled(&stack);
    assert_ecs(&stack, true).await;

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
        let cut = stack.ledgerctl(&["provision"], Some(n));
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
    let output = doomed.ledgerctl(&["destroy", "--yes", "--output", "json"], None);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let deleted = report["deleted"].to_string();
    for what in [
        "ecs service",
        "load balancer",
        "ecs cluster",
        "acm certificate",
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
    let refused = instance.ledgerctl(&["provision"], None);
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

async fn service(stack: &Stack) -> aws_sdk_ecs::types::Service {
    let reply = ecs()
        .await
        .describe_services()
        .cluster(&stack.name)
        .services("api")
        .send()
        .await
        .unwrap();
    reply.services()[0].clone()
}

async fn target_group(stack: &Stack) -> aws_sdk_elasticloadbalancingv2::types::TargetGroup {
    let reply = elb()
        .await
        .describe_target_groups()
        .names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    reply.target_groups()[0].clone()
}

async fn policy_names(stack: &Stack) -> Vec<String> {
    let mut names: Vec<String> = aws_sdk_applicationautoscaling::Client::new(&aws().await)
        .describe_scaling_policies()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_id(format!("service/{}/api", stack.name))
        .send()
        .await
        .unwrap()
        .scaling_policies()
        .iter()
        .map(|p| p.policy_name().to_owned())
        .collect();
    names.sort();
    names
}

/// Every ECS property the stack file asks for, read back through the SDK; the service and its
/// scaling too when `service` (after the first task definition).
async fn assert_ecs(stack: &Stack, with_service: bool) {
    let name = &stack.name;
    let config = aws().await;
    let ecs = ecs().await;
    let clusters = ecs
        .describe_clusters()
        .clusters(name)
        .include(aws_sdk_ecs::types::ClusterField::Tags)
        .send()
        .await
        .unwrap();
    let cluster = &clusters.clusters()[0];
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert!(
        cluster
            .tags()
            .iter()
            .any(|t| t.key() == Some("ledgerly:stack") && t.value() == Some(name.as_str()))
    );

    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/ledgerly/{name}/api");
    let found = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    let log_group = found
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()))
        .unwrap();
    assert_eq!(log_group.retention_in_days(), Some(14));

    let iam = aws_sdk_iam::Client::new(&config);
    for role in ["task-execution", "task"] {
        let role = format!("{name}-{role}");
        let got = iam.get_role().role_name(&role).send().await.unwrap();
        let trust = iam_document(got.role().unwrap().assume_role_policy_document().unwrap());
        assert_eq!(
            trust["Statement"][0]["Principal"]["Service"], "ecs-tasks.amazonaws.com",
            "{role}"
        );
        let policy = iam
            .get_role_policy()
            .role_name(&role)
            .policy_name(&role)
            .send()
            .await
            .unwrap();
        let policy = iam_document(policy.policy_document());
        for statement in policy["Statement"].as_array().unwrap() {
            let actions = statement["Action"].to_string();
            assert!(
                !actions.contains('*'),
                "no wildcard action in {role}: {policy}"
            );
        }
    }

    let groups = group_ids(stack).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let rules = |id: &str| {
        let ec2 = ec2.clone();
        let id = id.to_owned();
        async move {
            let reply = ec2
                .describe_security_groups()
                .group_ids(id)
                .send()
                .await
                .unwrap();
            reply.security_groups()[0].ip_permissions().to_vec()
        }
    };
    let tasks = rules(&groups["tasks"]).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].from_port(), Some(8080));
    assert_eq!(
        tasks[0].user_id_group_pairs()[0].group_id(),
        Some(groups["alb"].as_str()),
        "the tasks are reached from the load balancer only"
    );
    let sources: Vec<String> = rules(&groups["db"])
        .await
        .iter()
        .flat_map(|p| p.user_id_group_pairs().to_vec())
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect();
    assert!(
        sources.contains(&groups["tasks"]) && sources.contains(&groups["web"]),
        "the database is open to the tasks and the instance: {sources:?}"
    );

    let elb = elb().await;
    let balancers = elb
        .describe_load_balancers()
        .names(format!("{name}-api"))
        .send()
        .await
        .unwrap();
    let balancer = &balancers.load_balancers()[0];
    assert_eq!(
        balancer.scheme(),
        Some(&aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::InternetFacing)
    );
    assert!(balancer.availability_zones().len() >= 2);
    assert_eq!(balancer.security_groups(), [groups["alb"].clone()]);
    let target_group = target_group(stack).await;
    assert_eq!(target_group.port(), Some(8080));
    assert_eq!(target_group.health_check_path(), Some("/readyz"));
    assert_eq!(
        target_group.target_type(),
        Some(&aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
    );
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(balancer.load_balancer_arn().unwrap())
        .send()
        .await
        .unwrap();
    let mut ports: Vec<i32> = listeners
        .listeners()
        .iter()
        .filter_map(|l| l.port())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, [80, 443]);
    for listener in listeners.listeners() {
        let action = &listener.default_actions()[0];
        if listener.port() == Some(80) {
            let redirect = action.redirect_config().unwrap();
            assert_eq!(redirect.protocol(), Some("HTTPS"));
        } else {
            assert_eq!(action.target_group_arn(), target_group.target_group_arn());
            let certificate = listener.certificates()[0].certificate_arn().unwrap();
            let described = aws_sdk_acm::Client::new(&config)
                .describe_certificate()
                .certificate_arn(certificate)
                .send()
                .await
                .unwrap();
            let described = described.certificate().unwrap();
            assert_eq!(described.domain_name(), Some("ledgerly.example.com"));
            assert_eq!(
                described.status(),
                Some(&aws_sdk_acm::types::CertificateStatus::Issued)
            );
        }
    }

    let discovery = aws_sdk_servicediscovery::Client::new(&config);
    let namespaces = discovery.list_namespaces().send().await.unwrap();
    let namespace = namespaces
        .namespaces()
        .iter()
        .find(|n| n.name() == Some("ledgerly.internal"))
        .expect("the Cloud Map namespace");
    let services = discovery
        .list_services()
        .filters(
            aws_sdk_servicediscovery::types::ServiceFilter::builder()
                .name(aws_sdk_servicediscovery::types::ServiceFilterName::NamespaceId)
                .values(namespace.id().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let api = format!("{name}-api");
    assert!(
        services
            .services()
            .iter()
            .any(|s| s.name() == Some(api.as_str())),
        "{services:?}"
    );

    if !with_service {
        return;
    }
    let service = service(stack).await;
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(
        service.launch_type(),
        Some(&aws_sdk_ecs::types::LaunchType::Fargate)
    );
    assert_eq!(
        service.load_balancers()[0].target_group_arn(),
        target_group.target_group_arn()
    );
    assert_eq!(service.service_registries().len(), 1);
    let network = service
        .network_configuration()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(network.security_groups(), [groups["tasks"].clone()]);
    let targets = aws_sdk_applicationautoscaling::Client::new(&config)
        .describe_scalable_targets()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .resource_ids(format!("service/{name}/api"))
        .send()
        .await
        .unwrap();
    let target = &targets.scalable_targets()[0];
    assert_eq!((target.min_capacity(), target.max_capacity()), (2, 4));
    let policies = policy_names(stack).await;
    assert!(policies.contains(&format!("{name}-cpu")), "{policies:?}");
}

/// Nothing of the ECS topology is left.
async fn assert_no_ecs_left(stack: &Stack) {
    let name = &stack.name;
    let clusters = ecs()
        .await
        .describe_clusters()
        .clusters(name)
        .send()
        .await
        .unwrap();
    assert!(
        clusters
            .clusters()
            .iter()
            .all(|c| c.status() != Some("ACTIVE")),
        "{clusters:?}"
    );
    let elb = elb().await;
    let read = elb.describe_load_balancers().names(format!("{name}-api"));
    assert_absent("the load balancer", read.send()).await;
    let read = elb.describe_target_groups().names(format!("{name}-api"));
    assert_absent("the target group", read.send()).await;
    let iam = aws_sdk_iam::Client::new(&aws().await);
    for role in ["task-execution", "task"] {
        let role = format!("{name}-{role}");
        assert_absent(&role, iam.get_role().role_name(&role).send()).await;
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws().await)
        .describe_log_groups()
        .log_group_name_prefix(format!("/ledgerly/{name}/"))
        .send()
        .await
        .unwrap();
    assert!(logs.log_groups().is_empty(), "{logs:?}");
    let services = aws_sdk_servicediscovery::Client::new(&aws().await)
        .list_services()
        .send()
        .await
        .unwrap();
    let api = format!("{name}-api");
    assert!(
        services
            .services()
            .iter()
            .all(|s| s.name() != Some(api.as_str())),
        "the stack's Cloud Map service is gone (the namespace is shared): {services:?}"
    );
}
