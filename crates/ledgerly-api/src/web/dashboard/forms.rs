//! What the drawers post: add, save (and confirm), delete; and the page again, with the errors
//! beside their fields, when a form does not pass.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ledgerly_core::{Expense, ExpenseId, ReceiptId, User};
use serde::Deserialize;

use super::drawers::{ExpenseForm, Failed};
use super::render;
use super::view::{Overlay, View};
use crate::error::{ApiError, ApiResult};
use crate::routes::expenses::{
    CreateRequest, UpdateRequest, create_expense, date, note, tag_names, update_expense, vendor,
};
use crate::state::AppState;
use crate::views::AmountInput;
use crate::web::{Errors, PagePath, SignedForm, WebUser, back_to, failure, see_other};

/// The page a drawer's form came from, as its view.
fn view_of(back: &str, user: &User) -> View {
    let query = back.split_once('?').map_or("", |(_, q)| q);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    View::parse(&pairs, user)
}

fn with_done(back: &str, done: &str) -> String {
    let back = back_to(back, "/dashboard");
    let separator = if back.contains('?') { '&' } else { '?' };
    format!("{back}{separator}done={done}")
}

fn amount_input(text: &str) -> AmountInput {
    AmountInput::Text(text.trim().to_owned())
}

/// The tag names in a form's comma-separated field, trimmed, the empty ones dropped.
fn tag_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /expenses`: adds an expense from the drawer.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let request = CreateRequest {
        date: form.date.clone(),
        category: form.category.clone(),
        vendor: form.vendor.clone(),
        amount: amount_input(&form.amount),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(form.note.trim().to_owned()).filter(|n| !n.is_empty()),
        tags: Some(tag_list(&form.tags)),
    };
    let save = create_expense(&state, user.user(), request);
    submit(&state, &user, form, Overlay::Add, "added", save).await
}

/// Checks a drawer's form and, when every field passes, runs `save` (the API's own create or
/// update, which checks the rest); then back to the page the form came from with `done` as its
/// notice, or the page again with the drawer open and the errors beside their fields. A row of
/// another user's is not found either way.
async fn submit(
    state: &AppState,
    user: &WebUser,
    form: ExpenseForm,
    overlay: Overlay,
    done: &str,
    save: impl Future<Output = ApiResult<Expense>>,
) -> Response {
    let mut view = view_of(&form.back, user.user());
    view.overlay = overlay;
    let errors = check_fields(&form, user.user());
    if !errors.is_empty() {
        let failed = Failed {
            values: form,
            errors,
        };
        return render(
            state,
            user,
            view,
            Some(failed),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match save.await {
        Ok(_) => see_other(&with_done(&form.back, done)),
        Err(err) => refused(state, user, view, form, err, "form").await,
    }
}

/// Every field's problem at once (the store's own checks run after, on what passes these).
fn check_fields(form: &ExpenseForm, user: &User) -> Errors {
    let mut errors = Errors::none();
    let blank = |text: &str| text.trim().is_empty();
    errors.check(if blank(&form.vendor) {
        Err(ApiError::invalid("vendor", "enter who you paid"))
    } else {
        vendor(&form.vendor).map(drop)
    });
    let currency = if blank(&form.currency) {
        Some(user.currency)
    } else {
        errors.check(crate::views::currency("currency", &form.currency))
    };
    errors.check(if blank(&form.amount) {
        Err(ApiError::invalid("amount", "enter the amount"))
    } else {
        amount_input(&form.amount)
            .to_money("amount", currency.unwrap_or(user.currency))
            .and_then(|money| {
                if money.is_positive() {
                    Ok(())
                } else {
                    Err(ApiError::invalid("amount", "must be more than zero"))
                }
            })
    });
    errors.check(if blank(&form.date) {
        Err(ApiError::invalid("date", "enter the date"))
    } else {
        date("date", &form.date).map(drop)
    });
    if !blank(&form.note) {
        errors.check(note(&form.note).map(drop));
    }
    errors.check(tag_names(&tag_list(&form.tags)).map(drop));
    errors
}

/// The page again with the drawer's form and what was refused, beside its field (`field` when
/// the error names none); faults are an error page.
async fn refused(
    state: &AppState,
    user: &WebUser,
    view: View,
    values: ExpenseForm,
    err: ApiError,
    field: &'static str,
) -> Response {
    let status = err.status_and_code().0;
    match Errors::from_api(err, field) {
        Ok(errors) => render(state, user, view, Some(Failed { values, errors }), status).await,
        Err(err) => failure(err),
    }
}

/// `POST /expenses/{id}`: saves the drawer's changes; with `confirm=1`, also confirms a receipt's
/// expense.
pub(crate) async fn update(
    State(state): State<AppState>,
    PagePath(id): PagePath<ExpenseId>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let confirm = form.confirm == "1";
    let (overlay, done) = if confirm {
        (Overlay::Review(id.to_string()), "confirmed")
    } else {
        (Overlay::Edit(id.to_string()), "updated")
    };
    let request = UpdateRequest {
        date: Some(form.date.clone()),
        category: Some(form.category.clone()),
        vendor: Some(form.vendor.clone()),
        amount: Some(amount_input(&form.amount)),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(Some(form.note.trim().to_owned()).filter(|n| !n.is_empty())),
        needs_review: confirm.then_some(false),
        // Always the whole set: a field emptied takes every tag off.
        tags: Some(tag_list(&form.tags)),
    };
    let save = update_expense(&state, user.user(), id, request);
    submit(&state, &user, form, overlay, done, save).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BackForm {
    back: String,
}

/// `POST /expenses/{id}/delete`: after the confirmation dialog.
pub(crate) async fn delete(
    State(state): State<AppState>,
    PagePath(id): PagePath<ExpenseId>,
    SignedForm { user, form }: SignedForm<BackForm>,
) -> Response {
    match state.store.delete_expense(user.user().id, id).await {
        Ok(()) => see_other(&with_done(&form.back, "deleted")),
        Err(err) => failure(err.into()),
    }
}

/// The dashboard's address for a receipt being read.
pub(crate) fn receipt_link(id: ReceiptId) -> String {
    format!("/dashboard?receipt={id}")
}

/// The page with the upload drawer and its error (a file of the wrong kind, too large…).
pub(crate) async fn upload_failed(
    state: &AppState,
    user: &WebUser,
    back: &str,
    err: ApiError,
) -> Response {
    let mut view = view_of(back, user.user());
    view.overlay = Overlay::Upload;
    refused(state, user, view, ExpenseForm::default(), err, "file").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tags_field_is_split_on_commas_and_checked_like_the_apis() {
        assert_eq!(tag_list(" trip, Work ,,  "), ["trip", "Work"]);
        assert!(tag_list(" , ").is_empty());
        let mut errors = Errors::none();
        errors.check(tag_names(&tag_list(&"x".repeat(41))).map(drop));
        assert!(errors.get("tags").is_some(), "a name too long");
        let many = (0..21)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut errors = Errors::none();
        errors.check(tag_names(&tag_list(&many)).map(drop));
        assert!(
            errors.get("tags").is_some_and(|m| m.contains("20")),
            "{errors:?}"
        );
    }

    #[test]
    fn notices_after_forms_go_back_where_they_came_from() {
        assert_eq!(
            with_done("/dashboard?page=2", "added"),
            "/dashboard?page=2&done=added"
        );
        assert_eq!(
            with_done("https://evil.example", "added"),
            "/dashboard?done=added"
        );
    }
}
