//! The monthly budget, the budgets per category, and a month's summary.

use axum::Json;
use axum::extract::State;
use ledgerly_core::{Budget, Month};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::{AmountInput, CategoryBudgetView, SummaryView};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_budget, set_budget))
        .routes(routes!(category_budgets))
        .routes(routes!(set_category_budget))
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
    let (user, currency) = (current.user.id, current.user.currency);
    let (summary, category_budgets) = tokio::try_join!(
        state.store.month_summary(user, month, currency),
        state.store.category_budgets(user, month, currency),
    )?;
    Ok(Json(SummaryView::new(summary, category_budgets)))
}

#[derive(Debug, Serialize, ToSchema)]
struct CategoryBudgetsView {
    month: Month,
    currency: ledgerly_core::Currency,
    /// The categories with a budget in force in the month, by name; the others have none.
    categories: Vec<CategoryBudgetView>,
}

async fn category_budgets_view(
    state: &AppState,
    current: &CurrentUser,
    month: Month,
) -> ApiResult<CategoryBudgetsView> {
    let currency = current.user.currency;
    let uses = state
        .store
        .category_budgets(current.user.id, month, currency)
        .await?;
    Ok(CategoryBudgetsView {
        month,
        currency,
        categories: uses.into_iter().map(Into::into).collect(),
    })
}

/// The budgets per category in force in `month` (default: this month), each beside what was
/// spent in that category, the share used and whether it is past 80%.
#[utoipa::path(get, operation_id = "getCategoryBudgets", path = "/budget/categories", tag = "budget", params(MonthParam),
    responses((status = 200, description = "The month's budgets per category", body = CategoryBudgetsView)))]
async fn category_budgets(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<MonthParam>,
) -> ApiResult<Json<CategoryBudgetsView>> {
    let month = month_or_current(params.month.as_deref(), &current)?;
    Ok(Json(category_budgets_view(&state, &current, month).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CategoryBudgetRequest {
    /// In the account's currency; `null` ends the category's budget from `month` on.
    #[serde(default, deserialize_with = "super::expenses::nullable")]
    #[schema(value_type = Option<AmountInput>)]
    amount: Option<Option<AmountInput>>,
    /// `YYYY-MM`: the first month it applies to; default this month. Earlier months keep theirs.
    #[schema(example = "2026-11", pattern = "^[0-9]{4}-[0-9]{2}$")]
    month: Option<String>,
}

/// Sets a category's monthly budget from a month on, or with `"amount": null` ends it; answers
/// with that month's budgets per category.
#[utoipa::path(put, operation_id = "setCategoryBudget", path = "/budget/categories/{category}", tag = "budget",
    params(("category" = String, Path, description = "The category's id or name.")),
    request_body = CategoryBudgetRequest,
    responses((status = 200, description = "The month's budgets per category", body = CategoryBudgetsView),
        (status = 404, description = "No such category of yours", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn set_category_budget(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(category): AppPath<String>,
    AppJson(request): AppJson<CategoryBudgetRequest>,
) -> ApiResult<Json<CategoryBudgetsView>> {
    let month = month_or_current(request.month.as_deref(), &current)?;
    let amount = match request.amount {
        None => {
            return Err(ApiError::invalid(
                "amount",
                "is required: the budget, or null to end it from the month on",
            ));
        }
        Some(None) => None,
        Some(Some(amount)) => {
            let amount = amount.to_money("amount", current.user.currency)?;
            Budget::new(amount, month).map_err(|e| ApiError::invalid("amount", e))?;
            Some(amount)
        }
    };
    // A category in the path that is not the user's is not found, rather than a bad field.
    let category =
        super::expenses::resolve_category(&state.store, current.user.id, "category", &category)
            .await
            .map_err(|err| match err {
                ApiError::Invalid { .. } => ApiError::NotFound("category"),
                other => other,
            })?;
    state
        .store
        .set_category_budget(current.user.id, category, month, amount)
        .await?;
    Ok(Json(category_budgets_view(&state, &current, month).await?))
}
