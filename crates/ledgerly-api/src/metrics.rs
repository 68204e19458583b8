//! Prometheus metrics at `GET /metrics`: requests by method, route and status with a latency
//! histogram, and OCR jobs by state — read from the database at scrape time, so the figures are
//! right whichever process runs the workers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    state: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    jobs: Family<JobLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    /// The API's metrics plus those `extra` registers — e.g. the in-process OCR worker's in
    /// `ledgerctl up` — all served at `/metrics`.
    pub fn with(extra: impl FnOnce(&mut Registry)) -> Self {
        let mut registry = Registry::with_prefix("ledgerly");
        extra(&mut registry);
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to ~33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route",
            latency.clone(),
        );
        let jobs = Family::<JobLabels, Gauge>::default();
        registry.register(
            "ocr_jobs",
            "OCR jobs by state: queued, running, done (read) or failed (given up)",
            jobs.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            jobs,
        }
    }

    fn observe(&self, method: &str, route: &str, status: StatusCode, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Records every request. Unmatched paths count as one route, so scanners cannot grow the
/// label set without bound.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(
        &method,
        &route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The Prometheus metrics: requests by route and status, latency histograms, OCR jobs by outcome.
#[utoipa::path(get, operation_id = "metrics", path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "The Prometheus text exposition format",
        content_type = "application/openmetrics-text", body = String)))]
pub async fn render(State(state): State<AppState>) -> Response {
    // Counted in the background every 15 s, not per scrape.
    if let Some(counts) = state.readiness.jobs() {
        for (label, n) in [
            ("queued", counts.queued),
            ("running", counts.running),
            ("done", counts.done),
            ("failed", counts.failed),
        ] {
            state
                .metrics
                .jobs
                .get_or_create(&JobLabels { state: label })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    let mut body = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut body, &state.metrics.registry)
    {
        tracing::error!(error = ?err, "metrics: encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
