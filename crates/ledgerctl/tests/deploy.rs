//! Deploying on this machine's Docker engine with images built from the workspace's binaries (no
//! pull): the API replaced under load behind a proxy with no failed request — also when the new
//! version's migration fails or it never turns healthy, which leave the old one serving — and
//! `ledgerctl deploy` / `rollback` end to end: a stack provisioned on the AWS emulator, images
//! pushed to the test registry standing in for ECR, the OCR Lambda pointed at the pushed digest,
//! the stack reconciled over SSH through the test sshd, a second deploy changing nothing, a new
//! build replacing the API alone, and a rollback going back to the first release. The RDS
//! certificate bundle comes from a local server standing in for AWS's: the first deploy pins
//! it, a changed one stops the next deploy until the stack file pins the new one.
//!
//! The proxy is HAProxy (Debian's binary, made into an image here like the app's own) standing in
//! for Traefik, which this machine cannot pull: both health-check `/readyz` and retry a request
//! that finds a closed connection, which is what the zero-downtime path relies on.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{FileServer, aws, binaries, env, free_port, validate_status};

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(output.status.success(), "docker {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The proxy's configuration (shared with scripts/bench-deploy).
const HAPROXY_CFG: &str = include_str!("../../../scripts/lib/haproxy-standin.cfg");

/// The proxy image, from the host's HAProxy and what it loads (no base image).
fn proxy_image(tag: &str) -> String {
    proxy_image_with(tag, HAPROXY_CFG)
}

/// The proxy image with its configuration `config`.
fn proxy_image_with(tag: &str, config: &str) -> String {
    common::haproxy_image(&format!("ledgerly-test-proxy:{tag}"), config, "")
}

/// Removes a stack's containers, network and volumes, and the images named, whatever happened.
struct Cleanup {
    stack: String,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        common::remove_stack(&self.stack);
        for image in &self.images {
            Command::new("docker")
                .args(["rmi", "-f", image])
                .output()
                .ok();
        }
    }
}

/// The ids of a stack's containers, by service.
fn containers(stack: &str) -> BTreeMap<String, Vec<String>> {
    let output = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=ledgerly.stack={stack}"),
        "--filter",
        "label=ledgerly.service",
        "--format",
        "{{.Label \"ledgerly.service\"}} {{.ID}}",
    ]);
    let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in output.lines() {
        if let Some((service, id)) = line.split_once(' ') {
            by_service
                .entry(service.to_owned())
                .or_default()
                .push(id.to_owned());
        }
    }
    by_service
}

/// Requests to the proxy in a loop from a few clients until stopped: (succeeded, failed, the
/// failures' reasons).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    reasons: Arc<std::sync::Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    started: Instant,
}

impl Load {
    fn start(url: String, token: String, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let reasons = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks = (0..clients)
            .map(|_| {
                let (stop, ok, failed, reasons) =
                    (stop.clone(), ok.clone(), failed.clone(), reasons.clone());
                let (url, token) = (url.clone(), token.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    while !stop.load(Ordering::Relaxed) {
                        let reply = http
                            .get(&url)
                            .bearer_auth(&token)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        match reply {
                            Ok(reply) if reply.status().is_success() => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(reply) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                reasons.lock().unwrap().push(reply.status().to_string());
                            }
                            Err(err) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                reasons.lock().unwrap().push(err.to_string());
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            reasons,
            tasks,
            started: Instant::now(),
        }
    }

    /// Stops the clients: (requests that succeeded, that failed, requests/s, failure reasons).
    async fn finish(self) -> (u64, u64, f64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let ok = self.ok.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let rate = (ok + failed) as f64 / self.started.elapsed().as_secs_f64();
        let reasons = self.reasons.lock().unwrap().clone();
        (ok, failed, rate, reasons)
    }
}

async fn wait_ready(url: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(reply) = http.get(url).send().await
            && reply.status().is_success()
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{url} was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const API_HEALTH: &str = "[CMD, /usr/local/bin/ledgerly-api, healthcheck]";

/// Traefik's rules, read by the same code ledgerctl's own tests use.
#[path = "../src/docker/tests/traefik_rule.rs"]
mod traefik_rule;
use traefik_rule::Rule;

/// The public router's rule in the built-in template, for `domain`, without the API docs.
fn public_rule(domain: &str) -> String {
    let template = include_str!("../../../templates/stack.yaml");
    let line = template
        .lines()
        .find(|l| l.trim_start().starts_with("traefik.http.routers.api.rule:"))
        .expect("the public router's rule");
    let value = line.split_once(": ").unwrap().1.trim().trim_matches('"');
    let (before, rest) = value.split_once("{% if public_api_docs %}").unwrap();
    let after = rest.split_once("{% endif %}").unwrap().1;
    format!("{before}{after}").replace("{{ domain }}", domain)
}

/// `rule` as HAProxy configuration: one named ACL per matcher (its definition lines), and the
/// condition over them as an OR of ANDs (HAProxy has no parentheses), one AND per term.
fn haproxy_condition(rule: &Rule) -> (Vec<String>, Vec<String>) {
    fn dnf(rule: &Rule, negated: bool, acls: &mut Vec<String>) -> Vec<Vec<String>> {
        let mut leaf = |acl: String| {
            let name = match acls.iter().position(|a| *a == acl) {
                Some(i) => format!("r{i}"),
                None => {
                    acls.push(acl);
                    format!("r{}", acls.len() - 1)
                }
            };
            vec![vec![if negated { format!("!{name}") } else { name }]]
        };
        match rule {
            Rule::Host(h) => leaf(format!("hdr(host) -i {h}")),
            Rule::Path(p) => leaf(format!("path {p}")),
            Rule::PathPrefix(p) => leaf(format!("path_beg {p}")),
            Rule::Not(inner) => dnf(inner, !negated, acls),
            Rule::And(a, b) | Rule::Or(a, b) => {
                let (a, b) = (dnf(a, negated, acls), dnf(b, negated, acls));
                // De Morgan: a negated AND is an OR, and the other way round.
                if matches!(rule, Rule::Or(..)) != negated {
                    a.into_iter().chain(b).collect()
                } else {
                    a.iter()
                        .flat_map(|x| {
                            b.iter()
                                .map(move |y| x.iter().chain(y).cloned().collect::<Vec<_>>())
                        })
                        .collect()
                }
            }
        }
    }
    let mut acls = Vec::new();
    let terms = dnf(rule, false, &mut acls)
        .iter()
        .map(|all| all.join(" "))
        .collect::<Vec<_>>();
    let definitions = acls
        .iter()
        .enumerate()
        .map(|(i, acl)| format!("    acl r{i} {acl}"))
        .collect();
    (definitions, terms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_public_address_reaches_the_app_s_paths_and_nothing_operational() {
    let domain = "ledgerly.test";
    let rule = Rule::parse(&public_rule(domain)).unwrap();
    // The stand-in answers what the public router would not take with a 404 of its own.
    let (acls, terms) = haproxy_condition(&rule);
    // One line per term (a line holds at most 64 words): each marks the request as routed.
    let marks: Vec<String> = terms
        .iter()
        .map(|term| format!("    http-request set-var(txn.routed) bool(true) if {term}"))
        .collect();
    let config = HAPROXY_CFG.replace(
        "    default_backend api",
        &format!(
            "{}\n{}\n    http-request return status 404 content-type text/plain string not-routed unless {{ var(txn.routed) -m bool }}\n    default_backend api",
            acls.join("\n"),
            marks.join("\n")
        ),
    );
    let stack = format!("pub{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let proxy = proxy_image_with(&stack, &config);
    let built = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["build", "--binaries"])
        .arg(binaries())
        .args([
            "--stack",
            &stack,
            "--tag",
            "v1",
            "--ocr-backend",
            "gemini",
            "--output",
            "json",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let api = format!("{stack}-api:v1");
    let _cleanup = Cleanup {
        stack: stack.clone(),
        images: vec![proxy.clone(), api.clone(), format!("{stack}-ocr:v1")],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    let port = free_port();
    std::fs::write(
        &path,
        spec(
            &stack,
            &proxy,
            &api,
            port,
            &format!("      LEDGERLY__OCR__CALLBACK_SECRET: '{}'", "c".repeat(40)),
            API_HEALTH,
        ),
    )
    .unwrap();
    let started = reconcile(&path);
    assert!(started.status.success(), "{started:?}");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ask = |method: reqwest::Method, path: &'static str, host: &'static str| {
        let request = http
            .request(method, format!("{base}{path}"))
            .header("host", host);
        async move {
            let reply = request.send().await?;
            let status = reply.status().as_u16();
            Ok::<_, reqwest::Error>((status, reply.text().await?))
        }
    };
    // Wait for the API behind the proxy (which may close connections until it is there).
    let ready = Instant::now();
    while !matches!(ask(reqwest::Method::GET, "/", domain).await, Ok((200, _))) {
        assert!(
            ready.elapsed() < Duration::from_secs(60),
            "the app never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let public = [
        (reqwest::Method::GET, "/"),
        (reqwest::Method::GET, "/static/app.css"),
        (reqwest::Method::GET, "/dashboard"),
        (reqwest::Method::GET, "/receipts"),
        (reqwest::Method::GET, "/profile"),
        (reqwest::Method::GET, "/import"),
        (reqwest::Method::GET, "/recurring"),
        (reqwest::Method::GET, "/admin"),
        (reqwest::Method::GET, "/password-reset"),
        (reqwest::Method::GET, "/manifest.webmanifest"),
        (reqwest::Method::GET, "/sw.js"),
        (reqwest::Method::GET, "/offline"),
        (reqwest::Method::POST, "/theme"),
        (reqwest::Method::POST, "/login"),
        (reqwest::Method::POST, "/expenses/7/delete"),
        (reqwest::Method::GET, "/api/v1/expenses"),
        (reqwest::Method::GET, "/api/v1/me"),
        (reqwest::Method::POST, "/internal/ocr-results"),
    ];
    for (method, path) in public {
        let (status, body) = ask(method.clone(), path, domain).await.unwrap();
        assert!(rule.matches(domain, path));
        assert_ne!(body, "not-routed", "{method} {path} is the app's: {status}");
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
    for path in [
        "/metrics",
        "/readyz",
        "/healthz",
        "/api/docs/",
        "/api/v1/openapi.json",
    ] {
        let (status, body) = ask(reqwest::Method::GET, path, domain).await.unwrap();
        assert!(!rule.matches(domain, path));
        assert_eq!((status, body.as_str()), (404, "not-routed"), "{path}");
    }
    // Another name is not the app's.
    let (status, body) = ask(reqwest::Method::GET, "/", "other.test").await.unwrap();
    assert_eq!((status, body.as_str()), (404, "not-routed"));
}

/// The test stack: the proxy in front of the API (SQLite in a volume), migrations first.
fn spec(stack: &str, proxy: &str, api: &str, port: u16, api_env: &str, health: &str) -> String {
    format!(
        "stack: {stack}
volumes: [data]
migrate:
  service: api
  command: [migrate]
  timeout_seconds: 60
services:
  proxy:
    image: {proxy}
    ports: ['127.0.0.1:{port}:8080']
    stop_grace_seconds: 1
  api:
    image: {api}
    rolling: true
    stop_grace_seconds: 10
    volumes: ['data:/data']
    env:
      LEDGERLY__SERVER__DRAIN_SECONDS: '2'
      LEDGERLY__SERVER__TRUST_FORWARDED_FOR: 'true'
      LEDGERLY__AUTH__REGISTRATION: open
{api_env}
    health:
      test: {health}
      interval_seconds: 1
      timeout_seconds: 2
      retries: 3
"
    )
}

fn reconcile(spec_path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("reconcile")
        .arg(spec_path)
        .args(["--docker-host", "local", "--health-timeout", "20"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_is_replaced_under_load_with_no_failed_request() {
    let stack = format!("zd{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let proxy = proxy_image(&stack);
    let built = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["build", "--binaries"])
        .arg(binaries())
        .args([
            "--stack",
            &stack,
            "--tag",
            "v1",
            "--ocr-backend",
            "gemini",
            "--output",
            "json",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let api = format!("{stack}-api:v1");
    let _cleanup = Cleanup {
        stack: stack.clone(),
        images: vec![proxy.clone(), api.clone(), format!("{stack}-ocr:v1")],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    let port = free_port();
    let write = |api_env: &str, health: &str| {
        std::fs::write(&path, spec(&stack, &proxy, &api, port, api_env, health)).unwrap();
    };

    write("      VERSION: '1'", API_HEALTH);
    let first = reconcile(&path);
    assert!(first.status.success(), "{first:?}");
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/readyz")).await;
    let user = ledgerly_api::testing::ApiClient::register(&base, "load@example.com", "EUR").await;
    let serving = containers(&stack)["api"].clone();
    assert_eq!(serving.len(), 1);

    let load = Load::start(format!("{base}/api/v1/expenses"), user.token.clone(), 4);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A migration that fails stops the deploy before any container changes.
    write(
        "      VERSION: '2'\n      LEDGERLY__DATABASE__URL: sqlite:///nonexistent/ledgerly.db",
        API_HEALTH,
    );
    let failed = reconcile(&path);
    assert!(!failed.status.success(), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(
        stderr.contains("failed to migrate the database"),
        "its logs: {stderr}"
    );
    assert_eq!(containers(&stack)["api"], serving);

    // A new container that never turns healthy is removed; the old one keeps serving.
    write(
        "      VERSION: '3'",
        "[CMD, /usr/local/bin/ledgerly-api, healthcheck, 'http://127.0.0.1:1/readyz']",
    );
    let failed = reconcile(&path);
    assert!(!failed.status.success(), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("did not become healthy"), "{stderr}");
    assert!(stderr.contains("old one keeps serving"), "{stderr}");
    assert!(
        stderr.contains("ledgerly-api listening"),
        "the new container's logs: {stderr}"
    );
    assert_eq!(containers(&stack)["api"], serving);

    // A good version: started, healthy, routed to, the old one drained and stopped.
    write("      VERSION: '4'", API_HEALTH);
    let switched = Instant::now();
    let replaced = reconcile(&path);
    let switch_seconds = switched.elapsed().as_secs_f64();
    assert!(replaced.status.success(), "{replaced:?}");
    let now = containers(&stack)["api"].clone();
    assert_eq!(now.len(), 1);
    assert_ne!(now, serving, "the API was replaced");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (ok, failed, rate, reasons) = load.finish().await;
    eprintln!(
        "under load: {ok} requests served, {failed} failed, {rate:.0} requests/s; the replacement took {switch_seconds:.1} s"
    );
    assert_eq!(failed, 0, "failed requests: {reasons:?}");
    assert!(ok > 100, "the load ran: {ok}");
    // The data outlived the replacements; the migration container is gone.
    assert_eq!(user.get("/api/v1/expenses").await["total"], 0);
    assert!(
        !docker(&["ps", "-a", "--format", "{{.Names}}"]).contains(&format!("{stack}-migrate")),
        "the migration container is removed"
    );
}

// ---- deploy and rollback, end to end ----

const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv/CF3n/Zh4krGgK3oPryYuj+LfPTno1LSseU9H85hy ledgerly-test";
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// The deploy template of the test: the built-in one's API (by the values it is given) behind
/// the proxy stand-in, SQLite in a volume (the emulator's database has no server), and the
/// values a real stack uses written where the test can see them.
fn test_template(proxy: &str, port: u16) -> String {
    format!(
        "stack: {{{{ stack }}}}
volumes: [data]
migrate:
  service: api
  command: [migrate]
services:
  proxy:
    image: {proxy}
    ports: ['127.0.0.1:{port}:8080']
    stop_grace_seconds: 1
  api:
    image: {{{{ images.api | yaml }}}}
    rolling: true
    stop_grace_seconds: 10
    volumes: ['data:/data']
    env:
      LEDGERLY__SERVER__DRAIN_SECONDS: '2'
      LEDGERLY__OCR__CALLBACK_SECRET: {{{{ secrets.ocr_callback | yaml }}}}
      RENDERED_DATABASE_HOST: {{{{ database.host | yaml }}}}
      RENDERED_DATABASE_URL: {{{{ database.url | yaml }}}}
      RENDERED_BUCKET: {{{{ bucket | yaml }}}}
      RENDERED_DOMAIN: {{{{ domain | yaml }}}}
    files:
      {{{{ database.ca_file }}}}: {{{{ database.ca_bundle | yaml }}}}
    labels:
      ledgerly.version: {{{{ version | yaml }}}}
    health:
      test: {API_HEALTH}
      interval_seconds: 1
      timeout_seconds: 2
      retries: 3
"
    )
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

use common::Stack;

impl Stack {
    /// Writes the stack file with `database` (YAML lines under `database:`).
    fn configure(&self, database: &str) {
        let config = format!(
            "stack: {name}\nregion: us-east-1\ndomain: ledgerly.example.com\nacme_email: ops@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    public_key_file: {}\n  ami_parameter: {AMI_PARAMETER}\nocr:\n  backend: gemini\n  api_key_parameter: /{name}/gemini-key\ndeploy:\n  template: stack.yaml\n  health_timeout_seconds: 30\n",
            self.path("id_ed25519.pub").display(),
            name = self.name,
        );
        std::fs::write(
            self.path("ledgerly.yaml"),
            format!("{config}database:\n{database}"),
        )
        .unwrap();
    }

    fn new(proxy: &str, port: u16, bundle_url: &str) -> Stack {
        let stack = Stack::named("dep");
        std::fs::write(stack.path("id_ed25519.pub"), format!("{PUBLIC_KEY}\n")).unwrap();
        std::fs::write(stack.path("stack.yaml"), test_template(proxy, port)).unwrap();
        stack.configure(&format!("  ca_bundle_url: {bundle_url}\n"));
        stack
    }

    fn ledgerctl(&self, args: &[&str]) -> Output {
        self.ledgerctl_command(args)
            .env("RUST_LOG", "warn")
            .env("LEDGERCTL_REGISTRY", env("LEDGERLY_TEST_REGISTRY"))
            .output()
            .unwrap()
    }

    /// `ledgerctl <args>` with this machine's engine reached through the test sshd.
    fn over_ssh(&self, args: &[&str]) -> Output {
        let host = common::ssh_host();
        let keys = common::ssh_key_args();
        let mut all = args.to_vec();
        all.extend(["--docker-host", host.as_str()]);
        all.extend(keys.iter().map(String::as_str));
        self.ledgerctl(&all)
    }

    /// `status --output json` over SSH: its exit code and report.
    fn status(&self) -> (i32, Value) {
        let output = self.over_ssh(&["status", "--output", "json"]);
        let code = output.status.code().unwrap();
        assert!(code == 0 || code == 2, "{output:?}");
        (code, serde_json::from_slice(&output.stdout).unwrap())
    }

    /// `deploy` or `rollback` over SSH to this machine's engine, which must succeed: its report.
    fn roll(&self, command: &str, args: &[&str]) -> Value {
        let mut all = vec![command];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--output", "json"]);
        let output = self.over_ssh(&all);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// A deploy's actions: `create api`, `replace web`.
fn actions(report: &Value) -> Vec<String> {
    common::report_lines(report, "actions", &["action", "service"])
}

/// A copy of the binaries with the API's changed (bytes appended past the end of the ELF: it runs
/// the same, but it is another build).
fn changed_binaries(into: &Path) -> PathBuf {
    let dir = into.join("bin2");
    std::fs::create_dir_all(&dir).unwrap();
    for binary in ["ledgerly-api", "ledgerly-ocr"] {
        std::fs::copy(binaries().join(binary), dir.join(binary)).unwrap();
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("ledgerly-api"))
        .unwrap()
        .write_all(b"another build")
        .unwrap();
    dir
}

/// The RDS certificate bundle in a container.
fn ca_file_of(container: &str) -> String {
    let copied = Command::new("docker")
        .args(["cp", &format!("{container}:/etc/ledgerly/rds-ca.pem"), "-"])
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let mut archive = tar::Archive::new(copied.stdout.as_slice());
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    text
}

fn image_of(container: &str) -> String {
    docker(&["inspect", "--format", "{{.Config.Image}}", container])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_pushes_points_the_lambda_reconciles_over_ssh_and_rolls_back() {
    let port = free_port();
    // The proxy is a third-party image by tag, in a registry (the test registry), as Traefik is
    // on Docker Hub: deploy runs it by the digest the tag had.
    let local_proxy = proxy_image(&format!("dep{port}"));
    let registry = env("LEDGERLY_TEST_REGISTRY");
    let proxy = format!("{registry}/ledgerly-test-proxy:dep{port}");
    docker(&["tag", &local_proxy, &proxy]);
    docker(&["push", "-q", &proxy]);
    let proxy_digest = docker(&["inspect", "--format", "{{index .RepoDigests 0}}", &proxy])
        .trim()
        .to_owned();
    assert!(proxy_digest.contains("@sha256:"), "{proxy_digest}");
    // The RDS certificate bundle: a real certificate (the test PostgreSQL's CA).
    let bundle = std::fs::read_to_string(env("LEDGERLY_TEST_PG_CA")).unwrap();
    let bundles = FileServer::start(bundle.clone());
    let stack = Stack::new(&proxy, port, &bundles.url);
    let _cleanup = Cleanup {
        stack: stack.name.clone(),
        images: vec![local_proxy.clone(), proxy.clone()],
    };
    let config = aws().await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(format!("/{}/gemini-key", stack.name))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value("test-gemini-key")
        .send()
        .await
        .unwrap();
    let provisioned = stack.ledgerctl(&["provision", "--auto-approve", "--output", "json"]);
    assert!(provisioned.status.success(), "{provisioned:?}");

    // Nothing recorded yet: nothing to roll back to.
    let early = stack.ledgerctl(&["rollback"]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("none before the current one"),
        "{early:?}"
    );

    // First deploy: both images pushed, the OCR function created from the OCR image (it was
    // waiting for one), the stack created.
    let bin = binaries().display().to_string();
    let first = stack.roll("deploy", &["--binaries", &bin]);
    let images = first["images"].as_array().unwrap();
    assert!(images.iter().all(|i| i["pushed"] == true), "{first}");
    assert_eq!(first["function"], "created", "{first}");
    let mut created = actions(&first);
    created.sort();
    assert_eq!(created, ["create api", "create proxy"], "{first}");
    let release = first["release"].clone();
    let version = release["version"].as_str().unwrap().to_owned();
    let api_image = format!(
        "{registry}/{}-api@{}",
        stack.name,
        release["api"].as_str().unwrap()
    );
    let running = containers(&stack.name);
    assert_eq!(image_of(&running["api"][0]), api_image);
    // The proxy by the digest its tag had, recorded with the release.
    assert_eq!(image_of(&running["proxy"][0]), proxy_digest);
    let recorded = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(format!("/{}/images", stack.name))
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap()
        .value
        .unwrap();
    let recorded: Value = serde_json::from_str(&recorded).unwrap();
    let set = recorded["releases"][&version].as_u64().unwrap() as usize;
    assert_eq!(
        recorded["sets"][set][&proxy],
        proxy_digest.split_once('@').unwrap().1,
        "{recorded}"
    );
    // The values the stack rendered with: the emulator's database and bucket.
    let env_of = docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &running["api"][0],
    ]);
    assert!(
        env_of.contains(&format!("RENDERED_BUCKET={}-receipts-", stack.name)),
        "{env_of}"
    );
    assert!(
        env_of.contains(&format!("RENDERED_DATABASE_HOST={}-db.", stack.name)),
        "{env_of}"
    );
    // The API's database URL: the application role, the server verified against the bundle,
    // which is in the container where the URL says.
    let app_password = common::stack_parameter(&stack.name, "db-app-password")
        .await
        .value
        .unwrap();
    assert!(
        env_of.contains(&format!(
            "RENDERED_DATABASE_URL=postgres://ledgerly_app:{app_password}@{}-db.",
            stack.name
        )),
        "{env_of}"
    );
    assert!(
        env_of.contains("/ledgerly?sslmode=verify-full&sslrootcert=/etc/ledgerly/rds-ca.pem\n"),
        "{env_of}"
    );
    assert_eq!(ca_file_of(&running["api"][0]), bundle);
    assert_eq!(release["ca_bundle_sha256"], sha256_hex(&bundle), "pinned");
    let secret = common::stack_parameter(&stack.name, "ocr-callback-secret")
        .await
        .value
        .unwrap();
    assert!(env_of.contains(&format!("LEDGERLY__OCR__CALLBACK_SECRET={secret}")));
    assert!(
        !first.to_string().contains(&secret),
        "the secret is never printed"
    );
    // The Lambda runs the pushed OCR image, by digest.
    let lambda = aws_sdk_lambda::Client::new(&config);
    let function = lambda
        .get_function()
        .function_name(format!("{}-ocr", stack.name))
        .send()
        .await
        .unwrap();
    let lambda_image = function.code().unwrap().image_uri().unwrap().to_owned();
    assert!(
        lambda_image.ends_with(&format!(
            "/{}-ocr@{}",
            stack.name,
            release["ocr"].as_str().unwrap()
        )),
        "{lambda_image}"
    );
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await;

    // Someone moves the proxy's tag to another image: the running stack does not follow it.
    let moved = proxy_image_with(
        &format!("dep{port}-moved"),
        &format!("{HAPROXY_CFG}\n# another build\n"),
    );
    docker(&["tag", &moved, &proxy]);
    docker(&["push", "-q", &proxy]);
    docker(&["rmi", "-f", &moved]);

    // Again: nothing built, pushed, pointed or recreated.
    let started = Instant::now();
    let again = stack.roll("deploy", &["--binaries", &bin]);
    eprintln!(
        "a no-op deploy took {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        again["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["pushed"] == false),
        "{again}"
    );
    assert_eq!(again["function"], "unchanged");
    assert_eq!(actions(&again), Vec::<String>::new());
    assert_eq!(again["changed"], false);
    assert_eq!(containers(&stack.name), running, "the same containers");

    // AWS publishes another bundle: deploy stops before changing anything and says how to
    // accept it; pinned in the stack file, it is taken, and the API replaced to get it.
    let renewed = format!("{bundle}{bundle}");
    bundles.serve(renewed.clone());
    let refused = stack.over_ssh(&["deploy", "--binaries", &bin]);
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "has SHA-256 {}, not the {} this stack's last release was deployed with",
            sha256_hex(&renewed),
            sha256_hex(&bundle)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "database.ca_bundle_sha256: {}",
            sha256_hex(&renewed)
        )),
        "{stderr}"
    );
    assert_eq!(containers(&stack.name), running, "nothing changed");
    stack.configure(&format!(
        "  ca_bundle_url: {}\n  ca_bundle_sha256: {}\n",
        bundles.url,
        sha256_hex(&renewed)
    ));
    let accepted = stack.roll("deploy", &["--binaries", &bin]);
    assert_eq!(actions(&accepted), ["replace api"], "{accepted}");
    assert_eq!(accepted["release"]["version"], version.as_str());
    let running = containers(&stack.name);
    assert_eq!(ca_file_of(&running["api"][0]), renewed);
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await;

    // A new API build: the API alone is pushed and replaced; the OCR build is the same.
    let changed = changed_binaries(stack.dir.path());
    let second = stack.roll("deploy", &["--binaries", &changed.display().to_string()]);
    let pushed: Vec<bool> = second["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["pushed"].as_bool().unwrap())
        .collect();
    assert_eq!(pushed, [true, false], "{second}");
    assert_eq!(second["function"], "unchanged");
    assert_eq!(actions(&second), ["replace api"]);
    let second_version = second["release"]["version"].as_str().unwrap().to_owned();
    assert_ne!(second_version, version);
    let now = containers(&stack.name);
    assert_ne!(now["api"], running["api"]);
    assert_eq!(now["proxy"], running["proxy"]);
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await;

    // The history, newest first; then back to the first release.
    let listed = stack.ledgerctl(&["rollback", "--list", "--output", "json"]);
    assert!(listed.status.success(), "{listed:?}");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let versions: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, [second_version.as_str(), version.as_str()]);
    let back = stack.roll("rollback", &[]);
    assert_eq!(back["release"]["version"], version.as_str());
    assert_eq!(actions(&back), ["replace api"]);
    let after = containers(&stack.name);
    assert_eq!(image_of(&after["api"][0]), api_image);
    assert_eq!(
        image_of(&after["proxy"][0]),
        proxy_digest,
        "the release's own proxy, not the moved tag's"
    );
    wait_ready(&format!("http://127.0.0.1:{port}/readyz")).await;

    // Status: every resource, every container and the app healthy; the JSON as documented.
    let (code, status) = stack.status();
    assert_eq!(code, 0, "{status:#}");
    assert_eq!(status["healthy"], true);
    assert!(
        status["resources"].as_array().unwrap().len() >= 17,
        "every resource: {status:#}"
    );
    assert!(
        status["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "ok"),
        "{status:#}"
    );
    let services: Vec<&str> = status["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["api", "proxy"]);
    assert_eq!(status["app"]["ready"], true);
    assert_eq!(status["release"]["version"], version.as_str());
    validate_status(&status);
    // The instance reached by its own path (here: the test sshd standing in for its address),
    // its host key checked against the keys recorded from its console output — never learned
    // on first use. The emulator's console output prints no keys: nothing to trust yet.
    let ssh_key = env("LEDGERLY_TEST_SSH_KEY");
    let ssh_host = common::ssh_host();
    let as_instance = |extra: &[&str]| {
        let mut args = vec![
            "status",
            "--output",
            "json",
            "--ssh-key",
            &ssh_key,
            "--ssh-host",
            &ssh_host,
        ];
        args.extend_from_slice(extra);
        let output = stack.ledgerctl(&args);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code().unwrap(), report)
    };
    let (code, report) = as_instance(&[]);
    assert_eq!(code, 2, "{report:#}");
    assert!(
        report["problems"]
            .to_string()
            .contains("has not printed its SSH host keys on its console"),
        "{report:#}"
    );
    // Its keys as cloud-init prints them and ledgerctl records them: the test sshd's.
    let known = std::fs::read_to_string(env("LEDGERLY_TEST_SSH_KNOWN_HOSTS")).unwrap();
    let sshd_key: Vec<&str> = known.split_whitespace().skip(1).take(2).collect();
    let instance = aws_sdk_ec2::Client::new(&config)
        .describe_addresses()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:ledgerly:stack")
                .values(&stack.name)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .addresses()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    let record = |keys: Vec<String>| {
        let ssm = aws_sdk_ssm::Client::new(&config);
        let name = format!("/{}/ssh-host-keys", stack.name);
        let value = serde_json::json!({"instance": instance, "keys": keys}).to_string();
        async move {
            ssm.put_parameter()
                .name(name)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .value(value)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        }
    };
    record(vec![sshd_key.join(" ")]).await;
    let (code, report) = as_instance(&[]);
    assert_eq!(code, 0, "the recorded key is the host's: {report:#}");
    // Another key recorded: refused, and said why.
    record(vec![
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv/CF3n/Zh4krGgK3oPryYuj+LfPTno1LSseU9H85hy"
            .to_owned(),
    ])
    .await;
    let (code, report) = as_instance(&[]);
    assert_eq!(code, 2, "{report:#}");
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("ssh refused") && problems.contains("the host key it offered is not in"),
        "{problems}"
    );
    // --ssh-known-hosts: a file the operator checked, instead.
    let (code, report) = as_instance(&["--ssh-known-hosts", &env("LEDGERLY_TEST_SSH_KNOWN_HOSTS")]);
    assert_eq!(code, 0, "{report:#}");

    // A stopped container: status fails and names it.
    let proxy_container = containers(&stack.name)["proxy"][0].clone();
    docker(&["stop", "-t", "1", &proxy_container]);
    let (code, status) = stack.status();
    assert_eq!(code, 2, "{status:#}");
    assert_eq!(status["healthy"], false);
    let problems = status["problems"].to_string();
    assert!(problems.contains("(proxy): stopped"), "{problems}");
    validate_status(&status);
    let text = stack.over_ssh(&["status"]);
    assert_eq!(text.status.code(), Some(2));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("problem(s):") && text.contains("proxy"),
        "{text}"
    );
    docker(&["start", &proxy_container]);

    // Logs: the stack's name from the stack file, over SSH.
    let logs = stack.over_ssh(&["logs", "api"]);
    assert!(logs.status.success(), "{logs:?}");
    assert!(
        String::from_utf8_lossy(&logs.stderr).contains("ledgerly-api listening"),
        "{logs:?}"
    );
    // Without --docker-host, the instance: instance.ssh_user at the stack's Elastic IP (which
    // runs no sshd on port 22 here).
    let logs = stack.ledgerctl(&["logs", "api", "--connect-timeout", "1s"]);
    assert!(!logs.status.success());
    assert!(
        String::from_utf8_lossy(&logs.stderr).contains("ubuntu@127."),
        "the instance's address: {logs:?}"
    );

    // A version never deployed is named.
    let unknown = stack.ledgerctl(&["rollback", "nope"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no release nope"),
        "{unknown:?}"
    );
}
