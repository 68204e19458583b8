//! The profile: name, currency, time zone and monthly budget; email and password changes (each
//! with the current password); logging out.

use axum::extract::Path;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledgerly_core::{Budget, CategoryId, CategoryName, Month, PersonName, UserTimeZone};
use ledgerly_store::StoreError;
use maud::html;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::routes::me::{ProfileRequest, change_email_of, change_password_of, change_profile};
use crate::state::AppState;
use crate::views::AmountInput;

use super::dashboard::notice;
use super::layout::{self, Input, Section, csrf_field, field};
use super::{Errors, SignedForm, WebUser, failure, see_other};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct ProfileForm {
    name: String,
    currency: String,
    timezone: String,
    budget: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct EmailForm {
    email: String,
    password: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ProfileQuery {
    done: Option<String>,
}

/// Which form failed, with what it sent and what was wrong.
enum Failed {
    Profile(ProfileForm, Errors),
    /// A category form: the new one (`None`) or a rename or delete of one, with what was sent.
    Category(Option<CategoryId>, String, Errors),
    Email(EmailForm, Errors),
    Password(Errors),
}

/// `GET /profile`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ProfileQuery>,
) -> Response {
    render(&state, &user, None, query.done.as_deref(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    user: &WebUser,
    failed: Option<Failed>,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let u = user.user();
    let budget = match state
        .store
        .budget_for(u.id, Month::of(u.time_zone.today()))
        .await
    {
        Ok(budget) => budget,
        Err(err) => return failure(err.into()),
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
    let categories = match state.store.list_categories(u.id).await {
        Ok(categories) => categories,
        Err(err) => return failure(err.into()),
    };
    // The errors and the value sent for one category form, if it is the one that failed.
    let category_form = |id: Option<CategoryId>, value: &str| -> (String, &Errors) {
        match &failed {
            Some(Failed::Category(failed_id, sent, errors)) if *failed_id == id => {
                (sent.clone(), errors)
            }
            _ => (value.to_owned(), &none),
        }
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
            section.card.categories aria-labelledby="categories-title" #categories {
                h2 #categories-title { "Categories" }
                ul.category-list {
                    @for category in &categories {
                        @let (name, errors) = category_form(Some(category.id), category.name.as_str());
                        @let prefix = format!("category-{}", category.id);
                        li {
                            form.category-row method="post" action={"/profile/categories/" (category.id)} novalidate {
                                (csrf_field(&user.csrf))
                                (field(&prefix, "name", &format!("Name of {}", category.name.as_str()), &name, Input::of("text").required(), errors))
                                button type="submit" { "Rename" }
                            }
                            form.category-row method="post" action={"/profile/categories/" (category.id) "/delete"} {
                                (csrf_field(&user.csrf))
                                div.field.invalid[errors.get("move_to").is_some()] {
                                    label for={(prefix) "-move_to"} { "Where the expenses of " (category.name.as_str()) " go when it is deleted" }
                                    select #{(prefix) "-move_to"} name="move_to"
                                        aria-describedby=[errors.get("move_to").map(|_| format!("{prefix}-move_to-error"))] {
                                        option value="" { "Its expenses move to…" }
                                        @for other in categories.iter().filter(|c| c.id != category.id) {
                                            option value=(other.id) { (other.name.as_str()) }
                                        }
                                    }
                                    @if let Some(message) = errors.get("move_to") {
                                        p.error #{(prefix) "-move_to-error"} { (message) }
                                    }
                                }
                                button.danger type="submit" aria-label={"Delete " (category.name.as_str())} { "Delete" }
                            }
                        }
                    }
                }
                @let (name, errors) = category_form(None, "");
                form.category-row method="post" action="/profile/categories" novalidate {
                    (csrf_field(&user.csrf))
                    (field("category-new", "name", "New category", &name, Input::of("text").required(), errors))
                    button.primary type="submit" { "Add" }
                }
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
fn errors_of(err: ApiError, field: &'static str) -> Result<(StatusCode, Errors), ApiError> {
    let status = err.status_and_code().0;
    Errors::from_api(err, field).map(|errors| (status, errors))
}

/// `POST /profile`: name, currency, time zone and, when given, the budget from this month on.
pub(crate) async fn update(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<ProfileForm>,
) -> Response {
    let errors = check_profile(&form);
    if !errors.is_empty() {
        let failed = Failed::Profile(form, errors);
        return render(
            &state,
            &user,
            Some(failed),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match save_profile(&state, &user, &form).await {
        Ok(()) => see_other("/profile?done=profile"),
        Err(err) => match errors_of(err, "form") {
            Ok((status, errors)) => {
                render(
                    &state,
                    &user,
                    Some(Failed::Profile(form, errors)),
                    None,
                    status,
                )
                .await
            }
            Err(err) => failure(err),
        },
    }
}

/// Every field's problem at once.
fn check_profile(form: &ProfileForm) -> Errors {
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
    if let (Some(currency), false) = (currency, form.budget.trim().is_empty()) {
        errors.check(
            AmountInput::Text(form.budget.trim().to_owned())
                .to_money("budget", currency)
                .and_then(|amount| {
                    Budget::new(amount, Month::of(UserTimeZone::UTC.today()))
                        .map(drop)
                        .map_err(|e| ApiError::invalid("budget", e))
                }),
        );
    }
    errors
}

async fn save_profile(state: &AppState, user: &WebUser, form: &ProfileForm) -> ApiResult<()> {
    let request = ProfileRequest {
        name: Some(form.name.clone()),
        currency: Some(form.currency.clone()),
        timezone: Some(form.timezone.clone()),
    };
    // Check the budget against the new currency before changing anything.
    let currency = crate::views::currency("currency", &form.currency)?;
    let budget = match form.budget.trim() {
        "" => None,
        text => Some(AmountInput::Text(text.to_owned()).to_money("budget", currency)?),
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
    SignedForm { user, form }: SignedForm<EmailForm>,
) -> Response {
    let result = if form.password.is_empty() {
        Err(ApiError::invalid("password", "enter your current password"))
    } else {
        change_email_of(&state, &user.current, &form.email, form.password.clone()).await
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
    SignedForm { user, form }: SignedForm<PasswordForm>,
) -> Response {
    let result = if form.current_password.is_empty() {
        Err(ApiError::invalid(
            "current_password",
            "enter your current password",
        ))
    } else if form.new_password != form.confirm_password {
        Err(ApiError::invalid(
            "confirm_password",
            "the two new passwords differ",
        ))
    } else {
        change_password_of(
            &state,
            &user.current,
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

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct CategoryForm {
    name: String,
    move_to: String,
}

fn category_name(text: &str) -> ApiResult<CategoryName> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("name", "enter a name"));
    }
    CategoryName::parse(text).map_err(|e| ApiError::invalid("name", e))
}

/// A category form's failure, shown beside it; faults become an error page.
async fn category_failed(
    state: &AppState,
    user: &WebUser,
    id: Option<CategoryId>,
    sent: String,
    err: ApiError,
) -> Response {
    let err = match err {
        ApiError::Conflict { message, .. } => ApiError::invalid("name", message),
        other => other,
    };
    match errors_of(err, "name") {
        Ok((status, errors)) => {
            let failed = Failed::Category(id, sent, errors);
            render(state, user, Some(failed), None, status).await
        }
        Err(err) => failure(err),
    }
}

fn category_id(text: &str) -> ApiResult<CategoryId> {
    text.parse().map_err(|_| ApiError::NotFound("category"))
}

/// `POST /profile/categories`: adds one.
pub(crate) async fn add_category(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let result = match category_name(&form.name) {
        Ok(name) => state
            .store
            .create_category(user.user().id, &name)
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => see_other("/profile?done=category#categories"),
        Err(err) => category_failed(&state, &user, None, form.name, err).await,
    }
}

/// `POST /profile/categories/{id}`: renames one; its expenses follow.
pub(crate) async fn rename_category(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let id = match category_id(&id) {
        Ok(id) => id,
        Err(err) => return failure(err),
    };
    let result = match category_name(&form.name) {
        Ok(name) => state
            .store
            .rename_category(user.user().id, id, &name)
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => see_other("/profile?done=category#categories"),
        Err(err) => category_failed(&state, &user, Some(id), form.name, err).await,
    }
}

/// `POST /profile/categories/{id}/delete`: deletes one, moving its expenses where asked.
pub(crate) async fn delete_category(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<CategoryForm>,
) -> Response {
    let id = match category_id(&id) {
        Ok(id) => id,
        Err(err) => return failure(err),
    };
    let move_to = match form.move_to.trim() {
        "" => None,
        text => match category_id(text) {
            Ok(to) => Some(to),
            Err(err) => return failure(err),
        },
    };
    let name = match state.store.get_category(user.user().id, id).await {
        Ok(category) => category.name.as_str().to_owned(),
        Err(err) => return failure(err.into()),
    };
    match state
        .store
        .delete_category(user.user().id, id, move_to)
        .await
    {
        Ok(_) => see_other("/profile?done=category-deleted#categories"),
        Err(StoreError::CategoryInUse { count }) => {
            let err = ApiError::invalid(
                "move_to",
                format!("it still has {count} expense(s): choose a category to move them to"),
            );
            category_failed(&state, &user, Some(id), name, err).await
        }
        Err(err) => category_failed(&state, &user, Some(id), name, err.into()).await,
    }
}
