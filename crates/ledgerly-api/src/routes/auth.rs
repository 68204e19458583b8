//! Register, log in, log out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use ledgerly_core::{Budget, Currency, Email, Month, PersonName, User, UserTimeZone};
use ledgerly_store::NewUser;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{password, token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, ClientIp, CurrentUser};
use crate::settings::Registration;
use crate::state::AppState;
use crate::views::{AmountInput, UserView, currency};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[schema(format = Email, example = "asha@example.com")]
    pub(crate) email: String,
    /// At least 8 characters.
    #[schema(value_type = String, format = Password, min_length = 8)]
    pub(crate) password: SecretString,
    #[schema(example = "Asha")]
    pub(crate) name: String,
    /// The monthly budget from this month on, in `currency`.
    pub(crate) budget: Option<AmountInput>,
    /// ISO 4217; default `INR`.
    #[schema(example = "INR")]
    pub(crate) currency: Option<String>,
    /// An IANA time zone; default `UTC`. Months and "today" are the user's.
    #[schema(example = "Asia/Kolkata")]
    pub(crate) timezone: Option<String>,
    /// The invite's secret (the `invite` of its link). Needed when the server's registration is
    /// by invitation; used up by the account it makes.
    #[schema(value_type = Option<String>, format = Password)]
    pub(crate) invite: Option<SecretString>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Serialize, ToSchema)]
struct SessionView {
    user: UserView,
    /// For API clients: send as `Authorization: Bearer <token>`.
    #[serde(serialize_with = "crate::views::expose")]
    #[schema(value_type = String)]
    token: SecretString,
    expires_at: chrono::DateTime<Utc>,
}

/// 204 with the session cookie removed: the answer to logging out and to deleting the account.
pub(crate) fn signed_out(state: &AppState) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        token::clear_cookie(state.settings.auth.cookie_secure),
    );
    response
}

/// Starts a session for `user` and answers with it, as JSON and as the session cookie.
pub(crate) async fn start_session(
    state: &AppState,
    user: &User,
    status: StatusCode,
) -> ApiResult<Response> {
    let (token, session, cookie) = new_session(state, user).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie);
    let body = SessionView {
        user: user.into(),
        token,
        expires_at: session.expires_at,
    };
    Ok((status, headers, Json(body)).into_response())
}

/// A new session for `user`: its token, its record and the `Set-Cookie` value that carries it.
pub(crate) async fn new_session(
    state: &AppState,
    user: &User,
) -> ApiResult<(
    SecretString,
    ledgerly_store::Session,
    axum::http::HeaderValue,
)> {
    let token = token::generate();
    let hours = i64::from(state.settings.auth.session_hours.get());
    let session = state
        .store
        .create_session(
            user.id,
            &token::hash(&token),
            Utc::now() + Duration::hours(hours),
        )
        .await?;
    let cookie = token::cookie(&token, hours * 3600, state.settings.auth.cookie_secure);
    Ok((token, session, cookie))
}

/// Creates an account and signs it in.
#[utoipa::path(post, operation_id = "register", path = "/auth/register", tag = "auth", security(()), request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account and its session; the token is also set as the `ledgerly_session` cookie",
            body = SessionView, headers(("set-cookie" = String, description = "The session cookie (HttpOnly, SameSite=Lax)"))),
        (status = 403, description = "Registration is by invitation and no invite was sent (`invite_required`), the invite is unknown, used or expired (`invite_invalid`), or registration is closed (`registration_closed`). The answer does not depend on the email.", body = ErrorBody),
        (status = 409, description = "An account with this email exists (said only to a request with a valid invite, or when registration is open)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(request): AppJson<RegisterRequest>,
) -> ApiResult<Response> {
    let user = register_user(&state, ip, request).await?;
    start_session(&state, &user, StatusCode::CREATED).await
}

/// Checks a registration and creates the account: the API's and the landing page's way in.
pub(crate) async fn register_user(
    state: &AppState,
    ip: std::net::IpAddr,
    request: RegisterRequest,
) -> ApiResult<User> {
    // Registration costs a password hash: the per-address limit applies to it too.
    state.limiter.attempt_from(ip, Utc::now()).await?;
    // Before anything about the email is looked at: a refusal here is the same for every email.
    let invite = admission(state.settings.auth.registration, request.invite.as_ref())?;
    let email = Email::parse(&request.email).map_err(|e| ApiError::invalid("email", e))?;
    let name = PersonName::parse(&request.name).map_err(|e| ApiError::invalid("name", e))?;
    password::check_new("password", &request.password)?;
    let currency = match &request.currency {
        Some(code) => currency("currency", code)?,
        None => Currency::INR,
    };
    let time_zone = match &request.timezone {
        Some(zone) => UserTimeZone::parse(zone).map_err(|e| ApiError::invalid("timezone", e))?,
        None => UserTimeZone::UTC,
    };
    let budget = request
        .budget
        .as_ref()
        .map(|amount| amount.to_money("budget", currency))
        .transpose()?;
    let budget = budget
        .map(|amount| {
            Budget::new(amount, Month::of(time_zone.today()))
                .map_err(|e| ApiError::invalid("budget", e))
        })
        .transpose()?;
    let password_hash = password::hash(request.password).await?;
    let new = NewUser {
        email,
        name,
        password_hash: password_hash.into(),
        currency,
        time_zone,
    };
    let user = match invite {
        Some(hash) => state.store.create_invited_user(new, &hash).await?,
        None => state.store.create_user(new).await?,
    };
    tracing::info!(user = %user.id, role = %user.role, invited = request.invite.is_some(), "registered");
    if let Some(budget) = budget {
        state.store.set_budget(user.id, budget).await?;
    }
    Ok(user)
}

/// Whether `registration` lets a request with `invite` in: the hash of the invite to use up, if
/// one is to be. An unknown invite is refused later, in the transaction that makes the account.
pub(crate) fn admission(
    registration: Registration,
    invite: Option<&SecretString>,
) -> ApiResult<Option<Vec<u8>>> {
    match (registration, invite) {
        (Registration::Closed, _) => Err(ApiError::Forbidden {
            code: "registration_closed",
            message: "this server makes no new accounts: its registration is closed".into(),
        }),
        (_, Some(invite)) => Ok(Some(token::hash(invite))),
        (Registration::Open, None) => Ok(None),
        (Registration::Invite, None) => Err(ApiError::Forbidden {
            code: "invite_required",
            message: "this server makes accounts by invitation only: ask its administrator for \
                      an invite link"
                .into(),
        }),
    }
}

/// Signs in: a new session, as a token and as the session cookie. The answer to a wrong password
/// and to an unknown email is the same.
#[utoipa::path(post, operation_id = "login", path = "/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses(
        (status = 200, description = "The session", body = SessionView,
            headers(("set-cookie" = String, description = "The session cookie (HttpOnly, SameSite=Lax)"))),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 403, description = "The password is right but an administrator disabled the account (`account_disabled`)", body = ErrorBody),
        (status = 429, description = "Too many attempts for this address or account", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(request): AppJson<LoginRequest>,
) -> ApiResult<Response> {
    let user = authenticate(&state, ip, &request.email, request.password).await?;
    start_session(&state, &user, StatusCode::OK).await
}

/// The account `email` and `password` sign in to, under the rate limits. The answer to a wrong
/// password and to an unknown email is the same.
pub(crate) async fn authenticate(
    state: &AppState,
    ip: std::net::IpAddr,
    email: &str,
    password: SecretString,
) -> ApiResult<User> {
    // Counted before the hash, so guesses sent in parallel all count.
    state.limiter.attempt(ip, email, Utc::now()).await?;
    let credentials = match Email::parse(email) {
        Ok(email) => state.store.credentials(&email).await?,
        Err(_) => None,
    };
    // An unknown email costs the same as a wrong password, so timing does not tell them apart.
    let hash = credentials.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |c| c.password_hash.expose_secret().to_owned(),
    );
    let matches = password::verify(password, hash).await?;
    match credentials {
        // Said only to whoever knows the password.
        Some(credentials) if matches && credentials.disabled => Err(ApiError::Forbidden {
            code: "account_disabled",
            message: "this account is disabled: ask the server's administrator".into(),
        }),
        Some(credentials) if matches => {
            state.limiter.succeeded(ip, email).await?;
            Ok(credentials.user)
        }
        _ => Err(ApiError::WrongCredentials),
    }
}

/// Ends this session; the token stops working at once.
#[utoipa::path(post, operation_id = "logout", path = "/auth/logout", tag = "auth", security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 204, description = "Signed out; the cookie is cleared")))]
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    current: CurrentUser,
    headers: HeaderMap,
) -> ApiResult<Response> {
    current.session()?;
    if let Some(token) = token::from_headers(&headers, state.settings.auth.cookie_secure) {
        state.store.revoke_session(&token::hash(&token)).await?;
    }
    tracing::info!(user = %current.user.id, "logged out");
    Ok(signed_out(&state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carrying_a_password_never_shows_it() {
        let login: LoginRequest =
            serde_json::from_str(r#"{"email": "a@example.com", "password": "hunter2 hunter2"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        let register: RegisterRequest = serde_json::from_str(
            r#"{"email": "a@example.com", "password": "hunter2 hunter2", "name": "A"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for shown in [format!("{login:?}"), format!("{register:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("a@example.com"), "{shown}");
        }
    }
}
