//! Statistics read from `expense_rollups` — a total and a count per user, month, category and
//! currency, kept by triggers with every write of an expense (migration 0007) — in one currency:
//! amounts in other currencies are not converted, so they are not added in. The figures follow
//! the reference maths in `ledgerly_core::stats`, and the summary is derived from them there.
//! A year's statistics read at most twelve rows per category, however many expenses it holds.

use chrono::NaiveDate;
use ledgerly_core::stats::{self, sort_breakdown, sort_monthly};
use ledgerly_core::{
    CategoryName, CategoryTotal, Currency, Money, Month, MonthSummary, MonthlyCategoryTotal, UserId,
};
use uuid::Uuid;

use crate::{Result, Store, StoreError, with_db};

/// One rollup row with its category's name.
#[derive(sqlx::FromRow)]
struct RollupRow {
    month: NaiveDate,
    category_id: Uuid,
    category: String,
    total_minor: i64,
    n: i64,
}

/// The rollup rows of one user and currency, months from `$3` up to `$4` (excluded), and the
/// months `$5` and `$6` whatever the range. `$7` and `$8` bound all of them, so the primary key
/// `(user_id, currency, month, …)` reads only the months asked for.
const ROLLUPS: &str = "SELECT r.month, r.category_id, c.name AS category, r.total_minor, r.n \
     FROM expense_rollups r JOIN categories c ON c.id = r.category_id \
     WHERE r.user_id = $1 AND r.currency = $2 AND r.month >= $7 AND r.month < $8 \
     AND ((r.month >= $3 AND r.month < $4) OR r.month = $5 OR r.month = $6)";

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

struct Rollups {
    rows: Vec<RollupRow>,
    currency: Currency,
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
        let rows = with_db!(self, |pool, d| {
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
        Ok(Rollups { rows, currency })
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
        let summary = summarize(
            month,
            currency,
            budget,
            &breakdown,
            rollups.spent_in(month.previous()),
        )?;
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
