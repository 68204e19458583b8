//! The API holds no state of its own: in the `ecs` topology it runs as several ECS tasks behind an
//! ALB, and any task may answer any request. Proved here with two `ledgerly-api` processes set up
//! as production sets them up (the migrations applied once by `ledgerly-api migrate`, then servers
//! with `database.migrate = false` and `server.trust_forwarded_for`, receipts in S3, OCR results
//! by S3 events under one shared secret) on one PostgreSQL database and one bucket in the AWS
//! emulator, behind a local HAProxy balancing round-robin as the ALB does:
//!
//! - a session started on one instance works on the other, and ending it on one ends it on both;
//! - a CSRF token issued by one instance (before sign-in and after) is accepted by the other;
//! - the login limiter adds up the failures made on both instances;
//! - a receipt uploaded through one instance is served by the other;
//! - a signed OCR result is applied once: the same request sent to the other is a replay.
//!
//! HAProxy names the instance that answered in `X-Served-By`; a request carrying
//! `X-Test-Instance: a` (or `b`) goes to that instance, so a step lands where the test needs it.
//! The OCR job queue needs no test here: with S3 events (production) uploads queue no job, and
//! queue workers claim jobs with `FOR UPDATE SKIP LOCKED` (ledgerly-store's `jobs`), so no two
//! claimers take the same job.
//!
//! Needs what `scripts/test` provides: PostgreSQL (`LEDGERLY_TEST_DATABASE_URL`), the AWS emulator
//! (`LEDGERLY_TEST_AWS_ENDPOINT`) and HAProxy at /usr/sbin/haproxy.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use ledgerly_core::callback::{self, CallbackOutcome, OcrCallback};
use ledgerly_core::{Currency, ReceiptId, ReceiptKind, Unsure, UserId};
use ledgerly_store::objects::receipt_key;
use ledgerly_store::testing::{Backend, TestDatabase};
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const HAPROXY: &str = "/usr/sbin/haproxy";
/// The OCR callback secret both instances share.
const SECRET: &str = "a-shared-ocr-callback-secret-of-32-chars-or-more";
/// Failed logins allowed for an account (from one address): low, to reach it quickly.
const FAILED_LOGINS: usize = 3;
/// The instances, by the names the proxy gives them (as in [`PROXY_CONFIG`]).
const INSTANCES: [&str; 2] = ["a", "b"];
/// The request header that sends a request to the instance it names.
const PIN: &str = "x-test-instance";
/// Where the OCR Lambda posts its results.
const OCR_RESULTS: &str = "/internal/ocr-results";

/// HAProxy as the ALB: round-robin, `X-Forwarded-For` added, the instance that answered named in
/// `X-Served-By`; [`PIN`] picks an instance.
const PROXY_CONFIG: &str = "\
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend api
    bind 127.0.0.1:PORT
    default_backend instances

backend instances
    balance roundrobin
    http-response set-header X-Served-By %s
    use-server a if { req.hdr(x-test-instance) -m str a }
    use-server b if { req.hdr(x-test-instance) -m str b }
    server a ADDRESS_A
    server b ADDRESS_B
";

fn aws_endpoint() -> String {
    std::env::var("LEDGERLY_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!("LEDGERLY_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS emulator")
    })
}

/// A new, empty bucket in the AWS emulator.
async fn new_bucket() -> String {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(aws_endpoint())
        .force_path_style(true)
        .build();
    let bucket = format!("ledgerly-stateless-{}", uuid::Uuid::new_v4().simple());
    let s3 = aws_sdk_s3::Client::from_conf(config);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    bucket
}

/// Two API instances on one database and one bucket, behind HAProxy; dropped, the processes stop.
#[derive(Debug)]
struct Cluster {
    /// The proxy's base URL.
    proxy: String,
    /// Each instance's own address, in the order of [`INSTANCES`].
    direct: Vec<String>,
    /// The instances and the proxy.
    processes: Vec<Child>,
    db: Option<TestDatabase>,
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            process.kill().ok();
            process.wait().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl Cluster {
    async fn start() -> Cluster {
        assert!(
            Path::new(HAPROXY).is_file(),
            "{HAPROXY} is missing: scripts/test installs HAProxy (Debian's haproxy package); run the suite with it"
        );
        let db = TestDatabase::new(Backend::Postgres).await;
        let url = db.url().to_owned();
        let (bucket, endpoint) = (new_bucket().await, aws_endpoint());
        let id = uuid::Uuid::new_v4().simple();
        let dir = std::env::temp_dir().join(format!("ledgerly-stateless-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Cluster {
            proxy: String::new(),
            direct: Vec::new(),
            processes: Vec::new(),
            db: Some(db),
            dir,
        };
        // As a deploy does: the migrations once, then servers that only check the schema.
        let migrated = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .arg("migrate")
            .env_remove("LEDGERLY_CONFIG")
            .env("LEDGERLY__DATABASE__URL", &url)
            .output()
            .unwrap();
        assert!(migrated.status.success(), "{migrated:?}");
        let failed_logins = FAILED_LOGINS.to_string();
        let env = [
            ("LEDGERLY__DATABASE__URL", url.as_str()),
            ("LEDGERLY__DATABASE__MIGRATE", "false"),
            ("LEDGERLY__DATABASE__MAX_CONNECTIONS", "4"),
            ("LEDGERLY__SERVER__PORT", "0"),
            ("LEDGERLY__SERVER__TRUST_FORWARDED_FOR", "true"),
            ("LEDGERLY__AUTH__REGISTRATION", "open"),
            ("LEDGERLY__STORAGE__BACKEND", "s3"),
            ("LEDGERLY__STORAGE__BUCKET", bucket.as_str()),
            ("LEDGERLY__STORAGE__REGION", "us-east-1"),
            ("LEDGERLY__STORAGE__ENDPOINT", endpoint.as_str()),
            ("LEDGERLY__OCR__DISPATCH", "s3-events"),
            ("LEDGERLY__OCR__CALLBACK_SECRET", SECRET),
            (
                "LEDGERLY__AUTH__FAILED_LOGINS_PER_ACCOUNT",
                failed_logins.as_str(),
            ),
            // Every request comes from 127.0.0.1: the per-address limit is not under test.
            ("LEDGERLY__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000"),
        ];
        for _ in INSTANCES {
            let address = cluster.start_instance(&env);
            cluster.direct.push(address);
        }
        cluster.start_proxy().await;
        cluster
    }

    /// Starts an instance with `env`; its address, once it listens.
    fn start_instance(&mut self, env: &[(&str, &str)]) -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerly-api"))
            .env_remove("LEDGERLY_CONFIG")
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        self.processes.push(child);
        let mut said = String::new();
        let address = loop {
            let Some(line) = lines.next() else {
                panic!("an instance exited before listening:\n{said}");
            };
            let line = line.unwrap();
            if line.contains("ledgerly-api listening") {
                let log: Value = serde_json::from_str(&line).unwrap();
                break log["address"].as_str().unwrap().to_owned();
            }
            said.push_str(&line);
            said.push('\n');
        };
        std::thread::spawn(move || for _ in lines {});
        address
    }

    /// Starts HAProxy on a free port in front of the instances.
    async fn start_proxy(&mut self) {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let config = PROXY_CONFIG
            .replace("PORT", &port.to_string())
            .replace("ADDRESS_A", &self.direct[0])
            .replace("ADDRESS_B", &self.direct[1]);
        let (path, log) = (self.dir.join("haproxy.cfg"), self.dir.join("haproxy.log"));
        std::fs::write(&path, config).unwrap();
        // `-db`: in the foreground, a child to stop like the others.
        let child = Command::new(HAPROXY)
            .args(["-db", "-f"])
            .arg(path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.processes.push(child);
        for _ in 0..100 {
            if let Some(status) = self.processes.last_mut().unwrap().try_wait().unwrap() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("HAProxy exited ({status}): {said}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                self.proxy = format!("http://127.0.0.1:{port}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("HAProxy did not listen on port {port}");
    }

    /// `path` through the proxy.
    fn via_proxy(&self, path: &str) -> String {
        format!("{}{path}", self.proxy)
    }

    /// `path` on the instance `name` itself, not through the proxy.
    fn on(&self, name: &str, path: &str) -> String {
        let index = INSTANCES.iter().position(|n| *n == name).unwrap();
        format!("http://{}{path}", self.direct[index])
    }

    /// Stops the processes and removes the database (a failed test leaves it for inspection).
    async fn stop(mut self) {
        let db = self.db.take();
        drop(self);
        if let Some(db) = db {
            db.cleanup().await;
        }
    }
}

/// A client that shows redirects rather than following them; a browser's when it keeps cookies.
fn client(cookies: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder().redirect(Policy::none());
    builder.cookie_store(cookies).build().unwrap()
}

/// The instance that answered through the proxy.
fn served_by(response: &Response) -> String {
    let header = response.headers().get("x-served-by");
    let name = header.unwrap_or_else(|| panic!("no X-Served-By on {response:?}"));
    name.to_str().unwrap().to_owned()
}

/// Sends `request`; its response, whatever its status.
async fn send(request: reqwest::RequestBuilder) -> Response {
    request.send().await.unwrap()
}

/// The JSON body of a response with `status`; panics with the body otherwise.
async fn expect(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// [`expect`], for a response through the proxy that `instance` answered.
async fn expect_from(response: Response, instance: &str, status: StatusCode) -> Value {
    assert_eq!(served_by(&response), instance);
    expect(response, status).await
}

/// The CSRF token in a page's forms (a 200 page).
async fn csrf_in(page: Response) -> String {
    let status = page.status();
    let html = page.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    let (_, rest) = html
        .split_once(r#"name="_csrf" value=""#)
        .unwrap_or_else(|| panic!("no CSRF field in:\n{html}"));
    rest.split('"').next().unwrap().to_owned()
}

/// The session token a response sets as its cookie.
fn session_in(response: &Response) -> String {
    let mut cookies = response.cookies();
    let session = cookies.find(|c| c.name() == ledgerly_api::auth::token::COOKIE);
    session.unwrap().value().to_owned()
}

/// Posts an OCR result to `url` as the OCR Lambda does: `body`, signed at `timestamp`.
async fn post_result(http: &reqwest::Client, url: String, timestamp: i64, body: &[u8]) -> Response {
    let signature = callback::sign(SECRET.as_bytes(), timestamp, body);
    let request = http.post(url).header("content-type", "application/json");
    let request = request.header(callback::TIMESTAMP_HEADER, timestamp.to_string());
    let request = request.header(callback::SIGNATURE_HEADER, signature);
    send(request.body(body.to_vec())).await
}

/// The first bytes of a PNG, enough to be recognised, then `tag`.
fn png(tag: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

/// A session started on one instance works on the other, and the CSRF tokens one instance issues
/// — before sign-in (over the anonymous cookie) and after (over the session) — are accepted by the
/// other; signing out on one ends the session on both.
#[tokio::test]
async fn a_session_and_its_csrf_tokens_work_on_whichever_instance_answers() {
    let cluster = Cluster::start().await;
    let browser = client(true);
    // The sign-up form from `a`, sent to `b`.
    let landing = send(browser.get(cluster.via_proxy("/")).header(PIN, "a")).await;
    assert_eq!(served_by(&landing), "a");
    let token = csrf_in(landing).await;
    let form = [
        ("_csrf", token.as_str()),
        ("name", "Asha"),
        ("email", "asha@example.com"),
        ("password", "correct horse"),
    ];
    let signup = browser.post(cluster.via_proxy("/signup")).header(PIN, "b");
    let signed_up = send(signup.form(&form)).await;
    let session = session_in(&signed_up);
    expect_from(signed_up, "b", StatusCode::SEE_OTHER).await;

    // Round-robin: the cookie alone signs in whichever instance answers.
    let mut answered = BTreeSet::new();
    for _ in 0..4 {
        let me = send(browser.get(cluster.via_proxy("/api/v1/me"))).await;
        answered.insert(served_by(&me));
        let me = expect(me, StatusCode::OK).await;
        assert_eq!(me["email"], "asha@example.com");
    }
    assert_eq!(answered, BTreeSet::from(INSTANCES.map(String::from)));

    // The signed-in page's token, from `a`, on a cookie-authenticated API call to `b`.
    let home = send(browser.get(cluster.via_proxy("/")).header(PIN, "a")).await;
    assert_eq!(served_by(&home), "a");
    let token = csrf_in(home).await;
    let add_expense = |csrf: &str| {
        let expense = json!({"amount": "12.50", "date": "2026-05-02", "category": "food",
            "vendor": "Cafe"});
        let request = browser.post(cluster.via_proxy("/api/v1/expenses"));
        let request = request.header(PIN, "b").header("x-csrf-token", csrf);
        send(request.json(&expense))
    };
    let forged = add_expense("not-the-token").await;
    let forged = expect_from(forged, "b", StatusCode::FORBIDDEN).await;
    assert_eq!(forged["error"]["code"], "csrf_refused");
    expect_from(add_expense(token.as_str()).await, "b", StatusCode::CREATED).await;

    // Signing out on `b` (the form, with `a`'s token) ends the session on `a` too.
    let form = [("_csrf", token.as_str())];
    let logout = browser.post(cluster.via_proxy("/logout")).header(PIN, "b");
    let signed_out = send(logout.form(&form)).await;
    expect_from(signed_out, "b", StatusCode::SEE_OTHER).await;
    let me = client(false).get(cluster.via_proxy("/api/v1/me"));
    let me = send(me.header(PIN, "a").bearer_auth(session)).await;
    expect_from(me, "a", StatusCode::UNAUTHORIZED).await;
    cluster.stop().await;
}

/// The login limiter counts in the database: failures on both instances add up, and past the
/// limit either instance refuses the account with `Retry-After`.
#[tokio::test]
async fn failed_logins_on_both_instances_count_towards_one_limit() {
    let cluster = Cluster::start().await;
    let http = client(false);
    let account = json!({"email": "ravi@example.com", "password": "correct horse", "name": "Ravi"});
    let register = http.post(cluster.via_proxy("/api/v1/auth/register"));
    expect(send(register.json(&account)).await, StatusCode::CREATED).await;
    let login = |instance: &str, password: &str| {
        let credentials = json!({"email": "ravi@example.com", "password": password});
        let request = http.post(cluster.via_proxy("/api/v1/auth/login"));
        send(request.header(PIN, instance).json(&credentials))
    };
    // The failures alternate a, b, a: neither instance alone has seen the limit.
    for instance in INSTANCES.into_iter().cycle().take(FAILED_LOGINS) {
        let failed = login(instance, "a wrong guess").await;
        expect_from(failed, instance, StatusCode::UNAUTHORIZED).await;
    }
    // The attempt past the limit is refused — with the right password too — by either.
    for instance in INSTANCES {
        let refused = login(instance, "correct horse").await;
        let retry_after = refused.headers()["retry-after"].to_str().unwrap();
        let retry_after: u64 = retry_after.parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
        let refused = expect_from(refused, instance, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(refused["error"]["code"], "too_many_requests");
    }
    cluster.stop().await;
}

/// A receipt uploaded to one instance is served by the other (the file is in the bucket, not on a
/// task's disk), and a signed OCR result is applied once: the same request sent to the other
/// instance is refused as a replay (the nonces are in the database). A new delivery of the same
/// result (a Lambda retry, signed afresh) is accepted and changes nothing.
#[tokio::test]
async fn a_receipt_is_served_by_either_instance_and_its_ocr_result_applied_once() {
    let cluster = Cluster::start().await;
    let http = client(false);
    let account = json!({"email": "priya@example.com", "password": "correct horse", "name": "P"});
    let register = http.post(cluster.on("a", "/api/v1/auth/register"));
    let session = expect(send(register.json(&account)).await, StatusCode::CREATED).await;
    let token = session["token"].as_str().unwrap();
    let user: UserId = session["user"]["id"].as_str().unwrap().parse().unwrap();

    // Uploaded to `a`…
    let bytes = png("one receipt, two instances");
    let file = reqwest::multipart::Part::bytes(bytes.clone()).file_name("scan.png");
    let form = reqwest::multipart::Form::new().part("file", file);
    let upload = http.post(cluster.on("a", "/api/v1/receipts"));
    let upload = send(upload.bearer_auth(token).multipart(form)).await;
    let uploaded = expect(upload, StatusCode::ACCEPTED).await;
    let receipt: ReceiptId = uploaded["id"].as_str().unwrap().parse().unwrap();
    // …served by `b`: a presigned URL to the shared bucket.
    let image = cluster.on("b", &format!("/api/v1/receipts/{receipt}/image"));
    let image = send(http.get(image).bearer_auth(token)).await;
    assert_eq!(image.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = image.headers()["location"].to_str().unwrap().to_owned();
    let fetched = send(http.get(location)).await;
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);

    // The OCR Lambda's result, as it would post it; each call a new delivery.
    let result = || {
        let fields = CallbackOutcome::Read {
            vendor: "Reliance Fresh".into(),
            date: "2026-05-02".parse().unwrap(),
            amount: "1234.50".into(),
            currency: Currency::INR,
            unsure: Unsure::default(),
            text: None,
        };
        let key = receipt_key(user, receipt, ReceiptKind::Png);
        serde_json::to_vec(&OcrCallback::new(receipt, key, fields)).unwrap()
    };
    // One signed request: applied by `a`, a replay to `b`.
    let (body, now) = (result(), Utc::now().timestamp());
    let applied = post_result(&http, cluster.on("a", OCR_RESULTS), now, &body).await;
    expect(applied, StatusCode::NO_CONTENT).await;
    let replayed = post_result(&http, cluster.on("b", OCR_RESULTS), now, &body).await;
    let replayed = expect(replayed, StatusCode::UNAUTHORIZED).await;
    assert_eq!(replayed["error"]["code"], "signature_refused");
    // A new delivery of the same result, to `b`: accepted, and harmless.
    let redelivered = post_result(&http, cluster.on("b", OCR_RESULTS), now, &result()).await;
    expect(redelivered, StatusCode::NO_CONTENT).await;

    let expenses = http.get(cluster.on("b", "/api/v1/expenses"));
    let expenses = expect(send(expenses.bearer_auth(token)).await, StatusCode::OK).await;
    assert_eq!(expenses["total"], 1, "applied once: {expenses}");
    let expense = &expenses["items"][0];
    assert_eq!(expense["amount"], "1234.50");
    assert_eq!(expense["receipt_id"], receipt.to_string());
    let shown = cluster.on("a", &format!("/api/v1/receipts/{receipt}"));
    let shown = send(http.get(shown).bearer_auth(token)).await;
    let shown = expect(shown, StatusCode::OK).await;
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["expense_id"], expense["id"]);
    cluster.stop().await;
}
