//! The ops instance's stack on an ECS stack (`templates/monitoring.yaml`): the monitoring alone,
//! its Prometheus configuration valid for promtool, and that configuration finding the API's
//! tasks the way it will on AWS — by the A records of their Cloud Map name — from a DNS server
//! run here, with the alert rules following tasks as they come and go.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tests::values;
use super::{OPS_INSTANCE, monitoring, render};
use crate::aws::elb::target_group::API_PORT;
use crate::docker::spec::StackSpec;

fn spec() -> StackSpec {
    render(OPS_INSTANCE, "templates/monitoring.yaml", &values()).unwrap()
}

/// The rendered Prometheus configuration and rules, written to a new folder.
fn prometheus_files(spec: &StackSpec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = &spec.services["prometheus"].files;
    for name in ["prometheus.yml", "alerts.yml"] {
        std::fs::write(
            dir.path().join(name),
            &files[&format!("/etc/prometheus/{name}")],
        )
        .unwrap();
    }
    dir
}

#[test]
fn the_ops_instance_runs_the_monitoring_and_nothing_of_the_api() {
    let spec = spec();
    let names: BTreeSet<&str> = spec.services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "alb-logs",
            "cadvisor",
            "docker-api-cadvisor",
            "goaccess",
            "goaccess-web",
            "grafana",
            "node-exporter",
            "prometheus",
        ])
    );
    assert!(spec.migrate.is_none(), "migrations run as an ECS task");
    for (name, service) in &spec.services {
        for port in &service.ports {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name} publishes {port} beyond the loopback"
            );
        }
    }
    // The log mirror alone reaches the instance role's credentials.
    let metadata: Vec<&str> = spec
        .services
        .iter()
        .filter(|(_, s)| s.address_range.is_some())
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(metadata, ["alb-logs"]);
    assert_eq!(
        spec.services["alb-logs"].address_range.as_deref(),
        Some(values().network.metadata_range)
    );
    assert!(spec.unreachable.contains_key("instance-metadata"));
    assert_eq!(
        spec.services["alb-logs"].env["ACCESS_LOGS"],
        values().access_logs
    );
    // The same rules and dashboards as the instance topology's.
    let files = &spec.services["prometheus"].files;
    assert_eq!(
        files["/etc/prometheus/alerts.yml"],
        monitoring()["prometheus/alerts.yml"]
    );
    let grafana = &spec.services["grafana"].files;
    for name in ["api", "ocr", "host", "containers"] {
        assert_eq!(
            grafana[&format!("/etc/grafana/dashboards/{name}.json")],
            monitoring()[&format!("grafana/dashboards/{name}.json")]
        );
    }
    assert_eq!(
        spec.services["goaccess"].files["/etc/goaccess/alb-report.sh"],
        monitoring()["goaccess/alb-report.sh"]
    );
}

#[test]
fn prometheus_looks_the_tasks_up_by_their_cloud_map_name_and_passes_promtool() {
    let spec = spec();
    let config: yaml_serde::Value =
        yaml_serde::from_str(&spec.services["prometheus"].files["/etc/prometheus/prometheus.yml"])
            .unwrap();
    let api = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| job["job_name"] == "api")
        .unwrap();
    let discovery = &api["dns_sd_configs"][0];
    assert_eq!(discovery["names"][0], values().api_tasks.as_str());
    assert_eq!(discovery["type"], "A");
    assert_eq!(discovery["port"].as_i64(), Some(i64::from(API_PORT)));

    let dir = prometheus_files(&spec);
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["check", "rules", "alerts.yml"][..],
    ] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| {
                panic!("promtool: {e}; run the suite with scripts/test, which installs it")
            });
        assert!(output.status.success(), "promtool {args:?}: {output:?}");
    }
}

/// A DNS server answering A queries for one name with the addresses it is given (none: an
/// empty answer, as Route 53 gives for a Cloud Map service without a healthy task), and
/// NXDOMAIN for any other name.
struct DnsServer {
    addresses: Arc<Mutex<Vec<Ipv4Addr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    fn start(bind: Ipv4Addr, name: &str) -> Self {
        let socket = UdpSocket::bind((bind, 53)).unwrap_or_else(|e| {
            panic!("binding {bind}:53: {e}; the discovery test runs as root, as the suite does")
        });
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addresses = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (answers, stopped, name) = (addresses.clone(), stop.clone(), name.to_lowercase());
        let thread = std::thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((length, peer)) = socket.recv_from(&mut buffer) else {
                    continue;
                };
                let current = answers.lock().unwrap().clone();
                if let Some(reply) = answer(&buffer[..length], &name, &current) {
                    socket.send_to(&reply, peer).ok();
                }
            }
        });
        Self {
            addresses,
            stop,
            thread: Some(thread),
        }
    }

    fn answer_with(&self, addresses: &[Ipv4Addr]) {
        *self.addresses.lock().unwrap() = addresses.to_vec();
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// The reply to the DNS query `query` (RFC 1035 §4.1); `None` for what is not a query.
fn answer(query: &[u8], name: &str, addresses: &[Ipv4Addr]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let length = usize::from(*query.get(at)?);
        at += 1;
        if length == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + length)?).to_lowercase());
        at += length;
    }
    let question = query.get(12..at + 4)?;
    let kind = u16::from_be_bytes([query[at], query[at + 1]]);
    let known = labels.join(".") == name;
    let records: &[Ipv4Addr] = if known && kind == 1 { addresses } else { &[] };
    let mut reply = Vec::with_capacity(512);
    reply.extend_from_slice(&query[..2]);
    // A response, authoritative, recursion desired as asked and available; NXDOMAIN for a
    // name it does not have.
    reply.push(0x84 | (query[2] & 0x01));
    reply.push(if known { 0x80 } else { 0x83 });
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&u16::try_from(records.len()).ok()?.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(question);
    for address in records {
        // The name by a pointer to the question's, type A, class IN, a 1 s TTL, 4 bytes.
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4]);
        reply.extend_from_slice(&address.octets());
    }
    Some(reply)
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The workspace's `ledgerly-api`, built beside the tests.
fn api_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("ledgerly-api"))
        .unwrap();
    assert!(
        binary.is_file(),
        "{} is missing: build the workspace's binaries first (scripts/test does)",
        binary.display()
    );
    binary
}

/// An API on `address:port` with a database of its own.
fn start_api(address: Ipv4Addr, port: u16, data: &Path) -> Running {
    Running(
        Command::new(api_binary())
            .current_dir(data)
            .env("LEDGERLY__SERVER__BIND", address.to_string())
            .env("LEDGERLY__SERVER__PORT", port.to_string())
            .env("LEDGERLY__DATABASE__URL", "sqlite://ledgerly.db")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A port free on every one of `addresses`.
fn free_port_on(addresses: &[Ipv4Addr]) -> u16 {
    loop {
        let first = TcpListener::bind((addresses[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        if addresses[1..]
            .iter()
            .all(|a| TcpListener::bind((*a, port)).is_ok())
        {
            return port;
        }
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(90), "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Prometheus's answer to `path` with `query`, or null while it does not answer.
async fn ask(client: &reqwest::Client, url: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let Ok(response) = client.get(format!("{url}{path}")).query(query).send().await else {
        return Value::Null;
    };
    response.json().await.unwrap_or(Value::Null)
}

/// The instances `up{job="api"}` has, with their values.
async fn api_targets(client: &reqwest::Client, url: &str) -> Vec<(String, String)> {
    let answer = ask(
        client,
        url,
        "/api/v1/query",
        &[("query", r#"up{job="api"}"#)],
    )
    .await;
    let mut targets: Vec<(String, String)> = answer["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                r["value"][1].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    targets.sort();
    targets
}

/// The labels of the LedgerlyApiDown alerts, pending or firing.
async fn api_down(client: &reqwest::Client, url: &str) -> Option<Vec<Value>> {
    let alerts = ask(client, url, "/api/v1/alerts", &[]).await;
    let all = alerts["data"]["alerts"].as_array()?;
    Some(
        all.iter()
            .filter(|a| a["labels"]["alertname"] == "LedgerlyApiDown")
            .map(|a| a["labels"].clone())
            .collect(),
    )
}

#[tokio::test]
async fn prometheus_finds_the_tasks_by_dns_and_knows_when_none_answers() {
    let spec = spec();
    let dns_address = Ipv4Addr::new(127, 83, 0, 1);
    let tasks = [Ipv4Addr::new(127, 83, 0, 2), Ipv4Addr::new(127, 83, 0, 3)];
    let dns = DnsServer::start(dns_address, &values().api_tasks);
    dns.answer_with(&tasks);

    // Two tasks of the API, each on its own address and the same port, as on ECS.
    let port = free_port_on(&tasks);
    let data = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = start_api(tasks[0], port, data[0].path());
    let second = start_api(tasks[1], port, data[1].path());

    // The rendered configuration, quicker, and the tasks' port this test's.
    let dir = prometheus_files(&spec);
    let path = dir.path().join("prometheus.yml");
    let config = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&format!("port: {API_PORT}"), &format!("port: {port}"))
        .replace("interval: 15s", "interval: 1s");
    std::fs::write(&path, config).unwrap();
    // Prometheus asks the resolver /etc/resolv.conf names: in a mount namespace of its own,
    // that file says this test's DNS server.
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, format!("nameserver {dns_address}\n")).unwrap();
    let web = TcpListener::bind("127.0.0.1:0").unwrap();
    let web_port = web.local_addr().unwrap().port();
    drop(web);
    let _prometheus = Running(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$1" /etc/resolv.conf && shift && exec "$@""#)
            .arg("sh")
            .arg(&resolv)
            .arg("prometheus")
            .arg(format!("--config.file={}", path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("unshare: {e}")),
    );
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{web_port}");
    let instance = |address: Ipv4Addr| format!("{address}:{port}");

    wait_for("Prometheus never scraped both tasks", async || {
        api_targets(&client, &url).await
            == [
                (instance(tasks[0]), "1".to_owned()),
                (instance(tasks[1]), "1".to_owned()),
            ]
    })
    .await;
    // Before the first scrape no API answered: the alert clears at the next evaluation.
    wait_for(
        "the API was still down with both tasks answering",
        async || api_down(&client, &url).await == Some(vec![]),
    )
    .await;

    // A task stops answering while it is still listed: that task is down.
    drop(second);
    wait_for("the stopped task was never reported down", async || {
        api_down(&client, &url).await.is_some_and(|alerts| {
            alerts.len() == 1 && alerts[0]["instance"] == instance(tasks[1]).as_str()
        })
    })
    .await;

    // ECS takes it out of the records: one task left, nothing down.
    dns.answer_with(&tasks[..1]);
    wait_for("the task taken out of DNS was still scraped", async || {
        api_targets(&client, &url).await == [(instance(tasks[0]), "1".to_owned())]
            && api_down(&client, &url).await == Some(vec![])
    })
    .await;

    // No task left at all: no `up` series to be 0, and still the API is down.
    drop(first);
    dns.answer_with(&[]);
    wait_for(
        "an API with no task left was never reported down",
        async || {
            api_down(&client, &url)
                .await
                .is_some_and(|alerts| alerts.len() == 1 && alerts[0].get("instance").is_none())
        },
    )
    .await;
}

#[test]
fn the_dns_stand_in_answers_like_a_resolver() {
    // A query for `demo-api.ledgerly.internal`, type A, recursion desired, with an EDNS record.
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in ["demo-api", "ledgerly", "internal"] {
        query.push(u8::try_from(label.len()).unwrap());
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    query.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    let tasks = [Ipv4Addr::new(10, 0, 1, 5), Ipv4Addr::new(10, 0, 2, 7)];
    let reply = answer(&query, "demo-api.ledgerly.internal", &tasks).unwrap();
    assert_eq!(&reply[..4], &[0x12, 0x34, 0x85, 0x80]);
    assert_eq!(&reply[4..12], &[0, 1, 0, 2, 0, 0, 0, 0]);
    assert_eq!(&reply[reply.len() - 4..], &[10, 0, 2, 7]);
    let other = answer(&query, "other.ledgerly.internal", &tasks).unwrap();
    assert_eq!(other[3] & 0x0f, 3, "NXDOMAIN");
    assert_eq!(&other[6..8], &[0, 0]);
}
