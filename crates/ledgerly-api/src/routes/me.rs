//! The signed-in account: profile, password, email, deletion.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use ledgerly_core::{Email, PersonName, User, UserTimeZone};
use ledgerly_store::ProfileChanges;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::limiter::Account;
use crate::auth::password;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, ClientIp, CurrentUser};
use crate::routes::auth::signed_out;
use crate::state::AppState;
use crate::views::{UserView, currency};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(change_email))
}

/// The signed-in account.
#[utoipa::path(get, operation_id = "getMe", path = "/me", tag = "account",
    responses((status = 200, description = "The account", body = UserView)))]
async fn me(current: CurrentUser) -> Json<UserView> {
    Json((&current.user).into())
}

/// The profile fields to change; those left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileRequest {
    pub(crate) name: Option<String>,
    /// ISO 4217: the currency new expenses default to and totals are shown in.
    pub(crate) currency: Option<String>,
    /// An IANA time zone.
    pub(crate) timezone: Option<String>,
    /// The dashboard's colours: `system` (follow the device), `light` or `dark`.
    pub(crate) theme: Option<String>,
}

/// Changes the name, currency, time zone or the dashboard's theme.
#[utoipa::path(patch, operation_id = "updateMe", path = "/me", tag = "account", request_body = ProfileRequest,
    responses((status = 200, description = "The changed account", body = UserView)))]
#[tracing::instrument(skip_all)]
async fn update_profile(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<ProfileRequest>,
) -> ApiResult<Json<UserView>> {
    let user = change_profile(&state, &current, request).await?;
    Ok(Json((&user).into()))
}

/// Checks and applies profile changes: the API's and the dashboard's way in.
pub(crate) async fn change_profile(
    state: &AppState,
    current: &CurrentUser,
    request: ProfileRequest,
) -> ApiResult<User> {
    let changes = ProfileChanges {
        name: request
            .name
            .as_deref()
            .map(PersonName::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("name", e))?,
        currency: request
            .currency
            .as_deref()
            .map(|c| currency("currency", c))
            .transpose()?,
        time_zone: request
            .timezone
            .as_deref()
            .map(UserTimeZone::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("timezone", e))?,
        theme: request
            .theme
            .as_deref()
            .map(str::parse::<ledgerly_core::Theme>)
            .transpose()
            .map_err(|e| ApiError::invalid("theme", e))?,
    };
    Ok(state.store.update_profile(current.user.id, changes).await?)
}

/// Checks the account's current password; a wrong one is 403. Limited like a login, per account
/// and per client address: a stolen session cannot guess the password at the hashing's speed.
pub(crate) async fn confirm_password(
    state: &AppState,
    current: &CurrentUser,
    ip: IpAddr,
    given: SecretString,
) -> ApiResult<()> {
    current.session()?;
    let account = Account::User(current.user.id);
    state.limiter.attempt(ip, account, Utc::now()).await?;
    let hash = state.store.password_hash(current.user.id).await?;
    if password::verify(given, hash).await? {
        state.limiter.succeeded(ip, account).await?;
        Ok(())
    } else {
        Err(ApiError::WrongPassword)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordRequest {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// At least 8 characters.
    #[schema(value_type = String, format = Password, min_length = 8)]
    new_password: SecretString,
}

/// Changes the password and signs out every other session.
#[utoipa::path(put, operation_id = "changePassword", path = "/me/password", tag = "account", security(("bearer" = []), ("session_cookie" = [])), request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed; the other sessions are revoked"),
        (status = 403, description = "The current password is wrong", body = ErrorBody),
        (status = 429, description = "Too many password attempts for this account or address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn change_password(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    AppJson(request): AppJson<PasswordRequest>,
) -> ApiResult<StatusCode> {
    change_password_of(
        &state,
        &current,
        ip,
        request.current_password,
        request.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the current password and the new one, sets it and signs out every other session.
pub(crate) async fn change_password_of(
    state: &AppState,
    current: &CurrentUser,
    ip: IpAddr,
    current_password: SecretString,
    new_password: SecretString,
) -> ApiResult<()> {
    password::check_new("new_password", &new_password)?;
    confirm_password(state, current, ip, current_password).await?;
    let hash = password::hash(new_password).await?;
    state
        .store
        .set_password_hash(current.user.id, &hash)
        .await?;
    let revoked = state
        .store
        .revoke_other_sessions(current.user.id, Some(current.session()?.id))
        .await?;
    tracing::info!(user = %current.user.id, revoked, "password changed");
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EmailRequest {
    /// The new address.
    #[schema(format = Email)]
    email: String,
    /// The account's password.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Changes the sign-in email; the password is required.
#[utoipa::path(put, operation_id = "changeEmail", path = "/me/email", tag = "account", security(("bearer" = []), ("session_cookie" = [])), request_body = EmailRequest,
    responses(
        (status = 200, description = "The changed account", body = UserView),
        (status = 403, description = "The password is wrong", body = ErrorBody),
        (status = 429, description = "Too many password attempts for this account or address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 409, description = "Another account has this email", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all)]
async fn change_email(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    AppJson(request): AppJson<EmailRequest>,
) -> ApiResult<Json<UserView>> {
    let user = change_email_of(&state, &current, ip, &request.email, request.password).await?;
    Ok(Json((&user).into()))
}

/// Checks the password, changes the sign-in email and signs out every other session (whoever
/// had them signed in to an account under another address).
pub(crate) async fn change_email_of(
    state: &AppState,
    current: &CurrentUser,
    ip: IpAddr,
    email: &str,
    password: SecretString,
) -> ApiResult<User> {
    let email = Email::parse(email).map_err(|e| ApiError::invalid("email", e))?;
    confirm_password(state, current, ip, password).await?;
    let user = state.store.set_email(current.user.id, &email).await?;
    let revoked = state
        .store
        .revoke_other_sessions(current.user.id, Some(current.session()?.id))
        .await?;
    tracing::info!(user = %current.user.id, revoked, "email changed");
    Ok(user)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    /// The account's password.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Deletes the account and everything in it. The password is required: a stolen session alone
/// cannot destroy an account.
#[utoipa::path(delete, operation_id = "deleteMe", path = "/me", tag = "account", security(("bearer" = []), ("session_cookie" = [])), request_body = DeleteRequest,
    responses(
        (status = 204, description = "The account, its expenses and its receipt files are gone"),
        (status = 403, description = "The password is wrong", body = ErrorBody),
        (status = 409, description = "It is the instance's last administrator and other accounts remain (`last_admin`): make another account an administrator first", body = ErrorBody),
        (status = 429, description = "Too many password attempts for this account or address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn delete_account(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientIp(ip): ClientIp,
    AppJson(request): AppJson<DeleteRequest>,
) -> ApiResult<Response> {
    confirm_password(&state, &current, ip, request.password).await?;
    delete_with_files(&state, current.user.id).await?;
    Ok(signed_out(&state))
}

/// Deletes an account's rows, then its receipt files.
pub(crate) async fn delete_with_files(
    state: &AppState,
    id: ledgerly_core::UserId,
) -> ApiResult<()> {
    let object_keys = state.store.delete_user(id).await?;
    // The rows are gone; now the files. One that fails is logged, not left unmentioned.
    let mut failed = 0usize;
    for key in &object_keys {
        if let Err(err) = state.storage.delete(key).await {
            failed += 1;
            tracing::error!(error = ?err, key, "could not delete a deleted account's receipt file");
        }
    }
    tracing::info!(user = %id, receipts = object_keys.len(), failed, "account deleted");
    Ok(())
}
