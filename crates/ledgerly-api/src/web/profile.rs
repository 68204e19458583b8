//! The profile: name, currency, time zone and monthly budget; email and password changes (each
//! with the current password); the categories and their budgets; the tags; the exchange rates;
//! personal API tokens; the backup; logging out.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::TryFutureExt as _;
use ledgerly_core::{Budget, CategoryId, Money, Month, PersonName, TagId, UserTimeZone};
use maud::html;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::ClientIp;
use crate::routes::me::{ProfileRequest, change_email_of, change_password_of, change_profile};
use crate::routes::rates::rates_view;
use crate::routes::tokens::{CreatedTokenView, list as tokens_list};
use crate::state::AppState;
use crate::views::AmountInput;

use super::layout::{self, Input, Section, csrf_field, field, notice};
use super::{
    Errors, SignedForm, WebUser, categories, failure, param, rates, see_other, tags, tokens,
};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct ProfileForm {
    name: String,
    currency: String,
    timezone: String,
    budget: String,
    theme: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct EmailForm {
    email: String,
    password: SecretString,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    current_password: SecretString,
    new_password: SecretString,
    confirm_password: SecretString,
}

/// Which form failed, with what it sent and what was wrong.
pub(super) enum Failed {
    Profile(ProfileForm, Errors),
    /// A category form: the new one (`None`) or a rename or delete of one, with the name sent
    /// (a delete sends none: its row shows the category's own).
    Category(Option<CategoryId>, Option<String>, Errors),
    /// A category's budget form, with the amount sent.
    Budget(CategoryId, String, Errors),
    /// A tag's rename (with the name sent), merge or delete form.
    Tag(TagId, Option<String>, Errors),
    /// The new exchange rate's form.
    Rate(rates::RateForm, Errors),
    /// The new API token's form.
    Token(tokens::TokenForm, Errors),
    Email(EmailForm, Errors),
    Password(Errors),
}

/// `GET /profile`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    render(&state, &user, None, param(&pairs, "done"), StatusCode::OK).await
}

/// What the page shows once, beside what it always does.
pub(super) enum Shown {
    Nothing,
    /// A token just made, with its secret.
    Token(CreatedTokenView),
}

pub(super) async fn render(
    state: &AppState,
    user: &WebUser,
    failed: Option<Failed>,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    render_with(state, user, failed, done, status, Shown::Nothing).await
}

pub(super) async fn render_with(
    state: &AppState,
    user: &WebUser,
    failed: Option<Failed>,
    done: Option<&str>,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let u = user.user();
    let month = Month::of(u.time_zone.today());
    let store = &state.store;
    let (budget, categories, category_budgets, tag_uses, rate_view, token_views) = match tokio::try_join!(
        store.budget_for(u.id, month).map_err(ApiError::from),
        store.list_categories(u.id).map_err(ApiError::from),
        store
            .category_budgets(u.id, month, u.currency)
            .map_err(ApiError::from),
        store.list_tags(u.id).map_err(ApiError::from),
        rates_view(state, u),
        tokens_list(state, &user.current),
    ) {
        Ok(read) => read,
        Err(err) => return failure(err),
    };
    let none = Errors::none();
    let (profile, profile_errors) = match &failed {
        Some(Failed::Profile(form, errors)) => (form.clone(), errors),
        _ => (
            ProfileForm {
                name: u.name.as_str().to_owned(),
                currency: u.currency.code().to_owned(),
                timezone: u.time_zone.name().to_owned(),
                budget: budget
                    .map(|b| b.amount.to_decimal_string())
                    .unwrap_or_default(),
                theme: u.theme.as_str().to_owned(),
            },
            &none,
        ),
    };
    let (email, email_errors) = match &failed {
        Some(Failed::Email(form, errors)) => (form.email.clone(), errors),
        _ => (u.email.to_string(), &none),
    };
    let password_errors = match &failed {
        Some(Failed::Password(errors)) => errors,
        _ => &none,
    };
    let body = html! {
        (notice(done))
        div.page-head { h1 { "Profile" } }
        div.profile {
            form.card method="post" action="/profile" novalidate aria-labelledby="profile-title" {
                h2 #profile-title { "You and your money" }
                (csrf_field(&user.csrf))
                (layout::form_error(profile_errors))
                (field("profile", "name", "Name", &profile.name, Input::of("text").required().autocomplete("name"), profile_errors))
                div.row #budget {
                    (field("profile", "budget", "Monthly budget", &profile.budget,
                        Input::of("text").inputmode("decimal").hint("From this month on; earlier months keep theirs."), profile_errors))
                    (field("profile", "currency", "Currency", &profile.currency,
                        Input::of("text").list("currencies").required(), profile_errors))
                }
                (field("profile", "timezone", "Time zone", &profile.timezone,
                    Input::of("text").list("timezones").required(), profile_errors))
                (layout::currency_list("currencies"))
                (layout::time_zone_list("timezones"))
                (layout::select("profile", "theme", "Theme", &profile.theme, &[
                    ("system".to_owned(), "As the device is set (light or dark)".to_owned()),
                    ("light".to_owned(), "Light".to_owned()),
                    ("dark".to_owned(), "Dark".to_owned()),
                ], profile_errors))
                div.form-actions { button.primary type="submit" { "Save profile" } }
            }
            form.card method="post" action="/profile/email" novalidate aria-labelledby="email-title" {
                h2 #email-title { "Email" }
                (csrf_field(&user.csrf))
                (layout::form_error(email_errors))
                (field("email", "email", "Email", &email, Input::of("email").required().autocomplete("email"), email_errors))
                (field("email", "password", "Current password", "", Input::of("password").required().autocomplete("current-password"), email_errors))
                div.form-actions { button.primary type="submit" { "Change email" } }
            }
            form.card method="post" action="/profile/password" novalidate aria-labelledby="password-title" {
                h2 #password-title { "Password" }
                (csrf_field(&user.csrf))
                (layout::form_error(password_errors))
                (field("password", "current_password", "Current password", "", Input::of("password").required().autocomplete("current-password"), password_errors))
                (field("password", "new_password", "New password", "", Input::of("password").required().autocomplete("new-password").hint("At least 8 characters."), password_errors))
                (field("password", "confirm_password", "New password again", "", Input::of("password").required().autocomplete("new-password"), password_errors))
                div.form-actions { button.primary type="submit" { "Change password" } }
            }
            (categories::card(&categories, &category_budgets, &user.csrf, failed.as_ref()))
            (tags::card(&tag_uses, &user.csrf, failed.as_ref()))
            (rates::card(&rate_view, u.time_zone.today(), &user.csrf, failed.as_ref()))
            (tokens::card(&token_views, &user.csrf, failed.as_ref(), match &shown {
                Shown::Token(made) => Some(made),
                Shown::Nothing => None,
            }))
            section.card #backup aria-labelledby="backup-title" {
                h2 #backup-title { "Backup" }
                p {
                    "Everything of this account in one zip file: expenses, categories, tags, "
                    "budgets, recurring expenses, exchange rates, and every receipt with its "
                    "image. "
                    a href="/import" { "Import" }
                    " takes it back, into this account or another: what is there already is "
                    "skipped."
                }
                a.button #download-backup href="/api/v1/export.zip" download { "Download a backup" }
            }
            section.card aria-labelledby="session-title" {
                h2 #session-title { "Session" }
                p.muted { "Signed in as " (u.email.to_string()) "." }
                form method="post" action="/logout" {
                    (csrf_field(&user.csrf))
                    button type="submit" { "Log out" }
                }
            }
        }
    };
    let page = layout::page("Profile", Some((u, &user.csrf)), Section::Profile, body);
    (status, page).into_response()
}

/// A form's failure as its errors and status; faults stay errors, for an error page.
pub(super) fn errors_of(
    err: ApiError,
    field: &'static str,
) -> Result<(StatusCode, Errors), ApiError> {
    let status = err.status_and_code().0;
    Errors::from_api(err, field).map(|errors| (status, errors))
}

/// `POST /profile`: name, currency, time zone and, when given, the budget from this month on.
pub(crate) async fn update(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<ProfileForm>,
) -> Response {
    let refused = match check_profile(&form) {
        Ok(budget) => match save_profile(&state, &user, &form, budget).await {
            Ok(()) => return see_other("/profile?done=profile"),
            Err(err) => errors_of(err, "form"),
        },
        Err(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors)),
    };
    match refused {
        Ok((status, errors)) => {
            let failed = Failed::Profile(form, errors);
            render(&state, &user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

/// Every field's problem at once; when all pass, the budget to set (none when left empty).
fn check_profile(form: &ProfileForm) -> Result<Option<Money>, Errors> {
    let mut errors = Errors::none();
    errors.check(if form.name.trim().is_empty() {
        Err(ApiError::invalid("name", "enter your name"))
    } else {
        PersonName::parse(&form.name)
            .map(drop)
            .map_err(|e| ApiError::invalid("name", e))
    });
    let currency = errors.check(crate::views::currency("currency", &form.currency));
    errors.check(
        UserTimeZone::parse(form.timezone.trim())
            .map(drop)
            .map_err(|e| ApiError::invalid("timezone", e)),
    );
    if !form.theme.trim().is_empty() {
        errors.check(
            form.theme
                .parse::<ledgerly_core::Theme>()
                .map(drop)
                .map_err(|e| ApiError::invalid("theme", e)),
        );
    }
    // The budget is in the new currency.
    let budget = match (currency, form.budget.trim()) {
        (Some(currency), text) if !text.is_empty() => errors.check(
            AmountInput::Text(text.to_owned())
                .to_money("budget", currency)
                .and_then(|amount| {
                    Budget::new(amount, Month::of(UserTimeZone::UTC.today()))
                        .map(|_| amount)
                        .map_err(|e| ApiError::invalid("budget", e))
                }),
        ),
        _ => None,
    };
    if errors.is_empty() {
        Ok(budget)
    } else {
        Err(errors)
    }
}

/// Saves a checked profile form, and the budget from this month on when it changed.
async fn save_profile(
    state: &AppState,
    user: &WebUser,
    form: &ProfileForm,
    budget: Option<Money>,
) -> ApiResult<()> {
    let request = ProfileRequest {
        name: Some(form.name.clone()),
        currency: Some(form.currency.clone()),
        timezone: Some(form.timezone.clone()),
        theme: (!form.theme.trim().is_empty()).then(|| form.theme.clone()),
    };
    let updated = change_profile(state, &user.current, request).await?;
    if let Some(amount) = budget {
        let month = Month::of(updated.time_zone.today());
        let current = state.store.budget_for(updated.id, month).await?;
        if current.map(|b| b.amount) != Some(amount) {
            let budget = Budget::new(amount, month).map_err(|e| ApiError::invalid("budget", e))?;
            state.store.set_budget(updated.id, budget).await?;
        }
    }
    Ok(())
}

/// `POST /profile/email`.
pub(crate) async fn email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedForm { user, form }: SignedForm<EmailForm>,
) -> Response {
    let result = if form.password.expose_secret().is_empty() {
        Err(ApiError::invalid("password", "enter your current password"))
    } else {
        change_email_of(
            &state,
            &user.current,
            ip,
            &form.email,
            form.password.clone(),
        )
        .await
    };
    match result {
        Ok(_) => see_other("/profile?done=email"),
        Err(err) => {
            let err = match err {
                ApiError::WrongPassword => ApiError::invalid("password", "the password is wrong"),
                ApiError::Conflict { message, .. } => ApiError::invalid("email", message),
                other => other,
            };
            match errors_of(err, "form") {
                Ok((status, errors)) => {
                    render(
                        &state,
                        &user,
                        Some(Failed::Email(form, errors)),
                        None,
                        status,
                    )
                    .await
                }
                Err(err) => failure(err),
            }
        }
    }
}

/// `POST /profile/password`: the current password, and the new one twice.
pub(crate) async fn password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedForm { user, form }: SignedForm<PasswordForm>,
) -> Response {
    let result = if form.current_password.expose_secret().is_empty() {
        Err(ApiError::invalid(
            "current_password",
            "enter your current password",
        ))
    } else if form.new_password.expose_secret() != form.confirm_password.expose_secret() {
        Err(ApiError::invalid(
            "confirm_password",
            "the two new passwords differ",
        ))
    } else {
        change_password_of(
            &state,
            &user.current,
            ip,
            form.current_password.clone(),
            form.new_password.clone(),
        )
        .await
    };
    match result {
        Ok(()) => see_other("/profile?done=password"),
        Err(err) => {
            let err = match err {
                ApiError::WrongPassword => {
                    ApiError::invalid("current_password", "the password is wrong")
                }
                other => other,
            };
            match errors_of(err, "form") {
                Ok((status, errors)) => {
                    render(&state, &user, Some(Failed::Password(errors)), None, status).await
                }
                Err(err) => failure(err),
            }
        }
    }
}

/// The topbar's theme button's form.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct ThemeForm {
    theme: String,
}

/// `POST /theme`: remembers the account's theme and goes back to the page the button was on
/// (its `Referer`'s path; the dashboard without one).
pub(crate) async fn set_theme(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    SignedForm { user, form }: SignedForm<ThemeForm>,
) -> Response {
    let request = ProfileRequest {
        name: None,
        currency: None,
        timezone: None,
        theme: Some(form.theme),
    };
    match change_profile(&state, &user.current, request).await {
        Ok(_) => {
            let referer = headers
                .get(axum::http::header::REFERER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // Its path and query: never another site's address.
            let path = referer
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
                .unwrap_or_default();
            see_other(&super::back_to(path, "/dashboard"))
        }
        Err(err) => failure(err),
    }
}
