//! The backup: every piece of one user's data in one zip file, to take elsewhere or to restore.
//!
//! The zip holds `manifest.json` (a [`Manifest`]: what the file is, the account, and how many of
//! each thing it holds, to check a restore against), `data.json` (a [`Data`]: the rows) and each
//! receipt's file as `receipts/<receipt id>.<ext>` ([`receipt_file`]). The order of the entries
//! in the zip means nothing.
//!
//! The fields are plain — strings, ids, days, instants — so the format is stated here, not by
//! how the domain types happen to serialise. Amounts are decimal strings in their currency, as the
//! API writes them (`"12.50"` USD, `"1500"` JPY); days are `YYYY-MM-DD`, months `YYYY-MM`,
//! instants RFC 3339 in UTC. A reader ignores fields it does not know, so a backup from a newer
//! release that only adds fields still reads; [`VERSION`] goes up when a field changes meaning
//! or goes away.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::receipt::ReceiptKind;

/// What `manifest.json`'s `format` says.
pub const FORMAT: &str = "ledgerly-backup";

/// The version of the format this release writes.
pub const VERSION: u32 = 1;

/// The manifest's name in the zip.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The data's name in the zip.
pub const DATA_FILE: &str = "data.json";

/// Where a receipt's file is in the zip: `receipts/<id>.<ext>`.
pub fn receipt_file(id: Uuid, kind: ReceiptKind) -> String {
    format!("receipts/{id}.{}", kind.extension())
}

/// `manifest.json`: what the file is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when written by this release.
    pub version: u32,
    /// The newest database migration applied where the backup was made.
    pub schema_version: i64,
    /// The release that made it.
    pub app_version: String,
    pub exported_at: DateTime<Utc>,
    pub account: Account,
    pub counts: Counts,
}

/// The account the data belongs to. No password or session is in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub email: String,
    pub name: String,
    /// ISO 4217: the currency budgets and statistics are kept in.
    pub currency: String,
    /// IANA: `Asia/Kolkata`.
    pub time_zone: String,
    /// Whether the statistics convert with the ECB's reference rates (after the user's own).
    pub uses_ecb_rates: bool,
}

/// How many of each thing `data.json` holds, and how many receipt files the zip holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub categories: u64,
    pub tags: u64,
    pub expenses: u64,
    pub budgets: u64,
    pub category_budgets: u64,
    pub recurring: u64,
    pub rates: u64,
    pub receipts: u64,
    /// Receipts with their file in the zip: fewer than `receipts` when a file was missing from
    /// storage when the backup was made.
    pub receipt_files: u64,
}

impl Counts {
    /// The counts of `data`; a receipt's file counts when its entry names one.
    pub fn of(data: &Data) -> Counts {
        let n = |len: usize| u64::try_from(len).unwrap_or(u64::MAX);
        Counts {
            categories: n(data.categories.len()),
            tags: n(data.tags.len()),
            expenses: n(data.expenses.len()),
            budgets: n(data.budgets.len()),
            category_budgets: n(data.category_budgets.len()),
            recurring: n(data.recurring.len()),
            rates: n(data.rates.len()),
            receipts: n(data.receipts.len()),
            receipt_files: n(data.receipts.iter().filter(|r| r.file.is_some()).count()),
        }
    }
}

/// `data.json`: every row of the user's data. Ids are kept, so the references between the
/// rows (an expense's category, receipt and recurring rule) hold within the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data {
    pub categories: Vec<CategoryEntry>,
    /// Every tag's name, used or not; an expense names its tags.
    pub tags: Vec<String>,
    pub expenses: Vec<ExpenseEntry>,
    /// The monthly budget, each from its month on.
    pub budgets: Vec<BudgetEntry>,
    pub category_budgets: Vec<CategoryBudgetEntry>,
    pub recurring: Vec<RecurringEntry>,
    /// The exchange rates the user entered.
    pub rates: Vec<RateEntry>,
    pub receipts: Vec<ReceiptEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryEntry {
    pub id: Uuid,
    pub name: String,
    /// One of the categories every account starts with.
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpenseEntry {
    pub id: Uuid,
    /// The day on the receipt.
    pub date: NaiveDate,
    /// The moment, when known (from a receipt's time).
    pub occurred_at: Option<DateTime<Utc>>,
    pub vendor: String,
    /// A decimal string: `"12.50"`.
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    pub note: Option<String>,
    pub category_id: Uuid,
    /// Filled in by OCR and not yet confirmed.
    pub needs_review: bool,
    /// Tag names, as in `tags`.
    pub tags: Vec<String>,
    /// The receipt it was read from.
    pub receipt_id: Option<Uuid>,
    /// The recurring expense that made it, and which of its occurrences it is.
    pub recurring_id: Option<Uuid>,
    pub recurring_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// The monthly budget from a month on (until a later one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetEntry {
    /// `YYYY-MM`.
    pub from: String,
    pub amount: String,
    pub currency: String,
}

/// A category's monthly budget from a month on (until a later one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryBudgetEntry {
    pub category_id: Uuid,
    /// `YYYY-MM`.
    pub from: String,
    /// `None` (with `currency`): no budget for the category from that month on.
    pub amount: Option<String>,
    pub currency: Option<String>,
}

/// A recurring expense: what it records, its schedule and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurringEntry {
    pub id: Uuid,
    pub category_id: Uuid,
    pub vendor: String,
    pub amount: String,
    pub currency: String,
    pub note: Option<String>,
    /// `day`, `week`, `month` or `year`.
    pub unit: String,
    pub every: u32,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub day_of_month: Option<u32>,
    /// The occurrence (counted from 0 at `starts_on`) it makes next: those before it were made,
    /// skipped or passed over.
    pub next_index: u32,
    pub paused: bool,
    /// Coming occurrences the user skipped.
    pub skips: Vec<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// An exchange rate the user entered: one `base` buys `rate` of `quote` from `date` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateEntry {
    pub base: String,
    pub quote: String,
    pub date: NaiveDate,
    /// An exact decimal: `"83.215"`.
    pub rate: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEntry {
    pub id: Uuid,
    /// `jpeg`, `png`, `webp`, `heic` or `pdf`.
    pub kind: String,
    /// The name it was uploaded with.
    pub original_filename: Option<String>,
    /// The file's SHA-256, hex.
    pub sha256: String,
    pub size_bytes: u64,
    /// Where its OCR stood: `pending`, `processing`, `done` or `failed`.
    pub status: String,
    pub failure_reason: Option<String>,
    /// The text OCR read off it.
    pub ocr_text: Option<String>,
    /// The category suggested at upload.
    pub category_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Its file's name in the zip ([`receipt_file`]); `None` when the file was missing from
    /// storage when the backup was made.
    pub file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Data {
        let at = DateTime::parse_from_rfc3339("2026-03-14T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let category = Uuid::new_v4();
        let receipt = Uuid::new_v4();
        Data {
            categories: vec![CategoryEntry {
                id: category,
                name: "Food".into(),
                is_default: true,
            }],
            tags: vec!["trip".into()],
            expenses: vec![ExpenseEntry {
                id: Uuid::new_v4(),
                date: day,
                occurred_at: None,
                vendor: "Blue Tokai".into(),
                amount: "12.50".into(),
                currency: "USD".into(),
                note: Some("with Ravi".into()),
                category_id: category,
                needs_review: false,
                tags: vec!["trip".into()],
                receipt_id: Some(receipt),
                recurring_id: None,
                recurring_on: None,
                created_at: at,
            }],
            budgets: vec![BudgetEntry {
                from: "2026-03".into(),
                amount: "30000.00".into(),
                currency: "INR".into(),
            }],
            category_budgets: vec![CategoryBudgetEntry {
                category_id: category,
                from: "2026-04".into(),
                amount: None,
                currency: None,
            }],
            recurring: Vec::new(),
            rates: vec![RateEntry {
                base: "USD".into(),
                quote: "INR".into(),
                date: day,
                rate: "83.215".into(),
            }],
            receipts: vec![ReceiptEntry {
                id: receipt,
                kind: "png".into(),
                original_filename: None,
                sha256: "ab".repeat(32),
                size_bytes: 1_234,
                status: "done".into(),
                failure_reason: None,
                ocr_text: Some("BLUE TOKAI 12.50".into()),
                category_id: None,
                created_at: at,
                file: Some(receipt_file(receipt, ReceiptKind::Png)),
            }],
        }
    }

    #[test]
    fn data_reads_back_as_written_in_plain_fields() {
        let data = data();
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(json["expenses"][0]["amount"], "12.50");
        assert_eq!(json["expenses"][0]["date"], "2026-03-14");
        assert_eq!(json["expenses"][0]["created_at"], "2026-03-14T09:30:00Z");
        assert_eq!(json["budgets"][0]["from"], "2026-03");
        assert!(json["category_budgets"][0]["amount"].is_null());
        assert_eq!(
            json["receipts"][0]["file"],
            format!("receipts/{}.png", data.receipts[0].id)
        );
        let back: Data = serde_json::from_value(json).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn fields_a_newer_release_adds_are_ignored() {
        let data = data();
        let mut json = serde_json::to_value(&data).unwrap();
        json["budgets_v2"] = serde_json::json!([]);
        json["expenses"][0]["location"] = serde_json::json!("Lisbon");
        let back: Data = serde_json::from_value(json).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn counts_tell_receipts_from_their_files() {
        let mut data = data();
        let mut missing = data.receipts[0].clone();
        missing.id = Uuid::new_v4();
        missing.file = None;
        data.receipts.push(missing);
        let counts = Counts::of(&data);
        assert_eq!(counts.receipts, 2);
        assert_eq!(counts.receipt_files, 1);
        assert_eq!(counts.expenses, 1);
        assert_eq!(counts.category_budgets, 1);
        assert_eq!(counts.recurring, 0);
    }
}
