//! Password reset: a single-use link that expires, sent by email where an SMTP server is set
//! (`smtp.*`), or made by the administrator (no email needed) to pass on. Using it sets the new
//! password and signs out every session of the account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use ledgerly_core::{Email, User, UserId};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{password, token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, ClientIp};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(complete_reset))
}

/// How long an emailed link works.
pub(crate) const EMAILED_LASTS: Duration = Duration::hours(1);
/// How long an administrator's link works: it is passed on by hand.
pub(crate) const ADMIN_LASTS: Duration = Duration::hours(24);
/// The most links one account is emailed in an hour; more asks are answered the same, and
/// dropped.
pub(crate) const EMAILS_PER_HOUR: i64 = 3;
const SUBJECT: &str = "Reset your Ledgerly password";

/// The path of the page a reset link opens.
pub(crate) fn link_path(secret: &SecretString) -> String {
    format!("/password-reset?token={}", secret.expose_secret())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    #[schema(format = Email, example = "asha@example.com")]
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct ResetRequested {
    #[schema(example = "if an account has this email, a link to reset its password is on its way")]
    message: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteReset {
    /// The link's `token`.
    #[schema(value_type = String, format = Password)]
    pub(crate) token: SecretString,
    /// The new password: at least 8 characters.
    #[schema(value_type = String, format = Password, min_length = 8)]
    pub(crate) password: SecretString,
}

/// A reset link an administrator made, to pass on: shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResetLinkView {
    /// The page to open, relative to the server's address: `/password-reset?token=<secret>`.
    pub(crate) path: String,
    pub(crate) expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for ResetLinkView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetLinkView")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Emails a reset link to `email` if an account has it. The answer is the same either way, and
/// comes before the account is even looked up: the lookup, the link and the email happen after,
/// so neither the answer nor its time tells whether the email has an account.
pub(crate) async fn request(state: &AppState, ip: std::net::IpAddr, email: &str) -> ApiResult<()> {
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::Conflict {
            code: "no_email",
            message: "this server sends no email: ask its administrator to reset your password"
                .into(),
        });
    };
    state.limiter.attempt_from(ip, Utc::now()).await?;
    let email = Email::parse(email).map_err(|e| ApiError::invalid("email", e))?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = send_link(&state, &mailer, &email).await {
            tracing::error!(
                error = format!("{err:#}"),
                "a password reset email was not sent"
            );
        }
    });
    Ok(())
}

async fn send_link(
    state: &AppState,
    mailer: &crate::mail::Mailer,
    email: &Email,
) -> anyhow::Result<()> {
    let Some(credentials) = state.store.credentials(email).await? else {
        tracing::info!("a password reset was asked for an email with no account");
        return Ok(());
    };
    let user = credentials.user;
    if credentials.disabled {
        tracing::info!(user = %user.id, "a password reset was asked for a disabled account");
        return Ok(());
    }
    let secret = token::generate();
    let made = state
        .store
        .create_password_reset(
            user.id,
            &token::hash(&secret),
            EMAILED_LASTS,
            None,
            Some((Utc::now() - Duration::hours(1), EMAILS_PER_HOUR)),
        )
        .await?;
    if made.is_none() {
        tracing::warn!(user = %user.id, "a password reset was asked again too often; no email");
        return Ok(());
    }
    let base = state
        .settings
        .server
        .public_url
        .trim()
        .trim_end_matches('/');
    let body = format!(
        "Someone — you, we hope — asked to reset the password of the Ledgerly account {email} \
         at {base}.\n\n\
         Open this link within an hour to choose a new password:\n\n{base}{link}\n\n\
         The link works once. Choosing a new password signs the account out everywhere.\n\n\
         If you did not ask, ignore this email: the password stays as it is.\n",
        email = user.email,
        link = link_path(&secret),
    );
    mailer.send(user.email.as_str(), SUBJECT, body).await?;
    tracing::info!(user = %user.id, "a password reset link was emailed");
    Ok(())
}

/// Sets a new password with a reset link: every session of the account ends, and every other
/// link made for it stops working. The account, to sign in.
pub(crate) async fn complete(
    state: &AppState,
    ip: std::net::IpAddr,
    request: CompleteReset,
) -> ApiResult<User> {
    // A new password costs a hash: the per-address limit applies.
    state.limiter.attempt_from(ip, Utc::now()).await?;
    password::check_new("password", &request.password)?;
    let hash = password::hash(request.password).await?;
    let user = state
        .store
        .complete_password_reset(&token::hash(&request.token), &hash, Utc::now())
        .await?;
    tracing::info!(user = %user, "password reset");
    Ok(state.store.get_user(user).await?)
}

/// A reset link for the account `id`, made by the administrator `by`, to pass on by hand.
pub(crate) async fn make_link(
    state: &AppState,
    by: UserId,
    id: UserId,
) -> ApiResult<ResetLinkView> {
    let secret = token::generate();
    let reset = state
        .store
        .create_password_reset(id, &token::hash(&secret), ADMIN_LASTS, Some(by), None)
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("a reset link with no limit was not made"))
        })?;
    tracing::info!(by = %by, account = %id, "a password reset link was made");
    Ok(ResetLinkView {
        path: link_path(&secret),
        expires_at: reset.expires_at,
    })
}

/// Emails a link to reset the password, if an account has this email. The answer is the same
/// whether or not one has, and says so; the link works once, for an hour, and an account is
/// sent at most three an hour. Needs an SMTP server (`smtp.host`).
#[utoipa::path(post, operation_id = "requestPasswordReset", path = "/auth/password-reset", tag = "auth", security(()),
    request_body = ResetRequest,
    responses(
        (status = 202, description = "Asked: a link is emailed if an account has this email", body = ResetRequested),
        (status = 409, description = "This server sends no email (`no_email`): the administrator resets passwords", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<ResetRequest>,
) -> ApiResult<(StatusCode, Json<ResetRequested>)> {
    request(&state, ip, &body.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResetRequested {
            message: "if an account has this email, a link to reset its password is on its way",
        }),
    ))
}

/// Sets a new password with a reset link's token. Every session of the account ends (sign in
/// again with the new password); its other reset links stop working; API tokens stay.
#[utoipa::path(post, operation_id = "completePasswordReset", path = "/auth/password-reset/complete", tag = "auth", security(()),
    request_body = CompleteReset,
    responses(
        (status = 204, description = "The password is changed; every session has ended"),
        (status = 403, description = "The link is unknown, used already or expired (`reset_invalid`)", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
        (status = 503, description = "Too many password checks queued (a burst); try again", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
#[tracing::instrument(skip_all)]
async fn complete_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<CompleteReset>,
) -> ApiResult<StatusCode> {
    complete(&state, ip, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
