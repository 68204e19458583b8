//! Calendar months and the user's IANA time zone. An expense is dated by the calendar day on its
//! receipt; an instant (an upload, "now") becomes a day, and so a month, in the user's zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar month of a particular year — `2026-03` — so December 2025 and December 2026 are
/// never the same thing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a month; write it as YYYY-MM, e.g. 2026-03")]
    InvalidMonth(String),
    #[error(
        "`{0}` is not an IANA time zone; use a name such as Asia/Kolkata, Europe/Berlin or UTC"
    )]
    UnknownTimeZone(String),
    #[error("year {0} is outside the supported range 1970–9998")]
    YearOutOfRange(i32),
}

impl Month {
    pub fn new(year: i32, month: u32) -> Result<Self, TimeError> {
        if !(1970..=9998).contains(&year) {
            return Err(TimeError::YearOutOfRange(year));
        }
        if !(1..=12).contains(&month) {
            return Err(TimeError::InvalidMonth(format!("{year}-{month:02}")));
        }
        Ok(Self { year, month })
    }

    /// The month a calendar day falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The month an instant falls in, in `zone`.
    pub fn containing(instant: DateTime<Utc>, zone: UserTimeZone) -> Self {
        Self::of(zone.local_date(instant))
    }

    pub const fn year(&self) -> i32 {
        self.year
    }

    /// 1 for January.
    pub const fn number(&self) -> u32 {
        self.month
    }

    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(&self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn next(&self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(&self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        Self::of(date) == *self
    }

    /// The twelve months of `year`.
    pub fn all_of(year: i32) -> Result<Vec<Month>, TimeError> {
        (1..=12).map(|m| Month::new(year, m)).collect()
    }

    /// The instants `[start, end)` this month spans in `zone`: from the first moment of its first
    /// day to the first moment of the next month's. Where midnight does not exist (a DST jump at
    /// midnight), the day starts at the first instant that does.
    pub fn utc_bounds(&self, zone: UserTimeZone) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            zone.start_of_day(self.first_day()),
            zone.start_of_day(self.next().first_day()),
        )
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Month {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || TimeError::InvalidMonth(s.to_owned());
        let (year, month) = s.trim().split_once('-').ok_or_else(invalid)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        Month::new(year, month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A user's IANA time zone (`Asia/Kolkata`), which decides what "today" and "this month" are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserTimeZone(Tz);

impl UserTimeZone {
    pub const UTC: UserTimeZone = UserTimeZone(Tz::UTC);
    /// The seed's users were in India.
    pub const KOLKATA: UserTimeZone = UserTimeZone(Tz::Asia__Kolkata);

    pub fn parse(name: &str) -> Result<Self, TimeError> {
        name.trim()
            .parse::<Tz>()
            .map(Self)
            .map_err(|_| TimeError::UnknownTimeZone(name.trim().to_owned()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The calendar day `instant` falls on in this zone.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.0).date_naive()
    }

    /// Today in this zone.
    pub fn today(&self) -> NaiveDate {
        self.local_date(Utc::now())
    }

    /// The first instant of `date` in this zone.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        // A gap swallows at most a few hours; step through it a quarter of an hour at a time.
        for step in 0..=4 * 24 {
            let candidate = midnight + Duration::minutes(15 * step);
            match self.0.from_local_datetime(&candidate) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.with_timezone(&Utc);
                }
                LocalResult::None => continue,
            }
        }
        midnight.and_utc()
    }
}

impl Default for UserTimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

impl fmt::Display for UserTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for UserTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for UserTimeZone {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for UserTimeZone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for UserTimeZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// The number (1–12) of an English month name or its abbreviation, in any case: `Mar`,
/// `March`, `Sept`. Receipts (OCR) and bank exports (import) write months so.
pub fn month_named(token: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let token = token.to_lowercase();
    if token == "sept" {
        return Some(9);
    }
    NAMES
        .iter()
        .position(|name| token == *name || (token.len() == 3 && name.starts_with(&token)))
        .and_then(|index| u32::try_from(index + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }

    #[test]
    fn an_instant_falls_in_the_month_of_the_users_zone() {
        let instant = Utc.with_ymd_and_hms(2026, 3, 31, 20, 0, 0).unwrap();
        let kolkata = UserTimeZone::parse("Asia/Kolkata").unwrap();
        assert_eq!(Month::containing(instant, kolkata), month("2026-04"));
        assert_eq!(
            Month::containing(instant, UserTimeZone::UTC),
            month("2026-03")
        );
        assert_eq!(
            Month::containing(instant, UserTimeZone::parse("America/Los_Angeles").unwrap()),
            month("2026-03")
        );
    }

    #[test]
    fn months_of_different_years_differ() {
        assert_ne!(month("2025-12"), month("2026-12"));
        assert_eq!(month("2025-12").next(), month("2026-01"));
        assert_eq!(month("2026-01").previous(), month("2025-12"));
        assert_eq!(
            month("2024-02").last_day(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
    }

    #[test]
    fn month_bounds_follow_the_zone() {
        let kolkata = UserTimeZone::KOLKATA;
        let (start, end) = month("2026-04").utc_bounds(kolkata);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 3, 31, 18, 30, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 4, 30, 18, 30, 0).unwrap());
    }

    #[test]
    fn a_day_that_starts_after_a_dst_gap_starts_when_the_clock_resumes() {
        // Santiago moved clocks from 00:00 to 01:00 on 2022-09-11.
        let santiago = UserTimeZone::parse("America/Santiago").unwrap();
        let date = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = santiago.start_of_day(date);
        assert_eq!(santiago.local_date(start), date);
        assert_eq!(
            santiago.local_date(start - Duration::seconds(1)),
            date.pred_opt().unwrap()
        );
    }

    #[test]
    fn bad_months_and_zones_say_how_to_write_them() {
        for bad in ["2026-13", "2026-1", "26-01", "March", "2026-00", "0000-01"] {
            let err = bad.parse::<Month>().unwrap_err().to_string();
            assert!(
                err.contains("YYYY-MM") || err.contains("range"),
                "{bad}: {err}"
            );
        }
        let err = UserTimeZone::parse("Mars/Olympus").unwrap_err().to_string();
        assert!(err.contains("Asia/Kolkata"), "{err}");
    }
}
