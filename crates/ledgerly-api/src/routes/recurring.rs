//! Recurring expenses: rules that make an expense every N days, weeks, months or years (rent,
//! subscriptions). Creating, changing or resuming one makes what it already owes at once; after
//! that every API instance makes due occurrences in the background (see `startup`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use ledgerly_core::recurring::{
    NewRecurring, Occurrence, RecurringChanges, RecurringRule, Schedule, Unit,
};
use ledgerly_core::{CategoryId, Currency, RecurringId, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::expenses::{date, note, nullable, resolve_category, vendor};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, AppQuery, CurrentUser};
use crate::state::AppState;
use crate::views::{AmountInput, currency};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(upcoming))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(skip))
        .routes(routes!(unskip))
}

/// How far back a recurring expense may start: older history is for the CSV import.
const MAX_YEARS_BACK: u32 = 5;
/// How far ahead it may start.
const MAX_YEARS_AHEAD: u32 = 10;
/// How many coming dates a recurring expense lists.
const UPCOMING_SHOWN: usize = 3;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecurringView {
    pub(crate) id: RecurringId,
    pub(crate) vendor: String,
    #[schema(example = "25000.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub(crate) amount: String,
    pub(crate) currency: Currency,
    pub(crate) category_id: CategoryId,
    pub(crate) category: String,
    pub(crate) note: Option<String>,
    pub(crate) unit: Unit,
    pub(crate) every: u32,
    /// Monthly and yearly ones: the day of the month (the month's last day when it is shorter).
    pub(crate) day_of_month: Option<u32>,
    #[schema(format = Date)]
    pub(crate) starts_on: NaiveDate,
    /// The last day it may fall on, if it ends.
    #[schema(format = Date)]
    pub(crate) ends_on: Option<NaiveDate>,
    /// The schedule in words: "every month on the 1st".
    pub(crate) schedule: String,
    pub(crate) paused: bool,
    /// The next occurrence it will make (skipped ones passed over); none once it has ended.
    #[schema(format = Date)]
    pub(crate) next_on: Option<NaiveDate>,
    /// The next few occurrences it will make.
    pub(crate) upcoming: Vec<NaiveDate>,
    /// Coming occurrences it will skip.
    pub(crate) skips: Vec<NaiveDate>,
    /// How many of the expenses it made exist.
    pub(crate) made: u64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

impl From<RecurringRule> for RecurringView {
    fn from(rule: RecurringRule) -> Self {
        let upcoming = rule.upcoming(UPCOMING_SHOWN);
        Self {
            id: rule.id,
            vendor: rule.vendor.to_string(),
            amount: rule.amount.to_decimal_string(),
            currency: rule.amount.currency(),
            category_id: rule.category_id,
            category: rule.category.to_string(),
            note: rule.note.map(|n| n.to_string()),
            unit: rule.schedule.unit,
            every: rule.schedule.every,
            day_of_month: rule.schedule.day_of_month,
            starts_on: rule.schedule.starts_on,
            ends_on: rule.schedule.ends_on,
            schedule: rule.schedule.describe(),
            paused: rule.paused,
            next_on: upcoming.first().copied(),
            upcoming,
            skips: rule.skips,
            made: rule.made,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }
}

/// `starts_on` as a recurring expense may have it: at most [`MAX_YEARS_BACK`] back and
/// [`MAX_YEARS_AHEAD`] ahead of `today`.
fn start_in_range(starts_on: NaiveDate, today: NaiveDate) -> ApiResult<NaiveDate> {
    let earliest = today - Months::new(12 * MAX_YEARS_BACK);
    let latest = today + Months::new(12 * MAX_YEARS_AHEAD);
    if starts_on < earliest {
        return Err(ApiError::invalid(
            "starts_on",
            format!(
                "a recurring expense may start at most {MAX_YEARS_BACK} years back (from \
                 {earliest}); bring older history in with the CSV import"
            ),
        ));
    }
    if starts_on > latest {
        return Err(ApiError::invalid(
            "starts_on",
            format!("a recurring expense may start at most {MAX_YEARS_AHEAD} years ahead"),
        ));
    }
    Ok(starts_on)
}

fn schedule(
    unit: Unit,
    every: u32,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    day_of_month: Option<u32>,
) -> ApiResult<Schedule> {
    Schedule::new(unit, every, starts_on, ends_on, day_of_month).map_err(|e| ApiError::Invalid {
        field: None,
        message: e.to_string(),
    })
}

fn unit(text: &str) -> ApiResult<Unit> {
    Unit::parse(text).map_err(|e| ApiError::invalid("unit", e))
}

/// Makes what the rule owes up to the user's today, then gives it as it now is.
async fn caught_up(state: &AppState, user: &User, id: RecurringId) -> ApiResult<RecurringView> {
    let today = user.time_zone.today();
    state.store.make_recurring(user.id, id, today).await?;
    Ok(state.store.get_recurring(user.id, id).await?.into())
}

/// Your recurring expenses, oldest first.
#[utoipa::path(get, operation_id = "listRecurring", path = "/recurring", tag = "recurring",
    responses((status = 200, description = "The recurring expenses", body = Vec<RecurringView>)))]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<RecurringView>>> {
    let rules = state.store.list_recurring(current.user.id).await?;
    Ok(Json(rules.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRecurringRequest {
    /// A category name (any case) or id.
    #[schema(example = "Housing")]
    pub(crate) category: String,
    #[schema(example = "Landlord")]
    pub(crate) vendor: String,
    pub(crate) amount: AmountInput,
    /// The amount's currency (ISO 4217); default the account's.
    #[schema(example = "INR", pattern = "^[A-Z]{3}$")]
    pub(crate) currency: Option<String>,
    pub(crate) note: Option<String>,
    /// `day`, `week`, `month` or `year`.
    #[schema(example = "month")]
    pub(crate) unit: String,
    /// Every how many units; default 1.
    #[schema(minimum = 1, example = 1)]
    pub(crate) every: Option<u32>,
    /// `YYYY-MM-DD`: the first day it may fall on, at most 5 years back. What falls between it
    /// and today is made at once.
    #[schema(format = Date, example = "2026-01-01")]
    pub(crate) starts_on: String,
    /// `YYYY-MM-DD`: the last day it may fall on.
    #[schema(format = Date)]
    pub(crate) ends_on: Option<String>,
    /// Monthly and yearly ones: 1 to 31, the month's last day when it is shorter; default the
    /// start's day.
    #[schema(minimum = 1, maximum = 31)]
    pub(crate) day_of_month: Option<u32>,
}

/// Checks `request` and records it, making what it already owes: the API's and the dashboard's
/// way in.
pub(crate) async fn create_recurring(
    state: &AppState,
    user: &User,
    request: CreateRecurringRequest,
) -> ApiResult<RecurringView> {
    let currency = match request.currency.as_deref() {
        Some(code) => currency("currency", code)?,
        None => user.currency,
    };
    let amount = request.amount.to_money("amount", currency)?;
    ledgerly_core::expense::ensure_spendable(amount).map_err(|e| ApiError::invalid("amount", e))?;
    let today = user.time_zone.today();
    let starts_on = start_in_range(date("starts_on", &request.starts_on)?, today)?;
    let ends_on = request
        .ends_on
        .as_deref()
        .map(|d| date("ends_on", d))
        .transpose()?;
    let new = NewRecurring {
        category_id: resolve_category(&state.store, user.id, "category", &request.category).await?,
        vendor: vendor(&request.vendor)?,
        amount,
        note: request.note.as_deref().map(note).transpose()?,
        schedule: schedule(
            unit(&request.unit)?,
            request.every.unwrap_or(1),
            starts_on,
            ends_on,
            request.day_of_month,
        )?,
    };
    let rule = state.store.create_recurring(user.id, new).await?;
    caught_up(state, user, rule.id).await
}

/// Records a recurring expense and makes the occurrences from its start to today.
#[utoipa::path(post, operation_id = "createRecurring", path = "/recurring", tag = "recurring",
    request_body = CreateRecurringRequest,
    responses((status = 201, description = "The recurring expense", body = RecurringView),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<CreateRecurringRequest>,
) -> ApiResult<(StatusCode, Json<RecurringView>)> {
    let view = create_recurring(&state, &current.user, request).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One recurring expense.
#[utoipa::path(get, operation_id = "getRecurring", path = "/recurring/{id}", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    responses((status = 200, description = "The recurring expense", body = RecurringView),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
) -> ApiResult<Json<RecurringView>> {
    Ok(Json(
        state.store.get_recurring(current.user.id, id).await?.into(),
    ))
}

/// The fields to change; those left out stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateRecurringRequest {
    /// A category name (any case) or id.
    pub(crate) category: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) amount: Option<AmountInput>,
    /// Only with `amount`: the currency it is in (default the rule's).
    pub(crate) currency: Option<String>,
    /// `null` removes the note.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub(crate) note: Option<Option<String>>,
    /// `day`, `week`, `month` or `year`.
    pub(crate) unit: Option<String>,
    #[schema(minimum = 1)]
    pub(crate) every: Option<u32>,
    /// `null`: the start's day.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 31)]
    pub(crate) day_of_month: Option<Option<u32>>,
    /// `YYYY-MM-DD`: where a changed schedule starts (default `from`, or the next occurrence).
    /// It must be after the occurrences already made.
    #[schema(format = Date)]
    pub(crate) starts_on: Option<String>,
    /// `YYYY-MM-DD`; `null`: it never ends.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Date)]
    pub(crate) ends_on: Option<Option<String>>,
    /// `YYYY-MM-DD`: the expenses it already made from this day on get the new category,
    /// vendor, amount and note too (and a changed schedule starts here). Without it, only what
    /// it makes from now on changes.
    #[schema(format = Date)]
    pub(crate) from: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct UpdatedView {
    recurring: RecurringView,
    /// How many of the expenses it already made were changed with it (those from `from` on).
    expenses_changed: u64,
}

/// Checks `request` and applies it: the API's and the dashboard's way in. Gives the rule and how
/// many of its expenses changed with it.
pub(crate) async fn update_recurring(
    state: &AppState,
    user: &User,
    id: RecurringId,
    request: UpdateRecurringRequest,
) -> ApiResult<(RecurringView, u64)> {
    let rule = state.store.get_recurring(user.id, id).await?;
    let today = user.time_zone.today();
    let amount = match (&request.amount, &request.currency) {
        (Some(amount), given) => {
            let currency = match given {
                Some(code) => currency("currency", code)?,
                None => rule.amount.currency(),
            };
            let amount = amount.to_money("amount", currency)?;
            ledgerly_core::expense::ensure_spendable(amount)
                .map_err(|e| ApiError::invalid("amount", e))?;
            Some(amount)
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "currency",
                "send the amount with the currency it is in",
            ));
        }
        (None, None) => None,
    };
    let from = request
        .from
        .as_deref()
        .map(|d| date("from", d))
        .transpose()?;
    let old = rule.schedule;
    let new_unit = request.unit.as_deref().map(unit).transpose()?;
    let timing_changed = new_unit.is_some()
        || request.every.is_some()
        || request.day_of_month.is_some()
        || request.starts_on.is_some();
    let new_schedule = if timing_changed || request.ends_on.is_some() {
        let unit = new_unit.unwrap_or(old.unit);
        let day_of_month = match request.day_of_month {
            Some(given) => given,
            // A day of the month means nothing to a daily or weekly schedule.
            None if matches!(unit, Unit::Day | Unit::Week) => None,
            None => old.day_of_month,
        };
        let ends_on = match &request.ends_on {
            Some(Some(text)) => Some(date("ends_on", text)?),
            Some(None) => None,
            None => old.ends_on,
        };
        let starts_on = match (&request.starts_on, timing_changed) {
            (Some(text), _) => start_in_range(date("starts_on", text)?, today)?,
            (None, false) => old.starts_on,
            // A new rhythm from `from`, or from the next occurrence once some were made.
            (None, true) => match (from, rule.last_passed()) {
                (Some(from), _) => start_in_range(from, today)?,
                (None, Some(_)) => rule.next_on.unwrap_or(today).max(
                    rule.last_passed()
                        .map_or(today, |last| last + Duration::days(1)),
                ),
                (None, None) => old.starts_on,
            },
        };
        Some(schedule(
            unit,
            request.every.unwrap_or(old.every),
            starts_on,
            ends_on,
            day_of_month,
        )?)
    } else {
        None
    };
    let category = match &request.category {
        Some(given) => Some(resolve_category(&state.store, user.id, "category", given).await?),
        None => None,
    };
    let changes = RecurringChanges {
        category_id: category,
        vendor: request.vendor.as_deref().map(vendor).transpose()?,
        amount,
        note: match request.note {
            Some(Some(text)) => Some(Some(note(&text)?)),
            Some(None) => Some(None),
            None => None,
        },
        schedule: new_schedule,
        from,
    };
    let (_, changed) = state.store.update_recurring(user.id, id, changes).await?;
    Ok((caught_up(state, user, id).await?, changed))
}

/// Changes a recurring expense. With `from`, the expenses it already made from that day on change
/// with it; a changed schedule starts again from `starts_on` (or `from`, or its next occurrence).
#[utoipa::path(patch, operation_id = "updateRecurring", path = "/recurring/{id}", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    request_body = UpdateRecurringRequest,
    responses((status = 200, description = "The changed recurring expense", body = UpdatedView),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
    AppJson(request): AppJson<UpdateRecurringRequest>,
) -> ApiResult<Json<UpdatedView>> {
    let (recurring, expenses_changed) =
        update_recurring(&state, &current.user, id, request).await?;
    Ok(Json(UpdatedView {
        recurring,
        expenses_changed,
    }))
}

/// Deletes a recurring expense; the expenses it made stay.
#[utoipa::path(delete, operation_id = "deleteRecurring", path = "/recurring/{id}", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
) -> ApiResult<StatusCode> {
    state.store.delete_recurring(current.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses a recurring expense: it makes nothing until resumed.
#[utoipa::path(post, operation_id = "pauseRecurring", path = "/recurring/{id}/pause", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    responses((status = 200, description = "The paused recurring expense", body = RecurringView),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody)))]
async fn pause(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
) -> ApiResult<Json<RecurringView>> {
    Ok(Json(
        state
            .store
            .pause_recurring(current.user.id, id)
            .await?
            .into(),
    ))
}

/// Resumes a paused recurring expense. What fell due while it was paused is not made; today's
/// occurrence is.
#[utoipa::path(post, operation_id = "resumeRecurring", path = "/recurring/{id}/resume", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    responses((status = 200, description = "The running recurring expense", body = RecurringView),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
) -> ApiResult<Json<RecurringView>> {
    let user = &current.user;
    state
        .store
        .resume_recurring(user.id, id, user.time_zone.today())
        .await?;
    Ok(Json(caught_up(&state, user, id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SkipRequest {
    /// `YYYY-MM-DD`: the occurrence to skip; default the next one.
    #[schema(format = Date)]
    date: Option<String>,
}

/// Skips one coming occurrence: it will not be made.
#[utoipa::path(post, operation_id = "skipRecurring", path = "/recurring/{id}/skips", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id.")),
    request_body(content = Option<SkipRequest>, content_type = "application/json",
        description = "Optional: without a body the next occurrence is skipped"),
    responses((status = 200, description = "The recurring expense", body = RecurringView),
        (status = 404, description = "No such recurring expense of yours", body = ErrorBody),
        (status = 422, description = "Not one of its coming occurrences", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn skip(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<RecurringId>,
    body: bytes::Bytes,
) -> ApiResult<Json<RecurringView>> {
    let user = current.user.id;
    let request: SkipRequest = crate::extract::optional_json(&body)?;
    let day = match request.date.as_deref() {
        Some(text) => date("date", text)?,
        None => {
            let rule = state.store.get_recurring(user, id).await?;
            rule.upcoming(1)
                .first()
                .copied()
                .ok_or_else(|| ApiError::invalid("date", "it has no coming occurrence to skip"))?
        }
    };
    let rule = state
        .store
        .skip_recurring(user, id, day)
        .await
        .map_err(|err| match err {
            ledgerly_store::StoreError::Invalid(message) => ApiError::invalid("date", message),
            other => other.into(),
        })?;
    Ok(Json(rule.into()))
}

/// Takes back a skip: that occurrence will be made after all.
#[utoipa::path(delete, operation_id = "unskipRecurring", path = "/recurring/{id}/skips/{date}", tag = "recurring",
    params(("id" = RecurringId, Path, description = "The recurring expense's id."),
        ("date" = String, Path, format = Date, description = "The skipped occurrence, `YYYY-MM-DD`.")),
    responses((status = 200, description = "The recurring expense", body = RecurringView),
        (status = 404, description = "No such recurring expense of yours, or no such skip", body = ErrorBody)))]
async fn unskip(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath((id, day)): AppPath<(RecurringId, String)>,
) -> ApiResult<Json<RecurringView>> {
    let user = &current.user;
    let day = date("date", &day)?;
    state.store.unskip_recurring(user.id, id, day).await?;
    Ok(Json(caught_up(&state, user, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UpcomingParams {
    /// How many days ahead, from today: 1 to 366; default 30.
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OccurrenceView {
    pub(crate) recurring_id: RecurringId,
    #[schema(format = Date)]
    pub(crate) date: NaiveDate,
    pub(crate) vendor: String,
    #[schema(example = "499.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub(crate) amount: String,
    pub(crate) currency: Currency,
    pub(crate) category: String,
    /// You chose to skip it.
    pub(crate) skipped: bool,
}

impl From<Occurrence> for OccurrenceView {
    fn from(o: Occurrence) -> Self {
        Self {
            recurring_id: o.rule_id,
            date: o.date,
            vendor: o.vendor.to_string(),
            amount: o.amount.to_decimal_string(),
            currency: o.amount.currency(),
            category: o.category.to_string(),
            skipped: o.skipped,
        }
    }
}

/// The occurrences your running recurring expenses will make in the coming days, by date
/// (today's among them until it is made), skipped ones marked.
pub(crate) async fn upcoming_for(
    state: &AppState,
    user: &User,
    days: u32,
) -> ApiResult<Vec<OccurrenceView>> {
    let today = user.time_zone.today();
    let to = today + Duration::days(i64::from(days));
    let occurrences = state.store.upcoming_recurring(user.id, today, to).await?;
    Ok(occurrences.into_iter().map(Into::into).collect())
}

/// What your running recurring expenses will make in the coming days.
#[utoipa::path(get, operation_id = "upcomingRecurring", path = "/recurring/upcoming", tag = "recurring",
    params(UpcomingParams),
    responses((status = 200, description = "The coming occurrences, by date", body = Vec<OccurrenceView>),
        (status = 422, description = "`days` is out of range", body = ErrorBody)))]
async fn upcoming(
    State(state): State<AppState>,
    current: CurrentUser,
    AppQuery(params): AppQuery<UpcomingParams>,
) -> ApiResult<Json<Vec<OccurrenceView>>> {
    let days = params.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid("days", "must be between 1 and 366"));
    }
    Ok(Json(upcoming_for(&state, &current.user, days).await?))
}
