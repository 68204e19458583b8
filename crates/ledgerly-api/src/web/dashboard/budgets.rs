//! The budgets by category panel: each category's budget in force this month beside what its
//! expenses add up to, the share used, and a warning from four fifths of it on.

use ledgerly_core::{CategoryBudgetUse, Money, Percent};
use maud::{Markup, html};

use crate::web::layout::money_short;

/// Where budgets are set: the categories on the profile page.
const SET_BUDGETS: &str = "/profile#categories";

/// The panel; when no category has a budget, only a line saying where to set one.
pub(super) fn panel(budgets: &[CategoryBudgetUse]) -> Markup {
    if budgets.is_empty() {
        return html! {
            p.budgets-empty.muted {
                "No category has a budget yet. "
                a href=(SET_BUDGETS) { "Set a monthly budget per category" }
            }
        };
    }
    html! {
        section.card.budgets aria-labelledby="budgets-title" {
            div.card-head {
                h2 #budgets-title { "Budgets by category" }
                a href=(SET_BUDGETS) { "Change budgets" }
            }
            ul.budget-list {
                @for budget in budgets { (row(budget)) }
            }
        }
    }
}

fn row(budget: &CategoryBudgetUse) -> Markup {
    let over = budget.remaining.is_negative();
    html! {
        li.budget.warning[budget.warning].over[over] {
            div.budget-head {
                span.budget-name { (budget.category.as_str()) }
                span.budget-amounts {
                    (money_short(budget.spent)) " of " (money_short(budget.budget.amount))
                }
            }
            (bar(budget))
            p.budget-share {
                @if let Some(flag) = flag(budget) {
                    span.budget-flag { span aria-hidden="true" { "⚠ " } (flag) }
                    " · "
                }
                (share(budget))
            }
        }
    }
}

/// The share used as a bar, full at the whole budget (the text beside it says how far over).
/// Drawn in SVG: the pages' CSP allows no inline style to size it with.
fn bar(budget: &CategoryBudgetUse) -> Markup {
    let filled = match budget.used {
        Some(used) => used.basis_points().clamp(0, 10_000),
        // A budget of zero: full once anything is spent against it.
        None if budget.spent.is_positive() => 10_000,
        None => 0,
    };
    let width = format!("{}.{:02}", filled / 100, filled % 100);
    html! {
        svg.budget-bar viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" focusable="false" {
            rect.budget-track width="100" height="8" {}
            @if filled > 0 {
                rect.budget-used width=(width) height="8" {}
            }
        }
    }
}

/// The word that goes with the warning, so it is not told by colour alone.
fn flag(budget: &CategoryBudgetUse) -> Option<&'static str> {
    if !budget.warning {
        return None;
    }
    Some(if budget.remaining.is_negative() {
        "Over budget"
    } else if budget.remaining.is_zero() {
        "All spent"
    } else {
        "Nearly spent"
    })
}

/// `84% used · ₹800 left`, `125% used — ₹250 over`; a budget of zero has no share.
fn share(budget: &CategoryBudgetUse) -> String {
    let remaining = budget.remaining;
    let rest = if remaining.is_negative() {
        let over = Money::from_minor(remaining.minor().saturating_neg(), remaining.currency());
        format!("{} over", money_short(over))
    } else {
        format!("{} left", money_short(remaining))
    };
    match budget.used {
        Some(used) if remaining.is_negative() => format!("{} used — {rest}", percent_short(used)),
        Some(used) => format!("{} used · {rest}", percent_short(used)),
        None => rest,
    }
}

/// A share without its hundredths when there are none: `84%`, `79.99%`.
fn percent_short(percent: Percent) -> String {
    let text = percent.to_decimal_string();
    let text = text.strip_suffix(".00").unwrap_or(&text);
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerly_core::{Budget, CategoryId, CategoryName, Currency, Month};

    fn food(budget: i64, spent: i64) -> CategoryBudgetUse {
        let inr = |minor| Money::from_minor(minor, Currency::INR);
        let month = Month::new(2026, 3).unwrap_or_else(|_| unreachable!());
        CategoryBudgetUse::new(
            CategoryId::new(),
            CategoryName::parse("food").unwrap_or_else(|_| unreachable!()),
            Budget::new(inr(budget), month).unwrap_or_else(|_| unreachable!()),
            inr(spent),
        )
        .unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn the_share_used_is_exact_and_says_what_is_left_or_over() {
        assert_eq!(share(&food(100_000, 84_000)), "84% used · ₹160 left");
        assert_eq!(share(&food(100_000, 79_990)), "79.99% used · ₹200.10 left");
        assert_eq!(share(&food(100_000, 125_000)), "125% used — ₹250 over");
        assert_eq!(share(&food(0, 1_250)), "₹12.50 over");
    }

    #[test]
    fn a_warning_has_a_word_and_the_bar_stops_at_the_whole_budget() {
        assert_eq!(flag(&food(100_000, 79_990)), None);
        assert_eq!(flag(&food(100_000, 84_000)), Some("Nearly spent"));
        assert_eq!(flag(&food(100_000, 100_000)), Some("All spent"));
        assert_eq!(flag(&food(100_000, 125_000)), Some("Over budget"));
        let over = bar(&food(100_000, 125_000)).into_string();
        assert!(over.contains("width=\"100.00\""), "{over}");
        let empty = bar(&food(100_000, 0)).into_string();
        assert!(!empty.contains("budget-used"), "{empty}");
    }

    #[test]
    fn no_budgets_is_a_line_to_where_they_are_set() {
        let markup = panel(&[]).into_string();
        assert!(markup.contains("href=\"/profile#categories\""), "{markup}");
        assert!(!markup.contains("budget-list"), "{markup}");
        let markup = panel(&[food(100_000, 84_000)]).into_string();
        assert!(markup.contains("Budgets by category"), "{markup}");
        assert!(markup.contains("₹840 of ₹1,000"), "{markup}");
        assert!(!markup.contains("style="), "{markup}");
    }
}
