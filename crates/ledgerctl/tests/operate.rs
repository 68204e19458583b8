//! The operator's commands on this machine's Docker engine (`--docker-host local`), with stacks
//! of small images made in the test from Debian's static busybox (no pull), brought up by
//! `ledgerctl reconcile`: `exec` (output, exit code, standard input), `restart` (in place, and a
//! rolling service with no downtime), `prune` (what goes, what stays, `--dry-run`), `lock
//! status|release`, and `logs` of several services at once.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::Stack;

/// The operate tests' stacks: removed with everything they made (their images too) when dropped,
/// however the test ended.
impl Stack {
    fn new(prefix: &str) -> Stack {
        let stack = Stack::named(prefix);
        let context = stack.path("image");
        std::fs::create_dir_all(context.join("www")).unwrap();
        std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
        std::fs::write(context.join("www/index.html"), "ok\n").unwrap();
        // For `invite`: a `ledgerly-api` that says what it was asked (the real command is tested
        // with the API) as the real one says when the invite lasts, and fails as it does for a
        // refused note.
        let script = context.join("ledgerly-api");
        std::fs::write(
            &script,
            "#!/bin/busybox sh\n\
             case \"$*\" in *refuse*) echo 'Error: note: no control characters' >&2; exit 1;; esac\n\
             echo \"asked: $*\" >&2\n\
             echo 'The invite registers one account, until 2026-12-13 10:00 UTC.' >&2\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www/ /www/\n\
             COPY ledgerly-api /usr/local/bin/ledgerly-api\nENTRYPOINT [\"/bin/busybox\"]\n",
        )
        .unwrap();
        build(&context, &stack.image());
        stack
    }

    /// The busybox image built for it.
    fn image(&self) -> String {
        format!("ledgerly-test-busybox:{}", self.name)
    }

    /// The repository of the images the prune test builds for it.
    fn repository(&self) -> String {
        format!("ledgerly-test-prune-{}", self.name)
    }

    /// Writes the spec with `services` (YAML, indented under `services:`) and reconciles it.
    fn up(&self, services: &str) {
        std::fs::write(
            self.path("stack.yaml"),
            format!("stack: {}\nservices:\n{services}", self.name),
        )
        .unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
            .arg("reconcile")
            .arg(self.path("stack.yaml"))
            .args(["--docker-host", "local", "--health-timeout", "30"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "reconcile: {output:?}");
    }

    /// `ledgerctl <command> <args> --stack <name> --docker-host local <after>`: `after` is what
    /// goes after the flags (exec's `-- command…`).
    fn ledgerctl(&self, command: &[&str], after: &[&str]) -> Command {
        let mut ledgerctl = Command::new(env!("CARGO_BIN_EXE_ledgerctl"));
        ledgerctl
            .args(command)
            .args(["--stack", &self.name, "--docker-host", "local"])
            .args(after)
            .current_dir(self.dir.path())
            .env_remove("LEDGERLY_STACK_CONFIG")
            .env("RUST_LOG", "warn");
        ledgerctl
    }

    fn run(&self, command: &[&str], after: &[&str]) -> Output {
        self.ledgerctl(command, after).output().unwrap()
    }

    /// The id of `service`'s container (the one there is), and how the engine sees it.
    fn inspect(&self, service: &str) -> Value {
        let id = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=ledgerly.stack={}", self.name),
            "--filter",
            &format!("label=ledgerly.service={service}"),
        ]);
        assert_eq!(id.lines().count(), 1, "one container of {service}: {id}");
        let inspected: Value = serde_json::from_str(&docker(&["inspect", &id])).unwrap();
        inspected[0].clone()
    }

    /// The lock container as a run makes it, with its lease running out at `lease` (Unix
    /// seconds).
    fn hold_lock(&self, owner: &str, lease: i64) {
        let lock = format!("{}-deploy-lock", self.name);
        docker(&[
            "create",
            "--name",
            &lock,
            "--label",
            &format!("ledgerly.stack={}", self.name),
            "--label",
            &format!("ledgerly.lock={owner}"),
            &self.image(),
            "lock",
        ]);
        let file = self.path("ledgerly-lease");
        std::fs::write(&file, format!("{lease}\n")).unwrap();
        docker(&[
            "cp",
            file.to_str().unwrap(),
            &format!("{lock}:/ledgerly-lease"),
        ]);
    }

    fn lock_exists(&self) -> bool {
        Command::new("docker")
            .args(["inspect", &format!("{}-deploy-lock", self.name)])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        common::remove_stack(&self.name);
        let mut images = vec![self.image()];
        if let Ok(output) = Command::new("docker")
            .args(["images", "-q", &self.repository()])
            .output()
        {
            images.extend(
                String::from_utf8_lossy(&output.stdout)
                    .split_whitespace()
                    .map(str::to_owned),
            );
        }
        for image in images {
            Command::new("docker")
                .args(["rmi", "-f", &image])
                .output()
                .ok();
        }
    }
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(output.status.success(), "docker {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn build(context: &std::path::Path, tag: &str) {
    let built = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(context)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "building {tag} (apt install busybox-static): {built:?}"
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

/// A service that sleeps, and stops at once.
fn sleeper(name: &str, image: &str) -> String {
    format!(
        "  {name}:\n    image: {image}\n    command: [sleep, '3600']\n    stop_grace_seconds: 1\n"
    )
}

const HEALTHY: &str = "[CMD, /bin/busybox, wget, -q, -O, /dev/null, 'http://127.0.0.1:8080/']";

/// A rolling web service that turns healthy within a few seconds.
fn web(image: &str) -> String {
    format!(
        "  web:\n    image: {image}\n    command: [httpd, -f, -p, '8080', -h, /www]\n    rolling: true\n    stop_grace_seconds: 1\n    health:\n      test: {HEALTHY}\n      interval_seconds: 1\n      timeout_seconds: 1\n      retries: 2\n"
    )
}

// ---- invite ----

#[test]
fn invite_records_the_hash_of_a_secret_made_here_and_prints_the_link() {
    let stack = Stack::new("inv");
    stack.up(&sleeper("api", &stack.image()));

    let made = stack.run(&["invite", "--days", "3", "--note", "Asha Rao"], &[]);
    assert!(made.status.success(), "{made:?}");
    // The link with the secret made here; the server was given only its SHA-256.
    let link = stdout(&made);
    let secret = link
        .trim_end()
        .strip_prefix("/?invite=")
        .unwrap_or_else(|| panic!("not a link: {link}"));
    assert!(secret.len() >= 40, "{link}");
    let hash: String = <sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let said = stderr(&made);
    assert!(
        said.contains(&format!(
            "asked: invite --days 3 --secret-sha256 {hash} --note Asha Rao"
        )),
        "{made:?}"
    );
    assert!(!said.contains(secret), "{made:?}");
    assert!(said.contains("registers one account, until"), "{made:?}");

    // Refused in the container: its reason and a failing exit.
    let refused = stack.run(&["invite", "--note", "refuse"], &[]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("`ledgerly-api invite` failed in the api container")
            && stderr(&refused).contains("no control characters"),
        "{refused:?}"
    );
    // Refused before: days out of range.
    let refused = stack.run(&["invite", "--days", "40"], &[]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stderr(&refused).contains("give 1 to 30 days"),
        "{refused:?}"
    );
}

// ---- exec ----

#[test]
fn exec_passes_on_the_command_s_output_and_exit_code() {
    let stack = Stack::new("exe");
    stack.up(&sleeper("svc", &stack.image()));

    let ran = stack.run(
        &["exec", "svc"],
        &[
            "--",
            "/bin/busybox",
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 3",
        ],
    );
    assert_eq!(ran.status.code(), Some(3), "{ran:?}");
    assert_eq!(stdout(&ran), "hi\n");
    assert!(
        stderr(&ran).contains("oops"),
        "stderr stays stderr: {ran:?}"
    );

    let set = stack.run(
        &[
            "exec",
            "svc",
            "-e",
            "GREETING=hello there",
            "--workdir",
            "/www",
        ],
        &["--", "/bin/busybox", "sh", "-c", "echo $GREETING; pwd"],
    );
    assert!(set.status.success(), "{set:?}");
    assert_eq!(stdout(&set), "hello there\n/www\n");

    let unknown = stack.run(&["exec", "nosuch"], &["--", "/bin/busybox", "true"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains(&format!(
            "the stack {} has no service nosuch on this engine; it has svc",
            stack.name
        )),
        "{unknown:?}"
    );
}

#[test]
fn exec_forwards_standard_input_until_it_ends() {
    let stack = Stack::new("exi");
    stack.up(&sleeper("svc", &stack.image()));
    let mut child = stack
        .ledgerctl(
            &["exec", "svc"],
            &["--", "/bin/busybox", "sh", "-c", "cat; echo done"],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"line one\nline two\n").unwrap();
    // Closed: the command's cat sees its input end.
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "line one\nline two\ndone\n");
}

// ---- restart ----

#[test]
fn restart_starts_a_service_again_in_place_and_waits_for_no_lock_it_cannot_have() {
    let stack = Stack::new("rst");
    stack.up(&sleeper("worker", &stack.image()));
    let before = stack.inspect("worker");

    let restarted = stack.run(&["restart", "worker", "--stop-timeout", "1s"], &[]);
    assert!(restarted.status.success(), "{restarted:?}");
    assert!(
        stdout(&restarted).contains("~ worker restarted in place"),
        "{restarted:?}"
    );
    let after = stack.inspect("worker");
    assert_eq!(after["Id"], before["Id"], "the same container");
    assert_ne!(
        after["State"]["StartedAt"], before["State"]["StartedAt"],
        "started again"
    );
    assert_eq!(after["State"]["Running"], true);
    assert!(!stack.lock_exists(), "the lock is released after");

    // Another run holds the lock: nothing is done, and its holder is named.
    stack.hold_lock("ops@laptop pid 4242", unix_now() + 600);
    let refused = stack.run(&["restart", "worker", "--stop-timeout", "1s"], &[]);
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr(&refused).contains("holds the lock (ops@laptop pid 4242;"),
        "{refused:?}"
    );
    assert_eq!(
        stack.inspect("worker")["State"]["StartedAt"],
        after["State"]["StartedAt"],
        "not restarted"
    );
}

#[test]
fn restart_replaces_a_rolling_service_healthy_first_from_its_spec() {
    let stack = Stack::new("rol");
    stack.up(&web(&stack.image()));
    let before = stack.inspect("web");

    // Without the spec it was made from, only in place.
    let refused = stack.run(&["restart", "web"], &[]);
    assert!(!refused.status.success(), "{refused:?}");
    let said = stderr(&refused);
    assert!(
        said.contains("rolling service") && said.contains("--spec") && said.contains("--in-place"),
        "{said}"
    );

    let spec = stack.path("stack.yaml");
    let restarted = stack.run(
        &[
            "restart",
            "web",
            "--spec",
            spec.to_str().unwrap(),
            "--health-timeout",
            "30s",
            "--output",
            "json",
        ],
        &[],
    );
    assert!(restarted.status.success(), "{restarted:?}");
    let report: Value = serde_json::from_slice(&restarted.stdout).unwrap();
    assert_eq!(report["how"], "rolling", "{report}");
    let after = stack.inspect("web");
    assert_ne!(after["Id"], before["Id"], "a new container");
    assert_eq!(
        after["Name"].as_str().unwrap().trim_start_matches('/'),
        report["replacement"].as_str().unwrap()
    );
    assert_eq!(after["State"]["Health"]["Status"], "healthy");
    assert_eq!(
        after["Config"]["Labels"]["ledgerly.config-hash"],
        before["Config"]["Labels"]["ledgerly.config-hash"],
        "the very same configuration"
    );

    // A later reconcile finds nothing to do.
    let again = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .arg("reconcile")
        .arg(&spec)
        .args(["--docker-host", "local"])
        .output()
        .unwrap();
    assert!(stdout(&again).contains("no changes"), "{again:?}");

    let in_place = stack.run(
        &["restart", "web", "--in-place", "--stop-timeout", "1s"],
        &[],
    );
    assert!(in_place.status.success(), "{in_place:?}");
    assert_eq!(stack.inspect("web")["Id"], after["Id"]);
}

// ---- prune ----

/// Builds `<repository>:<tag>` for the stack: busybox and a file naming the tag, so each is an
/// image of its own.
fn tagged_image(stack: &Stack, tag: &str) -> String {
    let context = stack.path(&format!("prune-{tag}"));
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    std::fs::write(context.join("version"), tag).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY version /version\nENTRYPOINT [\"/bin/busybox\"]\n",
    )
    .unwrap();
    let reference = format!("{}:{tag}", stack.repository());
    build(&context, &reference);
    reference
}

fn image_exists(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .unwrap()
        .status
        .success()
}

fn container_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn prune_removes_stopped_containers_and_old_images_and_keeps_what_is_used() {
    let stack = Stack::new("prn");
    let other = Stack::named("prn-other");
    // Four releases, a second apart (creation times are in seconds).
    let versions: Vec<String> = ["v1", "v2", "v3", "v4"]
        .iter()
        .map(|tag| {
            let reference = tagged_image(&stack, tag);
            std::thread::sleep(Duration::from_millis(1_100));
            reference
        })
        .collect();
    stack.up(&sleeper("app", &versions[3]));
    // A one-shot run of the stack that ended, on the oldest release.
    let job = format!("{}-job", stack.name);
    docker(&[
        "create",
        "--name",
        &job,
        "--label",
        &format!("ledgerly.stack={}", stack.name),
        "--label",
        "ledgerly.service=job",
        &versions[0],
        "true",
    ]);
    docker(&["start", "-a", &job]);
    // Another stack's stopped container, on the second release.
    let others = format!("{}-stopped", other.name);
    docker(&[
        "create",
        "--name",
        &others,
        "--label",
        &format!("ledgerly.stack={}", other.name),
        &versions[1],
        "true",
    ]);

    let dry = stack.run(
        &["prune", "--keep", "1", "--dry-run", "--output", "json"],
        &[],
    );
    assert!(dry.status.success(), "{dry:?}");
    let planned: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let names = |report: &Value, key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&planned, "containers"), std::slice::from_ref(&job));
    let images = names(&planned, "images");
    assert!(
        images.contains(&versions[0]) && images.contains(&versions[2]),
        "{planned}"
    );
    assert!(
        !images.contains(&versions[1]) && !images.contains(&versions[3]),
        "{planned}"
    );
    // Nothing changed.
    assert!(container_exists(&job));
    assert!(versions.iter().all(|v| image_exists(v)));

    let pruned = stack.run(&["prune", "--keep", "1", "--output", "json"], &[]);
    assert!(pruned.status.success(), "{pruned:?}");
    let report: Value = serde_json::from_slice(&pruned.stdout).unwrap();
    assert_eq!(
        names(&report, "containers"),
        std::slice::from_ref(&job),
        "{report}"
    );
    assert!(report["bytes"].as_u64().unwrap() > 0, "{report}");
    assert!(!container_exists(&job), "the stopped container is gone");
    assert!(!image_exists(&versions[0]), "freed by the run's removal");
    assert!(
        image_exists(&versions[1]),
        "another stack's container uses it"
    );
    assert!(!image_exists(&versions[2]), "old and unused");
    assert!(image_exists(&versions[3]), "in use, and the newest");
    assert!(container_exists(&others), "another stack's container stays");
    assert_eq!(stack.inspect("app")["State"]["Running"], true);
    assert!(!stack.lock_exists(), "the lock is released after");

    let text = stack.run(&["prune", "--keep", "1"], &[]);
    assert!(text.status.success(), "{text:?}");
    assert!(
        stdout(&text).contains(&format!("Nothing to remove from {}.", stack.name))
            || stdout(&text).contains("dangling image"),
        "{text:?}"
    );
    assert!(
        stdout(&text).contains("The engine's disk use now:"),
        "{text:?}"
    );
}

// ---- lock ----

#[test]
fn lock_status_names_the_holder_and_release_needs_a_yes_or_force() {
    let stack = Stack::new("lok");
    let free = stack.run(&["lock", "status"], &[]);
    assert!(free.status.success(), "{free:?}");
    assert_eq!(
        stdout(&free),
        format!("The deploy lock of {} is not held.\n", stack.name)
    );

    stack.hold_lock("ops@laptop pid 4242", unix_now() + 600);
    let held = stack.run(&["lock", "status"], &[]);
    let text = stdout(&held);
    assert!(
        text.contains(&format!(
            "The deploy lock of {} is held by ops@laptop pid 4242",
            stack.name
        )) && text.contains("its lease runs out in"),
        "{text}"
    );
    let json = stack.run(&["lock", "status", "--output", "json"], &[]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["held"], true);
    assert_eq!(report["owner"], "ops@laptop pid 4242");
    assert_eq!(report["expired"], false);
    for time in ["since", "expires"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(report[time].as_str().unwrap()).is_ok(),
            "{report}"
        );
    }

    // Not at a terminal, without --force: refused, the lock left alone.
    let refused = stack.run(&["lock", "release"], &[]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let said = stderr(&refused);
    assert!(
        said.contains("ops@laptop pid 4242") && said.contains("--force"),
        "{said}"
    );
    assert!(stack.lock_exists());

    let released = stack.run(&["lock", "release", "--force"], &[]);
    assert!(released.status.success(), "{released:?}");
    assert!(
        stdout(&released).contains(&format!(
            "Released the deploy lock of {}, held by ops@laptop pid 4242 since ",
            stack.name
        )),
        "{released:?}"
    );
    assert!(!stack.lock_exists());
    let again = stack.run(&["lock", "release", "--force"], &[]);
    assert!(
        stdout(&again).contains("is not held: nothing to release"),
        "{again:?}"
    );
}

// ---- logs ----

#[test]
fn logs_of_several_services_are_prefixed_grepped_and_timestamped() {
    let stack = Stack::new("lgs");
    let image = stack.image();
    stack.up(&format!(
        "  alpha:\n    image: {image}\n    command: [sh, -c, 'echo alpha to stderr >&2; i=0; while true; do echo alpha $i; i=$((i+1)); sleep 0.2; done']\n    stop_grace_seconds: 1\n  \
         beta-longer:\n    image: {image}\n    command: [sh, -c, 'i=0; while true; do echo beta fine $i; echo beta ERROR $i; i=$((i+1)); sleep 0.2; done']\n    stop_grace_seconds: 1\n"
    ));
    std::thread::sleep(Duration::from_secs(2));

    let both = stack.run(&["logs", "alpha", "beta-longer", "--tail", "4"], &[]);
    assert!(both.status.success(), "{both:?}");
    let out = stdout(&both);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "four of each: {out}");
    let of = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        of("alpha       | alpha "),
        4,
        "padded to the longest name: {out}"
    );
    assert_eq!(of("beta-longer | beta "), 4, "{out}");

    let everything = stack.run(&["logs", "--all", "--tail", "all"], &[]);
    assert!(
        stderr(&everything).contains("alpha       | alpha to stderr\n"),
        "stderr stays stderr, prefixed: {everything:?}"
    );

    let grepped = stack.run(&["logs", "--all", "--tail", "10", "--grep", "ERROR"], &[]);
    assert!(grepped.status.success(), "{grepped:?}");
    let out = stdout(&grepped);
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(
        out.lines()
            .all(|l| l.starts_with("beta-longer | beta ERROR ")),
        "{out}"
    );

    let timed = stack.run(&["logs", "alpha", "--tail", "2", "--timestamps"], &[]);
    assert!(timed.status.success(), "{timed:?}");
    let out = stdout(&timed);
    assert_eq!(out.lines().count(), 2, "{out}");
    for line in out.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok(),
            "an RFC 3339 time first: {line}"
        );
        assert!(rest.starts_with("alpha "), "{line}");
    }

    let none = stack.run(&["logs"], &[]);
    assert!(
        stderr(&none).contains("name the services whose logs to show, or --all")
            && stderr(&none).contains("alpha, beta-longer"),
        "{none:?}"
    );
}
