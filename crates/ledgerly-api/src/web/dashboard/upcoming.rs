//! The upcoming panel: what the recurring expenses will make in the coming days, by date, the
//! dates they will skip marked; it leads to the recurring expenses' page.

use ledgerly_core::{Currency, Money};
use maud::{Markup, html};

use crate::routes::recurring::OccurrenceView;
use crate::web::layout::money_short;

/// How many days ahead the panel looks.
pub(super) const DAYS: u32 = 31;

/// The panel; nothing when no recurring expense falls in the coming days.
pub(super) fn panel(occurrences: &[OccurrenceView]) -> Markup {
    if occurrences.is_empty() {
        return html! {};
    }
    html! {
        section.card.upcoming aria-labelledby="upcoming-title" {
            div.card-head {
                h2 #upcoming-title { "Upcoming" }
                a href="/recurring" { "Manage recurring" }
            }
            ul.upcoming-list {
                @for occurrence in occurrences {
                    li.upcoming-item.skipped[occurrence.skipped] data-recurring=(occurrence.recurring_id) {
                        time.upcoming-date datetime=(occurrence.date) { (occurrence.date.format("%d %b %Y")) }
                        span.upcoming-vendor { (occurrence.vendor) }
                        span.upcoming-amount { (amount(&occurrence.amount, occurrence.currency)) }
                        @if occurrence.skipped {
                            span.badge.skipped { "Skipped" }
                        }
                    }
                }
            }
        }
    }
}

/// `₹1,500`, or the amount as given if it does not read (it always does).
fn amount(amount: &str, currency: Currency) -> String {
    Money::from_decimal_str(amount, currency)
        .map_or_else(|_| format!("{amount} {currency}"), money_short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use ledgerly_core::RecurringId;

    fn occurrence(day: u32, skipped: bool) -> OccurrenceView {
        OccurrenceView {
            recurring_id: RecurringId::new(),
            date: NaiveDate::from_ymd_opt(2026, 4, day).unwrap_or_else(|| unreachable!()),
            vendor: "Landlord".into(),
            amount: "1500.00".into(),
            currency: Currency::INR,
            category: "housing".into(),
            skipped,
        }
    }

    #[test]
    fn nothing_coming_is_no_panel() {
        assert_eq!(panel(&[]).into_string(), "");
    }

    #[test]
    fn each_date_shows_its_vendor_and_amount_and_skipped_ones_are_marked() {
        let markup = panel(&[occurrence(1, false), occurrence(15, true)]).into_string();
        assert!(markup.contains("Upcoming"), "{markup}");
        assert!(markup.contains("href=\"/recurring\""), "{markup}");
        assert!(
            markup.contains(
                "<time class=\"upcoming-date\" datetime=\"2026-04-01\">01 Apr 2026</time>"
            ),
            "{markup}"
        );
        assert!(markup.contains("₹1,500<"), "{markup}");
        assert_eq!(
            markup.matches("class=\"upcoming-item skipped\"").count(),
            1,
            "{markup}"
        );
        assert_eq!(markup.matches("Skipped").count(), 1, "{markup}");
    }
}
