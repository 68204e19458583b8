//! The administrator's page: how registration stands, invites (make one — its link shown this
//! once — see each, withdraw an open one) and every account (last seen, what it stores; make it
//! an administrator or a member, disable, enable, delete). The JSON API's own steps
//! ([`crate::routes::admin`]) behind forms; anyone else is refused with the 403 page.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ledgerly_core::{InviteId, Role, UserId};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::admin::{
    AccountChangesRequest, AccountView, CreateInviteRequest, CreatedInviteView,
    INVITE_DEFAULT_DAYS, INVITE_MAX_DAYS, InviteStatus, InviteView, admin, change_account,
    make_invite, remove_account,
};
use crate::routes::password_reset::make_link;
use crate::settings::Registration;
use crate::state::AppState;

use super::layout::{self, Input, Section, csrf_field, field};
use super::{Errors, NoFields, PagePath, SignedForm, WebUser, failure, param, see_other};

/// The ids of the new invite's fields: `new-invite-note`, `new-invite-expires_in_days`.
const PREFIX: &str = "new-invite";

fn day(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%d %b %Y")) } }
}

/// `1536` → `1.5 KiB`.
fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The new invite's form, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct InviteForm {
    note: String,
    expires_in_days: String,
}

/// What the page shows beyond the lists.
#[derive(Default)]
struct Shown<'a> {
    done: Option<&'a str>,
    /// The account whose deletion is being confirmed.
    deleting: Option<UserId>,
    made: Option<(CreatedInviteView, String)>,
    failed: Option<(InviteForm, Errors)>,
    /// A password reset link just made: the account's email, the link, when it expires.
    reset: Option<(String, String, DateTime<Utc>)>,
}

/// `GET /admin`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let deleting = match param(&pairs, "delete") {
        None => None,
        Some(text) => match text.parse::<UserId>() {
            Ok(id) => Some(id),
            Err(_) => return failure(ApiError::NotFound("account")),
        },
    };
    let shown = Shown {
        done: param(&pairs, "done"),
        deleting,
        ..Shown::default()
    };
    render(&state, &user, shown, StatusCode::OK).await
}

/// The address the browser reached this server at, for the invite link it shows.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
    match host {
        Some(host) => {
            let scheme = if state.settings.auth.cookie_secure {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
        None => String::new(),
    }
}

async fn render(
    state: &AppState,
    user: &WebUser,
    shown: Shown<'_>,
    status: StatusCode,
) -> Response {
    if let Err(err) = admin(&user.current) {
        return failure(err);
    }
    let store = &state.store;
    let (accounts, invites) = match tokio::try_join!(store.list_accounts(), store.list_invites()) {
        Ok(read) => read,
        Err(err) => return failure(err.into()),
    };
    let now = Utc::now();
    let accounts: Vec<AccountView> = accounts.iter().map(AccountView::from).collect();
    let invites: Vec<InviteView> = invites.iter().map(|i| InviteView::of(i, now)).collect();
    let deleting = match shown.deleting {
        None => None,
        Some(id) => match accounts
            .iter()
            .find(|a| a.id == id && a.id != user.user().id)
        {
            Some(account) => Some(account),
            None => return failure(ApiError::NotFound("account")),
        },
    };
    let registration = state.settings.auth.registration;
    let made = shown.made.as_ref();
    let link = made.map(|(made, origin)| format!("{origin}{}", made.path));
    let body = html! {
        h1 { "Administration" }
        (layout::notice(shown.done))
        section.card aria-labelledby="registration-title" #registration {
            h2 #registration-title { "Registration" }
            p {
                @match registration {
                    Registration::Open => { strong { "Open:" } " anyone who reaches this server can make an account." },
                    Registration::Invite => { strong { "By invitation:" } " an account is made only with an invite link from this page." },
                    Registration::Closed => { strong { "Closed:" } " no new accounts, and no invites." },
                }
            }
            p.hint { "The server's " code { "auth.registration" } " setting (open, invite or closed) decides this." }
        }
        (invite_card(&invites, registration, &user.csrf, link.as_deref(), made.map(|(m, _)| m), shown.failed.as_ref()))
        (accounts_card(&accounts, user.user().id, &user.csrf, shown.reset.as_ref()))
        @if let Some(account) = deleting {
            (layout::dialog("Delete this account?", "/admin#accounts", html! {
                p { "Everything in " strong { (account.email) } " — its expenses and its "
                    (account.receipts) " receipt file(s) — is deleted for good." }
                form method="post" action={"/admin/accounts/" (account.id) "/delete"} {
                    (csrf_field(&user.csrf))
                    div.form-actions {
                        button.danger type="submit" { "Delete the account" }
                        a.button href="/admin#accounts" { "Cancel" }
                    }
                }
            }))
        }
    };
    (
        status,
        layout::page(
            "Administration",
            Some((user.user(), &user.csrf)),
            Section::Admin,
            body,
        ),
    )
        .into_response()
}

fn invite_card(
    invites: &[InviteView],
    registration: Registration,
    csrf: &str,
    link: Option<&str>,
    made: Option<&CreatedInviteView>,
    failed: Option<&(InviteForm, Errors)>,
) -> Markup {
    let none = Errors::none();
    let (form, errors) = match failed {
        Some((form, errors)) => (form.clone(), errors),
        None => (InviteForm::default(), &none),
    };
    let days = if form.expires_in_days.is_empty() {
        INVITE_DEFAULT_DAYS.to_string()
    } else {
        form.expires_in_days.clone()
    };
    html! {
        section.card.tokens aria-labelledby="invites-title" #invites {
            h2 #invites-title { "Invites" }
            @if let (Some(made), Some(link)) = (made, link) {
                div.token-made role="status" {
                    p { strong { "Invite made." } " Send this link: it makes one account, until "
                        (day(made.invite.expires_at)) ". It is not shown again." }
                    label for="new-invite-link" { "The invite link" }
                    input #new-invite-link type="text" readonly value=(link) autocomplete="off" spellcheck="false";
                }
            }
            @if registration == Registration::Closed {
                p.muted { "Registration is closed, so nobody could use an invite." }
            } @else {
                form.token-new method="post" action="/admin/invites" novalidate aria-label="Make an invite" {
                    (csrf_field(csrf))
                    (layout::form_error(errors))
                    div.row {
                        (field(PREFIX, "note", "For", &form.note,
                            Input::of("text").hint("Optional: whom it is for, to know it by."), errors))
                        (field(PREFIX, "expires_in_days", "Lasts (days)", &days,
                            Input::of("number").inputmode("numeric").required()
                                .hint(&format!("1 to {INVITE_MAX_DAYS}.")), errors))
                    }
                    div.form-actions { button.primary type="submit" { "Make invite" } }
                }
            }
            @if invites.is_empty() {
                p.muted { "No invites yet." }
            } @else {
                ul.token-list aria-label="Invites" {
                    @for invite in invites {
                        li.token-item {
                            div.token-text {
                                strong { @if invite.note.is_empty() { "Invite" } @else { (invite.note) } }
                                @match invite.status {
                                    InviteStatus::Open => span.badge.pending { "open" },
                                    InviteStatus::Used => span.badge.ok { "used" },
                                    InviteStatus::Expired => span.badge.skipped { "expired" },
                                }
                                p.hint {
                                    "Made " (day(invite.created_at)) " · "
                                    @match (invite.status, &invite.used_by) {
                                        (InviteStatus::Used, Some(email)) => { "made " (email) },
                                        (InviteStatus::Used, None) => "its account was deleted",
                                        (InviteStatus::Expired, _) => { "expired " (day(invite.expires_at)) },
                                        (InviteStatus::Open, _) => { "expires " (day(invite.expires_at)) },
                                    }
                                }
                            }
                            @if invite.status == InviteStatus::Open {
                                form method="post" action={"/admin/invites/" (invite.id) "/delete"} {
                                    (csrf_field(csrf))
                                    button.danger.small type="submit" { "Withdraw" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn accounts_card(
    accounts: &[AccountView],
    me: UserId,
    csrf: &str,
    reset: Option<&(String, String, DateTime<Utc>)>,
) -> Markup {
    html! {
        section.card aria-labelledby="accounts-title" #accounts {
            h2 #accounts-title { "Accounts (" (accounts.len()) ")" }
            @if let Some((email, link, expires)) = reset {
                div.token-made role="status" {
                    p { strong { "A password reset link for " (email) "." } " Pass it on: it sets a new password once, until "
                        (expires.format("%d %b %Y %H:%M UTC")) ", and signs the account out everywhere. It is not shown again." }
                    label for="reset-link" { "The reset link" }
                    input #reset-link type="text" readonly value=(link) autocomplete="off" spellcheck="false";
                }
            }
            div.table-wrap {
                table.data.accounts {
                    thead { tr {
                        th scope="col" { "Account" }
                        th scope="col" { "Role" }
                        th scope="col" { "Last seen" }
                        th scope="col" { "Expenses" }
                        th scope="col" { "Receipts" }
                        th scope="col" { "Storage" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for account in accounts {
                            tr data-email=(account.email) {
                                td.vendor {
                                    strong { (account.name) }
                                    @if account.id == me { " (you)" }
                                    br;
                                    span.muted { (account.email) }
                                }
                                td {
                                    @match account.role {
                                        Role::Admin => span.badge.ok { "administrator" },
                                        Role::Member => span.badge { "member" },
                                    }
                                    @if account.disabled { " " span.badge.failed { "disabled" } }
                                }
                                td { @match account.last_seen_at { Some(at) => (day(at)), None => "never" } }
                                td { (account.expenses) }
                                td { (account.receipts) }
                                td { (bytes(account.storage_bytes)) }
                                td.actions {
                                    form.inline method="post" action={"/admin/accounts/" (account.id) "/role"} {
                                        (csrf_field(csrf))
                                        @match account.role {
                                            Role::Admin => {
                                                input type="hidden" name="role" value="member";
                                                button.small type="submit" aria-label={"Make " (account.email) " a member"} { "Make member" }
                                            },
                                            Role::Member => {
                                                input type="hidden" name="role" value="admin";
                                                button.small type="submit" aria-label={"Make " (account.email) " an administrator"} { "Make administrator" }
                                            },
                                        }
                                    }
                                    " "
                                    form.inline method="post" action={"/admin/accounts/" (account.id) "/password-reset"} {
                                        (csrf_field(csrf))
                                        button.small type="submit" aria-label={"Reset the password of " (account.email)} { "Reset password" }
                                    }
                                    @if account.id != me {
                                        " "
                                        form.inline method="post" action={"/admin/accounts/" (account.id) "/access"} {
                                            (csrf_field(csrf))
                                            @if account.disabled {
                                                input type="hidden" name="disabled" value="false";
                                                button.small type="submit" aria-label={"Enable " (account.email)} { "Enable" }
                                            } @else {
                                                input type="hidden" name="disabled" value="true";
                                                button.small type="submit" aria-label={"Disable " (account.email)} { "Disable" }
                                            }
                                        }
                                        " "
                                        a.button.danger.small href={"/admin?delete=" (account.id) "#accounts"}
                                            aria-label={"Delete " (account.email)} { "Delete…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form as the API's request, or every field's problem at once.
fn request_of(form: &InviteForm) -> Result<CreateInviteRequest, Errors> {
    let Ok(days) = form.expires_in_days.trim().parse::<u32>() else {
        let mut errors = Errors::none();
        errors.add(
            "expires_in_days",
            format!("Give a whole number of days, 1 to {INVITE_MAX_DAYS}"),
        );
        return Err(errors);
    };
    Ok(CreateInviteRequest {
        note: Some(form.note.clone()),
        expires_in_days: Some(days),
    })
}

/// `POST /admin/invites`: makes an invite and shows the page with its link, this once (a page,
/// not a redirect: the secret never travels in a `Location`).
pub(crate) async fn make(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedForm { user, form }: SignedForm<InviteForm>,
) -> Response {
    let by = match admin(&user.current) {
        Ok(by) => by,
        Err(err) => return failure(err),
    };
    let (status, failed) = match request_of(&form) {
        Ok(request) => {
            match make_invite(
                &state.store,
                state.settings.auth.registration,
                Some(by),
                request,
            )
            .await
            {
                Ok(made) => {
                    let shown = Shown {
                        made: Some((made, origin(&state, &headers))),
                        ..Shown::default()
                    };
                    return render(&state, &user, shown, StatusCode::CREATED).await;
                }
                Err(err) => match Errors::from_api(err, "note") {
                    Ok(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
                    Err(err) => return failure(err),
                },
            }
        }
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
    };
    let shown = Shown {
        failed: Some((form, failed)),
        ..Shown::default()
    };
    render(&state, &user, shown, status).await
}

/// `POST /admin/invites/{id}/delete`: withdraws an open invite.
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    PagePath(id): PagePath<InviteId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    if let Err(err) = admin(&user.current) {
        return failure(err);
    }
    match state.store.delete_invite(id).await {
        Ok(()) => see_other("/admin?done=invite-withdrawn#invites"),
        Err(err) => failure(err.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RoleForm {
    role: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AccessForm {
    disabled: String,
}

/// `POST /admin/accounts/{id}/role`.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    PagePath(id): PagePath<UserId>,
    SignedForm { user, form }: SignedForm<RoleForm>,
) -> Response {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => return failure(ApiError::invalid("role", e)),
    };
    let changes = AccountChangesRequest {
        role: Some(role),
        disabled: None,
    };
    change(&state, &user, id, changes, "role").await
}

/// `POST /admin/accounts/{id}/access`: disables or enables an account.
pub(crate) async fn set_access(
    State(state): State<AppState>,
    PagePath(id): PagePath<UserId>,
    SignedForm { user, form }: SignedForm<AccessForm>,
) -> Response {
    let disabled = match form.disabled.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return failure(ApiError::invalid(
                "disabled",
                format!("give `true` or `false`, not `{other}`"),
            ));
        }
    };
    let changes = AccountChangesRequest {
        role: None,
        disabled: Some(disabled),
    };
    let done = if disabled { "disabled" } else { "enabled" };
    change(&state, &user, id, changes, done).await
}

async fn change(
    state: &AppState,
    user: &WebUser,
    id: UserId,
    changes: AccountChangesRequest,
    done: &str,
) -> Response {
    let by = match admin(&user.current) {
        Ok(by) => by,
        Err(err) => return failure(err),
    };
    match change_account(state, by, id, changes).await {
        // Demoting oneself ends one's admin page: the dashboard then.
        Ok(account) if account.user.id == by && account.user.role != Role::Admin => {
            see_other("/dashboard")
        }
        Ok(_) => see_other(&format!("/admin?done=account-{done}#accounts")),
        Err(err) => failure(err),
    }
}

/// `POST /admin/accounts/{id}/password-reset`: makes a reset link and shows it, this once (a
/// page, not a redirect).
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    PagePath(id): PagePath<UserId>,
    headers: HeaderMap,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    let by = match admin(&user.current) {
        Ok(by) => by,
        Err(err) => return failure(err),
    };
    let account = match state.store.get_user(id).await {
        Ok(account) => account,
        Err(err) => return failure(err.into()),
    };
    match make_link(&state, by, id).await {
        Ok(link) => {
            let shown = Shown {
                reset: Some((
                    account.email.to_string(),
                    format!("{}{}", origin(&state, &headers), link.path),
                    link.expires_at,
                )),
                ..Shown::default()
            };
            render(&state, &user, shown, StatusCode::CREATED).await
        }
        Err(err) => failure(err),
    }
}

/// `POST /admin/accounts/{id}/delete`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    PagePath(id): PagePath<UserId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    let by = match admin(&user.current) {
        Ok(by) => by,
        Err(err) => return failure(err),
    };
    match remove_account(&state, by, id).await {
        Ok(()) => see_other("/admin?done=account-deleted#accounts"),
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn an_invite_form_needs_a_whole_number_of_days() {
        let form = InviteForm {
            note: "Asha".into(),
            expires_in_days: "a week".into(),
        };
        let errors = request_of(&form).unwrap_err();
        assert!(errors.get("expires_in_days").is_some(), "{errors:?}");
        let form = InviteForm {
            note: "Asha".into(),
            expires_in_days: " 14 ".into(),
        };
        let request = request_of(&form).unwrap();
        assert_eq!(request.expires_in_days, Some(14));
        assert_eq!(request.note.as_deref(), Some("Asha"));
    }
}
