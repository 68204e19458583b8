//! CSV imports: the uploaded file and its settings wait here while the owner checks the preview;
//! the commit writes every expense in one transaction. Reading the file is
//! [`ledgerly_core::import`]'s; this keeps the file, finds duplicates and writes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledgerly_core::import::{ImportSettings, ImportedRow};
use ledgerly_core::{CategoryId, CategoryName, ExpenseId, ImportId, UserId};
use uuid::Uuid;

use crate::{Result, Store, StoreError, now, with_db};

/// How long an import nobody committed is kept.
const UNCOMMITTED_KEPT_FOR: Duration = Duration::days(1);

/// Rows per INSERT statement of a commit: 10 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 1_000;

/// An uploaded file waiting to be committed, or one committed already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImport {
    pub id: ImportId,
    pub file_name: String,
    /// The file as uploaded; empty once committed.
    pub content: Vec<u8>,
    pub settings: ImportSettings,
    pub created_at: DateTime<Utc>,
    pub committed: Option<ImportCommitted>,
}

/// What a commit did, as kept with the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportCommitted {
    pub at: DateTime<Utc>,
    pub created: u64,
    pub duplicates_skipped: u64,
}

/// What [`Store::commit_import`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub created: u64,
    pub duplicates_skipped: u64,
    /// Categories named in the file that the account did not have, created by the commit.
    pub categories_created: Vec<CategoryName>,
}

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: Uuid,
    file_name: String,
    content: Vec<u8>,
    settings: String,
    created_at: DateTime<Utc>,
    committed_at: Option<DateTime<Utc>>,
    created_count: Option<i64>,
    duplicates_skipped: Option<i64>,
}

fn settings_json(settings: &ImportSettings) -> Result<String> {
    serde_json::to_string(settings).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn parse_settings(json: &str) -> Result<ImportSettings> {
    serde_json::from_str(json).map_err(StoreError::corrupt)
}

impl TryFrom<ImportRow> for StoredImport {
    type Error = StoreError;

    fn try_from(row: ImportRow) -> Result<Self> {
        let committed = match (row.committed_at, row.created_count) {
            (Some(at), Some(created)) => Some(ImportCommitted {
                at,
                created: created.unsigned_abs(),
                duplicates_skipped: row.duplicates_skipped.unwrap_or(0).unsigned_abs(),
            }),
            _ => None,
        };
        Ok(StoredImport {
            id: row.id.into(),
            file_name: row.file_name,
            content: row.content,
            settings: parse_settings(&row.settings)?,
            created_at: row.created_at,
            committed,
        })
    }
}

/// What makes two expenses the same for an import: the day, the amount and currency, and the
/// vendor in any case and spacing.
pub(crate) type DuplicateKey = (NaiveDate, i64, String, String);

pub(crate) fn duplicate_key(
    date: NaiveDate,
    minor: i64,
    currency: &str,
    vendor: &str,
) -> DuplicateKey {
    let vendor = vendor
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (date, minor, currency.to_owned(), vendor)
}

/// Marks each row that matches an existing expense. Matching counts: a file with two identical
/// coffees against one recorded has one duplicate and one new row.
fn mark_duplicates(rows: &[ImportedRow], existing: Vec<DuplicateKey>) -> Vec<bool> {
    let mut counts: HashMap<DuplicateKey, u32> = HashMap::new();
    for key in existing {
        *counts.entry(key).or_default() += 1;
    }
    rows.iter()
        .map(|row| {
            let key = duplicate_key(
                row.date,
                row.amount.minor(),
                row.amount.currency().code(),
                row.vendor.as_str(),
            );
            match counts.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        })
        .collect()
}

/// The first and last day among `rows`.
fn day_range(rows: &[ImportedRow]) -> Option<(NaiveDate, NaiveDate)> {
    let first = rows.iter().map(|r| r.date).min()?;
    let last = rows.iter().map(|r| r.date).max()?;
    Some((first, last))
}

/// The keys of the user's expenses from `$first` to `$last`, read on `$conn`.
macro_rules! existing_keys {
    ($conn:expr, $user:expr, $first:expr, $last:expr) => {{
        let rows: Vec<(NaiveDate, i64, String, String)> = sqlx::query_as(
            "SELECT spent_on, amount_minor, currency, vendor FROM expenses \
             WHERE user_id = $1 AND spent_on BETWEEN $2 AND $3",
        )
        .bind($user.as_uuid())
        .bind($first)
        .bind($last)
        .fetch_all($conn)
        .await?;
        rows.into_iter()
            .map(|(date, minor, currency, vendor)| duplicate_key(date, minor, &currency, &vendor))
            .collect::<Vec<_>>()
    }};
}

impl Store {
    /// Keeps an uploaded file with the settings to read it by, and deletes the user's imports
    /// left uncommitted for a day.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_import(
        &self,
        user: UserId,
        file_name: &str,
        content: &[u8],
        settings: &ImportSettings,
    ) -> Result<ImportId> {
        let id = ImportId::new();
        let settings = settings_json(settings)?;
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            sqlx::query(
                "DELETE FROM imports WHERE user_id = $1 AND committed_at IS NULL \
                 AND created_at < $2",
            )
            .bind(user.as_uuid())
            .bind(at - UNCOMMITTED_KEPT_FOR)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO imports (id, user_id, file_name, content, settings, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(file_name)
            .bind(content)
            .bind(&settings)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(crate::error::missing("user"))?;
            tx.commit().await?;
        });
        Ok(id)
    }

    /// The user's import `id`.
    #[tracing::instrument(skip_all, err)]
    pub async fn get_import(&self, user: UserId, id: ImportId) -> Result<StoredImport> {
        let row: Option<ImportRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT id, file_name, content, settings, created_at, committed_at, \
                 created_count, duplicates_skipped FROM imports WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound("import"))?.try_into()
    }

    /// Replaces the settings an uncommitted import is read with.
    #[tracing::instrument(skip_all, err)]
    pub async fn set_import_settings(
        &self,
        user: UserId,
        id: ImportId,
        settings: &ImportSettings,
    ) -> Result<()> {
        let settings = settings_json(settings)?;
        let updated = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE imports SET settings = $3 \
                 WHERE user_id = $1 AND id = $2 AND committed_at IS NULL",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(&settings)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            // Either not there or committed: say which.
            let import = self.get_import(user, id).await?;
            if import.committed.is_some() {
                return Err(StoreError::ImportCommitted);
            }
        }
        Ok(())
    }

    /// Deletes an import (committed or not; committed expenses stay).
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_import(&self, user: UserId, id: ImportId) -> Result<()> {
        let deleted = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM imports WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        crate::error::found(deleted, "import")
    }

    /// The settings last committed for files of `shape`, if any.
    #[tracing::instrument(skip_all, err)]
    pub async fn remembered_import_settings(
        &self,
        user: UserId,
        shape: &str,
    ) -> Result<Option<ImportSettings>> {
        let json: Option<String> = with_db!(self, |pool, d| {
            sqlx::query_scalar(
                "SELECT settings FROM import_shapes WHERE user_id = $1 AND shape = $2",
            )
            .bind(user.as_uuid())
            .bind(shape)
            .fetch_optional(pool)
            .await?
        });
        json.as_deref().map(parse_settings).transpose()
    }

    /// For each row, whether it duplicates one of the user's expenses (the same day, amount,
    /// currency and vendor, in any case); each recorded expense matches one row at most.
    #[tracing::instrument(skip_all, err)]
    pub async fn import_duplicates(&self, user: UserId, rows: &[ImportedRow]) -> Result<Vec<bool>> {
        let Some((first, last)) = day_range(rows) else {
            return Ok(Vec::new());
        };
        let existing = with_db!(self, |pool, d| existing_keys!(pool, user, first, last));
        Ok(mark_duplicates(rows, existing))
    }

    /// Writes the import's expenses in one transaction — all of them or, on any error, none —
    /// creating the categories they name that the account lacks, skipping duplicates of
    /// recorded expenses when `skip_duplicates`, and remembering the import's settings for files
    /// of `shape`. The import is then committed: its file is dropped and a second commit is
    /// [`StoreError::ImportCommitted`].
    #[tracing::instrument(skip_all, err, fields(rows = rows.len()))]
    pub async fn commit_import(
        &self,
        user: UserId,
        id: ImportId,
        rows: &[ImportedRow],
        skip_duplicates: bool,
        shape: &str,
    ) -> Result<ImportOutcome> {
        let at = now();
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            // The import's row is locked (SQLite: the write lock is held already), so two
            // commits of one import wait for each other and the second finds it committed.
            let state: Option<(Option<DateTime<Utc>>, String)> = sqlx::query_as(d.pick(
                "SELECT committed_at, settings FROM imports WHERE user_id = $1 AND id = $2 \
                 FOR UPDATE",
                "SELECT committed_at, settings FROM imports WHERE user_id = $1 AND id = $2",
            ))
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((committed_at, settings)) = state else {
                return Err(StoreError::NotFound("import"));
            };
            if committed_at.is_some() {
                return Err(StoreError::ImportCommitted);
            }

            let duplicates = match day_range(rows) {
                Some((first, last)) if skip_duplicates => {
                    mark_duplicates(rows, existing_keys!(&mut *tx, user, first, last))
                }
                _ => vec![false; rows.len()],
            };
            let written: Vec<&ImportedRow> = rows
                .iter()
                .zip(&duplicates)
                .filter_map(|(row, duplicate)| (!duplicate).then_some(row))
                .collect();

            // Categories by key; the ones the file names and the account lacks are created.
            let known: Vec<(Uuid, String)> =
                sqlx::query_as("SELECT id, name_key FROM categories WHERE user_id = $1")
                    .bind(user.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
            let mut categories: HashMap<String, CategoryId> = known
                .into_iter()
                .map(|(id, key)| (key, id.into()))
                .collect();
            let mut created_categories = Vec::new();
            let mut seen = HashSet::new();
            for row in &written {
                let key = row.category.key();
                if categories.contains_key(&key) || !seen.insert(key.clone()) {
                    continue;
                }
                let category = CategoryId::new();
                sqlx::query(
                    "INSERT INTO categories (id, user_id, name, name_key, is_default, created_at) \
                     VALUES ($1, $2, $3, $4, false, $5)",
                )
                .bind(category.as_uuid())
                .bind(user.as_uuid())
                .bind(row.category.as_str())
                .bind(&key)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                categories.insert(key, category);
                created_categories.push(row.category.clone());
            }

            for chunk in written.chunks(ROWS_PER_INSERT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO expenses (id, user_id, category_id, spent_on, vendor, \
                     amount_minor, currency, note, needs_review, created_at, updated_at) ",
                );
                insert.push_values(chunk, |mut values, row| {
                    let category = categories
                        .get(&row.category.key())
                        .map(|c| c.as_uuid())
                        .unwrap_or_default();
                    values
                        .push_bind(ExpenseId::new().as_uuid())
                        .push_bind(user.as_uuid())
                        .push_bind(category)
                        .push_bind(row.date)
                        .push_bind(row.vendor.as_str().to_owned())
                        .push_bind(row.amount.minor())
                        .push_bind(row.amount.currency().code())
                        .push_bind(row.note.as_ref().map(|n| n.as_str().to_owned()))
                        .push_bind(false)
                        .push_bind(at)
                        .push_bind(at);
                });
                insert.build().execute(&mut *tx).await?;
            }

            let created = written.len() as u64;
            let skipped = (rows.len() - written.len()) as u64;
            sqlx::query(
                "UPDATE imports SET committed_at = $3, created_count = $4, \
                 duplicates_skipped = $5, content = $6 WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(at)
            .bind(created as i64)
            .bind(skipped as i64)
            .bind(Vec::<u8>::new())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO import_shapes (user_id, shape, settings, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, shape) DO UPDATE SET \
                 settings = excluded.settings, updated_at = excluded.updated_at",
            )
            .bind(user.as_uuid())
            .bind(shape)
            .bind(&settings)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(ImportOutcome {
                created,
                duplicates_skipped: skipped,
                categories_created: created_categories,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerly_core::{Currency, Money, Vendor};

    fn row(day: u32, minor: i64, vendor: &str) -> ImportedRow {
        ImportedRow {
            date: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            vendor: Vendor::parse(vendor).unwrap(),
            amount: Money::from_minor(minor, Currency::EUR),
            category: CategoryName::parse("food").unwrap(),
            note: None,
        }
    }

    #[test]
    fn each_recorded_expense_matches_one_row_in_any_case_and_spacing() {
        let rows = [
            row(1, 350, "Café  Central"),
            row(1, 350, "café central"),
            row(1, 351, "Café Central"),
            row(2, 350, "Café Central"),
        ];
        let existing = vec![duplicate_key(
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            350,
            "EUR",
            "CAFÉ CENTRAL",
        )];
        assert_eq!(
            mark_duplicates(&rows, existing),
            [true, false, false, false]
        );
    }

    #[test]
    fn another_currency_is_not_a_duplicate() {
        let rows = [row(1, 350, "Cafe")];
        let existing = vec![duplicate_key(
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            350,
            "USD",
            "Cafe",
        )];
        assert_eq!(mark_duplicates(&rows, existing), [false]);
    }
}
