//! Dates as bank exports write them: `31.03.2026`, `03/31/26`, `2026-03-31T10:15:00`,
//! `31 Mar 2026`, `Mar 31, 2026`, `20260331`.

use chrono::NaiveDate;

use super::DateOrder;
use crate::time::month_named;

pub(super) const ORDERS: [DateOrder; 3] = [DateOrder::Ymd, DateOrder::Dmy, DateOrder::Mdy];

/// The day `text` names when read in `order`, if it is one.
pub(super) fn parse(text: &str, order: DateOrder) -> Option<NaiveDate> {
    let text = without_time(text.trim());
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        // `20260331`: only ever year first.
        if order != DateOrder::Ymd {
            return None;
        }
        let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
        let year = i32::try_from(number(0..4)?).ok()?;
        return day_in_range(year, number(4..6)?, number(6..8)?);
    }
    let parts = parts(text)?;
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = match (a, b, c) {
        (Part::Month(m), x, y) | (x, Part::Month(m), y) | (x, y, Part::Month(m)) => {
            let (Part::Number(x), Part::Number(y)) = (x, y) else {
                return None;
            };
            // A four-digit number is the year wherever it is; otherwise the order says whether
            // the year comes before the day ("26-Mar-31") or after it ("31 Mar 26").
            let (year, day) = if x.digits == 4 || (y.digits != 4 && order == DateOrder::Ymd) {
                (x, y)
            } else {
                (y, x)
            };
            (year, *m, day)
        }
        (Part::Number(a), Part::Number(b), Part::Number(c)) => {
            let (year, month, day) = match order {
                DateOrder::Ymd => (a, b, c),
                DateOrder::Dmy => (c, b, a),
                DateOrder::Mdy => (c, a, b),
            };
            if month.digits > 2 {
                return None;
            }
            (year, month.value, day)
        }
    };
    if day.digits > 2 {
        return None;
    }
    let year = match year.digits {
        4 => i32::try_from(year.value).ok()?,
        2 => 2000 + i32::try_from(year.value).ok()?,
        _ => return None,
    };
    day_in_range(year, month, day.value)
}

/// The day, if it is one and within the years a bank export covers: a reference number such as
/// `10120304` is no date in the year 1012.
fn day_in_range(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1900..=2199).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Whether `text` is a date in any order.
pub(super) fn looks_like_date(text: &str) -> bool {
    ORDERS.iter().any(|order| parse(text, *order).is_some())
}

/// The order a date's own shape shows: year first (`2026-03-31`, `20260331`) or month name
/// first (`Mar 31, 2026`).
pub(super) fn evident_order(text: &str) -> Option<DateOrder> {
    let text = without_time(text.trim());
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(DateOrder::Ymd);
    }
    match parts(text)?.first()? {
        Part::Number(n) if n.digits == 4 => Some(DateOrder::Ymd),
        Part::Month(_) => Some(DateOrder::Mdy),
        Part::Number(_) => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Number {
    value: u32,
    digits: usize,
}

#[derive(Debug, Clone, Copy)]
enum Part {
    Number(Number),
    /// A month written as a name, 1 for January.
    Month(u32),
}

/// The date's three parts, or `None` if it does not have three.
fn parts(text: &str) -> Option<Vec<Part>> {
    text.split(['-', '.', '/', ' ', ','])
        .filter(|token| !token.is_empty())
        .map(|token| {
            if token.len() <= 4 && token.bytes().all(|b| b.is_ascii_digit()) {
                Some(Part::Number(Number {
                    value: token.parse().ok()?,
                    digits: token.len(),
                }))
            } else {
                month_named(token).map(Part::Month)
            }
        })
        .collect::<Option<Vec<_>>>()
        .filter(|parts| parts.len() == 3)
}

/// The text before a time of day: `2026-03-31T10:15:00Z`, `31.03.2026 10:15`,
/// `Mar 31, 2026 2:15 PM`.
fn without_time(text: &str) -> &str {
    let Some(colon) = text.find(':') else {
        return text;
    };
    match text[..colon].rfind([' ', 'T']) {
        Some(cut) => text[..cut].trim_end(),
        None => text,
    }
}
