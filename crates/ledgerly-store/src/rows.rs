//! Rows as the databases return them, and their conversion into domain types. A value that does
//! not convert is reported as [`StoreError::Corrupt`], never silently patched.

use chrono::{DateTime, NaiveDate, Utc};
use ledgerly_core::{
    Category, CategoryName, Currency, Email, Expense, Money, Note, OcrStatus, PersonName, Receipt,
    ReceiptKind, TagName, Unsure, User, UserTimeZone, Vendor,
};
use uuid::Uuid;

use crate::StoreError;

pub(crate) fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::from_code(code).map_err(StoreError::corrupt)
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    pub theme: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`UserRow`].
macro_rules! user_columns {
    () => {
        "id, email, name, currency, time_zone, theme, role, created_at"
    };
}
pub(crate) use user_columns;

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: row.id.into(),
            email: Email::parse(&row.email).map_err(StoreError::corrupt)?,
            name: PersonName::parse(&row.name).map_err(StoreError::corrupt)?,
            currency: currency(&row.currency)?,
            time_zone: UserTimeZone::parse(&row.time_zone).map_err(StoreError::corrupt)?,
            theme: row.theme.parse().map_err(StoreError::corrupt)?,
            role: row.role.parse().map_err(StoreError::corrupt)?,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CategoryRow {
    pub id: Uuid,
    pub name: String,
    pub is_default: bool,
}

impl TryFrom<CategoryRow> for Category {
    type Error = StoreError;

    fn try_from(row: CategoryRow) -> Result<Self, StoreError> {
        Ok(Category {
            id: row.id.into(),
            name: CategoryName::parse(&row.name).map_err(StoreError::corrupt)?,
            is_default: row.is_default,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExpenseRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub category_id: Uuid,
    pub category: String,
    pub spent_on: NaiveDate,
    pub occurred_at: Option<DateTime<Utc>>,
    pub vendor: String,
    pub amount_minor: i64,
    pub currency: String,
    pub note: Option<String>,
    pub needs_review: bool,
    pub receipt_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The tag names joined by U+001F, in key order; `NULL` (SQLite) or empty (PostgreSQL)
    /// without tags.
    pub tags: Option<String>,
    pub recurring_id: Option<Uuid>,
}

/// `SELECT` of every [`ExpenseRow`] column, from `expenses e` joined to its category `c`.
macro_rules! expense_select {
    () => {
        concat!(
            "SELECT ",
            $crate::rows::expense_columns!(),
            " FROM expenses e JOIN categories c ON c.id = e.category_id "
        )
    };
}
pub(crate) use expense_select;

/// Every [`ExpenseRow`] column, of `expenses e` and its category `c`.
/// The tags are one string (`string_agg`, which SQLite has since 3.44 too), so the row has the
/// same shape on both backends; U+001F cannot be in a tag (control characters are refused).
macro_rules! expense_columns {
    () => {
        "e.id, e.user_id, e.category_id, c.name AS category, e.spent_on, e.occurred_at, \
         e.vendor, e.amount_minor, e.currency, e.note, e.needs_review, e.receipt_id, \
         e.created_at, e.updated_at, e.recurring_id, \
         (SELECT string_agg(t.name, '\u{1f}' ORDER BY t.name_key) FROM expense_tags et \
         JOIN tags t ON t.id = et.tag_id WHERE et.expense_id = e.id) AS tags"
    };
}
pub(crate) use expense_columns;

impl TryFrom<ExpenseRow> for Expense {
    type Error = StoreError;

    fn try_from(row: ExpenseRow) -> Result<Self, StoreError> {
        Ok(Expense {
            id: row.id.into(),
            user_id: row.user_id.into(),
            category_id: row.category_id.into(),
            category: CategoryName::parse(&row.category).map_err(StoreError::corrupt)?,
            date: row.spent_on,
            occurred_at: row.occurred_at,
            vendor: Vendor::parse(&row.vendor).map_err(StoreError::corrupt)?,
            amount: Money::from_minor(row.amount_minor, currency(&row.currency)?),
            note: row
                .note
                .as_deref()
                .map(Note::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            needs_review: row.needs_review,
            receipt_id: row.receipt_id.map(Into::into),
            tags: row
                .tags
                .as_deref()
                .unwrap_or_default()
                .split('\u{1f}')
                .filter(|name| !name.is_empty())
                .map(TagName::parse)
                .collect::<Result<_, _>>()
                .map_err(StoreError::corrupt)?,
            recurring_id: row.recurring_id.map(Into::into),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReceiptRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub object_key: String,
    pub kind: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub original_filename: Option<String>,
    pub category_id: Option<Uuid>,
    pub status: String,
    pub failure_reason: Option<String>,
    pub expense_id: Option<Uuid>,
    pub ocr_unsure: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `SELECT` of every [`ReceiptRow`] column, from `receipts r` with the expense it produced.
macro_rules! receipt_select {
    () => {
        "SELECT r.id, r.user_id, r.object_key, r.kind, r.size_bytes, r.sha256, \
         r.original_filename, r.category_id, r.status, r.failure_reason, \
         (SELECT x.id FROM expenses x WHERE x.receipt_id = r.id) AS expense_id, \
         r.ocr_unsure, r.created_at, r.updated_at FROM receipts r "
    };
}
pub(crate) use receipt_select;

impl TryFrom<ReceiptRow> for Receipt {
    type Error = StoreError;

    fn try_from(row: ReceiptRow) -> Result<Self, StoreError> {
        Ok(Receipt {
            id: row.id.into(),
            user_id: row.user_id.into(),
            object_key: row.object_key,
            kind: row
                .kind
                .parse::<ReceiptKind>()
                .map_err(StoreError::corrupt)?,
            size_bytes: row.size_bytes,
            sha256: row.sha256,
            original_filename: row.original_filename,
            category_id: row.category_id.map(Into::into),
            status: OcrStatus::from_parts(&row.status, row.failure_reason)
                .map_err(StoreError::corrupt)?,
            expense_id: row.expense_id.map(Into::into),
            unsure: Unsure::from_list(&row.ocr_unsure).map_err(StoreError::corrupt)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) fn collect<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}
