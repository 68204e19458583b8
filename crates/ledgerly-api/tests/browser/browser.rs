//! Headless Chromium through chromedriver, with the waits and checks the tests share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

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
        Browser::open_as(base, None).await
    }

    /// A browser emulating a phone (Chromium's device emulation): 412 px wide at 2.6 device
    /// pixels per CSS pixel, touch as its pointer, a phone's user agent.
    pub async fn open_phone(base: &str) -> Browser {
        Browser::open_as(
            base,
            Some(json!({
                "deviceMetrics": {"width": 412, "height": 915, "pixelRatio": 2.625, "touch": true, "mobile": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
            })),
        )
        .await
    }

    async fn open_as(base: &str, phone: Option<Value>) -> Browser {
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
        if let Some(phone) = phone {
            capabilities["goog:chromeOptions"]["mobileEmulation"] = phone;
        }
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
        if capabilities["goog:chromeOptions"]
            .get("mobileEmulation")
            .is_none()
        {
            client.set_window_size(1280, 900).await.unwrap();
        }
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

    /// Runs `script`, which calls `arguments[0]` with its answer, and gives that answer.
    pub async fn execute_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
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

    /// Fills the fields of one form: `#<form>-<field>` for each pair.
    pub async fn fill_form(&self, form: &str, fields: &[(&str, &str)]) {
        for (field, text) in fields {
            self.fill(&format!("#{form}-{field}"), text).await;
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

    /// Chooses several files at once in a file input that sends its form when chosen.
    pub async fn send_files(&self, css: &str, paths: &[&Path]) {
        let element = self.find(css).await;
        let paths = paths
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        self.navigating(css, async {
            element.send_keys(&paths).await.unwrap();
        })
        .await;
    }

    /// Chooses a file in a file input whose form is sent by a button (the page stays).
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let element = self.find(css).await;
        element.send_keys(path.to_str().unwrap()).await.unwrap();
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

    /// Signs up a new account (INR, Asia/Kolkata, password "correct horse") from the landing
    /// page and waits for the dashboard.
    pub async fn sign_up(&self, name: &str, email: &str) {
        self.sign_up_at("/", name, email).await;
    }

    /// [`Browser::sign_up`] from the landing page at `path` (an invite link's).
    pub async fn sign_up_at(&self, path: &str, name: &str, email: &str) {
        self.goto(path).await;
        self.fill_form(
            "signup",
            &[
                ("name", name),
                ("email", email),
                ("password", "correct horse"),
                ("budget", "50000"),
                ("currency", "INR"),
                ("timezone", "Asia/Kolkata"),
            ],
        )
        .await;
        self.click("form[action='/signup'] button").await;
        self.wait_url("/dashboard").await;
    }

    /// Presses `key` (a WebDriver key code, e.g. `"\u{E004}"` for Tab) in the focused element.
    pub async fn press(&self, key: &str) {
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(key)
            .await
            .unwrap();
    }

    /// What `script` (returning a boolean) says of the focused element, `document.activeElement`
    /// as `active`.
    pub async fn focused(&self, script: &str) -> bool {
        self.execute(&format!(
            "const active = document.activeElement; return Boolean({script});"
        ))
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Fails if any text on the page has less contrast against what is behind it than WCAG AA
    /// asks: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). The background is every
    /// ancestor's colour composited in turn (translucent ones blended); inputs count by their
    /// value, disabled controls and SVG are left out.
    pub async fn assert_contrast(&self, what: &str) {
        let failures = self.contrast_failures().await;
        assert!(
            failures.is_empty(),
            "{what}: text below WCAG AA contrast: {failures:#?}"
        );
    }

    /// The text on the page below WCAG AA contrast (see [`Browser::assert_contrast`]).
    pub async fn contrast_failures(&self) -> Vec<Value> {
        let failures = self
            .execute(
                r#"
                const parse = (c) => {
                  let m = c.match(/^rgba?\(([^)]+)\)/);
                  if (m) { const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
                    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
                  m = c.match(/^color\(srgb ([^)]+)\)/);
                  if (m) { const p = m[1].split(/[\s\/]+/).filter(Boolean).map(parseFloat);
                    return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
                  return null;
                };
                const over = (top, under) => {
                  const a = top[3];
                  return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
                };
                const background = (element) => {
                  const chain = [];
                  for (let e = element; e; e = e.parentElement) chain.push(e);
                  let colour = [255, 255, 255, 1];
                  for (let i = chain.length - 1; i >= 0; i--) {
                    const c = parse(getComputedStyle(chain[i]).backgroundColor);
                    if (c && c[3] > 0) colour = over(c, colour);
                  }
                  return colour;
                };
                const luminance = (c) => {
                  const [r, g, b] = c.slice(0, 3).map(v => {
                    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                  });
                  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
                };
                const failures = [];
                for (const element of document.querySelectorAll('body *')) {
                  if (element.closest('svg, [hidden], .visually-hidden')) continue;
                  const style = getComputedStyle(element);
                  if (style.visibility === 'hidden' || style.display === 'none') continue;
                  const rect = element.getBoundingClientRect();
                  if (rect.width === 0 || rect.height === 0) continue;
                  const isField = element.matches('input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea');
                  const hasText = Array.from(element.childNodes)
                    .some(n => n.nodeType === 3 && n.textContent.trim() !== '');
                  if (!(hasText || (isField && element.value))) continue;
                  if (element.disabled) continue;
                  const bg = background(element);
                  const fgRaw = parse(style.color);
                  if (!fgRaw) continue;
                  const fg = over(fgRaw, bg);
                  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
                  const ratio = (hi + 0.05) / (lo + 0.05);
                  const size = parseFloat(style.fontSize);
                  const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
                  if (ratio < (large ? 3 : 4.5)) {
                    failures.push(element.tagName.toLowerCase() + '.' + element.className + ' "' +
                      (element.value || element.textContent).trim().slice(0, 30) + '" ' +
                      ratio.toFixed(2) + ' (' + style.color + ' on rgb(' + bg.slice(0, 3).map(Math.round) + '))');
                  }
                }
                return failures;
                "#,
            )
            .await;
        failures.as_array().cloned().unwrap_or_default()
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

    /// Makes the window `width` px wide (900 high), as a phone or a laptop would be.
    pub async fn set_width(&self, width: u32) {
        self.client.set_window_size(width, 900).await.unwrap();
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
