//! The statistics the dashboard shows: totals per month per category for a year, a month's
//! breakdown by category, savings against the budget, count and average, the top category and
//! the change against the previous month. Exact integer maths; percentages in basis points.
//!
//! The store computes the sums in SQL; the functions here are the reference for those sums
//! (`monthly_totals`, `category_breakdown`) and derive everything else from them (`summarize`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Serialize, Serializer};

use crate::currency::Currency;
use crate::ids::CategoryId;
use crate::money::{Money, MoneyError};
use crate::text::CategoryName;
use crate::time::Month;

/// One expense as the statistics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    pub date: NaiveDate,
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub amount: Money,
}

/// What was spent in one category in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyCategoryTotal {
    pub month: Month,
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub amount: Money,
}

/// What was spent in one category over some period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryTotal {
    pub category_id: CategoryId,
    pub category: CategoryName,
    pub amount: Money,
    /// How many expenses make up the amount.
    pub count: u64,
}

/// A percentage kept exactly, in hundredths of a percent: `2480` is 24.80%.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    basis_points: i64,
}

impl Percent {
    pub const fn from_basis_points(basis_points: i64) -> Self {
        Self { basis_points }
    }

    pub const fn basis_points(&self) -> i64 {
        self.basis_points
    }

    /// `part / whole`, rounded half away from zero to a hundredth of a percent.
    /// `None` when `whole` is zero.
    pub fn ratio(part: i64, whole: i64) -> Option<Self> {
        if whole == 0 {
            return None;
        }
        let bp = div_round(i128::from(part) * 10_000, i128::from(whole));
        i64::try_from(bp).ok().map(Self::from_basis_points)
    }

    /// `24.80`, `-3.05`.
    pub fn to_decimal_string(&self) -> String {
        let sign = if self.basis_points < 0 { "-" } else { "" };
        let abs = self.basis_points.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.to_decimal_string())
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_decimal_string())
    }
}

/// `n / d` rounded half away from zero. `d` must not be zero.
fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d.abs() {
        if (n < 0) == (d < 0) { q + 1 } else { q - 1 }
    } else {
        q
    }
}

/// Totals per month per category for `year`, in `currency`; months and categories with nothing
/// spent are left out. Sorted by month, then category name.
pub fn monthly_totals<'a>(
    year: i32,
    currency: Currency,
    spends: impl IntoIterator<Item = &'a Spend>,
) -> Result<Vec<MonthlyCategoryTotal>, MoneyError> {
    let mut sums: BTreeMap<(Month, String, CategoryId), (CategoryName, Money)> = BTreeMap::new();
    for spend in spends {
        if spend.date.year() != year || spend.amount.currency() != currency {
            continue;
        }
        let key = (
            Month::of(spend.date),
            spend.category.key(),
            spend.category_id,
        );
        let entry = sums
            .entry(key)
            .or_insert_with(|| (spend.category.clone(), Money::zero(currency)));
        entry.1 = entry.1.checked_add(spend.amount)?;
    }
    Ok(sums
        .into_iter()
        .map(
            |((month, _, category_id), (category, amount))| MonthlyCategoryTotal {
                month,
                category_id,
                category,
                amount,
            },
        )
        .collect())
}

/// What was spent per category in `month`, in `currency`, largest first (ties by name).
pub fn category_breakdown<'a>(
    month: Month,
    currency: Currency,
    spends: impl IntoIterator<Item = &'a Spend>,
) -> Result<Vec<CategoryTotal>, MoneyError> {
    let mut sums: BTreeMap<CategoryId, CategoryTotal> = BTreeMap::new();
    for spend in spends {
        if !month.contains(spend.date) || spend.amount.currency() != currency {
            continue;
        }
        let entry = sums
            .entry(spend.category_id)
            .or_insert_with(|| CategoryTotal {
                category_id: spend.category_id,
                category: spend.category.clone(),
                amount: Money::zero(currency),
                count: 0,
            });
        entry.amount = entry.amount.checked_add(spend.amount)?;
        entry.count += 1;
    }
    let mut totals: Vec<CategoryTotal> = sums.into_values().collect();
    sort_breakdown(&mut totals);
    Ok(totals)
}

/// Largest amount first; equal amounts by category name, then id, so the order is stable.
pub fn sort_breakdown(totals: &mut [CategoryTotal]) {
    totals.sort_by(|a, b| {
        b.amount
            .minor()
            .cmp(&a.amount.minor())
            .then_with(|| a.category.key().cmp(&b.category.key()))
            .then_with(|| a.category_id.cmp(&b.category_id))
    });
}

/// Sorts monthly totals the way [`monthly_totals`] returns them.
pub fn sort_monthly(totals: &mut [MonthlyCategoryTotal]) {
    totals.sort_by(|a, b| {
        a.month
            .cmp(&b.month)
            .then_with(|| a.category.key().cmp(&b.category.key()))
            .then_with(|| a.category_id.cmp(&b.category_id))
    });
}

/// How this month compares with the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub previous: Money,
    /// This month minus the previous month: positive when spending went up.
    pub amount: Money,
    /// `amount` as a share of the previous month; `None` when nothing was spent then.
    pub percent: Option<Percent>,
}

/// A month at a glance: the dashboard's cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthSummary {
    pub month: Month,
    pub budget: Option<Money>,
    pub spent: Money,
    /// Budget minus spent; negative when over budget. `None` without a budget.
    pub remaining: Option<Money>,
    /// `remaining` as a share of the budget. `None` without a budget or with a zero budget.
    pub savings_percent: Option<Percent>,
    pub count: u64,
    /// `spent / count`, rounded half away from zero to the minor unit.
    pub average: Option<Money>,
    pub top_category: Option<CategoryTotal>,
    pub change: Change,
    /// Expenses in other currencies that no exchange rate converts, by currency: left out of
    /// every figure above.
    pub not_converted: Vec<crate::rates::NotConverted>,
}

/// Builds a month's summary from its category breakdown and the previous month's spending.
pub fn summarize(
    month: Month,
    currency: Currency,
    budget: Option<Money>,
    breakdown: &[CategoryTotal],
    previous_spent: Money,
) -> Result<MonthSummary, MoneyError> {
    let mut spent = Money::zero(currency);
    let mut count = 0u64;
    for total in breakdown {
        spent = spent.checked_add(total.amount)?;
        count += total.count;
    }
    let remaining = budget.map(|b| b.checked_sub(spent)).transpose()?;
    let savings_percent = match (budget, remaining) {
        (Some(b), Some(r)) => Percent::ratio(r.minor(), b.minor()),
        _ => None,
    };
    let average = average(spent, count)?;
    let top_category = breakdown
        .iter()
        .max_by(|a, b| {
            a.amount
                .minor()
                .cmp(&b.amount.minor())
                // On a tie the name first in order wins.
                .then_with(|| b.category.key().cmp(&a.category.key()))
        })
        .cloned();
    Ok(MonthSummary {
        month,
        budget,
        spent,
        remaining,
        savings_percent,
        count,
        average,
        top_category,
        change: change(spent, previous_spent)?,
        not_converted: Vec::new(),
    })
}

/// `total / count` rounded half away from zero; `None` for no expenses.
pub fn average(total: Money, count: u64) -> Result<Option<Money>, MoneyError> {
    if count == 0 {
        return Ok(None);
    }
    let avg = div_round(i128::from(total.minor()), i128::from(count));
    let minor = i64::try_from(avg).map_err(|_| MoneyError::Overflow)?;
    Ok(Some(Money::from_minor(minor, total.currency())))
}

/// The change from `previous` to `current`.
pub fn change(current: Money, previous: Money) -> Result<Change, MoneyError> {
    let amount = current.checked_sub(previous)?;
    Ok(Change {
        previous,
        amount,
        percent: Percent::ratio(amount.minor(), previous.minor()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inr(minor: i64) -> Money {
        Money::from_minor(minor, Currency::INR)
    }

    fn spend(date: &str, category: &CategoryName, id: CategoryId, minor: i64) -> Spend {
        Spend {
            date: date.parse().unwrap(),
            category_id: id,
            category: category.clone(),
            amount: inr(minor),
        }
    }

    #[test]
    fn the_same_month_of_different_years_is_never_merged() {
        let food = CategoryName::parse("food").unwrap();
        let id = CategoryId::new();
        let spends = [
            spend("2025-12-10", &food, id, 1_000),
            spend("2026-12-10", &food, id, 2_000),
        ];
        let totals = monthly_totals(2026, Currency::INR, &spends).unwrap();
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].month, "2026-12".parse().unwrap());
        assert_eq!(totals[0].amount, inr(2_000));
    }

    #[test]
    fn the_summary_matches_the_original_dashboard_cards() {
        // Budget ₹1000, spent ₹222 over 12 transactions: savings ₹778, 77.80%, average ₹18.50.
        let work = CategoryName::parse("work").unwrap();
        let food = CategoryName::parse("food").unwrap();
        let breakdown = vec![
            CategoryTotal {
                category_id: CategoryId::new(),
                category: work,
                amount: inr(15_000),
                count: 7,
            },
            CategoryTotal {
                category_id: CategoryId::new(),
                category: food,
                amount: inr(7_200),
                count: 5,
            },
        ];
        let summary = summarize(
            "2025-05".parse().unwrap(),
            Currency::INR,
            Some(inr(100_000)),
            &breakdown,
            inr(17_790),
        )
        .unwrap();
        assert_eq!(summary.spent, inr(22_200));
        assert_eq!(summary.remaining, Some(inr(77_800)));
        assert_eq!(summary.savings_percent.unwrap().to_string(), "77.80%");
        assert_eq!(summary.count, 12);
        assert_eq!(summary.average, Some(inr(1_850)));
        assert_eq!(summary.top_category.unwrap().category.as_str(), "work");
        assert_eq!(summary.change.amount, inr(4_410));
        assert_eq!(summary.change.percent.unwrap().to_string(), "24.79%");
    }

    #[test]
    fn no_budget_and_no_history_give_no_ratios() {
        let summary =
            summarize("2026-01".parse().unwrap(), Currency::INR, None, &[], inr(0)).unwrap();
        assert_eq!(summary.remaining, None);
        assert_eq!(summary.savings_percent, None);
        assert_eq!(summary.average, None);
        assert_eq!(summary.top_category, None);
        assert_eq!(summary.change.percent, None);
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(Percent::ratio(-1, 3).unwrap().to_string(), "-33.33%");
        assert_eq!(Percent::ratio(-1, 20_000).unwrap().to_string(), "-0.01%");
    }

    fn categories() -> Vec<(CategoryId, CategoryName)> {
        ["food", "entertainment", "work", "Rent"]
            .iter()
            .map(|n| (CategoryId::new(), CategoryName::parse(n).unwrap()))
            .collect()
    }

    prop_compose! {
        fn spends()(items in prop::collection::vec((0u32..1_100, 0usize..4, 1i64..10_000_000), 0..60)) -> Vec<Spend> {
            let cats = categories();
            let base = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
            items.into_iter().map(|(day, cat, minor)| Spend {
                date: base + chrono::Duration::days(i64::from(day)),
                category_id: cats[cat].0,
                category: cats[cat].1.clone(),
                amount: inr(minor),
            }).collect()
        }
    }

    proptest! {
        #[test]
        fn monthly_totals_add_up_to_the_years_spending(spends in spends(), year in 2025i32..=2028) {
            let totals = monthly_totals(year, Currency::INR, &spends).unwrap();
            let expected: i64 = spends.iter().filter(|s| s.date.year() == year).map(|s| s.amount.minor()).sum();
            prop_assert_eq!(totals.iter().map(|t| t.amount.minor()).sum::<i64>(), expected);
            prop_assert!(totals.iter().all(|t| t.month.year() == year && t.amount.is_positive()));
            let mut sorted = totals.clone();
            sort_monthly(&mut sorted);
            prop_assert_eq!(sorted, totals);
        }

        #[test]
        fn the_breakdown_adds_up_and_is_largest_first(spends in spends(), m in 0u32..36) {
            let month = Month::new(2025 + (m / 12) as i32, m % 12 + 1).unwrap();
            let breakdown = category_breakdown(month, Currency::INR, &spends).unwrap();
            let in_month: Vec<&Spend> = spends.iter().filter(|s| month.contains(s.date)).collect();
            prop_assert_eq!(breakdown.iter().map(|t| t.amount.minor()).sum::<i64>(), in_month.iter().map(|s| s.amount.minor()).sum::<i64>());
            prop_assert_eq!(breakdown.iter().map(|t| t.count).sum::<u64>(), in_month.len() as u64);
            prop_assert!(breakdown.windows(2).all(|w| w[0].amount.minor() >= w[1].amount.minor()));
        }

        #[test]
        fn summary_figures_are_consistent(spends in spends(), budget in 0i64..100_000_000, previous in 0i64..100_000_000) {
            let month: Month = "2026-02".parse().unwrap();
            let breakdown = category_breakdown(month, Currency::INR, &spends).unwrap();
            let s = summarize(month, Currency::INR, Some(inr(budget)), &breakdown, inr(previous)).unwrap();
            // Remaining plus spent is the budget.
            prop_assert_eq!(s.remaining.unwrap().minor() + s.spent.minor(), budget);
            // The average times the count is within half a minor unit per expense of what was spent.
            if let Some(avg) = s.average {
                let diff = (i128::from(avg.minor()) * i128::from(s.count) - i128::from(s.spent.minor())).abs();
                prop_assert!(diff * 2 <= i128::from(s.count));
            } else {
                prop_assert_eq!(s.count, 0);
            }
            // The top category is one with the largest amount.
            if let Some(top) = &s.top_category {
                prop_assert!(breakdown.iter().all(|t| t.amount.minor() <= top.amount.minor()));
            }
            // The savings share is within a basis point of the exact ratio.
            if budget > 0 {
                let bp = i128::from(s.savings_percent.unwrap().basis_points());
                let exact_times_budget = i128::from(s.remaining.unwrap().minor()) * 10_000;
                prop_assert!((bp * i128::from(budget) - exact_times_budget).abs() * 2 <= i128::from(budget));
            }
            prop_assert_eq!(s.change.previous.minor() + s.change.amount.minor(), s.spent.minor());
        }
    }
}
