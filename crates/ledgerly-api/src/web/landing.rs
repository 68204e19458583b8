//! The landing page: what Ledgerly is, and the log-in and sign-up forms.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::{csrf, password, token};
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::routes::auth::{RegisterRequest, authenticate, new_session, register_user};
use crate::state::AppState;
use crate::views::{AmountInput, currency};
use ledgerly_core::{Budget, Currency, Email, Month, PersonName, UserTimeZone};
use secrecy::{ExposeSecret as _, SecretString};

use super::layout::{self, Input, Section, csrf_field, field};
use super::{AnonymousForm, Errors, SignedForm, WebUser, failure, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LoginForm {
    email: String,
    password: SecretString,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SignupForm {
    name: String,
    email: String,
    password: SecretString,
    budget: String,
    currency: String,
    timezone: String,
}

/// What the forms show: the values sent back (never a password) and their errors.
#[derive(Debug, Default)]
struct Forms {
    login_email: String,
    login: Errors,
    signup: SignupForm,
    signup_errors: Errors,
}

/// `GET /`: the landing page; signed-in browsers are offered their dashboard.
pub(crate) async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match WebUser::from_headers(&state, &headers).await {
        Ok(Some(user)) => signed_in(&user).into_response(),
        Ok(None) => {
            let forms = Forms {
                signup: SignupForm {
                    currency: "INR".into(),
                    ..SignupForm::default()
                },
                ..Forms::default()
            };
            anonymous(&state, &headers, StatusCode::OK, &forms)
        }
        Err(err) => failure(err),
    }
}

/// The page for a browser that is not signed in, with its anonymous CSRF secret (set now if it
/// has none).
fn anonymous(state: &AppState, headers: &HeaderMap, status: StatusCode, forms: &Forms) -> Response {
    let (secret, set) = match csrf::anonymous_secret(headers, state.settings.auth.cookie_secure) {
        Some(secret) => (secret, None),
        None => {
            let secret = token::generate();
            let cookie = csrf::anonymous_cookie(&secret, state.settings.auth.cookie_secure);
            (secret, Some(cookie))
        }
    };
    let body = layout::page(
        "Track every expense",
        None,
        Section::Home,
        landing(&csrf::token_for(&secret), forms),
    );
    let response = (status, body).into_response();
    match set {
        Some(cookie) => with_cookie(response, cookie),
        None => response,
    }
}

fn hero() -> Markup {
    html! {
        section.hero {
            h1 { "Know where your money goes." }
            p.lead {
                "Snap a receipt and Ledgerly reads it. Track every expense against a monthly budget, "
                "in your currency and your time zone — on a server you own."
            }
        }
    }
}

fn signed_in(user: &WebUser) -> Markup {
    layout::page(
        "Welcome back",
        Some((user.user(), &user.csrf)),
        Section::Home,
        html! {
            (hero())
            p.center { a.button.primary href="/dashboard" { "Open your dashboard" } }
        },
    )
}

/// A feature's icon: a few strokes of SVG in the text colour.
fn icon(paths: &[&str]) -> Markup {
    html! {
        svg.feature-icon viewBox="0 0 24 24" width="28" height="28" fill="none" stroke="currentColor"
            stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" {
            @for d in paths { path d=(d) {} }
        }
    }
}

const FEATURES: [(&[&str], &str, &str); 4] = [
    (
        &[
            "M6 3h12v18l-3-2-3 2-3-2-3 2z",
            "M9 8h6",
            "M9 12h6",
            "M9 16h3",
        ],
        "Receipts read for you",
        "Drop in a photo or a PDF: the vendor, the date and the total are read and waiting for your review.",
    ),
    (
        &["M12 3a9 9 0 1 0 9 9h-9z", "M15 3.5A9 9 0 0 1 20.5 9H15z"],
        "A budget that keeps up",
        "Your monthly budget, what you have spent, what you have saved and how this month compares with the last.",
    ),
    (
        &["M4 20h16", "M6 16v-5", "M10 16V8", "M14 16v-7", "M18 16V5"],
        "Charts, not spreadsheets",
        "Each month by category for the whole year, and where this month's money went — with the numbers behind them.",
    ),
    (
        &["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
        "Yours to keep",
        "Self-hosted, one command to run, and every expense exportable to CSV whenever you like.",
    ),
];

fn landing(csrf_token: &str, forms: &Forms) -> Markup {
    html! {
        (hero())
        p.center.hero-actions {
            a.button.primary href="#signup-title" { "Create an account" }
            a.button href="#login-title" { "Log in" }
        }
        section.features aria-label="Features" {
            @for (paths, title, text) in FEATURES {
                article.feature {
                    (icon(paths))
                    h2 { (title) }
                    p { (text) }
                }
            }
        }
        section.auth #start {
            form.card method="post" action="/login" novalidate aria-labelledby="login-title" {
                h2 #login-title { "Log in" }
                (csrf_field(csrf_token))
                (layout::form_error(&forms.login))
                (field("login", "email", "Email", &forms.login_email,
                    Input::of("email").required().autocomplete("username"), &forms.login))
                (field("login", "password", "Password", "",
                    Input::of("password").required().autocomplete("current-password"), &forms.login))
                button.primary type="submit" { "Log in" }
            }
            form.card method="post" action="/signup" novalidate aria-labelledby="signup-title" {
                h2 #signup-title { "Create an account" }
                (csrf_field(csrf_token))
                (layout::form_error(&forms.signup_errors))
                @let errors = &forms.signup_errors;
                @let values = &forms.signup;
                (field("signup", "name", "Your name", &values.name,
                    Input::of("text").required().autocomplete("name"), errors))
                (field("signup", "email", "Email", &values.email,
                    Input::of("email").required().autocomplete("email"), errors))
                (field("signup", "password", "Password", "",
                    Input::of("password").required().autocomplete("new-password").hint("At least 8 characters."), errors))
                div.row {
                    (field("signup", "budget", "Monthly budget", &values.budget,
                        Input::of("text").inputmode("decimal").hint("Optional; you can set it later."), errors))
                    (field("signup", "currency", "Currency", &values.currency,
                        Input::of("text").list("currencies").hint("ISO code, e.g. INR, USD, EUR."), errors))
                }
                (field("signup", "timezone", "Time zone", &values.timezone,
                    Input::of("text").list("timezones").hint("Your months and “today” follow it. Empty means UTC."), errors))
                (layout::currency_list("currencies"))
                (layout::time_zone_list("timezones"))
                button.primary type="submit" { "Create account" }
            }
        }
    }
}

/// Signs the browser in: the session cookie, then the dashboard.
async fn start(state: &AppState, user: &ledgerly_core::User) -> Response {
    match new_session(state, user).await {
        Ok((_, _, cookie)) => with_cookie(see_other("/dashboard"), cookie),
        Err(err) => failure(err),
    }
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// `POST /login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm<LoginForm>,
) -> Response {
    let mut errors = Errors::none();
    if form.email.trim().is_empty() {
        errors.add("email", "Enter your email");
    }
    if form.password.expose_secret().is_empty() {
        errors.add("password", "Enter your password");
    }
    let refused = if errors.is_empty() {
        match authenticate(&state, ip, &form.email, form.password).await {
            Ok(user) => return start(&state, &user).await,
            Err(err) => {
                let status = err.status_and_code().0;
                match Errors::from_api(err, "form") {
                    Ok(found) => {
                        errors = found;
                        status
                    }
                    Err(err) => return failure(err),
                }
            }
        }
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let forms = Forms {
        login_email: form.email,
        login: errors,
        signup: SignupForm {
            currency: "INR".into(),
            ..SignupForm::default()
        },
        ..Forms::default()
    };
    anonymous(&state, &headers, refused, &forms)
}

/// `POST /signup`.
pub(crate) async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm<SignupForm>,
) -> Response {
    let blank = |text: &str| text.trim().is_empty();
    // The page again with the sign-up form as sent (never its password) and its errors.
    let sent_back = |form: SignupForm, errors: Errors, status: StatusCode| {
        let forms = Forms {
            signup: SignupForm {
                password: SecretString::default(),
                ..form
            },
            signup_errors: errors,
            ..Forms::default()
        };
        anonymous(&state, &headers, status, &forms)
    };
    let errors = check_signup(&form);
    if !errors.is_empty() {
        return sent_back(form, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let request = RegisterRequest {
        email: form.email.clone(),
        password: form.password.clone(),
        name: form.name.clone(),
        budget: (!blank(&form.budget)).then(|| AmountInput::Text(form.budget.trim().to_owned())),
        currency: (!blank(&form.currency)).then(|| form.currency.trim().to_owned()),
        timezone: (!blank(&form.timezone)).then(|| form.timezone.trim().to_owned()),
    };
    let err = match register_user(&state, ip, request).await {
        Ok(user) => return start(&state, &user).await,
        Err(err) => err,
    };
    let status = err.status_and_code().0;
    let errors = match err {
        ApiError::Conflict { message, .. } => {
            let mut errors = Errors::none();
            errors.add("email", format!("{message}; log in instead"));
            errors
        }
        other => match Errors::from_api(other, "form") {
            Ok(errors) => errors,
            Err(err) => return failure(err),
        },
    };
    sent_back(form, errors, status)
}

/// Every field's problem at once; registration checks them again, with the rest.
fn check_signup(form: &SignupForm) -> Errors {
    let mut errors = Errors::none();
    let blank = |text: &str| text.trim().is_empty();
    errors.check(if blank(&form.name) {
        Err(ApiError::invalid("name", "enter your name"))
    } else {
        PersonName::parse(&form.name)
            .map(drop)
            .map_err(|e| ApiError::invalid("name", e))
    });
    errors.check(if blank(&form.email) {
        Err(ApiError::invalid("email", "enter your email"))
    } else {
        Email::parse(&form.email)
            .map(drop)
            .map_err(|e| ApiError::invalid("email", e))
    });
    errors.check(password::check_new("password", &form.password));
    let currency = if blank(&form.currency) {
        Some(Currency::INR)
    } else {
        errors.check(currency("currency", &form.currency))
    };
    if !blank(&form.timezone) {
        errors.check(
            UserTimeZone::parse(form.timezone.trim())
                .map(drop)
                .map_err(|e| ApiError::invalid("timezone", e)),
        );
    }
    if !blank(&form.budget) {
        errors.check(
            AmountInput::Text(form.budget.trim().to_owned())
                .to_money("budget", currency.unwrap_or(Currency::INR))
                .and_then(|amount| {
                    Budget::new(amount, Month::of(UserTimeZone::UTC.today()))
                        .map(drop)
                        .map_err(|e| ApiError::invalid("budget", e))
                }),
        );
    }
    errors
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Nothing {}

/// `POST /logout`: ends the session at once, then the landing page.
pub(crate) async fn logout(
    State(state): State<AppState>,
    SignedForm { user, .. }: SignedForm<Nothing>,
) -> Response {
    if let Err(err) = state
        .store
        .revoke_session(&token::hash(user.session_token()))
        .await
    {
        return failure(err.into());
    }
    tracing::info!(user = %user.user().id, "logged out");
    with_cookie(
        see_other("/"),
        token::clear_cookie(state.settings.auth.cookie_secure),
    )
}
