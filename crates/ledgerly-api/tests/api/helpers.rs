//! `spawn_app` and a `TestApp` with one method per endpoint.

use std::num::NonZeroU32;

use ledgerly_api::{Application, Settings};
use ledgerly_store::testing::{Backend, TestDatabase};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let mut settings = Settings::default();
    settings.server.port = 0;
    settings.database.url = db.url().to_owned().into();
    settings.database.max_connections = NonZeroU32::new(5).unwrap();
    // Job counts for /metrics every second, not every 15: the tests read them soon after.
    settings.server.metrics_refresh_seconds = NonZeroU32::MIN;
    // No test reaches the real ECB; the rates tests point this at a local server.
    settings.rates.ecb_url = String::new();
    // The tests sign up the accounts they use; the registration tests close it again.
    settings.auth.registration = ledgerly_api::settings::Registration::Open;
    settings.storage.path = std::env::temp_dir()
        .join("ledgerly-tests")
        .join(format!("receipts-{}", uuid::Uuid::new_v4().simple()));
    configure(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("build the app");
    let address = format!("http://{}", app.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.serve(async {
            rx.await.ok();
        })
        .await
        .expect("serve");
    });
    TestApp {
        address,
        settings,
        client: reqwest::Client::new(),
        db,
        shutdown: Some(tx),
        server: Some(server),
    }
}

pub(crate) use ledgerly_store::on_both_backends;

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub user: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(server) = self.server.take() {
            server.await.ok();
        }
        std::fs::remove_dir_all(&self.settings.storage.path).ok();
        self.db.cleanup().await;
    }

    /// Uploads `bytes` as a receipt named `name`, with an optional category.
    pub async fn upload(
        &self,
        token: &str,
        bytes: Vec<u8>,
        name: &str,
        category: Option<&str>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        if let Some(category) = category {
            form = form.text("category", category.to_owned());
        }
        self.client
            .post(self.url("/api/v1/receipts"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.send(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    pub async fn register(&self, email: &str) -> Session {
        self.register_with(json!({
            "email": email, "password": "correct horse", "name": "Priya Sharma",
            "currency": "INR", "timezone": "Asia/Kolkata"
        }))
        .await
    }

    pub async fn register_with(&self, body: Value) -> Session {
        let response = self.post_json("/api/v1/auth/register", None, &body).await;
        let body = expect(response, StatusCode::CREATED).await;
        Session {
            token: body["token"].as_str().unwrap().to_owned(),
            user: body["user"].clone(),
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            None,
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn create_expense(&self, token: &str, body: Value) -> Value {
        expect(
            self.post_json("/api/v1/expenses", Some(token), &body).await,
            StatusCode::CREATED,
        )
        .await
    }
}

/// The JSON body of a response with `status`; panics with the body otherwise.
pub async fn expect(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Asserts the API's error shape with `status` and `code`, and a message containing `words`.
pub async fn expect_error(
    response: Response,
    status: StatusCode,
    code: &str,
    words: &str,
) -> Value {
    let body = expect(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(words),
        "`{message}` should mention `{words}`"
    );
    body
}

/// The first bytes of a PNG, enough to be recognised, then `tag` to make each file distinct.
pub fn png(tag: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

/// A TCP relay in front of a server that can be switched off — refusing connections and
/// dropping the open ones, as a restarting database server does — and on again at the same
/// address.
pub struct Relay {
    pub address: std::net::SocketAddr,
    target: std::net::SocketAddr,
    running: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Relay {
    pub fn to(target: std::net::SocketAddr) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let mut relay = Relay {
            address,
            target,
            running: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let target = self.target;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let mut until_stopped = stopped.clone();
            loop {
                tokio::select! {
                    _ = until_stopped.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { continue };
                        let mut stopped = stopped.clone();
                        connections.spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await
                            else {
                                return;
                            };
                            tokio::select! {
                                _ = stopped.changed() => {}
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            }
                        });
                    }
                }
            }
            // The listener and every relayed connection close here.
            connections.shutdown().await;
        });
        self.running = Some((stop, task));
    }

    /// Refuses connections and drops the open ones.
    pub async fn off(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            stop.send(true).ok();
            task.await.ok();
        }
    }

    /// Accepts connections again, at the same address.
    pub fn on(&mut self) {
        if self.running.is_none() {
            let listener = std::net::TcpListener::bind(self.address).unwrap();
            self.serve(listener);
        }
    }
}
