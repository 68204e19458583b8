//! ISO 4217 currencies that money can be kept in, with their minor-unit exponent and symbol.

use std::fmt;
use std::str::FromStr;

use iso_currency::IntoEnumIterator;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A currency with a defined minor unit (INR, USD, JPY, KWD…). Codes without one — precious
/// metals, testing codes, SDRs — are refused, because an amount in them has no exact minor unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

/// A code that is not an ISO 4217 currency money can be kept in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 4217 currency code (e.g. INR, USD, EUR)")]
pub struct UnknownCurrency(pub String);

/// Currencies order by their code, so they can key ordered maps.
impl Ord for Currency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(other.code())
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Currency {
    pub const INR: Currency = Currency(iso_currency::Currency::INR);
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    pub const CNY: Currency = Currency(iso_currency::Currency::CNY);
    pub const KWD: Currency = Currency(iso_currency::Currency::KWD);
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    pub const SEK: Currency = Currency(iso_currency::Currency::SEK);
    pub const CAD: Currency = Currency(iso_currency::Currency::CAD);
    pub const AUD: Currency = Currency(iso_currency::Currency::AUD);
    pub const MYR: Currency = Currency(iso_currency::Currency::MYR);
    pub const SGD: Currency = Currency(iso_currency::Currency::SGD);

    /// The currency for a three-letter code, in any case.
    pub fn from_code(code: &str) -> Result<Self, UnknownCurrency> {
        let upper = code.trim().to_ascii_uppercase();
        iso_currency::Currency::from_code(&upper)
            .filter(|c| c.exponent().is_some())
            .map(Currency)
            .ok_or_else(|| UnknownCurrency(code.trim().to_owned()))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point: 2 for INR, 0 for JPY, 3 for KWD.
    pub fn exponent(self) -> u32 {
        // Only currencies with an exponent can be constructed.
        u32::from(self.0.exponent().unwrap_or(0))
    }

    /// The symbol written before an amount: `₹`, `$`, `€`; the code where there is no symbol.
    pub fn symbol(self) -> String {
        match self.0 {
            // ISO's `₣` is not what anyone writes for the Swiss franc.
            iso_currency::Currency::CHF => "CHF".to_owned(),
            other => {
                let symbol = other.symbol().symbol;
                if symbol.is_empty() || symbol == "¤" {
                    other.code().to_owned()
                } else {
                    symbol
                }
            }
        }
    }

    /// Whether `marker` (a symbol as written on a receipt) is this currency's own symbol.
    pub(crate) fn has_symbol(self, marker: &str) -> bool {
        let symbol = self.symbol();
        symbol.eq_ignore_ascii_case(marker) || self.0.symbol().symbol.eq_ignore_ascii_case(marker)
    }

    /// The codes of every currency the app accepts, sorted: for suggestions in a form.
    pub fn codes() -> Vec<&'static str> {
        let mut codes: Vec<&'static str> = iso_currency::Currency::iter()
            .filter(|c| c.exponent().is_some() && c.is_superseded().is_none())
            .map(|c| c.code())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// Currencies whose ISO symbol is `marker`.
    pub(crate) fn all_with_iso_symbol(marker: &str) -> Vec<Currency> {
        iso_currency::Currency::iter()
            .filter(|c| c.exponent().is_some() && c.is_superseded().is_none())
            .filter(|c| c.symbol().symbol == marker)
            .map(Currency)
            .collect()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_in_any_case_and_know_their_exponent() {
        assert_eq!(Currency::from_code("inr").unwrap(), Currency::INR);
        assert_eq!(Currency::from_code(" JPY ").unwrap().exponent(), 0);
        assert_eq!(Currency::KWD.exponent(), 3);
        assert_eq!(Currency::INR.symbol(), "₹");
    }

    #[test]
    fn codes_without_a_minor_unit_are_refused() {
        assert!(Currency::from_code("XAU").is_err());
        assert!(Currency::from_code("ABC").is_err());
        let err = Currency::from_code("RUPEES").unwrap_err();
        assert!(err.to_string().contains("ISO 4217"));
    }

    #[test]
    fn a_symbol_shared_by_several_currencies_lists_them_all() {
        let kr: Vec<&str> = Currency::all_with_iso_symbol("kr")
            .iter()
            .map(|c| c.code())
            .collect();
        assert!(
            kr.contains(&"SEK") && kr.contains(&"NOK") && kr.contains(&"DKK"),
            "{kr:?}"
        );
        assert_eq!(Currency::all_with_iso_symbol("₹"), vec![Currency::INR]);
    }
}
