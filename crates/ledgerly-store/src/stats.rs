//! Statistics summed in SQL over the `(user_id, spent_on)` index, in one currency — amounts in
//! other currencies are not converted, so they are not added in. The sums follow the reference
//! maths in `ledgerly_core::stats`, and the summary is derived from them there.

use chrono::NaiveDate;
use ledgerly_core::stats::{self, sort_breakdown, sort_monthly};
use ledgerly_core::{
    CategoryName, CategoryTotal, Currency, Money, Month, MonthSummary, MonthlyCategoryTotal, UserId,
};
use uuid::Uuid;

use crate::{Result, Store, StoreError, with_db};

#[derive(sqlx::FromRow)]
struct MonthlyRow {
    month_start: NaiveDate,
    category_id: Uuid,
    category: String,
    total: i64,
}

#[derive(sqlx::FromRow)]
struct BreakdownRow {
    category_id: Uuid,
    category: String,
    total: i64,
    n: i64,
}

fn category_name(name: &str) -> Result<CategoryName> {
    CategoryName::parse(name).map_err(StoreError::corrupt)
}

fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate)> {
    let first = Month::new(year, 1).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok((
        first.first_day(),
        Month::new(year, 12)
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .next()
            .first_day(),
    ))
}

impl Store {
    /// What the user spent per month per category in `year`, in `currency`; sorted by month,
    /// then category name.
    #[tracing::instrument(skip_all, err)]
    pub async fn monthly_totals(
        &self,
        user: UserId,
        year: i32,
        currency: Currency,
    ) -> Result<Vec<MonthlyCategoryTotal>> {
        let (from, until) = year_bounds(year)?;
        let rows: Vec<MonthlyRow> = with_db!(self, |pool, d| {
            sqlx::query_as(d.pick(
                "SELECT t.month_start, t.category_id, c.name AS category, t.total FROM ( \
                 SELECT CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date) AS month_start, \
                 category_id, CAST(SUM(amount_minor) AS BIGINT) AS total FROM expenses \
                 WHERE user_id = $1 AND currency = $2 AND spent_on >= $3 AND spent_on < $4 \
                 GROUP BY 1, 2) t JOIN categories c ON c.id = t.category_id",
                "SELECT t.month_start, t.category_id, c.name AS category, t.total FROM ( \
                 SELECT date(spent_on, 'start of month') AS month_start, \
                 category_id, CAST(SUM(amount_minor) AS BIGINT) AS total FROM expenses \
                 WHERE user_id = $1 AND currency = $2 AND spent_on >= $3 AND spent_on < $4 \
                 GROUP BY 1, 2) t JOIN categories c ON c.id = t.category_id",
            ))
            .bind(user.as_uuid())
            .bind(currency.code())
            .bind(from)
            .bind(until)
            .fetch_all(pool)
            .await?
        });
        let mut totals = rows
            .into_iter()
            .map(|row| {
                Ok(MonthlyCategoryTotal {
                    month: Month::of(row.month_start),
                    category_id: row.category_id.into(),
                    category: category_name(&row.category)?,
                    amount: Money::from_minor(row.total, currency),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sort_monthly(&mut totals);
        Ok(totals)
    }

    /// What the user spent per category in `month`, in `currency`, largest first.
    #[tracing::instrument(skip_all, err)]
    pub async fn category_breakdown(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<Vec<CategoryTotal>> {
        let rows: Vec<BreakdownRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT t.category_id, c.name AS category, t.total, t.n FROM ( \
                 SELECT category_id, CAST(SUM(amount_minor) AS BIGINT) AS total, COUNT(*) AS n \
                 FROM expenses \
                 WHERE user_id = $1 AND currency = $2 AND spent_on >= $3 AND spent_on < $4 \
                 GROUP BY category_id) t JOIN categories c ON c.id = t.category_id",
            )
            .bind(user.as_uuid())
            .bind(currency.code())
            .bind(month.first_day())
            .bind(month.next().first_day())
            .fetch_all(pool)
            .await?
        });
        let mut totals = rows
            .into_iter()
            .map(|row| {
                Ok(CategoryTotal {
                    category_id: row.category_id.into(),
                    category: category_name(&row.category)?,
                    amount: Money::from_minor(row.total, currency),
                    count: row.n.unsigned_abs(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sort_breakdown(&mut totals);
        Ok(totals)
    }

    /// What the user spent in `month`, in `currency`.
    #[tracing::instrument(skip_all, err)]
    pub async fn spent_in(&self, user: UserId, month: Month, currency: Currency) -> Result<Money> {
        let total: i64 = with_db!(self, |pool, d| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM expenses \
                 WHERE user_id = $1 AND currency = $2 AND spent_on >= $3 AND spent_on < $4",
            )
            .bind(user.as_uuid())
            .bind(currency.code())
            .bind(month.first_day())
            .bind(month.next().first_day())
            .fetch_one(pool)
            .await?
        });
        Ok(Money::from_minor(total, currency))
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
    /// both: one breakdown query instead of two, and the three queries run at once.
    #[tracing::instrument(skip_all, err)]
    pub async fn month_overview(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<(MonthSummary, Vec<CategoryTotal>)> {
        let (budget, breakdown, previous) = tokio::try_join!(
            self.budget_for(user, month),
            self.category_breakdown(user, month, currency),
            self.spent_in(user, month.previous(), currency),
        )?;
        // A budget set in another currency before the user switched does not apply.
        let budget = budget
            .map(|b| b.amount)
            .filter(|amount| amount.currency() == currency);
        let summary = stats::summarize(month, currency, budget, &breakdown, previous)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok((summary, breakdown))
    }
}
