//! The drawers and dialogs over the dashboard: add (by hand or from a receipt), edit, review,
//! delete, and a receipt being read.

use ledgerly_core::{Category, CategoryId, Expense, ExpenseId, Receipt, ReceiptId, Unsure, User};
use maud::{Markup, html};
use serde::Deserialize;

use super::Data;
use super::view::{Overlay, View};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::layout::{self, Input, csrf_field, dialog, drawer, field, select};
use crate::web::receipts::{receipt_status, thumbnail, upload_form};
use crate::web::{Errors, WebUser};

/// The values an expense form shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExpenseForm {
    pub(super) date: String,
    pub(super) vendor: String,
    pub(super) amount: String,
    pub(super) currency: String,
    pub(super) category: String,
    pub(super) note: String,
    /// Tag names, separated by commas.
    pub(super) tags: String,
    /// Where to go back to.
    pub(super) back: String,
    /// `1` when the review's Confirm button sent the form.
    pub(super) confirm: String,
}

impl ExpenseForm {
    pub(super) fn of(expense: &Expense) -> Self {
        ExpenseForm {
            date: expense.date.to_string(),
            vendor: expense.vendor.as_str().to_owned(),
            amount: expense.amount.to_decimal_string(),
            currency: expense.amount.currency().code().to_owned(),
            category: expense.category_id.to_string(),
            note: expense
                .note
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            tags: expense
                .tags
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            back: String::new(),
            confirm: String::new(),
        }
    }

    /// A new expense: today, the account's currency, and the category of the last expense
    /// recorded (else the first).
    pub(super) fn blank(user: &User, categories: &[Category], last: Option<CategoryId>) -> Self {
        let category = last
            .filter(|id| categories.iter().any(|c| c.id == *id))
            .or_else(|| categories.first().map(|c| c.id));
        ExpenseForm {
            date: user.time_zone.today().to_string(),
            currency: user.currency.code().to_owned(),
            category: category.map(|c| c.to_string()).unwrap_or_default(),
            ..ExpenseForm::default()
        }
    }
}

/// A drawer's form as sent back after a failure.
#[derive(Debug, Clone)]
pub(crate) struct Failed {
    pub(super) values: ExpenseForm,
    pub(super) errors: Errors,
}

pub(super) async fn overlay(
    state: &AppState,
    user: &WebUser,
    view: &View,
    data: &Data,
    failed: Option<Failed>,
) -> ApiResult<Markup> {
    let close = view.back();
    let back = close.clone();
    let u = user.user();
    Ok(match &view.overlay {
        Overlay::None => html! {},
        Overlay::Add | Overlay::Upload => {
            let manual = matches!(view.overlay, Overlay::Add);
            let (values, errors) = match failed {
                Some(f) if manual => (f.values, f.errors),
                Some(f) => (
                    ExpenseForm::blank(u, &data.categories, data.last_category),
                    f.errors,
                ),
                None => (
                    ExpenseForm::blank(u, &data.categories, data.last_category),
                    Errors::none(),
                ),
            };
            drawer(
                "Add a transaction",
                &close,
                html! {
                    nav.tabs aria-label="How to add" {
                        a href=(view.link(&[("add", "manual".into())])) aria-current=[manual.then_some("page")] { "Enter it" }
                        a href=(view.link(&[("add", "receipt".into())])) aria-current=[(!manual).then_some("page")] { "Scan a receipt" }
                    }
                    @if manual {
                        form method="post" action="/expenses" novalidate {
                            (csrf_field(&user.csrf))
                            input type="hidden" name="back" value=(back);
                            (expense_fields("add", &values, &errors, &data.categories, Unsure::default()))
                            div.form-actions {
                                button.primary type="submit" { "Add expense" }
                                a.button href=(close) { "Cancel" }
                            }
                        }
                    } @else {
                        (upload_form(&user.csrf, &back, &data.categories, &errors))
                    }
                },
            )
        }
        Overlay::Edit(id) | Overlay::Review(id) => {
            let review = matches!(view.overlay, Overlay::Review(_));
            let expense = expense_named(state, u, id).await?;
            let receipt = match expense.receipt_id {
                Some(receipt) => state.store.get_receipt(u.id, receipt).await.ok(),
                None => None,
            };
            let (values, errors) = match failed {
                Some(f) => (f.values, f.errors),
                None => (ExpenseForm::of(&expense), Errors::none()),
            };
            // Until it is confirmed, the same receipt twice (or one entered by hand already) is
            // shown beside it.
            let mut duplicates = Vec::new();
            if review || expense.needs_review {
                for other in state.store.possible_duplicates(u.id, &expense).await? {
                    let image = match other.receipt_id {
                        Some(r) => state.store.get_receipt(u.id, r).await.ok(),
                        None => None,
                    };
                    duplicates.push((other, image));
                }
            }
            // What OCR was unsure of matters until its reading is confirmed.
            let unsure = match &receipt {
                Some(r) if review || expense.needs_review => r.unsure,
                _ => Unsure::default(),
            };
            let title = if review {
                "Review the receipt"
            } else {
                "Edit the expense"
            };
            drawer(
                title,
                &close,
                html! {
                    @if review {
                        p.muted { "OCR read this receipt. Check each field, correct what it got wrong, then confirm." }
                    }
                    @if unsure.any() {
                        p.notice.flag { "OCR is unsure of the flagged fields: check those first." }
                    }
                    @if let Some(receipt) = &receipt {
                        div.review-image { (thumbnail(receipt, "large")) }
                    }
                    @if !duplicates.is_empty() {
                        (possible_duplicates(view, &expense, &duplicates))
                    }
                    form method="post" action={"/expenses/" (expense.id)} novalidate {
                        (csrf_field(&user.csrf))
                        input type="hidden" name="back" value=(back);
                        (expense_fields("edit", &values, &errors, &data.categories, unsure))
                        div.form-actions {
                            @if review || expense.needs_review {
                                button.primary type="submit" name="confirm" value="1" { "Confirm" }
                                button type="submit" { "Save for later" }
                            } @else {
                                button.primary type="submit" { "Save" }
                            }
                            a.button href=(close) { "Cancel" }
                        }
                    }
                },
            )
        }
        Overlay::Delete(id) => {
            let expense = expense_named(state, u, id).await?;
            dialog(
                "Delete this expense?",
                &close,
                html! {
                    p {
                        strong { (expense.vendor.as_str()) } ", " (expense.amount.format()) " on "
                        (expense.date.format("%d %b %Y")) ". This cannot be undone."
                    }
                    form method="post" action={"/expenses/" (expense.id) "/delete"} {
                        (csrf_field(&user.csrf))
                        input type="hidden" name="back" value=(back);
                        div.form-actions {
                            button.danger type="submit" { "Delete" }
                            a.button href=(close) autofocus { "Cancel" }
                        }
                    }
                },
            )
        }
        Overlay::Receipt(id) => {
            let receipt = receipt_named(state, u, id).await?;
            drawer(
                "Scanning your receipt",
                &close,
                receipt_status(&receipt, &user.csrf),
            )
        }
    })
}

/// The expenses `expense` may duplicate, each with its receipt when it has one, and a way to
/// delete this one instead.
fn possible_duplicates(
    view: &View,
    expense: &Expense,
    duplicates: &[(Expense, Option<Receipt>)],
) -> Markup {
    html! {
        section.possible-duplicate aria-labelledby="possible-duplicate-title" {
            h3 #possible-duplicate-title { "Possible duplicate" }
            p {
                "You have " (if duplicates.len() == 1 { "an expense" } else { "expenses" })
                " on the same day, for the same amount, at the same vendor. Keep both only if you "
                "paid twice."
            }
            ul.duplicate-list {
                @for (other, image) in duplicates {
                    li.duplicate-item {
                        @if let Some(image) = image { (thumbnail(image, "small")) }
                        div.duplicate-text {
                            strong { (other.vendor.as_str()) } ", " (other.amount.format()) " on "
                            (other.date.format("%d %b %Y")) " · " (other.category.as_str())
                            @if other.needs_review { " · awaiting review" }
                            br;
                            a href=(view.link(&[("edit", other.id.to_string())])) { "Open it" }
                        }
                    }
                }
            }
            a.button.danger href=(view.link(&[("delete", expense.id.to_string())])) { "Delete this one" }
        }
    }
}

async fn expense_named(state: &AppState, user: &User, id: &str) -> ApiResult<Expense> {
    let id: ExpenseId = id.parse().map_err(|_| ApiError::NotFound("expense"))?;
    Ok(state.store.get_expense(user.id, id).await?)
}

async fn receipt_named(state: &AppState, user: &User, id: &str) -> ApiResult<Receipt> {
    let id: ReceiptId = id.parse().map_err(|_| ApiError::NotFound("receipt"))?;
    Ok(state.store.get_receipt(user.id, id).await?)
}

fn expense_fields(
    prefix: &str,
    values: &ExpenseForm,
    errors: &Errors,
    categories: &[Category],
    unsure: Unsure,
) -> Markup {
    const UNSURE: &str = "OCR is unsure of this: check it against the receipt.";
    let options: Vec<(String, String)> = categories
        .iter()
        .map(|c| (c.id.to_string(), c.name.as_str().to_owned()))
        .collect();
    html! {
        (layout::form_error(errors))
        (field(prefix, "vendor", "Vendor", &values.vendor, Input::of("text").required().autofocus().flag_if(unsure.vendor, UNSURE), errors))
        div.row {
            (field(prefix, "amount", "Amount", &values.amount, Input::of("text").required().inputmode("decimal").flag_if(unsure.amount, UNSURE), errors))
            (field(prefix, "currency", "Currency", &values.currency, Input::of("text").list("currencies"), errors))
        }
        div.row {
            (field(prefix, "date", "Date", &values.date, Input::of("date").required().flag_if(unsure.date, UNSURE), errors))
            (select(prefix, "category", "Category", &values.category, &options, errors))
        }
        p.hint.right { a href="/profile#categories" { "Manage categories" } }
        (field(prefix, "note", "Note", &values.note, Input::of("text").hint("Optional."), errors))
        (field(prefix, "tags", "Tags", &values.tags, Input::of("text").hint("Separate tags with commas; new ones are created."), errors))
        (layout::currency_list("currencies"))
    }
}
