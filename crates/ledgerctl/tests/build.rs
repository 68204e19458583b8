//! `ledgerctl build` on this machine's Docker engine, reached over SSH through the test sshd that
//! `scripts/test` starts: the images come from the workspace's own binaries with no base image
//! pulled (this engine can pull nothing), are pushed to the test registry standing in for ECR,
//! and run by digest — the API answering `/readyz` and reporting healthy, the OCR image reading a
//! receipt with the PP-OCR engine and models built into it.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use futures_util::TryStreamExt as _;
use serde_json::Value;

mod common;
use common::{binaries, env};

fn ledgerctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn docker() -> Docker {
    Docker::connect_with_local_defaults().unwrap()
}

/// Removes the containers and images a test made, whatever happened.
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in &self.containers {
            Command::new("docker")
                .args(["rm", "-f", container])
                .output()
                .ok();
        }
        for image in &self.images {
            Command::new("docker")
                .args(["rmi", "-f", image])
                .output()
                .ok();
        }
    }
}

async fn run_container(
    docker: &Docker,
    name: &str,
    image: &str,
    body: ContainerCreateBody,
) -> String {
    let id = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            ContainerCreateBody {
                image: Some(image.to_owned()),
                ..body
            },
        )
        .await
        .unwrap()
        .id;
    docker
        .start_container(
            &id,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn images_are_built_from_the_workspace_binaries_pushed_and_run_by_digest() {
    let stack = format!("img{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let registry = env("LEDGERLY_TEST_REGISTRY");
    let host = format!("ssh://{}", env("LEDGERLY_TEST_SSH"));
    let output = ledgerctl(&[
        "build",
        "--binaries",
        binaries().to_str().unwrap(),
        "--stack",
        &stack,
        "--docker-host",
        &host,
        "--ssh-key",
        &env("LEDGERLY_TEST_SSH_KEY"),
        "--ssh-known-hosts",
        &env("LEDGERLY_TEST_SSH_KNOWN_HOSTS"),
        "--push",
        &registry,
        "--output",
        "json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let images: HashMap<String, Value> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["image"].as_str().unwrap().to_owned(), i.clone()))
        .collect();
    let mut cleanup = Cleanup {
        containers: Vec::new(),
        images: images
            .values()
            .flat_map(|i| {
                [
                    i["reference"].as_str().unwrap().to_owned(),
                    i["pushed"].as_str().unwrap().to_owned(),
                ]
            })
            .collect(),
    };
    let docker = docker();
    let mut pushed = HashMap::new();
    for name in ["api", "ocr"] {
        let image = &images[name];
        let reference = image["reference"].as_str().unwrap();
        assert!(
            reference.starts_with(&format!("{stack}-{name}:")),
            "{image}"
        );
        assert!(!reference.ends_with(":latest"), "{image}");
        let by_digest = image["pushed"].as_str().unwrap().to_owned();
        assert!(
            by_digest.starts_with(&format!("{registry}/{stack}-{name}@sha256:")),
            "{image}"
        );
        let inspected = docker.inspect_image(reference).await.unwrap();
        let labels = inspected.config.unwrap().labels.unwrap();
        assert_eq!(labels["ledgerly.image"], name);
        assert_eq!(labels["ledgerly.stack"], stack);
        // Built on nothing: every layer is one of ours (the files; the API's data folder).
        assert_eq!(
            inspected.root_fs.unwrap().layers.unwrap().len(),
            if name == "api" { 2 } else { 1 },
            "{name}: FROM scratch"
        );
        // Run what the registry has, not what the build left behind.
        docker
            .remove_image(
                reference,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            )
            .await
            .unwrap();
        for tagged in docker
            .inspect_image(&by_digest)
            .await
            .map(|i| i.repo_tags.unwrap_or_default())
            .unwrap_or_default()
        {
            docker
                .remove_image(
                    &tagged,
                    Some(RemoveImageOptionsBuilder::default().force(true).build()),
                    None,
                )
                .await
                .ok();
        }
        let (repository, digest) = by_digest.split_once('@').unwrap();
        docker
            .create_image(
                Some(
                    CreateImageOptionsBuilder::default()
                        .from_image(repository)
                        .tag(digest)
                        .build(),
                ),
                None,
                None,
            )
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        pushed.insert(name, by_digest);
    }

    // The API: up on SQLite in its data folder, ready, and healthy by its own health check.
    let name = format!("{stack}-api-test");
    cleanup.containers.push(name.clone());
    let id = run_container(
        &docker,
        &name,
        &pushed["api"],
        ContainerCreateBody {
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "8080/tcp".to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )])),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        },
    )
    .await;
    let port = docker
        .inspect_container(
            &id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap()
        .network_settings
        .unwrap()
        .ports
        .unwrap()["8080/tcp"]
        .as_ref()
        .unwrap()[0]
        .host_port
        .clone()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut healthy = false;
    while started.elapsed() < Duration::from_secs(60) {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        let health = docker
            .inspect_container(
                &id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .unwrap()
            .state
            .and_then(|s| s.health)
            .and_then(|h| h.status);
        if ready && health == Some(bollard::models::HealthStatusEnum::HEALTHY) {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logs = Command::new("docker")
        .args(["logs", &name])
        .output()
        .unwrap();
    assert!(healthy, "the API never became ready and healthy: {logs:?}");

    // The OCR image reads a receipt with the PP-OCR engine and the models built into it.
    let dir = tempfile::tempdir().unwrap();
    let receipt = ledgerly_ocr::synth::receipt(&ledgerly_ocr::synth::Fonts::load().unwrap(), 7, 3);
    let file = format!("scan.{}", receipt.kind.extension());
    std::fs::write(dir.path().join(&file), &receipt.image).unwrap();
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(dir.path(), readable).unwrap();
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    std::fs::set_permissions(dir.path().join(&file), readable).unwrap();
    let name = format!("{stack}-ocr-test");
    cleanup.containers.push(name.clone());
    run_container(
        &docker,
        &name,
        &pushed["ocr"],
        ContainerCreateBody {
            cmd: Some(vec![
                "extract".into(),
                "--output".into(),
                "json".into(),
                "--currency".into(),
                receipt.total.currency().code().to_owned(),
                format!("/in/{file}"),
            ]),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:/in:ro", dir.path().display())]),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        },
    )
    .await;
    let waited = docker
        .wait_container(
            &name,
            None::<bollard::query_parameters::WaitContainerOptions>,
        )
        .try_collect::<Vec<_>>()
        .await;
    let logs = Command::new("docker")
        .args(["logs", &name])
        .output()
        .unwrap();
    assert!(
        waited.is_ok(),
        "the OCR container failed: {waited:?} {logs:?}"
    );
    let fields: Value =
        serde_json::from_slice(&logs.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {logs:?}"));
    assert_eq!(
        fields["total"],
        receipt.total.to_decimal_string(),
        "{fields}"
    );
    assert_eq!(fields["vendor"], receipt.vendor, "{fields}");
    drop(cleanup);
    docker
        .remove_container(
            &format!("{stack}-api-test"),
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .ok();
}

#[test]
fn an_engine_that_cannot_be_reached_is_named_with_the_reason() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let output = ledgerctl(&[
        "build",
        "--binaries",
        binaries().to_str().unwrap(),
        "--docker-host",
        &format!("ssh://nobody@127.0.0.1:{closed}"),
        "--ssh-key",
        &env("LEDGERLY_TEST_SSH_KEY"),
        "--connect-timeout",
        "3s",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the Docker engine on 127.0.0.1 over SSH within 3 s"),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the wait is bounded"
    );

    let output = ledgerctl(&[
        "build",
        "--binaries",
        "/nonexistent",
        "--docker-host",
        "local",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/ledgerly-api is missing; build it"),
        "{stderr}"
    );
    let output = ledgerctl(&["build", "--docker-host", "tcp://1.2.3.4:2375"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not a Docker host; give ssh://"),
        "{output:?}"
    );
}
