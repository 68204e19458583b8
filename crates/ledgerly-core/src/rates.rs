//! Exchange rates, exact: a rate is a positive decimal kept as a fraction, so "1 USD = 83.2150
//! INR" converts with integer arithmetic and one rounding at the end, never through a float.
//!
//! Rates come from two places: the ones a user enters (`base` → `quote` on a day), and the
//! European Central Bank's reference rates (how much of each currency one euro buys on a
//! working day), from which any pair is crossed. [`RateBook`] holds both for one user and
//! answers "this currency into the account's, on this day": the user's own latest rate on or
//! before the day (either way round) first, else the ECB's latest within a fortnight.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Duration, NaiveDate};

use crate::currency::Currency;
use crate::money::Money;

/// How long an ECB rate stands in for the days after it (weekends, holidays, a missed fetch).
pub const ECB_RATE_LASTS_DAYS: i64 = 14;

/// The most digits a rate may have after the decimal point.
pub const MAX_RATE_DECIMALS: u32 = 10;

/// How many units of one currency a unit of another buys: `numerator / denominator`, both
/// positive and in lowest terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    numerator: i128,
    denominator: i128,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("`{0}` is not a rate: write a positive decimal number such as 83.215")]
    NotANumber(String),
    #[error("a rate must be greater than zero (got {0})")]
    NotPositive(String),
    #[error("`{0}` has too many digits: at most 10 after the point and 18 in all")]
    TooPrecise(String),
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl Rate {
    /// A rate from a fraction; `None` unless both parts are positive.
    pub fn from_fraction(numerator: i128, denominator: i128) -> Option<Rate> {
        if numerator <= 0 || denominator <= 0 {
            return None;
        }
        let g = gcd(numerator, denominator);
        Some(Rate {
            numerator: numerator / g,
            denominator: denominator / g,
        })
    }

    /// Reads a decimal such as `83.215`, `0.0062` or `1`.
    pub fn parse(text: &str) -> Result<Rate, RateError> {
        let trimmed = text.trim();
        let not_a_number = || RateError::NotANumber(trimmed.to_owned());
        let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
        {
            if trimmed.starts_with('-') {
                return Err(RateError::NotPositive(trimmed.to_owned()));
            }
            return Err(not_a_number());
        }
        let fraction = fraction.trim_end_matches('0');
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0');
        if fraction.len() > MAX_RATE_DECIMALS as usize || significant.len() > 18 {
            return Err(RateError::TooPrecise(trimmed.to_owned()));
        }
        let numerator: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().map_err(|_| not_a_number())?
        };
        let denominator = 10_i128.pow(fraction.len() as u32);
        Rate::from_fraction(numerator, denominator)
            .ok_or_else(|| RateError::NotPositive(trimmed.to_owned()))
    }

    /// The other way round: a rate of `base` → `quote` as `quote` → `base`.
    pub fn inverse(self) -> Rate {
        Rate {
            numerator: self.denominator,
            denominator: self.numerator,
        }
    }

    /// `quote` per `base` from two rates against a common currency (the euro): one euro buys
    /// `per_base` of `base` and `per_quote` of `quote`.
    pub fn cross(per_base: Rate, per_quote: Rate) -> Option<Rate> {
        Rate::from_fraction(
            per_quote.numerator.checked_mul(per_base.denominator)?,
            per_quote.denominator.checked_mul(per_base.numerator)?,
        )
    }

    /// `amount` in `to` at this rate, rounded half away from zero to `to`'s minor unit; `None`
    /// only on overflow.
    pub fn convert(self, amount: Money, to: Currency) -> Option<Money> {
        let from_exponent = amount.currency().exponent();
        let to_exponent = to.exponent();
        let mut numerator = i128::from(amount.minor()).checked_mul(self.numerator)?;
        let mut denominator = self.denominator;
        if to_exponent >= from_exponent {
            numerator = numerator.checked_mul(10_i128.checked_pow(to_exponent - from_exponent)?)?;
        } else {
            denominator =
                denominator.checked_mul(10_i128.checked_pow(from_exponent - to_exponent)?)?;
        }
        let quotient = numerator / denominator;
        let remainder = numerator % denominator;
        let rounded = if remainder.abs() * 2 >= denominator {
            quotient + numerator.signum()
        } else {
            quotient
        };
        Some(Money::from_minor(i64::try_from(rounded).ok()?, to))
    }

    /// The rate as a decimal with up to `MAX_RATE_DECIMALS` digits after the point (rounded
    /// there when the fraction does not end sooner): `83.215`.
    pub fn to_decimal_string(self) -> String {
        let scale = 10_i128.pow(MAX_RATE_DECIMALS);
        let scaled = (self.numerator * scale + self.denominator / 2) / self.denominator;
        let whole = scaled / scale;
        let fraction = scaled % scale;
        if fraction == 0 {
            return whole.to_string();
        }
        let digits = format!("{fraction:0width$}", width = MAX_RATE_DECIMALS as usize);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal_string())
    }
}

/// A rate a user entered: one `base` buys `rate` of `quote` from `day` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRate {
    pub base: Currency,
    pub quote: Currency,
    pub day: NaiveDate,
    pub rate: Rate,
}

/// An ECB reference rate: one euro buys `per_euro` of `currency` on `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcbRate {
    pub currency: Currency,
    pub day: NaiveDate,
    pub per_euro: Rate,
}

/// Expenses in one currency that no rate converts: left out of the totals, and said so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotConverted {
    pub currency: Currency,
    pub count: u64,
    /// What they add up to in their own currency.
    pub amount: Money,
}

/// Where a conversion's rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSource {
    /// One the user entered.
    User,
    /// The ECB's reference rates.
    Ecb,
}

/// The rates that convert one user's amounts into `home`, the account's currency.
#[derive(Debug, Clone)]
pub struct RateBook {
    home: Currency,
    /// The user's rates into `home` (inverted when entered the other way), by currency and day.
    user: BTreeMap<(Currency, NaiveDate), Rate>,
    /// ECB rates per euro by currency and day.
    ecb: BTreeMap<(Currency, NaiveDate), Rate>,
}

impl RateBook {
    /// A book for `home` from the user's rates (only those between `home` and another currency
    /// count) and the ECB's (empty when the user does not use them).
    pub fn new(home: Currency, user: &[UserRate], ecb: &[EcbRate]) -> RateBook {
        let mut own = BTreeMap::new();
        for rate in user {
            if rate.quote == home && rate.base != home {
                own.insert((rate.base, rate.day), rate.rate);
            } else if rate.base == home && rate.quote != home {
                // Entered the other way: kept unless the same day has one written this way.
                own.entry((rate.quote, rate.day))
                    .or_insert(rate.rate.inverse());
            }
        }
        let ecb = ecb
            .iter()
            .map(|r| ((r.currency, r.day), r.per_euro))
            .collect();
        RateBook {
            home,
            user: own,
            ecb,
        }
    }

    pub fn home(&self) -> Currency {
        self.home
    }

    /// The rate that turns `currency` into the home currency on `day`, and where it came from.
    pub fn rate(&self, currency: Currency, day: NaiveDate) -> Option<(Rate, RateSource)> {
        if currency == self.home {
            return Some((Rate::from_fraction(1, 1)?, RateSource::User));
        }
        let own = self
            .user
            .range((currency, NaiveDate::MIN)..=(currency, day))
            .next_back()
            .map(|(_, rate)| *rate);
        if let Some(rate) = own {
            return Some((rate, RateSource::User));
        }
        let euro = Currency::from_code("EUR").ok()?;
        let oldest = day - Duration::days(ECB_RATE_LASTS_DAYS);
        // The newest day up to `day` on which the ECB gave both currencies (the euro is 1).
        let per_euro = |c: Currency, on: NaiveDate| -> Option<Rate> {
            if c == euro {
                Rate::from_fraction(1, 1)
            } else {
                self.ecb.get(&(c, on)).copied()
            }
        };
        let days = self
            .ecb
            .range((currency, oldest)..=(currency, day))
            .map(|((_, on), _)| *on)
            .rev()
            .chain((currency == euro).then_some(()).into_iter().flat_map(|()| {
                self.ecb
                    .range((self.home, oldest)..=(self.home, day))
                    .map(|((_, on), _)| *on)
                    .rev()
            }));
        for on in days {
            if let (Some(base), Some(quote)) = (per_euro(currency, on), per_euro(self.home, on)) {
                return Some((Rate::cross(base, quote)?, RateSource::Ecb));
            }
        }
        None
    }

    /// `amount` in the home currency at its rate on `day`; `None` when there is no rate.
    pub fn convert(&self, amount: Money, day: NaiveDate) -> Option<Money> {
        if amount.currency() == self.home {
            return Some(amount);
        }
        let (rate, _) = self.rate(amount.currency(), day)?;
        rate.convert(amount, self.home)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn r(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    #[test]
    fn rates_read_as_exact_decimals_and_bad_ones_say_why() {
        assert_eq!(r("83.2150").to_decimal_string(), "83.215");
        assert_eq!(r("1").to_decimal_string(), "1");
        assert_eq!(r("0.0062").to_decimal_string(), "0.0062");
        assert_eq!(r(" 1.50 ").to_decimal_string(), "1.5");
        assert!(matches!(Rate::parse("abc"), Err(RateError::NotANumber(_))));
        assert!(matches!(Rate::parse(""), Err(RateError::NotANumber(_))));
        assert!(matches!(Rate::parse("1,5"), Err(RateError::NotANumber(_))));
        assert!(matches!(Rate::parse("0"), Err(RateError::NotPositive(_))));
        assert!(matches!(
            Rate::parse("0.000"),
            Err(RateError::NotPositive(_))
        ));
        assert!(matches!(Rate::parse("-2"), Err(RateError::NotPositive(_))));
        assert!(matches!(
            Rate::parse("1.00000000001"),
            Err(RateError::TooPrecise(_))
        ));
        assert!(
            Rate::parse("-2")
                .unwrap_err()
                .to_string()
                .contains("greater than zero")
        );
    }

    #[test]
    fn conversion_rounds_once_to_the_target_minor_unit() {
        // 12.34 USD at 83.215 = 1026.8731 INR → 1026.87.
        let usd = Money::from_minor(1234, c("USD"));
        assert_eq!(r("83.215").convert(usd, c("INR")).unwrap().minor(), 102_687);
        // Half away from zero: 0.05 USD at 0.5 = 0.025 EUR → 0.03.
        let cents = Money::from_minor(5, c("USD"));
        assert_eq!(r("0.5").convert(cents, c("EUR")).unwrap().minor(), 3);
        // Exponents differ: 1,000 JPY at 0.0062 USD = 6.20 USD; 10 USD at 151.5 = 1,515 JPY.
        let yen = Money::from_minor(1000, c("JPY"));
        assert_eq!(r("0.0062").convert(yen, c("USD")).unwrap().minor(), 620);
        let ten = Money::from_minor(1000, c("USD"));
        assert_eq!(r("151.5").convert(ten, c("JPY")).unwrap().minor(), 1515);
        // Three decimals: 1 KWD at 3.25 USD = 3.25 USD.
        let dinar = Money::from_minor(1000, c("KWD"));
        assert_eq!(r("3.25").convert(dinar, c("USD")).unwrap().minor(), 325);
        // No overflow panic.
        let huge = Money::from_minor(i64::MAX, c("USD"));
        assert_eq!(r("1000").convert(huge, c("INR")), None);
    }

    #[test]
    fn euro_rates_cross_into_any_pair() {
        // 1 EUR = 1.05 USD = 90 INR, so 1 USD = 85.714… INR.
        let usd_to_inr = Rate::cross(r("1.05"), r("90")).unwrap();
        assert_eq!(usd_to_inr.to_decimal_string(), "85.7142857143");
        let hundred = Money::from_minor(10_000, c("USD"));
        assert_eq!(
            usd_to_inr.convert(hundred, c("INR")).unwrap().minor(),
            857_143
        );
        assert_eq!(r("4").inverse().to_decimal_string(), "0.25");
    }

    #[test]
    fn the_book_prefers_the_users_latest_rate_then_the_ecbs_within_a_fortnight() {
        let inr = c("INR");
        let usd = c("USD");
        let eur = c("EUR");
        let user = [
            UserRate {
                base: usd,
                quote: inr,
                day: d("2026-03-01"),
                rate: r("80"),
            },
            UserRate {
                base: usd,
                quote: inr,
                day: d("2026-04-01"),
                rate: r("82"),
            },
            // Entered the other way round: 1 INR = 0.0125 GBP → 1 GBP = 80 INR… as written.
            UserRate {
                base: inr,
                quote: c("GBP"),
                day: d("2026-01-01"),
                rate: r("0.0125"),
            },
            // Between two other currencies: not used for an INR account.
            UserRate {
                base: eur,
                quote: usd,
                day: d("2026-01-01"),
                rate: r("1.1"),
            },
        ];
        let ecb = [
            EcbRate {
                currency: inr,
                day: d("2026-02-02"),
                per_euro: r("90"),
            },
            EcbRate {
                currency: c("CHF"),
                day: d("2026-02-02"),
                per_euro: r("0.9"),
            },
        ];
        let book = RateBook::new(inr, &user, &ecb);
        let dollars = Money::from_minor(100, usd);
        assert_eq!(
            book.convert(dollars, d("2026-02-15")),
            None,
            "before any USD rate"
        );
        assert_eq!(
            book.convert(dollars, d("2026-03-15")).unwrap().minor(),
            8_000
        );
        assert_eq!(
            book.convert(dollars, d("2026-04-01")).unwrap().minor(),
            8_200
        );
        let pound = Money::from_minor(100, c("GBP"));
        assert_eq!(book.convert(pound, d("2026-06-01")).unwrap().minor(), 8_000);
        // The ECB: euros directly, francs crossed, both only within a fortnight of the rate.
        let euro = Money::from_minor(100, eur);
        assert_eq!(book.convert(euro, d("2026-02-02")).unwrap().minor(), 9_000);
        assert_eq!(book.convert(euro, d("2026-02-16")).unwrap().minor(), 9_000);
        assert_eq!(book.convert(euro, d("2026-02-17")), None);
        assert_eq!(book.convert(euro, d("2026-02-01")), None);
        let franc = Money::from_minor(90, c("CHF"));
        assert_eq!(book.convert(franc, d("2026-02-05")).unwrap().minor(), 9_000);
        assert_eq!(
            book.rate(c("CHF"), d("2026-02-05")).unwrap().1,
            RateSource::Ecb
        );
        // The home currency is itself.
        let rupees = Money::from_minor(123, inr);
        assert_eq!(book.convert(rupees, d("2000-01-01")), Some(rupees));
        // A euro account reads the ECB's rate directly.
        let book = RateBook::new(eur, &[], &ecb);
        let rupees = Money::from_minor(9_000, inr);
        assert_eq!(book.convert(rupees, d("2026-02-03")).unwrap().minor(), 100);
    }
}
