//! Monthly budgets, each applying from a month until a later one replaces it.

use chrono::NaiveDate;
use ledgerly_core::{
    Budget, CategoryBudgetUse, CategoryId, CategoryName, Currency, Money, Month, UserId,
};
use uuid::Uuid;

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

    /// Sets `category`'s monthly budget from `from` onwards (replacing one set for that same
    /// month), or with `None` ends it from that month on; earlier months keep theirs.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_category_budget(
        &self,
        user: UserId,
        category: CategoryId,
        from: Month,
        amount: Option<Money>,
    ) -> Result<()> {
        if amount.is_some_and(|a| a.is_negative()) {
            return Err(StoreError::Invalid(
                "a category's budget cannot be negative".into(),
            ));
        }
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO category_budgets (user_id, category_id, effective_from, \
                 amount_minor, currency, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (user_id, category_id, effective_from) DO UPDATE SET \
                 amount_minor = excluded.amount_minor, currency = excluded.currency, \
                 updated_at = excluded.updated_at",
            )
            .bind(user.as_uuid())
            .bind(category.as_uuid())
            .bind(from.first_day())
            .bind(amount.map(|a| a.minor()))
            .bind(amount.map(|a| a.currency().code()))
            .bind(now())
            .execute(pool)
            .await
            .map_err(crate::error::missing("category"))?;
        });
        Ok(())
    }

    /// The category budgets in force in `month` in `currency` (the account's: one set in
    /// another currency before the account changed does not apply), each beside what the
    /// month's expenses of its category in that currency add up to — read from the rollups, in
    /// one statement. Sorted by category name.
    #[tracing::instrument(skip_all, err)]
    pub async fn category_budgets(
        &self,
        user: UserId,
        month: Month,
        currency: Currency,
    ) -> Result<Vec<CategoryBudgetUse>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            category_id: Uuid,
            category: String,
            effective_from: NaiveDate,
            amount_minor: i64,
            spent: i64,
        }
        let rows: Vec<Row> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT b.category_id, c.name AS category, b.effective_from, b.amount_minor, \
                 COALESCE((SELECT r.total_minor FROM expense_rollups r \
                 WHERE r.user_id = b.user_id AND r.currency = b.currency AND r.month = $2 \
                 AND r.category_id = b.category_id), 0) AS spent \
                 FROM category_budgets b JOIN categories c ON c.id = b.category_id \
                 WHERE b.user_id = $1 AND b.currency = $3 AND b.effective_from = ( \
                 SELECT MAX(x.effective_from) FROM category_budgets x \
                 WHERE x.user_id = b.user_id AND x.category_id = b.category_id \
                 AND x.effective_from <= $2) \
                 ORDER BY c.name_key",
            )
            .bind(user.as_uuid())
            .bind(month.first_day())
            .bind(currency.code())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                let budget = Budget {
                    amount: Money::from_minor(row.amount_minor, currency),
                    effective_from: Month::of(row.effective_from),
                };
                CategoryBudgetUse::new(
                    row.category_id.into(),
                    CategoryName::parse(&row.category).map_err(StoreError::corrupt)?,
                    budget,
                    Money::from_minor(row.spent, currency),
                )
                .map_err(StoreError::corrupt)
            })
            .collect()
    }
}
