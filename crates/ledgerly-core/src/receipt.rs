//! Receipts: an uploaded image or PDF, kept privately, and where its OCR stands.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CategoryId, ExpenseId, ReceiptId, UserId};

/// The kinds of file a receipt may be, recognised by their first bytes — never by the name or the
/// content type a client claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    Jpeg,
    Png,
    Webp,
    Heic,
    Pdf,
}

impl ReceiptKind {
    /// Recognises a file by its magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && matches!(
                &bytes[8..12],
                b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
            )
        {
            Some(Self::Heic)
        } else {
            None
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn from_mime_type(mime: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Webp, Self::Heic, Self::Pdf]
            .into_iter()
            .find(|kind| kind.mime_type().eq_ignore_ascii_case(mime.trim()))
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Heic => "heic",
            Self::Pdf => "pdf",
        }
    }
}

/// Where a receipt's OCR stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum OcrStatus {
    /// Waiting for a worker (also between retries).
    Pending,
    /// A worker is reading it.
    Processing,
    /// Read; the expense it produced waits for review.
    Done,
    /// Could not be read; the reason is for people.
    Failed { reason: String },
}

impl OcrStatus {
    /// The name stored in the database and shown in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Failed { .. } => "failed",
        }
    }

    /// Rebuilds a status from its stored name and failure reason.
    pub fn from_parts(status: &str, reason: Option<String>) -> Result<Self, UnknownStatus> {
        match status {
            "pending" => Ok(Self::Pending),
            "processing" => Ok(Self::Processing),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed {
                reason: reason.unwrap_or_else(|| "the receipt could not be read".to_owned()),
            }),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }

    pub fn failure_reason(&self) -> Option<&str> {
        match self {
            Self::Failed { reason } => Some(reason),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an OCR status (pending, processing, done or failed)")]
pub struct UnknownStatus(pub String);

impl fmt::Display for OcrStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { reason } => write!(f, "failed: {reason}"),
            other => f.write_str(other.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a receipt file kind (jpeg, png, webp, heic or pdf)")]
pub struct UnknownKind(pub String);

impl FromStr for ReceiptKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jpeg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            "heic" => Ok(Self::Heic),
            "pdf" => Ok(Self::Pdf),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

impl fmt::Display for ReceiptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Heic => "heic",
            Self::Pdf => "pdf",
        })
    }
}

/// An uploaded receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub id: ReceiptId,
    pub user_id: UserId,
    /// Where the file is in object storage; chosen by the server, never by the client.
    pub object_key: String,
    pub kind: ReceiptKind,
    pub size_bytes: i64,
    /// SHA-256 of the file, hex: the same file uploaded twice is recognised.
    pub sha256: String,
    /// The name the client gave, for display only.
    pub original_filename: Option<String>,
    /// The category the uploader chose for the expense OCR will create.
    pub category_id: Option<CategoryId>,
    pub status: OcrStatus,
    /// The expense this receipt produced, once OCR is done.
    pub expense_id: Option<ExpenseId>,
    /// The fields of that expense OCR was unsure of, for its owner to check first.
    pub unsure: Unsure,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a receipt's expense OCR was unsure of: read with a low confidence, or not on the
/// receipt at all and filled in (the upload date for a missing date, "Unknown vendor"). The review
/// drawer flags them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Unsure {
    pub vendor: bool,
    pub date: bool,
    pub amount: bool,
}

impl Unsure {
    const NAMES: [&'static str; 3] = ["vendor", "date", "amount"];

    fn flags(self) -> [bool; 3] {
        [self.vendor, self.date, self.amount]
    }

    pub fn any(self) -> bool {
        self.flags().contains(&true)
    }

    /// The names of the fields, comma-separated (`"vendor,date"`): how the store keeps them.
    pub fn to_list(self) -> String {
        Self::NAMES
            .iter()
            .zip(self.flags())
            .filter(|(_, flag)| *flag)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Unsure::to_list`]'s form back; an unknown name is an error.
    pub fn from_list(list: &str) -> Result<Self, UnknownField> {
        let mut unsure = Self::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "vendor" => unsure.vendor = true,
                "date" => unsure.date = true,
                "amount" => unsure.amount = true,
                other => return Err(UnknownField(other.to_owned())),
            }
        }
        Ok(unsure)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OCR field {0:?}")]
pub struct UnknownField(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_recognised_by_their_first_bytes() {
        assert_eq!(
            ReceiptKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Some(ReceiptKind::Jpeg)
        );
        assert_eq!(
            ReceiptKind::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ReceiptKind::Png)
        );
        assert_eq!(
            ReceiptKind::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ReceiptKind::Webp)
        );
        assert_eq!(ReceiptKind::sniff(b"%PDF-1.7\n"), Some(ReceiptKind::Pdf));
        assert_eq!(
            ReceiptKind::sniff(b"\0\0\0\x18ftypheic\0\0"),
            Some(ReceiptKind::Heic)
        );
        assert_eq!(ReceiptKind::sniff(b"GIF89a"), None);
        assert_eq!(ReceiptKind::sniff(b"<html>"), None);
        assert_eq!(ReceiptKind::sniff(b""), None);
    }

    #[test]
    fn statuses_round_trip_through_their_stored_parts() {
        for status in [
            OcrStatus::Pending,
            OcrStatus::Processing,
            OcrStatus::Done,
            OcrStatus::Failed {
                reason: "no total found".into(),
            },
        ] {
            let reason = status.failure_reason().map(str::to_owned);
            assert_eq!(
                OcrStatus::from_parts(status.as_str(), reason).unwrap(),
                status
            );
        }
        assert!(OcrStatus::from_parts("lost", None).is_err());
    }

    #[test]
    fn unsure_fields_round_trip_through_their_list() {
        for unsure in [
            Unsure::default(),
            Unsure {
                vendor: true,
                ..Unsure::default()
            },
            Unsure {
                date: true,
                amount: true,
                ..Unsure::default()
            },
            Unsure {
                vendor: true,
                date: true,
                amount: true,
            },
        ] {
            assert_eq!(Unsure::from_list(&unsure.to_list()), Ok(unsure));
        }
        assert_eq!(
            Unsure {
                vendor: true,
                date: true,
                amount: false
            }
            .to_list(),
            "vendor,date"
        );
        assert!(Unsure::from_list("date,colour").is_err());
        let date = Unsure::from_list(" date ").unwrap();
        assert_eq!(
            date,
            Unsure {
                date: true,
                ..Unsure::default()
            }
        );
        assert!(date.any());
        assert!(!Unsure::default().any());
    }
}
