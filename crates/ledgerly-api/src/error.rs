//! One error shape for every failure: `{"error": {"code": "...", "message": "...", "field": ...}}`.
//! Client mistakes are 4xx with a message that says what was wrong; server faults are an opaque
//! 500 whose cause is logged, never sent.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledgerly_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A value that does not make sense: 422, naming the field.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// A request that cannot be read at all: 400.
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required: log in, or send `Authorization: Bearer <token>`")]
    Unauthenticated,
    #[error("wrong email or password")]
    WrongCredentials,
    /// A signed machine request that is forged, stale or replayed. Which one is not said.
    #[error("the request's signature was refused: it is forged, stale or replayed")]
    SignatureRefused,
    #[error("the password is wrong")]
    WrongPassword,
    /// A state-changing request authenticated by the session cookie without the page's CSRF
    /// token.
    #[error(
        "this request needs the page's CSRF token (the `X-CSRF-Token` header, or the form's `_csrf` field); reload the page and try again"
    )]
    CsrfRefused,
    /// Signed in, but the credential may not do this (a read-only token writing, a token managing
    /// the account's sign-in): 403 with its own code.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many attempts; try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    /// A part the API needs (the database, the receipt storage) cannot be reached for now: 503
    /// with `Retry-After`.
    #[error("{0} is not available right now; try again in a few seconds")]
    Unavailable(&'static str),
    /// Too much work queued for a bounded resource: 503 with `Retry-After`.
    #[error("the server is busy with {what}; try again in {retry_after} seconds")]
    Busy {
        what: &'static str,
        retry_after: u64,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The seconds a client is told to wait when the database or the storage cannot be reached.
const UNAVAILABLE_RETRY_AFTER: u64 = 2;

/// Every error response's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ErrorDetail<'a> {
    /// Stable, for programs: `invalid`, `not_found`, `unauthenticated`, `email_taken`…
    #[schema(example = "invalid")]
    code: &'a str,
    /// For people: what was wrong and, where it helps, what to do.
    #[schema(example = "amount: must be more than zero")]
    message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "amount")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        ApiError::Invalid {
            field: Some(field),
            message: format!("{field}: {message}"),
        }
    }

    /// An invite that is unknown, used or expired: which of the three is not said.
    pub fn invite_invalid() -> Self {
        ApiError::Forbidden {
            code: "invite_invalid",
            message: "this invite is unknown, used already or expired: ask the administrator \
                      for a new one"
                .into(),
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }

    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::WrongCredentials => (StatusCode::UNAUTHORIZED, "wrong_credentials"),
            ApiError::SignatureRefused => (StatusCode::UNAUTHORIZED, "signature_refused"),
            ApiError::WrongPassword => (StatusCode::FORBIDDEN, "wrong_password"),
            ApiError::CsrfRefused => (StatusCode::FORBIDDEN, "csrf_refused"),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            other => tracing::debug!(status = status.as_u16(), error = %other, "request refused"),
        }
        let field = match &self {
            ApiError::Invalid { field, .. } => *field,
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match self {
            ApiError::TooManyRequests { retry_after } | ApiError::Busy { retry_after, .. } => {
                Some(retry_after)
            }
            ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        };
        if let Some(retry_after) = retry_after
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                message: "an account with this email already exists".into(),
            },
            StoreError::CategoryNameTaken(name) => ApiError::Conflict {
                code: "category_exists",
                message: format!("a category named `{name}` already exists"),
            },
            StoreError::CategoryInUse { count } => ApiError::Conflict {
                code: "category_in_use",
                message: format!(
                    "the category still has {count} expense(s); pass move_to=<category id> to move them first"
                ),
            },
            StoreError::CategoryInRecurring { count } => ApiError::Conflict {
                code: "category_in_use",
                message: format!(
                    "{count} recurring expense(s) use the category; pass move_to=<category id> to move them, or change them first"
                ),
            },
            StoreError::TagNameTaken(name) => ApiError::Conflict {
                code: "tag_exists",
                message: format!(
                    "a tag named `{name}` already exists; merge the two with POST /api/v1/tags/{{id}}/merge"
                ),
            },
            StoreError::TokenNameTaken(name) => ApiError::Conflict {
                code: "token_exists",
                message: format!(
                    "a token named `{name}` already exists; name this one differently"
                ),
            },
            StoreError::InviteInvalid => ApiError::invite_invalid(),
            StoreError::ResetInvalid => ApiError::Forbidden {
                code: "reset_invalid",
                message: "this password reset link is unknown, used already or expired: ask for \
                          a new one"
                    .into(),
            },
            StoreError::LastAdmin => ApiError::Conflict {
                code: "last_admin",
                message: "this would leave the instance without an administrator who can sign \
                          in: make another account an administrator first"
                    .into(),
            },
            StoreError::TooManyTokens(max) => ApiError::Conflict {
                code: "too_many_tokens",
                message: format!("an account holds at most {max} API tokens; revoke one first"),
            },
            StoreError::ImportCommitted => ApiError::Conflict {
                code: "import_committed",
                message: "this import was committed already; its expenses are recorded".into(),
            },
            StoreError::Invalid(message) => ApiError::Invalid {
                field: None,
                message,
            },
            other if other.is_unavailable() => {
                tracing::warn!(error = ?other, "the database is unavailable");
                ApiError::Unavailable("the database")
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::Invalid {
                field: None,
                message: format!("the JSON body does not fit: {}", e.body_text()),
            },
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the request body is too large".into())
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Invalid {
            field: None,
            message: format!("the query string does not fit: {}", rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // A malformed id can name nothing that exists.
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => ApiError::NotFound("resource"),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}
