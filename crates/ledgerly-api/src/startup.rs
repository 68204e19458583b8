//! Building and serving the application: `Application::build` binds the listener (port 0 picks a
//! free one, which the tests use), `app` is the router, `serve` runs until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse as _;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::state::AppState;
use crate::{openapi, routes};

pub use ledgerly_process::shutdown_signal;

/// The router for `state`: the API under `/api/v1`, health at the root, the dashboard's pages.
pub fn app(state: AppState) -> Router {
    let limits = &state.settings.limits;
    let (router, document) = api(&state.settings);
    router
        .merge(SwaggerUi::new(openapi::DOCS_PATH).url(openapi::DOCUMENT_PATH, document))
        .merge(crate::web::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_json_bytes))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn(to_completion))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_seconds.get()),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    tracing::info_span!("request", method = %request.method(), route)
                })
                .on_failure(failed),
        )
        .with_state(state)
}

/// A response that failed, logged once more beside its cause. A 503 is the app saying a part
/// is down (the database, storage, a full hashing queue), which its cause already logged as a
/// warning: at debug level here, so an outage does not write an error per request.
fn failed(class: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    let latency_ms = latency.as_millis();
    match class {
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {
            tracing::debug!(latency_ms, "answered 503: unavailable for now");
        }
        other => tracing::error!(classification = %other, latency_ms, "response failed"),
    }
}

/// The routes and the OpenAPI document that describes them, built together.
pub fn api(settings: &Settings) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(
            "/api/v1",
            routes::api_router(settings.storage.max_upload_bytes.get()),
        )
        .merge(routes::health_router())
        .merge(routes::internal_router(
            !secrecy::ExposeSecret::expose_secret(&settings.ocr.callback_secret).is_empty(),
        ))
        .routes(routes!(crate::metrics::render))
        .split_for_parts();
    (router, openapi::complete(document))
}

/// Runs each request's handler as a task of its own, so a client that hangs up (or a request that
/// times out) does not cancel it halfway: a query in flight finishes and its connection goes back
/// to the pool healthy. Cancelled mid-query, sqlx closes the connection; 4 of 10 pooled
/// connections were replaced after a 64-connection load whose clients hung up. A panic in the
/// handler is passed on to the panic layer outside.
async fn to_completion(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument as _;
    let task = tokio::spawn(next.run(request).in_current_span());
    match task.await {
        Ok(response) => response,
        Err(failed) => match failed.try_into_panic() {
            Ok(cause) => std::panic::resume_unwind(cause),
            Err(failed) => ApiError::internal(failed).into_response(),
        },
    }
}

/// A handler that panicked answers like any other internal error (the panic is logged) instead
/// of dropping the connection.
fn panicked(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// 404: the API's JSON error, or a page for a browser asking for one.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let wants_page = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        crate::web::not_found_page(&state)
    } else {
        ApiError::NotFound("route").into_response()
    }
}

async fn method_not_allowed() -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({
            "error": { "code": "method_not_allowed", "message": "this route does not take that method" }
        })),
    )
}

/// How often stale sessions and login counts are deleted.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Deletes expired, revoked and idle (past `idle`) sessions, and login counts whose window
/// (`window`) has ended, now and then every [`SWEEP_EVERY`], while the server whose readiness
/// `alive` is lives. With several API instances each sweeps; the deletes are the same whoever
/// runs them.
fn sweep(
    store: ledgerly_store::Store,
    idle: Option<chrono::Duration>,
    window: chrono::Duration,
    alive: std::sync::Weak<crate::readiness::Readiness>,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            let now = chrono::Utc::now();
            match store.delete_stale_sessions(now, idle).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "stale sessions deleted"),
                Err(err) => tracing::warn!(error = ?err, "cannot delete stale sessions"),
            }
            match store.delete_stale_attempts(now - window).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "ended login counts deleted"),
                Err(err) => tracing::warn!(error = ?err, "cannot delete ended login counts"),
            }
        }
    });
}

/// How often due recurring expenses are made.
const RECURRING_EVERY: Duration = Duration::from_secs(60);

/// The most rules one pass of the recurring generator serves; the rest wait for the next pass.
const RECURRING_RULES_PER_PASS: u32 = 500;

/// Makes the expenses of due recurring expenses now and then every [`RECURRING_EVERY`], while
/// the server whose readiness `alive` is lives. Every API instance runs this (and `ledgerctl up`,
/// whose one process is the API and the OCR worker); the store claims each rule, so an
/// occurrence is made once however many run.
fn make_recurring(
    store: ledgerly_store::Store,
    alive: std::sync::Weak<crate::readiness::Readiness>,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RECURRING_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if alive.upgrade().is_none() {
                return;
            }
            match store
                .make_due_recurring(chrono::Utc::now(), RECURRING_RULES_PER_PASS)
                .await
            {
                Ok(0) => {}
                Ok(made) => tracing::info!(made, "recurring expenses made"),
                Err(err) => tracing::warn!(error = ?err, "cannot make due recurring expenses"),
            }
        }
    });
}

/// A bound, ready-to-serve application.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects the store (applying migrations) and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_metrics(settings, Metrics::new()).await
    }

    /// [`build`](Self::build), serving `metrics` (which may carry more than the API's own).
    pub async fn build_with_metrics(
        settings: Settings,
        metrics: Metrics,
    ) -> anyhow::Result<Application> {
        use anyhow::Context as _;
        let options = ledgerly_store::StoreOptions {
            max_connections: settings.database.max_connections.get(),
            acquire_timeout: Duration::from_secs(u64::from(
                settings.database.acquire_timeout_seconds.get(),
            )),
            migrate: settings.database.migrate,
        };
        let store = ledgerly_store::Store::connect_with(
            secrecy::ExposeSecret::expose_secret(&settings.database.url),
            &options,
        )
        .await
        .context("failed to open the database (database.url)")?;
        let storage = ledgerly_store::objects::Storage::open(&settings.storage.location())
            .await
            .context("failed to set up receipt storage (storage.*)")?;
        let address = SocketAddr::new(settings.server.bind, settings.server.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("failed to listen on {address} (server.bind, server.port)"))?;
        let state = AppState::with_metrics(store, storage, settings, metrics);
        crate::readiness::Readiness::keep_fresh(
            &state.readiness,
            state.store.clone(),
            state.storage.clone(),
            Duration::from_secs(u64::from(
                state.settings.server.metrics_refresh_seconds.get(),
            )),
        )
        .await;
        sweep(
            state.store.clone(),
            state.settings.auth.idle_limit(),
            state.limiter.window(),
            Arc::downgrade(&state.readiness),
        );
        make_recurring(state.store.clone(), Arc::downgrade(&state.readiness));
        crate::ecb::keep_fresh(
            state.store.clone(),
            state.settings.rates.ecb_url.clone(),
            Duration::from_secs(u64::from(state.settings.rates.ecb_refresh_hours.get()) * 3600),
            Arc::downgrade(&state.readiness),
        );
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains for `server.drain_seconds` (`/readyz`
    /// answers 503 while requests are still served), then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
        let draining = self.state.draining.clone();
        let drain =
            std::time::Duration::from_secs(u64::from(self.state.settings.server.drain_seconds));
        let shutdown = async move {
            shutdown.await;
            if !drain.is_zero() {
                draining.store(true, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(
                    seconds = drain.as_secs(),
                    "draining: /readyz answers 503 while requests are still served"
                );
                tokio::time::sleep(drain).await;
            }
        };
        let router = app(self.state);
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        store.close().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tower::ServiceExt as _;

    async fn panics() -> StatusCode {
        panic!("on purpose")
    }

    #[tokio::test]
    async fn a_request_whose_client_is_gone_still_runs_to_the_end() {
        let finished = Arc::new(AtomicBool::new(false));
        let seen = finished.clone();
        let router = Router::new()
            .route(
                "/slow",
                axum::routing::get(move || async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    seen.store(true, Ordering::SeqCst);
                }),
            )
            .route("/panics", axum::routing::get(panics))
            .layer(axum::middleware::from_fn(to_completion))
            .layer(CatchPanicLayer::custom(panicked));
        let request = |path: &str| {
            Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap_or_default()
        };
        // The client gives up after 20 ms: its request future is dropped.
        let gone = tokio::time::timeout(
            Duration::from_millis(20),
            router.clone().oneshot(request("/slow")),
        )
        .await;
        assert!(gone.is_err());
        assert!(!finished.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(finished.load(Ordering::SeqCst), "the handler was cancelled");
        // A panic inside still answers 500.
        let response = router.oneshot(request("/panics")).await.map(|r| r.status());
        assert_eq!(response.ok(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    }

    /// Log lines written while a test runs.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut all) = self.0.lock() {
                all.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_outage_s_503_is_not_logged_as_an_error_and_a_500_is() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let router = Router::new()
            .route(
                "/down",
                axum::routing::get(|| async { ApiError::Unavailable("the database") }),
            )
            .route(
                "/broken",
                axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .layer(TraceLayer::new_for_http().on_failure(failed));
        let request = |path: &str| {
            Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap_or_default()
        };
        let down = router.clone().oneshot(request("/down")).await;
        assert_eq!(
            down.map(|r| r.status()).ok(),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        let text = || {
            String::from_utf8_lossy(&captured.0.lock().map(|b| b.clone()).unwrap_or_default())
                .into_owned()
        };
        assert!(text().contains("answered 503"), "{}", text());
        assert!(!text().contains("ERROR"), "{}", text());
        let broken = router.oneshot(request("/broken")).await;
        assert_eq!(
            broken.map(|r| r.status()).ok(),
            Some(StatusCode::INTERNAL_SERVER_ERROR)
        );
        assert!(text().contains("ERROR"), "{}", text());
    }

    #[tokio::test]
    async fn a_panic_answers_as_an_opaque_internal_error() {
        let response = panicked(Box::new("index out of bounds"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("index out of bounds"));
    }
}
