//! The landing page: what Ledgerly is, and the log-in and sign-up forms.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::{csrf, password, token};
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::routes::auth::{RegisterRequest, authenticate, new_session, register_user};
use crate::settings::Registration;
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
    /// The invite's secret, from the link the page was opened with.
    invite: String,
}

/// What the sign-up card offers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Signup {
    /// The form (with an invite, when the link had one).
    #[default]
    Open,
    /// Registration is by invitation and the page was opened without one.
    ByInvitation,
    /// The link's invite is unknown, used or expired.
    InviteSpent,
    /// Registration is closed.
    Closed,
}

impl Signup {
    /// What the settings offer a page opened without an invite.
    fn of(registration: Registration) -> Self {
        match registration {
            Registration::Open => Signup::Open,
            Registration::Invite => Signup::ByInvitation,
            Registration::Closed => Signup::Closed,
        }
    }
}

/// What the forms show: the values sent back (never a password) and their errors.
#[derive(Debug, Default)]
struct Forms {
    login_email: String,
    login: Errors,
    signup: SignupForm,
    signup_errors: Errors,
    offer: Signup,
    /// The notice of a form that worked (`?done=`).
    done: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct LandingQuery {
    invite: String,
    done: String,
}

/// `GET /`: the landing page; signed-in browsers are offered their dashboard. `?invite=` opens
/// the sign-up form with an invite (said to be spent when it is).
pub(crate) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LandingQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A query that cannot be read is a page without an invite.
    let query = query.map(|Query(query)| query).unwrap_or_default();
    match WebUser::from_headers(&state, &headers).await {
        Ok(Some(user)) => signed_in(&user).into_response(),
        Ok(None) => {
            let registration = state.settings.auth.registration;
            let invite = query.invite.trim().to_owned();
            let offer = if invite.is_empty() || registration == Registration::Closed {
                Signup::of(registration)
            } else {
                let hash = token::hash(&SecretString::from(invite.clone()));
                match state.store.invite_by_hash(&hash).await {
                    Ok(Some(found)) if found.is_open(chrono::Utc::now()) => Signup::Open,
                    Ok(_) => Signup::InviteSpent,
                    Err(err) => return failure(err.into()),
                }
            };
            let forms = Forms {
                signup: SignupForm {
                    currency: "INR".into(),
                    invite: if offer == Signup::Open {
                        invite
                    } else {
                        String::new()
                    },
                    ..SignupForm::default()
                },
                offer,
                done: query.done,
                ..Forms::default()
            };
            anonymous(&state, &headers, StatusCode::OK, &forms)
        }
        Err(err) => failure(err),
    }
}

/// The landing page for a browser that is not signed in.
fn anonymous(state: &AppState, headers: &HeaderMap, status: StatusCode, forms: &Forms) -> Response {
    anonymous_page(state, headers, status, "Track every expense", |csrf| {
        landing(csrf, forms)
    })
}

/// A page for a browser that is not signed in, whose forms carry its anonymous CSRF token (its
/// secret set now as a cookie if it has none).
pub(crate) fn anonymous_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    title: &str,
    body: impl FnOnce(&str) -> Markup,
) -> Response {
    let (secret, set) = match csrf::anonymous_secret(headers, state.settings.auth.cookie_secure) {
        Some(secret) => (secret, None),
        None => {
            let secret = token::generate();
            let cookie = csrf::anonymous_cookie(&secret, state.settings.auth.cookie_secure);
            (secret, Some(cookie))
        }
    };
    let body = layout::page(title, None, Section::Home, body(&csrf::token_for(&secret)));
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
        (layout::notice(Some(forms.done.as_str())))
        (hero())
        p.center.hero-actions {
            @if forms.offer == Signup::Open {
                a.button.primary href="#signup-title" { "Create an account" }
            }
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
                p.hint { a href="/password-reset" { "Forgot your password?" } }
            }
            @match forms.offer {
                Signup::Open => (signup_form(csrf_token, forms)),
                Signup::ByInvitation => section.card aria-labelledby="signup-title" {
                    h2 #signup-title { "Create an account" }
                    p { "This server makes accounts by invitation. Ask its administrator for an invite link, then open it here." }
                },
                Signup::InviteSpent => section.card aria-labelledby="signup-title" {
                    h2 #signup-title { "Create an account" }
                    p.notice.error role="alert" { "This invite has been used, has expired or was withdrawn." }
                    p { "Ask the server's administrator for a new invite link." }
                },
                Signup::Closed => section.card aria-labelledby="signup-title" {
                    h2 #signup-title { "Create an account" }
                    p { "This server is not taking new accounts." }
                },
            }
        }
    }
}

fn signup_form(csrf_token: &str, forms: &Forms) -> Markup {
    html! {
            form.card method="post" action="/signup" novalidate aria-labelledby="signup-title" {
                h2 #signup-title { "Create an account" }
                (csrf_field(csrf_token))
                @if !forms.signup.invite.is_empty() {
                    input type="hidden" name="invite" value=(forms.signup.invite);
                    p.muted { "You were invited: this link makes one account." }
                }
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
        offer: Signup::of(state.settings.auth.registration),
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
        // The form again, unless what refused it was registration itself.
        let offer = match state.settings.auth.registration {
            Registration::Closed => Signup::Closed,
            Registration::Invite if form.invite.trim().is_empty() => Signup::ByInvitation,
            _ => Signup::Open,
        };
        let forms = Forms {
            signup: SignupForm {
                password: SecretString::default(),
                ..form
            },
            signup_errors: errors,
            offer,
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
        invite: (!blank(&form.invite)).then(|| SecretString::from(form.invite.trim().to_owned())),
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
