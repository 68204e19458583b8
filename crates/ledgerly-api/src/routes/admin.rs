//! The administrator's routes: the instance's accounts (last seen, storage used; role, disable,
//! enable, delete) and the invites new accounts register with. Only an administrator signed in
//! with the password may use them (a personal API token is refused: 403 `session_required`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use ledgerly_core::{InviteId, Role, UserId};
use ledgerly_store::{Account, AccountChanges, Invite, NewInvite, Store};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::password_reset::{ResetLinkView, make_link};
use crate::auth::token as secret;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{AppJson, AppPath, CurrentUser};
use crate::settings::Registration;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(update_account, delete_account))
        .routes(routes!(reset_password))
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(delete_invite))
}

/// How long an invite lasts when its maker does not say: a week.
pub(crate) const INVITE_DEFAULT_DAYS: u32 = 7;
/// The longest an invite may last.
pub(crate) const INVITE_MAX_DAYS: u32 = 30;
/// The longest note an invite may carry.
const NOTE_MAX_CHARS: usize = 100;

/// An account as the administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountView {
    pub(crate) id: UserId,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) created_at: DateTime<Utc>,
    /// A disabled account cannot sign in; its sessions ended and its tokens are refused.
    pub(crate) disabled: bool,
    pub(crate) disabled_at: Option<DateTime<Utc>>,
    /// Its last sign-in or use of a session or token (to the minute); `null` if never.
    pub(crate) last_seen_at: Option<DateTime<Utc>>,
    pub(crate) expenses: i64,
    pub(crate) receipts: i64,
    /// The bytes its receipt files take.
    pub(crate) storage_bytes: i64,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        Self {
            id: account.user.id,
            email: account.user.email.to_string(),
            name: account.user.name.to_string(),
            role: account.user.role,
            created_at: account.user.created_at,
            disabled: account.disabled_at.is_some(),
            disabled_at: account.disabled_at,
            last_seen_at: account.last_seen_at,
            expenses: account.expenses,
            receipts: account.receipts,
            storage_bytes: account.storage_bytes,
        }
    }
}

/// What to change of an account; what is left out stays.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountChangesRequest {
    pub(crate) role: Option<Role>,
    /// `true` disables the account (its sessions end, its tokens are refused); `false` enables it.
    pub(crate) disabled: Option<bool>,
}

/// Where an invite stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InviteStatus {
    Open,
    Used,
    Expired,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InviteView {
    pub(crate) id: InviteId,
    /// Whom it is for, as its maker wrote.
    pub(crate) note: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) status: InviteStatus,
    pub(crate) used_at: Option<DateTime<Utc>>,
    /// The email of the account it made, while that account exists.
    pub(crate) used_by: Option<String>,
}

impl InviteView {
    pub(crate) fn of(invite: &Invite, now: DateTime<Utc>) -> Self {
        let status = if invite.used_at.is_some() {
            InviteStatus::Used
        } else if invite.is_open(now) {
            InviteStatus::Open
        } else {
            InviteStatus::Expired
        };
        Self {
            id: invite.id,
            note: invite.note.clone(),
            created_at: invite.created_at,
            expires_at: invite.expires_at,
            status,
            used_at: invite.used_at,
            used_by: invite.used_by.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateInviteRequest {
    /// Whom it is for (shown in the list only); at most 100 characters.
    #[schema(example = "Asha")]
    pub(crate) note: Option<String>,
    /// How many days it lasts: 1 to 30; 7 when left out.
    #[schema(minimum = 1, maximum = 30, example = 7)]
    pub(crate) expires_in_days: Option<u32>,
}

/// A new invite with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedInviteView {
    #[serde(flatten)]
    pub(crate) invite: InviteView,
    /// Registration takes it as `invite`. It is not shown again.
    #[serde(serialize_with = "crate::views::expose")]
    #[schema(value_type = String)]
    pub(crate) secret: SecretString,
    /// The link to send, relative to the server's address: `/?invite=<secret>`.
    #[schema(example = "/?invite=3q2…")]
    pub(crate) path: String,
}

impl std::fmt::Debug for CreatedInviteView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInviteView")
            .field("invite", &self.invite)
            .field("secret", &"[hidden]")
            .finish()
    }
}

/// The administrator behind a request: signed in with the password, with the `admin` role.
pub(crate) fn admin(current: &CurrentUser) -> ApiResult<UserId> {
    current.session()?;
    if current.user.role != Role::Admin {
        return Err(ApiError::Forbidden {
            code: "admin_only",
            message: "only the server's administrator can do this".into(),
        });
    }
    Ok(current.user.id)
}

/// Makes an invite (for `created_by`, or the operator's command line when `None`): its secret,
/// shown this once.
pub(crate) async fn make_invite(
    store: &Store,
    registration: Registration,
    created_by: Option<UserId>,
    request: CreateInviteRequest,
) -> ApiResult<CreatedInviteView> {
    let secret = secret::generate();
    let invite = record_invite(
        store,
        registration,
        created_by,
        request,
        &secret::hash(&secret),
    )
    .await?;
    let path = format!("/?invite={}", secret.expose_secret());
    Ok(CreatedInviteView {
        invite: InviteView::of(&invite, Utc::now()),
        secret,
        path,
    })
}

/// Records an invite whose secret hashes to `token_hash`: refused while `registration` is
/// closed, since nobody could register with it.
pub(crate) async fn record_invite(
    store: &Store,
    registration: Registration,
    created_by: Option<UserId>,
    request: CreateInviteRequest,
    token_hash: &[u8],
) -> ApiResult<Invite> {
    if registration == Registration::Closed {
        return Err(ApiError::Conflict {
            code: "registration_closed",
            message: "registration is closed (auth.registration = closed), so nobody could \
                      register with an invite: set it to `invite` first"
                .into(),
        });
    }
    let note = request.note.unwrap_or_default().trim().to_owned();
    if note.chars().count() > NOTE_MAX_CHARS {
        return Err(ApiError::invalid(
            "note",
            format!("at most {NOTE_MAX_CHARS} characters"),
        ));
    }
    if note.chars().any(char::is_control) {
        return Err(ApiError::invalid("note", "no control characters"));
    }
    let days = request.expires_in_days.unwrap_or(INVITE_DEFAULT_DAYS);
    if !(1..=INVITE_MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "expires_in_days",
            format!("give 1 to {INVITE_MAX_DAYS} days, not {days}"),
        ));
    }
    let invite = store
        .create_invite(NewInvite {
            note,
            created_by,
            lasts: Duration::days(i64::from(days)),
            token_hash,
        })
        .await?;
    tracing::info!(invite = %invite.id, by = ?created_by, days, "invite made");
    Ok(invite)
}

/// Changes an account's role or access for the administrator `by`. An administrator does not
/// disable their own account.
pub(crate) async fn change_account(
    state: &AppState,
    by: UserId,
    id: UserId,
    changes: AccountChangesRequest,
) -> ApiResult<Account> {
    if id == by && changes.disabled == Some(true) {
        return Err(ApiError::Conflict {
            code: "own_account",
            message: "you cannot disable your own account".into(),
        });
    }
    let account = state
        .store
        .update_account(
            id,
            AccountChanges {
                role: changes.role,
                disabled: changes.disabled,
            },
        )
        .await?;
    tracing::info!(by = %by, account = %id, role = ?changes.role, disabled = ?changes.disabled, "account changed");
    Ok(account)
}

/// Deletes another account and its receipt files for the administrator `by`.
pub(crate) async fn remove_account(state: &AppState, by: UserId, id: UserId) -> ApiResult<()> {
    if id == by {
        return Err(ApiError::Conflict {
            code: "own_account",
            message: "delete your own account from your profile (DELETE /api/v1/me): it asks for \
                      your password"
                .into(),
        });
    }
    super::me::delete_with_files(state, id).await?;
    tracing::info!(by = %by, account = %id, "account deleted by an administrator");
    Ok(())
}

const NOT_ADMIN: &str =
    "Not an administrator (`admin_only`), or sent with an API token (`session_required`)";

/// Every account of the instance, oldest first. Administrators only.
#[utoipa::path(get, operation_id = "listAccounts", path = "/admin/accounts", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "The accounts", body = Vec<AccountView>),
        (status = 403, description = NOT_ADMIN, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list_accounts(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<AccountView>>> {
    admin(&current)?;
    let accounts = state.store.list_accounts().await?;
    Ok(Json(accounts.iter().map(AccountView::from).collect()))
}

/// Changes an account's role (`admin` or `member`) or disables or enables it. Disabling ends its
/// sessions at once and refuses its API tokens until it is enabled again. The instance keeps an
/// administrator who can sign in (409 `last_admin`), and an administrator cannot disable their
/// own account (409 `own_account`). Administrators only.
#[utoipa::path(patch, operation_id = "updateAccount", path = "/admin/accounts/{id}", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = UserId, Path, description = "The account's id")),
    request_body = AccountChangesRequest,
    responses((status = 200, description = "The account as it is now", body = AccountView),
        (status = 403, description = NOT_ADMIN, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "It would leave no administrator (`last_admin`), or it disables your own account (`own_account`)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn update_account(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<UserId>,
    AppJson(request): AppJson<AccountChangesRequest>,
) -> ApiResult<Json<AccountView>> {
    let by = admin(&current)?;
    let account = change_account(&state, by, id, request).await?;
    Ok(Json(AccountView::from(&account)))
}

/// Deletes another account with everything in it, its receipt files included. Your own is
/// deleted from your profile (409 `own_account`). Administrators only.
#[utoipa::path(delete, operation_id = "deleteAccount", path = "/admin/accounts/{id}", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = UserId, Path, description = "The account's id")),
    responses((status = 204, description = "The account is gone"),
        (status = 403, description = NOT_ADMIN, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "It is your own account (`own_account`), or the last administrator (`last_admin`)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn delete_account(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<StatusCode> {
    let by = admin(&current)?;
    remove_account(&state, by, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes a link that sets a new password for the account, to pass on to its owner (with or
/// without an SMTP server): single use, for 24 hours; using it signs the account out everywhere.
/// The administrator never learns the password. The link is in this answer only.
/// Administrators only.
#[utoipa::path(post, operation_id = "resetAccountPassword", path = "/admin/accounts/{id}/password-reset", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = UserId, Path, description = "The account's id")),
    responses((status = 201, description = "The link, this once", body = ResetLinkView),
        (status = 403, description = NOT_ADMIN, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn reset_password(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<UserId>,
) -> ApiResult<(StatusCode, Json<ResetLinkView>)> {
    let by = admin(&current)?;
    let link = make_link(&state, by, id).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// The newest 200 invites, used and expired ones included. Administrators only.
#[utoipa::path(get, operation_id = "listInvites", path = "/admin/invites", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    responses((status = 200, description = "The invites, without their secrets", body = Vec<InviteView>),
        (status = 403, description = NOT_ADMIN, body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list_invites(
    State(state): State<AppState>,
    current: CurrentUser,
) -> ApiResult<Json<Vec<InviteView>>> {
    admin(&current)?;
    let now = Utc::now();
    let invites = state.store.list_invites().await?;
    Ok(Json(
        invites
            .iter()
            .map(|invite| InviteView::of(invite, now))
            .collect(),
    ))
}

/// Makes an invite: one account can register with it (`invite` in `POST /auth/register`, or its
/// link `/?invite=<secret>` in a browser) until it expires. The secret is in this answer only.
/// Administrators only.
#[utoipa::path(post, operation_id = "createInvite", path = "/admin/invites", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    request_body = CreateInviteRequest,
    responses((status = 201, description = "The invite and, this once, its secret and link", body = CreatedInviteView),
        (status = 403, description = NOT_ADMIN, body = ErrorBody),
        (status = 409, description = "Registration is closed (`registration_closed`)", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn create_invite(
    State(state): State<AppState>,
    current: CurrentUser,
    AppJson(request): AppJson<CreateInviteRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInviteView>)> {
    let by = admin(&current)?;
    let created = make_invite(
        &state.store,
        state.settings.auth.registration,
        Some(by),
        request,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Withdraws an invite that has not been used. Administrators only.
#[utoipa::path(delete, operation_id = "deleteInvite", path = "/admin/invites/{id}", tag = "admin",
    security(("bearer" = []), ("session_cookie" = [])),
    params(("id" = InviteId, Path, description = "The invite's id")),
    responses((status = 204, description = "Withdrawn: its link no longer registers anyone"),
        (status = 403, description = NOT_ADMIN, body = ErrorBody),
        (status = 404, description = "No such invite, or it was used", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn delete_invite(
    State(state): State<AppState>,
    current: CurrentUser,
    AppPath(id): AppPath<InviteId>,
) -> ApiResult<StatusCode> {
    admin(&current)?;
    state.store.delete_invite(id).await?;
    tracing::info!(invite = %id, "invite withdrawn");
    Ok(StatusCode::NO_CONTENT)
}
