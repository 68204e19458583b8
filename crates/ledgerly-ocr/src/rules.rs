//! The field rules behind the offline engines: printed lines in (see [`crate::layout`]),
//! [`RawFields`] with a confidence per field out. Built on real scanned receipts — faint thermal
//! print, labels and amounts in separate columns, tax summaries that repeat the word "total".
//!
//! - **Total**: every line with a total label is a candidate, ranked — a final total (GRAND
//!   TOTAL, NETT TOTAL, AMOUNT DUE, TOTAL AFTER ADJ, ROUNDED TOTAL…) above a plain or
//!   tax-inclusive TOTAL above a weak word (AMOUNT, BALANCE); never SUBTOTAL, CASH, CHANGE,
//!   TENDERED, tax lines, DISCOUNT, SAVINGS or counts. The amount is the line's rightmost, or the
//!   next line's when the label stands alone. The printed payment decides between candidates: the
//!   one equal to cash − change wins; one below the subtotal loses; between equals the last
//!   before the payment lines (after a rounding line, the rounded total). A table row (two or
//!   more amounts beside a bare TOTAL) is a tax summary, not the total. Failing every label, the
//!   largest plausible amount, with a low confidence.
//! - **Date**: a labelled line's date first, then any other; the order of `03/04/2018` is
//!   decided by the receipt's other dates, then its currency, then the owner's.
//! - **Vendor**: the top line carrying a company marker (SDN BHD, LTD, GMBH…, then trade words
//!   such as RESTAURANT or TRADING), else the most prominent top line that is not an address, a
//!   phone or registration number, or a heading.
//! - **Currency**: a symbol or code on the total's line, else the one the receipt prints most,
//!   else none (the owner's currency applies).

use std::sync::LazyLock;

use regex::Regex;

use crate::extractor::FieldConfidence;
use crate::layout::Line;
use crate::normalise::{self, Hints, RawFields};

/// An amount as printed: an optional symbol or code, digits with `,` `.` or space groups, an
/// optional decimal part, an optional trailing symbol or code.
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    normalise::pattern(
        r"(?ix)
        (?P<before>₹|rs\.?|inr|usd|eur|gbp|myr|rm|sgd|s\$|us\$|\$|€|£)?\s?
        (?P<number>\d{1,3}(?:[,.\x20]\d{2,3})+(?:[.,]\d{1,3})?|\d+(?:[.,]\d{1,3})?|\.\d{2}\b)
        (?:\s?(?P<after>€|eur|inr|usd|gbp|myr|/-))?",
    )
});

/// Reads the fields from a receipt's `lines`, top to bottom.
pub fn read(lines: &[Line], hints: &Hints) -> RawFields {
    let texts: Vec<String> = lines.iter().map(Line::text).collect();
    let total = total(lines, &texts, hints);
    let currency = total
        .as_ref()
        .and_then(|t| currency_in(&texts[t.line]))
        .or_else(|| most_printed_currency(&texts));
    let (date, date_confidence) = date(&texts, currency.as_deref(), hints).unzip();
    let (vendor, vendor_confidence) = vendor(lines, &texts).unzip();
    let total_confidence = total.as_ref().map(|t| t.confidence);
    RawFields {
        vendor,
        date,
        total: total.map(|t| t.amount),
        currency,
        confidence: FieldConfidence {
            vendor: vendor_confidence,
            date: date_confidence,
            total: total_confidence,
        },
        raw: texts.join("\n"),
        ..RawFields::default()
    }
}

/// `text` lower-cased with everything but letters dropped: OCR spaces labels unevenly
/// (`TotalwithGST@6%`, `Sub - Total`), so labels are matched on their letters alone.
fn letters(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| {
            // Inside a word a 1 is an l and a 0 an o, as OCR misreads them (`Tota1`, `T0TAL`).
            let in_word = i.checked_sub(1).is_some_and(|p| chars[p].is_alphabetic())
                || chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
            match c {
                '1' if in_word => Some('l'),
                '0' if in_word => Some('o'),
                c if c.is_alphabetic() => Some(c),
                _ => None,
            }
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// How strongly a line's label says "this is the total"; higher is stronger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    /// AMOUNT, BALANCE, NET, PAYMENT: a total only where nothing better is printed.
    Weak,
    /// TOTAL, TOTAL (RM), TOTAL INCL. GST, TOTAL AMOUNT.
    Total,
    /// The amount paid, by its label: GRAND TOTAL, AMOUNT DUE, TOTAL AFTER ADJ…
    Final,
}

const FINAL_LABELS: &[&str] = &[
    "grandtotal",
    "totalafteradj",
    "totalafterround",
    "afterrounding",
    "roundedtotal",
    "totalrounded",
    "netttotal",
    "nettotal",
    "totalnett",
    "totalnet",
    "amountdue",
    "totaldue",
    "balancedue",
    "totalamountdue",
    "totalpayable",
    "amountpayable",
    "netpayable",
    "nettpayable",
    "amounttopay",
    "totaltopay",
    "netamount",
    "nettamount",
    "invoicetotal",
    "billtotal",
    "totalbill",
];

/// Said of a total that includes tax: lets TOTAL (GST INCL) through the tax-line exclusion.
const INCLUSIVE: &[&str] = &[
    "incl",
    "inclusive",
    "incgst",
    "inctax",
    "incvat",
    "incsst",
    "gstinc",
    "taxinc",
    "withgst",
    "withtax",
    "withsst",
    "aftergst",
    "aftertax",
];

/// Lines that are not the total, whatever else they say.
const NOT_TOTAL: &[&str] = &[
    "subtotal",
    "subtota",
    "totaltax",
    "taxtotal",
    "totalgst",
    "gsttotal",
    "totalsst",
    "totalvat",
    "vattotal",
    "totalqty",
    "totalquantity",
    "totalitem",
    "itemtotal",
    "totalpcs",
    "totalunit",
    "noofitem",
    "itemcount",
    "totaldiscount",
    "totalsaving",
    "yousaved",
    "saving",
    "discount",
    "supplies",
    "excl",
    "exclusive",
    "excluding",
    "beforegst",
    "beforetax",
    "withoutgst",
    "cash",
    "change",
    "tender",
    "paid",
    "rounding",
    "roundadj",
    "round",
    "points",
    "loading",
    "deposit",
    "gstpayable",
    "taxpayable",
    "gstamount",
    "taxamount",
    "tip",
];

const WEAK_LABELS: &[&str] = &["amount", "balance", "net", "topay", "payment", "nett"];

fn label(line: &str) -> Option<Label> {
    let key = letters(line);
    if FINAL_LABELS.iter().any(|l| key.contains(l)) && !key.contains("subtotal") {
        return Some(Label::Final);
    }
    let inclusive = INCLUSIVE.iter().any(|l| key.contains(l));
    if key.contains("total") && inclusive && !key.contains("subtotal") && !key.contains("excl") {
        return Some(Label::Total);
    }
    if NOT_TOTAL.iter().any(|l| key.contains(l)) {
        return None;
    }
    if key.contains("total") || key.contains("jumlah") {
        return Some(Label::Total);
    }
    WEAK_LABELS
        .iter()
        .any(|l| key == *l || key.starts_with(l) && key.len() <= l.len() + 4)
        .then_some(Label::Weak)
}

/// What a payment line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payment {
    /// Cash or another tender handed over.
    Tendered,
    Change,
    Subtotal,
    Rounding,
}

fn payment(line: &str) -> Option<Payment> {
    let key = letters(line);
    if key.contains("change") && !key.contains("exchange") {
        Some(Payment::Change)
    } else if key.starts_with("cash") && !key.contains("cashier") && !key.contains("inv")
        || key.contains("tender")
        || key.contains("received")
        || key.contains("paid")
    {
        Some(Payment::Tendered)
    } else if key.contains("subtotal") || key.contains("subtota") {
        Some(Payment::Subtotal)
    } else if key.contains("round") && !key.contains("ground") {
        Some(Payment::Rounding)
    } else {
        None
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
        let slash_dash = capture.name("after").is_some_and(|a| a.as_str() == "/-");
        if matches!(next, Some('%' | ':' | '/' | '-') if !slash_dash)
            || matches!(previous, Some('/' | '-' | '#' | '@') if capture.name("before").is_none())
            // `TOTAL:12.50` is an amount, `14:32` is a time.
            || previous == Some(':')
                && capture.name("before").is_none()
                && line[..number.start() - 1]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_digit())
            || matches!(previous, Some('%'))
            || next.is_some_and(char::is_alphabetic) && capture.name("after").is_none()
            || previous.is_some_and(char::is_alphabetic) && capture.name("before").is_none()
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

/// An amount's value in minor units, if it reads as a plausible total.
fn value(amount: &str, hints: &Hints) -> Option<i64> {
    normalise::total(amount, hints.currency)
        .ok()
        .map(|m| m.minor())
}

/// Whether a line says nothing but an amount (and perhaps a currency).
fn bare_amount(line: &str) -> bool {
    let key = letters(line);
    key.is_empty() || ["rm", "myr", "rs", "inr", "usd", "eur", "gbp", "sgd"].contains(&key.as_str())
}

#[derive(Debug, Clone)]
struct Total {
    amount: String,
    /// The line the amount is on.
    line: usize,
    confidence: u8,
}

#[derive(Debug, Clone)]
struct Candidate {
    label: Label,
    amount: String,
    minor: i64,
    /// The label's line.
    at: usize,
    /// The amount's line.
    line: usize,
    /// Two or more amounts beside a bare TOTAL: a tax summary's row.
    table_row: bool,
    /// After the first tender or change line.
    after_payment: bool,
    score: f32,
}

/// The amount printed for a label on line `index`: the line's rightmost plausible amount, or the
/// next line's when it holds only an amount.
fn labelled_amount(
    texts: &[String],
    index: usize,
    hints: &Hints,
) -> Option<(String, usize, usize)> {
    let on_line: Vec<String> = amounts(&texts[index])
        .into_iter()
        .filter(|a| value(a, hints).is_some())
        .collect();
    if let Some(last) = on_line.last() {
        return Some((last.clone(), index, on_line.len()));
    }
    let next = texts.get(index + 1)?;
    if !bare_amount(next) {
        return None;
    }
    let amount = amounts(next)
        .into_iter()
        .rev()
        .find(|a| value(a, hints).is_some())?;
    Some((amount, index + 1, 1))
}

fn total(lines: &[Line], texts: &[String], hints: &Hints) -> Option<Total> {
    let mut candidates = Vec::new();
    let mut tendered = None;
    let mut change = None;
    let mut subtotal = None;
    let mut first_payment = None;
    for index in 0..texts.len() {
        if let Some(kind) = payment(&texts[index]) {
            let amount =
                labelled_amount(texts, index, hints).and_then(|(a, _, _)| value(&a, hints));
            match kind {
                Payment::Tendered => {
                    tendered = tendered.or(amount);
                    first_payment = first_payment.or(Some(index));
                }
                Payment::Change => {
                    change = change.or(amount);
                    first_payment = first_payment.or(Some(index));
                }
                Payment::Subtotal => subtotal = subtotal.or(amount),
                Payment::Rounding => {}
            }
        }
        let Some(label) = label(&texts[index]) else {
            continue;
        };
        let Some((amount, line, count)) = labelled_amount(texts, index, hints) else {
            continue;
        };
        let Some(minor) = value(&amount, hints) else {
            continue;
        };
        candidates.push(Candidate {
            label,
            table_row: count >= 2 && label == Label::Total,
            amount,
            minor,
            at: index,
            line,
            after_payment: first_payment.is_some(),
            score: lines[index].score().min(lines[line].score()),
        });
    }
    let paid = match (tendered, change) {
        (Some(t), Some(c)) if t > c => Some(t - c),
        _ => None,
    };
    if let Some(paid) = paid
        && let Some(best) = candidates
            .iter()
            .filter(|c| c.minor == paid)
            .max_by_key(|c| (c.label, std::cmp::Reverse(c.at)))
    {
        return Some(Total {
            amount: best.amount.clone(),
            line: best.line,
            confidence: confidence(98, best.score),
        });
    }
    // The amount paid printed on a line whose label OCR garbled (`Roundang RM 13.60`).
    if let Some(paid) = paid
        && !candidates.iter().any(|c| c.minor == paid)
        && let Some((index, amount)) = texts.iter().enumerate().find_map(|(index, text)| {
            if payment(text).is_some_and(|p| p != Payment::Rounding) {
                return None;
            }
            amounts(text)
                .into_iter()
                .find(|a| value(a, hints) == Some(paid))
                .map(|a| (index, a))
        })
    {
        return Some(Total {
            amount,
            line: index,
            confidence: confidence(80, lines[index].score()),
        });
    }
    let rank = |c: &Candidate| {
        (
            c.label,
            !c.table_row,
            subtotal.is_none_or(|s| c.minor >= s),
            !c.after_payment,
            // The last before the payment lines: after a rounding line, the rounded total.
            c.at,
        )
    };
    if let Some(best) = candidates.iter().max_by_key(|c| rank(c)) {
        let base = match best.label {
            Label::Final => 95,
            Label::Total if !best.table_row => 90,
            Label::Total => 60,
            Label::Weak => 70,
        };
        let base = if subtotal.is_some_and(|s| best.minor < s) {
            base / 2
        } else {
            base
        };
        return Some(Total {
            amount: best.amount.clone(),
            line: best.line,
            confidence: confidence(base, best.score),
        });
    }
    fallback_total(lines, texts, hints)
}

/// No labelled total: the largest plausible amount — written with decimals if any is (a bare
/// integer is as likely a postcode or a quantity) and not on a tender line.
fn fallback_total(lines: &[Line], texts: &[String], hints: &Hints) -> Option<Total> {
    let candidates: Vec<(i64, bool, String, usize)> = texts
        .iter()
        .enumerate()
        .filter(|(_, text)| payment(text) != Some(Payment::Tendered))
        .flat_map(|(index, text)| amounts(text).into_iter().map(move |a| (a, index)))
        .filter_map(|(a, index)| {
            let decimals = has_decimals(&a);
            value(&a, hints).map(|minor| (minor, decimals, a, index))
        })
        .collect();
    let any_decimals = candidates.iter().any(|(_, decimals, _, _)| *decimals);
    candidates
        .into_iter()
        .filter(|(_, decimals, _, _)| *decimals || !any_decimals)
        .max_by_key(|(minor, _, _, _)| *minor)
        .map(|(_, _, amount, line)| Total {
            amount,
            line,
            confidence: confidence(35, lines[line].score()),
        })
}

/// A rule's confidence scaled by the OCR's.
fn confidence(rule: u8, ocr: f32) -> u8 {
    (f32::from(rule) * ocr.clamp(0.0, 1.0)).round() as u8
}

/// The words of lines that say which date they hold.
const DATE_LABELS: &[&str] = &["date", "tarikh", "dated", "datum", "fecha", "dt"];

/// Lines whose date is not the purchase's.
const OTHER_DATES: &[&str] = &[
    "expir",
    "exp",
    "valid",
    "bestbefore",
    "due",
    "until",
    "warranty",
];

fn date(texts: &[String], currency: Option<&str>, hints: &Hints) -> Option<(String, u8)> {
    // The receipt's other dates say which order it writes them in; then its currency; then the
    // owner's.
    let evidence = texts.iter().find_map(|t| normalise::date_order(t));
    let currency = currency
        .and_then(|c| normalise::currency(c, hints.currency).ok())
        .unwrap_or(hints.currency);
    let day_first = evidence.unwrap_or(currency != ledgerly_core::Currency::USD);
    let labelled = |text: &str| {
        let lower = text.to_lowercase();
        DATE_LABELS.iter().any(|l| {
            lower
                .match_indices(l)
                .any(|(at, _)| !lower[at + l.len()..].starts_with(|c: char| c.is_alphabetic()))
        })
    };
    let other = |text: &str| {
        let key = letters(text);
        OTHER_DATES.iter().any(|w| key.contains(w))
    };
    let found = |text: &str| normalise::date_in_order(text, hints, day_first).ok();
    let pick = texts
        .iter()
        .filter(|t| labelled(t) && !other(t))
        .find_map(|t| found(t).map(|d| (d, 95)))
        .or_else(|| {
            texts
                .iter()
                .filter(|t| !other(t))
                .find_map(|t| found(t).map(|d| (d, 85)))
        })?;
    let (date, base) = pick;
    let ambiguous = texts.iter().any(|t| {
        normalise::date_in_order(t, hints, !day_first).is_ok_and(|other| other != date)
            && found(t) == Some(date)
    });
    let base = if ambiguous && evidence.is_none() {
        base - 25
    } else {
        base
    };
    Some((date.format("%Y-%m-%d").to_string(), base))
}

/// Legal forms: the line that carries one is the company's name.
const LEGAL_MARKERS: &[&str] = &[
    "sdn bhd",
    "sdn",
    "bhd",
    "berhad",
    "ltd",
    "limited",
    "llc",
    "llp",
    "inc",
    "gmbh",
    "pvt",
    "plc",
    "s a",
    "sa",
    "sarl",
    "s r l",
    "srl",
    "corp",
    "corporation",
    "pte",
    "pty",
    "co",
    "ag",
    "bv",
    "nv",
    "oy",
    "ab",
    "kg",
    "company",
    "(m)",
];

/// Words of trade names: weaker than a legal form.
const TRADE_MARKERS: &[&str] = &[
    "enterprise",
    "enterprises",
    "trading",
    "restaurant",
    "restoran",
    "cafe",
    "café",
    "bakery",
    "mart",
    "minimart",
    "supermarket",
    "hypermarket",
    "store",
    "stores",
    "shop",
    "kedai",
    "syarikat",
    "perniagaan",
    "hardware",
    "stationery",
    "pharmacy",
    "farmasi",
    "holdings",
    "industries",
    "marketing",
    "services",
    "kitchen",
    "food",
    "foods",
    "bistro",
    "bar",
    "pub",
    "hotel",
    "market",
    "bookstore",
    "electrical",
    "motor",
    "florist",
    "boutique",
    "salon",
];

/// Words of lines that are never the vendor: headings, contact and registration lines.
const NOT_VENDOR: &[&str] = &[
    "receipt",
    "invoice",
    "bill",
    "welcome",
    "thank",
    "tax",
    "gst",
    "gstin",
    "sst",
    "vat",
    "tel",
    "fax",
    "phone",
    "ph",
    "mob",
    "hp",
    "www",
    "http",
    "email",
    "date",
    "time",
    "cashier",
    "order",
    "table",
    "customer",
    "copy",
    "duplicate",
    "original",
    "reg",
    "no",
    "jalan",
    "jln",
    "lorong",
    "taman",
    "lot",
    "street",
    "road",
    "st",
    "avenue",
    "ave",
    "rue",
    "via",
    "strasse",
    "straße",
    "str",
    "calle",
    "platz",
    "floor",
    "flr",
    "level",
    "blok",
    "block",
    "km",
    "batu",
    "kuala",
    "lumpur",
    "selangor",
    "johor",
    "member",
    "counter",
    "pos",
    "terminal",
    "slip",
    "cash",
    "closed",
    "open",
];

/// The words of `text`, lower case, punctuation as spaces.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '(' || c == ')' || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn has_marker(text: &str, markers: &[&str]) -> bool {
    let words = words(text);
    let joined = format!(" {} ", words.join(" "));
    markers.iter().any(|m| {
        if m.contains(' ') {
            joined.contains(&format!(" {m} "))
        } else {
            words
                .iter()
                .any(|w| w == m || w.trim_matches(['(', ')']) == *m && m.len() > 2)
        }
    })
}

/// A registration number and the like after a name: `(126926-H)`, `CO. REG. 12345`.
static REGISTRATION: LazyLock<Regex> = LazyLock::new(|| {
    normalise::pattern(
        r"(?i)\s*(\([^()]*\d[^()]*\)?|\b(co\.?\s*)?(reg|no|company)\b.*\d.*$|\b\d{4,}[-\w]*)",
    )
});

/// Legal forms OCR runs into the name before them (`BAKERIES(KL)SDNBHD`), matched on letters.
const GLUED_MARKERS: &[&str] = &[
    "sdnbhd", "bhd", "berhad", "gmbh", "pvtltd", "pteltd", "ptyltd", "limited",
];

/// A legal form run into the word before it, or a bracket run into its neighbours.
static GLUED: LazyLock<Regex> = LazyLock::new(|| {
    normalise::pattern(r"(?i)([a-z\)])(sdn\.?\s?bhd|bhd|berhad|gmbh)\b|\b(sdn)\.?(bhd)\b")
});

fn has_legal_marker(text: &str) -> bool {
    let key = letters(text);
    has_marker(text, LEGAL_MARKERS)
        || text.to_lowercase().contains("s/b")
        || GLUED_MARKERS
            .iter()
            .any(|m| key.ends_with(m) || key.contains("sdnbhd"))
}

static SDN_BHD: LazyLock<Regex> = LazyLock::new(|| normalise::pattern(r"(?i)sdn\.?\s?bhd"));

/// A legal form with the registration number run into it (`SDN BHD82256-V`, `S/B519537-X`).
static FORM_THEN_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"(?i)\b(bhd|s/b|ltd|berhad|limited)(\d)"));

fn clean_vendor(text: &str) -> String {
    let text = FORM_THEN_NUMBER.replace_all(text, "$1 $2");
    let text = SDN_BHD.replace_all(&text, |c: &regex::Captures<'_>| {
        let found = &c[0];
        if found.contains(' ') || found.contains('.') {
            found.to_owned()
        } else {
            format!("{} {}", &found[..3], &found[3..])
        }
    });
    let spaced = GLUED.replace_all(&text, |c: &regex::Captures<'_>| {
        match (c.get(1), c.get(2)) {
            (Some(before), Some(marker)) => format!("{} {}", before.as_str(), marker.as_str()),
            _ => format!("{} {}", &c[3], &c[4]),
        }
    });
    let spaced = spaced.replace(")(", ") (");
    let cleaned = REGISTRATION.replace_all(&spaced, "");
    cleaned
        .trim()
        .trim_end_matches([',', '-', ':', '.'])
        .trim()
        .to_owned()
}

/// Below this OCR score a line is likely a stamp, handwriting or a smudge, not a printed name.
const MIN_NAME_SCORE: f32 = 0.4;

fn looks_like_a_name(line: &Line, text: &str) -> bool {
    let lower = text.to_lowercase();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let visible = text.chars().filter(|c| !c.is_whitespace()).count().max(1);
    letters >= 3
        && digits <= 3
        && letters * 10 >= visible * 6
        && !lower.contains('@')
        // An item and its price (`Bananas 8.02`).
        && !amounts(text).iter().any(|amount| has_decimals(amount))
        && !UNIT_NUMBER.is_match(text)
        && !has_marker(&WORD_THEN_WORD.replace_all(text, "$1 $2"), NOT_VENDOR)
        && line.score() >= MIN_NAME_SCORE
}

/// Words that introduce the company owning a shop.
const OWNER_WORDS: &[&str] = &[
    "ownedby",
    "ownby",
    "dimilikioleh",
    "operatedby",
    "managedby",
];

/// Lines of one name differ in height by at most this factor.
const PROMINENT: f32 = 1.3;

/// The words of `name` besides its legal form (`HARDWARE SDN BHD`: one).
fn name_words(name: &str) -> usize {
    name.split_whitespace()
        .filter(|word| {
            let key = letters(word);
            !key.is_empty()
                && !LEGAL_MARKERS.contains(&key.as_str())
                && !GLUED_MARKERS.contains(&key.as_str())
                && key != "sb"
        })
        .count()
}

/// The name on line `index` and the lines above it that it continues: a legal form alone on
/// its line or with one word of name (`SDN. BHD.`, `HARDWARE SDN BHD`), a bracket closed on it
/// that opened above (`ENTERPRISE (SETIA` / `ALAM) SDN BHD`), or a fragment of one or two words
/// above. Returns the first line used.
fn with_lines_above(lines: &[Line], texts: &[String], index: usize) -> (usize, String) {
    let mut first = index;
    let mut name = clean_vendor(&texts[index]);
    while first > 0 && index - first < 2 {
        let above = first - 1;
        let unbalanced = name.matches('(').count() != name.matches(')').count();
        // The legal line with one word of name or none, or a fragment of two words above it.
        let line = clean_vendor(&texts[first]);
        let short = if first == index {
            name_words(&line) <= 1
        } else {
            line.split_whitespace().count() <= 2
        };
        let similar = lines[above].height() <= lines[first].height() * PROMINENT
            && lines[first].height() <= lines[above].height() * PROMINENT;
        if !(unbalanced || short) || !similar || !looks_like_a_name(&lines[above], &texts[above]) {
            break;
        }
        name = format!("{} {name}", clean_vendor(&texts[above]));
        first = above;
    }
    (first, name)
}

/// How many lines from the top the vendor is looked for in.
const VENDOR_LINES: usize = 8;

/// Words of shop names the recogniser runs into their neighbours (`KEDAIHARDWARESHOP`), long
/// enough not to be part of another word: a long run of letters is split around each.
const GLUED_WORDS: &[&str] = &[
    "stationery",
    "hardware",
    "electrical",
    "restaurant",
    "restoran",
    "enterprise",
    "trading",
    "supermarket",
    "hypermarket",
    "minimart",
    "pharmacy",
    "farmasi",
    "bakery",
    "bakeries",
    "supplies",
    "services",
    "marketing",
    "holdings",
    "industries",
    "kitchen",
    "bookstore",
    "florist",
    "boutique",
];

/// [`GLUED_WORDS`], longest first.
static LONGEST_GLUED_WORDS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let mut words = GLUED_WORDS.to_vec();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words
});

/// Short shop words, split off only at the end of a run of letters (`QUICKMART`), where they
/// cannot be the start of another word (`SMARTPHONE`, `SHOPPING`).
const GLUED_ENDINGS: &[&str] = &["shop", "mart", "store", "stores"];

/// A run of letters shorter than this is left whole: it is likely one word (`WORKSHOP`).
const GLUED_MIN: usize = 9;

/// A number run into the name after it (`88QUICK`), and the Malaysian `S/B` run into the word
/// before it, its `S` often read as `5` (`MART5/B`).
static DIGITS_THEN_NAME: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"\b(\d{2,})([A-Za-z]{3,})"));
/// Initials run into the capitalised word after them (`TFValue`).
static INITIALS_THEN_WORD: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"\b([A-Z]{2,})([A-Z][a-z]{2,})"));
/// Two capitalised words run together (`RoadBengaluru`), put apart only to see an address's
/// words (shops write names so: `PappaRich`); a single lower-case letter before the
/// capital is a name's own (`McDonald`, `DeWalt`).
static WORD_THEN_WORD: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"([A-Z][a-z]{2,})([A-Z][a-z]{2,})"));
/// An address's unit before its number: `Shop 4`, `Unit 12`, `Lot 3`.
static UNIT_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"(?i)\b(shop|unit|suite|lot|stall|kiosk)\s*\.?\s*\d"));
static GLUED_SB: LazyLock<Regex> =
    LazyLock::new(|| normalise::pattern(r"(?i)([a-z]{3,})[s5]/b([^a-z]|$)"));

/// `SDN BHD` as the recogniser misreads it in faint print: `SEN BD`, `Sdn Bnd`, `SON BHO`.
static MISREAD_SDN_BHD: LazyLock<Regex> = LazyLock::new(|| {
    normalise::pattern(
        r"(?i)\b(?:s[eo]n|sdm|5dn)\.?\s*(?:b[hn]?d|bho)\b\.?|\bsdn\.?\s*(?:bnd|bd|bho)\b\.?",
    )
});

/// `text` with the words the recogniser ran together put apart: a number and the name after
/// it, `S/B` and the word before it, and the shop words of [`GLUED_WORDS`] and
/// [`GLUED_ENDINGS`] inside long runs of letters.
fn unglue(text: &str) -> String {
    let text = MISREAD_SDN_BHD.replace_all(text, "SDN BHD");
    let text = DIGITS_THEN_NAME.replace_all(&text, "$1 $2");
    let text = INITIALS_THEN_WORD.replace_all(&text, "$1 $2");
    let text = GLUED_SB.replace_all(&text, "$1 S/B$2");
    let mut out = String::with_capacity(text.len() + 8);
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphabetic() {
            run.push(c);
            continue;
        }
        out.push_str(&split_run(&run));
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// One run of letters split around the shop words it contains.
fn split_run(run: &str) -> String {
    if run.chars().count() < GLUED_MIN || !run.is_ascii() {
        return run.to_owned();
    }
    let lower = run.to_ascii_lowercase();
    // Byte ranges of the words found, in order, not overlapping (longest words first).
    let mut found: Vec<(usize, usize)> = Vec::new();
    for word in LONGEST_GLUED_WORDS.iter() {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let (start, end) = (from + at, from + at + word.len());
            if !found.iter().any(|&(s, e)| start < e && s < end) {
                found.push((start, end));
            }
            from = end;
        }
    }
    // A plural's `S` stays with its word (`BOOKSTORES`).
    for range in &mut found {
        if range.1 + 1 == lower.len() && lower.ends_with('s') {
            range.1 += 1;
        }
    }
    let covered_end = found.iter().map(|&(_, e)| e).max().unwrap_or(0);
    if let Some(ending) = GLUED_ENDINGS
        .iter()
        .find(|e| lower.ends_with(*e) && lower.len() - e.len() >= covered_end)
    {
        found.push((lower.len() - ending.len(), lower.len()));
    }
    found.sort_unstable();
    let mut cuts: Vec<usize> = found.iter().flat_map(|&(s, e)| [s, e]).collect();
    cuts.retain(|&c| c > 0 && c < run.len());
    cuts.dedup();
    let mut out = String::with_capacity(run.len() + cuts.len());
    let mut last = 0;
    for cut in cuts {
        out.push_str(&run[last..cut]);
        out.push(' ');
        last = cut;
    }
    out.push_str(&run[last..]);
    out
}

fn vendor(lines: &[Line], texts: &[String]) -> Option<(String, u8)> {
    // Only the top lines are read for the vendor.
    let texts: Vec<String> = texts.iter().take(VENDOR_LINES).map(|t| unglue(t)).collect();
    let texts = texts.as_slice();
    let top = texts.len();
    let with = |markers: &[&str]| (0..top).find(|&i| has_marker(&texts[i], markers));
    if let Some(index) = (0..top).find(|&i| has_legal_marker(&texts[i])) {
        // When the legal one is introduced as the owner ("Owned by:"), the shop is the name
        // above it.
        let owned = (index.saturating_sub(1)..=index).any(|i| {
            let key = letters(&texts[i]);
            OWNER_WORDS.iter().any(|w| key.contains(w))
        });
        let shop = if owned {
            (0..index.min(2)).find(|&i| looks_like_a_name(&lines[i], &texts[i]))
        } else {
            None
        };
        if let Some(above) = shop {
            return Some((
                clean_vendor(&texts[above]),
                confidence(75, lines[above].score()),
            ));
        }
        let (first, name) = with_lines_above(lines, texts, index);
        if letters(&name).len() >= 3 {
            let score = (first..=index)
                .map(|i| lines[i].score())
                .fold(1.0, f32::min);
            return Some((name, confidence(90, score)));
        }
    }
    // A trade name is judged without the registration number printed after it.
    if let Some(index) =
        with(TRADE_MARKERS).filter(|&i| looks_like_a_name(&lines[i], &clean_vendor(&texts[i])))
    {
        return Some((
            clean_vendor(&texts[index]),
            confidence(80, lines[index].score()),
        ));
    }
    // The most prominent name-like line near the top; between equals, the higher.
    let candidates: Vec<usize> = (0..top.min(5))
        .filter(|&i| looks_like_a_name(&lines[i], &texts[i]))
        .collect();
    let tallest = candidates
        .iter()
        .map(|&i| lines[i].height())
        .fold(0.0, f32::max);
    let index = candidates
        .into_iter()
        .find(|&i| lines[i].height() >= tallest * 0.85)?;
    Some((
        clean_vendor(&texts[index]),
        confidence(60, lines[index].score()),
    ))
}

/// The currency symbol or code printed on `line`.
fn currency_in(line: &str) -> Option<String> {
    let lower = line.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let word = |w: &str| {
        words.iter().any(|x| {
            x == w || x.starts_with(w) && x[w.len()..].starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let markers: [(&dyn Fn() -> bool, &str); 12] = [
        (&|| lower.contains('₹') || word("inr"), "INR"),
        (&|| word("rs"), "INR"),
        (&|| word("rm") || word("myr"), "MYR"),
        (&|| lower.contains("s$") || word("sgd"), "SGD"),
        (&|| lower.contains('€') || word("eur"), "EUR"),
        (&|| lower.contains('£') || word("gbp"), "GBP"),
        (&|| lower.contains("us$") || word("usd"), "USD"),
        (&|| word("aud") || lower.contains("a$"), "AUD"),
        (&|| word("cad") || lower.contains("c$"), "CAD"),
        (&|| word("chf"), "CHF"),
        (&|| word("jpy") || lower.contains('¥'), "JPY"),
        (&|| lower.contains('$'), "$"),
    ];
    markers
        .iter()
        .find(|(present, _)| present())
        .map(|(_, code)| (*code).to_owned())
}

/// The currency the receipt prints most often, if it prints one.
fn most_printed_currency(texts: &[String]) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for code in texts.iter().filter_map(|t| currency_in(t)) {
        match counts.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => counts.push((code, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(code, _)| code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{self, Word};
    use chrono::NaiveDate;
    use ledgerly_core::Currency;

    fn hints(currency: Currency) -> Hints {
        Hints::new(currency, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
    }

    /// Lines from `rows`: each row's cells become words spread across the line; a cell
    /// starting with `#` is printed twice as tall (a heading).
    fn receipt(rows: &[&[&str]]) -> Vec<Line> {
        let mut words = Vec::new();
        let mut top = 0.0;
        for row in rows {
            let tall = row.iter().any(|c| c.starts_with('#'));
            let height = if tall { 40.0 } else { 20.0 };
            for (i, cell) in row.iter().enumerate() {
                let left = i as f32 * 300.0;
                let text = cell.trim_start_matches('#');
                words.push(Word::new(text, 0.95, left, top, left + 250.0, top + height));
            }
            top += height + 8.0;
        }
        layout::lines(words)
    }

    fn fields(rows: &[&[&str]], currency: Currency) -> crate::ReceiptFields {
        let h = hints(currency);
        normalise::normalise(read(&receipt(rows), &h), &h)
    }

    fn total_of(rows: &[&[&str]], currency: Currency) -> String {
        fields(rows, currency).total.unwrap().to_decimal_string()
    }

    #[test]
    fn a_final_total_beats_the_subtotal_and_the_tax_summary() {
        let rows: &[&[&str]] = &[
            &["#KEDAI BUKU MAJU SDN BHD (55501-K)"],
            &["NO 3, JALAN MERU 2"],
            &["TAX INVOICE"],
            &["Date: 03/04/2026", "14:05"],
            &["NOTEBOOK A5", "2", "7.00"],
            &["Sub-total", "7.00"],
            &["Total Sales Incl GST", "7.42"],
            &["Rounding Adj", "-0.02"],
            &["Total After Adj Incl GST", "7.40"],
            &["CASH", "10.00"],
            &["Change Amt", "2.60"],
            &["GST Summary", "Amount(RM)", "Tax(RM)"],
            &["Total", "7.00", "0.42"],
        ];
        let f = fields(rows, Currency::INR);
        assert_eq!(f.total.unwrap().to_decimal_string(), "7.40");
        assert_eq!(f.total.unwrap().currency(), Currency::MYR);
        assert_eq!(f.vendor.as_deref(), Some("KEDAI BUKU MAJU SDN BHD"));
        // Day first, as a ringgit receipt writes it.
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 4, 3));
        assert!(f.confidence.total.unwrap() >= 90);
    }

    #[test]
    fn cash_minus_change_decides_between_totals() {
        let rows: &[&[&str]] = &[
            &["#Corner Cafe"],
            &["TOTAL", "15.00"],
            &["TOTAL", "12.00"],
            &["CASH", "20.00"],
            &["CHANGE", "5.00"],
        ];
        assert_eq!(total_of(rows, Currency::USD), "15.00");
    }

    #[test]
    fn a_garbled_label_is_read_through_ocr_confusions_and_the_payment() {
        // `Tota1` for `Total`; `Total Paid` is what was handed over, not the total.
        let rows: &[&[&str]] = &[
            &["Total (Incl GST)", "RM15.39"],
            &["Rounding", "RM0.01"],
            &["Grand Tota1RM15.40"],
            &["Total Paid", "RM50.00"],
            &["Change", "RM34.60"],
        ];
        assert_eq!(total_of(rows, Currency::MYR), "15.40");
        // No label left readable: the line that equals cash − change (`.40` is forty sen).
        let rows: &[&[&str]] = &[
            &["Total Sales (Inclusive GST)", "RM 13.58"],
            &["Roundang", "RM 13.60"],
            &["CASH", "RM 14.00"],
            &["CHANGE", "RM .40"],
        ];
        assert_eq!(total_of(rows, Currency::MYR), "13.60");
    }

    #[test]
    fn after_a_rounding_line_the_rounded_total_wins() {
        let rows: &[&[&str]] = &[
            &["Total with GST @6%", "52.78"],
            &["ROUNDING", "0.02"],
            &["TOTAL", "52.80"],
            &["CASH", "100.00"],
        ];
        assert_eq!(total_of(rows, Currency::MYR), "52.80");
    }

    #[test]
    fn an_amount_on_the_next_line_and_never_cash_or_change() {
        let rows: &[&[&str]] = &[
            &["WHOLE FOODS MARKET"],
            &["SUBTOTAL", "4.78"],
            &["TAX", "0.39"],
            &["AMOUNT DUE"],
            &["$5.17"],
            &["CASH TENDERED", "20.00"],
            &["CHANGE", "14.83"],
        ];
        let f = fields(rows, Currency::EUR);
        assert_eq!(f.total.unwrap().to_decimal_string(), "5.17");
        assert_eq!(f.total.unwrap().currency(), Currency::USD);
    }

    #[test]
    fn tax_discount_and_count_lines_are_not_totals() {
        let rows: &[&[&str]] = &[
            &["TOTAL QTY", "3"],
            &["TOTAL DISCOUNT", "2.00"],
            &["TOTAL GST", "0.60"],
            &["TOTAL SAVINGS", "4.00"],
            &["TOTAL (GST INCL)", "10.60"],
        ];
        assert_eq!(total_of(rows, Currency::MYR), "10.60");
    }

    #[test]
    fn without_a_label_the_largest_amount_with_low_confidence() {
        let rows: &[&[&str]] = &[
            &["Chai Stall"],
            &["Austin TX 78701"],
            &["Tea", "2.00"],
            &["Samosa", "3.00"],
            &["5.00"],
            &["Cash", "10.00"],
        ];
        let f = fields(rows, Currency::INR);
        assert_eq!(f.total.unwrap().to_decimal_string(), "5.00");
        assert!(f.confidence.total.unwrap() < 50);
    }

    #[test]
    fn a_total_below_the_subtotal_loses() {
        let rows: &[&[&str]] = &[
            &["SUBTOTAL", "40.00"],
            &["NET", "4.00"],
            &["TOTAL", "42.40"],
        ];
        assert_eq!(total_of(rows, Currency::GBP), "42.40");
    }

    #[test]
    fn the_date_order_comes_from_the_other_dates_then_the_currency() {
        // 04/25/2026 only reads month first: so does 03/04/2026 on the same receipt.
        let rows: &[&[&str]] = &[
            &["Date 03/04/2026"],
            &["Valid until 04/25/2027"],
            &["TOTAL", "9.00"],
        ];
        assert_eq!(
            fields(rows, Currency::GBP).date,
            NaiveDate::from_ymd_opt(2026, 3, 4)
        );
        // Nothing else to go by: a dollar receipt is month first, a ringgit one day first.
        let rows: &[&[&str]] = &[&["03/04/26 10:15"], &["TOTAL", "$9.00"]];
        let f = fields(rows, Currency::INR);
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 3, 4));
        assert!(f.confidence.date.unwrap() < 80);
        let rows: &[&[&str]] = &[&["03/04/26 10:15"], &["TOTAL", "RM9.00"]];
        assert_eq!(
            fields(rows, Currency::USD).date,
            NaiveDate::from_ymd_opt(2026, 4, 3)
        );
    }

    #[test]
    fn a_labelled_date_beats_an_earlier_one_and_times_are_not_dates() {
        let rows: &[&[&str]] = &[
            &["Member since 12.01.2019"],
            &["Invoice No: 20261101"],
            &["Time 14:32:05", "Date: 20.11.2026"],
            &["TOTAL", "3,50 €"],
        ];
        let f = fields(rows, Currency::INR);
        assert_eq!(f.date, NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(f.total.unwrap().currency(), Currency::EUR);
    }

    #[test]
    fn no_date_is_no_date() {
        let rows: &[&[&str]] = &[&["#TEA HOUSE"], &["TOTAL", "4.00"]];
        let f = fields(rows, Currency::INR);
        assert_eq!(f.date, None);
        assert_eq!(f.confidence.date, None);
    }

    #[test]
    fn the_vendor_line_carries_a_company_marker() {
        let rows: &[&[&str]] = &[
            &["MR. HOME"],
            &["TAX INVOICE"],
            &["HOME LIVING TRADING"],
            &["Acme Widgets GmbH"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::EUR).vendor.as_deref(),
            Some("Acme Widgets GmbH")
        );
        // SDN BHD alone on a line: the name is the line above.
        let rows: &[&[&str]] = &[
            &["SYARIKAT PERNIAGAAN GIN KEE"],
            &["SDN. BHD. (12345-U)"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("SYARIKAT PERNIAGAAN GIN KEE SDN. BHD")
        );
        // Run together by the OCR, and the Malaysian short form.
        let rows: &[&[&str]] = &[&["TAX INVOICE"], &["KEDAI ROTI (KL)SDNBHD(139386 X)"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("KEDAI ROTI (KL) SDN BHD")
        );
        let rows: &[&[&str]] = &[&["KEDAI.(M)SDNBHD"], &["TOTAL", "4.00"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("KEDAI.(M) SDN BHD")
        );
        // A name over three lines, its bracket opened on one and closed on the next.
        let rows: &[&[&str]] = &[
            &["LIM HARDWARE"],
            &["ENTERPRISE (SERI"],
            &["KEMBANGAN) SDN BHD"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("LIM HARDWARE ENTERPRISE (SERI KEMBANGAN) SDN BHD")
        );
        // The shop above the company it says owns it.
        let rows: &[&[&str]] = &[
            &["PAPER CORNER"],
            &["12 JALAN BESAR"],
            &["Owned By :"],
            &["PAPER CORNER SUPPLY SDN BHD"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("PAPER CORNER")
        );
        // A shop's name printed large above the company, without saying it owns it: the company
        // is who sold.
        let rows: &[&[&str]] = &[
            &["#PAPER CORNER"],
            &["PAPER CORNER SUPPLY SDN BHD"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("PAPER CORNER SUPPLY SDN BHD")
        );
        // A number stamped atop the slip, and the name's first words on the line above.
        let rows: &[&[&str]] = &[
            &["4180512"],
            &["NORTHERN SOUTHERN"],
            &["HARDWARE SDN.BHD"],
            &["CO.REG NO 123456-K"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("NORTHERN SOUTHERN HARDWARE SDN BHD")
        );
        // A bracket run into the legal form, and the registration number after it.
        let rows: &[&[&str]] = &[&["KEDAI KUIH (KLSDN BHD (139386 X)"], &["TOTAL", "4.00"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("KEDAI KUIH (KL SDN BHD")
        );
        let rows: &[&[&str]] = &[&["Kedai Alat Tulis Sdn Bhd82256-V"], &["TOTAL", "4.00"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("Kedai Alat Tulis Sdn Bhd")
        );
        let rows: &[&[&str]] = &[&["88 QUICK MART S/B (519537-X)"], &["LOT 5, JALAN ANGSA"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("88 QUICK MART S/B")
        );
    }

    #[test]
    fn words_the_recogniser_ran_together_are_put_apart() {
        assert_eq!(unglue("KAYUMANISHARDWARESHOP"), "KAYUMANIS HARDWARE SHOP");
        assert_eq!(
            unglue("BSTATIONERY &OFFICESUPPLIES"),
            "B STATIONERY &OFFICE SUPPLIES"
        );
        assert_eq!(
            unglue("88QUICKMART5/B777123-X"),
            "88 QUICK MART S/B777123-X"
        );
        assert_eq!(unglue("Cheras Restaurant"), "Cheras Restaurant");
        assert_eq!(unglue("PETALINGRESTAURANT"), "PETALING RESTAURANT");
        // Short words only at the end of a long run: not inside other words.
        assert_eq!(unglue("SMARTPHONES SHOPPING"), "SMARTPHONES SHOPPING");
        assert_eq!(unglue("WORKSHOP"), "WORKSHOP");
        assert_eq!(unglue("PJ BOOKSTORES"), "PJ BOOKSTORES");
        assert_eq!(unglue("KLANGBOOKSTORES"), "KLANG BOOKSTORES");
        assert_eq!(unglue("PKValue-Mart Sdn Bhd"), "PK Value-Mart Sdn Bhd");
        assert_eq!(unglue("McDonald OK"), "McDonald OK");
        // SDN BHD as faint print is misread.
        assert_eq!(unglue("JAYA) SEN BD"), "JAYA) SDN BHD");
        assert_eq!(unglue("Kedai Emas Sdn Bnd"), "Kedai Emas SDN BHD");
        assert_eq!(unglue("SENTOSA BD"), "SENTOSA BD");
        // A multi-line name whose legal form was misread.
        let rows: &[&[&str]] = &[
            &["LIM KEE TOOLS"],
            &["ENTERPRISE (SERI"],
            &["KEMBANGAN) SEN BD"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("LIM KEE TOOLS ENTERPRISE (SERI KEMBANGAN) SDN BHD")
        );
        // An address that names a shop unit is not the vendor.
        let rows: &[&[&str]] = &[
            &["#Blue Lagoon"],
            &["Shop 4, MG RoadBengaluru"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::INR).vendor.as_deref(),
            Some("Blue Lagoon")
        );
        // A trade name with its registration number after it.
        let rows: &[&[&str]] = &[
            &["Cash Sale"],
            &["LS TAN TRADING (001234567-H)"],
            &["12, Jalan Besar"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("LS TAN TRADING")
        );
        // As the vendor: the whole name, its registration number dropped.
        let rows: &[&[&str]] = &[&["88QUICKMARTS/B777123-X"], &["LOT 5, JALAN ANGSA"]];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("88 QUICK MART S/B")
        );
        let rows: &[&[&str]] = &[
            &["KAYUMANISHARDWARESHOP"],
            &["NO.7 JALAN BESAR"],
            &["TOTAL", "4.00"],
        ];
        assert_eq!(
            fields(rows, Currency::MYR).vendor.as_deref(),
            Some("KAYUMANIS HARDWARE SHOP")
        );
    }

    #[test]
    fn without_a_marker_the_most_prominent_top_line_that_is_a_name() {
        let rows: &[&[&str]] = &[
            &["Tel: 03-5555 1234"],
            &["TAX INVOICE"],
            &["#Blue Lagoon"],
            &["12 Harbour Road"],
            &["TOTAL", "4.00"],
        ];
        let f = fields(rows, Currency::GBP);
        assert_eq!(f.vendor.as_deref(), Some("Blue Lagoon"));
        assert!(f.confidence.vendor.unwrap() <= 60);

        // With the name unread, an item and its price is no vendor.
        let rows: &[&[&str]] = &[
            &["Bananas", "8.02"],
            &["Oat Milk 2.10"],
            &["TOTAL", "10.12"],
        ];
        assert_eq!(fields(rows, Currency::USD).vendor, None);
    }

    #[test]
    fn currency_codes_and_symbols() {
        assert_eq!(currency_in("TOTAL RM 12.00").as_deref(), Some("MYR"));
        assert_eq!(currency_in("Total (RM): 12.00").as_deref(), Some("MYR"));
        assert_eq!(currency_in("RM12.00").as_deref(), Some("MYR"));
        assert_eq!(currency_in("Grand Total Rs. 450").as_deref(), Some("INR"));
        assert_eq!(currency_in("S$ 4.50").as_deref(), Some("SGD"));
        assert_eq!(currency_in("£7.99").as_deref(), Some("GBP"));
        assert_eq!(currency_in("FORM 12.00"), None);
        // Nothing printed: the owner's currency, never a guessed dollar.
        let rows: &[&[&str]] = &[&["TOTAL", "12.00"]];
        assert_eq!(
            fields(rows, Currency::INR).total.unwrap().currency(),
            Currency::INR
        );
    }

    #[test]
    fn times_percentages_and_ids_are_not_amounts() {
        assert_eq!(amounts("14:32"), Vec::<String>::new());
        assert_eq!(amounts("CGST 2.5% 20.00"), vec!["20.00"]);
        assert_eq!(amounts("Order 12345678"), Vec::<String>::new());
        assert_eq!(amounts("Total Rs. 450/-"), vec!["Rs. 450/-"]);
        assert_eq!(amounts("TOTAL: RM12.50"), vec!["RM12.50"]);
        assert_eq!(amounts("INV123 4.50"), vec!["4.50"]);
        assert_eq!(amounts("CHANGE RM .40"), vec!["RM .40"]);
        assert_eq!(value("RM .40", &hints(Currency::MYR)), Some(40));
    }
}
