//! Monthly budgets. A budget applies from a month onwards, so raising it in June leaves the
//! savings reported for May as they were.

use serde::Serialize;

use crate::money::Money;
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
