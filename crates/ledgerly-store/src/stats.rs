//! Statistics read from `expense_rollups` — a total and a count per user, month, category and
//! currency, kept by triggers with every write of an expense (migration 0007). Every currency
//! counts: the rollups in the account's currency are read as they are, and for a month with
//! rollups in another currency, that currency's expenses are summed per day and category and
//! converted at the day's rate (`ledgerly_core::rates`; migration 0013). What no rate converts is
//! left out of the totals and reported (`MonthSummary::not_converted`). The figures follow the
//! reference maths in `ledgerly_core::stats`, and the summary is derived from them there. A year's
//! statistics in one currency read at most twelve rows per category, however many expenses it
//! holds.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ledgerly_core::rates::NotConverted;
use ledgerly_core::stats::{self, sort_breakdown, sort_monthly};
use ledgerly_core::{
    CategoryName, CategoryTotal, Currency, Money, Month, MonthSummary, MonthlyCategoryTotal, UserId,
};
use uuid::Uuid;

use crate::rows::currency as parse_currency;
use crate::{Result, Store, StoreError, with_db};

/// One rollup row with its category's name.
#[derive(sqlx::FromRow)]
struct RollupRow {
    currency: String,
    month: NaiveDate,
    category_id: Uuid,
    category: String,
    total_minor: i64,
    n: i64,
}

/// The rollup rows of one user in every currency, months from `$3` up to `$4` (excluded), and the
/// months `$5` and `$6` whatever the range. `$7` and `$8` bound all of them, so the index
/// `(user_id, month)` reads only the months asked for. `$2` (the account's currency) comes first.
const ROLLUPS: &str = "SELECT r.currency, r.month, r.category_id, c.name AS category, \
     r.total_minor, r.n \
     FROM expense_rollups r JOIN categories c ON c.id = r.category_id \
     WHERE r.user_id = $1 AND r.month >= $7 AND r.month < $8 \
     AND ((r.month >= $3 AND r.month < $4) OR r.month = $5 OR r.month = $6) \
     ORDER BY r.currency <> $2";

/// One user's expenses in currency `$2` from `$3` up to `$4` (excluded), summed per day and
/// category: what is converted at each day's rate.
#[derive(sqlx::FromRow)]
struct DayRow {
    spent_on: NaiveDate,
    category_id: Uuid,
    category: String,
    total_minor: i64,
    n: i64,
}

const FOREIGN_DAYS: &str = "SELECT e.spent_on, e.category_id, c.name AS category, \
     CAST(SUM(e.amount_minor) AS BIGINT) AS total_minor, COUNT(*) AS n \
     FROM expenses e JOIN categories c ON c.id = e.category_id \
     WHERE e.user_id = $1 AND e.currency = $2 AND e.spent_on >= $3 AND e.spent_on < $4 \
     GROUP BY e.spent_on, e.category_id, c.name";

fn category_name(name: &str) -> Result<CategoryName> {
    CategoryName::parse(name).map_err(StoreError::corrupt)
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate)> {
    let first = Month::new(year, 1).map_err(invalid)?;
    let last = Month::new(year, 12).map_err(invalid)?;
    Ok((first.first_day(), last.next().first_day()))
}

/// What a page of statistics needs, read in one statement: the monthly totals of a year, and a
/// month's breakdown and the month before it (which may lie outside that year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsView {
    pub summary: MonthSummary,
    pub breakdown: Vec<CategoryTotal>,
    pub monthly: Vec<MonthlyCategoryTotal>,
}

/// The rollups of the months read, in the account's currency: other currencies' converted and
/// added in, per month and category.
struct Rollups {
    rows: Vec<RollupRow>,
    currency: Currency,
    /// What no rate converted, per month: left out of `rows`.
    missing: Vec<(NaiveDate, NotConverted)>,
}

impl Rollups {
    fn monthly(&self, from: NaiveDate, until: NaiveDate) -> Result<Vec<MonthlyCategoryTotal>> {
        let mut totals = self
            .rows
            .iter()
            .filter(|row| row.month >= from && row.month < until)
            .map(|row| {
                Ok(MonthlyCategoryTotal {
                    month: Month::of(row.month),
                    category_id: row.category_id.into(),
                    category: category_name(&row.category)?,
                    amount: Money::from_minor(row.total_minor, self.currency),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sort_monthly(&mut totals);
        Ok(totals)
    }

    fn breakdown(&self, month: Month) -> Result<Vec<CategoryTotal>> {
        let mut totals = self
            .rows
            .iter()
            .filter(|row| row.month == month.first_day())
            .map(|row| {
                Ok(CategoryTotal {
                    category_id: row.category_id.into(),
                    category: category_name(&row.category)?,
                    amount: Money::from_minor(row.total_minor, self.currency),
                    count: row.n.unsigned_abs(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sort_breakdown(&mut totals);
        Ok(totals)
    }

    fn spent_in(&self, month: Month) -> Money {
        let total = self
            .rows
            .iter()
            .filter(|row| row.month == month.first_day())
            .map(|row| row.total_minor)
            .sum();
        Money::from_minor(total, self.currency)
    }

    /// What no rate converted in `month`, by currency.
    fn missing_in(&self, month: Month) -> Vec<NotConverted> {
        self.missing
            .iter()
            .filter(|(first, _)| *first == month.first_day())
            .map(|(_, missing)| missing.clone())
            .collect()
    }
}

impl Store {
    /// The rollup rows of the months in `from..until`, and of `also` (up to two months).
    async fn rollups(
        &self,
        user: UserId,
        currency: Currency,
        (from, until): (NaiveDate, NaiveDate),
        also: [Month; 2],
    ) -> Result<Rollups> {
        let first = also
            .iter()
            .map(|m| m.first_day())
            .fold(from, NaiveDate::min);
        let end = also
            .iter()
            .map(|m| m.next().first_day())
            .fold(until, NaiveDate::max);
        let rows: Vec<RollupRow> = with_db!(self, |pool, d| {
            sqlx::query_as(ROLLUPS)
                .bind(user.as_uuid())
                .bind(currency.code())
                .bind(from)
                .bind(until)
                .bind(also[0].first_day())
                .bind(also[1].first_day())
                .bind(first)
                .bind(end)
                .fetch_all(pool)
                .await?
        });
        let (home, foreign): (Vec<RollupRow>, Vec<RollupRow>) = rows
            .into_iter()
            .partition(|row| row.currency == currency.code());
        if foreign.is_empty() {
            return Ok(Rollups {
                rows: home,
                currency,
                missing: Vec::new(),
            });
        }
        self.converted(user, currency, home, foreign).await
    }

    /// `home` (rollups in the account's currency) with the expenses of `foreign`'s currencies
    /// and months converted day by day and added in.
    async fn converted(
        &self,
        user: UserId,
        currency: Currency,
        home: Vec<RollupRow>,
        foreign: Vec<RollupRow>,
    ) -> Result<Rollups> {
        // The months to convert, per currency.
        let mut months: BTreeMap<String, BTreeSet<NaiveDate>> = BTreeMap::new();
        for row in &foreign {
            months
                .entry(row.currency.clone())
                .or_default()
                .insert(row.month);
        }
        let mut days: Vec<(Currency, DayRow)> = Vec::new();
        for (code, wanted) in &months {
            let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
                continue;
            };
            let end = Month::of(*last).next().first_day();
            let rows: Vec<DayRow> = with_db!(self, |pool, d| {
                sqlx::query_as(FOREIGN_DAYS)
                    .bind(user.as_uuid())
                    .bind(code.as_str())
                    .bind(*first)
                    .bind(end)
                    .fetch_all(pool)
                    .await?
            });
            let foreign_currency = parse_currency(code)?;
            days.extend(
                rows.into_iter()
                    .filter(|row| wanted.contains(&Month::of(row.spent_on).first_day()))
                    .map(|row| (foreign_currency, row)),
            );
        }
        let currencies: Vec<Currency> = days
            .iter()
            .map(|(c, _)| *c)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let since = days.iter().map(|(_, r)| r.spent_on).min();
        let until = days.iter().map(|(_, r)| r.spent_on).max();
        let (Some(since), Some(until)) = (since, until) else {
            return Ok(Rollups {
                rows: home,
                currency,
                missing: Vec::new(),
            });
        };
        let book = self
            .rate_book(user, currency, &currencies, (since, until))
            .await?;
        // Home rows and converted days, summed per month and category.
        let mut merged: BTreeMap<(NaiveDate, Uuid), RollupRow> = BTreeMap::new();
        let mut missing: BTreeMap<(NaiveDate, Currency), (u64, i64)> = BTreeMap::new();
        let mut add = |month: NaiveDate, category_id: Uuid, category: &str, total: i64, n: i64| {
            let row = merged
                .entry((month, category_id))
                .or_insert_with(|| RollupRow {
                    currency: currency.code().to_owned(),
                    month,
                    category_id,
                    category: category.to_owned(),
                    total_minor: 0,
                    n: 0,
                });
            row.total_minor += total;
            row.n += n;
        };
        for row in &home {
            add(
                row.month,
                row.category_id,
                &row.category,
                row.total_minor,
                row.n,
            );
        }
        for (from_currency, day) in &days {
            let month = Month::of(day.spent_on).first_day();
            let amount = Money::from_minor(day.total_minor, *from_currency);
            match book.convert(amount, day.spent_on) {
                Some(converted) => add(
                    month,
                    day.category_id,
                    &day.category,
                    converted.minor(),
                    day.n,
                ),
                None => {
                    let entry = missing.entry((month, *from_currency)).or_default();
                    entry.0 += day.n.unsigned_abs();
                    entry.1 += day.total_minor;
                }
            }
        }
        Ok(Rollups {
            rows: merged.into_values().collect(),
            currency,
            missing: missing
                .into_iter()
                .map(|((month, c), (count, total))| {
                    (
                        month,
                        NotConverted {
                            currency: c,
                            count,
                            amount: Money::from_minor(total, c),
                        },
                    )
                })
                .collect(),
        })
    }

    /// `month`'s summary and breakdown, from its budget and the rollups of `month`, the month
    /// before it and the months of `range`, read at once; the rollups for the caller's use of
    /// `range`.
    async fn overview(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
        range: (NaiveDate, NaiveDate),
    ) -> Result<(MonthSummary, Vec<CategoryTotal>, Rollups)> {
        let (budget, rollups) = tokio::try_join!(
            self.budget_for(user, month),
            self.rollups(user, currency, range, [month, month.previous()]),
        )?;
        let breakdown = rollups.breakdown(month)?;
        let mut summary = summarize(
            month,
            currency,
            budget,
            &breakdown,
            rollups.spent_in(month.previous()),
        )?;
        summary.not_converted = rollups.missing_in(month);
        Ok((summary, breakdown, rollups))
    }

    /// What the user spent per month per category in `year`, in `currency`; sorted by month,
    /// then category name.
    #[tracing::instrument(skip_all, err)]
    pub async fn monthly_totals(
        &self,
        user: UserId,
        year: i32,
        currency: Currency,
    ) -> Result<Vec<MonthlyCategoryTotal>> {
        let range = year_bounds(year)?;
        let january = Month::of(range.0);
        self.rollups(user, currency, range, [january; 2])
            .await?
            .monthly(range.0, range.1)
    }

    /// What the user spent per category in `month`, in `currency`, largest first.
    #[tracing::instrument(skip_all, err)]
    pub async fn category_breakdown(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<Vec<CategoryTotal>> {
        let range = (month.first_day(), month.next().first_day());
        self.rollups(user, currency, range, [month; 2])
            .await?
            .breakdown(month)
    }

    /// What the user spent in `month`, in `currency`.
    #[tracing::instrument(skip_all, err)]
    pub async fn spent_in(&self, user: UserId, month: Month, currency: Currency) -> Result<Money> {
        let range = (month.first_day(), month.next().first_day());
        Ok(self
            .rollups(user, currency, range, [month; 2])
            .await?
            .spent_in(month))
    }

    /// The month at a glance, in `currency` (the user's): budget, spent, remaining, savings %,
    /// count, average, top category and the change against the previous month.
    #[tracing::instrument(skip_all, err)]
    pub async fn month_summary(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<MonthSummary> {
        Ok(self.month_overview(user, month, currency).await?.0)
    }

    /// The month's summary and the category breakdown it is made from, for a page that shows
    /// both: the budget and the two months' rollups, read at once.
    #[tracing::instrument(skip_all, err)]
    pub async fn month_overview(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<(MonthSummary, Vec<CategoryTotal>)> {
        let range = (month.first_day(), month.next().first_day());
        let (summary, breakdown, _) = self.overview(user, month, currency, range).await?;
        Ok((summary, breakdown))
    }

    /// The dashboard's statistics: `month`'s summary and breakdown and the monthly totals of
    /// `year`, from the budget and one read of the rollups, made at once.
    #[tracing::instrument(skip_all, err)]
    pub async fn stats_view(
        &self,
        user: UserId,
        month: Month,
        year: i32,
        currency: Currency,
    ) -> Result<StatsView> {
        let range = year_bounds(year)?;
        let (summary, breakdown, rollups) = self.overview(user, month, currency, range).await?;
        Ok(StatsView {
            summary,
            breakdown,
            monthly: rollups.monthly(range.0, range.1)?,
        })
    }
}

fn summarize(
    month: Month,
    currency: Currency,
    budget: Option<ledgerly_core::Budget>,
    breakdown: &[CategoryTotal],
    previous: Money,
) -> Result<MonthSummary> {
    // A budget set in another currency before the user switched does not apply.
    let budget = budget
        .map(|b| b.amount)
        .filter(|amount| amount.currency() == currency);
    stats::summarize(month, currency, budget, breakdown, previous).map_err(invalid)
}

/// A rollup row that disagrees with the expenses it sums: what `expense_rollups` keeps and what a
/// full aggregate of `expenses` gives, each as `(total_minor, count)`, `None` where there is no row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupMismatch {
    pub user_id: UserId,
    pub currency: String,
    pub month: NaiveDate,
    pub category_id: Uuid,
    pub kept: Option<(i64, i64)>,
    pub actual: Option<(i64, i64)>,
}

#[derive(sqlx::FromRow)]
struct KeyedRow {
    user_id: Uuid,
    currency: String,
    month: NaiveDate,
    category_id: Uuid,
    total_minor: i64,
    n: i64,
}

type RollupKey = (Uuid, String, NaiveDate, Uuid);

fn keyed(rows: Vec<KeyedRow>) -> std::collections::BTreeMap<RollupKey, (i64, i64)> {
    rows.into_iter()
        .map(|r| {
            (
                (r.user_id, r.currency, r.month, r.category_id),
                (r.total_minor, r.n),
            )
        })
        .collect()
}

impl Store {
    /// Every rollup row that differs from a full aggregate of the expenses, for every user: empty
    /// when the triggers kept them right. It reads every expense, so it is a check to run by hand
    /// or in tests, not on a request.
    pub async fn rollup_mismatches(&self) -> Result<Vec<RollupMismatch>> {
        let (kept, actual): (Vec<KeyedRow>, Vec<KeyedRow>) = with_db!(self, |pool, d| {
            let kept = sqlx::query_as(
                "SELECT user_id, currency, month, category_id, total_minor, n FROM expense_rollups",
            )
            .fetch_all(pool)
            .await?;
            let actual = sqlx::query_as(d.pick(
                "SELECT user_id, currency, \
                 CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date) AS month, \
                 category_id, CAST(SUM(amount_minor) AS BIGINT) AS total_minor, COUNT(*) AS n \
                 FROM expenses GROUP BY 1, 2, 3, 4",
                "SELECT user_id, currency, date(spent_on, 'start of month') AS month, \
                 category_id, SUM(amount_minor) AS total_minor, COUNT(*) AS n \
                 FROM expenses GROUP BY 1, 2, 3, 4",
            ))
            .fetch_all(pool)
            .await?;
            (kept, actual)
        });
        let (kept, actual) = (keyed(kept), keyed(actual));
        let keys: std::collections::BTreeSet<&RollupKey> =
            kept.keys().chain(actual.keys()).collect();
        Ok(keys
            .into_iter()
            .filter(|key| kept.get(*key) != actual.get(*key))
            .map(|key| RollupMismatch {
                user_id: key.0.into(),
                currency: key.1.clone(),
                month: key.2,
                category_id: key.3,
                kept: kept.get(key).copied(),
                actual: actual.get(key).copied(),
            })
            .collect())
    }
}
