//! The extractor interface: image bytes and their kind in, receipt fields out.

use chrono::NaiveDate;
use ledgerly_core::{Money, ReceiptKind};

use crate::normalise::Hints;

/// What a backend read from a receipt. Every field may be missing; the raw reply is kept for
/// debugging a bad scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptFields {
    pub vendor: Option<String>,
    pub date: Option<NaiveDate>,
    /// The amount paid, with its currency.
    pub total: Option<Money>,
    pub line_items: Vec<LineItem>,
    pub confidence: FieldConfidence,
    /// The backend's own output (model reply, OCR text).
    pub raw: String,
    /// Why a field the backend read was dropped by the normaliser (`"date: 2031-01-01 is in the
    /// future"`), for the failure reason and for debugging.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub description: String,
    pub amount: Option<Money>,
}

/// How sure the backend is of each field, in percent, where it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldConfidence {
    pub vendor: Option<u8>,
    pub date: Option<u8>,
    pub total: Option<u8>,
}

/// Why an extraction failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// May pass on a later try: a timeout, a rate limit, a server error.
    #[error("{0}")]
    Transient(String),
    /// Will not pass: an unreadable image, an unsupported format. Shown to the receipt's owner.
    #[error("{0}")]
    Permanent(String),
}

/// A receipt-reading backend.
#[async_trait::async_trait]
pub trait Extractor: Send + Sync + std::fmt::Debug {
    /// The backend's name, for logs and metrics.
    fn name(&self) -> &str;

    /// Reads `image` (a file of `kind`). `hints` carries the currency an amount without a symbol
    /// is in and today's date; every backend passes its output through
    /// [`normalise`](crate::normalise::normalise) with them.
    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError>;
}
