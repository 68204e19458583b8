//! Extractors whose rejections use the API's error shape, and the signed-in user.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use chrono::Utc;
use ledgerly_core::User;
use ledgerly_core::token::{ApiToken, TokenScope};
use ledgerly_store::Session;

use crate::auth::{csrf, token};
use crate::error::ApiError;
use crate::state::AppState;

/// `Json` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

/// `Query` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// `Path` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

/// The user a request acts for, from its bearer token or session cookie. Every data route takes
/// the user from here — never from a path, query or body field.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub credential: Credential,
}

/// What the request signed in with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A login session (the dashboard's cookie, or the token `POST /auth/login` gives).
    Session(Session),
    /// A personal API token (`lgy_…`), sent as `Authorization: Bearer`.
    Token(ApiToken),
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, source) = token::credential(&parts.headers, state.settings.auth.cookie_secure)
            .ok_or(ApiError::Unauthenticated)?;
        if source == token::Source::Bearer && token::is_personal(&token) {
            let (api_token, user) = state
                .store
                .api_token_user(&token::hash(&token), Utc::now())
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            if api_token.scope == TokenScope::Read && csrf::is_unsafe(&parts.method) {
                return Err(ApiError::Forbidden {
                    code: "insufficient_scope",
                    message: format!(
                        "the token `{}` can only read (GET); make a read_write token to change \
                         anything",
                        api_token.name
                    ),
                });
            }
            return Ok(CurrentUser {
                user,
                credential: Credential::Token(api_token),
            });
        }
        if source == token::Source::Cookie
            && csrf::is_unsafe(&parts.method)
            && !csrf::from_header(&parts.headers).is_some_and(|given| csrf::matches(&token, given))
        {
            return Err(ApiError::CsrfRefused);
        }
        CurrentUser::of_session_token(state, &token)
            .await?
            .ok_or(ApiError::Unauthenticated)
    }
}

impl CurrentUser {
    /// The user and live session a session token belongs to, if any.
    pub async fn of_session_token(
        state: &AppState,
        token: &secrecy::SecretString,
    ) -> Result<Option<Self>, ApiError> {
        Ok(state
            .store
            .session_user(
                &token::hash(token),
                Utc::now(),
                state.settings.auth.idle_limit(),
            )
            .await?
            .map(|(session, user)| CurrentUser {
                user,
                credential: Credential::Session(session),
            }))
    }

    /// The login session the request signed in with. An API token is refused (403
    /// `session_required`): what manages the account's sign-in — its password, email, tokens,
    /// its deletion — needs the password's session, so a leaked token cannot take the account.
    pub fn session(&self) -> Result<&Session, ApiError> {
        match &self.credential {
            Credential::Session(session) => Ok(session),
            Credential::Token(_) => Err(ApiError::Forbidden {
                code: "session_required",
                message: "an API token cannot do this: sign in with the password \
                          (POST /api/v1/auth/login) and use that session"
                    .into(),
            }),
        }
    }
}

/// The client's address: the peer's, or — behind a trusted proxy — the last `X-Forwarded-For` hop.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.settings.server.trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
                .next_back()
        {
            return Ok(ClientIp(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no peer address on the request")))?;
        Ok(ClientIp(peer))
    }
}

/// An optional JSON body: none (or only whitespace) is `T::default()`; one that is not JSON is a
/// 400 and one that does not fit `T` a 422, as with [`AppJson`].
pub(crate) fn optional_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid {
            field: None,
            message: format!("the JSON body does not fit: {e}"),
        },
        _ => ApiError::BadRequest(format!("the body is not valid JSON: {e}")),
    })
}
