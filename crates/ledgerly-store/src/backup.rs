//! The backup's rows: everything of one user, read in one transaction so the file is one
//! consistent moment of the account (an expense made between two of the reads cannot be half in
//! it), as the plain entries of [`ledgerly_core::backup`]. The receipt files are not read here:
//! the caller fetches each from object storage by the key given beside its entry.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledgerly_core::backup::{
    BudgetEntry, CategoryBudgetEntry, CategoryEntry, Data, ExpenseEntry, RateEntry, ReceiptEntry,
    RecurringEntry,
};
use ledgerly_core::rates::Rate;
use ledgerly_core::recurring::Unit;
use ledgerly_core::{Money, Month, OcrStatus, ReceiptKind, UserId};
use uuid::Uuid;

use crate::rows::currency;
use crate::{Result, Store, StoreError, with_db};

#[derive(sqlx::FromRow)]
struct ExpenseRow {
    id: Uuid,
    category_id: Uuid,
    spent_on: NaiveDate,
    occurred_at: Option<DateTime<Utc>>,
    vendor: String,
    amount_minor: i64,
    currency: String,
    note: Option<String>,
    needs_review: bool,
    receipt_id: Option<Uuid>,
    recurring_id: Option<Uuid>,
    recurring_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    category_id: Uuid,
    vendor: String,
    amount_minor: i64,
    currency: String,
    note: Option<String>,
    unit: String,
    every: i32,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    day_of_month: Option<i32>,
    next_index: i32,
    paused: bool,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: Uuid,
    object_key: String,
    kind: String,
    original_filename: Option<String>,
    sha256: String,
    size_bytes: i64,
    status: String,
    failure_reason: Option<String>,
    ocr_text: Option<String>,
    category_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

/// (category, month's first day, amount, currency): no amount ends the category's budget.
type CategoryBudgetRow = (Uuid, NaiveDate, Option<i64>, Option<String>);

/// Every row of one user, as read.
struct Snapshot {
    categories: Vec<(Uuid, String, bool)>,
    tags: Vec<String>,
    expenses: Vec<ExpenseRow>,
    /// (expense, tag name), each expense's by name.
    expense_tags: Vec<(Uuid, String)>,
    budgets: Vec<(NaiveDate, i64, String)>,
    category_budgets: Vec<CategoryBudgetRow>,
    rules: Vec<RuleRow>,
    /// (rule, day), each rule's by day.
    skips: Vec<(Uuid, NaiveDate)>,
    rates: Vec<(String, String, NaiveDate, String)>,
    receipts: Vec<ReceiptRow>,
}

/// An amount as the API writes it: `"12.50"`.
fn amount(minor: i64, code: &str) -> Result<String> {
    Ok(Money::from_minor(minor, currency(code)?).to_decimal_string())
}

fn count(value: i32, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::corrupt(format!("negative {what} {value}")))
}

impl Store {
    /// Everything of `user` for a backup, read in one transaction (on PostgreSQL a repeatable
    /// read, so every statement sees the same moment), each list in a fixed order: oldest first,
    /// or by name or day. Beside it, each receipt's id and object key, in the order of
    /// `data.receipts`; every receipt's `file` is `None` for the caller to fill in.
    #[tracing::instrument(skip_all, err)]
    pub async fn backup_data(&self, user: UserId) -> Result<(Data, Vec<(Uuid, String)>)> {
        let snapshot = with_db!(self, |pool, d| {
            let mut tx = pool
                .begin_with(d.pick("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "BEGIN"))
                .await?;
            let categories: Vec<(Uuid, String, bool)> = sqlx::query_as(
                "SELECT id, name, is_default FROM categories WHERE user_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let tags: Vec<String> =
                sqlx::query_scalar("SELECT name FROM tags WHERE user_id = $1 ORDER BY name_key")
                    .bind(user.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
            let expenses: Vec<ExpenseRow> = sqlx::query_as(
                "SELECT id, category_id, spent_on, occurred_at, vendor, amount_minor, currency, \
                 note, needs_review, receipt_id, recurring_id, recurring_on, created_at \
                 FROM expenses WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let expense_tags: Vec<(Uuid, String)> = sqlx::query_as(
                "SELECT et.expense_id, t.name FROM expense_tags et \
                 JOIN tags t ON t.id = et.tag_id \
                 WHERE et.user_id = $1 AND t.user_id = $1 \
                 ORDER BY et.expense_id, t.name_key",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let budgets: Vec<(NaiveDate, i64, String)> = sqlx::query_as(
                "SELECT effective_from, amount_minor, currency FROM budgets \
                 WHERE user_id = $1 ORDER BY effective_from",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let category_budgets: Vec<CategoryBudgetRow> = sqlx::query_as(
                "SELECT category_id, effective_from, amount_minor, currency FROM category_budgets \
                 WHERE user_id = $1 ORDER BY category_id, effective_from",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let rules: Vec<RuleRow> = sqlx::query_as(
                "SELECT id, category_id, vendor, amount_minor, currency, note, unit, every, \
                 starts_on, ends_on, day_of_month, next_index, paused, created_at \
                 FROM recurring_rules WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let skips: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
                "SELECT s.rule_id, s.occurs_on FROM recurring_skips s \
                 JOIN recurring_rules r ON r.id = s.rule_id \
                 WHERE r.user_id = $1 ORDER BY s.rule_id, s.occurs_on",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let rates: Vec<(String, String, NaiveDate, String)> = sqlx::query_as(
                "SELECT base, quote, day, rate FROM exchange_rates WHERE user_id = $1 \
                 ORDER BY base, quote, day",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            let receipts: Vec<ReceiptRow> = sqlx::query_as(
                "SELECT id, object_key, kind, original_filename, sha256, size_bytes, status, \
                 failure_reason, ocr_text, category_id, created_at \
                 FROM receipts WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Snapshot {
                categories,
                tags,
                expenses,
                expense_tags,
                budgets,
                category_budgets,
                rules,
                skips,
                rates,
                receipts,
            }
        });
        snapshot.into_data()
    }

    /// The newest database migration applied: the schema a backup was made from.
    #[tracing::instrument(skip_all, err)]
    pub async fn schema_version(&self) -> Result<i64> {
        let version: Option<i64> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await?
        });
        version.ok_or_else(|| StoreError::corrupt("no migration is recorded as applied"))
    }
}

impl Snapshot {
    fn into_data(self) -> Result<(Data, Vec<(Uuid, String)>)> {
        let mut tags_of: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (expense, name) in self.expense_tags {
            tags_of.entry(expense).or_default().push(name);
        }
        let mut skips_of: HashMap<Uuid, Vec<NaiveDate>> = HashMap::new();
        for (rule, day) in self.skips {
            skips_of.entry(rule).or_default().push(day);
        }
        let categories = self
            .categories
            .into_iter()
            .map(|(id, name, is_default)| CategoryEntry {
                id,
                name,
                is_default,
            })
            .collect();
        let expenses = self
            .expenses
            .into_iter()
            .map(|row| {
                Ok(ExpenseEntry {
                    id: row.id,
                    date: row.spent_on,
                    occurred_at: row.occurred_at,
                    vendor: row.vendor,
                    amount: amount(row.amount_minor, &row.currency)?,
                    currency: row.currency,
                    note: row.note,
                    category_id: row.category_id,
                    needs_review: row.needs_review,
                    tags: tags_of.remove(&row.id).unwrap_or_default(),
                    receipt_id: row.receipt_id,
                    recurring_id: row.recurring_id,
                    recurring_on: row.recurring_on,
                    created_at: row.created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let budgets = self
            .budgets
            .into_iter()
            .map(|(from, minor, code)| {
                Ok(BudgetEntry {
                    from: Month::of(from).to_string(),
                    amount: amount(minor, &code)?,
                    currency: code,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let category_budgets = self
            .category_budgets
            .into_iter()
            .map(|(category_id, from, minor, code)| {
                let amount = match (minor, code.as_deref()) {
                    (Some(minor), Some(code)) => Some(amount(minor, code)?),
                    (None, None) => None,
                    _ => {
                        return Err(StoreError::corrupt(
                            "a category budget has an amount without a currency, or the reverse",
                        ));
                    }
                };
                Ok(CategoryBudgetEntry {
                    category_id,
                    from: Month::of(from).to_string(),
                    amount,
                    currency: code,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let recurring = self
            .rules
            .into_iter()
            .map(|row| {
                Ok(RecurringEntry {
                    id: row.id,
                    category_id: row.category_id,
                    vendor: row.vendor,
                    amount: amount(row.amount_minor, &row.currency)?,
                    currency: row.currency,
                    note: row.note,
                    unit: Unit::parse(&row.unit)
                        .map_err(StoreError::corrupt)?
                        .as_str()
                        .to_owned(),
                    every: count(row.every, "every")?,
                    starts_on: row.starts_on,
                    ends_on: row.ends_on,
                    day_of_month: row
                        .day_of_month
                        .map(|d| count(d, "day of month"))
                        .transpose()?,
                    next_index: count(row.next_index, "next index")?,
                    paused: row.paused,
                    skips: skips_of.remove(&row.id).unwrap_or_default(),
                    created_at: row.created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rates = self
            .rates
            .into_iter()
            .map(|(base, quote, day, text)| {
                currency(&base)?;
                currency(&quote)?;
                Ok(RateEntry {
                    base,
                    quote,
                    date: day,
                    rate: Rate::parse(&text)
                        .map_err(StoreError::corrupt)?
                        .to_decimal_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut objects = Vec::with_capacity(self.receipts.len());
        let receipts = self
            .receipts
            .into_iter()
            .map(|row| {
                let kind = row
                    .kind
                    .parse::<ReceiptKind>()
                    .map_err(StoreError::corrupt)?;
                OcrStatus::from_parts(&row.status, row.failure_reason.clone())
                    .map_err(StoreError::corrupt)?;
                let size_bytes = u64::try_from(row.size_bytes).map_err(|_| {
                    StoreError::corrupt(format!("negative receipt size {}", row.size_bytes))
                })?;
                objects.push((row.id, row.object_key));
                Ok(ReceiptEntry {
                    id: row.id,
                    kind: kind.to_string(),
                    original_filename: row.original_filename,
                    sha256: row.sha256,
                    size_bytes,
                    status: row.status,
                    failure_reason: row.failure_reason,
                    ocr_text: row.ocr_text,
                    category_id: row.category_id,
                    created_at: row.created_at,
                    file: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            Data {
                categories,
                tags: self.tags,
                expenses,
                budgets,
                category_budgets,
                recurring,
                rates,
                receipts,
            },
            objects,
        ))
    }
}
