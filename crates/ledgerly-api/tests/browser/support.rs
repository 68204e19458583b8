//! The app with its OCR worker, a headless Chromium to drive it, and an API client for setting
//! up data.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use fantoccini::{Client, ClientBuilder, Locator};
use ledgerly_api::{Application, Settings};
use ledgerly_core::{Currency, Money, ReceiptKind, UserTimeZone};
use ledgerly_ocr::{ExtractError, Extractor, Hints, ReceiptFields, Worker, WorkerOptions};
use ledgerly_store::testing::TestDatabase;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

const WAIT: Duration = Duration::from_secs(15);

/// Reads every receipt as the same bakery bill, but only when the test lets it (one permit per
/// read), so the page can be seen waiting first.
#[derive(Debug)]
struct GatedExtractor {
    gate: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl Extractor for GatedExtractor {
    fn name(&self) -> &str {
        "gated"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        assert_eq!(kind, ReceiptKind::Png);
        assert!(
            image.starts_with(b"\x89PNG"),
            "the worker read another file"
        );
        self.gate
            .acquire()
            .await
            .map_err(|_| ExtractError::Transient("the test is over".into()))?
            .forget();
        Ok(ReceiptFields {
            vendor: Some("Corner Bakery".into()),
            date: Some(hints.today),
            total: Some(Money::from_decimal_str("245.50", Currency::INR).unwrap()),
            raw: "CORNER BAKERY\nTOTAL 245.50".into(),
            ..ReceiptFields::default()
        })
    }
}

/// A small PNG that looks like a till receipt.
pub fn receipt_png() -> Vec<u8> {
    let mut image = image::RgbImage::from_pixel(240, 360, image::Rgb([250, 250, 245]));
    for (row, width) in [
        (30u32, 180u32),
        (60, 120),
        (110, 200),
        (130, 160),
        (150, 190),
        (300, 140),
    ] {
        for y in row..row + 8 {
            for x in 20..20 + width {
                image.put_pixel(x, y, image::Rgb([40, 40, 40]));
            }
        }
    }
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// The API on PostgreSQL, receipts in a temporary folder, the OCR worker in-process.
pub struct Server {
    pub url: String,
    db: TestDatabase,
    files: PathBuf,
    gate: Arc<Semaphore>,
    stop_server: oneshot::Sender<()>,
    stop_worker: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start() -> Server {
        let db = TestDatabase::postgres().await;
        let files = std::env::temp_dir().join(format!(
            "ledgerly-browser-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut settings = Settings::default();
        settings.server.port = 0;
        settings.database.url = db.url().to_owned();
        settings.database.max_connections = 5;
        settings.storage.path = files.join("receipts");
        // One browser signs up and in many times from one address.
        settings.auth.login_attempts_per_ip = 1000;
        let app = Application::build(settings).await.expect("build the app");
        let url = format!("http://{}", app.local_addr().unwrap());
        let gate = Arc::new(Semaphore::new(0));
        let worker = Worker::new(
            app.state().store.clone(),
            app.state().storage.clone(),
            Arc::new(GatedExtractor { gate: gate.clone() }),
            WorkerOptions {
                name: "browser-test".into(),
                concurrency: 1,
                poll_interval: Duration::from_millis(100),
                shutdown_grace: Duration::from_millis(100),
                ..WorkerOptions::default()
            },
        );
        let (stop_worker, worker_stopped) = oneshot::channel::<()>();
        let worker = tokio::spawn(async move {
            worker
                .run(async {
                    worker_stopped.await.ok();
                })
                .await;
        });
        let (stop_server, server_stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(async {
                server_stopped.await.ok();
            })
            .await
            .expect("serve");
        });
        Server {
            url,
            db,
            files,
            gate,
            stop_server,
            stop_worker,
            server,
            worker,
        }
    }

    /// Lets the extractor answer `reads` more reads.
    pub fn release_ocr(&self, reads: usize) {
        self.gate.add_permits(reads);
    }

    /// Today where the test users live (Asia/Kolkata), as `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        UserTimeZone::KOLKATA.today().to_string()
    }

    pub fn days_ago(&self, days: i64) -> String {
        let today: NaiveDate = UserTimeZone::KOLKATA.today();
        (today - chrono::Duration::days(days)).to_string()
    }

    /// Writes a file for the browser to upload.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let folder = self.files.join("uploads");
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// An account made through the API (in Asia/Kolkata, INR).
    pub async fn register(&self, email: &str) -> ApiUser {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/register", self.url))
            .json(&json!({
                "email": email, "password": "correct horse", "name": "API User",
                "currency": "INR", "timezone": "Asia/Kolkata"
            }))
            .send()
            .await
            .unwrap();
        self.session(response).await
    }

    /// Signs in through the API: a bearer token for an account the browser made.
    pub async fn login(&self, email: &str, password: &str) -> ApiUser {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        self.session(response).await
    }

    async fn session(&self, response: reqwest::Response) -> ApiUser {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{status} {body}");
        ApiUser {
            url: self.url.clone(),
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn stop(self) {
        self.gate.close();
        self.stop_worker.send(()).ok();
        self.worker.await.ok();
        self.stop_server.send(()).ok();
        self.server.await.ok();
        std::fs::remove_dir_all(&self.files).ok();
        self.db.cleanup().await;
    }
}

/// A user of the JSON API, with a bearer token.
pub struct ApiUser {
    url: String,
    token: String,
}

impl ApiUser {
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// The CSRF token that belongs to this user's session (not the browser's).
    pub fn csrf_of_token(&self) -> String {
        ledgerly_api::auth::csrf::token_for(&self.token)
    }
}

/// Where screenshots go: `<target>/screenshots`.
fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let folder = target.join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Headless Chromium through chromedriver.
pub struct Browser {
    client: Client,
    base: String,
    _driver: tokio::process::Child,
}

impl Browser {
    pub async fn open(base: &str) -> Browser {
        let driver_path = std::env::var("LEDGERLY_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "chromedriver".to_owned());
        let chromium = std::env::var("LEDGERLY_TEST_CHROMIUM")
            .unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let port = free_port();
        let driver = tokio::process::Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {driver_path} ({e}): run the tests with scripts/test, which installs chromium and chromium-driver"
                )
            });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--lang=en-US", "--hide-scrollbars",
                    "--force-device-scale-factor=1"
                ]
            }),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + WAIT;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await
            {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver at {webdriver} does not take a session: {e}"),
            }
        };
        client.set_window_size(1280, 900).await.unwrap();
        Browser {
            client,
            base: base.to_owned(),
            _driver: driver,
        }
    }

    pub async fn close(self) {
        self.client.close().await.ok();
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    async fn execute_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Marks the current document, runs `action`, and waits until a new document has loaded.
    async fn navigating<F: std::future::Future<Output = ()>>(&self, what: &str, action: F) {
        self.execute("window.__ledgerlyOld = true; return null;")
            .await;
        action.await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let done = self
                .client
                .execute(
                    "return window.__ledgerlyOld === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(Value::Bool(false));
            if done == Value::Bool(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} did not load a new page; at {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.unwrap();
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no `{css}` on {}: {e}", self.url().await),
        }
    }

    pub async fn wait_for(&self, css: &str) {
        self.find(css).await;
    }

    /// Clicks something that loads a new page.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.navigating(css, async {
            element
                .click()
                .await
                .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
        })
        .await;
    }

    /// Clicks something that stays on the page.
    pub async fn tap(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    /// Follows the first link with exactly this text.
    pub async fn click_link(&self, text: &str) {
        let element = self
            .find_xpath(&format!(
                "//a[normalize-space(.)='{text}' or normalize-space(@aria-label)='{text}' or normalize-space(text()[1])='{text}']"
            ))
            .await;
        self.navigating(text, async {
            element.click().await.unwrap();
        })
        .await;
    }

    /// Follows the link `text` in the table row that mentions `row`.
    pub async fn click_row_link(&self, row: &str, text: &str) {
        let element = self
            .find_xpath(&format!(
                "//tr[contains(normalize-space(.), '{row}')]//a[normalize-space(.)='{text}']"
            ))
            .await;
        self.navigating(text, async {
            element.click().await.unwrap();
        })
        .await;
    }

    async fn find_xpath(&self, xpath: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no `{xpath}` on {}: {e}", self.url().await),
        }
    }

    /// Submits a form as its first submit button would.
    pub async fn submit(&self, form: &str) {
        self.find(form).await;
        let script = format!(
            "document.querySelector({}).requestSubmit(); return null;",
            json!(form)
        );
        self.navigating(form, async {
            self.execute(&script).await;
        })
        .await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.unwrap();
        if !text.is_empty() {
            element.send_keys(text).await.unwrap();
        }
    }

    /// Sets a date input (typing into one depends on the browser's locale).
    pub async fn set_date(&self, css: &str, date: &str) {
        self.find(css).await;
        self.execute_with(
            "document.querySelector(arguments[0]).value = arguments[1]; return null;",
            vec![json!(css), json!(date)],
        )
        .await;
    }

    pub async fn select(&self, css: &str, label: &str) {
        self.find(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("no option `{label}` in `{css}`: {e}"));
    }

    /// Chooses a file in a file input (whose change uploads it).
    pub async fn send_file(&self, css: &str, path: &Path) {
        let element = self.find(css).await;
        let path = path.to_str().unwrap().to_owned();
        self.navigating(css, async {
            element.send_keys(&path).await.unwrap();
        })
        .await;
    }

    /// Drops a file on `css` as a drag from the desktop would (a `drop` event carrying it).
    pub async fn drop_file(&self, css: &str, name: &str, bytes: &[u8]) {
        use base64::Engine as _;
        self.find(css).await;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        self.navigating(css, async {
            self.execute_with(
                "const [css, name, encoded] = arguments; \
                 const raw = atob(encoded); const bytes = new Uint8Array(raw.length); \
                 for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i); \
                 const data = new DataTransfer(); \
                 data.items.add(new File([bytes], name, {type: 'image/png'})); \
                 const zone = document.querySelector(css); \
                 zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true})); \
                 zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})); \
                 return null;",
                vec![json!(css), json!(name), json!(encoded)],
            )
            .await;
        })
        .await;
    }

    /// Runs `script` (with `args`), which submits a form or follows a link, and waits for the
    /// new page.
    pub async fn navigate_by_script(&self, what: &str, script: &str, args: Vec<Value>) {
        self.navigating(what, async {
            self.execute_with(script, args).await;
        })
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_default()
    }

    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|all| all.len())
            .unwrap_or(0)
    }

    /// The `<title>` of the first SVG element matching `css`.
    pub async fn text_of_svg_title(&self, css: &str) -> String {
        self.find(css).await;
        self.execute_with(
            "const e = document.querySelector(arguments[0]); const t = e && e.querySelector('title'); return t ? t.textContent : '';",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until `css` exists and its text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found.contains(text) && (text.is_empty() || !found.is_empty()) {
                if text.is_empty() {
                    self.find(css).await;
                }
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{css}` never said `{text}` on {}; it says `{found}`",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css`'s text is exactly `text`.
    pub async fn wait_text_is(&self, css: &str, text: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found == text {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{css}` never said exactly `{text}` on {}; it says `{found}`",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_url(&self, part: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url.contains(part) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached a URL with `{part}`; at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the path (and query) is exactly `path`.
    pub async fn wait_url_is(&self, path: &str) {
        let want = format!("{}{path}", self.base);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if url == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached {want}; at {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an image has loaded (it waits a while for it).
    pub async fn image_loaded(&self, css: &str) -> bool {
        self.find(css).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let loaded = self
                .execute_with(
                    "const i = document.querySelector(arguments[0]); return !!i && i.complete && i.naturalWidth > 0;",
                    vec![json!(css)],
                )
                .await;
            if loaded == Value::Bool(true) {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether no alert is open (a script that ran would have opened one).
    pub async fn no_alert(&self) -> bool {
        self.client.get_alert_text().await.is_err()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// The CSRF token in the current page's forms.
    pub async fn csrf(&self) -> String {
        self.value("input[name=_csrf]").await
    }

    /// A request made by the page's own script (with the browser's cookies): status and body.
    pub async fn fetch(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let result = self
            .client
            .execute_async(
                "const [method, path, body, headers, done] = arguments; \
                 fetch(path, {method, body: body === null ? undefined : body, headers, credentials: 'same-origin', redirect: 'manual'}) \
                 .then(r => r.text().then(t => done([r.status, t]))) \
                 .catch(e => done([0, String(e)]));",
                vec![json!(method), json!(path), json!(body), Value::Object(headers)],
            )
            .await
            .unwrap_or_else(|e| panic!("fetch {path}: {e}"));
        (
            result[0].as_u64().unwrap_or(0) as u16,
            result[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Fails if the page is wider than the window (something sticks out sideways).
    pub async fn assert_fits(&self, what: &str) {
        let sizes = self
            .execute("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        let (scroll, inner) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        if scroll > inner {
            let culprits = self
                .execute(
                    "return Array.from(document.querySelectorAll('body *')) \
                     .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap')) \
                     .slice(0, 8) \
                     .map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                )
                .await;
            panic!("{what} is {scroll} px wide in a {inner} px window; sticking out: {culprits}");
        }
    }

    /// Saves the whole page at `width` px as `<target>/screenshots/<name>-<width>.png`.
    pub async fn screenshot(&self, name: &str, width: u32) {
        self.client.set_window_size(width, 900).await.unwrap();
        let height = self
            .execute("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(600, 6000) as u32;
        self.client
            .set_window_size(width, height + 100)
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}-{width}.png")), png).unwrap();
        self.client.set_window_size(width, 900).await.unwrap();
    }
}
