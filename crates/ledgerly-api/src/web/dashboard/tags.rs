//! The tags this month panel: what this month's expenses with each tag add up to, in the
//! account's currency, largest first; each tag leads to the month's expenses with it (the
//! table's other filters dropped, so it lists what the total counts, in any currency).

use ledgerly_core::{Month, TagTotal};
use maud::{Markup, html};

use super::view::View;
use crate::web::layout::{expense_count, money_short};

/// The panel; nothing when no expense of the month has a tag.
pub(super) fn panel(totals: &[TagTotal], month: Month, view: &View) -> Markup {
    if totals.is_empty() {
        return html! {};
    }
    let from = month.first_day().to_string();
    let to = month.last_day().to_string();
    html! {
        section.card.tag-totals aria-labelledby="tag-totals-title" {
            div.card-head {
                h2 #tag-totals-title { "Tags this month" }
                a href="/profile#tags" { "Manage tags" }
            }
            ul.tag-total-list {
                @for total in totals {
                    li.tag-total {
                        a.tag-total-name href=(view.link(&[
                            ("category", String::new()),
                            ("q", String::new()),
                            ("tags", total.tag.as_str().to_owned()),
                            ("tags_match", String::new()),
                            ("from", from.clone()),
                            ("to", to.clone()),
                            ("page", String::new()),
                        ])) { (total.tag.as_str()) }
                        span.tag-total-amount { (money_short(total.amount)) }
                        span.tag-total-count { (expense_count(total.count)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerly_core::{Currency, Money, TagName, User};

    fn view() -> View {
        let user = User {
            id: ledgerly_core::UserId::new(),
            email: ledgerly_core::Email::parse("a@example.com").unwrap_or_else(|_| unreachable!()),
            name: ledgerly_core::PersonName::parse("A").unwrap_or_else(|_| unreachable!()),
            currency: Currency::INR,
            time_zone: ledgerly_core::UserTimeZone::UTC,
            theme: ledgerly_core::Theme::System,
            role: ledgerly_core::Role::Member,
            created_at: chrono::Utc::now(),
        };
        View::parse(&[("q".to_owned(), "tea".to_owned())], &user)
    }

    #[test]
    fn no_tagged_expenses_is_no_panel() {
        let month = Month::new(2026, 3).unwrap_or_else(|_| unreachable!());
        assert_eq!(panel(&[], month, &view()).into_string(), "");
    }

    #[test]
    fn each_tag_shows_its_total_and_count_and_leads_to_the_months_expenses_with_it() {
        let month = Month::new(2026, 3).unwrap_or_else(|_| unreachable!());
        let totals = [TagTotal {
            tag: TagName::parse("trip").unwrap_or_else(|_| unreachable!()),
            amount: Money::from_minor(150_000, Currency::INR),
            count: 2,
        }];
        let markup = panel(&totals, month, &view()).into_string();
        assert!(markup.contains("Tags this month"), "{markup}");
        assert!(markup.contains("₹1,500"), "{markup}");
        assert!(markup.contains("2 expenses"), "{markup}");
        assert!(
            markup.contains("tags=trip&amp;from=2026-03-01&amp;to=2026-03-31"),
            "{markup}"
        );
        assert!(
            !markup.contains("q=tea"),
            "the other filters are dropped: {markup}"
        );
    }
}
