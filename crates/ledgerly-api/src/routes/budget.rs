//! The monthly budget and a month's summary.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ledgerly_core::{Budget, Month};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::{AmountInput, SummaryView};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/budget", get(get_budget).put(set_budget))
        .route("/summary", get(summary))
}

/// `month` from the query, or the current month in the user's zone.
pub(crate) fn month_or_current(given: Option<&str>, current: &CurrentUser) -> ApiResult<Month> {
    match given {
        Some(text) => text.parse().map_err(|e| ApiError::invalid("month", e)),
        None => Ok(Month::of(current.user.time_zone.today())),
    }
}

#[derive(Debug, Serialize)]
struct BudgetView {
    /// `null` when no budget is set for the month.
    amount: Option<String>,
    currency: ledgerly_core::Currency,
    /// The month this amount has applied from.
    effective_from: Option<Month>,
    month: Month,
}

/// `?month=YYYY-MM`, shared by the routes that show one month.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonthParam {
    pub(crate) month: Option<String>,
}

/// The budget in force in `month` (default: this month).
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetRequest {
    amount: AmountInput,
    /// The first month it applies to; default this month. Earlier months keep theirs.
    month: Option<String>,
}

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

/// The month at a glance, in the user's currency and zone.
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
