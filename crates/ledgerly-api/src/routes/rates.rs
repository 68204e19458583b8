//! Exchange rates: the ones a user enters, and whether the ECB's reference rates (fetched by the
//! API instances while someone uses them) convert the rest. Statistics and expenses in another
//! currency than the account's are converted with them (`ledgerly_core::rates`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use ledgerly_core::rates::{Rate, UserRate};
use ledgerly_core::{Currency, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::expenses::date;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, CurrentUser};
use crate::state::AppState;
use crate::views::currency;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(set_ecb))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RateView {
    /// One of this…
    pub(crate) base: Currency,
    /// …buys `rate` of this…
    pub(crate) quote: Currency,
    /// …from this day on (until a later rate).
    #[schema(format = Date)]
    pub(crate) date: NaiveDate,
    #[schema(example = "83.215", pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub(crate) rate: String,
}

impl From<UserRate> for RateView {
    fn from(r: UserRate) -> Self {
        Self {
            base: r.base,
            quote: r.quote,
            date: r.day,
            rate: r.rate.to_decimal_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RatesView {
    /// The account's currency, which everything is converted into.
    pub(crate) currency: Currency,
    /// Whether the ECB's reference rates convert what your own rates do not.
    pub(crate) uses_ecb: bool,
    /// The newest day the ECB's rates are kept for, and when they were fetched.
    #[schema(format = Date)]
    pub(crate) ecb_latest_day: Option<NaiveDate>,
    pub(crate) ecb_fetched_at: Option<DateTime<Utc>>,
    /// Your rates, newest first.
    pub(crate) rates: Vec<RateView>,
}

/// The user's rates and ECB setting, as the API and the dashboard show them.
pub(crate) async fn rates_view(state: &AppState, user: &User) -> ApiResult<RatesView> {
    let (rates, uses_ecb, latest) = tokio::try_join!(
        state.store.list_user_rates(user.id),
        state.store.uses_ecb_rates(user.id),
        state.store.latest_ecb_rates(),
    )?;
    Ok(RatesView {
        currency: user.currency,
        uses_ecb,
        ecb_latest_day: latest.map(|(day, _)| day),
        ecb_fetched_at: latest.map(|(_, at)| at),
        rates: rates.into_iter().map(Into::into).collect(),
    })
}

/// Your exchange rates, and whether the ECB's are used.
#[utoipa::path(get, operation_id = "listRates", path = "/rates", tag = "rates",
    responses((status = 200, description = "The rates", body = RatesView)))]
async fn list(State(state): State<AppState>, current: CurrentUser) -> ApiResult<Json<RatesView>> {
    Ok(Json(rates_view(&state, &current.user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRateRequest {
    /// The currency converted (ISO 4217).
    #[schema(example = "USD", pattern = "^[A-Z]{3}$")]
    pub(crate) currency: String,
    /// How much of `quote` one unit of `currency` buys: a positive decimal, at most 10 digits
    /// after the point.
    #[schema(example = "83.215")]
    pub(crate) rate: String,
    /// `YYYY-MM-DD`: the first day it applies to (until a later rate).
    #[schema(format = Date, example = "2026-11-01")]
    pub(crate) date: String,
    /// What it converts into; default the account's currency.
    #[schema(example = "INR", pattern = "^[A-Z]{3}$")]
    pub(crate) quote: Option<String>,
}

/// Checks `request` and records the rate (replacing one of the same pair and day).
pub(crate) async fn create_rate(
    state: &AppState,
    user: &User,
    request: CreateRateRequest,
) -> ApiResult<RateView> {
    let base = currency("currency", &request.currency)?;
    let quote = match request.quote.as_deref() {
        Some(code) => currency("quote", code)?,
        None => user.currency,
    };
    if base == quote {
        return Err(ApiError::invalid(
            "currency",
            format!(
                "{} is what it would convert into; a rate is between two currencies",
                base.code()
            ),
        ));
    }
    let rate = Rate::parse(&request.rate).map_err(|e| ApiError::invalid("rate", e))?;
    let entered = UserRate {
        base,
        quote,
        day: date("date", &request.date)?,
        rate,
    };
    state.store.set_user_rate(user.id, &entered).await?;
    Ok(entered.into())
}

/// Records an exchange rate: from its day on (until a later one), amounts in `currency` count
/// at it in the statistics. One for the same pair and day is replaced.
#[utoipa::path(post, operation_id = "createRate", path = "/rates", tag = "rates",
    request_body = CreateRateRequest,
    responses((status = 201, description = "The rate", body = RateView),
        (status = 422, description = "A field is not valid", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<CreateRateRequest>,
) -> ApiResult<(StatusCode, Json<RateView>)> {
    let view = create_rate(&state, &current.user, request).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Deletes one of your rates.
#[utoipa::path(delete, operation_id = "deleteRate", path = "/rates/{base}/{quote}/{date}", tag = "rates",
    params(("base" = String, Path, description = "The currency converted."),
        ("quote" = String, Path, description = "What it converts into."),
        ("date" = String, Path, format = Date, description = "The rate's first day, `YYYY-MM-DD`.")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such rate of yours", body = ErrorBody)))]
async fn delete(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath((base, quote, day)): AppPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let base = currency("base", &base)?;
    let quote = currency("quote", &quote)?;
    let day = date("date", &day)?;
    state
        .store
        .delete_user_rate(current.user.id, base, quote, day)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EcbRequest {
    /// Convert what your own rates do not with the ECB's daily reference rates.
    enabled: bool,
}

/// Turns the ECB's reference rates on or off for your account. While any account uses them, the
/// server fetches them daily (from `rates.ecb_url`) and keeps them.
#[utoipa::path(put, operation_id = "setEcbRates", path = "/rates/ecb", tag = "rates",
    request_body = EcbRequest,
    responses((status = 200, description = "The rates", body = RatesView)))]
async fn set_ecb(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<EcbRequest>,
) -> ApiResult<Json<RatesView>> {
    state
        .store
        .set_uses_ecb_rates(current.user.id, request.enabled)
        .await?;
    if request.enabled {
        fetch_ecb_if_stale(&state).await?;
    }
    Ok(Json(rates_view(&state, &current.user).await?))
}

/// Fetches the ECB's rates now when none are kept or they are older than the refresh interval,
/// so turning them on converts at once instead of after the next background fetch. A failed
/// fetch is logged, not the request's failure: the background fetch tries again.
pub(crate) async fn fetch_ecb_if_stale(state: &AppState) -> ApiResult<()> {
    let url = &state.settings.rates.ecb_url;
    if url.is_empty() {
        return Ok(());
    }
    let every = chrono::Duration::hours(i64::from(state.settings.rates.ecb_refresh_hours.get()));
    let fresh = state
        .store
        .latest_ecb_rates()
        .await?
        .is_some_and(|(_, fetched_at)| Utc::now() - fetched_at < every);
    if fresh {
        return Ok(());
    }
    match crate::ecb::fetch(&reqwest::Client::new(), url).await {
        Ok(rates) => {
            let saved = state.store.save_ecb_rates(&rates).await?;
            tracing::info!(saved, "ECB reference rates saved");
        }
        Err(err) => tracing::warn!(error = %err, "cannot fetch the ECB's reference rates"),
    }
    Ok(())
}
