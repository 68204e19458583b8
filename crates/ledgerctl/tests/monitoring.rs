//! Monitoring as code (`monitoring/prometheus/`): the config and rules pass promtool, the rules'
//! own unit tests pass, every Ledgerly metric the rules name is one the API really exports, and a
//! real Prometheus (Debian's, run here) scrapes a running API with the shipped scrape config,
//! evaluates every rule, and puts "API down" in motion when the API stops. The Grafana dashboards
//! (`monitoring/grafana/`) use the provisioned datasource's uid, name only metrics the app
//! exports, and every query of theirs runs on that Prometheus.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::free_port;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring/prometheus")
}

fn promtool(args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(monitoring())
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool: {e}; run the suite with scripts/test, which installs it")
        });
    assert!(output.status.success(), "promtool {args:?}: {output:?}");
}

#[test]
fn the_config_and_rules_pass_promtool_and_their_unit_tests() {
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(60), "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the server at `url` answers `/readyz` with a 200.
async fn wait_ready(client: &reqwest::Client, url: &str, what: &str) {
    wait_for(what, async || {
        client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// The names of the `ledgerly_…` series the rules use.
fn ledgerly_metrics_in_rules() -> Vec<String> {
    let text = std::fs::read_to_string(monitoring().join("alerts.yml")).unwrap();
    let mut names: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("ledgerly_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn prometheus_scrapes_a_running_api_and_evaluates_every_rule() {
    let data = tempfile::tempdir().unwrap();
    let api_port = free_port();
    let api_binary = PathBuf::from(env!("CARGO_BIN_EXE_ledgerctl")).with_file_name("ledgerly-api");
    assert!(
        api_binary.is_file(),
        "build the workspace's binaries first (cargo build --workspace --bins)"
    );
    let api = Running(
        Command::new(&api_binary)
            .current_dir(data.path())
            .env("LEDGERLY__SERVER__PORT", api_port.to_string())
            .env("LEDGERLY__DATABASE__URL", "sqlite://ledgerly.db")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let api_url = format!("http://127.0.0.1:{api_port}");
    wait_ready(&client, &api_url, "the API never became ready").await;
    // Some traffic, so the request series exist.
    for path in ["/healthz", "/api/v1/expenses", "/nowhere"] {
        client.get(format!("{api_url}{path}")).send().await.unwrap();
    }
    let exported = client
        .get(format!("{api_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for metric in ledgerly_metrics_in_rules() {
        assert!(
            exported.lines().any(|l| l.starts_with(&metric)),
            "the rules use {metric}, which the API does not export:\n{exported}"
        );
    }

    // The shipped scrape config, with the API's service name pointed at this one, and quicker.
    let config = std::fs::read_to_string(monitoring().join("prometheus.yml"))
        .unwrap()
        .replace("api:8080", &format!("127.0.0.1:{api_port}"))
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    std::fs::copy(
        monitoring().join("alerts.yml"),
        dir.path().join("alerts.yml"),
    )
    .unwrap();
    let prometheus_port = free_port();
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("prometheus: {e}; run the suite with scripts/test, which installs it")
            }),
    );
    let prometheus = format!("http://127.0.0.1:{prometheus_port}");
    let query = async |q: &str| -> Value {
        let Ok(response) = client
            .get(format!("{prometheus}/api/v1/query"))
            .query(&[("query", q)])
            .send()
            .await
        else {
            return Value::Null;
        };
        response.json::<Value>().await.unwrap_or(Value::Null)
    };
    let first_value = |v: &Value| {
        v["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    };
    wait_for("Prometheus never scraped the API", async || {
        first_value(&query(r#"up{job="api"}"#).await).as_deref() == Some("1")
    })
    .await;
    let requests = query("sum(ledgerly_http_requests_total)").await;
    assert!(
        first_value(&requests)
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|n| n >= 3.0),
        "{requests}"
    );

    // Every rule loaded and evaluated without error.
    wait_for("the rules were never all evaluated", async || {
        let rules: Value = client
            .get(format!("{prometheus}/api/v1/rules"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let all: Vec<&Value> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        all.len() == 6
            && all
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
    })
    .await;

    // Every dashboard query parses and runs.
    for (dashboard, expr) in dashboard_queries() {
        let answer = query(&expr).await;
        assert_eq!(answer["status"], "success", "{dashboard}: {expr}: {answer}");
    }

    // The API stops: "API down" starts counting its two minutes.
    drop(api);
    wait_for("LedgerlyApiDown never became pending", async || {
        let alerts: Value = client
            .get(format!("{prometheus}/api/v1/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        alerts["data"]["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["labels"]["alertname"] == "LedgerlyApiDown" && a["state"] == "pending")
    })
    .await;
}

fn grafana() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring/grafana")
}

/// Every (dashboard file, query) of the shipped dashboards.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(grafana().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                queries.push((
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    target["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    queries
}

/// The series names a Prometheus text exposition offers, histograms and counters expanded.
fn series_names(exposition: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            match kind {
                "counter" => names.push(format!("{}_total", name.trim_end_matches("_total"))),
                "histogram" => {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.push(format!("{name}{suffix}"));
                    }
                }
                _ => names.push(name.to_owned()),
            }
        } else if !line.starts_with('#')
            && let Some(name) = line.split(['{', ' ']).next()
        {
            names.push(name.to_owned());
        }
    }
    names
}

#[tokio::test]
async fn the_dashboards_use_the_provisioned_datasource_and_metrics_the_app_exports() {
    let datasources: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(grafana().join("provisioning/datasources/prometheus.yml"))
            .unwrap(),
    )
    .unwrap();
    let uid = datasources["datasources"][0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        datasources["datasources"][0]["url"],
        "http://prometheus:9090"
    );

    // `ledgerctl up` serves the API's metrics and the in-process OCR worker's together.
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let _up = Running(
        Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
            .args(["up", "--port", &port.to_string(), "--data-dir"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &url, "ledgerctl up never became ready").await;
    let exported = series_names(
        &client
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );

    let mut uids = Vec::new();
    let mut dashboards = 0;
    for entry in std::fs::read_dir(grafana().join("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        dashboards += 1;
        uids.push(dashboard["uid"].as_str().unwrap().to_owned());
        assert!(!dashboard["title"].as_str().unwrap().is_empty(), "{name}");
        let panels = dashboard["panels"].as_array().unwrap();
        assert!(!panels.is_empty(), "{name}");
        for panel in panels {
            let title = panel["title"].as_str().unwrap();
            assert!(!title.is_empty(), "{name}: a panel without a title");
            assert_eq!(panel["datasource"]["uid"], uid.as_str(), "{name}: {title}");
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: {title} has no query");
            for target in targets {
                assert_eq!(target["datasource"]["uid"], uid.as_str(), "{name}: {title}");
                let expr = target["expr"].as_str().unwrap();
                for metric in expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("ledgerly_"))
                {
                    assert!(
                        exported.iter().any(|e| e == metric),
                        "{name}: {title}: {metric} is not exported by the app; it exports {exported:?}"
                    );
                }
            }
        }
    }
    assert_eq!(dashboards, 4, "API, OCR, host, containers");
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 4, "dashboard uids are unique");
}

/// Three requests as an Application Load Balancer logs them (its documented access-log format):
/// two answered by tasks, one by the listener's fixed response.
const ALB_LOG: &str = r#"https 2026-12-05T10:15:01.316365Z app/demo-api/50dc6c495c0c9188 203.0.113.9:49660 10.0.1.5:8080 0.001 0.017 0.000 200 200 303 4716 "GET https://ledgerly.example.com:443/api/v1/expenses?page=2 HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/demo-api/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "ledgerly.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 2026-12-05T10:15:01.298000Z "forward" "-" "-" "10.0.1.5:8080" "200" "-" "-" TID_1234abcd
h2 2026-12-05T10:16:02.100000Z app/demo-api/50dc6c495c0c9188 198.51.100.4:5123 10.0.2.7:8080 0.000 0.120 0.000 201 201 1200 512 "POST https://ledgerly.example.com:443/api/v1/receipts HTTP/2.0" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.3 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/demo-api/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe355" "ledgerly.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 2026-12-05T10:16:01.900000Z "forward" "-" "-" "10.0.2.7:8080" "201" "-" "-" TID_1234abce
https 2026-12-05T10:17:00.000000Z app/demo-api/50dc6c495c0c9188 203.0.113.9:49661 - -1 -1 -1 404 - 100 150 "GET https://ledgerly.example.com:443/metrics HTTP/1.1" "scanner/1.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-58337262-36d228ad5d99923122bbe356" "ledgerly.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2026-12-05T10:17:00.000000Z "fixed-response" "-" "-" "-" "-" "-" "-" TID_1234abcf
"#;

/// GoAccess's report for the ECS stack (monitoring/goaccess/alb-report.sh, as the ops instance
/// runs it with Debian's GoAccess in place of the image's): made from the gzipped access logs
/// laid out as Elastic Load Balancing writes them to S3, and an empty one before any log.
#[test]
fn goaccess_reports_on_the_load_balancer_s_access_logs() {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring/goaccess/alb-report.sh");
    let logs = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("index.html");
    let run = || {
        let output = Command::new("sh")
            .arg(&script)
            .env("LOGS", logs.path())
            .env("REPORT", &report)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "alb-report.sh (GoAccess is installed by scripts/test): {output:?}"
        );
        std::fs::read_to_string(&report).unwrap()
    };

    let empty = run();
    assert!(empty.contains("\"total_requests\": 0"), "an empty report");

    let day = logs
        .path()
        .join("api/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/12/05");
    std::fs::create_dir_all(&day).unwrap();
    let log = day.join(
        "123456789012_elasticloadbalancing_eu-west-1_app.demo-api.50dc6c495c0c9188_20261205T1020Z_10.0.0.1_2k4o1ixq.log",
    );
    std::fs::write(&log, ALB_LOG).unwrap();
    assert!(Command::new("gzip").arg(&log).status().unwrap().success());

    let html = run();
    assert!(
        html.contains("\"total_requests\": 3"),
        "three requests read"
    );
    assert!(html.contains("\"failed_requests\": 0"), "every line parsed");
    // The report's data is JSON in the page, where `/` is written `\/`.
    for path in [r"\/api\/v1\/expenses", r"\/api\/v1\/receipts", r"\/metrics"] {
        assert!(html.contains(path), "{path} is in the report");
    }
    assert!(
        !out.path().join("index.partial.html").exists(),
        "the report is replaced whole"
    );
}
