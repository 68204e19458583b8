//! What the drawers post: add, save (and confirm), delete; and the page again, with the errors
//! beside their fields, when a form does not pass.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use ledgerly_core::{ExpenseId, ReceiptId, User};
use serde::Deserialize;

use super::drawers::{ExpenseForm, Failed};
use super::render;
use super::view::{Overlay, View};
use crate::error::ApiError;
use crate::routes::expenses::{
    CreateRequest, UpdateRequest, create_expense, date, note, update_expense, vendor,
};
use crate::state::AppState;
use crate::views::AmountInput;
use crate::web::{Errors, SignedForm, WebUser, back_to, failure, see_other};

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

/// `POST /expenses`: adds an expense from the drawer.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let mut view = view_of(&form.back, user.user());
    view.overlay = Overlay::Add;
    let errors = check_fields(&form, user.user());
    if !errors.is_empty() {
        return sent_back(
            &state,
            &user,
            view,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = CreateRequest {
        date: form.date.clone(),
        category: form.category.clone(),
        vendor: form.vendor.clone(),
        amount: amount_input(&form.amount),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(form.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match create_expense(&state, user.user(), request).await {
        Ok(_) => see_other(&with_done(&form.back, "added")),
        Err(err) => refused(&state, &user, view, form, err).await,
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
    errors
}

/// The page again with the drawer's form, its values and the errors beside their fields.
async fn sent_back(
    state: &AppState,
    user: &WebUser,
    view: View,
    values: ExpenseForm,
    errors: Errors,
    status: StatusCode,
) -> Response {
    render(state, user, view, Some(Failed { values, errors }), status).await
}

/// [`sent_back`] with what the store refused.
async fn refused(
    state: &AppState,
    user: &WebUser,
    view: View,
    values: ExpenseForm,
    err: ApiError,
) -> Response {
    let status = err.status_and_code().0;
    match Errors::from_api(err, "form") {
        Ok(errors) => sent_back(state, user, view, values, errors, status).await,
        Err(err) => failure(err),
    }
}

/// `POST /expenses/{id}`: saves the drawer's changes; with `confirm=1`, also confirms a receipt's
/// expense.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let Ok(id) = id.parse::<ExpenseId>() else {
        return failure(ApiError::NotFound("expense"));
    };
    let confirm = form.confirm == "1";
    let mut view = view_of(&form.back, user.user());
    view.overlay = if confirm {
        Overlay::Review(id.to_string())
    } else {
        Overlay::Edit(id.to_string())
    };
    // Another user's expense is not there at all, whatever the form says.
    if let Err(err) = state.store.get_expense(user.user().id, id).await {
        return failure(err.into());
    }
    let errors = check_fields(&form, user.user());
    if !errors.is_empty() {
        return sent_back(
            &state,
            &user,
            view,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = UpdateRequest {
        date: Some(form.date.clone()),
        category: Some(form.category.clone()),
        vendor: Some(form.vendor.clone()),
        amount: Some(amount_input(&form.amount)),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(Some(form.note.trim().to_owned()).filter(|n| !n.is_empty())),
        needs_review: confirm.then_some(false),
    };
    match update_expense(&state, user.user(), id, request).await {
        Ok(_) => see_other(&with_done(
            &form.back,
            if confirm { "confirmed" } else { "updated" },
        )),
        Err(err) => refused(&state, &user, view, form, err).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BackForm {
    back: String,
}

/// `POST /expenses/{id}/delete`: after the confirmation dialog.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<BackForm>,
) -> Response {
    let Ok(id) = id.parse::<ExpenseId>() else {
        return failure(ApiError::NotFound("expense"));
    };
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
    let status = err.status_and_code().0;
    match Errors::from_api(err, "file") {
        Ok(errors) => {
            render(
                state,
                user,
                view,
                Some(Failed {
                    values: ExpenseForm::default(),
                    errors,
                }),
                status,
            )
            .await
        }
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
