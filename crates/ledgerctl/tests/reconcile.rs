//! `ledgerctl reconcile` on this machine's Docker engine, with small images made in the test from
//! Debian's static busybox (no pull): the first run creates, the second does nothing (the same
//! containers), a changed service alone is replaced, a removed one removed; a rolling service's
//! new container that never turns healthy leaves the old one serving, fails the run and shows its
//! logs; the lock keeps two runs from interleaving; `ledgerctl logs` shows and follows a service.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::Stack;

/// The reconcile tests' stacks: removed with everything they made (their image too) when dropped.
impl Stack {
    fn new(prefix: &str) -> Stack {
        let stack = Stack::named(prefix);
        let context = stack.path("image");
        std::fs::create_dir_all(context.join("www")).unwrap();
        std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
        std::fs::write(context.join("www/index.html"), "ok\n").unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www/ /www/\nENTRYPOINT [\"/bin/busybox\"]\n",
        )
        .unwrap();
        let built = Command::new("docker")
            .args(["build", "-q", "-t", &stack.image()])
            .arg(&context)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "building the busybox image (apt install busybox-static): {built:?}"
        );
        stack
    }

    /// The busybox image built for it.
    fn image(&self) -> String {
        format!("ledgerly-test-busybox:{}", self.name)
    }

    /// Writes the spec with `services` (YAML, indented under `services:`).
    fn write(&self, services: &str) {
        std::fs::write(
            self.path("stack.yaml"),
            format!(
                "stack: {}\nvolumes: [data]\nservices:\n{services}",
                self.name
            ),
        )
        .unwrap();
    }

    fn reconcile(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
            .arg("reconcile")
            .arg(self.path("stack.yaml"))
            .args(["--docker-host", "local", "--health-timeout", "30"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// `reconcile --output json`, which must succeed: the actions.
    fn actions(&self) -> Vec<String> {
        let output = self.reconcile(&["--output", "json"]);
        assert!(output.status.success(), "{output:?}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        common::report_lines(&report, "actions", &["action", "service"])
    }

    /// The stack's containers: service → (id, name, state).
    fn containers(&self) -> BTreeMap<String, (String, String, String)> {
        let output = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!("label=ledgerly.stack={}", self.name),
                "--format",
                "{{.Label \"ledgerly.service\"}} {{.ID}} {{.Names}} {{.State}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| {
                let parts: Vec<&str> = l.split_whitespace().collect();
                (
                    parts[0].to_owned(),
                    (
                        parts[1].to_owned(),
                        parts[2].to_owned(),
                        parts[3].to_owned(),
                    ),
                )
            })
            .collect()
    }

    /// How many service containers the stack has (two of one service while it is replaced).
    fn count(&self) -> usize {
        let output = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=ledgerly.stack={}", self.name),
                "--filter",
                "label=ledgerly.service",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .count()
    }

    fn health(&self, container: &str) -> String {
        let output = Command::new("docker")
            .args(["inspect", "--format", "{{.State.Health.Status}}", container])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        common::remove_stack(&self.name);
        Command::new("docker")
            .args(["rmi", "-f", &self.image()])
            .output()
            .ok();
    }
}

fn web(image: &str, version: &str, health: &str) -> String {
    format!(
        "  web:\n    image: {image}\n    command: [sh, -c, 'echo starting web version {version} >&2; exec /bin/busybox httpd -f -p 8080 -h /www']\n    env: {{VERSION: '{version}'}}\n    volumes: ['data:/data']\n    rolling: true\n    stop_grace_seconds: 1\n    health:\n      test: {health}\n      interval_seconds: 1\n      timeout_seconds: 1\n      retries: 2\n"
    )
}

const HEALTHY: &str = "[CMD, /bin/busybox, wget, -q, -O, /dev/null, 'http://127.0.0.1:8080/']";

fn sleeper(name: &str, image: &str, setting: &str) -> String {
    format!(
        "  {name}:\n    image: {image}\n    command: [sleep, '3600']\n    env: {{SETTING: '{setting}'}}\n    stop_grace_seconds: 1\n"
    )
}

#[test]
fn a_second_run_changes_nothing_and_a_change_replaces_only_its_service() {
    let stack = Stack::new("rec");
    let image = stack.image();
    stack.write(
        &(web(&image, "1", HEALTHY)
            + &sleeper("worker", &image, "a")
            + &sleeper("cache", &image, "a")),
    );
    let mut first = stack.actions();
    first.sort();
    assert_eq!(first, ["create cache", "create web", "create worker"]);
    let before = stack.containers();
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(
        before.values().all(|(_, _, state)| state == "running"),
        "{before:?}"
    );
    assert_eq!(stack.health(&before["web"].0), "healthy");

    // Again: nothing to do, the very same containers.
    assert_eq!(stack.actions(), Vec::<String>::new());
    let output = stack.reconcile(&[]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("no changes"),
        "{output:?}"
    );
    assert_eq!(stack.containers(), before);

    // One service's setting changes: only it is replaced.
    stack.write(
        &(web(&image, "1", HEALTHY)
            + &sleeper("worker", &image, "b")
            + &sleeper("cache", &image, "a")),
    );
    assert_eq!(stack.actions(), ["replace worker"]);
    let after = stack.containers();
    assert_eq!(after["web"], before["web"]);
    assert_eq!(after["cache"], before["cache"]);
    assert_ne!(after["worker"].0, before["worker"].0);

    // The rolling service: a new container under a new name, the old one gone.
    stack.write(
        &(web(&image, "2", HEALTHY)
            + &sleeper("worker", &image, "b")
            + &sleeper("cache", &image, "a")),
    );
    assert_eq!(stack.actions(), ["replace web"]);
    let rolled = stack.containers();
    assert_ne!(rolled["web"].1, after["web"].1, "a new name");
    assert_eq!(stack.health(&rolled["web"].0), "healthy");

    // A service left out of the spec is removed; a stopped one is started again.
    stack.write(&(web(&image, "2", HEALTHY) + &sleeper("worker", &image, "b")));
    Command::new("docker")
        .args(["stop", "-t", "0", &rolled["worker"].0])
        .output()
        .unwrap();
    let mut last = stack.actions();
    last.sort();
    assert_eq!(last, ["remove cache", "start worker"]);
    let end = stack.containers();
    assert_eq!(end.keys().collect::<Vec<_>>(), ["web", "worker"]);
    assert_eq!(end["worker"].0, rolled["worker"].0);
    assert_eq!(end["worker"].2, "running");
}

#[test]
fn a_new_container_that_never_turns_healthy_leaves_the_old_one_serving() {
    let stack = Stack::new("unh");
    let image = stack.image();
    stack.write(&web(&image, "1", HEALTHY));
    assert_eq!(stack.actions(), ["create web"]);
    let before = stack.containers();

    stack.write(&web(&image, "2", "[CMD, /bin/busybox, 'false']"));
    let output = stack.reconcile(&[]);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the new web container did not become healthy: its health check failed; it was removed and the old one keeps serving"),
        "{stderr}"
    );
    assert!(
        stderr.contains("starting web version 2"),
        "its logs are shown: {stderr}"
    );
    let after = stack.containers();
    assert_eq!(after, before, "only the old container is left");
    assert_eq!(stack.health(&before["web"].0), "healthy");
    assert!(
        stack.reconcile(&[]).status.code() == Some(1),
        "it keeps failing until the spec is fixed"
    );
    assert_eq!(stack.containers(), before);
}

#[test]
fn the_lock_keeps_two_runs_apart() {
    let stack = Stack::new("lck");
    let image = stack.image();
    stack.write(&(web(&image, "1", HEALTHY) + &sleeper("worker", &image, "a")));
    // Another run holds the lock.
    let lock = format!("{}-deploy-lock", stack.name);
    let taken = Command::new("docker")
        .args([
            "create",
            "--name",
            &lock,
            "--label",
            &format!("ledgerly.stack={}", stack.name),
            "--label",
            "ledgerly.lock=pid 1 since 0",
            &image,
            "lock",
        ])
        .output()
        .unwrap();
    assert!(taken.status.success(), "{taken:?}");
    let refused = stack.reconcile(&[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "another deploy of {} holds the lock (pid 1 since 0; its lease runs out in ",
            stack.name
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("wait for it with --lock-wait 10m"),
        "{stderr}"
    );
    assert!(stack.containers().is_empty(), "nothing was done");

    // With --lock-wait, a run waits for the other to finish.
    let releaser = std::thread::spawn({
        let lock = lock.clone();
        move || {
            std::thread::sleep(Duration::from_secs(2));
            Command::new("docker")
                .args(["rm", "-f", &lock])
                .output()
                .unwrap();
        }
    });
    let waited = stack.reconcile(&["--lock-wait", "30"]);
    releaser.join().unwrap();
    assert!(waited.status.success(), "{waited:?}");
    assert_eq!(stack.containers().len(), 2);

    // Two runs at once: never interleaved; whichever loses says why; one container per service.
    stack.write(&(web(&image, "2", HEALTHY) + &sleeper("worker", &image, "b")));
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let path = stack.path("stack.yaml");
            std::thread::spawn(move || {
                Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
                    .arg("reconcile")
                    .arg(path)
                    .args(["--docker-host", "local", "--health-timeout", "30"])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    let outputs: Vec<Output> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(outputs.iter().any(|o| o.status.success()), "{outputs:?}");
    for output in outputs.iter().filter(|o| !o.status.success()) {
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("holds the lock"),
            "{output:?}"
        );
    }
    let end = stack.containers();
    assert_eq!(end.len(), 2, "{end:?}");
    assert_eq!(stack.actions(), Vec::<String>::new(), "converged");
}

/// A lock container as a run makes it, with `lease` (engine Unix seconds) as its lease.
fn hold_lock(stack: &Stack, owner: &str, lease: i64) -> String {
    let lock = format!("{}-deploy-lock", stack.name);
    let taken = Command::new("docker")
        .args([
            "create",
            "--name",
            &lock,
            "--label",
            &format!("ledgerly.stack={}", stack.name),
            "--label",
            &format!("ledgerly.lock={owner}"),
            &stack.image(),
            "lock",
        ])
        .output()
        .unwrap();
    assert!(taken.status.success(), "{taken:?}");
    let file = stack.path("ledgerly-lease");
    std::fs::write(&file, format!("{lease}\n")).unwrap();
    let copied = Command::new("docker")
        .arg("cp")
        .arg(&file)
        .arg(format!("{lock}:/ledgerly-lease"))
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    lock
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[test]
fn a_lock_whose_run_died_is_taken_over_once_its_lease_runs_out() {
    let stack = Stack::new("exp");
    let image = stack.image();
    stack.write(&sleeper("worker", &image, "a"));
    // A run that died an hour ago, its lease long run out: the next run takes over and says so.
    hold_lock(&stack, "ops@laptop pid 4242", unix_now() - 3600);
    let output = stack.reconcile(&["--output", "json"]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("held by ops@laptop pid 4242 ran out") && stderr.contains("taking it over"),
        "{stderr}"
    );
    assert_eq!(stack.containers().len(), 1);
    assert_eq!(stack.count(), 1, "the lock is released after the run");

    // A lease still running is respected, and its end is named.
    hold_lock(&stack, "ops@laptop pid 4343", unix_now() + 600);
    stack.write(&sleeper("worker", &image, "b"));
    let refused = stack.reconcile(&[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(ops@laptop pid 4343; its lease runs out in 5")
            || stderr.contains("(ops@laptop pid 4343; its lease runs out in 6"),
        "{stderr}"
    );
}

#[test]
fn a_run_longer_than_the_lease_keeps_its_lock_by_renewing_it() {
    let stack = Stack::new("ren");
    let image = stack.image();
    // A service that takes about 8 s to become healthy; the lease lasts 2 s.
    stack.write(&format!(
        "  web:\n    image: {image}\n    command: [sh, -c, 'sleep 8; exec /bin/busybox httpd -f -p 8080 -h /www']\n    rolling: true\n    stop_grace_seconds: 1\n    health:\n      test: {HEALTHY}\n      interval_seconds: 1\n      timeout_seconds: 1\n      retries: 2\n      start_period_seconds: 30\n"
    ));
    let path = stack.path("stack.yaml");
    let long = std::thread::spawn(move || {
        Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
            .arg("reconcile")
            .arg(path)
            .args(["--docker-host", "local", "--health-timeout", "60"])
            .env("LEDGERCTL_LOCK_LEASE_SECONDS", "2")
            .output()
            .unwrap()
    });
    // Well past the first lease: a second run finds the lock held, not run out.
    std::thread::sleep(Duration::from_secs(5));
    let second = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("reconcile")
        .arg(stack.path("stack.yaml"))
        .args(["--docker-host", "local", "--health-timeout", "60"])
        .env("LEDGERCTL_LOCK_LEASE_SECONDS", "2")
        .output()
        .unwrap();
    assert!(!second.status.success(), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("holds the lock"), "{stderr}");
    assert!(!stderr.contains("taking it over"), "{stderr}");
    let first = long.join().unwrap();
    assert!(first.status.success(), "{first:?}");
    assert_eq!(stack.containers().len(), 1);
}

#[test]
fn the_migrate_run_has_its_own_env_over_the_service_s_and_the_service_s_files() {
    let stack = Stack::new("mig");
    let image = stack.image();
    // The run checks what it was given: the service's env and files, and its own env, which
    // the service's container must not get (the database's master credentials, in production).
    let write = |secret: &str| {
        std::fs::write(
            stack.path("stack.yaml"),
            format!(
                "stack: {name}
migrate:
  service: web
  command: [sh, -c, 'test \"$SHARED\" = web && test \"$ONLY_MIGRATE\" = opened && grep -q CERTIFICATE /etc/ledgerly/ca.pem || {{ echo missing: $SHARED $ONLY_MIGRATE >&2; exit 3; }}']
  env: {{ONLY_MIGRATE: '{secret}'}}
services:
  web:
    image: {image}
    command: [sleep, '3600']
    env: {{SHARED: web}}
    files:
      /etc/ledgerly/ca.pem: '-----BEGIN CERTIFICATE-----'
    stop_grace_seconds: 1
",
                name = stack.name
            ),
        )
        .unwrap();
    };
    write("wrong");
    let failed = stack.reconcile(&[]);
    assert!(!failed.status.success(), "{failed:?}");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("exited with code 3"), "{stderr}");
    assert!(stderr.contains("missing: web wrong"), "its logs: {stderr}");
    assert_eq!(stack.count(), 0, "nothing started after a failed run");

    write("opened");
    assert_eq!(stack.actions(), ["create web"]);
    let (id, _, state) = stack.containers()["web"].clone();
    assert_eq!(state, "running");
    let env = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            &id,
        ])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(env.contains("SHARED=web"), "{env}");
    assert!(
        !env.contains("ONLY_MIGRATE"),
        "the run's own env stays its own: {env}"
    );
}

#[test]
fn a_bad_spec_is_refused_before_the_engine_is_touched() {
    let stack = Stack::new("bad");
    stack.write("  web:\n    image: ''\n    ports: ['8080']\n    volumes: ['nowhere:/x']\n");
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("reconcile")
        .arg(stack.path("stack.yaml"))
        .args(["--docker-host", "unix:///nonexistent.sock"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("services.web.image: give an image reference"),
        "{stderr}"
    );
    assert!(
        stderr.contains("services.web.ports: `8080` is not host_ip:host_port:container_port"),
        "{stderr}"
    );
    assert!(stderr.contains("services.web.volumes"), "{stderr}");
    assert!(!stderr.contains("nonexistent.sock"), "{stderr}");
}

#[test]
fn logs_shows_a_services_lines_and_follows_them() {
    let stack = Stack::new("log");
    let image = stack.image();
    stack.write(&format!(
        "  ticker:\n    image: {image}\n    command: [sh, -c, 'i=0; echo to stderr >&2; while true; do echo line $i; i=$((i+1)); sleep 0.2; done']\n    stop_grace_seconds: 1\n"
    ));
    assert_eq!(stack.actions(), ["create ticker"]);
    std::thread::sleep(Duration::from_secs(2));
    let logs = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
            .args([
                "logs",
                "ticker",
                "--stack",
                &stack.name,
                "--docker-host",
                "local",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let last = logs(&["--tail", "3"]);
    assert!(last.status.success(), "{last:?}");
    let text = String::from_utf8_lossy(&last.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().all(|l| l.starts_with("line ")), "{text}");
    let all = logs(&["--tail", "all", "--since", "1h"]);
    let text = String::from_utf8_lossy(&all.stdout);
    assert!(text.starts_with("line 0\n"), "{text}");
    assert!(
        String::from_utf8_lossy(&all.stderr).contains("to stderr"),
        "stderr stays stderr: {all:?}"
    );

    // --follow keeps going.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args([
            "logs",
            "ticker",
            "--stack",
            &stack.name,
            "--docker-host",
            "local",
            "--follow",
            "--tail",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    let followed = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&followed.stdout).lines().count();
    assert!(lines >= 4, "{lines} lines in 2 s of following");

    let unknown = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args([
            "logs",
            "nosuch",
            "--stack",
            &stack.name,
            "--docker-host",
            "local",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains(&format!(
            "the stack {} has no service nosuch on this engine; it has ticker",
            stack.name
        )),
        "{unknown:?}"
    );
    let bad = logs(&["--since", "soon"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--since soon"),
        "{bad:?}"
    );
}

#[test]
fn a_replacement_cut_short_is_finished_by_the_next_run_once_the_new_one_is_healthy() {
    let stack = Stack::new("cut");
    let image = stack.image();
    stack.write(&web(&image, "1", HEALTHY));
    assert_eq!(stack.actions(), ["create web"]);
    let old = stack.containers()["web"].clone();

    // Version 2 takes a few seconds to serve; the run is killed while it waits for it.
    let slow = web(&image, "2", HEALTHY)
        .replace(
            "exec /bin/busybox httpd",
            "sleep 4; exec /bin/busybox httpd",
        )
        .replace(
            "retries: 2\n",
            "retries: 2\n      start_period_seconds: 20\n",
        );
    stack.write(&slow);
    let mut run = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("reconcile")
        .arg(stack.path("stack.yaml"))
        .args(["--docker-host", "local", "--health-timeout", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while stack.count() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new container never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    assert_eq!(stack.count(), 2, "old and new side by side");

    // The killed run's lock is left behind, and named.
    let refused = stack.reconcile(&[]);
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains(&format!("docker rm {}-deploy-lock", stack.name)),
        "{refused:?}"
    );
    Command::new("docker")
        .args(["rm", "-f", &format!("{}-deploy-lock", stack.name)])
        .output()
        .unwrap();

    // The next run waits for the new one to be healthy, then retires the old.
    assert_eq!(stack.actions(), ["replace web"]);
    assert_eq!(stack.count(), 1);
    let end = stack.containers();
    assert_ne!(end["web"].0, old.0);
    assert_eq!(stack.health(&end["web"].0), "healthy");
    assert_eq!(stack.actions(), Vec::<String>::new());
}

// ---- networks: the Docker API behind a read-only proxy, the instance metadata for a few ----

/// Runs `command` in `container` (by the image's busybox): its output, whether or not it worked.
fn exec(container: &str, command: &str) -> Output {
    Command::new("docker")
        .args(["exec", container, "/bin/busybox", "sh", "-c", command])
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The socket proxy stand-in's image: Debian's HAProxy with the allow-list of the image
/// production runs (scripts/lib/docker-socket-proxy.cfg) and that image's defaults.
fn socket_proxy_image(tag: &str) -> String {
    // The defaults of github.com/Tecnativa/docker-socket-proxy's Dockerfile (v0.4.1).
    let defaults = "ALLOW_RESTARTS=0 ALLOW_STOP=0 ALLOW_START=0 AUTH=0 BUILD=0 COMMIT=0 CONFIGS=0 \
        CONTAINERS=0 DISTRIBUTION=0 EVENTS=1 EXEC=0 GRPC=0 IMAGES=0 INFO=0 NETWORKS=0 NODES=0 \
        PING=1 PLUGINS=0 POST=0 SECRETS=0 SERVICES=0 SESSION=0 SWARM=0 SYSTEM=0 TASKS=0 \
        VERSION=1 VOLUMES=0";
    common::haproxy_image(
        &format!("ledgerly-test-socket-proxy:{tag}"),
        include_str!("../../../scripts/lib/docker-socket-proxy.cfg"),
        &format!("ENV {defaults}\n"),
    )
}

#[test]
fn the_docker_api_is_read_through_the_proxy_by_its_client_alone() {
    let stack = Stack::new("sock");
    let image = stack.image();
    let proxy = socket_proxy_image(&stack.name);
    // The proxy as templates/stack.yaml has Traefik's (the same env; the template's own test
    // checks it there): on a network with no way out that only its client shares.
    std::fs::write(
        stack.path("stack.yaml"),
        format!(
            "stack: {name}
networks:
  docker-api: {{internal: true}}
services:
  docker-api:
    image: {proxy}
    networks: [docker-api]
    env: {{CONTAINERS: '1', EVENTS: '1', VERSION: '1', PING: '1', INFO: '0', POST: '0', DISABLE_IPV6: '1'}}
    volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro']
    stop_grace_seconds: 1
  client:
    image: {image}
    networks: [default, docker-api]
    command: [sleep, '3600']
    stop_grace_seconds: 1
  other:
    image: {image}
    command: [sleep, '3600']
    volumes: ['/:/rootfs:ro']
    masked: [/rootfs/run]
    stop_grace_seconds: 1
",
            name = stack.name
        ),
    )
    .unwrap();
    let mut actions = stack.actions();
    actions.sort();
    assert_eq!(
        actions,
        ["create client", "create docker-api", "create other"]
    );
    let containers = stack.containers();
    let client = &containers["client"].0;
    let other = &containers["other"].0;
    // The images' busybox is static, and glibc's resolver is not in a static binary: busybox's
    // own nslookup finds the proxy, and nc speaks HTTP/1.0 to it.
    let request = |container: &str, method: &str, path: &str, body: &str| {
        text(&exec(
            container,
            &format!(
                "proxy=$(nslookup docker-api 2>/dev/null | sed -n 's/^Address:[[:space:]]*\\([0-9.]*\\)$/\\1/p' | tail -n 1)
                 [ -n \"$proxy\" ] || {{ echo 'docker-api: no such name'; exit 1; }}
                 printf '{method} {path} HTTP/1.0\\r\\nHost: docker\\r\\nContent-Type: application/json\\r\\nContent-Length: {}\\r\\n\\r\\n{body}' | nc -w 5 \"$proxy\" 2375",
                body.len()
            ),
        ))
    };
    let get = |container: &str, path: &str| request(container, "GET", path, "");
    let ok = |reply: &str| reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200");
    // What Traefik reads: the containers with their labels, the version, events.
    let listed = get(client, "/v1.41/containers/json");
    assert!(ok(&listed), "{listed}");
    assert!(listed.contains(&containers["other"].1), "{listed}");
    for path in ["/version", "/_ping", &format!("/containers/{other}/json")] {
        let reply = get(client, path);
        assert!(ok(&reply), "{path}: {reply}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let events = get(client, &format!("/events?since={}&until={now}", now - 60));
    assert!(ok(&events), "{events}");
    // Any other read, and every write, refused by the proxy.
    for path in ["/info", "/images/json", "/volumes", "/networks", "/secrets"] {
        let reply = get(client, path);
        assert!(reply.starts_with("HTTP/1.1 403"), "{path}: {reply}");
    }
    for (path, body) in [
        ("/v1.41/containers/create?name=escape", r#"{"Image":"x"}"#),
        (&format!("/containers/{other}/stop") as &str, ""),
        (
            &format!("/containers/{other}/exec") as &str,
            r#"{"Cmd":["id"]}"#,
        ),
        ("/v1.41/images/create?fromImage=x", ""),
    ] {
        let reply = request(client, "POST", path, body);
        assert!(reply.starts_with("HTTP/1.1 403"), "POST {path}: {reply}");
    }
    let reply = request(
        client,
        "DELETE",
        &format!("/containers/{other}?force=1"),
        "",
    );
    assert!(reply.starts_with("HTTP/1.1 403"), "DELETE: {reply}");
    assert_eq!(stack.containers().len(), 3, "nothing was created");
    // Nothing else reaches the proxy: not by name, not by its address.
    let reply = get(other, "/_ping");
    assert!(reply.contains("docker-api: no such name"), "{reply}");
    let address = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &containers["docker-api"].0,
        ])
        .output()
        .unwrap();
    let address = String::from_utf8_lossy(&address.stdout).trim().to_owned();
    let reply = text(&exec(
        other,
        &format!(
            "printf 'GET /_ping HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} 2375; echo \" exit=$?\""
        ),
    ));
    assert!(!reply.contains("HTTP/1"), "{address}: {reply}");
    assert!(!reply.ends_with(" exit=0\n"), "{address}: {reply}");
    // A mount of the host's root does not bring the socket with it.
    let reply = text(&exec(
        other,
        "ls /rootfs/run/docker.sock /rootfs/var/run/docker.sock 2>&1; ls -d /rootfs/etc",
    ));
    assert!(!reply.contains("\n/rootfs/run/docker.sock"), "{reply}");
    assert!(reply.contains("No such file"), "{reply}");
    assert!(reply.contains("/rootfs/etc"), "{reply}");
    // The proxy's network goes with the stack's services.
    std::fs::write(
        stack.path("stack.yaml"),
        format!(
            "stack: {}\nservices:\n  other:\n    image: {image}\n    command: [sleep, '3600']\n    stop_grace_seconds: 1\n",
            stack.name
        ),
    )
    .unwrap();
    let mut actions = stack.actions();
    actions.sort();
    assert_eq!(
        actions,
        ["remove client", "remove docker-api", "replace other"]
    );
    let networks = Command::new("docker")
        .args(["network", "ls", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    let networks = String::from_utf8_lossy(&networks.stdout);
    assert!(
        !networks.contains(&format!("{}-docker-api", stack.name)),
        "{networks}"
    );
    Command::new("docker")
        .args(["rmi", "-f", &proxy])
        .output()
        .ok();
}

/// A stand-in for the instance metadata service: busybox httpd in a network namespace of its
/// own behind a veth pair, so that containers reach it through the host's FORWARD chain (where
/// Docker's DOCKER-USER rules apply) as they reach 169.254.169.254 on an instance. Removed,
/// with the guard's rules for it, when dropped.
struct MetadataStandIn {
    namespace: String,
    address: String,
    allowed: String,
    server: std::process::Child,
}

impl MetadataStandIn {
    fn start(allowed: &str) -> MetadataStandIn {
        let ip = |args: &[&str]| {
            let output = Command::new("ip").args(args).output().unwrap();
            assert!(
                output.status.success(),
                "ip {args:?} (the tests run as root to make network namespaces): {output:?}"
            );
        };
        let n = u8::try_from(uuid::Uuid::new_v4().as_u128() % 250).unwrap() + 1;
        let namespace = format!("ledgerly-imds-{n}");
        let (host, address) = (format!("10.250.{n}.1"), format!("10.250.{n}.2"));
        let (outside, inside) = (format!("lgimds{n}h"), format!("lgimds{n}n"));
        // Left by a run that was killed.
        for args in [["netns", "del", &namespace], ["link", "del", &outside]] {
            Command::new("ip").args(args).output().ok();
        }
        ip(&["netns", "add", &namespace]);
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", &inside,
        ]);
        ip(&["link", "set", &inside, "netns", &namespace]);
        ip(&["addr", "add", &format!("{host}/30"), "dev", &outside]);
        ip(&["link", "set", &outside, "up"]);
        let inner = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &namespace, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inner(&["addr", "add", &format!("{address}/30"), "dev", &inside]);
        inner(&["link", "set", &inside, "up"]);
        inner(&["link", "set", "lo", "up"]);
        inner(&["route", "add", "default", "via", &host]);
        let www = tempfile::tempdir().unwrap().keep();
        std::fs::write(www.join("index.html"), "metadata\n").unwrap();
        let server = Command::new("ip")
            .args(["netns", "exec", &namespace, "busybox", "httpd", "-f", "-p"])
            .arg(format!("{address}:80"))
            .arg("-h")
            .arg(&www)
            .spawn()
            .unwrap();
        MetadataStandIn {
            namespace,
            address,
            allowed: allowed.to_owned(),
            server,
        }
    }

    /// Runs the guard (templates/metadata-guard.sh, as user-data installs it) for the stand-in.
    fn guard(&self, remove: bool) {
        let mut command = Command::new("sh");
        command.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates/metadata-guard.sh"
        ));
        if remove {
            command.arg("--remove");
        }
        let output = command
            .args([&self.address, &self.allowed])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
    }
}

impl Drop for MetadataStandIn {
    fn drop(&mut self) {
        self.server.kill().ok();
        self.server.wait().ok();
        self.guard(true);
        Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output()
            .ok();
    }
}

#[test]
fn the_instance_metadata_is_refused_to_all_but_the_reserved_addresses() {
    let stack = Stack::new("imds");
    let image = stack.image();
    let n = uuid::Uuid::new_v4().as_u128() % 250 + 1;
    let subnet = format!("10.251.{n}.0/24");
    let reserved = format!("10.251.{n}.16/28");
    let standin = MetadataStandIn::start(&reserved);
    let probe = format!("echo | nc -w 3 {} 80", standin.address);
    let spec = |setting: &str| {
        format!(
            "stack: {name}
network: {{subnet: {subnet}, ip_range: 10.251.{n}.128/25}}
unreachable:
  metadata:
    from: other
    probe: [/bin/busybox, sh, -c, '{probe}']
    help: run the guard.
services:
  api:
    image: {image}
    command: [sleep, '3600']
    env: {{SETTING: '{setting}'}}
    address_range: {reserved}
    rolling: true
    stop_grace_seconds: 1
  other:
    image: {image}
    command: [sleep, '3600']
    stop_grace_seconds: 1
",
            name = stack.name
        )
    };
    let path = stack.path("stack.yaml");
    std::fs::write(&path, spec("a")).unwrap();

    // Without the host's rule the probe gets through: nothing is started.
    let refused = stack.reconcile(&[]);
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("metadata is reachable from the stack's containers")
            && stderr.contains("run the guard.")
            && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(stack.count(), 0);

    // With it (set twice: the second time changes nothing), the run goes ahead.
    standin.guard(false);
    standin.guard(false);
    let rules = Command::new("iptables")
        .args(["-w", "-S", "DOCKER-USER"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert_eq!(
        rules.matches(&format!("-d {}/32", standin.address)).count(),
        1,
        "{rules}"
    );
    let mut actions = stack.actions();
    actions.sort();
    assert_eq!(actions, ["create api", "create other"]);
    let address = |container: &str| {
        let output = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                container,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let first = stack.containers();
    assert_eq!(address(&first["api"].0), format!("10.251.{n}.16"));
    let ordinary = address(&first["other"].0);
    let last: u8 = ordinary.rsplit('.').next().unwrap().parse().unwrap();
    assert!(last >= 128, "{ordinary} is from the engine's range");
    // The API reaches the stand-in; the other service is refused at once.
    let api = exec(&first["api"].0, &probe);
    assert!(api.status.success(), "{api:?}");
    let other = exec(&first["other"].0, &probe);
    assert!(!other.status.success(), "{other:?}");
    assert!(text(&other).contains("refused"), "{other:?}");

    // Replaced, the API's new container takes the next address of the block while the old one
    // still holds its own, and reaches the stand-in too.
    std::fs::write(&path, spec("b")).unwrap();
    assert_eq!(stack.actions(), ["replace api"]);
    let second = stack.containers();
    assert_eq!(address(&second["api"].0), format!("10.251.{n}.17"));
    let api = exec(&second["api"].0, &probe);
    assert!(api.status.success(), "{api:?}");
    // Its address survives a restart.
    let restarted = Command::new("docker")
        .args(["restart", "-t", "0", &second["api"].0])
        .output()
        .unwrap();
    assert!(restarted.status.success(), "{restarted:?}");
    assert_eq!(address(&second["api"].0), format!("10.251.{n}.17"));
}
