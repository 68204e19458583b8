//! The signed OCR result a remote extractor (the S3-event Lambda) posts to the API:
//! `POST /internal/ocr-results` with the JSON body, `X-Ledgerly-Timestamp: <unix seconds>` and
//! `X-Ledgerly-Signature: v1=<hex HMAC-SHA256 over "<timestamp>.<body>">` under a shared secret.
//! Signing the timestamp with the body lets the API refuse stale and replayed results.

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::currency::Currency;
use crate::ids::ReceiptId;
use crate::receipt::Unsure;

pub const TIMESTAMP_HEADER: &str = "x-ledgerly-timestamp";
pub const SIGNATURE_HEADER: &str = "x-ledgerly-signature";

/// What OCR made of one receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OcrCallback {
    pub receipt_id: ReceiptId,
    /// The stored object that was read (`receipts/<user>/<receipt>.<ext>`): the result applies
    /// only to the receipt stored under it.
    pub object_key: String,
    pub outcome: CallbackOutcome,
    /// Fresh for every sending, so a result sent twice in the same second (a Lambda event
    /// delivered again) is signed differently and is not refused as a replay of the first.
    pub delivery: uuid::Uuid,
}

impl OcrCallback {
    /// A result to send, with a fresh delivery id.
    pub fn new(receipt_id: ReceiptId, object_key: String, outcome: CallbackOutcome) -> Self {
        Self {
            receipt_id,
            object_key,
            outcome,
            delivery: uuid::Uuid::new_v4(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "lowercase", deny_unknown_fields)]
pub enum CallbackOutcome {
    /// The fields were read.
    Read {
        vendor: String,
        date: NaiveDate,
        /// A decimal string: `"1234.50"`.
        amount: String,
        currency: Currency,
        /// The fields OCR was unsure of; none when left out.
        #[serde(default)]
        unsure: Unsure,
        /// The text read off the receipt, kept with it for search; none when left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// The receipt could not be read; `reason` is for its owner.
    Failed { reason: String },
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

/// The MAC `signature` (the header's value) carries, when it signs `body` at `timestamp`;
/// compared in constant time. The MAC's bytes, not its text, name a request once: hex digits in
/// another case are the same signature.
pub fn verify(secret: &[u8], timestamp: i64, body: &[u8], signature: &str) -> Option<[u8; 32]> {
    let hex = signature.trim().strip_prefix("v1=")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    mac(secret, timestamp, body)
        .verify_slice(&bytes)
        .is_ok()
        .then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signature_verifies_only_its_body_time_and_secret() {
        let body = br#"{"receipt_id":"x"}"#;
        let signature = sign(SECRET, 1_700_000_000, body);
        assert!(signature.starts_with("v1=") && signature.len() == 67);
        assert!(verify(SECRET, 1_700_000_000, body, &signature).is_some());
        assert!(verify(SECRET, 1_700_000_001, body, &signature).is_none());
        assert!(verify(SECRET, 1_700_000_000, b"{}", &signature).is_none());
        assert!(
            verify(
                b"another secret of enough length!",
                1_700_000_000,
                body,
                &signature
            )
            .is_none()
        );
        assert!(verify(SECRET, 1_700_000_000, body, "v1=zz").is_none());
        // The same MAC in upper case is the same signature: the same bytes, so one nonce.
        let upper = format!("v1={}", signature[3..].to_uppercase());
        assert_eq!(
            verify(SECRET, 1_700_000_000, body, &upper),
            verify(SECRET, 1_700_000_000, body, &signature)
        );
        assert!(
            verify(
                SECRET,
                1_700_000_000,
                body,
                &signature.replace("v1=", "v2=")
            )
            .is_none()
        );
    }

    #[test]
    fn the_wire_format_is_tagged_by_status_and_round_trips() {
        let callback = OcrCallback {
            receipt_id: ReceiptId::from_uuid(uuid::Uuid::nil()),
            object_key: "receipts/u/r.png".into(),
            outcome: CallbackOutcome::Read {
                vendor: "Blue Tokai".into(),
                date: NaiveDate::from_ymd_opt(2026, 3, 14).unwrap_or_default(),
                amount: "350.00".into(),
                currency: Currency::INR,
                unsure: Unsure {
                    date: true,
                    ..Unsure::default()
                },
                text: Some("BLUE TOKAI COFFEE ROASTERS\nFlat white 350.00".into()),
            },
            delivery: uuid::Uuid::nil(),
        };
        let json = serde_json::to_value(&callback).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "receipt_id": "00000000-0000-0000-0000-000000000000",
                "object_key": "receipts/u/r.png",
                "outcome": { "status": "read", "vendor": "Blue Tokai", "date": "2026-03-14",
                             "amount": "350.00", "currency": "INR",
                             "unsure": { "vendor": false, "date": true, "amount": false },
                             "text": "BLUE TOKAI COFFEE ROASTERS\nFlat white 350.00" },
                "delivery": "00000000-0000-0000-0000-000000000000"
            })
        );
        assert_eq!(
            serde_json::from_value::<OcrCallback>(json).unwrap(),
            callback
        );
        // Without text, none is sent.
        let textless = OcrCallback {
            outcome: CallbackOutcome::Read {
                vendor: "Blue Tokai".into(),
                date: NaiveDate::from_ymd_opt(2026, 3, 14).unwrap_or_default(),
                amount: "350.00".into(),
                currency: Currency::INR,
                unsure: Unsure::default(),
                text: None,
            },
            ..callback
        };
        let json = serde_json::to_value(&textless).unwrap();
        assert!(json["outcome"].get("text").is_none(), "{json}");
        assert_eq!(
            serde_json::from_value::<OcrCallback>(json).unwrap(),
            textless
        );
        // A sender that does not say what it was unsure of is sure of everything; one that sends
        // no text (an older one) read none.
        let older = serde_json::json!({
            "receipt_id": uuid::Uuid::nil(),
            "object_key": "receipts/u/r.png",
            "outcome": { "status": "read", "vendor": "Blue Tokai", "date": "2026-03-14",
                         "amount": "350.00", "currency": "INR" },
            "delivery": uuid::Uuid::nil()
        });
        match serde_json::from_value::<OcrCallback>(older)
            .unwrap()
            .outcome
        {
            CallbackOutcome::Read { unsure, text, .. } => {
                assert!(!unsure.any());
                assert_eq!(text, None);
            }
            other => panic!("read as {other:?}"),
        }
        let unknown =
            serde_json::json!({ "receipt_id": uuid::Uuid::nil(), "outcome": { "status": "lost" } });
        assert!(serde_json::from_value::<OcrCallback>(unknown).is_err());
    }
}
