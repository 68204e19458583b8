//! Tags: the list with how many expenses carry each, rename, merge, delete, and what the
//! expenses with each tag add up to over a month or a year. Tags are put on expenses with the
//! expenses' own `tags` field, which creates the ones the user does not have yet.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use ledgerly_core::{Month, TagId, TagName, TagUse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(rename, delete))
        .routes(routes!(merge))
        .routes(routes!(totals))
}

#[derive(Debug, Serialize, ToSchema)]
struct TagView {
    id: TagId,
    name: String,
    /// How many expenses carry it.
    expenses: u64,
}

impl From<TagUse> for TagView {
    fn from(t: TagUse) -> Self {
        Self {
            id: t.id,
            name: t.name.as_str().to_owned(),
            expenses: t.expenses,
        }
    }
}

/// The tag `id` of the user, as listed.
async fn tag_view(state: &AppState, current: &CurrentUser, id: TagId) -> ApiResult<TagView> {
    state
        .store
        .list_tags(current.user.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .map(Into::into)
        .ok_or(ApiError::NotFound("tag"))
}

/// The user's tags by name, each with how many expenses carry it.
#[utoipa::path(get, operation_id = "listTags", path = "/tags", tag = "tags",
    responses((status = 200, description = "The tags", body = Vec<TagView>)))]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<TagView>>> {
    let tags = state.store.list_tags(current.user.id).await?;
    Ok(Json(tags.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RenameRequest {
    /// At most 40 characters, no commas.
    #[schema(example = "travel")]
    name: String,
}

/// Renames a tag; its expenses keep it. A name another tag has is a 409: merge them instead.
#[utoipa::path(patch, operation_id = "renameTag", path = "/tags/{id}", tag = "tags",
    params(("id" = TagId, Path, description = "The tag's id.")),
    request_body = RenameRequest,
    responses((status = 200, description = "The renamed tag", body = TagView),
        (status = 404, description = "No such tag of yours", body = ErrorBody),
        (status = 409, description = "Another tag has this name", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn rename(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<TagId>,
    AppJson(request): AppJson<RenameRequest>,
) -> ApiResult<Json<TagView>> {
    let name = TagName::parse(&request.name).map_err(|e| ApiError::invalid("name", e))?;
    state.store.rename_tag(current.user.id, id, &name).await?;
    Ok(Json(tag_view(&state, &current, id).await?))
}

/// Deletes a tag; its expenses stay, without it.
#[utoipa::path(delete, operation_id = "deleteTag", path = "/tags/{id}", tag = "tags",
    params(("id" = TagId, Path, description = "The tag's id.")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such tag of yours", body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<TagId>,
) -> ApiResult<StatusCode> {
    state.store.delete_tag(current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MergeRequest {
    /// The tag to keep: its id or its name.
    #[schema(example = "travel")]
    into: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct MergeView {
    /// How many expenses the merged tag had.
    moved: u64,
    /// The tag kept, with its expenses now.
    into: TagView,
}

/// Merges a tag into another: its expenses get the other (one with both keeps one), and it is
/// deleted.
#[utoipa::path(post, operation_id = "mergeTag", path = "/tags/{id}/merge", tag = "tags",
    params(("id" = TagId, Path, description = "The tag merged away.")),
    request_body = MergeRequest,
    responses((status = 200, description = "Merged", body = MergeView),
        (status = 404, description = "No such tag of yours", body = ErrorBody),
        (status = 422, description = "`into` is not one of your other tags", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn merge(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<TagId>,
    AppJson(request): AppJson<MergeRequest>,
) -> ApiResult<Json<MergeView>> {
    let user = current.user.id;
    // The tag in the path first: another user's is not found, whatever `into` says.
    tag_view(&state, &current, id).await?;
    let into = match request.into.trim().parse::<TagId>() {
        Ok(into) => Some(into),
        Err(_) => {
            let name = TagName::parse(&request.into).map_err(|e| ApiError::invalid("into", e))?;
            state.store.find_tag(user, &name).await?
        }
    };
    let into = into.ok_or_else(|| {
        ApiError::invalid(
            "into",
            format!(
                "you have no tag `{}`; GET /api/v1/tags lists yours",
                request.into
            ),
        )
    })?;
    if into == id {
        return Err(ApiError::invalid(
            "into",
            "a tag cannot be merged into itself",
        ));
    }
    let moved = state
        .store
        .merge_tags(user, id, into)
        .await
        .map_err(|err| match err {
            // Either tag missing: the one in the path is the caller's 404, the other a bad
            // field.
            ledgerly_store::StoreError::NotFound(_) => ApiError::NotFound("tag"),
            other => other.into(),
        })?;
    Ok(Json(MergeView {
        moved,
        into: tag_view(&state, &current, into).await?,
    }))
}

/// `?month=YYYY-MM` or `?year=YYYY`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeriodParams {
    /// `YYYY-MM`; default this month in the account's time zone (unless `year` is given).
    #[param(example = "2026-11", pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
    /// `YYYY`: the whole year instead of a month.
    #[param(example = "2026")]
    year: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct TagTotalView {
    tag: String,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    amount: String,
    count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct TagTotalsView {
    /// The first and last day counted.
    from: NaiveDate,
    to: NaiveDate,
    currency: ledgerly_core::Currency,
    /// Largest first. An expense with two tags counts in both; expenses in other currencies are
    /// not counted.
    tags: Vec<TagTotalView>,
}

/// What the expenses with each tag add up to in a month (default this month) or a year, in the
/// account's currency.
#[utoipa::path(get, operation_id = "tagStats", path = "/stats/tags", tag = "stats",
    params(PeriodParams),
    responses((status = 200, description = "Totals per tag", body = TagTotalsView)))]
async fn totals(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<PeriodParams>,
) -> ApiResult<Json<TagTotalsView>> {
    let (from, to) = match (params.month.as_deref(), params.year.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "year",
                "give a month or a year, not both",
            ));
        }
        (None, Some(text)) => {
            let year: i32 = text.trim().parse().map_err(|_| {
                ApiError::invalid("year", format!("`{text}` is not a year; write it as YYYY"))
            })?;
            let months = Month::all_of(year).map_err(|e| ApiError::invalid("year", e))?;
            match (months.first(), months.last()) {
                (Some(first), Some(last)) => (first.first_day(), last.last_day()),
                _ => return Err(ApiError::invalid("year", "has no months")),
            }
        }
        (month, None) => {
            let month = crate::routes::budget::month_or_current(month, &current)?;
            (month.first_day(), month.last_day())
        }
    };
    let currency = current.user.currency;
    let totals = state
        .store
        .tag_totals(current.user.id, from, to, currency)
        .await?;
    Ok(Json(TagTotalsView {
        from,
        to,
        currency,
        tags: totals
            .into_iter()
            .map(|t| TagTotalView {
                tag: t.tag.as_str().to_owned(),
                amount: t.amount.to_decimal_string(),
                count: t.count,
            })
            .collect(),
    }))
}
