//! OCR metrics: extractions by backend and outcome, and how long each backend takes. Registered
//! into the API's registry when the worker runs inside `ledgerctl up`, or served by the
//! standalone worker.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    backend: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendLabels {
    backend: String,
}

#[derive(Debug, Clone)]
pub struct OcrMetrics {
    jobs: Family<OutcomeLabels, Counter>,
    latency: Family<BackendLabels, Histogram>,
}

fn latency_histogram() -> Histogram {
    // 50 ms to ~100 s.
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

impl Default for OcrMetrics {
    /// Metrics kept nowhere: for a worker whose figures nobody reads.
    fn default() -> Self {
        Self {
            jobs: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl OcrMetrics {
    /// New metrics, registered in `registry` (whose prefix, e.g. `ledgerly`, they take).
    pub fn register(registry: &mut Registry) -> Self {
        let jobs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ocr_extractions",
            "OCR jobs worked by this process, by backend and outcome (read, retrying, failed, released, lease_lost)",
            jobs.clone(),
        );
        let latency = Family::<BackendLabels, Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "ocr_extraction_duration_seconds",
            "Time a backend takes to read one receipt",
            latency.clone(),
        );
        Self { jobs, latency }
    }

    pub(crate) fn job(&self, backend: &str, outcome: &'static str) {
        self.jobs
            .get_or_create(&OutcomeLabels {
                backend: backend.to_owned(),
                outcome,
            })
            .inc();
    }

    pub(crate) fn extraction(&self, backend: &str, seconds: f64) {
        self.latency
            .get_or_create(&BackendLabels {
                backend: backend.to_owned(),
            })
            .observe(seconds);
    }
}
