//! The profile's exchange rates: whether the ECB's daily reference rates convert what the
//! user's own do not (and when they were last fetched), a rate entered as it reads ("1 USD =
//! 83.215 INR from 2026-11-01"), and the user's rates, each deleted on its own. The JSON API's
//! own steps ([`crate::routes::rates`]) behind forms.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use ledgerly_core::rates::Rate;
use ledgerly_core::{Currency, User};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::routes::expenses::date;
use crate::routes::rates::{CreateRateRequest, RatesView, create_rate, fetch_ecb_if_stale};
use crate::state::AppState;
use crate::views::currency;

use super::layout::{self, Input, csrf_field, field};
use super::profile::{Failed, errors_of, render};
use super::{Errors, SignedForm, failure, see_other};

/// The ids of the new rate's fields: `new-rate-currency`, `new-rate-rate`, `new-rate-date`.
const PREFIX: &str = "new-rate";

/// The exchange rates card; `failed` is the page's form that did not pass, shown again here
/// when it is the new rate's. `today` (in the user's time zone) is the new rate's first day.
pub(super) fn card(
    rates: &RatesView,
    today: NaiveDate,
    csrf: &str,
    failed: Option<&Failed>,
) -> Markup {
    let none = Errors::none();
    let (form, errors) = match failed {
        Some(Failed::Rate(form, errors)) => (form.clone(), errors),
        _ => (
            RateForm {
                date: today.to_string(),
                ..RateForm::default()
            },
            &none,
        ),
    };
    let home = rates.currency.code();
    html! {
        section.card.rates aria-labelledby="rates-title" #rates {
            h2 #rates-title { "Exchange rates" }
            p.hint {
                "Expenses in other currencies count in " (home) " at the rate of their day: your "
                "latest rate on or before it, else the ECB's when you use them. One that no rate "
                "converts is left out of the totals, and the dashboard says so."
            }
            form.rates-ecb method="post" action="/profile/rates/ecb" {
                (csrf_field(csrf))
                label.check for="rates-ecb-enabled" {
                    input #rates-ecb-enabled type="checkbox" name="enabled" value="on"
                        checked[rates.uses_ecb] aria-describedby="rates-ecb-status";
                    "Use the European Central Bank's daily reference rates"
                }
                p.hint #rates-ecb-status {
                    @match rates.ecb_latest_day {
                        Some(day) => {
                            "Last fetched: the rates of "
                            time datetime=(day) { (day.format("%d %b %Y")) }
                            @if let Some(at) = rates.ecb_fetched_at {
                                " (at " (at.format("%d %b %Y %H:%M")) " UTC)"
                            }
                            "."
                        },
                        None => "Not fetched yet.",
                    }
                    " They convert what your own rates do not."
                }
                div.form-actions { button type="submit" { "Save" } }
            }
            h3 { "Add a rate" }
            form.rate-new method="post" action="/profile/rates" novalidate aria-label="Add a rate" {
                (csrf_field(csrf))
                (layout::form_error(errors))
                div.rate-sentence {
                    span.rate-word aria-hidden="true" { "1" }
                    div.rate-part.rate-code {
                        (field(PREFIX, "currency", "Currency", &form.currency,
                            Input::of("text").list("rate-currencies").pattern("[A-Za-z]{3}").required(), errors))
                    }
                    span.rate-word aria-hidden="true" { "=" }
                    div.rate-part.rate-value {
                        (field(PREFIX, "rate", &format!("Rate in {home}"), &form.rate,
                            Input::of("text").inputmode("decimal").required(), errors))
                    }
                    span.rate-word aria-hidden="true" { (home) " from" }
                    div.rate-part.rate-day {
                        (field(PREFIX, "date", "From", &form.date, Input::of("date").required(), errors))
                    }
                }
                (layout::currency_list("rate-currencies"))
                p.hint {
                    "How much " (home) " one unit of the currency buys, from that day on (until a "
                    "later rate). A rate for the same currency and day replaces it."
                }
                div.form-actions { button.primary type="submit" { "Add rate" } }
            }
            h3 { "Your rates" }
            @if rates.rates.is_empty() {
                p.muted.rates-empty { "No rates of your own yet." }
            } @else {
                ul.rate-list aria-label="Your rates" {
                    @for rate in &rates.rates {
                        @let text = format!("1 {} = {} {} from {}", rate.base.code(), rate.rate, rate.quote.code(), rate.date);
                        li.rate-item {
                            span.rate-text { (text) }
                            @if rate.base != rates.currency && rate.quote != rates.currency {
                                span.hint { "Not used: neither currency is " (home) "." }
                            }
                            form method="post" action="/profile/rates/delete" {
                                (csrf_field(csrf))
                                input type="hidden" name="base" value=(rate.base.code());
                                input type="hidden" name="quote" value=(rate.quote.code());
                                input type="hidden" name="date" value=(rate.date);
                                button.danger.small type="submit" aria-label={"Delete " (text)} { "Delete" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The new rate's form: one `currency` buys `rate` of the account's currency from `date` on.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct RateForm {
    currency: String,
    rate: String,
    date: String,
}

/// A rate's delete form: the pair and the day that name it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct DeleteRateForm {
    base: String,
    quote: String,
    date: String,
}

/// The ECB form: a checkbox, absent when off.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct EcbForm {
    enabled: String,
}

/// Every field's problem at once (`home`: the account's currency, which the rate is in).
fn check_rate(form: &RateForm, home: Currency) -> Errors {
    let mut errors = Errors::none();
    errors.check(if form.currency.trim().is_empty() {
        Err(ApiError::invalid(
            "currency",
            "enter the currency's code, such as USD",
        ))
    } else {
        currency("currency", &form.currency).map(drop)
    });
    errors.check(if form.rate.trim().is_empty() {
        Err(ApiError::invalid(
            "rate",
            format!("enter how much {home} one unit buys"),
        ))
    } else {
        Rate::parse(&form.rate)
            .map(drop)
            .map_err(|e| ApiError::invalid("rate", e))
    });
    errors.check(if form.date.trim().is_empty() {
        Err(ApiError::invalid(
            "date",
            "enter the first day it applies to",
        ))
    } else {
        date("date", &form.date).map(drop)
    });
    errors
}

/// `POST /profile/rates`: records a rate into the account's currency (replacing one of the same
/// currency and day). What does not pass is shown beside its field, with what was sent.
pub(crate) async fn add_rate(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<RateForm>,
) -> Response {
    let checked = check_rate(&form, user.user().currency);
    let refused = if checked.is_empty() {
        let request = CreateRateRequest {
            currency: form.currency.trim().to_owned(),
            rate: form.rate.trim().to_owned(),
            date: form.date.trim().to_owned(),
            quote: None,
        };
        match create_rate(&state, user.user(), request).await {
            Ok(_) => return see_other("/profile?done=rate#rates"),
            Err(err) => errors_of(err, "form"),
        }
    } else {
        Ok((StatusCode::UNPROCESSABLE_ENTITY, checked))
    };
    match refused {
        Ok((status, errors)) => {
            let failed = Failed::Rate(form, errors);
            render(&state, &user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

/// `POST /profile/rates/delete`: deletes one of the user's rates; one that is not theirs is the
/// 404 page.
pub(crate) async fn delete_rate(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<DeleteRateForm>,
) -> Response {
    match delete(&state, user.user(), &form).await {
        Ok(()) => see_other("/profile?done=rate-deleted#rates"),
        Err(err) => failure(err),
    }
}

async fn delete(state: &AppState, user: &User, form: &DeleteRateForm) -> ApiResult<()> {
    let base = currency("base", &form.base)?;
    let quote = currency("quote", &form.quote)?;
    let day = date("date", &form.date)?;
    state
        .store
        .delete_user_rate(user.id, base, quote, day)
        .await?;
    Ok(())
}

/// `POST /profile/rates/ecb`: turns the ECB's rates on (fetching them now when none are kept or
/// they are stale, as the API does) or off.
pub(crate) async fn set_ecb(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<EcbForm>,
) -> Response {
    let enabled = !form.enabled.trim().is_empty();
    match switch_ecb(&state, user.user(), enabled).await {
        Ok(()) if enabled => see_other("/profile?done=ecb-on#rates"),
        Ok(()) => see_other("/profile?done=ecb-off#rates"),
        Err(err) => failure(err),
    }
}

async fn switch_ecb(state: &AppState, user: &User, enabled: bool) -> ApiResult<()> {
    state.store.set_uses_ecb_rates(user.id, enabled).await?;
    if enabled {
        fetch_ecb_if_stale(state).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::rates::RateView;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn view(rates: Vec<RateView>) -> RatesView {
        RatesView {
            currency: Currency::INR,
            uses_ecb: false,
            ecb_latest_day: None,
            ecb_fetched_at: None,
            rates,
        }
    }

    #[test]
    fn no_rates_and_no_ecb_rates_say_so_and_the_new_rate_starts_today() {
        let markup = card(&view(Vec::new()), day("2026-11-05"), "t", None).into_string();
        assert!(markup.contains("id=\"rates\""), "{markup}");
        assert!(markup.contains("Not fetched yet."), "{markup}");
        assert!(markup.contains("No rates of your own yet."), "{markup}");
        assert!(!markup.contains("checked"), "{markup}");
        assert!(markup.contains("value=\"2026-11-05\""), "{markup}");
        assert!(markup.contains("pattern=\"[A-Za-z]{3}\""), "{markup}");
        assert!(markup.contains("Rate in INR"), "{markup}");
    }

    #[test]
    fn each_rate_reads_as_a_sentence_with_its_delete_form() {
        let mut rates = view(vec![
            RateView {
                base: Currency::USD,
                quote: Currency::INR,
                date: day("2026-11-01"),
                rate: "83.215".into(),
            },
            RateView {
                base: Currency::from_code("EUR").unwrap(),
                quote: Currency::USD,
                date: day("2026-10-01"),
                rate: "1.1".into(),
            },
        ]);
        rates.uses_ecb = true;
        rates.ecb_latest_day = Some(day("2026-11-04"));
        let markup = card(&rates, day("2026-11-05"), "t", None).into_string();
        assert!(
            markup.contains("1 USD = 83.215 INR from 2026-11-01"),
            "{markup}"
        );
        assert!(
            markup.contains("aria-label=\"Delete 1 USD = 83.215 INR from 2026-11-01\""),
            "{markup}"
        );
        assert!(markup.contains("name=\"quote\" value=\"INR\""), "{markup}");
        assert_eq!(
            markup.matches("Not used: neither currency is INR.").count(),
            1,
            "{markup}"
        );
        assert!(markup.contains("checked"), "{markup}");
        assert!(markup.contains("04 Nov 2026"), "{markup}");
        assert!(!markup.contains("Not fetched yet."), "{markup}");
    }

    #[test]
    fn a_refused_rate_is_shown_beside_its_field_with_what_was_sent() {
        let form = RateForm {
            currency: "usd".into(),
            rate: "abc".into(),
            date: "2026-11-01".into(),
        };
        let errors = check_rate(&form, Currency::INR);
        assert!(
            errors
                .get("rate")
                .is_some_and(|m| m.contains("is not a rate")),
            "{errors:?}"
        );
        assert_eq!(errors.get("currency"), None);
        assert_eq!(errors.get("date"), None);
        let zero = RateForm {
            rate: "0".into(),
            ..form.clone()
        };
        assert!(
            check_rate(&zero, Currency::INR)
                .get("rate")
                .is_some_and(|m| m.contains("greater than zero"))
        );
        let blank = check_rate(&RateForm::default(), Currency::INR);
        for name in ["currency", "rate", "date"] {
            assert!(blank.get(name).is_some(), "{name}: {blank:?}");
        }
        let failed = Failed::Rate(form, errors);
        let markup = card(&view(Vec::new()), day("2026-11-05"), "t", Some(&failed)).into_string();
        assert!(markup.contains("id=\"new-rate-rate-error\""), "{markup}");
        assert!(markup.contains("value=\"abc\""), "{markup}");
        assert!(markup.contains("value=\"usd\""), "{markup}");
        assert!(markup.contains("value=\"2026-11-01\""), "{markup}");
        assert_eq!(markup.matches("class=\"error\"").count(), 1, "{markup}");
    }
}
