//! Recurring expenses: rent, subscriptions — each with its schedule in words, its next date (or
//! that it is paused or has ended), how many expenses it made and the dates it will skip; the
//! form for a new one; pause, resume, skip the next date, take a skip back, edit (the expenses it
//! already made too, from a date) and delete (what it made stays). The JSON API's own steps
//! ([`crate::routes::recurring`]) behind forms.

use super::NoFields;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use ledgerly_core::recurring::{Unit, max_every};
use ledgerly_core::{Category, Currency, Money, RecurringId, User};
use ledgerly_store::StoreError;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::routes::expenses::{date, note, vendor};
use crate::routes::recurring::{
    CreateRecurringRequest, RecurringView, UpdateRecurringRequest, create_recurring,
    update_recurring,
};
use crate::state::AppState;
use crate::views::AmountInput;

use super::charts::Palette;
use super::layout::{self, Input, Section, csrf_field, dialog, expense_count, field, select};
use super::profile::errors_of;
use super::{Errors, PagePath, SignedForm, WebUser, failure, param, see_other};

/// The units a schedule counts in, as the forms offer them.
const UNITS: [Unit; 4] = [Unit::Day, Unit::Week, Unit::Month, Unit::Year];

const DAY_HINT: &str =
    "Monthly and yearly ones: 1 to 31 (a shorter month uses its last day). Empty: the start's day.";

const DAY_ONLY: &str = "only monthly and yearly ones fall on a day of the month: leave it empty";

const FROM_HINT: &str = "Optional: the expenses it already made from this day on change too (and a \
                         changed schedule starts again here). Empty: only what it makes from now \
                         on changes.";

/// The new recurring expense's form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewForm {
    vendor: String,
    amount: String,
    currency: String,
    category: String,
    note: String,
    every: String,
    unit: String,
    starts_on: String,
    ends_on: String,
    day_of_month: String,
}

impl NewForm {
    /// Every month from today, in the account's currency and its first category.
    fn blank(user: &User, categories: &[Category]) -> Self {
        NewForm {
            currency: user.currency.code().to_owned(),
            category: categories
                .first()
                .map(|c| c.id.to_string())
                .unwrap_or_default(),
            every: "1".to_owned(),
            unit: Unit::Month.as_str().to_owned(),
            starts_on: user.time_zone.today().to_string(),
            ..NewForm::default()
        }
    }
}

/// A recurring expense's edit form; its amount is in the recurring expense's currency.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EditForm {
    vendor: String,
    amount: String,
    category: String,
    note: String,
    every: String,
    unit: String,
    day_of_month: String,
    ends_on: String,
    /// The expenses it already made from this day on change with it; empty: none of them.
    from: String,
}

impl EditForm {
    fn of(rule: &RecurringView) -> Self {
        EditForm {
            vendor: rule.vendor.clone(),
            amount: rule.amount.clone(),
            category: rule.category_id.to_string(),
            note: rule.note.clone().unwrap_or_default(),
            every: rule.every.to_string(),
            unit: rule.unit.as_str().to_owned(),
            day_of_month: rule.day_of_month.map(|d| d.to_string()).unwrap_or_default(),
            ends_on: rule.ends_on.map(|d| d.to_string()).unwrap_or_default(),
            from: String::new(),
        }
    }
}

/// The skip and unskip forms: the occurrence's date (a skip without one skips the next).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct DateForm {
    date: String,
}

/// Which form failed, with what it sent and what was wrong.
#[derive(Debug)]
enum Failed {
    New(NewForm, Errors),
    Edit(RecurringId, EditForm, Errors),
    /// A pause, resume, skip or unskip refused: why, beside the recurring expense's buttons.
    Action(RecurringId, Errors),
}

/// The page's address: `done` (the notice, with its count) and `delete` (the dialog).
#[derive(Debug, Default)]
struct Shown {
    done: Option<String>,
    /// The expenses a new one made (`made`), an edit changed (`changed`), or the dates a resume
    /// passed over (`passed`).
    count: u64,
    delete: Option<String>,
}

impl Shown {
    fn parse(pairs: &[(String, String)]) -> Self {
        let number = |key: &str| {
            param(pairs, key)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let done = param(pairs, "done").map(str::to_owned);
        let count = match done.as_deref() {
            Some("created") => number("made"),
            Some("updated") => number("changed"),
            Some("resumed") => number("passed"),
            _ => 0,
        };
        Shown {
            done,
            count,
            delete: param(pairs, "delete").map(str::to_owned),
        }
    }
}

/// The short message after a form worked.
fn notice(done: Option<&str>, count: u64) -> Markup {
    let text = match done {
        Some("created") if count > 0 => format!(
            "Recurring expense added. Made {} up to today.",
            expense_count(count)
        ),
        Some("created") => {
            "Recurring expense added: nothing was due yet, its first expense is made on its day."
                .to_owned()
        }
        Some("updated") if count > 0 => format!(
            "Recurring expense saved. Changed {} it had already made.",
            expense_count(count)
        ),
        Some("updated") => {
            "Recurring expense saved: what it makes from now on follows it.".to_owned()
        }
        Some("paused") => "Paused: it makes nothing until you resume it.".to_owned(),
        Some("resumed") if count == 1 => {
            "Resumed. The date that fell due while it was paused was passed over.".to_owned()
        }
        Some("resumed") if count > 1 => format!(
            "Resumed. The {count} dates that fell due while it was paused were passed over."
        ),
        Some("resumed") => "Resumed.".to_owned(),
        Some("skipped") => "Skipped: no expense is made on that date.".to_owned(),
        Some("unskipped") => "Skip taken back: the expense is made on that date.".to_owned(),
        Some("deleted") => {
            "Recurring expense deleted: the expenses it already made stay.".to_owned()
        }
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// `GET /recurring`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    render(&state, &user, &Shown::parse(&pairs), None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    user: &WebUser,
    shown: &Shown,
    failed: Option<Failed>,
    status: StatusCode,
) -> Response {
    let u = user.user();
    let store = &state.store;
    let (rules, categories) =
        match tokio::try_join!(store.list_recurring(u.id), store.list_categories(u.id)) {
            Ok(read) => read,
            Err(err) => return failure(err.into()),
        };
    let rules: Vec<RecurringView> = rules.into_iter().map(RecurringView::from).collect();
    let deleting = match shown.delete.as_deref() {
        None => None,
        Some(text) => {
            let id = text.parse::<RecurringId>().ok();
            match rules.iter().find(|rule| Some(rule.id) == id) {
                Some(rule) => Some(rule),
                None => return failure(ApiError::NotFound("recurring expense")),
            }
        }
    };
    let palette = Palette::of(&categories);
    let options: Vec<(String, String)> = categories
        .iter()
        .map(|c| (c.id.to_string(), c.name.as_str().to_owned()))
        .collect();
    let (new, new_errors) = match &failed {
        Some(Failed::New(form, errors)) => (form.clone(), errors.clone()),
        _ => (NewForm::blank(u, &categories), Errors::none()),
    };
    let body = html! {
        (notice(shown.done.as_deref(), shown.count))
        div.page-head { h1 { "Recurring expenses" } }
        (new_card(&new, &new_errors, &options, &user.csrf))
        section.card aria-labelledby="recurring-title" #recurring {
            h2 #recurring-title { "Your recurring expenses" }
            @if rules.is_empty() {
                p.empty { "None yet: add rent or a subscription above and its expenses are made on their days." }
            } @else {
                ul.recurring-list {
                    @for rule in &rules {
                        (rule_item(rule, &palette, &options, &user.csrf, failed.as_ref()))
                    }
                }
            }
        }
        @if let Some(rule) = deleting {
            (dialog("Delete this recurring expense?", "/recurring", html! {
                p {
                    strong { (rule.vendor) } ", " (amount_text(&rule.amount, rule.currency)) " "
                    (rule.schedule) ". It makes no more expenses."
                    @match rule.made {
                        0 => {},
                        1 => " The expense it already made stays.",
                        made => { " The " (expense_count(made)) " it already made stay." },
                    }
                }
                form method="post" action={"/recurring/" (rule.id) "/delete"} {
                    (csrf_field(&user.csrf))
                    div.form-actions {
                        button.danger type="submit" { "Delete" }
                        a.button href="/recurring" autofocus { "Cancel" }
                    }
                }
            }))
        }
    };
    let page = layout::page(
        "Recurring expenses",
        Some((u, &user.csrf)),
        Section::Recurring,
        body,
    );
    (status, page).into_response()
}

/// The unit select's options: `day(s)`, `week(s)`…
fn unit_options() -> Vec<(String, String)> {
    UNITS
        .iter()
        .map(|unit| (unit.as_str().to_owned(), format!("{}(s)", unit.as_str())))
        .collect()
}

/// The new recurring expense's card.
fn new_card(
    values: &NewForm,
    errors: &Errors,
    categories: &[(String, String)],
    csrf: &str,
) -> Markup {
    html! {
        section.card.recurring-new aria-labelledby="recurring-new-title" {
            h2 #recurring-new-title { "New recurring expense" }
            p.hint {
                "Rent, a subscription, a loan: each expense is made on its day. One that starts in "
                "the past makes what fell due up to today at once."
            }
            form.recurring-form method="post" action="/recurring" novalidate {
                (csrf_field(csrf))
                (layout::form_error(errors))
                div.row {
                    (field("new", "vendor", "Vendor", &values.vendor, Input::of("text").required(), errors))
                    (select("new", "category", "Category", &values.category, categories, errors))
                }
                div.row {
                    (field("new", "amount", "Amount", &values.amount, Input::of("text").required().inputmode("decimal"), errors))
                    (field("new", "currency", "Currency", &values.currency, Input::of("text").list("currencies"), errors))
                }
                div.row {
                    (field("new", "every", "Every", &values.every, Input::of("text").required().inputmode("numeric"), errors))
                    (select("new", "unit", "Unit", &values.unit, &unit_options(), errors))
                }
                div.row {
                    (field("new", "starts_on", "Starts on", &values.starts_on, Input::of("date").required(), errors))
                    (field("new", "ends_on", "Ends on", &values.ends_on, Input::of("date").hint("Optional."), errors))
                }
                div.row {
                    (field("new", "day_of_month", "Day of the month", &values.day_of_month,
                        Input::of("text").inputmode("numeric").hint(DAY_HINT), errors))
                    (field("new", "note", "Note", &values.note, Input::of("text").hint("Optional."), errors))
                }
                (layout::currency_list("currencies"))
                div.form-actions { button.primary type="submit" { "Add recurring expense" } }
            }
        }
    }
}

/// One recurring expense in the list: what it records, when, its state, its skipped dates and
/// its forms; `failed` is the page's form that did not pass, shown again here when it is one of
/// this recurring expense's.
fn rule_item(
    rule: &RecurringView,
    palette: &Palette,
    categories: &[(String, String)],
    csrf: &str,
    failed: Option<&Failed>,
) -> Markup {
    let none = Errors::none();
    let (edit, edit_errors, editing) = match failed {
        Some(Failed::Edit(id, form, errors)) if *id == rule.id => (form.clone(), errors, true),
        _ => (EditForm::of(rule), &none, false),
    };
    let refused = match failed {
        Some(Failed::Action(id, errors)) if *id == rule.id => Some(errors),
        _ => None,
    };
    let prefix = format!("edit-{}", rule.id);
    let action = format!("/recurring/{}", rule.id);
    html! {
        li.recurring #{"recurring-" (rule.id)} data-recurring=(rule.id) {
            div.recurring-head {
                span.recurring-vendor { (rule.vendor) }
                span.recurring-amount { (amount_text(&rule.amount, rule.currency)) }
            }
            p.recurring-meta {
                span class={"tag " (palette.class(rule.category_id))} { (rule.category) }
                " " (sentence(&rule.schedule))
                @if let Some(ends_on) = rule.ends_on { ", until " (day(ends_on)) }
                @if let Some(note) = &rule.note { " · " (note) }
            }
            p.recurring-state {
                @match (rule.paused, rule.next_on) {
                    (true, _) => span.badge.pending { "Paused" },
                    (false, Some(next)) => { "Next: " time datetime=(next) { (day(next)) } },
                    (false, None) => span.badge { "Ended" },
                }
                " · " (expense_count(rule.made)) " made"
            }
            @if !rule.skips.is_empty() {
                div.recurring-skips {
                    span.muted { "Skipped:" }
                    ul.skip-list {
                        @for skipped in &rule.skips {
                            li {
                                time datetime=(skipped) { (day(*skipped)) }
                                form method="post" action={(action) "/unskip"} {
                                    (csrf_field(csrf))
                                    input type="hidden" name="date" value=(skipped);
                                    button.small type="submit" aria-label={"Unskip " (day(*skipped))} { "Unskip" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(errors) = refused {
                (layout::form_error(errors))
            }
            div.recurring-actions {
                @if rule.paused {
                    form method="post" action={(action) "/resume"} {
                        (csrf_field(csrf))
                        button.small.primary type="submit" aria-label={"Resume " (rule.vendor)} { "Resume" }
                    }
                } @else if let Some(next) = rule.next_on {
                    form method="post" action={(action) "/skip"} {
                        (csrf_field(csrf))
                        input type="hidden" name="date" value=(next);
                        button.small type="submit" { "Skip next (" (day(next)) ")" }
                    }
                    form method="post" action={(action) "/pause"} {
                        (csrf_field(csrf))
                        button.small type="submit" aria-label={"Pause " (rule.vendor)} { "Pause" }
                    }
                }
                a.button.small.danger href={"/recurring?delete=" (rule.id)} aria-label={"Delete " (rule.vendor)} { "Delete" }
            }
            details.recurring-edit open[editing] {
                summary { "Edit" span.visually-hidden { " " (rule.vendor) } }
                form.recurring-form method="post" action=(action) novalidate {
                    (csrf_field(csrf))
                    (layout::form_error(edit_errors))
                    div.row {
                        (field(&prefix, "vendor", "Vendor", &edit.vendor, Input::of("text").required(), edit_errors))
                        (select(&prefix, "category", "Category", &edit.category, categories, edit_errors))
                    }
                    div.row {
                        (field(&prefix, "amount", &format!("Amount ({})", rule.currency.code()), &edit.amount,
                            Input::of("text").required().inputmode("decimal"), edit_errors))
                        (field(&prefix, "note", "Note", &edit.note, Input::of("text").hint("Optional."), edit_errors))
                    }
                    div.row {
                        (field(&prefix, "every", "Every", &edit.every, Input::of("text").required().inputmode("numeric"), edit_errors))
                        (select(&prefix, "unit", "Unit", &edit.unit, &unit_options(), edit_errors))
                    }
                    div.row {
                        (field(&prefix, "day_of_month", "Day of the month", &edit.day_of_month,
                            Input::of("text").inputmode("numeric").hint(DAY_HINT), edit_errors))
                        (field(&prefix, "ends_on", "Ends on", &edit.ends_on, Input::of("date").hint("Optional."), edit_errors))
                    }
                    (field(&prefix, "from", "Apply to expenses already made from", &edit.from,
                        Input::of("date").hint(FROM_HINT), edit_errors))
                    div.form-actions { button.primary type="submit" { "Save changes" } }
                }
            }
        }
    }
}

/// An amount as the expenses table writes it: `₹1,500.00`.
fn amount_text(amount: &str, currency: Currency) -> String {
    Money::from_decimal_str(amount, currency)
        .map_or_else(|_| format!("{amount} {currency}"), |money| money.format())
}

/// A date as the pages write it: `05 Apr 2026`.
fn day(date: NaiveDate) -> String {
    date.format("%d %b %Y").to_string()
}

/// `every month on the 1st` → `Every month on the 1st`.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// A form's text, trimmed; `None` when empty.
fn text(given: &str) -> Option<String> {
    Some(given.trim().to_owned()).filter(|t| !t.is_empty())
}

fn read_vendor(text: &str) -> ApiResult<String> {
    if blank(text) {
        return Err(ApiError::invalid("vendor", "enter who you pay"));
    }
    vendor(text).map(|v| v.as_str().to_owned())
}

fn read_amount(text: &str, currency: Currency) -> ApiResult<Money> {
    if blank(text) {
        return Err(ApiError::invalid("amount", "enter the amount"));
    }
    let money = AmountInput::Text(text.trim().to_owned()).to_money("amount", currency)?;
    if money.is_positive() {
        Ok(money)
    } else {
        Err(ApiError::invalid("amount", "must be more than zero"))
    }
}

fn read_unit(text: &str) -> ApiResult<Unit> {
    Unit::parse(text).map_err(|e| ApiError::invalid("unit", e))
}

/// How many units apart: a whole number from 1 to what the unit allows (when it is known).
fn read_every(text: &str, unit: Option<Unit>) -> ApiResult<u32> {
    if blank(text) {
        return Err(ApiError::invalid(
            "every",
            "enter how many days, weeks, months or years apart they are",
        ));
    }
    let every = text
        .trim()
        .parse::<u32>()
        .map_err(|_| ApiError::invalid("every", "enter a whole number, such as 1"))?;
    if every == 0 {
        return Err(ApiError::invalid("every", "must be 1 or more"));
    }
    if let Some(unit) = unit {
        let max = max_every(unit);
        if every > max {
            return Err(ApiError::invalid(
                "every",
                format!("must be at most {max} for {unit}s"),
            ));
        }
    }
    Ok(every)
}

/// The day of the month, if given: 1 to 31, and only for a monthly or yearly `unit`.
fn read_day(text: &str, unit: Option<Unit>) -> ApiResult<Option<u32>> {
    if blank(text) {
        return Ok(None);
    }
    let day = text
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|day| (1..=31).contains(day))
        .ok_or_else(|| {
            ApiError::invalid(
                "day_of_month",
                "enter a day from 1 to 31, or leave it empty for the start's day",
            )
        })?;
    if matches!(unit, Some(Unit::Day | Unit::Week)) {
        return Err(ApiError::invalid("day_of_month", DAY_ONLY));
    }
    Ok(Some(day))
}

fn optional_date(field: &'static str, text: &str) -> ApiResult<Option<NaiveDate>> {
    if blank(text) {
        Ok(None)
    } else {
        date(field, text).map(Some)
    }
}

/// Every field's problem at once in the new form; when all pass, `every` and the day of the
/// month. The API's own checks run after, on what passes these.
fn check_new(form: &NewForm, user: &User) -> Result<(u32, Option<u32>), Errors> {
    let mut errors = Errors::none();
    errors.check(read_vendor(&form.vendor).map(drop));
    let currency = if blank(&form.currency) {
        Some(user.currency)
    } else {
        errors.check(crate::views::currency("currency", form.currency.trim()))
    };
    errors.check(read_amount(&form.amount, currency.unwrap_or(user.currency)).map(drop));
    if blank(&form.category) {
        errors.check::<()>(Err(ApiError::invalid("category", "choose a category")));
    }
    let unit = errors.check(read_unit(&form.unit));
    let every = errors.check(read_every(&form.every, unit));
    let day_of_month = errors.check(read_day(&form.day_of_month, unit));
    let starts_on = errors.check(if blank(&form.starts_on) {
        Err(ApiError::invalid(
            "starts_on",
            "enter the first day it falls on",
        ))
    } else {
        date("starts_on", &form.starts_on)
    });
    let ends_on = errors.check(optional_date("ends_on", &form.ends_on));
    if let (Some(starts_on), Some(Some(ends_on))) = (starts_on, ends_on)
        && ends_on < starts_on
    {
        errors.check::<()>(Err(ApiError::invalid(
            "ends_on",
            "must not be before the start",
        )));
    }
    if !blank(&form.note) {
        errors.check(note(&form.note).map(drop));
    }
    match (every, day_of_month) {
        (Some(every), Some(day_of_month)) if errors.is_empty() => Ok((every, day_of_month)),
        _ => Err(errors),
    }
}

/// The edit form as the changes to send: only the fields that differ from `rule` (a schedule
/// field sent as it was would start the schedule again), with every field's problem at once.
fn changes(form: &EditForm, rule: &RecurringView) -> Result<UpdateRecurringRequest, Errors> {
    let mut errors = Errors::none();
    let vendor = errors.check(read_vendor(&form.vendor));
    let amount = errors.check(read_amount(&form.amount, rule.currency));
    if blank(&form.category) {
        errors.check::<()>(Err(ApiError::invalid("category", "choose a category")));
    }
    if !blank(&form.note) {
        errors.check(note(&form.note).map(drop));
    }
    let unit = errors.check(read_unit(&form.unit));
    let every = errors.check(read_every(&form.every, unit));
    // A day kept as it was is not sent: the API drops it when the unit becomes days or weeks.
    let day_of_month = errors
        .check(read_day(&form.day_of_month, None))
        .filter(|day| *day != rule.day_of_month);
    if let (Some(Some(_)), Some(Unit::Day | Unit::Week)) = (day_of_month, unit) {
        errors.check::<()>(Err(ApiError::invalid("day_of_month", DAY_ONLY)));
    }
    let ends_on = errors.check(optional_date("ends_on", &form.ends_on));
    let from = errors.check(optional_date("from", &form.from));
    if !errors.is_empty() {
        return Err(errors);
    }
    let note = text(&form.note);
    let category = form.category.trim().to_owned();
    Ok(UpdateRecurringRequest {
        category: (category != rule.category_id.to_string()).then_some(category),
        vendor: vendor.filter(|v| *v != rule.vendor),
        amount: amount
            .filter(|a| a.to_decimal_string() != rule.amount)
            .map(|_| AmountInput::Text(form.amount.trim().to_owned())),
        note: (note != rule.note).then_some(note),
        unit: unit
            .filter(|u| *u != rule.unit)
            .map(|u| u.as_str().to_owned()),
        every: every.filter(|e| *e != rule.every),
        day_of_month,
        ends_on: ends_on
            .filter(|e| *e != rule.ends_on)
            .map(|e| e.map(|d| d.to_string())),
        from: from.flatten().map(|d| d.to_string()),
        ..UpdateRecurringRequest::default()
    })
}

/// The page again with the form `failed` makes of the errors, beside its fields (the form's
/// own place when the error names none); faults and a recurring expense that is not the
/// user's are an error page.
async fn refused(
    state: &AppState,
    user: &WebUser,
    err: ApiError,
    failed: impl FnOnce(Errors) -> Failed,
) -> Response {
    match errors_of(err, "form") {
        Ok((status, errors)) => {
            render(state, user, &Shown::default(), Some(failed(errors)), status).await
        }
        Err(err) => failure(err),
    }
}

/// A refused skip or unskip, beside the recurring expense's buttons whatever field it names.
async fn action_failed(
    state: &AppState,
    user: &WebUser,
    id: RecurringId,
    err: ApiError,
) -> Response {
    let err = match err {
        ApiError::Invalid { message, .. } => ApiError::Invalid {
            field: None,
            message,
        },
        other => other,
    };
    refused(state, user, err, |errors| Failed::Action(id, errors)).await
}

/// `POST /recurring`: records a new one and makes what it already owes.
pub(crate) async fn create(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<NewForm>,
) -> Response {
    let (every, day_of_month) = match check_new(&form, user.user()) {
        Ok(checked) => checked,
        Err(errors) => {
            let failed = Failed::New(form, errors);
            return render(
                &state,
                &user,
                &Shown::default(),
                Some(failed),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let request = CreateRecurringRequest {
        category: form.category.trim().to_owned(),
        vendor: form.vendor.clone(),
        amount: AmountInput::Text(form.amount.trim().to_owned()),
        currency: text(&form.currency),
        note: text(&form.note),
        unit: form.unit.trim().to_owned(),
        every: Some(every),
        starts_on: form.starts_on.trim().to_owned(),
        ends_on: text(&form.ends_on),
        day_of_month,
    };
    match create_recurring(&state, user.user(), request).await {
        Ok(rule) => see_other(&format!("/recurring?done=created&made={}", rule.made)),
        Err(err) => refused(&state, &user, err, |errors| Failed::New(form, errors)).await,
    }
}

/// `POST /recurring/{id}`: saves the edit form's changes; with `from`, to the expenses it
/// already made from that day on too.
pub(crate) async fn update(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, form }: SignedForm<EditForm>,
) -> Response {
    let rule = match state.store.get_recurring(user.user().id, id).await {
        Ok(rule) => RecurringView::from(rule),
        Err(err) => return failure(err.into()),
    };
    let request = match changes(&form, &rule) {
        Ok(request) => request,
        Err(errors) => {
            let failed = Failed::Edit(id, form, errors);
            return render(
                &state,
                &user,
                &Shown::default(),
                Some(failed),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match update_recurring(&state, user.user(), id, request).await {
        Ok((_, changed)) => see_other(&format!("/recurring?done=updated&changed={changed}")),
        Err(err) => refused(&state, &user, err, |errors| Failed::Edit(id, form, errors)).await,
    }
}

/// `POST /recurring/{id}/pause`: it makes nothing until resumed.
pub(crate) async fn pause(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    match state.store.pause_recurring(user.user().id, id).await {
        Ok(_) => see_other("/recurring?done=paused"),
        Err(err) => failure(err.into()),
    }
}

/// `POST /recurring/{id}/resume`: what fell due while it was paused is passed over; today's is
/// made at once, as the API's resume does.
pub(crate) async fn resume(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    let u = user.user();
    let today = u.time_zone.today();
    let resumed = async {
        let (_, passed) = state.store.resume_recurring(u.id, id, today).await?;
        state.store.make_recurring(u.id, id, today).await?;
        Ok::<_, StoreError>(passed)
    };
    match resumed.await {
        Ok(passed) => see_other(&format!("/recurring?done=resumed&passed={passed}")),
        Err(err) => failure(err.into()),
    }
}

/// `POST /recurring/{id}/skip`: no expense is made on `date` (default the next date).
pub(crate) async fn skip(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, form }: SignedForm<DateForm>,
) -> Response {
    let u = user.user();
    let day = match form.date.trim() {
        "" => match state.store.get_recurring(u.id, id).await {
            Ok(rule) => RecurringView::from(rule)
                .next_on
                .ok_or_else(|| ApiError::invalid("date", "it has no coming date to skip")),
            Err(err) => Err(err.into()),
        },
        given => date("date", given),
    };
    let skipped = match day {
        Ok(day) => state
            .store
            .skip_recurring(u.id, id, day)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match skipped {
        Ok(_) => see_other("/recurring?done=skipped"),
        Err(err) => action_failed(&state, &user, id, err).await,
    }
}

/// `POST /recurring/{id}/unskip`: the expense on `date` is made after all (at once, when that
/// day has come).
pub(crate) async fn unskip(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, form }: SignedForm<DateForm>,
) -> Response {
    let u = user.user();
    let day = match date("date", &form.date) {
        Ok(day) => day,
        Err(err) => return action_failed(&state, &user, id, err).await,
    };
    let today = u.time_zone.today();
    let unskipped = async {
        state.store.unskip_recurring(u.id, id, day).await?;
        state.store.make_recurring(u.id, id, today).await?;
        Ok::<_, StoreError>(())
    };
    match unskipped.await {
        Ok(()) => see_other("/recurring?done=unskipped"),
        Err(err) => failure(err.into()),
    }
}

/// `POST /recurring/{id}/delete`: after the confirmation dialog; the expenses it made stay.
pub(crate) async fn delete(
    State(state): State<AppState>,
    PagePath(id): PagePath<RecurringId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    match state.store.delete_recurring(user.user().id, id).await {
        Ok(()) => see_other("/recurring?done=deleted"),
        Err(err) => failure(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerly_core::CategoryId;

    fn view() -> RecurringView {
        let on = |day| NaiveDate::from_ymd_opt(2026, 3, day).unwrap_or_else(|| unreachable!());
        RecurringView {
            id: RecurringId::new(),
            vendor: "Landlord".into(),
            amount: "25000.00".into(),
            currency: Currency::INR,
            category_id: CategoryId::new(),
            category: "housing".into(),
            note: None,
            unit: Unit::Month,
            every: 1,
            day_of_month: None,
            starts_on: on(1),
            ends_on: None,
            schedule: "every month on the 1st".into(),
            paused: false,
            next_on: Some(on(1)),
            upcoming: vec![on(1)],
            skips: vec![on(15)],
            made: 3,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    #[test]
    fn notices_say_how_many_expenses() {
        let text = |query: &str| {
            let shown = Shown::parse(&pairs(query));
            notice(shown.done.as_deref(), shown.count).into_string()
        };
        assert!(text("done=created&made=3").contains("Made 3 expenses up to today."));
        assert!(text("done=created&made=1").contains("Made 1 expense up to today."));
        assert!(text("done=created&made=x").contains("nothing was due yet"));
        assert!(text("done=updated&changed=3").contains("Changed 3 expenses it had already made."));
        assert!(text("done=resumed&passed=2").contains("The 2 dates"));
        assert!(text("done=deleted").contains("the expenses it already made stay"));
        assert_eq!(text("done=nope"), "");
    }

    #[test]
    fn an_edit_sends_only_what_changed() {
        let rule = view();
        let mut form = EditForm::of(&rule);
        let request = changes(&form, &rule).unwrap_or_default();
        assert!(request.vendor.is_none() && request.amount.is_none());
        assert!(request.category.is_none() && request.note.is_none());
        assert!(request.unit.is_none() && request.every.is_none());
        assert!(request.day_of_month.is_none() && request.ends_on.is_none());
        assert!(request.from.is_none());
        // The same amount written another way is no change.
        form.amount = "₹25,000.00".into();
        assert!(changes(&form, &rule).unwrap_or_default().amount.is_none());
        form.amount = "26000".into();
        form.from = "2026-01-01".into();
        form.note = "Flat 4B".into();
        let request = changes(&form, &rule).unwrap_or_default();
        assert!(request.amount.is_some());
        assert_eq!(request.from.as_deref(), Some("2026-01-01"));
        assert_eq!(request.note, Some(Some("Flat 4B".to_owned())));
    }

    #[test]
    fn a_bad_edit_names_each_field() {
        let rule = view();
        let mut form = EditForm::of(&rule);
        form.amount = "abc".into();
        form.every = "0".into();
        form.vendor = " ".into();
        form.unit = "week".into();
        form.day_of_month = "5".into();
        let errors = changes(&form, &rule).err().unwrap_or_default();
        for field in ["amount", "every", "vendor", "day_of_month"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn each_recurring_expense_shows_its_state_skips_and_forms() {
        let rule = view();
        let categories = [(rule.category_id.to_string(), "housing".to_owned())];
        let markup = rule_item(&rule, &Palette::of(&[]), &categories, "t", None).into_string();
        assert!(markup.contains("Every month on the 1st"), "{markup}");
        assert!(markup.contains("₹25,000.00"), "{markup}");
        assert!(
            markup.contains("Next: <time datetime=\"2026-03-01\">01 Mar 2026</time>"),
            "{markup}"
        );
        assert!(markup.contains("3 expenses made"), "{markup}");
        assert!(markup.contains("Skip next (01 Mar 2026)"), "{markup}");
        assert!(
            markup.contains("aria-label=\"Unskip 15 Mar 2026\""),
            "{markup}"
        );
        assert!(markup.contains(&format!("action=\"/recurring/{}/pause\"", rule.id)));
        assert!(!markup.contains("/resume"), "{markup}");
        assert!(
            !markup.contains("<details class=\"recurring-edit\" open"),
            "{markup}"
        );
        assert_eq!(
            markup.matches("name=\"_csrf\"").count(),
            markup.matches("<form").count(),
            "every form carries its token: {markup}"
        );
        let paused = RecurringView {
            paused: true,
            ..view()
        };
        let markup = rule_item(&paused, &Palette::of(&[]), &categories, "t", None).into_string();
        assert!(markup.contains("Paused"), "{markup}");
        assert!(markup.contains("/resume"), "{markup}");
        assert!(!markup.contains("/skip\""), "{markup}");
        let ended = RecurringView {
            next_on: None,
            ..view()
        };
        let markup = rule_item(&ended, &Palette::of(&[]), &categories, "t", None).into_string();
        assert!(markup.contains("Ended"), "{markup}");
    }

    #[test]
    fn a_failed_edit_opens_its_form_with_what_was_sent() {
        let rule = view();
        let mut form = EditForm::of(&rule);
        form.amount = "abc".into();
        let errors = changes(&form, &rule).err().unwrap_or_default();
        let failed = Failed::Edit(rule.id, form, errors);
        let markup = rule_item(&rule, &Palette::of(&[]), &[], "t", Some(&failed)).into_string();
        assert!(
            markup.contains("<details class=\"recurring-edit\" open"),
            "{markup}"
        );
        assert!(markup.contains("value=\"abc\""), "{markup}");
        assert!(
            markup.contains(&format!("id=\"edit-{}-amount-error\"", rule.id)),
            "{markup}"
        );
    }
}
