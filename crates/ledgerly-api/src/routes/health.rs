//! Liveness and readiness.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};

use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers and receipt storage can be reached.
async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<Value>) {
    let (database, storage) = tokio::join!(state.store.ping(), state.storage.check());
    if let Err(err) = &database {
        tracing::warn!(error = ?err, "readiness check: database unavailable");
    }
    if let Err(err) = &storage {
        tracing::warn!(error = ?err, "readiness check: storage unavailable");
    }
    let ok = |up: bool| if up { "ok" } else { "unreachable" };
    let ready = database.is_ok() && storage.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": ok(database.is_ok()),
            "storage": ok(storage.is_ok()),
        })),
    )
}
