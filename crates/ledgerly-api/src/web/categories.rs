//! The profile's categories: add, rename, delete (moving the expenses of one that has some), and
//! each one's monthly budget.

use axum::extract::State;
use axum::response::Response;
use ledgerly_core::{
    Category, CategoryBudgetUse, CategoryId, CategoryName, Currency, Money, Month,
};
use ledgerly_store::StoreError;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::AmountInput;

use super::layout::{Input, csrf_field, field};
use super::profile::{Failed, errors_of, render};
use super::{Errors, PagePath, SignedForm, WebUser, failure, see_other};

/// The categories card, each with its budget this month (`budgets`); `failed` is the page's form
/// that did not pass, shown again here when it is a category's or a category budget's.
pub(super) fn card(
    categories: &[Category],
    budgets: &[CategoryBudgetUse],
    csrf: &str,
    failed: Option<&Failed>,
) -> Markup {
    let none = Errors::none();
    let category_form = |id: Option<CategoryId>, value: &str| -> (String, &Errors) {
        match failed {
            Some(Failed::Category(failed_id, sent, errors)) if *failed_id == id => {
                (sent.as_deref().unwrap_or(value).to_owned(), errors)
            }
            _ => (value.to_owned(), &none),
        }
    };
    // The amount sent when it did not pass, else the budget in force (empty for none).
    let budget_form = |id: CategoryId| -> (String, &Errors) {
        match failed {
            Some(Failed::Budget(failed_id, sent, errors)) if *failed_id == id => {
                (sent.clone(), errors)
            }
            _ => {
                let amount = budgets
                    .iter()
                    .find(|b| b.category_id == id)
                    .map(|b| b.budget.amount.to_decimal_string());
                (amount.unwrap_or_default(), &none)
            }
        }
    };
    html! {
        section.card.categories aria-labelledby="categories-title" #categories {
            h2 #categories-title { "Categories" }
            p.hint {
                "A category's monthly budget is in your currency and applies from this month on; "
                "leave it empty for none. The dashboard shows how much of each is used."
            }
            ul.category-list {
                @for category in categories {
                    @let (name, errors) = category_form(Some(category.id), category.name.as_str());
                    @let (budget, budget_errors) = budget_form(category.id);
                    @let prefix = format!("category-{}", category.id);
                    li {
                        form.category-row method="post" action={"/profile/categories/" (category.id)} novalidate {
                            (csrf_field(csrf))
                            (field(&prefix, "name", &format!("Name of {}", category.name.as_str()), &name, Input::of("text").required(), errors))
                            button type="submit" { "Rename" }
                        }
                        form.category-row method="post" action={"/profile/categories/" (category.id) "/delete"} {
                            (csrf_field(csrf))
                            div.field.invalid[errors.get("move_to").is_some()] {
                                label for={(prefix) "-move_to"} { "Where the expenses of " (category.name.as_str()) " go when it is deleted" }
                                select #{(prefix) "-move_to"} name="move_to"
                                    aria-describedby=[errors.get("move_to").map(|_| format!("{prefix}-move_to-error"))] {
                                    option value="" { "Its expenses move to…" }
                                    @for other in categories.iter().filter(|c| c.id != category.id) {
                                        option value=(other.id) { (other.name.as_str()) }
                                    }
                                }
                                @if let Some(message) = errors.get("move_to") {
                                    p.error #{(prefix) "-move_to-error"} { (message) }
                                }
                            }
                            button.danger type="submit" aria-label={"Delete " (category.name.as_str())} { "Delete" }
                        }
                        form.category-row.category-budget method="post" action={"/profile/categories/" (category.id) "/budget"} novalidate {
                            (csrf_field(csrf))
                            (field(&prefix, "budget", &format!("Monthly budget for {}", category.name.as_str()), &budget,
                                Input::of("text").inputmode("decimal"), budget_errors))
                            button type="submit" aria-label={"Save budget for " (category.name.as_str())} { "Save budget" }
                        }
                    }
                }
            }
            @let (name, errors) = category_form(None, "");
            form.category-row method="post" action="/profile/categories" novalidate {
                (csrf_field(csrf))
                (field("category-new", "name", "New category", &name, Input::of("text").required(), errors))
                button.primary type="submit" { "Add" }
            }
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct CategoryForm {
    name: String,
    move_to: String,
}

fn category_name(text: &str) -> ApiResult<CategoryName> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("name", "enter a name"));
    }
    CategoryName::parse(text).map_err(|e| ApiError::invalid("name", e))
}

/// A category form's failure, shown beside it; faults become an error page.
async fn category_failed(
    state: &AppState,
    user: &WebUser,
    id: Option<CategoryId>,
    sent: Option<String>,
    err: ApiError,
) -> Response {
    let err = match err {
        ApiError::Conflict { message, .. } => ApiError::invalid("name", message),
        other => other,
    };
    match errors_of(err, "name") {
        Ok((status, errors)) => {
            let failed = Failed::Category(id, sent, errors);
            render(state, user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

fn category_id(text: &str) -> ApiResult<CategoryId> {
    text.parse().map_err(|_| ApiError::NotFound("category"))
}

/// `POST /profile/categories`: adds one.
pub(crate) async fn add_category(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let result = match category_name(&form.name) {
        Ok(name) => state
            .store
            .create_category(user.user().id, &name)
            .await
            .map(drop),
        Err(err) => return category_failed(&state, &user, None, Some(form.name), err).await,
    };
    saved(&state, &user, None, Some(form.name), result).await
}

/// `POST /profile/categories/{id}`: renames one; its expenses follow.
pub(crate) async fn rename_category(
    State(state): State<AppState>,
    PagePath(id): PagePath<CategoryId>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let result = match category_name(&form.name) {
        Ok(name) => state
            .store
            .rename_category(user.user().id, id, &name)
            .await
            .map(drop),
        Err(err) => return category_failed(&state, &user, Some(id), Some(form.name), err).await,
    };
    saved(&state, &user, Some(id), Some(form.name), result).await
}

/// Back to the categories after a change, or the form again with what the store refused.
async fn saved(
    state: &AppState,
    user: &WebUser,
    id: Option<CategoryId>,
    sent: Option<String>,
    result: Result<(), StoreError>,
) -> Response {
    match result {
        Ok(()) => see_other("/profile?done=category#categories"),
        Err(err) => category_failed(state, user, id, sent, err.into()).await,
    }
}

/// `POST /profile/categories/{id}/delete`: deletes one, moving its expenses where asked.
pub(crate) async fn delete_category(
    State(state): State<AppState>,
    PagePath(id): PagePath<CategoryId>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let move_to = match form.move_to.trim() {
        "" => None,
        text => match category_id(text) {
            Ok(to) => Some(to),
            Err(err) => return failure(err),
        },
    };
    match state
        .store
        .delete_category(user.user().id, id, move_to)
        .await
    {
        Ok(_) => see_other("/profile?done=category-deleted#categories"),
        Err(StoreError::CategoryInUse { count }) => {
            let err = ApiError::invalid(
                "move_to",
                format!("it still has {count} expense(s): choose a category to move them to"),
            );
            category_failed(&state, &user, Some(id), None, err).await
        }
        Err(err) => category_failed(&state, &user, Some(id), None, err.into()).await,
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct BudgetForm {
    budget: String,
}

/// `POST /profile/categories/{id}/budget`: the category's monthly budget from this month on (in
/// the user's time zone), in the account's currency; left empty, it has none from this month on.
pub(crate) async fn set_budget(
    State(state): State<AppState>,
    PagePath(id): PagePath<CategoryId>,
    SignedForm { user, form }: SignedForm<BudgetForm>,
) -> Response {
    let u = user.user();
    let amount = match budget_amount(&form.budget, u.currency) {
        Ok(amount) => amount,
        Err(err) => return budget_failed(&state, &user, id, form.budget, err).await,
    };
    let month = Month::of(u.time_zone.today());
    match state
        .store
        .set_category_budget(u.id, id, month, amount)
        .await
    {
        Ok(()) if amount.is_some() => see_other("/profile?done=category-budget#categories"),
        Ok(()) => see_other("/profile?done=category-budget-ended#categories"),
        Err(err) => budget_failed(&state, &user, id, form.budget, err.into()).await,
    }
}

/// The amount a budget form asks for, read as the expense forms read theirs; none when empty.
fn budget_amount(text: &str, currency: Currency) -> ApiResult<Option<Money>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let amount = AmountInput::Text(text.to_owned()).to_money("budget", currency)?;
    if amount.is_negative() {
        return Err(ApiError::invalid("budget", "must be zero or more"));
    }
    Ok(Some(amount))
}

/// A budget form's failure, beside its field with the amount sent; a category that is not the
/// user's, or a fault, becomes an error page.
async fn budget_failed(
    state: &AppState,
    user: &WebUser,
    id: CategoryId,
    sent: String,
    err: ApiError,
) -> Response {
    match errors_of(err, "budget") {
        Ok((status, errors)) => {
            let failed = Failed::Budget(id, sent, errors);
            render(state, user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_read_like_an_expense_amount_and_empty_is_none() {
        let read = |text| budget_amount(text, Currency::INR).map(|a| a.map(|m| m.minor()));
        assert_eq!(read("").ok(), Some(None));
        assert_eq!(read("  ").ok(), Some(None));
        assert_eq!(read("1200").ok(), Some(Some(120_000)));
        assert_eq!(read("₹1,05,000.50").ok(), Some(Some(10_500_050)));
        assert_eq!(read("0").ok(), Some(Some(0)));
        assert!(read("-5").is_err());
        assert!(read("lots").is_err());
        assert!(read("$5").is_err(), "another currency's symbol");
    }
}
