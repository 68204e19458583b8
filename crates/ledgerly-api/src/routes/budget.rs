//! The monthly budget and a month's summary.

use axum::Json;
use axum::extract::State;
use ledgerly_core::{Budget, Month};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::{AmountInput, SummaryView};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_budget, set_budget))
        .routes(routes!(summary))
}

/// `month` from the query, or the current month in the user's zone.
pub(crate) fn month_or_current(given: Option<&str>, current: &CurrentUser) -> ApiResult<Month> {
    match given {
        Some(text) => text.parse().map_err(|e| ApiError::invalid("month", e)),
        None => Ok(Month::of(current.user.time_zone.today())),
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct BudgetView {
    /// `null` when no budget is set for the month.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    amount: Option<String>,
    currency: ledgerly_core::Currency,
    /// The month this amount has applied from.
    effective_from: Option<Month>,
    month: Month,
}

/// `?month=YYYY-MM`, shared by the routes that show one month.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct MonthParam {
    /// `YYYY-MM`; default the current month in the account's time zone.
    #[param(example = "2026-11", pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub(crate) month: Option<String>,
}

/// The budget in force in `month` (default: this month).
#[utoipa::path(get, operation_id = "getBudget", path = "/budget", tag = "budget", params(MonthParam),
    responses((status = 200, description = "The month's budget", body = BudgetView)))]
async fn get_budget(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<MonthParam>,
) -> ApiResult<Json<BudgetView>> {
    let month = month_or_current(params.month.as_deref(), &current)?;
    let budget = state.store.budget_for(current.user.id, month).await?;
    Ok(Json(BudgetView {
        amount: budget.map(|b| b.amount.to_decimal_string()),
        currency: budget.map_or(current.user.currency, |b| b.amount.currency()),
        effective_from: budget.map(|b| b.effective_from),
        month,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BudgetRequest {
    /// In the account's currency.
    amount: AmountInput,
    /// `YYYY-MM`: the first month it applies to; default this month. Earlier months keep theirs.
    #[schema(example = "2026-11", pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
}

/// Sets the monthly budget from a month on.
#[utoipa::path(put, operation_id = "setBudget", path = "/budget", tag = "budget", request_body = BudgetRequest,
    responses((status = 200, description = "The budget now in force", body = BudgetView)))]
#[tracing::instrument(skip_all)]
async fn set_budget(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<BudgetRequest>,
) -> ApiResult<Json<BudgetView>> {
    let month = month_or_current(request.month.as_deref(), &current)?;
    let amount = request.amount.to_money("amount", current.user.currency)?;
    let budget = Budget::new(amount, month).map_err(|e| ApiError::invalid("amount", e))?;
    let budget = state.store.set_budget(current.user.id, budget).await?;
    Ok(Json(BudgetView {
        amount: Some(budget.amount.to_decimal_string()),
        currency: budget.amount.currency(),
        effective_from: Some(budget.effective_from),
        month,
    }))
}

/// The month at a glance, in the user's currency and zone: budget, spent, remaining, savings,
/// count, average, top category and the change from the previous month.
#[utoipa::path(get, operation_id = "getSummary", path = "/summary", tag = "budget", params(MonthParam),
    responses((status = 200, description = "The month's summary", body = SummaryView)))]
async fn summary(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<MonthParam>,
) -> ApiResult<Json<SummaryView>> {
    let month = month_or_current(params.month.as_deref(), &current)?;
    let summary = state
        .store
        .month_summary(current.user.id, month, current.user.currency)
        .await?;
    Ok(Json(summary.into()))
}
