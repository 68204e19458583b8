//! Expenses: who was paid, how much, on which day, in which category.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ids::{CategoryId, ExpenseId, ReceiptId, RecurringId, UserId};
use crate::money::Money;
use crate::text::{CategoryName, Note, TagName, Vendor};

/// A recorded expense.
///
/// `date` is the calendar day the money was spent in the user's own reckoning — the date on the
/// receipt — and is what months and statistics group by, so changing one's time zone never moves
/// an expense to another day. When an expense is recorded from an instant (an upload, "now"), the
/// day is that instant's date in the user's zone, and the instant is kept in `occurred_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expense {
    pub id: ExpenseId,
    pub user_id: UserId,
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub date: NaiveDate,
    pub occurred_at: Option<DateTime<Utc>>,
    pub vendor: Vendor,
    pub amount: Money,
    pub note: Option<Note>,
    /// Filled in by OCR and not yet confirmed by its owner.
    pub needs_review: bool,
    pub receipt_id: Option<ReceiptId>,
    /// Its tags, each once, sorted by key.
    pub tags: Vec<TagName>,
    /// The recurring rule that made it, while the rule exists.
    pub recurring_id: Option<RecurringId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why an expense cannot be recorded as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpenseError {
    #[error("the amount must be greater than zero (got {0})")]
    NotPositive(String),
}

/// An amount that may be spent: strictly positive.
pub fn ensure_spendable(amount: Money) -> Result<Money, ExpenseError> {
    if amount.is_positive() {
        Ok(amount)
    } else {
        Err(ExpenseError::NotPositive(amount.to_decimal_string()))
    }
}

/// The fields of a new expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExpense {
    pub category_id: CategoryId,
    pub date: NaiveDate,
    pub occurred_at: Option<DateTime<Utc>>,
    pub vendor: Vendor,
    pub amount: Money,
    pub note: Option<Note>,
    pub needs_review: bool,
    pub receipt_id: Option<ReceiptId>,
    /// Its tags (created if the user has none of that name); see [`crate::tag::tag_set`].
    pub tags: Vec<TagName>,
}

impl NewExpense {
    /// A confirmed expense on a calendar day.
    pub fn new(
        category_id: CategoryId,
        date: NaiveDate,
        vendor: Vendor,
        amount: Money,
    ) -> Result<Self, ExpenseError> {
        Ok(Self {
            category_id,
            date,
            occurred_at: None,
            vendor,
            amount: ensure_spendable(amount)?,
            note: None,
            needs_review: false,
            receipt_id: None,
            tags: Vec::new(),
        })
    }

    /// An expense that happened at `instant`, dated by that instant's day in the user's zone.
    pub fn at_instant(
        category_id: CategoryId,
        instant: DateTime<Utc>,
        zone: crate::time::UserTimeZone,
        vendor: Vendor,
        amount: Money,
    ) -> Result<Self, ExpenseError> {
        let mut expense = Self::new(category_id, zone.local_date(instant), vendor, amount)?;
        expense.occurred_at = Some(instant);
        Ok(expense)
    }
}

/// A partial update: `None` leaves a field as it is. `note: Some(None)` clears the note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpenseChanges {
    pub category_id: Option<CategoryId>,
    pub date: Option<NaiveDate>,
    pub vendor: Option<Vendor>,
    pub amount: Option<Money>,
    pub note: Option<Option<Note>>,
    pub needs_review: Option<bool>,
    /// The whole set of tags, replacing the ones it has.
    pub tags: Option<Vec<TagName>>,
}

impl ExpenseChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::currency::Currency;
    use crate::time::UserTimeZone;
    use chrono::TimeZone;

    #[test]
    fn an_expense_must_spend_something() {
        let vendor = Vendor::parse("Cafe").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        for minor in [0, -100] {
            let err = NewExpense::new(
                CategoryId::new(),
                day,
                vendor.clone(),
                Money::from_minor(minor, Currency::INR),
            )
            .unwrap_err();
            assert!(err.to_string().contains("greater than zero"));
        }
    }

    #[test]
    fn an_instant_is_dated_in_the_users_zone() {
        let instant = Utc.with_ymd_and_hms(2026, 3, 31, 20, 0, 0).unwrap();
        let expense = NewExpense::at_instant(
            CategoryId::new(),
            instant,
            UserTimeZone::KOLKATA,
            Vendor::parse("Cafe").unwrap(),
            Money::from_minor(100, Currency::INR),
        )
        .unwrap();
        assert_eq!(expense.date, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(expense.occurred_at, Some(instant));
    }
}
