//! Expenses: create, read, change, delete, confirm, the filtered list and (in `export`) its CSV
//! export.

mod export;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use ledgerly_core::{
    CategoryId, CategoryName, Currency, Expense, ExpenseChanges, ExpenseId, NewExpense, Note,
    TagMatch, TagName, User, UserId, Vendor,
};
use ledgerly_store::{ExpenseQuery, ExpenseSort, SortDirection, SortField, Store};
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::{AmountInput, ExpenseView, PageView, currency, expense_views};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .merge(export::router())
        .routes(routes!(get_one, update, delete))
        .routes(routes!(confirm))
}

/// Distinguishes a field sent as `null` (`Some(None)`) from one left out (`None`).
pub(crate) fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

pub(crate) fn date(field: &'static str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            field,
            format!("`{text}` is not a date; write it as YYYY-MM-DD"),
        )
    })
}

pub(crate) fn vendor(text: &str) -> ApiResult<Vendor> {
    Vendor::parse(text).map_err(|e| ApiError::invalid("vendor", e))
}

pub(crate) fn note(text: &str) -> ApiResult<Note> {
    Note::parse(text).map_err(|e| ApiError::invalid("note", e))
}

/// The user's category named by id or by name (in any case).
pub(super) async fn resolve_category(
    store: &Store,
    user: UserId,
    field: &'static str,
    given: &str,
) -> ApiResult<CategoryId> {
    if let Ok(id) = given.trim().parse::<CategoryId>() {
        // Only a category that is not there is the caller's mistake; a database out of reach is
        // not.
        return match store.get_category(user, id).await {
            Ok(category) => Ok(category.id),
            Err(ledgerly_store::StoreError::NotFound(_)) => Err(unknown_category(field, given)),
            Err(other) => Err(other.into()),
        };
    }
    let name = CategoryName::parse(given).map_err(|e| ApiError::invalid(field, e))?;
    store
        .find_category(user, &name)
        .await?
        .map(|c| c.id)
        .ok_or_else(|| unknown_category(field, given))
}

/// Tag names as given, checked: each a name, at most [`MAX_TAGS_PER_EXPENSE`] distinct ones.
///
/// [`MAX_TAGS_PER_EXPENSE`]: ledgerly_core::tag::MAX_TAGS_PER_EXPENSE
pub(crate) fn tag_names(given: &[String]) -> ApiResult<Vec<TagName>> {
    let names = given
        .iter()
        .map(|name| TagName::parse(name).map_err(|e| ApiError::invalid("tags", e)))
        .collect::<ApiResult<Vec<_>>>()?;
    ledgerly_core::tag::tag_set(names).map_err(|e| ApiError::invalid("tags", e))
}

fn unknown_category(field: &'static str, given: &str) -> ApiError {
    ApiError::invalid(
        field,
        format!("you have no category `{given}`; GET /api/v1/categories lists yours"),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    /// `YYYY-MM-DD`.
    #[schema(format = Date, example = "2026-11-20")]
    pub(crate) date: String,
    /// A category name (any case) or id.
    #[schema(example = "Food")]
    pub(crate) category: String,
    #[schema(example = "Blue Tokai")]
    pub(crate) vendor: String,
    pub(crate) amount: AmountInput,
    /// The amount's currency (ISO 4217); default the account's.
    #[schema(example = "INR", pattern = "^[A-Z]{3}$")]
    pub(crate) currency: Option<String>,
    pub(crate) note: Option<String>,
    /// Tag names (at most 20, no commas); the ones you do not have yet are created.
    #[schema(example = json!(["trip-lisbon", "reimbursable"]))]
    pub(crate) tags: Option<Vec<String>>,
}

fn currency_or_users(field: &'static str, given: Option<&str>, user: &User) -> ApiResult<Currency> {
    given.map_or(Ok(user.currency), |code| currency(field, code))
}

/// Records an expense.
#[utoipa::path(post, operation_id = "createExpense", path = "/expenses", tag = "expenses", request_body = CreateRequest,
    responses((status = 201, description = "The expense", body = ExpenseView)))]
#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<CreateRequest>,
) -> ApiResult<(StatusCode, Json<ExpenseView>)> {
    let expense = create_expense(&state, &current.user, request).await?;
    Ok((StatusCode::CREATED, Json(expense.into())))
}

/// Checks `request` and records it: the API's and the dashboard's way in.
pub(crate) async fn create_expense(
    state: &AppState,
    user: &User,
    request: CreateRequest,
) -> ApiResult<Expense> {
    let currency = currency_or_users("currency", request.currency.as_deref(), user)?;
    let amount = request.amount.to_money("amount", currency)?;
    let category = resolve_category(&state.store, user.id, "category", &request.category).await?;
    let mut new = NewExpense::new(
        category,
        date("date", &request.date)?,
        vendor(&request.vendor)?,
        amount,
    )
    .map_err(|e| ApiError::invalid("amount", e))?;
    new.note = request.note.as_deref().map(note).transpose()?;
    new.tags = request
        .tags
        .as_deref()
        .map(tag_names)
        .transpose()?
        .unwrap_or_default();
    Ok(state.store.create_expense(user.id, new).await?)
}

/// One expense. While it awaits review (OCR made it), `possible_duplicates` names the account's
/// other expenses on the same day for the same amount at the same vendor.
#[utoipa::path(get, operation_id = "getExpense", path = "/expenses/{id}", tag = "expenses", params(("id" = ExpenseId, Path, description = "The expense's id.")),
    responses((status = 200, description = "The expense", body = ExpenseView)))]
async fn get_one(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ExpenseId>,
) -> ApiResult<Json<ExpenseView>> {
    let expense = state.store.get_expense(current.user.id, id).await?;
    let duplicates = if expense.needs_review {
        let found = state
            .store
            .possible_duplicates(current.user.id, &expense)
            .await?;
        Some(found.into_iter().map(|e| e.id).collect())
    } else {
        None
    };
    let views = expense_views(&state.store, &current.user, vec![expense]).await?;
    let mut view = views
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound("expense"))?;
    view.possible_duplicates = duplicates;
    Ok(Json(view))
}

/// The fields to change; those left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateRequest {
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub(crate) date: Option<String>,
    /// A category name (any case) or id.
    pub(crate) category: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) amount: Option<AmountInput>,
    /// Only with `amount`: the currency it is in (default the expense's).
    pub(crate) currency: Option<String>,
    /// `null` removes the note.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub(crate) note: Option<Option<String>>,
    pub(crate) needs_review: Option<bool>,
    /// The whole set of tags, replacing the expense's; `[]` removes them all.
    pub(crate) tags: Option<Vec<String>>,
}

/// Changes the fields sent; `"note": null` removes the note.
#[utoipa::path(patch, operation_id = "updateExpense", path = "/expenses/{id}", tag = "expenses", params(("id" = ExpenseId, Path, description = "The expense's id.")),
    request_body = UpdateRequest,
    responses((status = 200, description = "The changed expense", body = ExpenseView)))]
#[tracing::instrument(skip_all)]
async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ExpenseId>,
    AppJson(request): AppJson<UpdateRequest>,
) -> ApiResult<Json<ExpenseView>> {
    let expense = update_expense(&state, &current.user, id, request).await?;
    Ok(Json(expense.into()))
}

/// Checks `request` and applies it: the API's and the dashboard's way in.
pub(crate) async fn update_expense(
    state: &AppState,
    user: &User,
    id: ExpenseId,
    request: UpdateRequest,
) -> ApiResult<Expense> {
    let existing = state.store.get_expense(user.id, id).await?;
    let amount = match (&request.amount, &request.currency) {
        (Some(amount), given) => {
            let currency = match given {
                Some(code) => currency("currency", code)?,
                None => existing.amount.currency(),
            };
            Some(amount.to_money("amount", currency)?)
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "currency",
                "send the amount with the currency it is in",
            ));
        }
        (None, None) => None,
    };
    let category = match &request.category {
        Some(given) => Some(resolve_category(&state.store, user.id, "category", given).await?),
        None => None,
    };
    let changes = ExpenseChanges {
        category_id: category,
        date: request
            .date
            .as_deref()
            .map(|d| date("date", d))
            .transpose()?,
        vendor: request.vendor.as_deref().map(vendor).transpose()?,
        amount,
        note: match request.note {
            Some(Some(text)) => Some(Some(note(&text)?)),
            Some(None) => Some(None),
            None => None,
        },
        needs_review: request.needs_review,
        tags: request.tags.as_deref().map(tag_names).transpose()?,
    };
    Ok(state.store.update_expense(user.id, id, changes).await?)
}

/// Deletes an expense.
#[utoipa::path(delete, operation_id = "deleteExpense", path = "/expenses/{id}", tag = "expenses", params(("id" = ExpenseId, Path, description = "The expense's id.")),
    responses((status = 204, description = "Deleted")))]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ExpenseId>,
) -> ApiResult<StatusCode> {
    state.store.delete_expense(current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms an expense OCR filled in: clears `needs_review`.
#[utoipa::path(post, operation_id = "confirmExpense", path = "/expenses/{id}/confirm", tag = "expenses", params(("id" = ExpenseId, Path, description = "The expense's id.")),
    responses((status = 200, description = "The confirmed expense", body = ExpenseView)))]
async fn confirm(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ExpenseId>,
) -> ApiResult<Json<ExpenseView>> {
    Ok(Json(
        state
            .store
            .confirm_expense(current.user.id, id)
            .await?
            .into(),
    ))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// The first date, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub(crate) from: Option<String>,
    /// The last date, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub(crate) to: Option<String>,
    /// A category name or id.
    pub(crate) category: Option<String>,
    /// Text to find, at most 200 characters: the vendor contains it (any case), or each of its
    /// words begins a word of the vendor, the note or the text OCR read off the receipt.
    #[param(max_length = 200)]
    pub(crate) q: Option<String>,
    /// Only the expenses that do (or do not) await review.
    pub(crate) needs_review: Option<bool>,
    /// Tag names, separated by commas: only the expenses with any of them (or all: `tags_match`).
    #[param(example = "trip-lisbon,reimbursable")]
    pub(crate) tags: Option<String>,
    /// `any` (the default) or `all` of `tags`.
    #[param(pattern = "^(any|all)$")]
    pub(crate) tags_match: Option<String>,
    /// `date`, `amount`, `vendor` or `created`; `-` in front for descending. Default `-date`.
    pub(crate) sort: Option<String>,
    /// From 1; default 1.
    #[param(minimum = 1)]
    pub(crate) page: Option<u32>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub(crate) per_page: Option<u32>,
}

fn sort(text: &str) -> ApiResult<ExpenseSort> {
    let (direction, field) = match text.trim().strip_prefix('-') {
        Some(field) => (SortDirection::Descending, field),
        None => (SortDirection::Ascending, text.trim()),
    };
    let field = match field {
        "date" => SortField::Date,
        "amount" => SortField::Amount,
        "vendor" => SortField::Vendor,
        "created" => SortField::Created,
        other => {
            return Err(ApiError::invalid(
                "sort",
                format!(
                    "cannot sort by `{other}`; use date, amount, vendor or created, with - for descending"
                ),
            ));
        }
    };
    Ok(ExpenseSort { field, direction })
}

pub(crate) async fn query(
    store: &Store,
    user: UserId,
    params: ListParams,
) -> ApiResult<ExpenseQuery> {
    let from = params
        .from
        .as_deref()
        .map(|d| date("from", d))
        .transpose()?;
    let to = params.to.as_deref().map(|d| date("to", d)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    let category = match params.category.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(given) => Some(resolve_category(store, user, "category", given).await?),
        None => None,
    };
    let page = params.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    let per_page = params.per_page.unwrap_or(50);
    if !(1..=ExpenseQuery::MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid(
            "per_page",
            format!("must be between 1 and {}", ExpenseQuery::MAX_PER_PAGE),
        ));
    }
    if params.q.as_deref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("q", "must be at most 200 characters"));
    }
    let tags = match params.tags.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|name| !name.trim().is_empty())
            .map(|name| TagName::parse(name).map_err(|e| ApiError::invalid("tags", e)))
            .collect::<ApiResult<Vec<_>>>()?,
    };
    if tags.len() > ledgerly_core::tag::MAX_TAGS_PER_EXPENSE {
        return Err(ApiError::invalid(
            "tags",
            format!(
                "filter by at most {} tags",
                ledgerly_core::tag::MAX_TAGS_PER_EXPENSE
            ),
        ));
    }
    let tags_match = match params.tags_match.as_deref() {
        None | Some("any") => TagMatch::Any,
        Some("all") => TagMatch::All,
        Some(other) => {
            return Err(ApiError::invalid(
                "tags_match",
                format!("`{other}` is neither `any` nor `all`"),
            ));
        }
    };
    Ok(ExpenseQuery {
        from,
        to,
        category,
        search: params.q,
        needs_review: params.needs_review,
        tags,
        tags_match,
        sort: params
            .sort
            .as_deref()
            .map(sort)
            .transpose()?
            .unwrap_or_default(),
        page,
        per_page,
    })
}

/// The expenses that match the filters, a page at a time, with the total count.
#[utoipa::path(get, operation_id = "listExpenses", path = "/expenses", tag = "expenses", params(ListParams),
    responses((status = 200, description = "A page of expenses", body = PageView<ExpenseView>)))]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<ListParams>,
) -> ApiResult<Json<PageView<ExpenseView>>> {
    let query = query(&state.store, current.user.id, params).await?;
    let page = state.store.list_expenses(current.user.id, &query).await?;
    Ok(Json(PageView {
        items: expense_views(&state.store, &current.user, page.items).await?,
        total: page.total,
        page: page.page,
        per_page: page.per_page,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_are_named_fields_with_an_optional_minus() {
        assert_eq!(
            sort("-amount").unwrap().direction,
            SortDirection::Descending
        );
        assert_eq!(sort("vendor").unwrap().field, SortField::Vendor);
        assert!(sort("price").is_err());
    }
}
