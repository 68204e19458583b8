//! The profile's personal API tokens: make one (its secret shown this once, to copy), see each
//! with its scope, expiry and last use, and revoke it. The JSON API's own steps
//! ([`crate::routes::tokens`]) behind forms.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ledgerly_core::ApiTokenId;
use ledgerly_core::token::{DEFAULT_DAYS, MAX_DAYS, TokenScope};
use maud::{Markup, html};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use crate::routes::tokens::{CreateTokenRequest, CreatedTokenView, TokenView, create, revoke};
use crate::state::AppState;

use super::layout::{self, Input, csrf_field, field, select};
use super::profile::{Failed, Shown, errors_of, render_with};
use super::{Errors, NoFields, PagePath, SignedForm, failure, see_other};

/// The ids of the new token's fields: `new-token-name`, `new-token-scope`, `new-token-days`.
const PREFIX: &str = "new-token";

fn day(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%d %b %Y")) } }
}

/// The API tokens card; `failed` is the page's form that did not pass, shown again here when it
/// is the new token's; `made` is a token just made, whose secret is shown this once.
pub(super) fn card(
    tokens: &[TokenView],
    csrf: &str,
    failed: Option<&Failed>,
    made: Option<&CreatedTokenView>,
) -> Markup {
    let none = Errors::none();
    let (form, errors) = match failed {
        Some(Failed::Token(form, errors)) => (form.clone(), errors),
        _ => (TokenForm::default(), &none),
    };
    let days = if form.expires_in_days.is_empty() {
        DEFAULT_DAYS.to_string()
    } else {
        form.expires_in_days.clone()
    };
    let scope = if form.scope.is_empty() {
        TokenScope::Read.as_str()
    } else {
        form.scope.as_str()
    };
    let scopes = [
        ("read".to_owned(), "Read only".to_owned()),
        ("read_write".to_owned(), "Read and write".to_owned()),
    ];
    html! {
        section.card.tokens aria-labelledby="tokens-title" #tokens {
            h2 #tokens-title { "API tokens" }
            p.hint {
                "For scripts and apps: send one as " code { "Authorization: Bearer <token>" }
                " to the " a href="/api/docs" { "API" } ". A read-only token can only read. No "
                "token can change your password or email, make tokens, or delete the account."
            }
            @if let Some(made) = made {
                div.token-made role="status" {
                    p { strong { "Token “" (made.token.name) "” made." } " Copy it now: it is not shown again." }
                    label for="new-token-secret" { "Your new token" }
                    input #new-token-secret type="text" readonly value=(made.secret.expose_secret())
                        autocomplete="off" spellcheck="false";
                }
            }
            form.token-new method="post" action="/profile/tokens" novalidate aria-label="Make a token" {
                (csrf_field(csrf))
                (layout::form_error(errors))
                (field(PREFIX, "name", "Name", &form.name,
                    Input::of("text").required().hint("What it is for: “backup script”, “phone”."), errors))
                div.row {
                    (select(PREFIX, "scope", "Can", scope, &scopes, errors))
                    (field(PREFIX, "expires_in_days", "Lasts (days)", &days,
                        Input::of("number").inputmode("numeric").required()
                            .hint(&format!("1 to {MAX_DAYS}.")), errors))
                }
                div.form-actions { button.primary type="submit" { "Make token" } }
            }
            @if tokens.is_empty() {
                p.muted.tokens-empty { "No tokens yet." }
            } @else {
                ul.token-list aria-label="Your tokens" {
                    @for token in tokens {
                        li.token-item {
                            div.token-text {
                                strong { (token.name) }
                                span.tag {
                                    @match token.scope {
                                        TokenScope::Read => "read only",
                                        TokenScope::ReadWrite => "read and write",
                                    }
                                }
                                p.hint {
                                    "Made " (day(token.created_at)) " · "
                                    @if token.expired { strong { "expired " } (day(token.expires_at)) }
                                    @else { "expires " (day(token.expires_at)) }
                                    " · "
                                    @match token.last_used_at {
                                        Some(at) => { "last used " (day(at)) },
                                        None => "never used",
                                    }
                                }
                            }
                            form method="post" action={"/profile/tokens/" (token.id) "/revoke"} {
                                (csrf_field(csrf))
                                button.danger.small type="submit" aria-label={"Revoke " (token.name)} { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The new token's form, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct TokenForm {
    name: String,
    scope: String,
    expires_in_days: String,
}

/// The form as the API's request, or every field's problem at once.
fn request_of(form: &TokenForm) -> Result<CreateTokenRequest, Errors> {
    let mut errors = Errors::none();
    if form.name.trim().is_empty() {
        errors.add("name", "Give it a name, to know it by");
    }
    let scope = form.scope.parse::<TokenScope>();
    if let Err(e) = &scope {
        errors.add("scope", e.to_string());
    }
    let days = form.expires_in_days.trim().parse::<u32>();
    if days.is_err() {
        errors.add(
            "expires_in_days",
            format!("Give a whole number of days, 1 to {MAX_DAYS}"),
        );
    }
    match (scope, days) {
        (Ok(scope), Ok(days)) if errors.is_empty() => Ok(CreateTokenRequest {
            name: form.name.clone(),
            scope,
            expires_in_days: Some(days),
        }),
        _ => Err(errors),
    }
}

/// `POST /profile/tokens`: makes a token and shows the profile with its secret, this once (a
/// page, not a redirect: the secret never travels in a URL). What does not pass is shown beside
/// its field, with what was sent.
pub(crate) async fn make_token(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<TokenForm>,
) -> Response {
    let refused = match request_of(&form) {
        Ok(request) => match create(&state, &user.current, request).await {
            Ok(made) => {
                return render_with(
                    &state,
                    &user,
                    None,
                    Some("token"),
                    StatusCode::CREATED,
                    Shown::Token(made),
                )
                .await;
            }
            Err(err) => errors_of(err, "name"),
        },
        Err(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors)),
    };
    match refused {
        Ok((status, errors)) => {
            render_with(
                &state,
                &user,
                Some(Failed::Token(form, errors)),
                None,
                status,
                Shown::Nothing,
            )
            .await
        }
        Err(err) => failure(err),
    }
}

/// `POST /profile/tokens/{id}/revoke`: revokes one of the user's tokens; one that is not theirs
/// is the 404 page.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    PagePath(id): PagePath<ApiTokenId>,
    SignedForm { user, .. }: SignedForm<NoFields>,
) -> Response {
    match revoke(&state, &user.current, id).await {
        Ok(()) => see_other("/profile?done=token-revoked#tokens"),
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn view(name: &str, scope: TokenScope, used: bool, expired: bool) -> TokenView {
        let at = "2026-12-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        TokenView {
            id: ApiTokenId::new(),
            name: name.into(),
            scope,
            created_at: at,
            expires_at: at + chrono::Duration::days(90),
            last_used_at: used.then_some(at),
            expired,
        }
    }

    #[test]
    fn no_tokens_say_so_and_a_new_one_lasts_ninety_days_and_reads_only() {
        let markup = card(&[], "t", None, None).into_string();
        assert!(markup.contains("No tokens yet."), "{markup}");
        assert!(markup.contains("value=\"90\""), "{markup}");
        assert!(
            markup.contains("<option value=\"read\" selected>"),
            "{markup}"
        );
        assert!(!markup.contains("new-token-secret"), "{markup}");
    }

    #[test]
    fn each_token_shows_its_scope_expiry_and_last_use_with_its_revoke_form() {
        let tokens = [
            view("Spreadsheet", TokenScope::Read, false, false),
            view("Importer", TokenScope::ReadWrite, true, true),
        ];
        let markup = card(&tokens, "t", None, None).into_string();
        assert!(markup.contains("read only") && markup.contains("read and write"));
        assert!(markup.contains("never used") && markup.contains("last used"));
        assert!(markup.contains("expired") && markup.contains("expires"));
        assert!(
            markup.contains(&format!(
                "action=\"/profile/tokens/{}/revoke\"",
                tokens[0].id
            )),
            "{markup}"
        );
        assert!(
            markup.contains("aria-label=\"Revoke Importer\""),
            "{markup}"
        );
    }

    #[test]
    fn a_token_just_made_shows_its_secret_and_a_refused_one_its_errors() {
        let made = CreatedTokenView {
            token: view("Phone", TokenScope::Read, false, false),
            secret: SecretString::from("lgy_secret-value"),
        };
        let markup = card(&[], "t", None, Some(&made)).into_string();
        assert!(markup.contains("value=\"lgy_secret-value\""), "{markup}");
        assert!(markup.contains("not shown again"), "{markup}");

        let form = TokenForm {
            name: " ".into(),
            scope: "write".into(),
            expires_in_days: "ninety".into(),
        };
        let errors = request_of(&form).unwrap_err();
        for name in ["name", "scope", "expires_in_days"] {
            assert!(errors.get(name).is_some(), "{name}: {errors:?}");
        }
        let failed = Failed::Token(form, errors);
        let markup = card(&[], "t", Some(&failed), None).into_string();
        assert!(markup.contains("id=\"new-token-name-error\""), "{markup}");
        assert!(markup.contains("value=\"ninety\""), "{markup}");
        let good = TokenForm {
            name: "Phone".into(),
            scope: "read_write".into(),
            expires_in_days: "30".into(),
        };
        let request = request_of(&good).unwrap();
        assert_eq!(request.scope, TokenScope::ReadWrite);
        assert_eq!(request.expires_in_days, Some(30));
    }
}
