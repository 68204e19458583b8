//! Restoring a backup (`ledgerly_core::backup`) into an account: into an empty one it recreates
//! everything; into one with data it merges — categories and tags by name, expenses skipping
//! duplicates of recorded ones (the same day, amount, currency and vendor, one for one, as the
//! CSV import does), budgets, rates and recurring expenses the account already has kept as they
//! are. Every row gets a new id (a backup may be restored into two accounts of one instance), and
//! the whole restore is one transaction: a backup that does not fit writes nothing.

use std::collections::HashMap;

use chrono::NaiveDate;
use ledgerly_core::backup::{Data, ExpenseEntry};
use ledgerly_core::rates::Rate;
use ledgerly_core::recurring::{Schedule, Unit};
use ledgerly_core::{
    CategoryId, CategoryName, Currency, ExpenseId, Money, Month, Note, ReceiptId, ReceiptKind,
    RecurringId, TagId, TagName, UserId, Vendor,
};
use uuid::Uuid;

use crate::imports::{DuplicateKey, duplicate_key};
use crate::{Result, Store, StoreError, now, with_db};

/// A receipt file of the backup already put in storage under a new key: its row is written by
/// the restore.
#[derive(Debug, Clone)]
pub struct RestoredFile {
    pub id: ReceiptId,
    pub object_key: String,
    /// The account has this very file already (the same SHA-256): its expenses link to that
    /// receipt, and no row is written.
    pub existing: bool,
}

/// What a restore wrote, and what it left because the account had it already.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RestoreOutcome {
    pub categories_created: u64,
    pub expenses_created: u64,
    pub duplicates_skipped: u64,
    pub receipts_created: u64,
    pub recurring_created: u64,
    pub budgets_created: u64,
    pub category_budgets_created: u64,
    pub rates_created: u64,
}

fn bad(what: String) -> StoreError {
    StoreError::Invalid(format!("the backup does not fit: {what}"))
}

fn money(amount: &str, code: &str, what: &str) -> Result<Money> {
    let currency = Currency::from_code(code).map_err(|e| bad(format!("{what}: {e}")))?;
    Money::from_decimal_str(amount, currency).map_err(|e| bad(format!("{what}: {e}")))
}

fn month(text: &str, what: &str) -> Result<NaiveDate> {
    text.parse::<Month>()
        .map(|m| m.first_day())
        .map_err(|e| bad(format!("{what}: {e}")))
}

/// An expense of the backup, checked.
struct CheckedExpense<'a> {
    entry: &'a ExpenseEntry,
    vendor: Vendor,
    amount: Money,
    note: Option<Note>,
    tags: Vec<TagName>,
}

fn check_expense(entry: &ExpenseEntry, n: usize) -> Result<CheckedExpense<'_>> {
    let what = format!("expense {} ({})", n + 1, entry.id);
    let amount = money(&entry.amount, &entry.currency, &what)?;
    ledgerly_core::expense::ensure_spendable(amount).map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(CheckedExpense {
        entry,
        vendor: Vendor::parse(&entry.vendor).map_err(|e| bad(format!("{what}: {e}")))?,
        amount,
        note: entry
            .note
            .as_deref()
            .map(Note::parse)
            .transpose()
            .map_err(|e| bad(format!("{what}: {e}")))?,
        tags: entry
            .tags
            .iter()
            .map(|t| TagName::parse(t))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("{what}: {e}")))?,
    })
}

impl Store {
    /// Restores `data` into the user's account (see the module's description). `files` are the
    /// receipt files already put in storage, by the backup's receipt id; a receipt without one is
    /// not restored, and its expense is restored without it.
    #[tracing::instrument(skip_all, err)]
    pub async fn restore_backup(
        &self,
        user: UserId,
        data: &Data,
        files: &HashMap<Uuid, RestoredFile>,
    ) -> Result<RestoreOutcome> {
        // Everything checked before anything is written.
        let categories = data
            .categories
            .iter()
            .map(|c| {
                CategoryName::parse(&c.name)
                    .map(|name| (c.id, name))
                    .map_err(|e| bad(format!("category `{}`: {e}", c.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let expenses = data
            .expenses
            .iter()
            .enumerate()
            .map(|(n, e)| check_expense(e, n))
            .collect::<Result<Vec<_>>>()?;
        let mut rules = Vec::new();
        for (n, rule) in data.recurring.iter().enumerate() {
            let what = format!("recurring expense {} ({})", n + 1, rule.id);
            let unit = Unit::parse(&rule.unit).map_err(|e| bad(format!("{what}: {e}")))?;
            let schedule = Schedule::new(
                unit,
                rule.every,
                rule.starts_on,
                rule.ends_on,
                rule.day_of_month,
            )
            .map_err(|e| bad(format!("{what}: {e}")))?;
            let amount = money(&rule.amount, &rule.currency, &what)?;
            let vendor = Vendor::parse(&rule.vendor).map_err(|e| bad(format!("{what}: {e}")))?;
            let note = rule
                .note
                .as_deref()
                .map(Note::parse)
                .transpose()
                .map_err(|e| bad(format!("{what}: {e}")))?;
            rules.push((rule, schedule, amount, vendor, note));
        }
        let mut budgets = Vec::new();
        for b in &data.budgets {
            let what = format!("budget from {}", b.from);
            budgets.push((
                month(&b.from, &what)?,
                money(&b.amount, &b.currency, &what)?,
            ));
        }
        let mut category_budgets = Vec::new();
        for b in &data.category_budgets {
            let what = format!("category budget from {}", b.from);
            let amount = match (&b.amount, &b.currency) {
                (Some(amount), Some(code)) => Some(money(amount, code, &what)?),
                (None, None) => None,
                _ => return Err(bad(format!("{what}: an amount needs its currency"))),
            };
            category_budgets.push((b.category_id, month(&b.from, &what)?, amount));
        }
        let mut rates = Vec::new();
        for r in &data.rates {
            let what = format!("rate {} → {} on {}", r.base, r.quote, r.date);
            let base = Currency::from_code(&r.base).map_err(|e| bad(format!("{what}: {e}")))?;
            let quote = Currency::from_code(&r.quote).map_err(|e| bad(format!("{what}: {e}")))?;
            let rate = Rate::parse(&r.rate).map_err(|e| bad(format!("{what}: {e}")))?;
            if base != quote {
                rates.push((base, quote, r.date, rate));
            }
        }
        let mut receipts = Vec::new();
        let mut receipt_ids: HashMap<Uuid, Uuid> = HashMap::new();
        for r in &data.receipts {
            let Some(file) = files.get(&r.id) else {
                continue;
            };
            if file.existing {
                receipt_ids.insert(r.id, file.id.as_uuid());
                continue;
            }
            let kind: ReceiptKind = r
                .kind
                .parse()
                .map_err(|_| bad(format!("receipt {}: unknown kind `{}`", r.id, r.kind)))?;
            receipts.push((r, kind, file));
        }

        let at = now();
        let mut outcome = RestoreOutcome::default();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;

            // Categories by name: the account's own, else created.
            let mut category_ids: HashMap<Uuid, Uuid> = HashMap::new();
            for (old, name) in &categories {
                let found: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM categories WHERE user_id = $1 AND name_key = $2",
                )
                .bind(user.as_uuid())
                .bind(name.key())
                .fetch_optional(&mut *tx)
                .await?;
                let id = match found {
                    Some(id) => id,
                    None => {
                        let id = CategoryId::new().as_uuid();
                        sqlx::query(
                            "INSERT INTO categories (id, user_id, name, name_key, is_default, \
                             created_at) VALUES ($1, $2, $3, $4, false, $5)",
                        )
                        .bind(id)
                        .bind(user.as_uuid())
                        .bind(name.as_str())
                        .bind(name.key())
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        outcome.categories_created += 1;
                        id
                    }
                };
                category_ids.insert(*old, id);
            }
            let category = |old: &Uuid, what: &str| {
                category_ids
                    .get(old)
                    .copied()
                    .ok_or_else(|| bad(format!("{what} names category {old}, which it lacks")))
            };

            // Receipts whose files were put in storage.
            for (entry, kind, file) in &receipts {
                let category_id = match &entry.category_id {
                    Some(old) => Some(category(old, "a receipt")?),
                    None => None,
                };
                // One whose OCR had not finished is kept as failed, to re-run.
                let (status, reason) = match entry.status.as_str() {
                    "done" => ("done", None),
                    "failed" => ("failed", entry.failure_reason.clone()),
                    _ => (
                        "failed",
                        Some("restored before its OCR finished: run OCR again".to_owned()),
                    ),
                };
                sqlx::query(
                    "INSERT INTO receipts (id, user_id, object_key, kind, size_bytes, sha256, \
                     original_filename, category_id, status, failure_reason, ocr_text, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(file.id.as_uuid())
                .bind(user.as_uuid())
                .bind(&file.object_key)
                .bind(kind.to_string())
                .bind(i64::try_from(entry.size_bytes).unwrap_or(i64::MAX))
                .bind(&entry.sha256)
                .bind(&entry.original_filename)
                .bind(category_id)
                .bind(status)
                .bind(reason)
                .bind(&entry.ocr_text)
                .bind(entry.created_at)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                receipt_ids.insert(entry.id, file.id.as_uuid());
                outcome.receipts_created += 1;
            }

            // Recurring expenses, unless the account has the same one (vendor, amount,
            // rhythm and start).
            let mut rule_ids: HashMap<Uuid, Uuid> = HashMap::new();
            for (entry, schedule, amount, vendor, note) in &rules {
                let same: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM recurring_rules WHERE user_id = $1 AND lower(vendor) = $2 \
                     AND amount_minor = $3 AND currency = $4 AND unit = $5 AND every = $6 \
                     AND starts_on = $7",
                )
                .bind(user.as_uuid())
                .bind(vendor.as_str().to_lowercase())
                .bind(amount.minor())
                .bind(amount.currency().code())
                .bind(schedule.unit.as_str())
                .bind(i32::try_from(schedule.every).unwrap_or(i32::MAX))
                .bind(schedule.starts_on)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(existing) = same {
                    rule_ids.insert(entry.id, existing);
                    continue;
                }
                let id = RecurringId::new().as_uuid();
                let next_index = entry.next_index.max(schedule.first_index());
                sqlx::query(
                    "INSERT INTO recurring_rules (id, user_id, category_id, vendor, \
                     amount_minor, currency, note, unit, every, starts_on, ends_on, \
                     day_of_month, next_index, next_on, paused, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                     $16, $17)",
                )
                .bind(id)
                .bind(user.as_uuid())
                .bind(category(&entry.category_id, "a recurring expense")?)
                .bind(vendor.as_str())
                .bind(amount.minor())
                .bind(amount.currency().code())
                .bind(note.as_ref().map(|n| n.as_str()))
                .bind(schedule.unit.as_str())
                .bind(i32::try_from(schedule.every).unwrap_or(i32::MAX))
                .bind(schedule.starts_on)
                .bind(schedule.ends_on)
                .bind(schedule.day_of_month.map(|d| d as i32))
                .bind(i32::try_from(next_index).unwrap_or(i32::MAX))
                .bind(schedule.date(next_index))
                .bind(entry.paused)
                .bind(entry.created_at)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                for skip in &entry.skips {
                    sqlx::query(
                        "INSERT INTO recurring_skips (rule_id, occurs_on) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(*skip)
                    .execute(&mut *tx)
                    .await?;
                }
                rule_ids.insert(entry.id, id);
                outcome.recurring_created += 1;
            }

            // Expenses, skipping duplicates of the account's own, one for one.
            let mut existing: HashMap<DuplicateKey, u32> = HashMap::new();
            if let (Some(first), Some(last)) = (
                expenses.iter().map(|e| e.entry.date).min(),
                expenses.iter().map(|e| e.entry.date).max(),
            ) {
                let rows: Vec<(NaiveDate, i64, String, String)> = sqlx::query_as(
                    "SELECT spent_on, amount_minor, currency, vendor FROM expenses \
                     WHERE user_id = $1 AND spent_on BETWEEN $2 AND $3",
                )
                .bind(user.as_uuid())
                .bind(first)
                .bind(last)
                .fetch_all(&mut *tx)
                .await?;
                for (date, minor, code, vendor) in rows {
                    *existing
                        .entry(duplicate_key(date, minor, &code, &vendor))
                        .or_default() += 1;
                }
            }
            for expense in &expenses {
                let e = expense.entry;
                let key = duplicate_key(
                    e.date,
                    expense.amount.minor(),
                    expense.amount.currency().code(),
                    expense.vendor.as_str(),
                );
                if let Some(n) = existing.get_mut(&key).filter(|n| **n > 0) {
                    *n -= 1;
                    outcome.duplicates_skipped += 1;
                    continue;
                }
                let id = ExpenseId::new().as_uuid();
                let recurring = e.recurring_id.and_then(|old| rule_ids.get(&old).copied());
                sqlx::query(
                    "INSERT INTO expenses (id, user_id, category_id, spent_on, occurred_at, \
                     vendor, amount_minor, currency, note, needs_review, receipt_id, \
                     created_at, updated_at, recurring_id, recurring_on) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(user.as_uuid())
                .bind(category(&e.category_id, "an expense")?)
                .bind(e.date)
                .bind(e.occurred_at)
                .bind(expense.vendor.as_str())
                .bind(expense.amount.minor())
                .bind(expense.amount.currency().code())
                .bind(expense.note.as_ref().map(|n| n.as_str()))
                .bind(e.needs_review)
                .bind(e.receipt_id.and_then(|old| receipt_ids.get(&old).copied()))
                .bind(e.created_at)
                .bind(at)
                .bind(recurring)
                .bind(recurring.and(e.recurring_on))
                .execute(&mut *tx)
                .await?;
                for tag in &expense.tags {
                    sqlx::query(
                        "INSERT INTO tags (id, user_id, name, name_key, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, name_key) DO NOTHING",
                    )
                    .bind(TagId::new().as_uuid())
                    .bind(user.as_uuid())
                    .bind(tag.as_str())
                    .bind(tag.key())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO expense_tags (expense_id, user_id, tag_id) \
                         SELECT $2, $1, t.id FROM tags t WHERE t.user_id = $1 AND t.name_key = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(user.as_uuid())
                    .bind(id)
                    .bind(tag.key())
                    .execute(&mut *tx)
                    .await?;
                }
                outcome.expenses_created += 1;
            }

            // Budgets, category budgets and rates the account does not have.
            for (from, amount) in &budgets {
                outcome.budgets_created += sqlx::query(
                    "INSERT INTO budgets (user_id, effective_from, amount_minor, currency, \
                     updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(user.as_uuid())
                .bind(*from)
                .bind(amount.minor())
                .bind(amount.currency().code())
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            for (old, from, amount) in &category_budgets {
                outcome.category_budgets_created += sqlx::query(
                    "INSERT INTO category_budgets (user_id, category_id, effective_from, \
                     amount_minor, currency, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user.as_uuid())
                .bind(category(old, "a category budget")?)
                .bind(*from)
                .bind(amount.map(|a| a.minor()))
                .bind(amount.map(|a| a.currency().code()))
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            for (base, quote, day, rate) in &rates {
                outcome.rates_created += sqlx::query(
                    "INSERT INTO exchange_rates (user_id, base, quote, day, rate, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(user.as_uuid())
                .bind(base.code())
                .bind(quote.code())
                .bind(*day)
                .bind(rate.to_decimal_string())
                .bind(at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        });
        Ok(outcome)
    }
}
