//! The ECS deploy's building blocks over AWS's answers replayed (`answers`): the emulator runs no
//! tasks, so the waits for a migration task and a service deployment are shown here, with a
//! paused clock that moves on at once through every sleep.

#![allow(clippy::unwrap_used)]

mod answers;
mod migrations;
mod rollouts;

use std::collections::{BTreeMap, BTreeSet};

use answers::*;

use super::register::differences;
use super::task_definitions::TaskDefinition;
use super::*;
use crate::commands::deploy::facts::Facts;
use crate::stack::StackConfig;
use crate::stack::config::STACK_TAG;

/// The account, the release's API image, the database and the stack's secret values.
const ACCOUNT: &str = "123456789012";
const IMAGE: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stk-api@sha256:0b5e8c51f3e2d7a4c9b1e6f0a3d8c2b7e4f1a9d6c3b0e7f4a1d8c5b2e9f6a3d0";
const DATABASE_HOST: &str = "stk-db.c9akciq32xyz.eu-west-1.rds.amazonaws.com";
const MASTER_PASSWORD: &str = "master-password-that-stays-in-ssm";
const APP_PASSWORD: &str = "app-password-that-stays-in-ssm";
const CALLBACK_SECRET: &str = "callback-secret-that-stays-in-ssm-0123456789";

/// A stack on `topology: ecs` with the `ecs:` section's defaults.
fn config() -> StackConfig {
    StackConfig::parse(
        "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\ntopology: ecs\n",
        "test",
    )
    .unwrap()
}

/// What a deploy reads of the stack, its secrets included.
fn facts() -> Facts {
    Facts {
        account: ACCOUNT.into(),
        repositories: [
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stk-api".into(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stk-ocr".into(),
        ],
        address: "203.0.113.50".into(),
        instance: Some("i-0abc".into()),
        database_host: DATABASE_HOST.into(),
        database_port: 5432,
        master_password: MASTER_PASSWORD.to_owned().into(),
        app_password: APP_PASSWORD.to_owned().into(),
        bucket: "stk-receipts-123456789012".into(),
        callback_secret: CALLBACK_SECRET.to_owned().into(),
        grafana_password: "grafana-password".to_owned().into(),
        function: "stk-ocr".into(),
        function_exists: true,
    }
}

/// The inputs for [`IMAGE`] from [`facts`].
fn inputs() -> Inputs {
    Inputs::of(&facts(), IMAGE.into(), ACCOUNT.into(), "eu-west-1".into())
}

/// The API's task definition from [`inputs`].
fn api() -> TaskDefinition {
    api_task_definition(&config(), &inputs()).unwrap()
}

/// The migration's task definition from [`inputs`].
fn migration() -> TaskDefinition {
    migration_task_definition(&config(), &inputs()).unwrap()
}

/// The ARN of the stack's SSM parameter `/stk/<name>`.
fn parameter(name: &str) -> String {
    format!("arn:aws:ssm:eu-west-1:123456789012:parameter/stk/{name}")
}

/// Fails if `text` holds one of the stack's secret values.
fn assert_no_secret_value(text: &str) {
    for secret in [MASTER_PASSWORD, APP_PASSWORD, CALLBACK_SECRET] {
        assert!(!text.contains(secret), "a secret value in {text}");
    }
}

#[test]
fn the_api_task_definition_runs_the_image_by_digest_with_its_secrets_by_arn() {
    let api = api();
    assert_eq!(api.family, "stk-api");
    assert_eq!((api.cpu.as_str(), api.memory.as_str()), ("512", "1024"));
    assert_eq!(
        api.execution_role,
        "arn:aws:iam::123456789012:role/stk-task-execution"
    );
    assert_eq!(
        api.task_role.as_deref(),
        Some("arn:aws:iam::123456789012:role/stk-task")
    );
    let container = &api.container;
    assert_eq!(
        (container.name.as_str(), container.image.as_str()),
        ("api", IMAGE)
    );
    assert_eq!(container.port, Some(8080));
    assert_eq!(
        container.secrets,
        BTreeMap::from([
            (
                "LEDGERLY__DATABASE__URL".to_owned(),
                parameter("api-database-url")
            ),
            (
                "LEDGERLY__OCR__CALLBACK_SECRET".to_owned(),
                parameter("ocr-callback-secret")
            ),
        ])
    );
    let env = |name: &str| container.environment.get(name).map(String::as_str);
    assert_eq!(env("LEDGERLY__DATABASE__MIGRATE"), Some("false"));
    assert_eq!(
        env("LEDGERLY__SERVER__PUBLIC_URL"),
        Some("https://l.example.com")
    );
    assert_eq!(
        env("LEDGERLY__STORAGE__BUCKET"),
        Some("stk-receipts-123456789012")
    );
    assert_eq!(env("LEDGERLY__OCR__DISPATCH"), Some("s3-events"));
    assert_eq!(env("LEDGERLY__SERVER__DRAIN_SECONDS"), Some("2"));
    assert!(container.secrets.keys().all(|k| env(k.as_str()).is_none()));
    assert_eq!(container.log.options["awslogs-group"], "/ledgerly/stk/api");
    assert_eq!(container.log.options["awslogs-stream-prefix"], "api");
    let check = container.health_check.as_ref().unwrap();
    assert_eq!(
        check.command,
        ["CMD", "/usr/local/bin/ledgerly-api", "healthcheck"]
    );
    assert_eq!(container.stop_timeout, Some(30));
    assert_eq!(api.tags.get(STACK_TAG).map(String::as_str), Some("stk"));
    assert_no_secret_value(&format!("{api:?}"));
}

#[test]
fn the_migration_takes_the_owner_s_password_from_ssm_and_not_in_its_url() {
    let migration = migration();
    assert_eq!(migration.family, "stk-migrate");
    assert_eq!(migration.task_role, None, "it calls no AWS API");
    let container = &migration.container;
    assert_eq!(container.image, IMAGE);
    assert_eq!(container.command, ["migrate", "--app-role", "ledgerly_app"]);
    assert_eq!(
        container.environment["LEDGERLY__DATABASE__URL"],
        format!(
            "postgres://ledgerly@{DATABASE_HOST}:5432/ledgerly?sslmode=verify-full&sslrootcert=/etc/ledgerly/rds-ca.pem"
        )
    );
    assert_eq!(
        container.secrets,
        BTreeMap::from([
            (
                "LEDGERLY_APP_ROLE_PASSWORD".to_owned(),
                parameter("db-app-password")
            ),
            ("PGPASSWORD".to_owned(), parameter("db-password")),
        ])
    );
    assert_eq!(container.port, None);
    assert_no_secret_value(&format!("{migration:?}"));
    // The task execution role may read these four parameters and no other.
    let allowed: BTreeSet<String> = [
        "ocr-callback-secret",
        "api-database-url",
        "db-password",
        "db-app-password",
    ]
    .map(parameter)
    .into();
    for definition in [api(), migration] {
        assert!(
            definition
                .container
                .secrets
                .values()
                .all(|arn| allowed.contains(arn))
        );
    }
}

#[test]
fn an_image_not_named_by_digest_is_refused() {
    for image in [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/stk-api:v1.2",
        "@sha256:abc",
    ] {
        let inputs = Inputs {
            image: image.into(),
            ..inputs()
        };
        let err = api_task_definition(&config(), &inputs).unwrap_err();
        assert!(err.to_string().contains("not named by digest"), "{err}");
    }
}

#[test]
fn differences_name_what_changes_a_task_and_only_that() {
    let mut other = api();
    assert!(differences(&api(), &other).is_empty());
    other.container.image = IMAGE.replace("0b5e", "ffff");
    other
        .container
        .environment
        .insert("LEDGERLY__SERVER__DRAIN_SECONDS".into(), "3".into());
    other.tags.insert("team".into(), "ops".into());
    assert_eq!(differences(&api(), &other), ["image", "environment"]);
    other.tags.remove(STACK_TAG);
    assert_eq!(
        differences(&api(), &other),
        ["image", "environment", "stack tag"]
    );
}

#[tokio::test]
async fn an_unchanged_task_definition_is_not_registered_again() {
    let (aws, asked) = replay(vec![
        ("DescribeTaskDefinition", described(&api(), API_7)),
        ("DescribeTaskDefinition", described(&api(), API_7)),
    ]);
    let result = register_if_changed(&aws, &api()).await.unwrap();
    assert_eq!(result, (API_7.to_owned(), false));
    assert_eq!(
        operations(&asked),
        ["DescribeTaskDefinition", "DescribeTaskDefinition"]
    );
}

#[tokio::test]
async fn a_new_image_registers_a_revision_with_no_secret_value_in_it() {
    let mut older = api();
    older.container.image = IMAGE.replace("0b5e", "ffff");
    let (aws, asked) = replay(vec![
        ("DescribeTaskDefinition", described(&older, API_7)),
        ("RegisterTaskDefinition", registered(API_8)),
    ]);
    let result = register_if_changed(&aws, &api()).await.unwrap();
    assert_eq!(result, (API_8.to_owned(), true));
    let asked = asked.lock().unwrap().clone();
    let register = &asked.last().unwrap();
    assert_eq!(register.operation, "RegisterTaskDefinition");
    assert!(
        register.body.contains(&format!("\"image\":\"{IMAGE}\"")),
        "{}",
        register.body
    );
    assert!(
        register.body.contains(&format!(
            "\"valueFrom\":\"{}\"",
            parameter("api-database-url")
        )),
        "{}",
        register.body
    );
    assert_no_secret_value(&register.body);
}

#[tokio::test]
async fn a_family_without_revisions_gets_its_first() {
    let (aws, asked) = replay(vec![
        (
            "DescribeTaskDefinition",
            error("ClientException", "Unable to describe task definition."),
        ),
        ("RegisterTaskDefinition", registered(MIGRATE_3)),
    ]);
    let result = register_if_changed(&aws, &migration()).await.unwrap();
    assert_eq!(result, (MIGRATE_3.to_owned(), true));
    assert_eq!(
        operations(&asked),
        ["DescribeTaskDefinition", "RegisterTaskDefinition"]
    );
}
