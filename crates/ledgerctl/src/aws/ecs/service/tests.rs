use super::*;
use crate::stack::resource::EcsKnown;

const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/stk-api/943f017f100becff";
const DISCOVERY: &str = "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-abc";

fn config() -> StackConfig {
    StackConfig::parse(
        "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
        "test",
    )
    .unwrap()
}

fn known() -> Known {
    Known {
        subnets: ["subnet-0a".to_owned(), "subnet-0b".to_owned()].into(),
        groups: [("stk-tasks".to_owned(), "sg-0tasks".to_owned())].into(),
        ecs: EcsKnown {
            target_group: Some(TARGET_GROUP.into()),
            discovery: Some(DISCOVERY.into()),
            ..EcsKnown::default()
        },
        ..Known::default()
    }
}

fn service(task_definition: Option<&str>) -> Service {
    let config = config();
    let ecs = config.ecs.clone().unwrap();
    Service {
        cluster: "stk".into(),
        family: family(&config),
        task_definition: task_definition.map(str::to_owned),
        desired_count: 2,
        min: 2,
        max: 6,
        subnets: known().ecs_subnets(&ecs).into_iter().collect(),
        group: config.name("tasks"),
        tags: config.tags(),
    }
}

/// The service as provision makes it, as ECS describes it.
fn observed() -> Observed {
    Observed {
        arn: "arn:aws:ecs:eu-west-1:123456789012:service/stk/api".into(),
        status: "ACTIVE".into(),
        desired_count: 3,
        running_count: 3,
        subnets: ["subnet-0b".to_owned(), "subnet-0a".to_owned()].into(),
        security_groups: ["sg-0tasks".to_owned()].into(),
        public_ip: "ENABLED".into(),
        load_balancers: [load_balancer_shown(TARGET_GROUP, "api", 8080)].into(),
        registries: [DISCOVERY.to_owned()].into(),
        deployment: Some(deployment_shown(Some(100), Some(200), Some((true, true)))),
        grace_period: Some(30),
        tags: config().tags(),
    }
}

fn change(field: &str, from: &str, to: &str) -> (String, String, String) {
    (field.to_owned(), from.to_owned(), to.to_owned())
}

fn fields(change: Change) -> Vec<(String, String, String)> {
    match change {
        Change::Update { fields } => fields
            .into_iter()
            .map(|f| (f.field, f.from, f.to))
            .collect(),
        other => panic!("expected an update, got {other:?}"),
    }
}

#[test]
fn names_are_the_stack_s() {
    let config = config();
    assert_eq!(family(&config), "stk-api");
    assert_eq!(service(None).name(), "stk/api");
}

#[test]
fn without_a_task_definition_a_missing_service_waits() {
    let waiting = service(None).diff(None, &known());
    assert_eq!(
        waiting,
        Change::Waiting {
            reason: "no task definition stk-api yet; `ledgerctl deploy` registers one and creates the service".into()
        }
    );
    let mut known = known();
    service(None).learn(None, &mut known);
    assert!(known.ecs.service_waits);
    service(None).learn(Some(&observed()), &mut known);
    assert!(
        !known.ecs.service_waits,
        "an existing service does not wait"
    );
}

#[test]
fn a_deleted_service_counts_as_missing() {
    let revision = "arn:aws:ecs:eu-west-1:123456789012:task-definition/stk-api:3";
    for status in ["INACTIVE", "DRAINING"] {
        let gone = Observed {
            status: status.into(),
            ..observed()
        };
        assert_eq!(
            service(Some(revision)).diff(Some(&gone), &known()),
            Change::Create
        );
        assert_eq!(Service::unhealthy(&gone), Some(status.to_lowercase()));
    }
}

#[test]
fn a_service_as_made_is_unchanged_whatever_its_count_and_task_definition() {
    assert_eq!(
        service(None).diff(Some(&observed()), &known()),
        Change::Unchanged
    );
    // moto leaves the deployment configuration and the grace period out.
    let sparse = Observed {
        deployment: None,
        grace_period: None,
        ..observed()
    };
    assert_eq!(
        service(None).diff(Some(&sparse), &known()),
        Change::Unchanged
    );
}

#[test]
fn drift_shows_field_by_field() {
    let drifted = Observed {
        desired_count: 9,
        subnets: ["subnet-0a".to_owned()].into(),
        security_groups: ["sg-0tasks".to_owned(), "sg-0other".to_owned()].into(),
        public_ip: "DISABLED".into(),
        registries: BTreeSet::new(),
        deployment: Some(deployment_shown(Some(50), Some(200), None)),
        grace_period: Some(0),
        tags: BTreeMap::new(),
        ..observed()
    };
    let changes = fields(service(None).diff(Some(&drifted), &known()));
    let names: Vec<&str> = changes.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            "subnets",
            "security_groups",
            "assign_public_ip",
            "service_registries",
            "deployment",
            "health_check_grace_period",
            "desired_count",
            "tags.ledgerly:stack"
        ]
    );
    let field = |name: &str| changes.iter().find(|(f, _, _)| f == name).cloned().unwrap();
    assert_eq!(
        field("security_groups"),
        change("security_groups", "sg-0other, stk-tasks", "stk-tasks")
    );
    assert_eq!(field("desired_count"), change("desired_count", "9", "6"));
    assert_eq!(
        field("deployment").1,
        "minimum healthy 50 %, maximum 200 %, no circuit breaker"
    );
    let low = Observed {
        desired_count: 0,
        ..observed()
    };
    assert_eq!(
        fields(service(None).diff(Some(&low), &known())),
        [change("desired_count", "0", "2")]
    );
}

#[test]
fn the_load_balancer_is_the_target_group_on_the_api_port() {
    let elsewhere = Observed {
        load_balancers: [load_balancer_shown(TARGET_GROUP, "api", 80)].into(),
        ..observed()
    };
    assert_eq!(
        fields(service(None).diff(Some(&elsewhere), &known())),
        [change(
            "load_balancers",
            &format!("{TARGET_GROUP} → api:80"),
            &format!("{TARGET_GROUP} → api:8080")
        )]
    );
}

#[test]
fn fewer_running_tasks_than_wanted_is_unhealthy() {
    let short = Observed {
        running_count: 1,
        desired_count: 2,
        ..observed()
    };
    assert_eq!(
        Service::unhealthy(&short).as_deref(),
        Some("running 1 of 2")
    );
    assert_eq!(Service::unhealthy(&observed()), None);
}
