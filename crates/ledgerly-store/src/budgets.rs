//! Monthly budgets, each applying from a month until a later one replaces it.

use chrono::NaiveDate;
use ledgerly_core::{Budget, Money, Month, UserId};

use crate::rows::currency;
use crate::{Result, Store, StoreError, now, with_db};

#[derive(sqlx::FromRow)]
struct BudgetRow {
    effective_from: NaiveDate,
    amount_minor: i64,
    currency: String,
}

impl TryFrom<BudgetRow> for Budget {
    type Error = StoreError;

    fn try_from(row: BudgetRow) -> Result<Self> {
        Ok(Budget {
            amount: Money::from_minor(row.amount_minor, currency(&row.currency)?),
            effective_from: Month::of(row.effective_from),
        })
    }
}

impl Store {
    /// Sets the monthly budget from `budget.effective_from` onwards (replacing one set for that
    /// same month); earlier months keep theirs.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_budget(&self, user: UserId, budget: Budget) -> Result<Budget> {
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO budgets (user_id, effective_from, amount_minor, currency, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, effective_from) DO UPDATE SET \
                 amount_minor = excluded.amount_minor, currency = excluded.currency, \
                 updated_at = excluded.updated_at",
            )
            .bind(user.as_uuid())
            .bind(budget.effective_from.first_day())
            .bind(budget.amount.minor())
            .bind(budget.amount.currency().code())
            .bind(now())
            .execute(pool)
            .await
            .map_err(crate::error::missing("user"))?;
        });
        Ok(budget)
    }

    /// The budget in force in `month`: the latest one set from that month or before.
    #[tracing::instrument(skip_all, err)]
    pub async fn budget_for(&self, user: UserId, month: Month) -> Result<Option<Budget>> {
        let row: Option<BudgetRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT effective_from, amount_minor, currency FROM budgets \
                 WHERE user_id = $1 AND effective_from <= $2 \
                 ORDER BY effective_from DESC LIMIT 1",
            )
            .bind(user.as_uuid())
            .bind(month.first_day())
            .fetch_optional(pool)
            .await?
        });
        row.map(Budget::try_from).transpose()
    }

    /// Every budget the user has set, oldest first.
    #[tracing::instrument(skip_all, err)]
    pub async fn budget_history(&self, user: UserId) -> Result<Vec<Budget>> {
        let rows: Vec<BudgetRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT effective_from, amount_minor, currency FROM budgets \
                 WHERE user_id = $1 ORDER BY effective_from",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?
        });
        crate::rows::collect(rows)
    }
}
