//! Tags: the user's list with how many expenses carry each, rename, merge, delete, and what the
//! expenses with each tag add up to. Tags are put on expenses by `create_expense` and
//! `update_expense`, which create the ones the user does not have yet.

use chrono::NaiveDate;
use ledgerly_core::{Currency, Money, TagId, TagName, TagTotal, TagUse, UserId};
use uuid::Uuid;

use crate::error::{found, is_unique_violation};
use crate::{Result, Store, StoreError, with_db};

fn tag_name(name: &str) -> Result<TagName> {
    TagName::parse(name).map_err(StoreError::corrupt)
}

impl Store {
    /// The user's tags by name, each with how many expenses carry it.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_tags(&self, user: UserId) -> Result<Vec<TagUse>> {
        let rows: Vec<(Uuid, String, i64)> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT t.id, t.name, \
                 (SELECT COUNT(*) FROM expense_tags et WHERE et.tag_id = t.id) AS expenses \
                 FROM tags t WHERE t.user_id = $1 ORDER BY t.name_key",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(id, name, expenses)| {
                Ok(TagUse {
                    id: id.into(),
                    name: tag_name(&name)?,
                    expenses: expenses.unsigned_abs(),
                })
            })
            .collect()
    }

    /// Renames a tag; its expenses keep it. A name another of the user's tags has is
    /// [`StoreError::TagNameTaken`]: merge the two instead.
    #[tracing::instrument(skip_all, err)]
    pub async fn rename_tag(&self, user: UserId, id: TagId, name: &TagName) -> Result<()> {
        let renamed = with_db!(self, |pool, d| {
            sqlx::query("UPDATE tags SET name = $3, name_key = $4 WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .bind(name.as_str())
                .bind(name.key())
                .execute(pool)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::TagNameTaken(name.as_str().to_owned())
                    } else {
                        e.into()
                    }
                })?
                .rows_affected()
        });
        found(renamed, "tag")
    }

    /// Moves every expense of tag `from` to tag `into` (an expense with both keeps one) and
    /// deletes `from`, in one transaction. Returns how many expenses `from` had.
    #[tracing::instrument(skip_all, err)]
    pub async fn merge_tags(&self, user: UserId, from: TagId, into: TagId) -> Result<u64> {
        if from == into {
            return Err(StoreError::Invalid(
                "a tag cannot be merged into itself".into(),
            ));
        }
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let mine: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tags WHERE user_id = $1 AND (id = $2 OR id = $3)",
            )
            .bind(user.as_uuid())
            .bind(from.as_uuid())
            .bind(into.as_uuid())
            .fetch_one(&mut *tx)
            .await?;
            if mine != 2 {
                return Err(StoreError::NotFound("tag"));
            }
            let moved: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM expense_tags WHERE tag_id = $1")
                    .bind(from.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query(
                "INSERT INTO expense_tags (expense_id, user_id, tag_id) \
                 SELECT expense_id, user_id, $2 FROM expense_tags WHERE tag_id = $1 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(from.as_uuid())
            .bind(into.as_uuid())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM tags WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(from.as_uuid())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(moved.unsigned_abs())
        })
    }

    /// Deletes a tag; its expenses stay, without it.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_tag(&self, user: UserId, id: TagId) -> Result<()> {
        let deleted = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM tags WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(deleted, "tag")
    }

    /// The user's tag called `name`, in any case.
    #[tracing::instrument(skip_all, err)]
    pub async fn find_tag(&self, user: UserId, name: &TagName) -> Result<Option<TagId>> {
        let id: Option<Uuid> = with_db!(self, |pool, d| {
            sqlx::query_scalar("SELECT id FROM tags WHERE user_id = $1 AND name_key = $2")
                .bind(user.as_uuid())
                .bind(name.key())
                .fetch_optional(pool)
                .await?
        });
        Ok(id.map(Into::into))
    }

    /// What the expenses with each tag add up to from `first` to `last` (days included), in
    /// `currency` (the account's: others converted at their day's rate, those no rate converts
    /// left out), largest first. An expense with two tags counts in both.
    #[tracing::instrument(skip_all, err)]
    pub async fn tag_totals(
        &self,
        user: UserId,
        first: NaiveDate,
        last: NaiveDate,
        currency: Currency,
    ) -> Result<Vec<TagTotal>> {
        // Name, key, total, count; and per currency and day.
        type Home = (String, String, i64, i64);
        type Foreign = (String, String, String, NaiveDate, i64, i64);
        let (rows, foreign): (Vec<Home>, Vec<Foreign>) = with_db!(self, |pool, d| {
            let rows = sqlx::query_as(
                "SELECT t.name, t.name_key, CAST(SUM(e.amount_minor) AS BIGINT) AS total, \
                     COUNT(*) AS n \
                     FROM tags t JOIN expense_tags et ON et.tag_id = t.id \
                     JOIN expenses e ON e.id = et.expense_id \
                     WHERE t.user_id = $1 AND e.spent_on >= $2 AND e.spent_on <= $3 \
                     AND e.currency = $4 \
                     GROUP BY t.id, t.name, t.name_key",
            )
            .bind(user.as_uuid())
            .bind(first)
            .bind(last)
            .bind(currency.code())
            .fetch_all(pool)
            .await?;
            // Other currencies per day, to convert at each day's rate.
            let foreign = sqlx::query_as(
                "SELECT t.name, t.name_key, e.currency, e.spent_on, \
                     CAST(SUM(e.amount_minor) AS BIGINT) AS total, COUNT(*) AS n \
                     FROM tags t JOIN expense_tags et ON et.tag_id = t.id \
                     JOIN expenses e ON e.id = et.expense_id \
                     WHERE t.user_id = $1 AND e.spent_on >= $2 AND e.spent_on <= $3 \
                     AND e.currency <> $4 \
                     GROUP BY t.id, t.name, t.name_key, e.currency, e.spent_on",
            )
            .bind(user.as_uuid())
            .bind(first)
            .bind(last)
            .bind(currency.code())
            .fetch_all(pool)
            .await?;
            (rows, foreign)
        });
        let mut totals: std::collections::BTreeMap<String, (String, i64, i64)> = rows
            .into_iter()
            .map(|(name, key, total, n)| (key, (name, total, n)))
            .collect();
        if !foreign.is_empty() {
            let mut currencies = foreign
                .iter()
                .map(|row| crate::rows::currency(&row.2))
                .collect::<Result<Vec<_>>>()?;
            currencies.sort();
            currencies.dedup();
            let book = self
                .rate_book(user, currency, &currencies, (first, last))
                .await?;
            for (name, key, code, day, total, n) in foreign {
                let amount = Money::from_minor(total, crate::rows::currency(&code)?);
                if let Some(converted) = book.convert(amount, day) {
                    let entry = totals.entry(key).or_insert((name, 0, 0));
                    entry.1 += converted.minor();
                    entry.2 += n;
                }
            }
        }
        let mut totals = totals
            .into_iter()
            .map(|(key, (name, total, count))| {
                Ok((
                    key,
                    TagTotal {
                        tag: tag_name(&name)?,
                        amount: Money::from_minor(total, currency),
                        count: count.unsigned_abs(),
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // Largest first; a tie by name.
        totals.sort_by(|(a_key, a), (b_key, b)| {
            b.amount
                .minor()
                .cmp(&a.amount.minor())
                .then_with(|| a_key.cmp(b_key))
        });
        Ok(totals.into_iter().map(|(_, total)| total).collect())
    }
}
