//! Receipt OCR: turn a receipt image into vendor, date and total.
//!
//! [`Extractor`] is the one interface every backend implements; [`Worker`] claims jobs from the
//! store's queue, reads each receipt's file, extracts, and records the result — retrying what
//! may pass, failing what will not with a reason a person understands, and keeping the image.

pub mod backends;
pub mod config;
mod extractor;
pub mod image_prep;
pub mod lambda;
pub mod layout;
pub mod metrics;
pub mod normalise;
pub mod paddle;
pub mod reporter;
pub mod rules;
#[cfg(feature = "synth")]
pub mod synth;
mod worker;

pub use config::{BackendKind, ExtractorSettings};
pub use extractor::{ExtractError, Extractor, FieldConfidence, LineItem, ReceiptFields};
pub use metrics::OcrMetrics;
pub use normalise::{Hints, RawFields};
pub use worker::{
    JobOutcome, UNSURE_BELOW, UnusableFields, Worker, WorkerError, WorkerOptions, read_outcome,
    usable_fields,
};
