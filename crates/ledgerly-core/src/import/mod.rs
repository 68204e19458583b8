//! Reading bank and expense-app CSV exports as expenses: which encoding, delimiter, header row
//! and columns a file has (guessed by [`detect`], confirmed or changed by the user), and what
//! each of its rows becomes under those settings ([`read`]).
//!
//! Nothing here stores anything or touches a disk: bytes come in, rows and the reasons rows were
//! left out come back, and the caller decides what to record.

mod amount;
mod date;
mod encoding;
mod guess;
mod records;
mod rows;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CategoryName, Currency, DecimalSeparator, Money, Note, Vendor};

/// The largest file read: years of a busy account, and small enough to read whole in memory.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The most data rows read at once, so one import stays a size a person can review.
pub const MAX_ROWS: usize = 50_000;

/// How the file's bytes are text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// What Excel and older bank systems write on Western European and American computers.
    Windows1252,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Windows1252 => "Windows-1252",
        })
    }
}

impl Encoding {
    /// What to choose instead when a file is not valid in this encoding.
    fn instead(&self) -> &'static str {
        match self {
            Encoding::Utf8 => {
                "choose Windows-1252 if the file came from Excel or an older bank system"
            }
            Encoding::Utf16Le => "choose UTF-16BE, UTF-8 or Windows-1252",
            Encoding::Utf16Be => "choose UTF-16LE, UTF-8 or Windows-1252",
            Encoding::Windows1252 => "choose UTF-8",
        }
    }
}

/// The order of day, month and year; separators `-` `.` `/` or space, 2- or 4-digit years
/// (2-digit = 20xx), optional time part after a space or `T` ignored, English month
/// names/abbreviations accepted in place of the month number ("31 Mar 2026", "Mar 31, 2026",
/// "2026-Mar-31"), and 8-digit compact `20260331` for Ymd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    Ymd,
    Dmy,
    Mdy,
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateOrder::Ymd => "year/month/day",
            DateOrder::Dmy => "day/month/year",
            DateOrder::Mdy => "month/day/year",
        })
    }
}

/// How the sign of a single amount column is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountSign {
    /// Bank statements: money out is negative; positive rows are money in and are not expenses.
    NegativeIsSpending,
    /// Expense apps (and our own export): every amount is spending; negative rows are refunds
    /// and are not expenses.
    PositiveIsSpending,
}

/// Which column (0-based index) holds what. `None` = not in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMap {
    pub date: Option<usize>,
    pub vendor: Option<usize>,
    pub amount: Option<usize>,
    pub debit: Option<usize>,
    pub credit: Option<usize>,
    pub category: Option<usize>,
    pub note: Option<usize>,
    pub currency: Option<usize>,
}

impl ColumnMap {
    /// Every field with its name as the user sees it, in the order fields are listed.
    fn fields(&self) -> [(&'static str, Option<usize>); 8] {
        [
            ("date", self.date),
            ("vendor", self.vendor),
            ("amount", self.amount),
            ("debit", self.debit),
            ("credit", self.credit),
            ("category", self.category),
            ("note", self.note),
            ("currency", self.currency),
        ]
    }

    /// The fewest fields a record needs for every mapped column to be in it.
    fn width(&self) -> usize {
        self.fields()
            .iter()
            .filter_map(|(_, index)| index.map(|i| i + 1))
            .max()
            .unwrap_or(0)
    }
}

/// Everything needed to read a file; detected, shown to the user, editable, remembered per file
/// shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSettings {
    pub encoding: Encoding,
    /// One ASCII character: `,` `;` tab `|` are detected; any single ASCII punctuation/tab
    /// accepted.
    pub delimiter: char,
    /// 1-based number of the header record; records before it (bank preambles: account number,
    /// period…) are skipped. `None` = no header, data from record 1.
    pub header_row: Option<u32>,
    pub date_order: DateOrder,
    pub decimal: DecimalSeparator,
    pub sign: AmountSign,
    pub columns: ColumnMap,
    /// The category of rows without one (no category column, or an empty cell).
    pub default_category: CategoryName,
    /// The currency of amounts the file does not name (no currency column, or an empty cell);
    /// `None`: the account's. Settings kept before this field read as `None`.
    #[serde(default)]
    pub currency: Option<Currency>,
}

impl ImportSettings {
    /// Checks the settings make sense for a file with `column_count` columns: delimiter ASCII
    /// and not a quote/letter/digit/newline; every mapped index < column_count; no index mapped
    /// twice; date and vendor mapped; exactly one of: `amount`, or at least one of
    /// `debit`/`credit` (amount together with debit/credit is an error). Errors say which setting
    /// and what to choose.
    pub fn validate(&self, column_count: usize) -> Result<(), ImportError> {
        delimiter_byte(self.delimiter)?;
        if self.header_row == Some(0) {
            return Err(ImportError::Settings(
                "the header row is counted from 1; choose the line number of the header, or no header"
                    .to_owned(),
            ));
        }
        let fields = self.columns.fields();
        for (name, index) in fields {
            if let Some(index) = index
                && index >= column_count
            {
                return Err(ImportError::Settings(format!(
                    "the {name} column is column {}, but the file has {column_count} {}; choose one of its columns or none",
                    index + 1,
                    if column_count == 1 {
                        "column"
                    } else {
                        "columns"
                    },
                )));
            }
        }
        for (i, (first, a)) in fields.iter().enumerate() {
            for (second, b) in &fields[i + 1..] {
                if let (Some(a), Some(b)) = (a, b)
                    && a == b
                {
                    return Err(ImportError::Settings(format!(
                        "column {} is chosen for both the {first} and the {second}; choose another column for one of them",
                        a + 1
                    )));
                }
            }
        }
        let columns = &self.columns;
        if columns.date.is_none() {
            return Err(ImportError::Settings(
                "no column is chosen for the date; choose the column that holds it".to_owned(),
            ));
        }
        if columns.vendor.is_none() {
            return Err(ImportError::Settings(
                "no column is chosen for the vendor; choose the column that holds the vendor or description"
                    .to_owned(),
            ));
        }
        let split = columns.debit.is_some() || columns.credit.is_some();
        match (columns.amount.is_some(), split) {
            (true, true) => Err(ImportError::Settings(
                "both an amount column and debit/credit columns are chosen; choose either the amount column or the debit and credit columns"
                    .to_owned(),
            )),
            (false, false) => Err(ImportError::Settings(
                "no column is chosen for the amount; choose the amount column, or the debit and credit columns"
                    .to_owned(),
            )),
            _ => Ok(()),
        }
    }
}

/// Why a file cannot be read at all. Problems with single rows are [`ReadRow`] reasons instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {} MB; at most 5 MB are read at once: split it", megabytes(.bytes))]
    TooLarge { bytes: usize },
    #[error("the file has {} rows; at most 50,000 are read at once: split it", thousands(.rows))]
    TooManyRows { rows: usize },
    #[error(
        "this is not a CSV text file; export the statement as CSV (or choose another encoding)"
    )]
    NotText,
    #[error("the file is not valid {encoding} ({detail}); {}", .encoding.instead())]
    Decode { encoding: Encoding, detail: String },
    #[error("{0}")]
    Settings(String),
    #[error(
        "there are no rows after the header; check the header row, or choose a file with expenses in it"
    )]
    NoData,
}

/// `5242881` → `5.0`: the size as people read it, never rounded down to the limit.
fn megabytes(bytes: &usize) -> String {
    let tenths = bytes.div_ceil(1024 * 1024 / 10);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `50001` → `50,001`.
fn thousands(n: &usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A column as the user sees it when mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub index: usize,
    /// The header cell, or "Column N" (1-based) without a header.
    pub header: String,
    /// Up to 3 first non-empty values.
    pub samples: Vec<String>,
}

/// One data record: its physical line number in the file (1-based, as a text editor shows it)
/// and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRow {
    pub line: u64,
    /// The expense, or the reason the record is not one, e.g. "`13/31/2026` is not a date in
    /// month/day/year order".
    pub result: Result<ImportedRow, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRow {
    pub date: NaiveDate,
    pub vendor: Vendor,
    /// Always positive: what was spent.
    pub amount: Money,
    /// The category cell's name, or the settings' default.
    pub category: CategoryName,
    pub note: Option<Note>,
}

/// A file read with its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<ReadRow>,
}

/// What detection found beyond the settings, for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detection {
    pub settings: ImportSettings,
    /// Plain sentences about guesses that could be wrong, e.g. "No column looks like a date:
    /// choose the date column."
    pub notes: Vec<String>,
}

/// Decodes `bytes` in `encoding` (a BOM of that encoding is dropped). Errors: invalid
/// UTF-8/UTF-16, saying at which byte.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, ImportError> {
    encoding::decode(bytes, encoding)
}

/// Guesses every setting for `bytes`. `default_category` goes into the settings as given.
/// Errors only for files that cannot be read at all (empty, too large, binary, too many rows).
/// A file whose columns cannot be guessed still returns settings (with `None` columns) and a
/// note.
pub fn detect(bytes: &[u8], default_category: CategoryName) -> Result<Detection, ImportError> {
    check_size(bytes)?;
    let encoding = encoding::sniff(bytes)?;
    // Bytes that looked like UTF-16 but are not are no text file either.
    let text = encoding::decode(bytes, encoding).map_err(|_| ImportError::NotText)?;
    encoding::ensure_text(&text)?;
    guess::detect(&text, encoding, default_category)
}

/// Reads every data record with `settings`. `currency` is the account's currency, used when
/// the settings name none and there is no currency column or its cell is empty. Records that are entirely empty are
/// skipped silently; every other record becomes a [`ReadRow`], an expense or the reason it is
/// not one. Errors only for problems with the whole file: its encoding, the settings (checked
/// against the header's field count, or the most common one without a header), too many rows,
/// or no rows at all.
pub fn read(
    bytes: &[u8],
    settings: &ImportSettings,
    currency: Currency,
) -> Result<Table, ImportError> {
    let text = load(bytes, settings.encoding)?;
    let records = records::parse(&text, delimiter_byte(settings.delimiter)?, None);
    let layout = records::Layout::of(&records, settings.header_row)?;
    settings.validate(layout.column_count)?;
    let data: Vec<&records::Record> = layout.data.iter().filter(|r| !r.is_blank()).collect();
    if data.len() > MAX_ROWS {
        return Err(ImportError::TooManyRows { rows: data.len() });
    }
    if data.is_empty() {
        return Err(ImportError::NoData);
    }
    let rows = data
        .iter()
        .map(|record| ReadRow {
            line: record.line,
            result: rows::read(
                record,
                settings,
                settings.currency.unwrap_or(currency),
                layout.column_count,
            ),
        })
        .collect();
    Ok(Table {
        columns: layout.columns(),
        rows,
    })
}

/// The columns alone (headers and samples) for `settings`, for showing the mapping even when
/// [`ImportSettings::validate`] fails.
pub fn columns(bytes: &[u8], settings: &ImportSettings) -> Result<Vec<Column>, ImportError> {
    let text = load(bytes, settings.encoding)?;
    let records = records::parse(&text, delimiter_byte(settings.delimiter)?, None);
    Ok(records::Layout::of(&records, settings.header_row)?.columns())
}

/// A fingerprint of the file's shape, to remember settings per kind of file: hex SHA-256 of the
/// delimiter and the header cells lowercased and trimmed (joined with \u{1f}); without a header,
/// of the delimiter and the column count. Same bank, next month's file → same shape.
pub fn shape(bytes: &[u8], settings: &ImportSettings) -> Result<String, ImportError> {
    let text = load(bytes, settings.encoding)?;
    let records = records::parse(&text, delimiter_byte(settings.delimiter)?, None);
    let layout = records::Layout::of(&records, settings.header_row)?;
    let described = match layout.header {
        Some(header) => header
            .cells
            .iter()
            .map(|cell| cell.trim().to_lowercase())
            .collect::<Vec<_>>()
            .join("\u{1f}"),
        None => layout.column_count.to_string(),
    };
    let digest = Sha256::digest(format!("{}\u{1f}{described}", settings.delimiter).as_bytes());
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn check_size(bytes: &[u8]) -> Result<(), ImportError> {
    if bytes.len() > MAX_BYTES {
        return Err(ImportError::TooLarge { bytes: bytes.len() });
    }
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(())
}

/// The file's text in the chosen encoding, refused if it is too large, binary or blank.
fn load(bytes: &[u8], encoding: Encoding) -> Result<String, ImportError> {
    check_size(bytes)?;
    let text = encoding::decode(bytes, encoding)?;
    encoding::ensure_text(&text)?;
    Ok(text)
}

/// The delimiter as the CSV reader takes it. Quotes, letters, digits and line breaks would
/// split the file in the wrong places.
fn delimiter_byte(delimiter: char) -> Result<u8, ImportError> {
    let usable = delimiter == '\t' || (delimiter.is_ascii_punctuation() && delimiter != '"');
    match u8::try_from(delimiter) {
        Ok(byte) if usable => Ok(byte),
        _ => Err(ImportError::Settings(format!(
            "`{}` cannot separate columns; choose a comma, semicolon, tab or |",
            delimiter.escape_default()
        ))),
    }
}
