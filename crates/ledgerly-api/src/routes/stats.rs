//! Statistics for the charts: a year by month and category, a month by category.

use axum::Json;
use axum::extract::State;
use ledgerly_core::Month;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppQuery, CurrentUser};
use crate::routes::budget::{MonthParam, month_or_current};
use crate::state::AppState;
use crate::views::{CategoryTotalView, MonthlyTotalView};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(monthly))
        .routes(routes!(categories))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct YearParam {
    /// `YYYY`; default this year in the account's time zone.
    #[param(example = "2026")]
    year: Option<String>,
}

/// What was spent per month per category in `year` (default: this year), in the user's currency.
#[utoipa::path(get, operation_id = "monthlyStats", path = "/stats/monthly", tag = "stats", params(YearParam),
    responses((status = 200, description = "Totals per month and category", body = Vec<MonthlyTotalView>)))]
async fn monthly(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<YearParam>,
) -> ApiResult<Json<Vec<MonthlyTotalView>>> {
    let year = match params.year.as_deref() {
        Some(text) => {
            let year: i32 = text.trim().parse().map_err(|_| {
                ApiError::invalid("year", format!("`{text}` is not a year; write it as YYYY"))
            })?;
            Month::new(year, 1).map_err(|e| ApiError::invalid("year", e))?;
            year
        }
        None => Month::of(current.user.time_zone.today()).year(),
    };
    let totals = state
        .store
        .monthly_totals(current.user.id, year, current.user.currency)
        .await?;
    Ok(Json(totals.into_iter().map(Into::into).collect()))
}

/// What was spent per category in `month` (default: this month), largest first.
#[utoipa::path(get, operation_id = "categoryStats", path = "/stats/categories", tag = "stats", params(MonthParam),
    responses((status = 200, description = "Totals per category", body = Vec<CategoryTotalView>)))]
async fn categories(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<MonthParam>,
) -> ApiResult<Json<Vec<CategoryTotalView>>> {
    let month = month_or_current(params.month.as_deref(), &current)?;
    let totals = state
        .store
        .category_breakdown(current.user.id, month, current.user.currency)
        .await?;
    Ok(Json(totals.into_iter().map(Into::into).collect()))
}
