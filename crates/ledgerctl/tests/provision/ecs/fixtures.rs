//! The ECS test stacks and readers of what the emulator holds of them.

use serde_json::Value;

use crate::fixtures::*;

/// Both scaling policies, a fixed task range, a short log retention and access logs kept a week.
pub(super) const ECS: &str = "topology: ecs\necs:\n  tasks: {desired: 2, min: 2, max: 4}\n  scaling: {cpu_percent: 60, requests_per_target: 500}\n  log_retention_days: 14\n  access_log_days: 7\n";

impl Stack {
    pub(super) fn ecs(prefix: &str) -> Stack {
        let stack = Stack::named(prefix);
        stack.write(ECS);
        stack
    }

    /// What `ledgerctl deploy` registers before it creates the service: the API's task
    /// definition. Its ARN.
    pub(super) async fn register_task_definition(&self) -> String {
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

pub(super) async fn ecs() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&aws().await)
}

pub(super) async fn elb() -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&aws().await)
}

/// The kinds only the ECS topology has, as plan names them (the Cloud Map namespace is shared
/// by the VPC's stacks: another test may have made it).
pub(super) const ECS_KINDS: &[&str] = &[
    "ecs cluster",
    "log group",
    "acm certificate",
    "s3 log bucket",
    "load balancer",
    "target group",
    "listener",
    "cloud map service",
];

/// The kinds that wait for deploy's first task definition.
pub(super) const SERVICE_KINDS: &[&str] = &["ecs service", "scalable target", "scaling policy"];

/// Plan finds nothing to do but wait for the OCR image (these stacks never push one).
pub(super) fn assert_settled(stack: &Stack) {
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

pub(super) fn kinds_of(report: &Value, action: &str) -> Vec<String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn service(stack: &Stack) -> aws_sdk_ecs::types::Service {
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

pub(super) async fn target_group(
    stack: &Stack,
) -> aws_sdk_elasticloadbalancingv2::types::TargetGroup {
    let reply = elb()
        .await
        .describe_target_groups()
        .names(format!("{}-api", stack.name))
        .send()
        .await
        .unwrap();
    reply.target_groups()[0].clone()
}

pub(super) async fn policy_names(stack: &Stack) -> Vec<String> {
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
