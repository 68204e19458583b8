//! Posted forms: read only with their CSRF token checked, and the errors shown next to their
//! fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::csrf;
use crate::error::ApiError;
use crate::state::AppState;

use super::{WebUser, failure};

/// Reads an `application/x-www-form-urlencoded` body into `T`.
async fn read<T: DeserializeOwned>(
    request: Request,
    state: &AppState,
) -> Result<(T, String), Response> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(failure(ApiError::UnsupportedMediaType(
            "send the form as application/x-www-form-urlencoded".into(),
        )));
    }
    let body = Bytes::from_request(request, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).map_err(|e| {
        failure(ApiError::BadRequest(format!(
            "the form cannot be read: {e}"
        )))
    })?;
    let token = pairs
        .iter()
        .find(|(name, _)| name == csrf::FIELD)
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    let form = serde_urlencoded::from_bytes(&body).map_err(|e| {
        failure(ApiError::BadRequest(format!(
            "the form cannot be read: {e}"
        )))
    })?;
    Ok((form, token))
}

/// The body of a form with nothing but its CSRF token (a delete, a revoke).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub(crate) struct NoFields {}

/// A form posted by a signed-in browser from one of its pages: refused (403) without the
/// session's CSRF token.
#[derive(Debug)]
pub(crate) struct SignedForm<T> {
    pub(crate) user: WebUser,
    pub(crate) form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for SignedForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let (form, token) = read::<T>(Request::from_parts(parts, body), state).await?;
        if !user.csrf_matches(&token) {
            return Err(failure(ApiError::CsrfRefused));
        }
        Ok(SignedForm { user, form })
    }
}

/// A form posted before sign-in (log in, sign up): refused (403) unless its token matches the
/// browser's anonymous CSRF cookie.
#[derive(Debug)]
pub(crate) struct AnonymousForm<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for AnonymousForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let secret = csrf::anonymous_secret(request.headers(), state.settings.auth.cookie_secure);
        let (form, token) = read::<T>(request, state).await?;
        match secret {
            Some(secret) if csrf::matches(&secret, &token) => Ok(AnonymousForm(form)),
            _ => Err(failure(ApiError::CsrfRefused)),
        }
    }
}

/// What was wrong with a form, by field; `form` is the form as a whole.
#[derive(Debug, Default, Clone)]
pub(crate) struct Errors(Vec<(&'static str, String)>);

impl Errors {
    pub(crate) fn none() -> Self {
        Self::default()
    }

    pub(crate) fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for `field`, if it has one.
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    /// Keeps a failed check's message under its field (or `form`); the value when it passed.
    pub(crate) fn check<T>(&mut self, result: Result<T, ApiError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(ApiError::Invalid {
                field: Some(field),
                message,
            }) => {
                self.add(field, tidy(field, message));
                None
            }
            Err(other) => {
                self.add("form", capitalise(&other.to_string()));
                None
            }
        }
    }

    /// The error of a check as a field's message: `field` is where it shows when the error
    /// names none. Faults are not form errors: they come back as `Err`, to be shown as a page.
    pub(crate) fn from_api(err: ApiError, field: &'static str) -> Result<Self, ApiError> {
        let mut errors = Errors::none();
        match err {
            ApiError::Invalid {
                field: named,
                message,
            } => {
                let name = named.unwrap_or(field);
                errors.add(name, tidy(name, message));
            }
            ApiError::Internal(_) | ApiError::NotFound(_) | ApiError::CsrfRefused => {
                return Err(err);
            }
            other => errors.add(field, capitalise(&other.to_string())),
        }
        Ok(errors)
    }
}

/// `amount: must be more than zero` → `Must be more than zero`: the field is named by where
/// the message shows, and the API's `code` quotes read as “quotes”.
fn tidy(field: &str, message: String) -> String {
    let message = message
        .strip_prefix(&format!("{field}: "))
        .map(str::to_owned)
        .unwrap_or(message);
    let mut open = false;
    let quoted: String = message
        .chars()
        .map(|c| match c {
            '`' => {
                open = !open;
                if open { '“' } else { '”' }
            }
            other => other,
        })
        .collect();
    capitalise(&quoted)
}

/// `must be more than zero` → `Must be more than zero`.
pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_keep_their_names_and_lose_the_prefix() {
        let errors = Errors::from_api(
            ApiError::invalid("amount", "must be more than zero"),
            "form",
        )
        .unwrap_or_default();
        assert_eq!(errors.get("amount"), Some("Must be more than zero"));
        assert_eq!(errors.get("form"), None);
        let errors = Errors::from_api(
            ApiError::invalid("email", "`x` is not a valid email address"),
            "form",
        )
        .unwrap_or_default();
        assert_eq!(
            errors.get("email"),
            Some("“x” is not a valid email address")
        );
        let errors = Errors::from_api(ApiError::WrongCredentials, "password").unwrap_or_default();
        assert_eq!(errors.get("password"), Some("Wrong email or password"));
        assert!(Errors::from_api(ApiError::internal(anyhow::anyhow!("boom")), "form").is_err());
    }
}
