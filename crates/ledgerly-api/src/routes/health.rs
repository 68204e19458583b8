//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, operation_id = "healthz", path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "Up", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
struct Readiness {
    /// `ready`, `unavailable`, or `draining` (shutting down: finishing requests, taking no new
    /// ones from a proxy that checks this).
    #[schema(example = "ready")]
    status: &'static str,
    /// `ok` or `unreachable`.
    #[schema(example = "ok")]
    database: &'static str,
    /// `ok` or `unreachable`.
    #[schema(example = "ok")]
    storage: &'static str,
}

/// The process can serve: the database answers and receipt storage can be reached, as of the
/// last background check (every 2 s; a check older than 10 s counts as none).
#[utoipa::path(get, operation_id = "readyz", path = "/readyz", tag = "operations", security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or storage cannot be reached, or the server is draining", body = Readiness),
    ))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let seen = state.readiness.snapshot();
    let (database, storage) = (seen.database && seen.fresh, seen.storage && seen.fresh);
    let ok = |up: bool| if up { "ok" } else { "unreachable" };
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let ready = database && storage && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: match (ready, draining) {
                (true, _) => "ready",
                (false, true) => "draining",
                (false, false) => "unavailable",
            },
            database: ok(database),
            storage: ok(storage),
        }),
    )
}
