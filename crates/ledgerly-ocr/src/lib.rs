//! Receipt OCR: turn a receipt image into vendor, date and total.
//!
//! [`Extractor`] is the one interface every backend implements; [`Worker`] claims jobs from the
//! store's queue, reads each receipt's file, extracts, and records the result — retrying what
//! may pass, failing what will not with a reason a person understands, and keeping the image.

mod extractor;
pub mod normalise;
pub mod rules;
mod worker;

pub use extractor::{ExtractError, Extractor, FieldConfidence, LineItem, ReceiptFields};
pub use normalise::{Hints, RawFields};
pub use worker::{JobOutcome, Worker, WorkerError, WorkerOptions};
