//! Categories: the account's defaults and its own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ledgerly_core::{CategoryId, CategoryName};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::CategoryView;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(rename, delete))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NameRequest {
    /// Unique among the account's categories, in any case.
    #[schema(example = "Travel")]
    name: String,
}

fn name(request: &NameRequest) -> ApiResult<CategoryName> {
    CategoryName::parse(&request.name).map_err(|e| ApiError::invalid("name", e))
}

/// The default categories and the account's own.
#[utoipa::path(get, operation_id = "listCategories", path = "/categories", tag = "categories",
    responses((status = 200, description = "The categories", body = Vec<CategoryView>)))]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<CategoryView>>> {
    let categories = state.store.list_categories(current.user.id).await?;
    Ok(Json(categories.into_iter().map(Into::into).collect()))
}

/// Adds a category.
#[utoipa::path(post, operation_id = "createCategory", path = "/categories", tag = "categories", request_body = NameRequest,
    responses(
        (status = 201, description = "The category", body = CategoryView),
        (status = 409, description = "A category with this name exists", body = ErrorBody),
    ))]
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

/// Renames a category; its expenses follow.
#[utoipa::path(patch, operation_id = "renameCategory", path = "/categories/{id}", tag = "categories",
    params(("id" = CategoryId, Path, description = "The category's id.")), request_body = NameRequest,
    responses(
        (status = 200, description = "The renamed category", body = CategoryView),
        (status = 409, description = "A category with this name exists", body = ErrorBody),
    ))]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Where the category's expenses go; required when it has any.
    move_to: Option<CategoryId>,
}

/// Deletes a category. One that still has expenses is refused (409) unless `move_to` names
/// another of the user's categories to move them to.
#[utoipa::path(delete, operation_id = "deleteCategory", path = "/categories/{id}", tag = "categories",
    params(("id" = CategoryId, Path, description = "The category's id."), DeleteQuery),
    responses(
        (status = 204, description = "Deleted (its expenses moved to `move_to`)"),
        (status = 409, description = "The category has expenses and no `move_to` was given", body = ErrorBody),
    ))]
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
