//! Categories: each account's defaults and its own. Names are unique per account, ignoring case.
//!
//! Deleting a category that still has expenses is refused unless the caller names another
//! category to move them to — expenses are never silently recategorised or lost.

use ledgerly_core::{Category, CategoryId, CategoryName, UserId};

use crate::error::{found, is_unique_violation};
use crate::rows::{CategoryRow, collect};
use crate::{Result, Store, StoreError, now, with_db};

fn name_taken(name: &CategoryName) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |err| {
        if is_unique_violation(&err) {
            StoreError::CategoryNameTaken(name.to_string())
        } else {
            err.into()
        }
    }
}

impl Store {
    /// The user's categories: the defaults first, then their own, each by name.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_categories(&self, user: UserId) -> Result<Vec<Category>> {
        let rows: Vec<CategoryRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT id, name, is_default FROM categories WHERE user_id = $1 \
                 ORDER BY is_default DESC, name_key, id",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await?
        });
        collect(rows)
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_category(&self, user: UserId, id: CategoryId) -> Result<Category> {
        let row: Option<CategoryRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT id, name, is_default FROM categories WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound("category"))?.try_into()
    }

    /// The user's category called `name`, in any case.
    #[tracing::instrument(skip_all, err)]
    pub async fn find_category(
        &self,
        user: UserId,
        name: &CategoryName,
    ) -> Result<Option<Category>> {
        let row: Option<CategoryRow> = with_db!(self, |pool, d| {
            sqlx::query_as(
                "SELECT id, name, is_default FROM categories WHERE user_id = $1 AND name_key = $2",
            )
            .bind(user.as_uuid())
            .bind(name.key())
            .fetch_optional(pool)
            .await?
        });
        row.map(Category::try_from).transpose()
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn create_category(&self, user: UserId, name: &CategoryName) -> Result<Category> {
        let id = CategoryId::new();
        with_db!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO categories (id, user_id, name, name_key, is_default, created_at) \
                 VALUES ($1, $2, $3, $4, false, $5)",
            )
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(name.as_str())
            .bind(name.key())
            .bind(now())
            .execute(pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    name_taken(name)(e)
                } else {
                    crate::error::missing("user")(e)
                }
            })?;
        });
        Ok(Category {
            id,
            name: name.clone(),
            is_default: false,
        })
    }

    /// Renames a category, default or not; its expenses follow it.
    #[tracing::instrument(skip_all, err)]
    pub async fn rename_category(
        &self,
        user: UserId,
        id: CategoryId,
        name: &CategoryName,
    ) -> Result<Category> {
        let done = with_db!(self, |pool, d| {
            sqlx::query(
                "UPDATE categories SET name = $3, name_key = $4 WHERE user_id = $1 AND id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(name.as_str())
            .bind(name.key())
            .execute(pool)
            .await
            .map_err(name_taken(name))?
            .rows_affected()
        });
        found(done, "category")?;
        self.get_category(user, id).await
    }

    /// Deletes a category. Its expenses move to `move_to` when given; without it, a category
    /// that still has expenses is [`StoreError::CategoryInUse`]. Receipts that suggested the
    /// category forget the suggestion. Returns how many expenses moved.
    #[tracing::instrument(skip_all, err)]
    pub async fn delete_category(
        &self,
        user: UserId,
        id: CategoryId,
        move_to: Option<CategoryId>,
    ) -> Result<u64> {
        if move_to == Some(id) {
            return Err(StoreError::Invalid(
                "cannot move a category's expenses into the category being deleted".into(),
            ));
        }
        with_db!(self, |pool, d| {
            let mut tx = pool.begin_with(d.begin()).await?;
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM categories WHERE user_id = $1 AND id = $2")
                    .bind(user.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound("category"));
            }
            let moved = match move_to {
                Some(target) => {
                    let target_exists: Option<i32> = sqlx::query_scalar(
                        "SELECT 1 FROM categories WHERE user_id = $1 AND id = $2",
                    )
                    .bind(user.as_uuid())
                    .bind(target.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if target_exists.is_none() {
                        return Err(StoreError::NotFound("category to move expenses to"));
                    }
                    sqlx::query(
                        "UPDATE expenses SET category_id = $3, updated_at = $4 \
                         WHERE user_id = $1 AND category_id = $2",
                    )
                    .bind(user.as_uuid())
                    .bind(id.as_uuid())
                    .bind(target.as_uuid())
                    .bind(now())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                }
                None => {
                    // The rollups' counts (a row per month and currency), not the expenses.
                    let count: i64 = sqlx::query_scalar(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM expense_rollups \
                         WHERE user_id = $1 AND category_id = $2",
                    )
                    .bind(user.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                    if count > 0 {
                        return Err(StoreError::CategoryInUse {
                            count: count.unsigned_abs(),
                        });
                    }
                    0
                }
            };
            // Recurring expenses follow their expenses, or keep the category from going.
            match move_to {
                Some(target) => {
                    sqlx::query(
                        "UPDATE recurring_rules SET category_id = $3 \
                         WHERE user_id = $1 AND category_id = $2",
                    )
                    .bind(user.as_uuid())
                    .bind(id.as_uuid())
                    .bind(target.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    let rules: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM recurring_rules \
                         WHERE user_id = $1 AND category_id = $2",
                    )
                    .bind(user.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                    if rules > 0 {
                        return Err(StoreError::CategoryInRecurring {
                            count: rules.unsigned_abs(),
                        });
                    }
                }
            }
            sqlx::query(
                "UPDATE receipts SET category_id = NULL WHERE user_id = $1 AND category_id = $2",
            )
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM categories WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(moved)
        })
    }
}
