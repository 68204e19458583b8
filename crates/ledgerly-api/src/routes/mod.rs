//! The routes: each resource module exposes `router()`, merged under `/api/v1`.

mod auth;
mod budget;
mod categories;
mod expenses;
mod health;
mod me;
mod stats;

use axum::Router;

use crate::state::AppState;

/// The JSON API, to be nested under `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(expenses::router())
        .merge(categories::router())
        .merge(budget::router())
        .merge(stats::router())
}

/// `/healthz` and `/readyz`, at the root.
pub fn health_router() -> Router<AppState> {
    health::router()
}
