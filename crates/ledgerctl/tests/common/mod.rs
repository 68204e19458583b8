//! What several of ledgerctl's test files need: the services `scripts/test` starts, the
//! workspace's binaries, free ports, and removing what a stack left on the engine.

// Each test file uses some of these.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A variable `scripts/test` sets for the services it starts.
pub(crate) fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test, which starts the emulator, registry and test sshd")
    })
}

/// The AWS emulator `scripts/test` starts.
pub(crate) fn aws_endpoint() -> String {
    env("LEDGERLY_TEST_AWS_ENDPOINT")
}

/// SDK configuration for the emulator.
pub(crate) async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(aws_endpoint())
        .load()
        .await
}

/// The stack's SSM parameter `/<stack>/<name>` in the emulator, decrypted.
pub(crate) async fn stack_parameter(stack: &str, name: &str) -> aws_sdk_ssm::types::Parameter {
    aws_sdk_ssm::Client::new(&aws().await)
        .get_parameter()
        .name(format!("/{stack}/{name}"))
        .with_decryption(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading /{stack}/{name}: {e:?}"))
        .parameter
        .unwrap()
}

/// A name of the test's own: `<prefix>-` and eight hex digits.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A stack of the test's own: a name no other test uses and a folder for its files, removed
/// with it. Each test file adds what its stacks need.
pub(crate) struct Stack {
    pub(crate) name: String,
    pub(crate) dir: tempfile::TempDir,
}

impl Stack {
    pub(crate) fn named(prefix: &str) -> Stack {
        Stack {
            name: unique_name(prefix),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A file in the stack's folder.
    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// `ledgerctl <args>` with the stack file `ledgerly.yaml` and the AWS emulator.
    pub(crate) fn ledgerctl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledgerctl"));
        command
            .args(args)
            .arg("--config")
            .arg(self.path("ledgerly.yaml"))
            .arg("--endpoint-url")
            .arg(aws_endpoint());
        command
    }
}

/// A report's list `key` as lines: each entry's `fields`, joined by spaces (`create api`).
pub(crate) fn report_lines(report: &serde_json::Value, key: &str, fields: &[&str]) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no list {key}: {report}"))
        .iter()
        .map(|entry| {
            fields
                .iter()
                .map(|field| entry[field].as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Asserts that reading `what` fails: it is gone (or was never made).
pub(crate) async fn assert_absent<T: std::fmt::Debug, E>(
    what: impl std::fmt::Display,
    read: impl std::future::Future<Output = Result<T, E>>,
) {
    if let Ok(found) = read.await {
        panic!("{what} is still there: {found:?}");
    }
}

/// Where the workspace's binaries are: beside this test's ledgerctl.
pub(crate) fn binaries() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_ledgerctl"))
        .parent()
        .unwrap()
        .to_owned();
    for binary in ["ledgerly-api", "ledgerly-ocr"] {
        assert!(
            dir.join(binary).is_file(),
            "{} is missing: build the workspace's binaries (cargo build --workspace --bins)",
            dir.join(binary).display()
        );
    }
    dir
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test sshd as an engine address: `ssh://user@127.0.0.1:port`.
pub(crate) fn ssh_host() -> String {
    format!("ssh://{}", env("LEDGERLY_TEST_SSH"))
}

/// `--ssh-key` and `--ssh-known-hosts` for the test sshd.
pub(crate) fn ssh_key_args() -> [String; 4] {
    [
        "--ssh-key".into(),
        env("LEDGERLY_TEST_SSH_KEY"),
        "--ssh-known-hosts".into(),
        env("LEDGERLY_TEST_SSH_KNOWN_HOSTS"),
    ]
}

/// Removes a stack's containers (the lock among them), network and volumes from this machine's
/// engine, whatever state they are in.
pub(crate) fn remove_stack(stack: &str) {
    let listed = |args: &[&str]| {
        let output = Command::new("docker").args(args).output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let label = format!("label=ledgerly.stack={stack}");
    for id in listed(&["ps", "-aq", "--filter", &label]) {
        Command::new("docker").args(["rm", "-f", &id]).output().ok();
    }
    for network in listed(&["network", "ls", "-q", "--filter", &label]) {
        Command::new("docker")
            .args(["network", "rm", &network])
            .output()
            .ok();
    }
    Command::new("docker")
        .args(["network", "rm", stack])
        .output()
        .ok();
    for volume in listed(&["volume", "ls", "-q", "--filter", &label]) {
        Command::new("docker")
            .args(["volume", "rm", "-f", &volume])
            .output()
            .ok();
    }
}

/// The shared libraries `ldd` names for `binary`, the loader included.
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(binary).output().unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// An image `image` of this machine's HAProxy with `config` as /etc/haproxy.cfg and the
/// Dockerfile lines `extra` (e.g. `ENV …`): from the binary and what it loads, no base image.
pub(crate) fn haproxy_image(image: &str, config: &str, extra: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let binary = Path::new("/usr/sbin/haproxy");
    assert!(
        binary.is_file(),
        "HAProxy is missing: scripts/test installs it (apt-get install haproxy)"
    );
    for file in std::iter::once(binary.to_owned()).chain(libraries(binary)) {
        let target = rootfs.join(file.strip_prefix("/").unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/haproxy.cfg"), config).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY rootfs/ /\n{extra}ENTRYPOINT [\"/usr/sbin/haproxy\", \"-db\", \"-f\", \"/etc/haproxy.cfg\"]\n"
        ),
    )
    .unwrap();
    let built = Command::new("docker")
        .args(["build", "-q", "-t", image])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "building {image}: {built:?}");
    image.to_owned()
}

/// Checks a status report against docs/status.schema.json with the jsonschema package
/// `scripts/test` installs (LEDGERLY_TEST_PYTHON).
pub(crate) fn validate_status(report: &serde_json::Value) {
    use std::io::Write as _;
    let python = env("LEDGERLY_TEST_PYTHON");
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/status.schema.json");
    let mut child = Command::new(python)
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             jsonschema.Draft202012Validator(schema).validate(json.load(sys.stdin))",
            schema,
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(report.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the status report does not match docs/status.schema.json: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Serves one file over HTTP on loopback, as AWS serves the RDS certificate bundle; what it
/// serves can be changed.
pub(crate) struct FileServer {
    pub(crate) url: String,
    body: Arc<Mutex<String>>,
}

impl FileServer {
    pub(crate) fn start(body: String) -> FileServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/global/global-bundle.pem",
            listener.local_addr().unwrap()
        );
        let body = Arc::new(Mutex::new(body));
        let serving = Arc::clone(&body);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = serving.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FileServer { url, body }
    }

    pub(crate) fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }
}
