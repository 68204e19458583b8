//! Ledgerly's HTTP API (axum) over `ledgerly-store`: auth, expenses, categories, budgets and
//! statistics under `/api/v1`, health at the root, and the web dashboard (`web`) at `/`.
//!
//! `Application::build(settings)` binds a listener and `Application::serve` runs it; `app(state)`
//! is the router alone.

pub mod auth;
mod ecb;
pub mod error;
pub mod extract;
pub mod instance;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod readiness;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod views;
pub mod web;

pub use metrics::Metrics;
pub use settings::Settings;
pub use startup::{Application, app, shutdown_signal};
pub use state::AppState;
