//! What a provisioned or destroyed ECS stack must look like in the emulator.

use super::access_logs::{assert_access_logs, assert_no_access_logs_left};
use super::fixtures::*;
use crate::fixtures::*;

/// Every ECS property the stack file asks for, read back through the SDK; the service and its
/// scaling too when `with_service` (after the first task definition).
pub(super) async fn assert_ecs(stack: &Stack, with_service: bool) {
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
    let mut task_sources: Vec<(Option<i32>, Option<i32>, String)> = tasks
        .iter()
        .flat_map(|p| {
            p.user_id_group_pairs().iter().map(|g| {
                (
                    p.from_port(),
                    p.to_port(),
                    g.group_id().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    task_sources.sort();
    let mut expected = vec![
        (Some(8080), Some(8080), groups["alb"].clone()),
        (Some(8080), Some(8080), groups["web"].clone()),
    ];
    expected.sort();
    assert_eq!(
        task_sources, expected,
        "the tasks' port, from the load balancer and the ops instance's Prometheus alone: {tasks:?}"
    );
    assert!(
        tasks
            .iter()
            .all(|p| p.ip_ranges().is_empty() && p.ipv6_ranges().is_empty()),
        "no address range reaches the tasks: {tasks:?}"
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
    assert_access_logs(stack, balancer.load_balancer_arn().unwrap()).await;
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
    super::private_paths::assert_private_paths(stack, false).await;

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
pub(super) async fn assert_no_ecs_left(stack: &Stack) {
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
    assert_no_access_logs_left(stack).await;
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
