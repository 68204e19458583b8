//! Money: an exact amount in integer minor units of one currency. Parsing accepts what receipts
//! and people write; formatting writes it back with the currency's symbol. No floats anywhere.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::currency::{Currency, UnknownCurrency};

/// An exact amount: `minor` units (paise, cents…) of `currency`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "MoneyJson", try_from = "MoneyJson")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// Which character separates the fraction, where the text alone cannot tell ("1.234" in KWD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalSeparator {
    /// `1,234.50` — English, Indian, Chinese, Japanese usage.
    Point,
    /// `1.234,50` — most of continental Europe and Latin America.
    Comma,
}

/// What the caller knows that the text may not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The currency when the text has no symbol or code, and the preferred reading of a shared
    /// symbol (`$` for CAD, `kr` for SEK).
    pub currency: Option<Currency>,
    /// The decimal separator, where the text is ambiguous.
    pub decimal: Option<DecimalSeparator>,
}

impl ParseOptions {
    pub fn with_currency(currency: Currency) -> Self {
        Self {
            currency: Some(currency),
            decimal: None,
        }
    }

    pub fn decimal(mut self, decimal: DecimalSeparator) -> Self {
        self.decimal = Some(decimal);
        self
    }
}

/// Why a text is not an amount of money. Every message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is empty")]
    Empty,
    #[error("`{0}` has no digits; write an amount such as 1234.50")]
    NoDigits(String),
    #[error("unexpected `{found}` in `{input}`; write an amount such as 1,234.50 or ₹99")]
    UnexpectedCharacter { input: String, found: char },
    #[error(
        "`{0}` is not a currency symbol or ISO 4217 code this parser knows (e.g. ₹, Rs., $, €, INR)"
    )]
    UnknownSymbol(String),
    #[error(
        "`{symbol}` is used by several currencies ({candidates}); give the currency code instead"
    )]
    AmbiguousSymbol { symbol: String, candidates: String },
    #[error("`{0}` names two different currencies")]
    ConflictingCurrencies(String),
    #[error("`{0}` says nothing about its currency; add a symbol or code such as ₹ or INR")]
    MissingCurrency(String),
    #[error("`{0}` has more than one sign")]
    MultipleSigns(String),
    #[error(
        "in `{0}` the separator could be a decimal point or a thousands separator; give a decimal-separator hint"
    )]
    AmbiguousSeparator(String),
    #[error("`{0}` groups its digits oddly; write thousands as 1,234,567 or 12,34,567")]
    InvalidGrouping(String),
    #[error("`{input}` has more decimal places than {currency} allows ({max})")]
    TooManyDecimals {
        input: String,
        currency: Currency,
        max: u32,
    },
    #[error("the amount is too large")]
    Overflow,
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error(transparent)]
    UnknownCurrency(#[from] UnknownCurrency),
}

impl Money {
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub const fn minor(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// The amount as a plain decimal, as the API sends it: `1234.50`, `-3.00`, `1500` (JPY).
    pub fn to_decimal_string(&self) -> String {
        let exp = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exp);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = exp as usize
        )
    }

    /// Parses the API's plain decimal form: an optional `-`, digits, and at most as many decimal
    /// places as the currency has (`1234.5`, `1234.50`, `-3`). Nothing else.
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (negative, body) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (int, frac) = match body.split_once('.') {
            Some((int, frac)) => (int, frac),
            None => (body, ""),
        };
        if let Some(bad) = int
            .chars()
            .chain(frac.chars())
            .find(|c| !c.is_ascii_digit())
        {
            return Err(MoneyError::UnexpectedCharacter {
                input: trimmed.to_owned(),
                found: bad,
            });
        }
        if int.is_empty() {
            return Err(MoneyError::NoDigits(trimmed.to_owned()));
        }
        to_minor(trimmed, negative, int, frac, currency)
    }

    /// Parses what receipts and people write: `1,234.50`, `₹ 99`, `Rs. 1,05,000.00`, `12,50 €`,
    /// `$3.5`, `-₹99`, `(12.00)`, `USD 10`.
    ///
    /// A symbol or code in the text wins over `options.currency`, which only fills in a missing
    /// currency and settles shared symbols. A lone separator followed by exactly three digits is
    /// a thousands separator for currencies with fewer than three decimals (`1,234` and `1.234`
    /// both mean one thousand two hundred and thirty-four rupees) and needs `options.decimal`
    /// otherwise.
    pub fn parse(text: &str, options: ParseOptions) -> Result<Money, MoneyError> {
        let input = text.trim();
        if input.is_empty() {
            return Err(MoneyError::Empty);
        }
        let first_digit = input.find(|c: char| c.is_ascii_digit());
        let Some(first_digit) = first_digit else {
            return Err(MoneyError::NoDigits(input.to_owned()));
        };
        let last_digit = input
            .rfind(|c: char| c.is_ascii_digit())
            .unwrap_or(first_digit);
        let number = &input[first_digit..=last_digit];
        let prefix = &input[..first_digit];
        let suffix = &input[last_digit + 1..];

        let mut signs = 0;
        let (prefix_marker, leading_fraction) = strip_signs(prefix, &mut signs, input)?;
        // A trailing separator ("Rs 5.") ends the sentence, not the number.
        let (suffix_marker, _) = strip_signs(suffix, &mut signs, input)?;
        match (prefix.contains('('), suffix.contains(')')) {
            (true, true) => signs += 1,
            (false, false) => {}
            (open, _) => {
                return Err(MoneyError::UnexpectedCharacter {
                    input: input.to_owned(),
                    found: if open { '(' } else { ')' },
                });
            }
        }
        if signs > 1 {
            return Err(MoneyError::MultipleSigns(input.to_owned()));
        }

        let currency = match (
            resolve_marker(&prefix_marker, options)?,
            resolve_marker(&suffix_marker, options)?,
        ) {
            (Some(a), Some(b)) if a != b => {
                return Err(MoneyError::ConflictingCurrencies(input.to_owned()));
            }
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => options
                .currency
                .ok_or_else(|| MoneyError::MissingCurrency(input.to_owned()))?,
        };

        // `$.50` and `Rs..50`: the separator before the first digit starts a fraction.
        let number = match leading_fraction {
            Some(sep) => format!("0{sep}{number}"),
            None => number.to_owned(),
        };
        parse_number(input, &number, currency, options.decimal, signs == 1)
    }

    /// The amount with its symbol, grouped the way its users write it: `₹1,05,000.00`,
    /// `$1,234.50`, `-€3.00`, `CHF 12.50`, `¥1,500`.
    pub fn format(&self) -> String {
        let exp = self.currency.exponent();
        let abs = self.minor.unsigned_abs();
        let scale = 10u64.pow(exp);
        let int = abs / scale;
        let grouped = group_digits(&int.to_string(), self.currency == Currency::INR);
        let number = if exp == 0 {
            grouped
        } else {
            format!("{grouped}.{:0width$}", abs % scale, width = exp as usize)
        };
        let symbol = self.currency.symbol();
        let space = if symbol.chars().any(|c| c.is_alphabetic()) {
            " "
        } else {
            ""
        };
        let sign = if self.minor < 0 { "-" } else { "" };
        format!("{sign}{symbol}{space}{number}")
    }
}

/// Counts and removes sign characters and parentheses from a prefix or suffix; returns the
/// currency marker left over and a separator that belongs to the number (`$.50`, `Rs..50`).
fn strip_signs(
    part: &str,
    signs: &mut u32,
    input: &str,
) -> Result<(String, Option<char>), MoneyError> {
    let mut marker = String::new();
    for c in part.chars() {
        match c {
            '-' | '\u{2212}' => *signs += 1,
            '+' | '(' | ')' => {}
            c if c.is_whitespace() => marker.push(' '),
            c if c.is_control() => {
                return Err(MoneyError::UnexpectedCharacter {
                    input: input.to_owned(),
                    found: c,
                });
            }
            c => marker.push(c),
        }
    }
    let mut marker = marker.trim().to_owned();
    let mut separator = None;
    if let Some(last) = marker.chars().last().filter(|c| *c == '.' || *c == ',') {
        let without = marker[..marker.len() - 1].trim_end().to_owned();
        if without.is_empty() || (!known_marker(&marker) && known_marker(&without)) {
            separator = Some(last);
            marker = without;
        }
    }
    Ok((marker, separator))
}

fn known_marker(marker: &str) -> bool {
    well_known_symbol(marker).is_some()
        || Currency::from_code(marker).is_ok()
        || !Currency::all_with_iso_symbol(marker).is_empty()
}

/// Symbols people write for the common currencies, lower-cased.
fn well_known_symbol(marker: &str) -> Option<Currency> {
    let code = match marker.to_lowercase().as_str() {
        "₹" | "rs" | "rs." | "re" | "re." | "₨" => "INR",
        "us$" | "u$s" => "USD",
        "€" => "EUR",
        "£" => "GBP",
        "ca$" | "c$" | "can$" => "CAD",
        "a$" | "au$" => "AUD",
        "nz$" => "NZD",
        "hk$" => "HKD",
        "s$" => "SGD",
        "r$" => "BRL",
        "mx$" => "MXN",
        "元" | "rmb" => "CNY",
        "円" => "JPY",
        "₩" => "KRW",
        "₽" => "RUB",
        "₺" => "TRY",
        "₫" => "VND",
        "฿" => "THB",
        "₱" => "PHP",
        "₦" => "NGN",
        "₪" => "ILS",
        "zł" => "PLN",
        "kč" => "CZK",
        "ft" => "HUF",
        "chf" | "fr." | "sfr." => "CHF",
        "rp" => "IDR",
        "rm" => "MYR",
        _ => return None,
    };
    Currency::from_code(code).ok()
}

/// The currency a marker (`₹`, `Rs.`, `$`, `EUR`) names, if any.
fn resolve_marker(marker: &str, options: ParseOptions) -> Result<Option<Currency>, MoneyError> {
    if marker.is_empty() {
        return Ok(None);
    }
    if let Some(preferred) = options.currency.filter(|c| c.has_symbol(marker)) {
        return Ok(Some(preferred));
    }
    if let Some(currency) = well_known_symbol(marker) {
        return Ok(Some(currency));
    }
    if marker.len() == 3
        && marker.chars().all(|c| c.is_ascii_alphabetic())
        && let Ok(currency) = Currency::from_code(marker)
    {
        return Ok(Some(currency));
    }
    // A shared symbol: `$` most often means USD, `¥` JPY; others need the code.
    match marker {
        "$" => return Ok(Some(Currency::USD)),
        "¥" => return Ok(Some(Currency::JPY)),
        _ => {}
    }
    let candidates = Currency::all_with_iso_symbol(marker);
    match candidates.as_slice() {
        [] => Err(MoneyError::UnknownSymbol(marker.to_owned())),
        [only] => Ok(Some(*only)),
        many => Err(MoneyError::AmbiguousSymbol {
            symbol: marker.to_owned(),
            candidates: many.iter().map(|c| c.code()).collect::<Vec<_>>().join(", "),
        }),
    }
}

fn is_group_char(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\'' | '\u{2019}')
}

fn parse_number(
    input: &str,
    number: &str,
    currency: Currency,
    hint: Option<DecimalSeparator>,
    negative: bool,
) -> Result<Money, MoneyError> {
    if let Some(bad) = number
        .chars()
        .find(|c| !(c.is_ascii_digit() || *c == '.' || *c == ',' || is_group_char(*c)))
    {
        return Err(MoneyError::UnexpectedCharacter {
            input: input.to_owned(),
            found: bad,
        });
    }
    let exp = currency.exponent();
    let dots = number.matches('.').count();
    let commas = number.matches(',').count();
    let decimal: Option<char> = match (dots, commas) {
        (0, 0) => None,
        (d, c) if d > 0 && c > 0 => {
            let last = if number.rfind('.') > number.rfind(',') {
                '.'
            } else {
                ','
            };
            if number.matches(last).count() > 1 {
                return Err(MoneyError::InvalidGrouping(input.to_owned()));
            }
            Some(last)
        }
        (d, c) => {
            let sep = if d > 0 { '.' } else { ',' };
            if d + c > 1 {
                None
            } else {
                let after = number.rsplit(sep).next().unwrap_or("");
                let digits_after = after.chars().filter(char::is_ascii_digit).count();
                match hint {
                    Some(DecimalSeparator::Point) => (sep == '.').then_some('.'),
                    Some(DecimalSeparator::Comma) => (sep == ',').then_some(','),
                    None if digits_after == 3 && exp >= 3 => {
                        return Err(MoneyError::AmbiguousSeparator(input.to_owned()));
                    }
                    None if digits_after == 3 => None,
                    None => Some(sep),
                }
            }
        }
    };
    let (int_part, frac_part) = match decimal {
        Some(sep) => {
            let (int, frac) = number.rsplit_once(sep).unwrap_or((number, ""));
            (int, frac)
        }
        None => (number, ""),
    };
    if frac_part.chars().any(|c| !c.is_ascii_digit()) {
        return Err(MoneyError::InvalidGrouping(input.to_owned()));
    }
    let int_digits = ungroup(input, int_part)?;
    to_minor(input, negative, &int_digits, frac_part, currency)
}

/// Checks the grouping of the integer part and returns its digits. Accepts 1,234,567 (groups of
/// three), 12,34,567 (Indian lakh/crore grouping) and 1 234 567 / 1'234'567.
fn ungroup(input: &str, int_part: &str) -> Result<String, MoneyError> {
    let groups: Vec<&str> = int_part
        .split(|c: char| c == '.' || c == ',' || is_group_char(c))
        .collect();
    if groups.len() == 1 {
        return Ok(int_part.to_owned());
    }
    let separators: Vec<char> = int_part.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mixed = separators.windows(2).any(|w| w[0] != w[1]);
    let first = groups[0].len();
    let last = groups[groups.len() - 1].len();
    let middle = &groups[1..groups.len() - 1];
    let western = (1..=3).contains(&first) && last == 3 && middle.iter().all(|g| g.len() == 3);
    let indian = (1..=2).contains(&first) && last == 3 && middle.iter().all(|g| g.len() == 2);
    if mixed || !(western || indian) {
        return Err(MoneyError::InvalidGrouping(input.to_owned()));
    }
    Ok(groups.concat())
}

fn to_minor(
    input: &str,
    negative: bool,
    int: &str,
    frac: &str,
    currency: Currency,
) -> Result<Money, MoneyError> {
    let exp = currency.exponent() as usize;
    let frac = if frac.len() > exp {
        let (kept, dropped) = frac.split_at(exp);
        if dropped.chars().any(|c| c != '0') {
            return Err(MoneyError::TooManyDecimals {
                input: input.to_owned(),
                currency,
                max: currency.exponent(),
            });
        }
        kept
    } else {
        frac
    };
    let digits = format!("{int}{frac:0<exp$}");
    let significant = digits.trim_start_matches('0');
    let magnitude: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| MoneyError::Overflow)?
    };
    let signed = if negative { -magnitude } else { magnitude };
    let minor = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
    Ok(Money::from_minor(minor, currency))
}

/// `1234567` → `1,234,567`, or `12,34,567` with Indian grouping.
fn group_digits(digits: &str, indian: bool) -> String {
    let n = digits.len();
    if n <= 3 {
        return digits.to_owned();
    }
    let (head, last3) = digits.split_at(n - 3);
    let step = if indian { 2 } else { 3 };
    let mut groups: Vec<&str> = Vec::new();
    let mut end = head.len();
    while end > 0 {
        let start = end.saturating_sub(step);
        groups.push(&head[start..end]);
        end = start;
    }
    groups.reverse();
    groups.push(last3);
    groups.join(",")
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

impl PartialOrd for Money {
    /// Amounts in different currencies are not comparable.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (self.currency == other.currency).then(|| self.minor.cmp(&other.minor))
    }
}

/// The JSON form: `{"amount": "1234.50", "currency": "INR"}`.
#[derive(Serialize, Deserialize)]
struct MoneyJson {
    amount: String,
    currency: Currency,
}

impl From<Money> for MoneyJson {
    fn from(money: Money) -> Self {
        MoneyJson {
            amount: money.to_decimal_string(),
            currency: money.currency,
        }
    }
}

impl TryFrom<MoneyJson> for Money {
    type Error = MoneyError;

    fn try_from(json: MoneyJson) -> Result<Self, Self::Error> {
        Money::from_decimal_str(&json.amount, json.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::INR)
    }

    fn parse(text: &str) -> Result<Money, MoneyError> {
        Money::parse(text, ParseOptions::default())
    }

    #[test]
    fn parses_what_receipts_and_people_write() {
        let inr_opts = ParseOptions::with_currency(Currency::INR);
        assert_eq!(Money::parse("1,234.50", inr_opts).unwrap(), inr(123_450));
        assert_eq!(parse("₹ 99").unwrap(), inr(9_900));
        assert_eq!(parse("Rs. 1,05,000.00").unwrap(), inr(10_500_000));
        assert_eq!(
            parse("12,50 €").unwrap(),
            Money::from_minor(1_250, Currency::EUR)
        );
        assert_eq!(
            parse("$3.5").unwrap(),
            Money::from_minor(350, Currency::USD)
        );
        assert_eq!(parse("INR 250").unwrap(), inr(25_000));
        assert_eq!(parse("Rs.5").unwrap(), inr(500));
        assert_eq!(parse("₹1,00,000").unwrap(), inr(10_000_000));
        assert_eq!(
            parse("1.234.567,89 EUR").unwrap(),
            Money::from_minor(123_456_789, Currency::EUR)
        );
        assert_eq!(
            parse("1 234,50 €").unwrap(),
            Money::from_minor(123_450, Currency::EUR)
        );
        assert_eq!(
            parse("CHF 1'234.50").unwrap(),
            Money::from_minor(123_450, Currency::CHF)
        );
        assert_eq!(
            parse("¥1,500").unwrap(),
            Money::from_minor(1_500, Currency::JPY)
        );
        assert_eq!(parse("$.50").unwrap(), Money::from_minor(50, Currency::USD));
    }

    #[test]
    fn signs_are_read_before_or_after_the_symbol_and_as_parentheses() {
        assert_eq!(parse("-₹99").unwrap(), inr(-9_900));
        assert_eq!(parse("₹ -99").unwrap(), inr(-9_900));
        assert_eq!(parse("(₹12.00)").unwrap(), inr(-1_200));
        assert!(matches!(parse("--₹5"), Err(MoneyError::MultipleSigns(_))));
        assert!(matches!(
            parse("(₹5"),
            Err(MoneyError::UnexpectedCharacter { .. })
        ));
    }

    #[test]
    fn a_lone_three_digit_group_is_thousands_unless_the_currency_has_three_decimals() {
        let opts = ParseOptions::with_currency(Currency::INR);
        assert_eq!(Money::parse("1,234", opts).unwrap(), inr(123_400));
        assert_eq!(Money::parse("1.234", opts).unwrap(), inr(123_400));
        let kwd = ParseOptions::with_currency(Currency::KWD);
        assert!(matches!(
            Money::parse("1.234", kwd),
            Err(MoneyError::AmbiguousSeparator(_))
        ));
        assert_eq!(
            Money::parse("1.234", kwd.decimal(DecimalSeparator::Point)).unwrap(),
            Money::from_minor(1_234, Currency::KWD)
        );
        assert_eq!(
            Money::parse("1.234", kwd.decimal(DecimalSeparator::Comma)).unwrap(),
            Money::from_minor(1_234_000, Currency::KWD)
        );
    }

    #[test]
    fn the_decimal_hint_settles_a_lone_separator() {
        let opts = ParseOptions::with_currency(Currency::EUR).decimal(DecimalSeparator::Comma);
        assert_eq!(
            Money::parse("12,5", opts).unwrap(),
            Money::from_minor(1_250, Currency::EUR)
        );
        assert!(matches!(
            Money::parse("1,2345", opts),
            Err(MoneyError::TooManyDecimals { .. })
        ));
    }

    #[test]
    fn a_shared_symbol_follows_the_preferred_currency() {
        let cad = ParseOptions::with_currency(Currency::CAD);
        assert_eq!(
            Money::parse("$5", cad).unwrap(),
            Money::from_minor(500, Currency::CAD)
        );
        let sek = ParseOptions::with_currency(Currency::SEK);
        assert_eq!(
            Money::parse("kr 10", sek).unwrap(),
            Money::from_minor(1_000, Currency::SEK)
        );
        assert!(matches!(
            parse("kr 10"),
            Err(MoneyError::AmbiguousSymbol { .. })
        ));
        // A symbol in the text beats the default.
        assert_eq!(
            Money::parse("€5", ParseOptions::with_currency(Currency::INR)).unwrap(),
            Money::from_minor(500, Currency::EUR)
        );
    }

    #[test]
    fn bad_text_gets_an_error_that_says_what_was_wrong() {
        assert_eq!(parse(""), Err(MoneyError::Empty));
        assert!(matches!(parse("abc"), Err(MoneyError::NoDigits(_))));
        assert!(matches!(
            parse("12.50"),
            Err(MoneyError::MissingCurrency(_))
        ));
        assert!(matches!(
            parse("₹1,2,3"),
            Err(MoneyError::InvalidGrouping(_))
        ));
        assert!(matches!(
            parse("₹1.2.3,4.5"),
            Err(MoneyError::InvalidGrouping(_))
        ));
        assert!(matches!(
            parse("₹12.345.6"),
            Err(MoneyError::InvalidGrouping(_))
        ));
        assert!(matches!(
            parse("$1.005"),
            Ok(m) if m == Money::from_minor(100_500, Currency::USD)
        ));
        assert!(matches!(
            parse("$1.5055"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            parse("¥1.5"),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            parse("€5 USD"),
            Err(MoneyError::ConflictingCurrencies(_))
        ));
        assert!(matches!(parse("Q$ 5"), Err(MoneyError::UnknownSymbol(_))));
        assert!(matches!(
            parse("₹99999999999999999999"),
            Err(MoneyError::Overflow)
        ));
        assert!(matches!(
            parse("₹12x50"),
            Err(MoneyError::UnexpectedCharacter { found: 'x', .. })
        ));
        let message = parse("12.50").unwrap_err().to_string();
        assert!(message.contains("INR"), "{message}");
    }

    #[test]
    fn formats_with_the_symbol_and_the_currencys_grouping() {
        assert_eq!(inr(10_500_000).format(), "₹1,05,000.00");
        assert_eq!(inr(-9_900).format(), "-₹99.00");
        assert_eq!(
            Money::from_minor(123_450, Currency::USD).format(),
            "$1,234.50"
        );
        assert_eq!(Money::from_minor(1_500, Currency::JPY).format(), "¥1,500");
        assert_eq!(
            Money::from_minor(1_250, Currency::CHF).format(),
            "CHF 12.50"
        );
        assert_eq!(
            Money::from_minor(1_234_567, Currency::KWD).to_decimal_string(),
            "1234.567"
        );
        assert_eq!(inr(-5).to_decimal_string(), "-0.05");
    }

    #[test]
    fn the_decimal_form_is_strict() {
        assert_eq!(
            Money::from_decimal_str("1234.5", Currency::INR).unwrap(),
            inr(123_450)
        );
        assert_eq!(
            Money::from_decimal_str("-3", Currency::INR).unwrap(),
            inr(-300)
        );
        assert!(Money::from_decimal_str("1,234.50", Currency::INR).is_err());
        assert!(Money::from_decimal_str("12.345", Currency::INR).is_err());
        assert!(Money::from_decimal_str(".5", Currency::INR).is_err());
        assert!(Money::from_decimal_str("1e3", Currency::INR).is_err());
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let usd = Money::from_minor(1, Currency::USD);
        assert!(matches!(
            inr(1).checked_add(usd),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert_eq!(inr(i64::MAX).checked_add(inr(1)), Err(MoneyError::Overflow));
        assert_eq!(inr(5).checked_sub(inr(7)).unwrap(), inr(-2));
        assert_eq!(inr(1).partial_cmp(&usd), None);
    }

    #[test]
    fn json_is_a_decimal_string_with_its_currency() {
        let json = serde_json_like(&inr(123_450));
        assert_eq!(json, r#"{"amount":"1234.50","currency":"INR"}"#);
    }

    // A tiny serializer, to keep serde_json out of the domain crate's dependencies.
    fn serde_json_like(money: &Money) -> String {
        let json: MoneyJson = (*money).into();
        format!(
            r#"{{"amount":"{}","currency":"{}"}}"#,
            json.amount, json.currency
        )
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec![
            Currency::INR,
            Currency::USD,
            Currency::EUR,
            Currency::GBP,
            Currency::JPY,
            Currency::KWD,
            Currency::CHF,
            Currency::SEK,
            Currency::CAD,
            Currency::CNY,
        ])
    }

    proptest! {
        #[test]
        fn format_then_parse_gives_back_the_same_money(minor in any::<i64>(), currency in any_currency()) {
            let money = Money::from_minor(minor, currency);
            let options = ParseOptions::with_currency(currency).decimal(DecimalSeparator::Point);
            prop_assert_eq!(Money::parse(&money.format(), options), Ok(money));
        }

        #[test]
        fn format_then_parse_needs_no_hint_below_three_decimals(minor in -10_000_000_000i64..10_000_000_000, currency in any_currency()) {
            prop_assume!(currency.exponent() < 3);
            let money = Money::from_minor(minor, currency);
            let options = ParseOptions::with_currency(currency);
            prop_assert_eq!(Money::parse(&money.format(), options), Ok(money));
        }

        #[test]
        fn the_decimal_string_round_trips(minor in any::<i64>(), currency in any_currency()) {
            let money = Money::from_minor(minor, currency);
            prop_assert_eq!(Money::from_decimal_str(&money.to_decimal_string(), currency), Ok(money));
            prop_assert_eq!(Money::parse(&money.to_decimal_string(), ParseOptions::with_currency(currency).decimal(DecimalSeparator::Point)), Ok(money));
        }

        #[test]
        fn european_writing_round_trips(whole in 0u64..100_000_000, cents in 0u64..100) {
            // 1.234.567,89 € — the mirror image of the English form.
            let english = group_digits(&whole.to_string(), false);
            let text = format!("{},{:02} €", english.replace(',', "."), cents);
            let expected = Money::from_minor((whole * 100 + cents) as i64, Currency::EUR);
            prop_assert_eq!(Money::parse(&text, ParseOptions::default()), Ok(expected));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = Money::parse(&text, ParseOptions::with_currency(Currency::INR));
        }
    }
}
