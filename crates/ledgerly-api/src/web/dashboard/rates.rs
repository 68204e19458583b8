//! Other currencies on the dashboard: the notice naming this month's expenses that no exchange
//! rate converts (left out of the cards and charts), and the table's rows in another currency
//! than the account's with their value in it at the rate of their day.

use std::collections::HashMap;

use ledgerly_core::rates::NotConverted;
use ledgerly_core::{Currency, Expense, ExpenseId, Money, User};
use ledgerly_store::Store;
use maud::{Markup, html};

use crate::error::ApiResult;
use crate::web::layout::expense_count;

/// Where rates are entered and the ECB's turned on: the profile's exchange rates card.
const SET_RATES: &str = "/profile#rates";

/// The page's rows in another currency than the account's, each with its value in the account's
/// currency at the rate of its day (`None`: no rate converts it). Rows in the account's own
/// currency are not in it.
pub(super) type Converted = HashMap<ExpenseId, Option<Money>>;

/// Converts the page's rows in other currencies with one read of the rates (for their
/// currencies and days), made only when the page has some.
pub(super) async fn converted(
    store: &Store,
    user: &User,
    expenses: &[Expense],
) -> ApiResult<Converted> {
    let foreign: Vec<&Expense> = expenses
        .iter()
        .filter(|e| e.amount.currency() != user.currency)
        .collect();
    let (Some(since), Some(until)) = (
        foreign.iter().map(|e| e.date).min(),
        foreign.iter().map(|e| e.date).max(),
    ) else {
        return Ok(Converted::new());
    };
    let mut currencies: Vec<Currency> = foreign.iter().map(|e| e.amount.currency()).collect();
    currencies.sort();
    currencies.dedup();
    let book = store
        .rate_book(user.id, user.currency, &currencies, (since, until))
        .await?;
    Ok(foreign
        .into_iter()
        .map(|e| (e.id, book.convert(e.amount, e.date)))
        .collect())
}

/// The notice under the cards; nothing when every expense of the month counts.
pub(super) fn notice(not_converted: &[NotConverted]) -> Markup {
    if not_converted.is_empty() {
        return html! {};
    }
    let count: u64 = not_converted.iter().map(|n| n.count).sum();
    let parts: Vec<String> = not_converted
        .iter()
        .map(|n| {
            format!(
                "{} in {} ({})",
                expense_count(n.count),
                n.currency.code(),
                n.amount.format()
            )
        })
        .collect();
    let (verb, own, them) = if count == 1 {
        ("has", "its", "it")
    } else {
        ("have", "their", "them")
    };
    html! {
        div.notice.flag.not-counted role="status" {
            p {
                strong { "Not counted: " }
                (in_words(&parts)) " " (verb) " no exchange rate for " (own) " day, so this month's "
                "figures leave " (them) " out. "
                a href=(SET_RATES) { "Add a rate or use the ECB's rates" } " on your profile."
            }
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn in_words(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(code: &str, count: u64, minor: i64) -> NotConverted {
        let currency = Currency::from_code(code).unwrap();
        NotConverted {
            currency,
            count,
            amount: Money::from_minor(minor, currency),
        }
    }

    #[test]
    fn nothing_is_said_when_everything_counts() {
        assert_eq!(notice(&[]).into_string(), "");
    }

    #[test]
    fn the_notice_names_each_currency_with_its_own_amount_and_leads_to_the_rates() {
        let markup = notice(&[missing("USD", 2, 3000)]).into_string();
        assert!(
            markup.contains("2 expenses in USD ($30.00) have no exchange rate for their day"),
            "{markup}"
        );
        assert!(markup.contains("href=\"/profile#rates\""), "{markup}");
        let markup = notice(&[missing("USD", 1, 1000)]).into_string();
        assert!(
            markup.contains("1 expense in USD ($10.00) has no exchange rate for its day"),
            "{markup}"
        );
        let markup = notice(&[
            missing("EUR", 1, 500),
            missing("GBP", 1, 700),
            missing("USD", 3, 900),
        ])
        .into_string();
        assert!(
            markup.contains("1 expense in EUR (€5.00), 1 expense in GBP (£7.00) and 3 expenses in USD ($9.00) have"),
            "{markup}"
        );
    }
}
