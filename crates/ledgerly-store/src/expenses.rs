//! Expenses: create, read, change, delete, and the filtered, sorted, paginated list.

use chrono::NaiveDate;
use ledgerly_core::{
    CategoryId, Expense, ExpenseChanges, ExpenseId, NewExpense, TagId, TagMatch, TagName, UserId,
};
use sqlx::QueryBuilder;

use crate::error::{found, missing};
use crate::rows::{ExpenseRow, collect, expense_columns, expense_select};
use crate::{Dialect, Page, Result, Store, StoreError, micros, now, with_db};

/// What to sort the list by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortField {
    #[default]
    Date,
    Amount,
    Vendor,
    Created,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortDirection {
    Ascending,
    #[default]
    Descending,
}

/// A sort order; ties are broken by id, so pages never overlap or skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpenseSort {
    pub field: SortField,
    pub direction: SortDirection,
}

/// Filters, order and page of an expense list. The default is the first 50, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpenseQuery {
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    pub category: Option<CategoryId>,
    /// Text to find: the vendor contains it (any case), or each of its words begins a word of
    /// the vendor, the note or the receipt's OCR text.
    pub search: Option<String>,
    pub needs_review: Option<bool>,
    /// Only expenses with these tags: any of them, or all (`tags_match`).
    pub tags: Vec<TagName>,
    pub tags_match: TagMatch,
    pub sort: ExpenseSort,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl ExpenseQuery {
    pub const MAX_PER_PAGE: u32 = 500;

    /// Whether the query selects every expense of the user.
    fn is_unfiltered(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.category.is_none()
            && self.search.as_deref().is_none_or(|t| t.trim().is_empty())
            && self.needs_review.is_none()
            && self.tags.is_empty()
    }
}

impl Default for ExpenseQuery {
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            category: None,
            search: None,
            needs_review: None,
            tags: Vec::new(),
            tags_match: TagMatch::Any,
            sort: ExpenseSort::default(),
            page: 1,
            per_page: 50,
        }
    }
}

/// `%` and `_` in the search text are literal characters, not wildcards.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The words of a search, lower-cased: runs of letters and digits, at most 16 of them. Anything
/// else separates words, so no text reaches a full-text query's own syntax.
fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(str::to_lowercase)
        .collect()
}

/// Appends the query's `WHERE` conditions (after `e.user_id = …`) to `qb`.
pub(crate) fn push_filters<'a, DB>(
    qb: &mut QueryBuilder<DB>,
    dialect: Dialect,
    user: UserId,
    query: &'a ExpenseQuery,
) where
    DB: sqlx::Database,
    uuid::Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push(" WHERE e.user_id = ").push_bind(user.as_uuid());
    if let Some(from) = query.from {
        qb.push(" AND e.spent_on >= ").push_bind(from);
    }
    if let Some(to) = query.to {
        qb.push(" AND e.spent_on <= ").push_bind(to);
    }
    if let Some(category) = query.category {
        qb.push(" AND e.category_id = ")
            .push_bind(category.as_uuid());
    }
    if let Some(text) = query.search.as_deref().filter(|t| !t.trim().is_empty()) {
        // The vendor containing the text (the trigram index: partial vendors), or every word of
        // it starting a word of the vendor, the note or the receipt's OCR text (full text).
        qb.push(dialect.pick(" AND (e.vendor ILIKE ", " AND (e.vendor LIKE "))
            .push_bind(like_pattern(text.trim()))
            .push(" ESCAPE '\\'");
        let words = search_words(text);
        if !words.is_empty() {
            match dialect {
                Dialect::Postgres => {
                    let tsquery = words
                        .iter()
                        .map(|w| format!("{w}:*"))
                        .collect::<Vec<_>>()
                        .join(" & ");
                    // `= ANY(ARRAY(…))`, not `IN (…)`: each arm of the OR is then an index
                    // scan (trigram, full text, receipt id) and PostgreSQL ORs the bitmaps; an
                    // `IN` subplan made it read every one of the user's rows instead.
                    qb.push(" OR e.search @@ to_tsquery('simple', ")
                        .push_bind(tsquery.clone())
                        .push(
                            ") OR e.receipt_id = ANY(ARRAY(SELECT r.id FROM receipts r \
                             WHERE r.user_id = ",
                        )
                        .push_bind(user.as_uuid())
                        .push(" AND r.ocr_search @@ to_tsquery('simple', ")
                        .push_bind(tsquery)
                        .push(")))");
                }
                Dialect::Sqlite => {
                    let pattern = words
                        .iter()
                        .map(|w| format!("\"{w}\"*"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    qb.push(
                        " OR e.id IN (SELECT k.expense_id FROM expense_search \
                         JOIN expense_search_keys k ON k.n = expense_search.rowid \
                         WHERE expense_search MATCH ",
                    )
                    .push_bind(pattern)
                    .push(")");
                }
            }
        }
        // A tag whose name contains the text.
        qb.push(dialect.pick(
            " OR e.id = ANY(ARRAY(SELECT et.expense_id FROM expense_tags et \
             JOIN tags t ON t.id = et.tag_id WHERE t.user_id = ",
            " OR e.id IN (SELECT et.expense_id FROM expense_tags et \
             JOIN tags t ON t.id = et.tag_id WHERE t.user_id = ",
        ))
        .push_bind(user.as_uuid())
        .push(dialect.pick(" AND t.name ILIKE ", " AND t.name LIKE "))
        .push_bind(like_pattern(text.trim()))
        .push(dialect.pick(" ESCAPE '\\'))", " ESCAPE '\\')"));
        qb.push(")");
    }
    let mut keys: Vec<String> = query.tags.iter().map(TagName::key).collect();
    keys.sort();
    keys.dedup();
    if !keys.is_empty() {
        // Any: one of the tags; all: as many of them as were asked for.
        qb.push(match query.tags_match {
            TagMatch::Any => " AND EXISTS (SELECT 1",
            TagMatch::All => " AND (SELECT COUNT(*)",
        })
        .push(
            " FROM expense_tags et JOIN tags t ON t.id = et.tag_id \
             WHERE et.expense_id = e.id AND t.name_key IN (",
        );
        let count = keys.len() as i64;
        let mut list = qb.separated(", ");
        for key in keys {
            list.push_bind(key);
        }
        qb.push("))");
        if query.tags_match == TagMatch::All {
            qb.push(" = ").push_bind(count);
        }
    }
    if let Some(needs_review) = query.needs_review {
        qb.push(" AND e.needs_review = ").push_bind(needs_review);
    }
}

pub(crate) fn order_by(sort: ExpenseSort) -> &'static str {
    use SortDirection::*;
    use SortField::*;
    match (sort.field, sort.direction) {
        (Date, Descending) => " ORDER BY e.spent_on DESC, e.id DESC",
        (Date, Ascending) => " ORDER BY e.spent_on ASC, e.id ASC",
        (Amount, Descending) => " ORDER BY e.amount_minor DESC, e.id DESC",
        (Amount, Ascending) => " ORDER BY e.amount_minor ASC, e.id ASC",
        (Vendor, Descending) => " ORDER BY lower(e.vendor) DESC, e.id DESC",
        (Vendor, Ascending) => " ORDER BY lower(e.vendor) ASC, e.id ASC",
        (Created, Descending) => " ORDER BY e.created_at DESC, e.id DESC",
        (Created, Ascending) => " ORDER BY e.created_at ASC, e.id ASC",
    }
}

/// Where a page sits in the sorted list. A page past the middle is read from the other end in
/// the reverse order and flipped back: the order is total (ties broken by id), so the rows are
/// the same, and the database skips at most half the list instead of nearly all of it.
#[derive(Debug, PartialEq, Eq)]
struct PageWindow {
    sort: ExpenseSort,
    offset: i64,
    limit: i64,
    reversed: bool,
}

impl PageWindow {
    fn new(offset: i64, per_page: i64, total: i64, sort: ExpenseSort) -> Self {
        let limit = per_page.min(total - offset).max(0);
        if offset * 2 <= total {
            return Self {
                sort,
                offset,
                limit,
                reversed: false,
            };
        }
        let direction = match sort.direction {
            SortDirection::Ascending => SortDirection::Descending,
            SortDirection::Descending => SortDirection::Ascending,
        };
        Self {
            sort: ExpenseSort {
                field: sort.field,
                direction,
            },
            offset: total - offset - limit,
            limit,
            reversed: true,
        }
    }
}

/// Changes the fields given (`$3`…`$10`, `NULL` for those left) of one expense of one user
/// (`$1`, `$2`) and stamps `updated_at` (`$11`); `$8` says whether the note (`$9`) is given.
macro_rules! update_expense {
    () => {
        "UPDATE expenses SET \
         category_id = COALESCE($3, category_id), \
         spent_on = COALESCE($4, spent_on), \
         vendor = COALESCE($5, vendor), \
         amount_minor = COALESCE($6, amount_minor), \
         currency = COALESCE($7, currency), \
         note = CASE WHEN $8 THEN $9 ELSE note END, \
         needs_review = COALESCE($10, needs_review), \
         updated_at = $11 \
         WHERE user_id = $1 AND id = $2"
    };
}

/// One expense of one user, by id: `$1` the user, `$2` the expense.
const EXPENSE_BY_ID: &str = concat!(expense_select!(), "WHERE e.user_id = $1 AND e.id = $2");

/// Runs `$write` — on PostgreSQL the write and its read-back in one statement, on SQLite the
/// write alone — and gives the expense `$id` of `$user` as it now is: on SQLite read back in the
/// write's transaction. Either way the answer never depends on a round trip after the commit.
/// With `$tags` (`Some`: the expense's whole set), the write, the tags and the read-back are one
/// transaction on both backends.
macro_rules! written_and_read_back {
    ($write:expr, $pool:expr, $dialect:expr, $user:expr, $id:expr, $tags:expr) => {{
        let tags: Option<&[TagName]> = $tags;
        if $dialect == Dialect::Postgres && tags.is_none() {
            $write
                .fetch_optional($pool)
                .await
                .map_err(missing("category"))?
        } else {
            let mut tx = $pool.begin_with($dialect.begin()).await?;
            let _: Option<ExpenseRow> = $write
                .fetch_optional(&mut *tx)
                .await
                .map_err(missing("category"))?;
            let mut row: Option<ExpenseRow> = sqlx::query_as(EXPENSE_BY_ID)
                .bind($user.as_uuid())
                .bind($id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
            if let (Some(_), Some(tags)) = (&row, tags) {
                let at = now();
                sqlx::query("DELETE FROM expense_tags WHERE expense_id = $1")
                    .bind($id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                for tag in tags {
                    sqlx::query(
                        "INSERT INTO tags (id, user_id, name, name_key, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, name_key) DO NOTHING",
                    )
                    .bind(TagId::new().as_uuid())
                    .bind($user.as_uuid())
                    .bind(tag.as_str())
                    .bind(tag.key())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    // From the user's own expense and tag only.
                    sqlx::query(
                        "INSERT INTO expense_tags (expense_id, user_id, tag_id) \
                         SELECT e.id, e.user_id, t.id FROM expenses e \
                         JOIN tags t ON t.user_id = e.user_id \
                         WHERE e.user_id = $1 AND e.id = $2 AND t.name_key = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind($user.as_uuid())
                    .bind($id.as_uuid())
                    .bind(tag.key())
                    .execute(&mut *tx)
                    .await?;
                }
                row = sqlx::query_as(EXPENSE_BY_ID)
                    .bind($user.as_uuid())
                    .bind($id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            row
        }
    }};
}

/// `tags` as the set an expense carries, or why it cannot.
fn tag_set(tags: Vec<TagName>) -> Result<Vec<TagName>> {
    ledgerly_core::tag::tag_set(tags).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Store {
    /// Records an expense. The category (and receipt, if any) must be the user's own.
    #[tracing::instrument(skip_all, err)]
    pub async fn create_expense(&self, user: UserId, new: NewExpense) -> Result<Expense> {
        let id = ExpenseId::new();
        ledgerly_core::expense::ensure_spendable(new.amount)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let at = now();
        let tags = tag_set(new.tags)?;
        let tags = (!tags.is_empty()).then_some(tags.as_slice());
        // Written and read back in one statement on PostgreSQL, in one transaction on SQLite
        // (whose RETURNING cannot join): the answer never depends on a round trip after the
        // commit (a connection lost there would report a failure for a row that was written).
        // One statement also holds the locks the write takes — the user's count and the month's
        // rollup, which every write of that user and month shares — for the shortest time.
        let row: Option<ExpenseRow> = with_db!(self, |pool, d| {
            let insert = sqlx::query_as(d.pick(
                concat!(
                    "WITH e AS (INSERT INTO expenses (id, user_id, category_id, spent_on, \
                     occurred_at, vendor, amount_minor, currency, note, needs_review, receipt_id, \
                     created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING *) \
                     SELECT ",
                    expense_columns!(),
                    " FROM e JOIN categories c ON c.id = e.category_id"
                ),
                "INSERT INTO expenses (id, user_id, category_id, spent_on, occurred_at, vendor, \
                 amount_minor, currency, note, needs_review, receipt_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            ))
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(new.category_id.as_uuid())
            .bind(new.date)
            .bind(new.occurred_at.map(micros))
            .bind(new.vendor.as_str())
            .bind(new.amount.minor())
            .bind(new.amount.currency().code())
            .bind(new.note.as_ref().map(|n| n.as_str()))
            .bind(new.needs_review)
            .bind(new.receipt_id.map(|r| r.as_uuid()))
            .bind(at);
            written_and_read_back!(insert, pool, d, user, id, tags)
        });
        row.ok_or(StoreError::NotFound("expense"))?.try_into()
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn get_expense(&self, user: UserId, id: ExpenseId) -> Result<Expense> {
        let row: Option<ExpenseRow> = with_db!(self, |pool, d| {
            sqlx::query_as(EXPENSE_BY_ID)
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(pool)
                .await?
        });
        row.ok_or(StoreError::NotFound("expense"))?.try_into()
    }

    /// Changes the given fields and leaves the others.
    #[tracing::instrument(skip_all, err)]
    pub async fn update_expense(
        &self,
        user: UserId,
        id: ExpenseId,
        changes: ExpenseChanges,
    ) -> Result<Expense> {
        if let Some(amount) = changes.amount {
            ledgerly_core::expense::ensure_spendable(amount)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
        }
        let tags = changes.tags.map(tag_set).transpose()?;
        let tags = tags.as_deref();
        // Changed and read back as a create is: one statement on PostgreSQL (the rollup rows
        // the change moves between are locked for the shortest time), one transaction on
        // SQLite. No row means no such expense of this user.
        let row: Option<ExpenseRow> = with_db!(self, |pool, d| {
            let update = sqlx::query_as(d.pick(
                concat!(
                    "WITH e AS (",
                    update_expense!(),
                    " RETURNING *) SELECT ",
                    expense_columns!(),
                    " FROM e JOIN categories c ON c.id = e.category_id"
                ),
                update_expense!(),
            ))
            .bind(user.as_uuid())
            .bind(id.as_uuid())
            .bind(changes.category_id.map(|c| c.as_uuid()))
            .bind(changes.date)
            .bind(changes.vendor.as_ref().map(|v| v.as_str()))
            .bind(changes.amount.map(|a| a.minor()))
            .bind(changes.amount.map(|a| a.currency().code()))
            .bind(changes.note.is_some())
            .bind(
                changes
                    .note
                    .as_ref()
                    .and_then(|n| n.as_ref())
                    .map(|n| n.as_str()),
            )
            .bind(changes.needs_review)
            .bind(now());
            written_and_read_back!(update, pool, d, user, id, tags)
        });
        row.ok_or(StoreError::NotFound("expense"))?.try_into()
    }

    /// Marks an expense OCR filled in as checked by its owner.
    pub async fn confirm_expense(&self, user: UserId, id: ExpenseId) -> Result<Expense> {
        let changes = ExpenseChanges {
            needs_review: Some(false),
            ..ExpenseChanges::default()
        };
        self.update_expense(user, id, changes).await
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn delete_expense(&self, user: UserId, id: ExpenseId) -> Result<()> {
        let done = with_db!(self, |pool, d| {
            sqlx::query("DELETE FROM expenses WHERE user_id = $1 AND id = $2")
                .bind(user.as_uuid())
                .bind(id.as_uuid())
                .execute(pool)
                .await?
                .rows_affected()
        });
        found(done, "expense")
    }

    /// One page of the user's expenses matching `query`, and how many match in all.
    #[tracing::instrument(skip_all, err)]
    pub async fn list_expenses(&self, user: UserId, query: &ExpenseQuery) -> Result<Page<Expense>> {
        if query.page == 0 {
            return Err(StoreError::Invalid("page numbers start at 1".into()));
        }
        if !(1..=ExpenseQuery::MAX_PER_PAGE).contains(&query.per_page) {
            return Err(StoreError::Invalid(format!(
                "per_page must be between 1 and {}",
                ExpenseQuery::MAX_PER_PAGE
            )));
        }
        let offset = i64::from(query.page - 1) * i64::from(query.per_page);
        let (rows, total) = if offset < ONE_STATEMENT_DEPTH {
            self.shallow_page(user, query, offset).await?
        } else {
            self.deep_page(user, query, offset).await?
        };
        Ok(Page {
            items: collect(rows)?,
            total: total.unsigned_abs(),
            page: query.page,
            per_page: query.per_page,
        })
    }
}

/// Pages that start above this row are read with their total in one statement; deeper ones
/// count first, to read from whichever end of the list is nearer.
const ONE_STATEMENT_DEPTH: i64 = 5_000;

/// A listed row with the total the list's statement counted beside it.
#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    row: ExpenseRow,
    total: i64,
}

/// Appends the statement counting what `query` selects, as a scalar subquery: one row of
/// `expense_counts` (kept by triggers, migration 0002) for the unfiltered list, a count of the
/// matches otherwise.
fn push_count<'a, DB>(
    qb: &mut QueryBuilder<DB>,
    dialect: Dialect,
    user: UserId,
    query: &'a ExpenseQuery,
) where
    DB: sqlx::Database,
    uuid::Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if query.is_unfiltered() {
        qb.push("SELECT COALESCE((SELECT n FROM expense_counts WHERE user_id = ")
            .push_bind(user.as_uuid())
            .push("), 0)");
    } else {
        qb.push("SELECT COUNT(*) FROM expenses e");
        push_filters(qb, dialect, user, query);
    }
}

impl Store {
    /// A page near the top, read with the list's total in one statement: the count is an
    /// uncorrelated subquery both databases run once. Only a page with no row (past the end)
    /// needs a second statement for the total.
    async fn shallow_page(
        &self,
        user: UserId,
        query: &ExpenseQuery,
        offset: i64,
    ) -> Result<(Vec<ExpenseRow>, i64)> {
        let rows: Vec<CountedRow> = with_db!(self, |pool, d| {
            let mut page = QueryBuilder::new(concat!("SELECT ", expense_columns!(), ", ("));
            push_count(&mut page, d, user, query);
            page.push(") AS total FROM expenses e JOIN categories c ON c.id = e.category_id");
            push_filters(&mut page, d, user, query);
            page.push(order_by(query.sort))
                .push(" LIMIT ")
                .push_bind(i64::from(query.per_page))
                .push(" OFFSET ")
                .push_bind(offset);
            page.build_query_as().fetch_all(pool).await?
        });
        let total = match rows.first() {
            Some(first) => first.total,
            None if offset == 0 => 0,
            None => self.count(user, query).await?,
        };
        Ok((rows.into_iter().map(|r| r.row).collect(), total))
    }

    /// How many expenses `query` selects.
    async fn count(&self, user: UserId, query: &ExpenseQuery) -> Result<i64> {
        Ok(with_db!(self, |pool, d| {
            let mut count = QueryBuilder::new("");
            push_count(&mut count, d, user, query);
            count.build_query_scalar().fetch_one(pool).await?
        }))
    }

    /// A deep page: the total first, then the page read from the nearer end of the list through
    /// ids alone — a deep page walks the narrow index, not the table.
    async fn deep_page(
        &self,
        user: UserId,
        query: &ExpenseQuery,
        offset: i64,
    ) -> Result<(Vec<ExpenseRow>, i64)> {
        let total = self.count(user, query).await?;
        if offset >= total {
            return Ok((Vec::new(), total));
        }
        let window = PageWindow::new(offset, i64::from(query.per_page), total, query.sort);
        let mut rows: Vec<ExpenseRow> = with_db!(self, |pool, d| {
            let mut page = QueryBuilder::new(concat!(
                expense_select!(),
                "WHERE e.id IN (SELECT e.id FROM expenses e"
            ));
            push_filters(&mut page, d, user, query);
            page.push(order_by(window.sort))
                .push(" LIMIT ")
                .push_bind(window.limit)
                .push(" OFFSET ")
                .push_bind(window.offset)
                .push(")")
                .push(order_by(window.sort));
            page.build_query_as().fetch_all(pool).await?
        });
        if window.reversed {
            rows.reverse();
        }
        Ok((rows, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_past_the_middle_are_read_from_the_other_end() {
        let sort = ExpenseSort::default();
        assert_eq!(
            PageWindow::new(0, 50, 1_000, sort),
            PageWindow {
                sort,
                offset: 0,
                limit: 50,
                reversed: false
            }
        );
        let flipped = ExpenseSort {
            field: SortField::Date,
            direction: SortDirection::Ascending,
        };
        // The last, partial page of 23 rows in pages of 7: rows 21 and 22 are the first two
        // of the reversed list.
        assert_eq!(
            PageWindow::new(21, 7, 23, sort),
            PageWindow {
                sort: flipped,
                offset: 0,
                limit: 2,
                reversed: true
            }
        );
        assert_eq!(
            PageWindow::new(14, 7, 23, sort),
            PageWindow {
                sort: flipped,
                offset: 2,
                limit: 7,
                reversed: true
            }
        );
    }

    #[test]
    fn wildcards_in_search_text_are_literal() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
