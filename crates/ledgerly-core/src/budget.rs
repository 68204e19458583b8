//! Monthly budgets. A budget applies from a month onwards, so raising it in June leaves the
//! savings reported for May as they were.

use serde::Serialize;

use crate::ids::CategoryId;
use crate::money::{Money, MoneyError};
use crate::stats::Percent;
use crate::text::CategoryName;
use crate::time::Month;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    /// What may be spent each month.
    pub amount: Money,
    /// The first month this amount applies to.
    pub effective_from: Month,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a monthly budget cannot be negative (got {0})")]
pub struct NegativeBudget(pub String);

impl Budget {
    pub fn new(amount: Money, effective_from: Month) -> Result<Self, NegativeBudget> {
        if amount.is_negative() {
            return Err(NegativeBudget(amount.to_decimal_string()));
        }
        Ok(Self {
            amount,
            effective_from,
        })
    }
}

/// A category's budget in force in a month beside what the month's expenses of that category
/// add up to, in the budget's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryBudgetUse {
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub budget: Budget,
    pub spent: Money,
    /// Budget minus spent; negative when over budget.
    pub remaining: Money,
    /// `spent` as a share of the budget; `None` for a budget of zero.
    pub used: Option<Percent>,
    /// The share used has reached [`CategoryBudgetUse::WARN_AT`], or a budget of zero has
    /// anything spent against it.
    pub warning: bool,
}

impl CategoryBudgetUse {
    /// The share of a category's budget past which it is flagged: 80%.
    pub const WARN_AT: Percent = Percent::from_basis_points(8_000);

    pub fn new(
        category_id: CategoryId,
        category: CategoryName,
        budget: Budget,
        spent: Money,
    ) -> Result<Self, MoneyError> {
        let remaining = budget.amount.checked_sub(spent)?;
        let used = Percent::ratio(spent.minor(), budget.amount.minor());
        let warning = match used {
            Some(used) => used >= Self::WARN_AT,
            None => spent.minor() > 0,
        };
        Ok(Self {
            category_id,
            category,
            budget,
            spent,
            remaining,
            used,
            warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn inr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::INR)
    }

    fn used(budget: i64, spent: i64) -> CategoryBudgetUse {
        let month: Month = "2026-03".parse().unwrap();
        CategoryBudgetUse::new(
            CategoryId::new(),
            CategoryName::parse("food").unwrap(),
            Budget::new(inr(budget), month).unwrap(),
            inr(spent),
        )
        .unwrap()
    }

    #[test]
    fn a_category_is_flagged_from_four_fifths_of_its_budget() {
        let under = used(10_000, 7_999);
        assert_eq!(under.used.unwrap().to_string(), "79.99%");
        assert!(!under.warning);
        assert_eq!(under.remaining, inr(2_001));
        assert!(used(10_000, 8_000).warning);
        let over = used(10_000, 12_500);
        assert_eq!(over.used.unwrap().to_string(), "125.00%");
        assert_eq!(over.remaining, inr(-2_500));
        assert!(over.warning);
    }

    #[test]
    fn a_budget_of_zero_has_no_share_and_warns_once_spent() {
        assert_eq!(used(0, 0).used, None);
        assert!(!used(0, 0).warning);
        assert!(used(0, 1).warning);
    }
}
