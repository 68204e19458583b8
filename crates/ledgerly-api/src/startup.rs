//! Building and serving the application: `Application::build` binds the listener (port 0 picks a
//! free one, which the tests use), `app` is the router, `serve` runs until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, StatusCode};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;

/// The router for `state`: the API under `/api/v1`, health at the root.
pub fn app(state: AppState) -> Router {
    let limits = &state.settings.limits;
    let limits_upload = state.settings.storage.max_upload_bytes;
    Router::new()
        .nest("/api/v1", routes::api_router(limits_upload))
        .merge(routes::health_router())
        .merge(routes::internal_router(
            !state.settings.ocr.callback_secret.is_empty(),
        ))
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_json_bytes))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(limits.request_timeout_seconds),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("unmatched", MatchedPath::as_str);
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({
            "error": { "code": "method_not_allowed", "message": "this route does not take that method" }
        })),
    )
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
        use anyhow::Context as _;
        let options = ledgerly_store::StoreOptions {
            max_connections: settings.database.max_connections,
            ..ledgerly_store::StoreOptions::default()
        };
        let store = ledgerly_store::Store::connect_with(&settings.database.url, &options)
            .await
            .context("failed to open the database (database.url)")?;
        let storage = ledgerly_store::objects::Storage::open(&settings.storage.location())
            .await
            .context("failed to set up receipt storage (storage.*)")?;
        let address = SocketAddr::new(settings.server.bind, settings.server.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("failed to listen on {address} (server.bind, server.port)"))?;
        Ok(Application {
            listener,
            state: AppState::new(store, storage, settings),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.state.store.clone();
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

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
