//! Categories: the account's defaults and its own.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use ledgerly_core::{CategoryId, CategoryName};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::CategoryView;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/categories", get(list).post(create))
        .route("/categories/{id}", patch(rename).delete(delete))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRequest {
    name: String,
}

fn name(request: &NameRequest) -> ApiResult<CategoryName> {
    CategoryName::parse(&request.name).map_err(|e| ApiError::invalid("name", e))
}

async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<CategoryView>>> {
    let categories = state.store.list_categories(current.user.id).await?;
    Ok(Json(categories.into_iter().map(Into::into).collect()))
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<NameRequest>,
) -> ApiResult<(StatusCode, Json<CategoryView>)> {
    let category = state
        .store
        .create_category(current.user.id, &name(&request)?)
        .await?;
    Ok((StatusCode::CREATED, Json(category.into())))
}

#[tracing::instrument(skip_all)]
async fn rename(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<CategoryId>,
    AppJson(request): AppJson<NameRequest>,
) -> ApiResult<Json<CategoryView>> {
    let category = state
        .store
        .rename_category(current.user.id, id, &name(&request)?)
        .await?;
    Ok(Json(category.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteQuery {
    /// Where the category's expenses go; required when it has any.
    move_to: Option<CategoryId>,
}

/// Deletes a category. One that still has expenses is refused (409) unless `move_to` names
/// another of the user's categories to move them to.
#[tracing::instrument(skip_all)]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<CategoryId>,
    AppQuery(query): AppQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_category(current.user.id, id, query.move_to)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
