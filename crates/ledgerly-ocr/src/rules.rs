//! The rule-based field reader behind the offline backend: OCR text in, [`RawFields`] out.
//!
//! - **Total**: the amount on the line of the strongest total keyword (GRAND TOTAL, AMOUNT DUE,
//!   NET AMOUNT, TOTAL…; never SUBTOTAL, TAX or ITEM counts), or on the line after it when the
//!   keyword line has none; failing every keyword, the largest plausible amount on the receipt.
//! - **Date**: the first text that reads as a date, lines that say "date" first.
//! - **Vendor**: the first line near the top that reads like a name — letters, not a heading
//!   ("TAX INVOICE", "RECEIPT"), an address, a phone number or a date.
//! - **Currency**: a symbol or code on the total's line, else anywhere on the receipt.

use std::sync::LazyLock;

use ledgerly_core::Currency;
use regex::Regex;

use crate::normalise::{self, Hints, RawFields};

/// An amount as printed: an optional symbol or code, digits with `,` `.` or thin-space groups, an
/// optional decimal part, an optional trailing symbol or code.
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?P<before>₹|rs\.?|inr|usd|eur|gbp|us\$|\$|€|£)?\s?
        (?P<number>\d{1,3}(?:[,.\x20]\d{2,3})+(?:[.,]\d{1,3})?|\d+(?:[.,]\d{1,3})?)
        (?:\s?(?P<after>€|eur|inr|usd|gbp|/-))?",
    )
    .unwrap_or_else(|e| unreachable!("the amount pattern is valid: {e}"))
});

/// Total keywords, strongest first. A line matches the first it contains.
const TOTAL_KEYWORDS: &[&str] = &[
    "grand total",
    "amount due",
    "balance due",
    "total due",
    "amount payable",
    "net payable",
    "net amount",
    "total amount",
    "invoice total",
    "total",
    "net",
    "to pay",
    "amount",
];

/// Lines that mention a keyword but are not the total.
const NOT_TOTAL: &[&str] = &[
    "subtotal",
    "sub total",
    "sub-total",
    "total tax",
    "tax total",
    "total qty",
    "total quantity",
    "total items",
    "item count",
    "no. of items",
    "savings",
    "discount",
    "you saved",
    "change",
    "tendered",
    "round off",
    "rounding",
    "tip",
    "gst",
    "vat",
    "cgst",
    "sgst",
];

/// Words of headings and boilerplate, never the vendor.
const NOT_VENDOR: &[&str] = &[
    "receipt",
    "invoice",
    "bill",
    "welcome",
    "thank",
    "tax",
    "gstin",
    "tel",
    "phone",
    "ph:",
    "mob",
    "www",
    "http",
    "date",
    "time",
    "cashier",
    "order",
    "table",
    "customer",
    "copy",
    "duplicate",
    "original",
];

/// Reads the fields from OCR `text`.
pub fn read(text: &str, hints: &Hints) -> RawFields {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let (total, total_line) = total(&lines, hints)
        .map(|(amount, line)| (Some(amount), Some(line)))
        .unwrap_or((None, None));
    let currency = total_line
        .and_then(|line| currency_in(lines[line]))
        .or_else(|| lines.iter().find_map(|line| currency_in(line)));
    RawFields {
        vendor: vendor(&lines),
        date: date(&lines, hints),
        total,
        currency,
        raw: text.to_owned(),
        ..RawFields::default()
    }
}

/// The amounts on `line` as printed, keeping a symbol or code next to them, skipping what is
/// clearly not money: times (`14:32`), dates, percentages, long bare numbers (ids, phones).
fn amounts(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for capture in AMOUNT.captures_iter(line) {
        let Some(number) = capture.name("number") else {
            continue;
        };
        let next = line[number.end()..].chars().next();
        let previous = line[..number.start()].chars().next_back();
        if matches!(next, Some('%' | ':' | '/' | '-') if capture.name("after").is_none_or(|a| a.as_str() != "/-"))
            || matches!(previous, Some(':' | '/' | '-' | '#') if capture.name("before").is_none())
        {
            continue;
        }
        let digits = number.as_str().chars().filter(char::is_ascii_digit).count();
        let has_separator = number.as_str().contains(['.', ',']);
        if !has_separator && digits > 6 {
            continue;
        }
        found.push(capture[0].trim().to_owned());
    }
    found
}

fn keyword_rank(line: &str) -> Option<usize> {
    let lower = line.to_lowercase();
    if NOT_TOTAL.iter().any(|w| contains_word(&lower, w)) {
        return None;
    }
    TOTAL_KEYWORDS
        .iter()
        .position(|keyword| contains_word(&lower, keyword))
}

/// Whether `word` occurs in `haystack` on its own (not inside another word).
fn contains_word(haystack: &str, word: &str) -> bool {
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphabetic) && !after.is_some_and(char::is_alphabetic)
    })
}

fn plausible_total(text: &str, hints: &Hints) -> bool {
    normalise::total(text, hints.currency).is_ok()
}

/// The total's text and the line it was on.
fn total(lines: &[&str], hints: &Hints) -> Option<(String, usize)> {
    let mut best: Option<(usize, usize, String)> = None;
    for (index, line) in lines.iter().enumerate() {
        let Some(rank) = keyword_rank(line) else {
            continue;
        };
        let on_line = amounts(line)
            .into_iter()
            .rev()
            .find(|a| plausible_total(a, hints));
        let candidate = on_line.map(|a| (a, index)).or_else(|| {
            let next = lines.get(index + 1)?;
            let amount = amounts(next)
                .into_iter()
                .rev()
                .find(|a| plausible_total(a, hints))?;
            Some((amount, index + 1))
        });
        let Some((amount, at)) = candidate else {
            continue;
        };
        // A stronger keyword wins; between equals, the later line (the final total).
        if best.as_ref().is_none_or(|(r, _, _)| rank <= *r) {
            best = Some((rank, at, amount));
        }
    }
    if let Some((_, at, amount)) = best {
        return Some((amount, at));
    }
    // No keyword: the largest plausible amount — written with decimals if any is (a bare
    // integer is as likely a postcode or a quantity).
    let candidates: Vec<(i64, bool, String, usize)> = lines
        .iter()
        .enumerate()
        .flat_map(|(index, line)| amounts(line).into_iter().map(move |a| (a, index)))
        .filter_map(|(a, index)| {
            let decimals = has_decimals(&a);
            normalise::total(&a, hints.currency)
                .ok()
                .map(|m| (m.minor(), decimals, a, index))
        })
        .collect();
    let any_decimals = candidates.iter().any(|(_, decimals, _, _)| *decimals);
    candidates
        .into_iter()
        .filter(|(_, decimals, _, _)| *decimals || !any_decimals)
        .max_by_key(|(minor, _, _, _)| *minor)
        .map(|(_, _, a, index)| (a, index))
}

/// Whether the amount ends in a decimal part (`12.50`, `12,50`).
fn has_decimals(amount: &str) -> bool {
    let digits_end = amount.trim_end_matches(|c: char| !c.is_ascii_digit());
    let tail: String = digits_end
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    let before = digits_end[..digits_end.len() - tail.len()]
        .chars()
        .next_back();
    matches!(before, Some('.' | ',')) && (1..=2).contains(&tail.len())
}

fn date(lines: &[&str], hints: &Hints) -> Option<String> {
    let labelled = lines.iter().filter(|l| l.to_lowercase().contains("date"));
    let others = lines.iter().filter(|l| !l.to_lowercase().contains("date"));
    labelled
        .chain(others)
        .find(|line| {
            let currency = currency_in(line)
                .and_then(|c| normalise::currency(&c, hints.currency).ok())
                .unwrap_or(hints.currency);
            normalise::date(line, hints, currency).is_ok()
                || normalise::date(line, hints, Currency::USD).is_ok()
        })
        .map(|line| (*line).to_owned())
}

fn vendor(lines: &[&str]) -> Option<String> {
    lines.iter().take(5).find_map(|line| {
        let lower = line.to_lowercase();
        if NOT_VENDOR.iter().any(|w| contains_word(&lower, w)) {
            return None;
        }
        let letters = line.chars().filter(|c| c.is_alphabetic()).count();
        let digits = line.chars().filter(char::is_ascii_digit).count();
        let visible = line.chars().filter(|c| !c.is_whitespace()).count().max(1);
        // A name is mostly letters; an address or phone line has digits.
        if letters < 3 || digits > 2 || letters * 10 < visible * 6 {
            return None;
        }
        normalise::vendor(line).ok()
    })
}

/// The currency symbol or code printed on `line`.
fn currency_in(line: &str) -> Option<String> {
    let lower = line.to_lowercase();
    for (marker, currency) in [
        ("₹", "INR"),
        ("inr", "INR"),
        ("rs.", "INR"),
        ("rs ", "INR"),
        ("€", "EUR"),
        ("eur", "EUR"),
        ("£", "GBP"),
        ("gbp", "GBP"),
        ("usd", "USD"),
        ("us$", "USD"),
        ("$", "$"),
    ] {
        if lower.contains(marker) {
            return Some(currency.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn hints(currency: Currency) -> Hints {
        Hints::new(currency, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
    }

    fn fields(text: &str, currency: Currency) -> crate::ReceiptFields {
        let h = hints(currency);
        normalise::normalise(read(text, &h), &h)
    }

    #[test]
    fn an_indian_restaurant_bill() {
        let text = "TAX INVOICE\nHaldiram's\nShop 4, Connaught Place, New Delhi 110001\nGSTIN 07AAACH1234A1Z5\nBill No: 4821   Date: 20/11/2026 14:32\nPaneer Tikka        1   320.00\nDal Makhani         2   480.00\nSub Total                800.00\nCGST 2.5%                 20.00\nSGST 2.5%                 20.00\nGrand Total Rs. 1,05,840.00\nThank you! Visit again";
        let f = fields(text, Currency::INR);
        assert_eq!(f.vendor.as_deref(), Some("Haldiram's"));
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(f.total.unwrap().to_decimal_string(), "105840.00");
    }

    #[test]
    fn a_us_grocery_receipt_with_the_total_on_the_next_line() {
        let text = "WHOLE FOODS MARKET\n123 Main St, Austin TX\n(512) 555-0100\n11/03/2026 09:15 AM\nBANANAS 1.29\nMILK 3.49\nSUBTOTAL 4.78\nTAX 0.39\nAMOUNT DUE\n$5.17\nCHANGE 4.83";
        let f = fields(text, Currency::USD);
        assert_eq!(f.vendor.as_deref(), Some("WHOLE FOODS MARKET"));
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 11, 3));
        let total = f.total.unwrap();
        assert_eq!(total.to_decimal_string(), "5.17");
        assert_eq!(total.currency(), Currency::USD);
    }

    #[test]
    fn a_european_receipt_with_decimal_commas() {
        let text = "Carrefour Market\nRue de la Paix 12\n20.11.2026\nBaguette 1,20\nFromage 12,50\nTOTAL EUR 13,70\nCB 13,70";
        let f = fields(text, Currency::INR);
        let total = f.total.unwrap();
        assert_eq!(total.currency(), Currency::EUR);
        assert_eq!(total.to_decimal_string(), "13.70");
        assert_eq!(f.vendor.as_deref(), Some("Carrefour Market"));
    }

    #[test]
    fn without_a_keyword_the_largest_plausible_amount_is_the_total() {
        let text = "Corner Shop\nPhone 9876543210\nTea 20.00\nSamosa 30.00\n50.00";
        let f = fields(text, Currency::INR);
        assert_eq!(f.total.unwrap().to_decimal_string(), "50.00");
        // A postcode is not an amount when amounts with decimals are on the receipt.
        let text = "Corner Shop\nAustin TX 78701\nTea 2.00\nSamosa 3.00\n5.00";
        let f = fields(text, Currency::USD);
        assert_eq!(f.total.unwrap().to_decimal_string(), "5.00");
    }

    #[test]
    fn times_percentages_and_ids_are_not_amounts() {
        assert_eq!(amounts("14:32"), Vec::<String>::new());
        assert_eq!(amounts("CGST 2.5% 20.00"), vec!["20.00"]);
        assert_eq!(amounts("Order 12345678"), Vec::<String>::new());
        assert_eq!(amounts("Total Rs. 450/-"), vec!["Rs. 450/-"]);
    }
}
