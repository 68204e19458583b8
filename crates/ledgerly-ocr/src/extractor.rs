//! The extractor interface: image bytes and their kind in, receipt fields out.

use chrono::NaiveDate;
use ledgerly_core::{Money, ReceiptKind};

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

    async fn extract(&self, image: &[u8], kind: ReceiptKind)
    -> Result<ReceiptFields, ExtractError>;
}
