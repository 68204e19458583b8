//! The profile's categories: add, rename, and delete (moving the expenses of one that has some).

use axum::extract::State;
use axum::response::Response;
use ledgerly_core::{Category, CategoryId, CategoryName};
use ledgerly_store::StoreError;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::layout::{Input, csrf_field, field};
use super::profile::{Failed, errors_of, render};
use super::{Errors, PagePath, SignedForm, WebUser, failure, see_other};

/// The categories card; `failed` is the category form that did not pass (`None` for the new
/// one's), with the name it sent (if any) and its errors.
pub(super) fn card(
    categories: &[Category],
    csrf: &str,
    failed: Option<(Option<CategoryId>, Option<&str>, &Errors)>,
) -> Markup {
    let none = Errors::none();
    let category_form = |id: Option<CategoryId>, value: &str| -> (String, &Errors) {
        match failed {
            Some((failed_id, sent, errors)) if failed_id == id => {
                (sent.unwrap_or(value).to_owned(), errors)
            }
            _ => (value.to_owned(), &none),
        }
    };
    html! {
        section.card.categories aria-labelledby="categories-title" #categories {
            h2 #categories-title { "Categories" }
            ul.category-list {
                @for category in categories {
                    @let (name, errors) = category_form(Some(category.id), category.name.as_str());
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
