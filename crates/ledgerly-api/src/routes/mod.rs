//! The routes: each resource module exposes `router()`, an `OpenApiRouter` whose handlers carry
//! their OpenAPI description, merged under `/api/v1`.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod backup;
pub(crate) mod budget;
mod categories;
pub(crate) mod expenses;
mod health;
pub(crate) mod imports;
mod internal;
pub(crate) mod me;
pub(crate) mod password_reset;
pub(crate) mod rates;
pub(crate) mod receipts;
pub(crate) mod recurring;
pub(crate) mod restore;
mod stats;
mod tags;
pub(crate) mod tokens;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The JSON API, to be nested under `/api/v1`.
pub fn api_router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(receipts::router(max_upload_bytes))
        .merge(auth::router())
        .merge(me::router())
        .merge(expenses::router())
        .merge(categories::router())
        .merge(budget::router())
        .merge(stats::router())
        .merge(imports::router())
        .merge(tags::router())
        .merge(recurring::router())
        .merge(rates::router())
        .merge(backup::router())
        .merge(tokens::router())
        .merge(admin::router())
        .merge(password_reset::router())
}

/// `/healthz` and `/readyz`, at the root.
pub fn health_router() -> OpenApiRouter<AppState> {
    health::router()
}

/// `/internal/…`: machine-to-machine routes, present only when their secret is configured.
pub fn internal_router(enabled: bool) -> OpenApiRouter<AppState> {
    if enabled {
        internal::router()
    } else {
        OpenApiRouter::new()
    }
}
