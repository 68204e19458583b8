//! The normaliser: every backend's output passes through here on its way to [`ReceiptFields`].
//! Backends hand over what they read as text ([`RawFields`]); this turns it into checked values —
//! amounts with their currency (symbols and codes, thousands separators including the Indian
//! `1,05,000.00`, decimal commas), dates in the formats receipts use, a trimmed vendor — and
//! refuses what cannot be right: zero, negative or implausible totals, dates in the future or
//! before 2000. A refused field is left empty with the reason in [`ReceiptFields::problems`].

use chrono::{Datelike, Duration, NaiveDate};
use ledgerly_core::{
    Currency, DecimalSeparator, Money, MoneyError, ParseOptions, TextError, Vendor,
};

use crate::extractor::{FieldConfidence, LineItem, ReceiptFields};

/// A regular expression written in the source: one that does not compile is a bug, found by
/// the first test that reads it.
pub(crate) fn pattern(source: &str) -> regex::Regex {
    regex::Regex::new(source).unwrap_or_else(|e| unreachable!("the pattern {source} is valid: {e}"))
}

/// What the extraction is for: the currency an amount without a symbol is in, and today's date
/// (nothing on a receipt happens after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hints {
    pub currency: Currency,
    pub today: NaiveDate,
}

impl Hints {
    pub fn new(currency: Currency, today: NaiveDate) -> Self {
        Self { currency, today }
    }

    /// Whether `03/04/2026` is more likely the 3rd of April (true) or March 4th: month-first
    /// only where the currency says the receipt is American.
    fn day_first(&self, currency: Currency) -> bool {
        currency != Currency::USD
    }
}

/// Fields as a backend read them, before any checking: text, or `None` where nothing was read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFields {
    pub vendor: Option<String>,
    pub date: Option<String>,
    pub total: Option<String>,
    /// A symbol or ISO code, when the backend reported it apart from the total.
    pub currency: Option<String>,
    pub line_items: Vec<(String, Option<String>)>,
    pub confidence: FieldConfidence,
    pub raw: String,
}

/// The largest total taken at face value, in major units (ten million): beyond it a "total" is
/// far more likely a phone number, a card number or two numbers run together.
const MAX_TOTAL_MAJOR_UNITS: i64 = 10_000_000;

/// Why a field as read cannot be right; the message goes into [`ReceiptFields::problems`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("`{0}` is zero")]
    Zero(String),
    #[error("`{0}` is negative")]
    Negative(String),
    #[error("`{text}` is more than {limit} — not a plausible receipt total")]
    Implausible { text: String, limit: String },
    #[error("`{0}` has no letters")]
    NoLetters(String),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error("{0} is in the future")]
    Future(NaiveDate),
    #[error("{0} is before 2000")]
    TooOld(NaiveDate),
    #[error("`{0}` is not a date this reader knows")]
    NotADate(String),
}

/// The earliest receipt date accepted.
fn earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// Checks every field of `raw`, keeping what holds and saying why the rest was dropped.
pub fn normalise(raw: RawFields, hints: &Hints) -> ReceiptFields {
    let mut problems = Vec::new();
    let currency = match raw.currency.as_deref().and_then(non_null) {
        Some(text) => match currency(text, hints.currency) {
            Ok(currency) => currency,
            Err(message) => {
                problems.push(format!("currency: {message}"));
                hints.currency
            }
        },
        None => hints.currency,
    };
    let total = raw
        .total
        .as_deref()
        .and_then(non_null)
        .and_then(|text| keep(total(text, currency), "total", &mut problems));
    let date = raw
        .date
        .as_deref()
        .and_then(non_null)
        .and_then(|text| keep(date(text, hints, currency), "date", &mut problems));
    let vendor = raw
        .vendor
        .as_deref()
        .and_then(non_null)
        .and_then(|text| keep(vendor(text), "vendor", &mut problems));
    let currency = total.map_or(currency, |t| t.currency());
    let line_items = raw
        .line_items
        .into_iter()
        .filter_map(|(description, amount)| {
            let description = collapse_whitespace(&description);
            if description.is_empty() {
                return None;
            }
            let amount = amount
                .as_deref()
                .and_then(non_null)
                .and_then(|a| parse_amount(a, currency).ok());
            Some(LineItem {
                description,
                amount,
            })
        })
        .collect();
    ReceiptFields {
        vendor,
        date,
        total,
        line_items,
        confidence: FieldConfidence {
            vendor: raw.confidence.vendor.filter(|_| vendor_kept(&problems)),
            ..raw.confidence
        },
        raw: raw.raw,
        problems,
    }
}

fn vendor_kept(problems: &[String]) -> bool {
    !problems.iter().any(|p| p.starts_with("vendor:"))
}

fn keep<T>(result: Result<T, FieldError>, field: &str, problems: &mut Vec<String>) -> Option<T> {
    result
        .map_err(|message| problems.push(format!("{field}: {message}")))
        .ok()
}

/// `None` for the ways models and OCR say "nothing here".
fn non_null(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    match lower.as_str() {
        "" | "none" | "null" | "nil" | "n/a" | "na" | "unknown" | "-" | "not found"
        | "not available" => None,
        _ => Some(trimmed),
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A currency from a code (`inr`, `EUR`) or a symbol (`₹`, `Rs.`, `€`); a shared symbol such as
/// `$` is read as `preferred` when that currency uses it.
pub fn currency(text: &str, preferred: Currency) -> Result<Currency, FieldError> {
    let text = text.trim();
    if let Ok(currency) = Currency::from_code(&text.to_ascii_uppercase()) {
        return Ok(currency);
    }
    // A symbol: let the money parser read it on a one.
    Money::parse(&format!("{text}1"), ParseOptions::with_currency(preferred))
        .map(|m| m.currency())
        .map_err(FieldError::from)
}

/// An amount as receipts and models write it, in `currency` unless the text names another.
/// Where the separator is ambiguous (`1,234`, `1.234`) the reading that fits the currency's
/// decimal places wins, thousands first.
pub fn parse_amount(text: &str, currency: Currency) -> Result<Money, FieldError> {
    let cleaned = clean_amount_text(text);
    let options = ParseOptions::with_currency(currency);
    match Money::parse(&cleaned, options) {
        Err(MoneyError::AmbiguousSeparator(_)) => {
            Money::parse(&cleaned, options.decimal(DecimalSeparator::Point))
                .or_else(|_| Money::parse(&cleaned, options.decimal(DecimalSeparator::Comma)))
                .map_err(FieldError::from)
        }
        other => other.map_err(FieldError::from),
    }
}

/// Drops what OCR and models put around an amount: a trailing `/-` (Indian receipts), spaces
/// inside the digits (`1 234,50`), a leading `:` or `=`.
fn clean_amount_text(text: &str) -> String {
    let mut text = text.trim().trim_start_matches([':', '=']).trim().to_owned();
    for suffix in ["/-", "/="] {
        if let Some(stripped) = text.strip_suffix(suffix) {
            text = stripped.trim_end().to_owned();
        }
    }
    // "1 234,50": a space between digit groups is a thousands separator.
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, c) in chars.iter().enumerate() {
        let between_digits = i > 0
            && i + 1 < chars.len()
            && chars[i - 1].is_ascii_digit()
            && chars[i + 1].is_ascii_digit();
        if (*c == ' ' || *c == '\u{a0}' || *c == '\u{202f}') && between_digits {
            continue;
        }
        out.push(*c);
    }
    out
}

/// A total: an amount that is positive and plausible.
pub fn total(text: &str, currency: Currency) -> Result<Money, FieldError> {
    let money = parse_amount(text, currency)?;
    if money.is_zero() {
        return Err(FieldError::Zero(text.to_owned()));
    }
    if !money.is_positive() {
        return Err(FieldError::Negative(text.to_owned()));
    }
    let limit = Money::from_minor(
        MAX_TOTAL_MAJOR_UNITS.saturating_mul(10i64.saturating_pow(money.currency().exponent())),
        money.currency(),
    );
    if money.minor() > limit.minor() {
        return Err(FieldError::Implausible {
            text: text.to_owned(),
            limit: limit.format(),
        });
    }
    Ok(money)
}

/// A vendor name: trimmed, inner whitespace collapsed, stray punctuation around it dropped.
pub fn vendor(text: &str) -> Result<String, FieldError> {
    let collapsed = collapse_whitespace(text);
    let trimmed = collapsed
        .trim_matches(|c: char| !(c.is_alphanumeric() || matches!(c, '&' | ')' | '\'' | '.')))
        .trim_end_matches(['.', ','])
        .trim();
    if !trimmed.chars().any(char::is_alphabetic) {
        return Err(FieldError::NoLetters(text.to_owned()));
    }
    Vendor::parse(trimmed)
        .map(|v| v.as_str().to_owned())
        .map_err(FieldError::from)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A date in the formats receipts use: `2026-11-20`, `20/11/2026`, `20.11.26`, `11/20/2026`
/// (month-first only when the day-first reading is impossible, or for US dollars),
/// `20 Nov 2026`, `Nov 20, 2026`, `20-NOV-26`, with or without a weekday or a time around it.
/// Dates after tomorrow (time zones) or before 2000 are refused.
///
/// Every date in the text is considered, so a bill number before the date (`Bill 2024 Date
/// 05.06.2026`) does not hide it; the first one in range wins. When none is, OCR's commonest digit
/// confusion (`0` read as `6`) is undone in the fields that are out of range (`27.62.2623`).
pub fn date(text: &str, hints: &Hints, currency: Currency) -> Result<NaiveDate, FieldError> {
    date_in_order(text, hints, hints.day_first(currency))
}

/// [`date`] with the order of an ambiguous `03/04/2026` given: day first or month first.
pub fn date_in_order(text: &str, hints: &Hints, day_first: bool) -> Result<NaiveDate, FieldError> {
    let repaired = repair_misreads(text);
    let text = repaired.as_str();
    let latest = hints.today + Duration::days(1);
    let in_range = |d: &NaiveDate| (earliest()..=latest).contains(d);
    let candidates = parse_dates(&tokens(text), day_first);
    if let Some(date) = candidates.iter().copied().find(in_range) {
        return Ok(date);
    }
    let repaired = parse_dates(&repair_zeros(&tokens(text), latest), day_first);
    if let Some(date) = repaired.into_iter().find(in_range) {
        return Ok(date);
    }
    match candidates.first() {
        Some(date) if *date > latest => Err(FieldError::Future(*date)),
        Some(date) => Err(FieldError::TooOld(*date)),
        None => Err(FieldError::NotADate(text.to_owned())),
    }
}

/// A date as OCR misreads it, put right where the misreading is unambiguous:
/// - run into the time after it, as OCR reads a narrow gap (`11-04-1817:42`,
///   `2016/05/0114:11:20`, `12/13/20169:52AM`, `20-JUN-2512:40`): the time is the last one or
///   two digits before the colon;
/// - a month name's day run into its year (`Jul 122022`), a year run into the time (`202422:27`)
///   or into a time without its colon (`Sep 4,20241010`);
/// - the `O` of a month read as a zero (`04-0CT-25`, `N0V`);
/// - a dot between day and month but a colon before a four-digit year (`11.11:2022`): a time's
///   seconds are never four digits.
fn repair_misreads(text: &str) -> String {
    static ZERO_FOR_O: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| pattern(r"(?i)(^|[^0-9a-z])(0ct|n0v)"));
    static COLON_BEFORE_YEAR: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| pattern(r"\b(\d{1,2})([./-])(\d{1,2}):((?:19|20)\d{2})\b"));
    static GLUED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        pattern(
            r"(?i)(\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})|\b\d{4}[-/.]\d{1,2}[-/.]\d{2}|\b\d{1,2}[-/. ]?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[-/. ]?(?:\d{4}|\d{2}))(\d{1,2}:\d{2})",
        )
    });
    static DAY_YEAR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        pattern(
            r"(?i)\b((?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s?)(\d{1,2})((?:19|20)\d{2})",
        )
    });
    static YEAR_TIME: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| pattern(r"\b((?:19|20)\d{2})(\d{1,2}:\d{2})"));
    static NAMED_YEAR_CLOCK: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        pattern(
            r"(?i)\b((?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s?\d{1,2},?\s?(?:19|20)\d{2})(\d{4})\b",
        )
    });
    let text = ZERO_FOR_O.replace_all(text, |c: &regex::Captures<'_>| {
        format!("{}{}", &c[1], c[2].to_lowercase().replace('0', "o"))
    });
    let text = COLON_BEFORE_YEAR.replace_all(&text, "$1$2$3$2$4");
    let text = GLUED.replace_all(&text, "$1 $2");
    // `Jul 122022`: a month name's day run into its year.
    let text = DAY_YEAR.replace_all(&text, "$1$2 $3");
    // `Sep 4,20241010`: a year run into a time read without its colon.
    let text = NAMED_YEAR_CLOCK.replace_all(&text, "$1 $2");
    // `202422:27`: a year run into the time after it.
    YEAR_TIME.replace_all(&text, "$1 $2").into_owned()
}

/// What `text` says about the order dates are written in: `Some(true)` when it holds a date
/// that only reads day first (`25/04/2018`), `Some(false)` when one only reads month first
/// (`04/25/2018`), `None` when every date in it reads both ways, or there is none.
pub fn date_order(text: &str) -> Option<bool> {
    let tokens = tokens(&repair_misreads(text));
    tokens.windows(3).find_map(|window| match window {
        [
            Token::Number {
                value: a,
                digits: 1 | 2,
                joined: Some(s1),
            },
            Token::Number {
                value: b,
                digits: 1 | 2,
                joined: Some(s2),
            },
            Token::Number { digits: 2 | 4, .. },
        ] if s1 == s2 && (1..=31).contains(a) && (1..=31).contains(b) => match (*a > 12, *b > 12) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Numbers that cannot be part of a date as read (a month over 12, a day over 31, a year past
/// `latest`) with each `6` read back as the `0` it likely was.
fn repair_zeros(tokens: &[Token], latest: NaiveDate) -> Vec<Token> {
    tokens
        .iter()
        .map(|token| match token {
            Token::Number {
                value,
                digits,
                joined,
            } => {
                let out_of_range = match digits {
                    4 => i64::from(*value) > i64::from(latest.year()),
                    _ => *value > 31,
                };
                if !out_of_range {
                    return token.clone();
                }
                let text = format!("{value:0width$}", width = *digits).replace('6', "0");
                text.parse().map_or_else(
                    |_| token.clone(),
                    |value| Token::Number {
                        value,
                        digits: *digits,
                        joined: *joined,
                    },
                )
            }
            other => other.clone(),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `joined`: the separator (`-`, `/`, `.`) that ties it to the number right after it, as in
    /// `20/11/2026`.
    Number {
        value: u32,
        digits: usize,
        joined: Option<char>,
    },
    Month(u32),
}

fn tokens(text: &str) -> Vec<Token> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut chars = lower.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_ascii_digit() {
            let mut end = start;
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let digits = &lower[start..end];
            let after: Vec<char> = lower[end..].chars().take(2).collect();
            let joined = match after.as_slice() {
                [sep @ ('-' | '/' | '.'), next, ..] if next.is_ascii_digit() => Some(*sep),
                _ => None,
            };
            // "20th", "1st": the suffix belongs to the number.
            if let Ok(value) = digits.parse() {
                out.push(Token::Number {
                    value,
                    digits: digits.len(),
                    joined,
                });
            }
        } else if c.is_alphabetic() {
            let mut end = start;
            while let Some(&(i, d)) = chars.peek() {
                if !d.is_alphabetic() {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
            let word = &lower[start..end];
            if let Some(month) = ledgerly_core::time::month_named(word) {
                out.push(Token::Month(month));
            }
        } else {
            chars.next();
        }
    }
    out
}

fn year(value: u32, digits: usize) -> Option<i32> {
    match digits {
        4 => i32::try_from(value).ok(),
        2 => i32::try_from(2000 + value).ok(),
        _ => None,
    }
}

fn ymd(y: Option<i32>, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y?, m, d)
}

/// Every date in `tokens`, in order.
fn parse_dates(tokens: &[Token], day_first: bool) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    for window in 0..tokens.len() {
        let rest = &tokens[window..];
        let found = match rest {
            // 2026-11-20: written as one, separators alike.
            [
                Token::Number {
                    value: y,
                    digits: 4,
                    joined: Some(s1),
                },
                Token::Number {
                    value: m,
                    joined: Some(s2),
                    ..
                },
                Token::Number { value: d, .. },
                ..,
            ] if s1 == s2 => ymd(year(*y, 4), *m, *d),
            // 20 Nov 2026, 20-NOV-26
            [
                Token::Number {
                    value: d,
                    digits: 1 | 2,
                    ..
                },
                Token::Month(m),
                Token::Number {
                    value: y, digits, ..
                },
                ..,
            ] => ymd(year(*y, *digits), *m, *d),
            // Nov 20, 2026
            [
                Token::Month(m),
                Token::Number {
                    value: d,
                    digits: 1 | 2,
                    ..
                },
                Token::Number {
                    value: y, digits, ..
                },
                ..,
            ] => ymd(year(*y, *digits), *m, *d),
            // 20/11/2026, 11/20/26: written as one, separators alike.
            [
                Token::Number {
                    value: a,
                    digits: 1 | 2,
                    joined: Some(s1),
                },
                Token::Number {
                    value: b,
                    digits: 1 | 2,
                    joined: Some(s2),
                },
                Token::Number {
                    value: y, digits, ..
                },
                ..,
            ] if s1 == s2 => {
                let y = year(*y, *digits);
                let (day_month, month_day) = (ymd(y, *b, *a), ymd(y, *a, *b));
                match (day_month, month_day) {
                    (Some(dm), Some(md)) => Some(if day_first { dm } else { md }),
                    (one, other) => one.or(other),
                }
            }
            _ => None,
        };
        dates.extend(found);
    }
    dates
}

/// A date written as `style` says, for tests and the receipt generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    Iso,
    DayMonthYearSlash,
    DayMonthYearDot,
    DayMonthShortYearDash,
    MonthDayYearSlash,
    DayMonthNameYear,
    MonthNameDayYear,
    DayMonthNameShortYearUpper,
}

impl DateStyle {
    pub const ALL: [DateStyle; 8] = [
        DateStyle::Iso,
        DateStyle::DayMonthYearSlash,
        DateStyle::DayMonthYearDot,
        DateStyle::DayMonthShortYearDash,
        DateStyle::MonthDayYearSlash,
        DateStyle::DayMonthNameYear,
        DateStyle::MonthNameDayYear,
        DateStyle::DayMonthNameShortYearUpper,
    ];

    pub fn format(self, date: NaiveDate) -> String {
        let short_month = |d: NaiveDate| {
            let name = MONTHS[d.month0() as usize];
            let mut chars = name.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        };
        match self {
            DateStyle::Iso => date.format("%Y-%m-%d").to_string(),
            DateStyle::DayMonthYearSlash => date.format("%d/%m/%Y").to_string(),
            DateStyle::DayMonthYearDot => date.format("%d.%m.%Y").to_string(),
            DateStyle::DayMonthShortYearDash => date.format("%d-%m-%y").to_string(),
            DateStyle::MonthDayYearSlash => date.format("%m/%d/%Y").to_string(),
            DateStyle::DayMonthNameYear => {
                format!("{} {} {}", date.day(), short_month(date), date.year())
            }
            DateStyle::MonthNameDayYear => {
                format!("{} {}, {}", short_month(date), date.day(), date.year())
            }
            DateStyle::DayMonthNameShortYearUpper => format!(
                "{:02}-{}-{:02}",
                date.day(),
                short_month(date).to_uppercase(),
                date.year() % 100
            ),
        }
    }

    /// Whether the style writes the month before the day in numbers (US).
    pub fn month_first(self) -> bool {
        self == DateStyle::MonthDayYearSlash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hints() -> Hints {
        Hints::new(
            Currency::INR,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        )
    }

    fn amount(text: &str) -> Result<String, FieldError> {
        total(text, Currency::INR).map(|m| format!("{} {}", m.to_decimal_string(), m.currency()))
    }

    #[test]
    fn amounts_in_the_ways_receipts_write_them() {
        assert_eq!(amount("₹1,05,000.00").unwrap(), "105000.00 INR");
        assert_eq!(amount("Rs. 1,234.50").unwrap(), "1234.50 INR");
        assert_eq!(amount("1234.5").unwrap(), "1234.50 INR");
        assert_eq!(amount("1,234").unwrap(), "1234.00 INR");
        assert_eq!(amount("450/-").unwrap(), "450.00 INR");
        assert_eq!(amount("12,50 €").unwrap(), "12.50 EUR");
        assert_eq!(amount("EUR 1.234,56").unwrap(), "1234.56 EUR");
        assert_eq!(amount("1 234,56 €").unwrap(), "1234.56 EUR");
        assert_eq!(amount("$1,234.56").unwrap(), "1234.56 USD");
        assert_eq!(amount("£7.99").unwrap(), "7.99 GBP");
        assert_eq!(amount("USD 20").unwrap(), "20.00 USD");
        assert_eq!(
            total("1.234", Currency::KWD).unwrap().to_decimal_string(),
            "1.234"
        );
    }

    #[test]
    fn zero_negative_and_implausible_totals_are_refused() {
        assert!(matches!(amount("0.00"), Err(FieldError::Zero(_))));
        assert!(matches!(amount("-45.00"), Err(FieldError::Negative(_))));
        let implausible = amount("98765432101").unwrap_err();
        assert!(
            implausible.to_string().contains("plausible"),
            "{implausible}"
        );
        assert!(amount("twelve").is_err());
    }

    #[test]
    fn dates_in_the_ways_receipts_write_them() {
        let h = hints();
        let d = |t: &str| date(t, &h, Currency::INR).map(|d| d.to_string());
        assert_eq!(d("2026-11-20").unwrap(), "2026-11-20");
        // Run into the time after it.
        assert_eq!(d("11-04-1817:42SH01").unwrap(), "2018-04-11");
        assert_eq!(d("Date:2016/05/0114:11:20").unwrap(), "2016-05-01");
        assert_eq!(d("12/11/20169:52:15AM").unwrap(), "2016-11-12");
        assert_eq!(d("Jul 122022 13:14").unwrap(), "2022-07-12");
        assert_eq!(d("Nov21,202422:27").unwrap(), "2024-11-21");
        assert_eq!(d("Date:20-JUN-2512:40").unwrap(), "2025-06-20");
        assert_eq!(d("Sep4,20241010").unwrap(), "2024-09-04");
        // The O of a month read as a zero; a colon for the dot before the year.
        assert_eq!(d("Date:.04-0cT-25 09:01").unwrap(), "2025-10-04");
        assert_eq!(d("0ct20,202113:34").unwrap(), "2021-10-20");
        assert_eq!(d("5 N0V 2024").unwrap(), "2024-11-05");
        assert_eq!(d("Bill No:6040 Date:11.11:2022").unwrap(), "2022-11-11");
        assert_eq!(d("10:0ct").ok(), None, "no date in it");
        assert_eq!(d("20/11/2026").unwrap(), "2026-11-20");
        assert_eq!(d("03/04/2026").unwrap(), "2026-04-03");
        assert_eq!(
            d("11/20/2026").unwrap(),
            "2026-11-20",
            "only month-first works"
        );
        assert_eq!(d("20.11.26").unwrap(), "2026-11-20");
        assert_eq!(d("20 Nov 2026").unwrap(), "2026-11-20");
        assert_eq!(d("Nov 20, 2026").unwrap(), "2026-11-20");
        assert_eq!(d("20-NOV-26 14:32").unwrap(), "2026-11-20");
        assert_eq!(d("Date: Fri, 20 November 2026").unwrap(), "2026-11-20");
        assert_eq!(d("Sept 3 2026").unwrap(), "2026-09-03");
        assert_eq!(d("Bill No: 6040 Date: 11.11.2022").unwrap(), "2022-11-11");
        assert_eq!(d("Bill 2024 Date 05.06.2026").unwrap(), "2026-06-05");
        // OCR read 0 as 6 where the date cannot be as read.
        assert_eq!(d("Date: 27.62.2623").unwrap(), "2023-02-27");
        assert_eq!(d("12/06/2622 22:49").unwrap(), "2022-06-12");
        assert_eq!(
            d("16/06/2026").unwrap(),
            "2026-06-16",
            "a 6 that fits stays"
        );
        let us = date("03/04/2026", &h, Currency::USD).unwrap();
        assert_eq!(us.to_string(), "2026-03-04");
    }

    #[test]
    fn future_ancient_and_impossible_dates_are_refused() {
        let h = hints();
        assert_eq!(
            date("2026-12-25", &h, Currency::INR)
                .unwrap_err()
                .to_string(),
            "2026-12-25 is in the future"
        );
        assert_eq!(
            date("1999-12-31", &h, Currency::INR)
                .unwrap_err()
                .to_string(),
            "1999-12-31 is before 2000"
        );
        assert!(date("31/02/2026", &h, Currency::INR).is_err());
        assert!(date("Table 12", &h, Currency::INR).is_err());
        // Tomorrow is allowed: the receipt's zone may be ahead.
        assert!(date("2026-11-25", &h, Currency::INR).is_ok());
    }

    #[test]
    fn vendors_are_trimmed_and_nulls_are_nothing() {
        assert_eq!(vendor("  ** Blue   Tokai **  ").unwrap(), "Blue Tokai");
        assert_eq!(vendor("Haldiram's.").unwrap(), "Haldiram's");
        assert!(vendor("1234").is_err());
        let fields = normalise(
            RawFields {
                vendor: Some("None".into()),
                date: Some("null".into()),
                total: Some("N/A".into()),
                ..RawFields::default()
            },
            &hints(),
        );
        assert_eq!(fields.vendor, None);
        assert_eq!(fields.date, None);
        assert_eq!(fields.total, None);
        assert!(fields.problems.is_empty(), "{:?}", fields.problems);
    }

    #[test]
    fn a_refused_field_is_dropped_with_its_reason_and_the_rest_kept() {
        let fields = normalise(
            RawFields {
                vendor: Some("Blue Tokai".into()),
                date: Some("2031-01-01".into()),
                total: Some("450".into()),
                currency: Some("inr".into()),
                ..RawFields::default()
            },
            &hints(),
        );
        assert_eq!(fields.vendor.as_deref(), Some("Blue Tokai"));
        assert_eq!(fields.date, None);
        assert_eq!(fields.total.unwrap().to_decimal_string(), "450.00");
        assert_eq!(fields.problems.len(), 1);
        assert!(
            fields.problems[0].starts_with("date:"),
            "{:?}",
            fields.problems
        );
    }

    #[test]
    fn a_separate_currency_applies_to_a_bare_total() {
        let fields = normalise(
            RawFields {
                total: Some("12,50".into()),
                currency: Some("€".into()),
                ..RawFields::default()
            },
            &hints(),
        );
        let total = fields.total.unwrap();
        assert_eq!(total.currency(), Currency::EUR);
        assert_eq!(total.to_decimal_string(), "12.50");
    }

    /// Writes `minor` (in hundredths) as a receipt might.
    fn written(minor: i64, style: u8) -> String {
        let units = minor / 100;
        let cents = minor % 100;
        let western = |sep: char| {
            let digits = units.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(sep);
                }
                out.push(c);
            }
            out
        };
        let indian = || {
            let digits = units.to_string();
            if digits.len() <= 3 {
                return digits;
            }
            let (head, last3) = digits.split_at(digits.len() - 3);
            let mut out = String::new();
            for (i, c) in head.chars().enumerate() {
                if i > 0 && (head.len() - i).is_multiple_of(2) {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{out},{last3}")
        };
        match style % 6 {
            0 => format!("{units}.{cents:02}"),
            1 => format!("₹{}.{cents:02}", indian()),
            2 => format!("Rs. {}.{cents:02}", western(',')),
            3 => format!("INR {}.{cents:02}", western(',')),
            4 => format!("{}.{cents:02}/-", indian()),
            _ => format!("{},{cents:02} INR", western('.')),
        }
    }

    proptest! {
        #[test]
        fn any_written_amount_reads_back_exactly(minor in 1i64..1_000_000_000, style in 0u8..6) {
            let text = written(minor, style);
            let money = total(&text, Currency::INR).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(money.minor(), minor, "{}", text);
            prop_assert_eq!(money.currency(), Currency::INR);
        }

        #[test]
        fn any_written_date_reads_back(days in 0i64..9_800, style in 0usize..8) {
            let h = hints();
            let day = earliest() + Duration::days(days);
            prop_assume!(day <= h.today);
            let style = DateStyle::ALL[style];
            let currency = if style.month_first() { Currency::USD } else { Currency::INR };
            let text = style.format(day);
            prop_assert_eq!(date(&text, &h, currency), Ok(day), "{}", text);
        }

        #[test]
        fn nothing_panics_on_any_text(text in "\\PC{0,40}") {
            let h = hints();
            let _ = total(&text, Currency::INR);
            let _ = date(&text, &h, Currency::INR);
            let _ = vendor(&text);
            let _ = currency(&text, Currency::INR);
        }
    }
}
