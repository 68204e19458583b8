//! Forgotten passwords: `/password-reset` asks for the email and sends the link (where the server
//! sends email; otherwise it says to ask the administrator), and the link's page
//! (`/password-reset?token=…`) takes the new password twice. Done, the account is signed out
//! everywhere and the landing page asks to log in with the new password.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::routes::password_reset::{CompleteReset, complete, request};
use crate::state::AppState;

use super::landing::anonymous_page;
use super::layout::{self, Input, csrf_field, field};
use super::profile::errors_of;
use super::{AnonymousForm, Errors, failure, param, see_other};

const TITLE: &str = "Reset your password";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AskForm {
    email: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewPasswordForm {
    token: String,
    password: SecretString,
    confirm: SecretString,
}

/// What the page shows.
enum Shown<'a> {
    /// The email form (or, without email, what to do instead).
    Ask { email: &'a str, errors: Errors },
    /// The email form was sent.
    Asked,
    /// The link's page: the new password, twice.
    Choose { token: &'a str, errors: Errors },
}

fn page(state: &AppState, headers: &HeaderMap, status: StatusCode, shown: &Shown<'_>) -> Response {
    let emails = state.mailer.is_some();
    anonymous_page(state, headers, status, TITLE, |csrf| {
        html! {
            section.auth {
                @match shown {
                    Shown::Ask { email, errors } => {
                        @if emails {
                            form.card method="post" action="/password-reset" novalidate aria-labelledby="reset-title" {
                                h1 #reset-title { (TITLE) }
                                p { "Give the email of your account: a link to choose a new password is sent to it, and works for an hour." }
                                (csrf_field(csrf))
                                (layout::form_error(errors))
                                (field("reset", "email", "Email", email,
                                    Input::of("email").required().autocomplete("username"), errors))
                                button.primary type="submit" { "Send the link" }
                                p.hint { a href="/#login-title" { "Back to log in" } }
                            }
                        } @else {
                            section.card aria-labelledby="reset-title" {
                                h1 #reset-title { (TITLE) }
                                (layout::form_error(errors))
                                p { "This server sends no email. Ask its administrator for a link to reset your password: they make one on the admin page." }
                                p.hint { a href="/#login-title" { "Back to log in" } }
                            }
                        }
                    },
                    Shown::Asked => section.card aria-labelledby="reset-title" {
                        h1 #reset-title { "Check your email" }
                        p role="status" { "If an account has this email, a link to choose a new password is on its way. It works once, for an hour." }
                        p.hint { a href="/#login-title" { "Back to log in" } }
                    },
                    Shown::Choose { token, errors } => {
                        form.card method="post" action="/password-reset/complete" novalidate aria-labelledby="reset-title" {
                            h1 #reset-title { "Choose a new password" }
                            p { "Every session of the account is signed out when it is set." }
                            (csrf_field(csrf))
                            input type="hidden" name="token" value=(token);
                            (layout::form_error(errors))
                            (field("reset", "password", "New password", "",
                                Input::of("password").required().autocomplete("new-password").hint("At least 8 characters."), errors))
                            (field("reset", "confirm", "The new password again", "",
                                Input::of("password").required().autocomplete("new-password"), errors))
                            button.primary type="submit" { "Set the password" }
                        }
                    },
                }
            }
        }
    })
}

/// `GET /password-reset`, with the link's `?token=` or without.
pub(crate) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let shown = match param(&pairs, "token") {
        Some(token) => Shown::Choose {
            token,
            errors: Errors::none(),
        },
        None => Shown::Ask {
            email: "",
            errors: Errors::none(),
        },
    };
    page(&state, &headers, StatusCode::OK, &shown)
}

/// `POST /password-reset`: sends the link (if the email has an account; the page says the same
/// either way).
pub(crate) async fn ask(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm<AskForm>,
) -> Response {
    let (status, errors) = if form.email.trim().is_empty() {
        let mut errors = Errors::none();
        errors.add("email", "Enter your email");
        (StatusCode::UNPROCESSABLE_ENTITY, errors)
    } else {
        match request(&state, ip, &form.email).await {
            Ok(()) => return page(&state, &headers, StatusCode::ACCEPTED, &Shown::Asked),
            Err(err) => match errors_of(err, "form") {
                Ok(refused) => refused,
                Err(err) => return failure(err),
            },
        }
    };
    let shown = Shown::Ask {
        email: &form.email,
        errors,
    };
    page(&state, &headers, status, &shown)
}

/// `POST /password-reset/complete`: sets the new password, then the landing page to log in.
pub(crate) async fn choose(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AnonymousForm(form): AnonymousForm<NewPasswordForm>,
) -> Response {
    let (status, errors) = if form.password.expose_secret() != form.confirm.expose_secret() {
        let mut errors = Errors::none();
        errors.add("confirm", "The two passwords differ");
        (StatusCode::UNPROCESSABLE_ENTITY, errors)
    } else {
        let request = CompleteReset {
            token: form.token.trim().to_owned().into(),
            password: form.password,
        };
        match complete(&state, ip, request).await {
            Ok(_) => return see_other("/?done=password-reset#login-title"),
            Err(err) => {
                let spent = matches!(err, ApiError::Forbidden { .. });
                match errors_of(err, "form") {
                    // The link is spent: ask for another.
                    Ok((status, errors)) if spent => {
                        let shown = Shown::Ask { email: "", errors };
                        return page(&state, &headers, status, &shown);
                    }
                    Ok(refused) => refused,
                    Err(err) => return failure(err),
                }
            }
        }
    };
    let shown = Shown::Choose {
        token: &form.token,
        errors,
    };
    page(&state, &headers, status, &shown)
}
