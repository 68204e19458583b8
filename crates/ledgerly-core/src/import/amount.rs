//! Amount cells as banks write them: `-12.50`, `12,50-`, `(12.50)`, `1.234,56 €`, `12.50 CR`,
//! `DR 12.50`. The number itself is read by [`Money::parse`]; this reads the signs around it.

use crate::{Currency, DecimalSeparator, Money, MoneyError, ParseOptions};

/// Which way money went, where the cell says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    /// `CR`: money in.
    Credit,
    /// `DR`: money out.
    Debit,
}

/// An amount cell read: the signed amount, and a `CR`/`DR` marker if it had one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CellAmount {
    pub(super) money: Money,
    pub(super) marker: Option<Marker>,
}

/// The amount in `cell`, `None` when the cell is empty. A symbol or code in the cell wins over
/// `currency`. The error is the reason, for the user.
pub(super) fn parse(
    cell: &str,
    decimal: DecimalSeparator,
    currency: Currency,
) -> Result<Option<CellAmount>, String> {
    let text = cell.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (text, marker) = split_marker(text);
    let (number, trailing_minus) = match text.strip_suffix(['-', '\u{2212}']) {
        Some(rest) => (rest.trim_end(), true),
        None => (text, false),
    };
    let options = ParseOptions {
        currency: Some(currency),
        decimal: Some(decimal),
    };
    let money = Money::parse(number, options).map_err(|e| e.to_string())?;
    let money = if trailing_minus {
        if money.is_negative() {
            return Err(MoneyError::MultipleSigns(text.to_owned()).to_string());
        }
        let minor = money
            .minor()
            .checked_neg()
            .ok_or_else(|| MoneyError::Overflow.to_string())?;
        Money::from_minor(minor, money.currency())
    } else {
        money
    };
    Ok(Some(CellAmount { money, marker }))
}

/// Whether `cell` reads as an amount in either decimal convention: for telling data from
/// headers and amount columns from others.
pub(super) fn looks_like_amount(cell: &str) -> bool {
    cell.bytes().any(|b| b.is_ascii_digit())
        && [DecimalSeparator::Point, DecimalSeparator::Comma]
            .into_iter()
            .any(|decimal| matches!(parse(cell, decimal, Currency::USD), Ok(Some(_))))
}

/// Whether the cell's number is written negative (`-12.50`, `12,50-`, `(12.50)`, `€-3`);
/// `None` for an empty cell, one without digits, or one whose `CR`/`DR` says the direction.
pub(super) fn written_negative(cell: &str) -> Option<bool> {
    let (text, marker) = split_marker(cell.trim());
    if marker.is_some() {
        return None;
    }
    let first_digit = text.find(|c: char| c.is_ascii_digit())?;
    let before = &text[..first_digit];
    Some(before.contains(['-', '\u{2212}', '(']) || text.ends_with(['-', '\u{2212}']))
}

/// The decimal separator a cell's number shows, if it shows one: the last separator when both
/// appear (`1.234,56`), or a lone separator followed by one or two digits (`12,50`).
/// `1,234` shows nothing: it may be thousands.
pub(super) fn shown_decimal(cell: &str) -> Option<DecimalSeparator> {
    let first = cell.find(|c: char| c.is_ascii_digit())?;
    let last = cell.rfind(|c: char| c.is_ascii_digit())?;
    let number = &cell[first..=last];
    let at = number.rfind(['.', ','])?;
    let (before, after) = (&number[..at], &number[at + 1..]);
    let separator = if number[at..].starts_with('.') {
        DecimalSeparator::Point
    } else {
        DecimalSeparator::Comma
    };
    let other = match separator {
        DecimalSeparator::Point => ',',
        DecimalSeparator::Comma => '.',
    };
    let fraction = (1..=2).contains(&after.len()) && after.bytes().all(|b| b.is_ascii_digit());
    (before.contains(other) || fraction).then_some(separator)
}

/// Splits off a `CR`/`DR` (any case) written before or after the number.
fn split_marker(text: &str) -> (&str, Option<Marker>) {
    let lower = text.to_ascii_lowercase();
    for (word, marker) in [("cr", Marker::Credit), ("dr", Marker::Debit)] {
        // Only where it stands apart from a currency code (`IDR` is rupiah, not a debit).
        if lower.ends_with(word) {
            let rest = &text[..text.len() - word.len()];
            if rest.ends_with(|c: char| c.is_ascii_digit() || c.is_whitespace() || c == ')') {
                return (rest.trim_end(), Some(marker));
            }
        }
        if lower.starts_with(word) {
            let rest = &text[word.len()..];
            if rest.starts_with(|c: char| c.is_ascii_digit() || c.is_whitespace()) {
                return (rest.trim_start(), Some(marker));
            }
        }
    }
    (text, None)
}
