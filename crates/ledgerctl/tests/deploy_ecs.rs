//! `ledgerctl deploy` on an ECS stack against the AWS emulator, as far as the emulator goes: the
//! images built and pushed (the API's with the RDS certificate bundle in it), the OCR Lambda
//! created from its image, the API's database URL kept in its SecureString, the API's and the
//! migration's task definitions registered with the images by digest and the secrets by SSM
//! reference — then the migration task, which the emulator cannot start for Fargate (`RunTask`
//! answers 500), stops the deploy with a clear error and nothing of the service changed, no
//! release recorded. A second deploy registers nothing new. What follows the migration (the
//! service rolled out and waited for) is unit-tested over AWS's answers replayed
//! (`src/commands/deploy/ecs/tests`).

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

mod common;
use common::{FileServer, Stack, aws, binaries, env};

const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv/CF3n/Zh4krGgK3oPryYuj+LfPTno1LSseU9H85hy ledgerly-test";
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

fn ecs_stack(bundle_url: &str) -> Stack {
    let stack = Stack::named("dpe");
    std::fs::write(stack.path("id_ed25519.pub"), format!("{PUBLIC_KEY}\n")).unwrap();
    std::fs::write(
        stack.path("ledgerly.yaml"),
        format!(
            "stack: {name}\nregion: us-east-1\ndomain: {name}.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    public_key_file: {key}\n  ami_parameter: {AMI_PARAMETER}\nocr:\n  backend: gemini\n  api_key_parameter: /{name}/gemini-key\ndatabase:\n  ca_bundle_url: {bundle_url}\ntopology: ecs\necs:\n  tasks: {{desired: 1, min: 1, max: 2}}\n",
            name = stack.name,
            key = stack.path("id_ed25519.pub").display(),
        ),
    )
    .unwrap();
    stack
}

fn ledgerctl(stack: &Stack, args: &[&str]) -> Output {
    stack
        .ledgerctl_command(args)
        .env("RUST_LOG", "warn")
        .env("LEDGERCTL_REGISTRY", env("LEDGERLY_TEST_REGISTRY"))
        .output()
        .unwrap()
}

/// The newest revision of the task definition family `family`.
async fn newest(family: &str) -> aws_sdk_ecs::types::TaskDefinition {
    aws_sdk_ecs::Client::new(&aws().await)
        .describe_task_definition()
        .task_definition(family)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{family} was never registered: {e:?}"))
        .task_definition
        .unwrap()
}

/// Removes the images the test pulled when it ends.
struct PulledImages(Vec<String>);

impl Drop for PulledImages {
    fn drop(&mut self) {
        for image in &self.0 {
            Command::new("docker")
                .args(["rmi", "-f", image])
                .output()
                .ok();
        }
    }
}

/// The file `path` in `image`, read by copying it out of a container that never runs.
fn file_in_image(image: &str, path: &str) -> String {
    let docker = |args: &[&str]| {
        let output = Command::new("docker").args(args).output().unwrap();
        assert!(output.status.success(), "docker {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    docker(&["pull", "-q", image]);
    let container = docker(&["create", image]).trim().to_owned();
    let out = tempfile::tempdir().unwrap();
    let copied = out.path().join("file");
    let copy = Command::new("docker")
        .args(["cp", &format!("{container}:{path}")])
        .arg(&copied)
        .output()
        .unwrap();
    docker(&["rm", "-f", &container]);
    assert!(copy.status.success(), "{path} is not in {image}: {copy:?}");
    std::fs::read_to_string(copied).unwrap()
}

#[tokio::test]
async fn an_ecs_deploy_registers_its_task_definitions_and_stops_at_a_migration_that_cannot_start() {
    let bundle = std::fs::read_to_string(env("LEDGERLY_TEST_PG_CA")).unwrap();
    let bundles = FileServer::start(bundle.clone());
    let stack = ecs_stack(&bundles.url);
    let name = stack.name.clone();
    let config = aws().await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    ssm.put_parameter()
        .name(format!("/{name}/gemini-key"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value("test-gemini-key")
        .send()
        .await
        .unwrap();
    let provisioned = ledgerctl(&stack, &["provision", "--auto-approve", "--output", "json"]);
    assert!(provisioned.status.success(), "{provisioned:?}");

    // No SSH anywhere: no engine address, no key given, and the monitoring left alone.
    let bin = binaries().display().to_string();
    let deploy = || ledgerctl(&stack, &["deploy", "--binaries", &bin, "--skip-monitoring"]);
    let first = deploy();
    assert!(!first.status.success(), "{first:?}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains(&format!("starting the migration task {name}-migrate:1")),
        "the emulator's refusal of RunTask is named: {stderr}"
    );

    // The images in the registry standing in for ECR, and the OCR function on its digest.
    let repositories = aws_sdk_ecr::Client::new(&config)
        .describe_repositories()
        .repository_names(format!("{name}-api"))
        .send()
        .await
        .unwrap();
    let api_repository = repositories.repositories()[0]
        .repository_uri()
        .unwrap()
        .to_owned();
    let function = aws_sdk_lambda::Client::new(&config)
        .get_function()
        .function_name(format!("{name}-ocr"))
        .send()
        .await
        .unwrap();
    let ocr_image = function.code().unwrap().image_uri().unwrap();
    assert!(
        ocr_image.contains(&format!("{name}-ocr@sha256:")),
        "{ocr_image}"
    );

    // The database URL in its SecureString: the application role over verified TLS.
    let url = common::stack_parameter(&name, "api-database-url").await;
    assert_eq!(
        url.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    let url = url.value().unwrap();
    assert!(url.starts_with("postgres://ledgerly_app:"), "{url}");
    assert!(
        url.ends_with("/ledgerly?sslmode=verify-full&sslrootcert=/etc/ledgerly/rds-ca.pem"),
        "{url}"
    );

    // The API's task definition: the pushed image by digest, secrets by reference only.
    let api = newest(&format!("{name}-api")).await;
    assert_eq!(api.revision(), 1);
    let container = &api.container_definitions()[0];
    let image = container.image().unwrap();
    assert!(
        image.starts_with(&format!("{api_repository}@sha256:")),
        "{image}"
    );
    let secrets: Vec<(&str, &str)> = container
        .secrets()
        .iter()
        .map(|s| (s.name(), s.value_from()))
        .collect();
    assert!(
        secrets
            .iter()
            .any(|(variable, from)| *variable == "LEDGERLY__DATABASE__URL"
                && from.ends_with(&format!("parameter/{name}/api-database-url"))),
        "{secrets:?}"
    );
    let callback = common::stack_parameter(&name, "ocr-callback-secret")
        .await
        .value
        .unwrap();
    let environment = format!("{:?}", container.environment());
    assert!(
        !environment.contains(&callback) && !environment.contains(url),
        "no secret value in the task definition: {environment}"
    );
    let logs = container.log_configuration().unwrap();
    assert_eq!(
        logs.options().unwrap()["awslogs-group"],
        format!("/ledgerly/{name}/api")
    );
    // The migration's: the same image, the migration command.
    let migration = newest(&format!("{name}-migrate")).await;
    let migrate = &migration.container_definitions()[0];
    assert_eq!(migrate.image(), Some(image));
    assert_eq!(migrate.command()[0], "migrate", "{:?}", migrate.command());

    // The API image carries the RDS certificate bundle the URL names (a task has no file
    // mounted), pulled from the registry standing in for ECR.
    let digest = image.split_once('@').unwrap().1;
    let pulled = format!("{}/{name}-api@{digest}", env("LEDGERLY_TEST_REGISTRY"));
    let _pulled = PulledImages(vec![pulled.clone()]);
    assert_eq!(file_in_image(&pulled, "/etc/ledgerly/rds-ca.pem"), bundle);

    // Nothing of the service changed, no release recorded.
    let services = aws_sdk_ecs::Client::new(&config)
        .describe_services()
        .cluster(&name)
        .services("api")
        .send()
        .await
        .unwrap();
    assert!(
        services
            .services()
            .iter()
            .all(|s| s.status() != Some("ACTIVE")),
        "the service was not created: {services:?}"
    );
    common::assert_absent(
        "the release record",
        ssm.get_parameter().name(format!("/{name}/releases")).send(),
    )
    .await;

    // The same release again: nothing new is registered.
    let second = deploy();
    assert!(!second.status.success(), "{second:?}");
    assert_eq!(newest(&format!("{name}-api")).await.revision(), 1);
    assert_eq!(newest(&format!("{name}-migrate")).await.revision(), 1);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("{name}-migrate:1")),
        "the same revision again: {stderr}"
    );
}
