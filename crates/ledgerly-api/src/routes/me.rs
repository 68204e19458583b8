//! The signed-in account: profile, password, email, deletion.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use ledgerly_core::{Email, PersonName, UserTimeZone};
use ledgerly_store::ProfileChanges;
use serde::Deserialize;

use crate::auth::password;
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, CurrentUser};
use crate::routes::auth::signed_out;
use crate::state::AppState;
use crate::views::{UserView, currency};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me).patch(update_profile).delete(delete_account))
        .route("/me/password", put(change_password))
        .route("/me/email", put(change_email))
}

async fn me(current: CurrentUser) -> Json<UserView> {
    Json((&current.user).into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRequest {
    name: Option<String>,
    currency: Option<String>,
    timezone: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn update_profile(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<ProfileRequest>,
) -> ApiResult<Json<UserView>> {
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
    };
    let user = state.store.update_profile(current.user.id, changes).await?;
    Ok(Json((&user).into()))
}

/// Checks the account's current password; a wrong one is 403.
async fn confirm_password(state: &AppState, current: &CurrentUser, given: String) -> ApiResult<()> {
    let hash = state.store.password_hash(current.user.id).await?;
    if password::verify(given, hash).await? {
        Ok(())
    } else {
        Err(ApiError::WrongPassword)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordRequest {
    current_password: String,
    new_password: String,
}

/// Changes the password and signs out every other session.
#[tracing::instrument(skip_all)]
async fn change_password(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<PasswordRequest>,
) -> ApiResult<StatusCode> {
    password::check_new("new_password", &request.new_password)?;
    confirm_password(&state, &current, request.current_password).await?;
    let hash = password::hash(request.new_password).await?;
    state
        .store
        .set_password_hash(current.user.id, &hash)
        .await?;
    let revoked = state
        .store
        .revoke_other_sessions(current.user.id, Some(current.session.id))
        .await?;
    tracing::info!(user = %current.user.id, revoked, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailRequest {
    email: String,
    password: String,
}

#[tracing::instrument(skip_all)]
async fn change_email(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<EmailRequest>,
) -> ApiResult<Json<UserView>> {
    let email = Email::parse(&request.email).map_err(|e| ApiError::invalid("email", e))?;
    confirm_password(&state, &current, request.password).await?;
    let user = state.store.set_email(current.user.id, &email).await?;
    Ok(Json((&user).into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteRequest {
    password: String,
}

/// Deletes the account and everything in it. The password is required: a stolen session alone
/// cannot destroy an account.
#[tracing::instrument(skip_all)]
async fn delete_account(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<DeleteRequest>,
) -> ApiResult<Response> {
    confirm_password(&state, &current, request.password).await?;
    let object_keys = state.store.delete_user(current.user.id).await?;
    // The rows are gone; now the files. One that fails is logged, not left unmentioned.
    let mut failed = 0usize;
    for key in &object_keys {
        if let Err(err) = state.storage.delete(key).await {
            failed += 1;
            tracing::error!(error = ?err, key, "could not delete a deleted account's receipt file");
        }
    }
    tracing::info!(user = %current.user.id, receipts = object_keys.len(), failed, "account deleted");
    Ok(signed_out(&state))
}
