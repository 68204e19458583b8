//! The schedule math of recurring expenses — rent on the 1st, a subscription every year: which
//! days a schedule falls on, which occurrence a day is, and the schedule in words.
//!
//! Occurrences are numbered from 0 and each one is computed from the start, never from the one
//! before it, so "the 31st" falls on Feb 28 and still on Mar 31. Nothing here walks a schedule
//! from its beginning to find a day: a daily schedule may be thousands of occurrences long.

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::ids::{CategoryId, RecurringId, UserId};
use crate::money::Money;
use crate::text::{CategoryName, Note, Vendor};

/// How often: the unit of `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Unit {
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// The unit's name as stored and sent: `day`, `week`, `month` or `year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }

    /// A unit from its name in any case, singular or plural: `day`, `Weeks`, `MONTH`, `years`.
    pub fn parse(text: &str) -> Result<Unit, ScheduleError> {
        match text.trim().to_lowercase().as_str() {
            "day" | "days" => Ok(Unit::Day),
            "week" | "weeks" => Ok(Unit::Week),
            "month" | "months" => Ok(Unit::Month),
            "year" | "years" => Ok(Unit::Year),
            _ => Err(ScheduleError::UnknownUnit(text.trim().to_owned())),
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most `every` may be, per unit: 3650 days, 520 weeks, 120 months, 10 years.
pub fn max_every(unit: Unit) -> u32 {
    match unit {
        Unit::Day => 3650,
        Unit::Week => 520,
        Unit::Month => 120,
        Unit::Year => 10,
    }
}

/// Why a schedule or a unit cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `every` is 0 or more than [`max_every`] allows for the unit.
    #[error("`every` must be between 1 and {max} for {unit}s (got {got})")]
    EveryOutOfRange { unit: Unit, max: u32, got: u32 },
    /// The schedule would end before it starts.
    #[error("the end ({ends_on}) is before the start ({starts_on})")]
    EndBeforeStart {
        starts_on: NaiveDate,
        ends_on: NaiveDate,
    },
    /// A day of the month was given for a daily or weekly schedule.
    #[error("a day of the month is only for monthly and yearly schedules")]
    DayOfMonthNotAllowed(Unit),
    /// The day of the month is not 1–31.
    #[error("the day of the month must be between 1 and 31 (got {0})")]
    DayOfMonthOutOfRange(u32),
    /// The text names no unit.
    #[error("unknown unit `{0}`: use day, week, month or year")]
    UnknownUnit(String),
}

/// When a recurring expense falls: every `every` `unit`s from `starts_on`, until `ends_on`
/// (included) if given. Monthly and yearly schedules fall on `day_of_month` (default: the start's
/// day); in a month too short for it, on the month's last day — so "the 31st" is Jan 31, Feb 28
/// (29 in leap years), Mar 31: each occurrence is computed from the start, never from the previous
/// one, so a short month does not pull later ones earlier. Yearly schedules keep the start's month
/// (Feb 29 falls on Feb 28 in other years). Weekly ones keep the start's weekday.
///
/// [`Schedule::new`] checks the fields; a schedule built by hand with `every` 0 falls once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// What `every` counts: days, weeks, months or years.
    pub unit: Unit,
    /// How many units from one occurrence to the next: 1 to [`max_every`].
    pub every: u32,
    /// The first day the schedule may fall on.
    pub starts_on: NaiveDate,
    /// The last day it may fall on, if it ends.
    pub ends_on: Option<NaiveDate>,
    /// For monthly and yearly schedules, the day (1–31) to fall on instead of the start's.
    pub day_of_month: Option<u32>,
}

impl Schedule {
    /// A schedule, if `every` is 1 to [`max_every`] for the unit, the end is not before the start,
    /// and a day of the month, if any, is 1–31 and for a monthly or yearly schedule.
    pub fn new(
        unit: Unit,
        every: u32,
        starts_on: NaiveDate,
        ends_on: Option<NaiveDate>,
        day_of_month: Option<u32>,
    ) -> Result<Schedule, ScheduleError> {
        let max = max_every(unit);
        if every == 0 || every > max {
            return Err(ScheduleError::EveryOutOfRange {
                unit,
                max,
                got: every,
            });
        }
        if let Some(ends_on) = ends_on
            && ends_on < starts_on
        {
            return Err(ScheduleError::EndBeforeStart { starts_on, ends_on });
        }
        if let Some(day) = day_of_month {
            if !matches!(unit, Unit::Month | Unit::Year) {
                return Err(ScheduleError::DayOfMonthNotAllowed(unit));
            }
            if !(1..=31).contains(&day) {
                return Err(ScheduleError::DayOfMonthOutOfRange(day));
            }
        }
        Ok(Schedule {
            unit,
            every,
            starts_on,
            ends_on,
            day_of_month,
        })
    }

    /// The raw date of occurrence `index` (0-based), ignoring `ends_on` and whether it is before
    /// `starts_on`; `None` only when the date is past the calendar's end. Daily: `index * every`
    /// days after the start; weekly: `index * every` weeks after; monthly: `index * every` months
    /// after the start's month, on the day of the month or that month's last day if it is
    /// shorter; yearly: the start's month `index * every` years on, the same way.
    pub fn raw(&self, index: u32) -> Option<NaiveDate> {
        let steps = index.checked_mul(self.every)?;
        match self.unit {
            Unit::Day => self.starts_on.checked_add_days(Days::new(u64::from(steps))),
            Unit::Week => {
                let days = u64::from(steps).checked_mul(7)?;
                self.starts_on.checked_add_days(Days::new(days))
            }
            Unit::Month => {
                let month = month_number(self.starts_on).checked_add(i64::from(steps))?;
                let year = i32::try_from(month.div_euclid(12)).ok()?;
                let month = u32::try_from(month.rem_euclid(12)).ok()? + 1;
                self.on_the_day(year, month)
            }
            Unit::Year => {
                let year = self
                    .starts_on
                    .year()
                    .checked_add(i32::try_from(steps).ok()?)?;
                self.on_the_day(year, self.starts_on.month())
            }
        }
    }

    /// The first index that counts: 0, or 1 when occurrence 0 falls before the start (a monthly
    /// schedule starting on the 20th that falls on the 5th first falls on the 5th of the next
    /// month).
    pub fn first_index(&self) -> u32 {
        match self.raw(0) {
            Some(first) if first < self.starts_on => 1,
            _ => 0,
        }
    }

    /// Occurrence `index` if it counts: from [`Schedule::first_index`] on and not after `ends_on`.
    pub fn date(&self, index: u32) -> Option<NaiveDate> {
        let first = self.first_index();
        if index < first || (self.every == 0 && index > first) {
            return None;
        }
        let date = self.raw(index)?;
        match self.ends_on {
            Some(ends_on) if date > ends_on => None,
            _ => Some(date),
        }
    }

    /// The index of the first occurrence that counts on or after `day`; `None` when there is none
    /// before the end. Worked out by arithmetic, not by walking the schedule.
    pub fn index_on_or_after(&self, day: NaiveDate) -> Option<u32> {
        let first = self.first_index();
        if self.every == 0 {
            let only = self.date(first)?;
            return (only >= day).then_some(first);
        }
        let mut index = self.estimate_index(day)?.max(first);
        // The estimate is exact for days and weeks, and at most one step short for months and
        // years (it lands in `day`'s month or year, perhaps before `day` itself).
        for _ in 0..3 {
            if self.raw(index)? >= day {
                break;
            }
            index = index.checked_add(1)?;
        }
        if self.raw(index)? < day {
            return None;
        }
        for _ in 0..3 {
            if index > first && self.raw(index - 1)? >= day {
                index -= 1;
            } else {
                break;
            }
        }
        self.date(index).map(|_| index)
    }

    /// `Some(index)` when `day` is exactly an occurrence that counts.
    pub fn index_of(&self, day: NaiveDate) -> Option<u32> {
        let index = self.index_on_or_after(day)?;
        (self.date(index)? == day).then_some(index)
    }

    /// The occurrences that count from `index` on, in order, as `(index, date)`; the iterator ends
    /// after `ends_on` or at the calendar's end.
    // The name the callers use; it reads "the occurrences from this index", not a constructor.
    #[allow(clippy::wrong_self_convention)]
    pub fn from_index(&self, index: u32) -> impl Iterator<Item = (u32, NaiveDate)> + '_ {
        let start = index.max(self.first_index());
        (start..=u32::MAX).map_while(move |index| self.date(index).map(|date| (index, date)))
    }

    /// The same schedule re-anchored at `day`: `starts_on` becomes `day` and everything else is
    /// kept (for a user changing a schedule "from a date on"). A monthly or yearly schedule
    /// without a day of the month then falls on `day`'s day of the month.
    pub fn starting(&self, day: NaiveDate) -> Schedule {
        Schedule {
            starts_on: day,
            ..*self
        }
    }

    /// The schedule in words, for the dashboard: "every day", "every 2 weeks on Friday", "every
    /// month on the 31st (or the last day)", "every year on 29 February (or 28 February)".
    pub fn describe(&self) -> String {
        let every = self.every;
        match self.unit {
            Unit::Day if every == 1 => "every day".to_owned(),
            Unit::Day => format!("every {every} days"),
            Unit::Week => {
                let weekday = weekday_name(self.starts_on.weekday());
                if every == 1 {
                    format!("every week on {weekday}")
                } else {
                    format!("every {every} weeks on {weekday}")
                }
            }
            Unit::Month => {
                let day = self.day_of_month.unwrap_or(self.starts_on.day());
                let period = if every == 1 {
                    "every month".to_owned()
                } else {
                    format!("every {every} months")
                };
                let or_last = if day >= 29 { " (or the last day)" } else { "" };
                format!("{period} on the {}{or_last}", ordinal(day))
            }
            Unit::Year => {
                let month = self.starts_on.month();
                // Any leap year gives each month its longest length.
                let longest = days_in_month(2000, month);
                let day = self
                    .day_of_month
                    .unwrap_or(self.starts_on.day())
                    .min(longest);
                let name = month_name(month);
                let period = if every == 1 {
                    "every year".to_owned()
                } else {
                    format!("every {every} years")
                };
                let or_28 = if month == 2 && day == 29 {
                    " (or 28 February)"
                } else {
                    ""
                };
                format!("{period} on {day} {name}{or_28}")
            }
        }
    }

    /// The schedule's day of `month` of `year`: its day of the month, or the month's last day
    /// when the month is shorter.
    fn on_the_day(&self, year: i32, month: u32) -> Option<NaiveDate> {
        let wanted = self.day_of_month.unwrap_or(self.starts_on.day());
        NaiveDate::from_ymd_opt(year, month, wanted.min(days_in_month(year, month)))
    }

    /// The smallest index whose period (day, week, month or year) reaches `day`'s; `None` when
    /// it does not fit in a `u32`. Assumes `every` is not 0.
    fn estimate_index(&self, day: NaiveDate) -> Option<u32> {
        let every = u64::from(self.every);
        let (distance, step) = match self.unit {
            Unit::Day => (day.signed_duration_since(self.starts_on).num_days(), every),
            Unit::Week => (
                day.signed_duration_since(self.starts_on).num_days(),
                every.checked_mul(7)?,
            ),
            Unit::Month => (month_number(day) - month_number(self.starts_on), every),
            Unit::Year => (
                i64::from(day.year()) - i64::from(self.starts_on.year()),
                every,
            ),
        };
        if step == 0 {
            return None;
        }
        // A day before the start is reached by index 0.
        let steps = u64::try_from(distance).map_or(0, |distance| distance.div_ceil(step));
        u32::try_from(steps).ok()
    }
}

/// Months since January of year 0: one number that orders (and subtracts) months.
fn month_number(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

/// How many days `month` (1–12) of `year` has; 31 for a month out of range.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `12th`, `13th`, … `21st`, `22nd`, `23rd`, … `31st`.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    usize::try_from(month)
        .ok()
        .and_then(|month| month.checked_sub(1))
        .and_then(|index| NAMES.get(index))
        .copied()
        .unwrap_or("?")
}

/// A recurring expense: what each occurrence records, and when they fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringRule {
    pub id: RecurringId,
    pub user_id: UserId,
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub vendor: Vendor,
    pub amount: Money,
    pub note: Option<Note>,
    pub schedule: Schedule,
    /// Paused rules make nothing; resuming passes over what fell due meanwhile.
    pub paused: bool,
    /// The occurrence it makes next (its index in the schedule)…
    pub next_index: u32,
    /// …and that occurrence's date: `None` once the schedule has ended.
    pub next_on: Option<NaiveDate>,
    /// Occurrences from `next_on` on that it will pass over, in order.
    pub skips: Vec<NaiveDate>,
    /// How many of the expenses it made still exist.
    pub made: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RecurringRule {
    /// The next `count` occurrences it will make, skipped ones left out.
    pub fn upcoming(&self, count: usize) -> Vec<NaiveDate> {
        if self.next_on.is_none() {
            return Vec::new();
        }
        self.schedule
            .from_index(self.next_index)
            .map(|(_, day)| day)
            .filter(|day| !self.skips.contains(day))
            .take(count)
            .collect()
    }

    /// The last occurrence already made or passed over, if any: a change of schedule must start
    /// after it.
    pub fn last_passed(&self) -> Option<NaiveDate> {
        let first = self.schedule.first_index();
        (self.next_index > first)
            .then(|| self.schedule.raw(self.next_index - 1))
            .flatten()
    }
}

/// The fields of a new recurring expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecurring {
    pub category_id: CategoryId,
    pub vendor: Vendor,
    pub amount: Money,
    pub note: Option<Note>,
    pub schedule: Schedule,
}

/// A change to a recurring expense; `None` leaves a field as it is, `note: Some(None)` clears
/// the note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecurringChanges {
    pub category_id: Option<CategoryId>,
    pub vendor: Option<Vendor>,
    pub amount: Option<Money>,
    pub note: Option<Option<Note>>,
    /// The whole new schedule. One that differs only in its end keeps the occurrences' count;
    /// any other change starts the schedule again from its `starts_on`, which must be after the
    /// last occurrence already made.
    pub schedule: Option<Schedule>,
    /// The expenses it already made dated from this day on get the new category, vendor, amount
    /// and note too; without it only the ones it makes from now on do.
    pub from: Option<NaiveDate>,
}

/// One coming occurrence of a recurring expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub rule_id: RecurringId,
    pub date: NaiveDate,
    pub vendor: Vendor,
    pub amount: Money,
    pub category: CategoryName,
    /// The user chose to skip it.
    pub skipped: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn schedule(
        unit: Unit,
        every: u32,
        starts_on: NaiveDate,
        ends_on: Option<NaiveDate>,
        day_of_month: Option<u32>,
    ) -> Schedule {
        Schedule::new(unit, every, starts_on, ends_on, day_of_month).unwrap()
    }

    fn dates(schedule: &Schedule, count: usize) -> Vec<NaiveDate> {
        schedule
            .from_index(0)
            .take(count)
            .map(|(_, date)| date)
            .collect()
    }

    #[test]
    fn a_daily_schedule_every_three_days_steps_three_days_at_a_time() {
        let s = schedule(Unit::Day, 3, d(2026, 1, 30), None, None);
        assert_eq!(
            dates(&s, 4),
            [d(2026, 1, 30), d(2026, 2, 2), d(2026, 2, 5), d(2026, 2, 8)]
        );
        assert_eq!(s.first_index(), 0);
        assert_eq!(s.raw(100), Some(d(2026, 11, 26)));
    }

    #[test]
    fn a_fortnightly_schedule_keeps_the_starts_weekday() {
        let s = schedule(Unit::Week, 2, d(2026, 3, 6), None, None);
        let fallen = dates(&s, 4);
        assert_eq!(
            fallen,
            [d(2026, 3, 6), d(2026, 3, 20), d(2026, 4, 3), d(2026, 4, 17)]
        );
        assert!(fallen.iter().all(|date| date.weekday() == Weekday::Fri));
    }

    #[test]
    fn the_31st_falls_on_the_last_day_of_short_months_and_returns_to_the_31st() {
        let leap = schedule(Unit::Month, 1, d(2024, 1, 31), None, None);
        assert_eq!(
            dates(&leap, 6),
            [
                d(2024, 1, 31),
                d(2024, 2, 29),
                d(2024, 3, 31),
                d(2024, 4, 30),
                d(2024, 5, 31),
                d(2024, 6, 30),
            ]
        );
        let common = schedule(Unit::Month, 1, d(2023, 1, 31), None, None);
        assert_eq!(
            dates(&common, 3),
            [d(2023, 1, 31), d(2023, 2, 28), d(2023, 3, 31)]
        );
        let chosen = schedule(Unit::Month, 1, d(2023, 11, 15), None, Some(31));
        assert_eq!(chosen.first_index(), 0);
        assert_eq!(
            dates(&chosen, 5),
            [
                d(2023, 11, 30),
                d(2023, 12, 31),
                d(2024, 1, 31),
                d(2024, 2, 29),
                d(2024, 3, 31),
            ]
        );
    }

    #[test]
    fn a_day_of_the_month_before_the_starts_day_first_falls_the_next_month() {
        let s = schedule(Unit::Month, 1, d(2026, 1, 20), None, Some(5));
        assert_eq!(s.raw(0), Some(d(2026, 1, 5)));
        assert_eq!(s.first_index(), 1);
        assert_eq!(s.date(0), None);
        assert_eq!(s.date(1), Some(d(2026, 2, 5)));
        assert_eq!(
            s.from_index(0).take(3).collect::<Vec<_>>(),
            [(1, d(2026, 2, 5)), (2, d(2026, 3, 5)), (3, d(2026, 4, 5))]
        );
        assert_eq!(s.index_on_or_after(d(2026, 1, 1)), Some(1));

        let later = schedule(Unit::Month, 1, d(2026, 1, 20), None, Some(25));
        assert_eq!(later.first_index(), 0);
        assert_eq!(later.date(0), Some(d(2026, 1, 25)));
    }

    #[test]
    fn a_yearly_schedule_from_february_29_falls_on_february_28_in_other_years() {
        let s = schedule(Unit::Year, 1, d(2024, 2, 29), None, None);
        assert_eq!(
            dates(&s, 5),
            [
                d(2024, 2, 29),
                d(2025, 2, 28),
                d(2026, 2, 28),
                d(2027, 2, 28),
                d(2028, 2, 29),
            ]
        );
        let every_four = schedule(Unit::Year, 4, d(2024, 2, 29), None, None);
        assert_eq!(every_four.raw(1), Some(d(2028, 2, 29)));
        assert_eq!(every_four.raw(19), Some(d(2100, 2, 28)));
        assert_eq!(every_four.raw(94), Some(d(2400, 2, 29)));
    }

    #[test]
    fn a_yearly_day_of_the_month_stays_in_the_starts_month() {
        let s = schedule(Unit::Year, 1, d(2025, 4, 10), None, Some(31));
        assert_eq!(
            dates(&s, 3),
            [d(2025, 4, 30), d(2026, 4, 30), d(2027, 4, 30)]
        );
        let before = schedule(Unit::Year, 1, d(2024, 3, 20), None, Some(15));
        assert_eq!(before.first_index(), 1);
        assert_eq!(dates(&before, 2), [d(2025, 3, 15), d(2026, 3, 15)]);
    }

    #[test]
    fn the_end_date_counts_and_the_next_occurrence_does_not() {
        let s = schedule(Unit::Month, 1, d(2026, 1, 15), Some(d(2026, 4, 15)), None);
        assert_eq!(s.date(3), Some(d(2026, 4, 15)));
        assert_eq!(s.date(4), None);
        assert_eq!(s.raw(4), Some(d(2026, 5, 15)));
        assert_eq!(s.from_index(0).count(), 4);
        assert_eq!(s.index_on_or_after(d(2026, 4, 15)), Some(3));
        assert_eq!(s.index_on_or_after(d(2026, 4, 16)), None);

        let a_day_short = schedule(Unit::Month, 1, d(2026, 1, 15), Some(d(2026, 4, 14)), None);
        assert_eq!(a_day_short.from_index(0).count(), 3);
        assert_eq!(a_day_short.index_of(d(2026, 4, 15)), None);

        let single = schedule(Unit::Day, 1, d(2026, 1, 15), Some(d(2026, 1, 15)), None);
        assert_eq!(
            single.from_index(0).collect::<Vec<_>>(),
            [(0, d(2026, 1, 15))]
        );
    }

    #[test]
    fn from_index_starts_at_the_index_asked_for_but_never_before_the_first() {
        let s = schedule(Unit::Day, 2, d(2026, 1, 1), Some(d(2026, 1, 9)), None);
        assert_eq!(
            s.from_index(2).collect::<Vec<_>>(),
            [(2, d(2026, 1, 5)), (3, d(2026, 1, 7)), (4, d(2026, 1, 9))]
        );
        assert_eq!(s.from_index(5).next(), None);
        let skips = schedule(Unit::Month, 1, d(2026, 1, 20), None, Some(5));
        assert_eq!(skips.from_index(0).next(), Some((1, d(2026, 2, 5))));
    }

    #[test]
    fn index_on_or_after_agrees_with_walking_the_schedule() {
        let schedules = [
            schedule(Unit::Day, 1, d(2024, 1, 10), None, None),
            schedule(Unit::Day, 3, d(2024, 1, 10), Some(d(2024, 9, 30)), None),
            schedule(Unit::Day, 45, d(2023, 12, 31), None, None),
            schedule(Unit::Week, 1, d(2024, 1, 3), None, None),
            schedule(Unit::Week, 2, d(2024, 2, 1), Some(d(2024, 12, 12)), None),
            schedule(Unit::Week, 5, d(2024, 1, 1), None, None),
            schedule(Unit::Month, 1, d(2024, 1, 31), None, None),
            schedule(Unit::Month, 1, d(2024, 1, 20), None, Some(5)),
            schedule(
                Unit::Month,
                2,
                d(2024, 3, 15),
                Some(d(2025, 1, 1)),
                Some(30),
            ),
            schedule(Unit::Month, 5, d(2023, 12, 10), None, Some(31)),
            schedule(
                Unit::Month,
                1,
                d(2024, 2, 29),
                Some(d(2024, 11, 28)),
                Some(29),
            ),
            schedule(Unit::Year, 1, d(2024, 2, 29), None, None),
            schedule(Unit::Year, 1, d(2024, 3, 20), None, Some(15)),
            schedule(Unit::Year, 2, d(2024, 6, 1), None, None),
            schedule(Unit::Year, 1, d(2024, 1, 1), Some(d(2024, 12, 31)), None),
        ];
        let first_day = d(2023, 11, 20);
        for s in &schedules {
            for offset in 0..480 {
                let day = first_day.checked_add_days(Days::new(offset)).unwrap();
                let walked = s
                    .from_index(0)
                    .find(|&(_, date)| date >= day)
                    .map(|(index, _)| index);
                assert_eq!(s.index_on_or_after(day), walked, "{s:?} on or after {day}");
                let exact = s
                    .from_index(0)
                    .take_while(|&(_, date)| date <= day)
                    .find(|&(_, date)| date == day)
                    .map(|(index, _)| index);
                assert_eq!(s.index_of(day), exact, "{s:?} exactly on {day}");
            }
        }
    }

    #[test]
    fn index_of_finds_only_days_on_the_schedule() {
        let weekly = schedule(Unit::Week, 2, d(2026, 3, 6), None, None);
        assert_eq!(weekly.index_of(d(2026, 3, 6)), Some(0));
        assert_eq!(weekly.index_of(d(2026, 3, 20)), Some(1));
        assert_eq!(weekly.index_of(d(2026, 3, 13)), None);
        assert_eq!(weekly.index_of(d(2026, 3, 5)), None);
        assert_eq!(weekly.index_of(d(2046, 2, 23)), Some(521));

        let monthly = schedule(Unit::Month, 1, d(2026, 1, 20), None, Some(5));
        assert_eq!(monthly.index_of(d(2026, 1, 5)), None);
        assert_eq!(monthly.index_of(d(2026, 2, 5)), Some(1));
        assert_eq!(monthly.index_of(d(2026, 2, 6)), None);

        let daily = schedule(Unit::Day, 1, d(2000, 1, 1), None, None);
        assert_eq!(daily.index_of(d(2100, 1, 1)), Some(36525));
    }

    #[test]
    fn invalid_schedules_are_refused_with_a_message_to_act_on() {
        let start = d(2026, 2, 1);
        let message = |unit, every, ends_on, day_of_month| {
            Schedule::new(unit, every, start, ends_on, day_of_month)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(Unit::Month, 0, None, None),
            "`every` must be between 1 and 120 for months (got 0)"
        );
        assert_eq!(
            message(Unit::Day, 3651, None, None),
            "`every` must be between 1 and 3650 for days (got 3651)"
        );
        assert_eq!(
            message(Unit::Week, 521, None, None),
            "`every` must be between 1 and 520 for weeks (got 521)"
        );
        assert_eq!(
            message(Unit::Year, 11, None, None),
            "`every` must be between 1 and 10 for years (got 11)"
        );
        assert_eq!(
            message(Unit::Month, 1, Some(d(2026, 1, 1)), None),
            "the end (2026-01-01) is before the start (2026-02-01)"
        );
        assert_eq!(
            message(Unit::Week, 1, None, Some(3)),
            "a day of the month is only for monthly and yearly schedules"
        );
        assert_eq!(
            Schedule::new(Unit::Day, 1, start, None, Some(3)),
            Err(ScheduleError::DayOfMonthNotAllowed(Unit::Day))
        );
        assert_eq!(
            message(Unit::Month, 1, None, Some(32)),
            "the day of the month must be between 1 and 31 (got 32)"
        );
        assert_eq!(
            message(Unit::Year, 1, None, Some(0)),
            "the day of the month must be between 1 and 31 (got 0)"
        );
        assert!(Schedule::new(Unit::Day, 3650, start, Some(start), None).is_ok());
        assert!(Schedule::new(Unit::Month, 120, start, None, Some(31)).is_ok());
    }

    #[test]
    fn units_parse_in_any_case_and_in_the_plural() {
        assert_eq!(Unit::parse("day"), Ok(Unit::Day));
        assert_eq!(Unit::parse("Days"), Ok(Unit::Day));
        assert_eq!(Unit::parse(" WEEKS "), Ok(Unit::Week));
        assert_eq!(Unit::parse("Month"), Ok(Unit::Month));
        assert_eq!(Unit::parse("years"), Ok(Unit::Year));
        assert_eq!(
            Unit::parse("fortnight").unwrap_err().to_string(),
            "unknown unit `fortnight`: use day, week, month or year"
        );
        assert!(Unit::parse("dayss").is_err());
        assert!(Unit::parse("").is_err());
        for unit in [Unit::Day, Unit::Week, Unit::Month, Unit::Year] {
            assert_eq!(Unit::parse(unit.as_str()), Ok(unit));
        }
    }

    #[test]
    fn schedules_describe_themselves_in_words() {
        let start = d(2026, 3, 2); // a Monday
        let words = |unit, every, starts_on, day_of_month| {
            schedule(unit, every, starts_on, None, day_of_month).describe()
        };
        assert_eq!(words(Unit::Day, 1, start, None), "every day");
        assert_eq!(words(Unit::Day, 3, start, None), "every 3 days");
        assert_eq!(words(Unit::Week, 1, start, None), "every week on Monday");
        assert_eq!(
            words(Unit::Week, 2, d(2026, 3, 6), None),
            "every 2 weeks on Friday"
        );
        assert_eq!(
            words(Unit::Month, 1, start, Some(1)),
            "every month on the 1st"
        );
        assert_eq!(
            words(Unit::Month, 1, d(2026, 1, 31), None),
            "every month on the 31st (or the last day)"
        );
        assert_eq!(
            words(Unit::Month, 1, start, Some(29)),
            "every month on the 29th (or the last day)"
        );
        assert_eq!(
            words(Unit::Month, 3, start, Some(15)),
            "every 3 months on the 15th"
        );
        assert_eq!(
            words(Unit::Year, 1, d(2024, 2, 29), None),
            "every year on 29 February (or 28 February)"
        );
        assert_eq!(
            words(Unit::Year, 1, d(2025, 2, 10), Some(31)),
            "every year on 29 February (or 28 February)"
        );
        assert_eq!(
            words(Unit::Year, 2, d(2025, 4, 10), Some(31)),
            "every 2 years on 30 April"
        );
        assert_eq!(
            words(Unit::Year, 1, d(2025, 12, 25), None),
            "every year on 25 December"
        );
    }

    #[test]
    fn ordinals_end_in_st_nd_rd_or_th() {
        let all: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 24, 30, 31]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            all,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "24th",
                "30th", "31st"
            ]
        );
    }

    #[test]
    fn starting_re_anchors_the_schedule_and_keeps_everything_else() {
        let s = schedule(
            Unit::Month,
            2,
            d(2026, 1, 31),
            Some(d(2027, 1, 1)),
            Some(31),
        );
        let moved = s.starting(d(2026, 6, 10));
        assert_eq!(
            moved,
            Schedule {
                starts_on: d(2026, 6, 10),
                ..s
            }
        );
        assert_eq!(moved.from_index(0).next(), Some((0, d(2026, 6, 30))));
    }

    #[test]
    fn dates_near_the_end_of_the_calendar_give_none_instead_of_panicking() {
        let last = NaiveDate::MAX;
        let near = last.checked_sub_days(Days::new(10)).unwrap();
        for unit in [Unit::Day, Unit::Week, Unit::Month, Unit::Year] {
            let every = max_every(unit);
            let s = schedule(unit, every, near, None, None);
            assert_eq!(s.raw(0), Some(near), "{unit}");
            assert_eq!(s.raw(1), None, "{unit}");
            assert_eq!(s.raw(u32::MAX), None, "{unit}");
            assert_eq!(s.from_index(0).collect::<Vec<_>>(), [(0, near)], "{unit}");
            assert_eq!(s.index_on_or_after(last), None, "{unit}");
            assert_eq!(s.index_on_or_after(NaiveDate::MIN), Some(0), "{unit}");
            assert_eq!(s.index_of(last), None, "{unit}");

            let day_of_month = matches!(unit, Unit::Month | Unit::Year).then_some(31);
            let early = schedule(unit, every, d(2024, 1, 31), None, day_of_month);
            assert_eq!(early.raw(u32::MAX), None, "{unit}");
            let _ = early.index_on_or_after(last);
            let _ = early.index_of(last);
        }
        let daily = schedule(Unit::Day, 1, last, None, None);
        assert_eq!(daily.from_index(0).collect::<Vec<_>>(), [(0, last)]);
        assert_eq!(daily.index_of(last), Some(0));
        let monthly = schedule(Unit::Month, 1, d(2024, 1, 31), None, None);
        let index = monthly.index_on_or_after(last).unwrap();
        assert_eq!(monthly.date(index), Some(last));
    }

    #[test]
    fn a_hand_built_schedule_that_never_steps_falls_once() {
        let s = Schedule {
            unit: Unit::Day,
            every: 0,
            starts_on: d(2026, 1, 1),
            ends_on: None,
            day_of_month: None,
        };
        assert_eq!(s.from_index(0).collect::<Vec<_>>(), [(0, d(2026, 1, 1))]);
        assert_eq!(s.index_on_or_after(d(2025, 1, 1)), Some(0));
        assert_eq!(s.index_on_or_after(d(2026, 1, 2)), None);
    }
}
