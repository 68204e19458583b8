//! Personal API tokens: named, read or read-write, expiring; for scripts and apps, sent as
//! `Authorization: Bearer lgy_…`. The secret is shown once, in the answer that makes it; only its
//! hash is kept. Making, listing and revoking them needs a login session: a token cannot make a
//! wider one, or hide itself.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ledgerly_core::token::{self, ApiToken, TokenScope};
use ledgerly_core::{ApiTokenId, TokenName};
use ledgerly_store::NewApiToken;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::token as secret;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, CurrentUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// A token as listed: everything but its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    pub(crate) id: ApiTokenId,
    #[schema(example = "backup script")]
    pub(crate) name: String,
    pub(crate) scope: TokenScope,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    /// To within a minute; `null` before its first use.
    pub(crate) last_used_at: Option<DateTime<Utc>>,
    /// Whether it has expired (it is kept, listed, until revoked).
    pub(crate) expired: bool,
}

impl TokenView {
    pub(crate) fn of(token: &ApiToken, now: DateTime<Utc>) -> Self {
        Self {
            id: token.id,
            name: token.name.as_str().to_owned(),
            scope: token.scope,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            expired: token.is_expired(now),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateTokenRequest {
    /// What it is for; unique in the account (in any case), at most 60 characters.
    #[schema(example = "backup script")]
    pub(crate) name: String,
    /// `read` (GET only) or `read_write`.
    pub(crate) scope: TokenScope,
    /// How many days it lasts: 1 to 3650; 90 when left out.
    #[schema(minimum = 1, maximum = 3650, example = 90)]
    pub(crate) expires_in_days: Option<u32>,
}

/// A new token, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedTokenView {
    #[serde(flatten)]
    pub(crate) token: TokenView,
    /// Send as `Authorization: Bearer <secret>`. It is not shown again.
    #[serde(serialize_with = "crate::views::expose")]
    #[schema(value_type = String, example = "lgy_3q2+…")]
    pub(crate) secret: SecretString,
}

impl std::fmt::Debug for CreatedTokenView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenView")
            .field("token", &self.token)
            .field("secret", &"[hidden]")
            .finish()
    }
}

/// Makes a token for the signed-in user (who must have signed in with the password).
pub(crate) async fn create(
    state: &AppState,
    current: &CurrentUser,
    request: CreateTokenRequest,
) -> ApiResult<CreatedTokenView> {
    current.session()?;
    let name = TokenName::parse(&request.name).map_err(|e| ApiError::invalid("name", e))?;
    let lasts = token::lifetime(request.expires_in_days)
        .map_err(|e| ApiError::invalid("expires_in_days", e))?;
    let secret = secret::generate_personal();
    let token = state
        .store
        .create_api_token(
            current.user.id,
            NewApiToken {
                name,
                scope: request.scope,
                lasts,
                token_hash: &secret::hash(&secret),
            },
        )
        .await?;
    tracing::info!(user = %current.user.id, token = %token.id, scope = %token.scope, "API token made");
    Ok(CreatedTokenView {
        token: TokenView::of(&token, Utc::now()),
        secret,
    })
}

/// The user's tokens, newest first, expired ones included.
pub(crate) async fn list(state: &AppState, current: &CurrentUser) -> ApiResult<Vec<TokenView>> {
    current.session()?;
    let now = Utc::now();
    Ok(state
        .store
        .list_api_tokens(current.user.id)
        .await?
        .iter()
        .map(|token| TokenView::of(token, now))
        .collect())
}

/// Revokes (deletes) one of the user's tokens: it stops working at once.
pub(crate) async fn revoke(
    state: &AppState,
    current: &CurrentUser,
    id: ApiTokenId,
) -> ApiResult<()> {
    current.session()?;
    state.store.revoke_api_token(current.user.id, id).await?;
    tracing::info!(user = %current.user.id, token = %id, "API token revoked");
    Ok(())
}

/// The account's personal API tokens, newest first (expired ones too, until revoked). Needs a
/// login session.
#[utoipa::path(get, operation_id = "listTokens", path = "/tokens", tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "The tokens, without their secrets", body = Vec<TokenView>),
        (status = 403, description = "Sent with an API token (`session_required`): sign in with the password", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list_tokens(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(list(&state, &current).await?))
}

/// Makes a personal API token: send its `secret` as `Authorization: Bearer <secret>`. The secret
/// is in this answer only. A `read` token may only read (`GET`); anything else it sends is 403
/// `insufficient_scope`. No token may change the password or email, delete the account, or
/// manage tokens (403 `session_required`). A password change leaves tokens working; revoke them
/// one by one. Needs a login session.
#[utoipa::path(post, operation_id = "createToken", path = "/tokens", tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    request_body = CreateTokenRequest,
    responses((status = 201, description = "The token and, this once, its secret", body = CreatedTokenView),
        (status = 403, description = "Sent with an API token (`session_required`): sign in with the password", body = ErrorBody),
        (status = 409, description = "A token of this name exists (`token_exists`), or the account holds 50 (`too_many_tokens`)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn create_token(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedTokenView>)> {
    Ok((
        StatusCode::CREATED,
        Json(create(&state, &current, request).await?),
    ))
}

/// Revokes a token: it stops working at once. Needs a login session.
#[utoipa::path(delete, operation_id = "revokeToken", path = "/tokens/{id}", tag = "tokens",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = ApiTokenId, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "Sent with an API token (`session_required`): sign in with the password", body = ErrorBody),
        (status = 404, description = "The account has no such token", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn revoke_token(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<ApiTokenId>,
) -> ApiResult<StatusCode> {
    revoke(&state, &current, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
