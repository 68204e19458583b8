//! Possible duplicates: another expense of the same user on the same day, for the same amount in
//! the same currency, at the same vendor (compared ignoring case, spaces and punctuation) — the
//! same receipt photographed twice, or a receipt for an expense already entered by hand.

use ledgerly_core::{Expense, UserId};

use crate::rows::{ExpenseRow, expense_select};
use crate::{Result, Store, with_db};

/// The most possible duplicates named for one expense.
const MAX_NAMED: i64 = 5;

/// A vendor as compared: lower case, letters and digits only ("Blue Tokai Coffee, Ltd." and
/// "BLUE TOKAI COFFEE LTD" are one).
fn vendor_key(vendor: &str) -> String {
    vendor
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Store {
    /// The user's other expenses `expense` may duplicate, oldest first, at most five.
    #[tracing::instrument(skip_all, err)]
    pub async fn possible_duplicates(
        &self,
        user: UserId,
        expense: &Expense,
    ) -> Result<Vec<Expense>> {
        // Same day, amount and currency in SQL (the (user, day) index); the vendor in Rust, so
        // both backends compare it alike.
        let rows: Vec<ExpenseRow> = with_db!(self, |pool, d| {
            sqlx::query_as(concat!(
                expense_select!(),
                "WHERE e.user_id = $1 AND e.spent_on = $2 AND e.amount_minor = $3 \
                 AND e.currency = $4 AND e.id <> $5 ORDER BY e.created_at, e.id LIMIT 50"
            ))
            .bind(user.as_uuid())
            .bind(expense.date)
            .bind(expense.amount.minor())
            .bind(expense.amount.currency().code())
            .bind(expense.id.as_uuid())
            .fetch_all(pool)
            .await?
        });
        let key = vendor_key(expense.vendor.as_str());
        let mut found = Vec::new();
        for row in rows {
            let other: Expense = row.try_into()?;
            if vendor_key(other.vendor.as_str()) == key {
                found.push(other);
            }
            if found.len() as i64 == MAX_NAMED {
                break;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::vendor_key;

    #[test]
    fn vendors_compare_ignoring_case_spaces_and_punctuation() {
        assert_eq!(
            vendor_key("Blue Tokai Coffee, Ltd."),
            vendor_key("BLUE TOKAI COFFEE LTD")
        );
        assert_eq!(vendor_key("Café Noir"), vendor_key("CAFÉ  NOIR"));
        assert_ne!(vendor_key("Blue Tokai"), vendor_key("Blue Tokai 2"));
    }
}
