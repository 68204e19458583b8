//! The web dashboard: server-rendered pages (maud) over the same store and the same checks as
//! the JSON API, with a little hand-written JavaScript where it helps (drag and drop, the live
//! OCR status) and none where it does not — every form works without it.
//!
//! Security: every state-changing form carries a CSRF token derived from the session
//! ([`crate::auth::csrf`]); every page is sent with a CSP that allows no inline script or style,
//! `frame-ancestors 'none'`, `Referrer-Policy` and `nosniff`; maud escapes every value written
//! into a page.

mod admin;
mod categories;
mod charts;
mod dashboard;
mod form;
mod imports;
mod landing;
mod layout;
mod password_reset;
mod phone;
mod profile;
mod rates;
mod receipts;
mod recurring;
mod tags;
mod tokens;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use secrecy::SecretString;

use crate::auth::{csrf, token};
use crate::error::ApiError;
use crate::extract::CurrentUser;
use crate::settings::Settings;
use crate::state::AppState;

pub(crate) use form::{AnonymousForm, Errors, NoFields, SignedForm};

/// The body limit of a form that uploads receipts: as many files as one upload takes, each up
/// to the upload limit, and room for the other fields.
fn upload_limit(settings: &Settings) -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(
        settings
            .storage
            .max_upload_bytes
            .get()
            .saturating_mul(receipts::MAX_FILES)
            .saturating_add(64 * 1024),
    )
}

/// The pages and the forms they post to, with each path they answer on.
#[derive(Default)]
struct Pages {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Pages {
    fn route(mut self, path: &'static str, method: MethodRouter<AppState>) -> Self {
        self.paths.push(path);
        self.router = self.router.route(path, method);
        self
    }
}

fn pages(settings: &Settings) -> Pages {
    Pages::default()
        .route("/", get(landing::page))
        .route("/login", post(landing::login))
        .route("/signup", post(landing::signup))
        .route("/logout", post(landing::logout))
        .route(
            "/password-reset",
            get(password_reset::show).post(password_reset::ask),
        )
        .route("/password-reset/complete", post(password_reset::choose))
        .route("/theme", post(profile::set_theme))
        .route("/dashboard", get(dashboard::page))
        .route("/expenses", post(dashboard::add))
        .route("/expenses/{id}", post(dashboard::update))
        .route("/expenses/{id}/delete", post(dashboard::delete))
        .route(
            "/receipts",
            get(receipts::page)
                .post(receipts::upload)
                .layer(upload_limit(settings)),
        )
        .route("/receipts/{id}/retry", post(receipts::retry))
        .route("/receipts/{id}/delete", post(receipts::delete))
        .route(
            "/import",
            get(imports::start)
                .post(imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(imports::UPLOAD_LIMIT)),
        )
        .route("/import/{id}", get(imports::page).post(imports::update))
        .route("/import/{id}/commit", post(imports::commit))
        .route("/import/{id}/delete", post(imports::delete))
        .route("/recurring", get(recurring::page).post(recurring::create))
        .route("/recurring/{id}", post(recurring::update))
        .route("/recurring/{id}/pause", post(recurring::pause))
        .route("/recurring/{id}/resume", post(recurring::resume))
        .route("/recurring/{id}/skip", post(recurring::skip))
        .route("/recurring/{id}/unskip", post(recurring::unskip))
        .route("/recurring/{id}/delete", post(recurring::delete))
        .route("/profile", get(profile::page).post(profile::update))
        .route("/profile/email", post(profile::email))
        .route("/profile/password", post(profile::password))
        .route("/profile/categories", post(categories::add_category))
        .route(
            "/profile/categories/{id}",
            post(categories::rename_category),
        )
        .route(
            "/profile/categories/{id}/delete",
            post(categories::delete_category),
        )
        .route(
            "/profile/categories/{id}/budget",
            post(categories::set_budget),
        )
        .route("/profile/tags/{id}", post(tags::rename_tag))
        .route("/profile/tags/{id}/merge", post(tags::merge_tag))
        .route("/profile/tags/{id}/delete", post(tags::delete_tag))
        .route("/profile/rates", post(rates::add_rate))
        .route("/profile/rates/delete", post(rates::delete_rate))
        .route("/profile/rates/ecb", post(rates::set_ecb))
        .route("/profile/tokens", post(tokens::make_token))
        .route("/profile/tokens/{id}/revoke", post(tokens::revoke_token))
        .route("/admin", get(admin::page))
        .route("/admin/invites", post(admin::make))
        .route("/admin/invites/{id}/delete", post(admin::withdraw))
        .route("/admin/accounts/{id}/role", post(admin::set_role))
        .route("/admin/accounts/{id}/access", post(admin::set_access))
        .route("/admin/accounts/{id}/delete", post(admin::delete))
        .route(
            "/admin/accounts/{id}/password-reset",
            post(admin::reset_password),
        )
        .route("/static/app.css", get(stylesheet))
        .route("/static/app.js", get(script))
        .route("/static/icon-192.png", get(phone::icon_192))
        .route("/static/icon-512.png", get(phone::icon_512))
        .route("/manifest.webmanifest", get(phone::manifest))
        .route("/sw.js", get(phone::service_worker))
        .route("/offline", get(phone::offline))
        .route("/share", post(phone::share).layer(upload_limit(settings)))
}

/// Every path the pages and forms answer on (`{id}` where an id goes): what a proxy in front of
/// the app must pass on.
pub fn page_paths() -> Vec<&'static str> {
    pages(&Settings::default()).paths
}

/// The pages and the forms they post to, with their security headers.
pub fn router(state: &AppState) -> Router<AppState> {
    let headers = SecurityHeaders::new(&state.settings, state.storage.image_origin());
    pages(&state.settings)
        .router
        .layer(axum::middleware::map_response(move |response: Response| {
            let headers = headers.clone();
            async move { headers.apply(response) }
        }))
}

/// The headers every page is sent with.
#[derive(Clone, Debug)]
struct SecurityHeaders {
    csp: HeaderValue,
    /// Served over HTTPS (the cookies are `Secure`): browsers are told to keep to HTTPS.
    https: bool,
}

impl SecurityHeaders {
    /// `image_origin`: where receipt images come from besides this site (the receipts bucket's
    /// own origin, for S3 storage: they are shown through short-lived presigned URLs). Only it is
    /// allowed as an image source, not every bucket in S3.
    fn new(settings: &Settings, image_origin: Option<&str>) -> Self {
        let images = image_origin
            .filter(|origin| !origin.contains([';', ',', ' ', '\'']))
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default();
        let csp = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{images}; \
             connect-src 'self'; manifest-src 'self'; worker-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        Self {
            csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| {
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
            }),
            https: settings.auth.cookie_secure,
        }
    }

    fn apply(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        if self.https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
        response
    }
}

const STYLESHEET: &str = include_str!("assets/app.css");
const SCRIPT: &str = include_str!("assets/app.js");

async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The signed-in browser a page is for: the user and session from the session cookie (never a
/// bearer token: pages are for browsers), and the CSRF token its forms carry. Without a valid
/// session the page answers with a redirect to the landing page.
#[derive(Debug, Clone)]
pub(crate) struct WebUser {
    pub(crate) current: CurrentUser,
    pub(crate) csrf: String,
    session_token: SecretString,
}

impl WebUser {
    /// Whether `given` is this session's CSRF token.
    pub(crate) fn csrf_matches(&self, given: &str) -> bool {
        csrf::matches(&self.session_token, given)
    }

    pub(crate) fn user(&self) -> &ledgerly_core::User {
        &self.current.user
    }

    pub(crate) fn session_token(&self) -> &SecretString {
        &self.session_token
    }

    /// The browser's session from its cookie, if it has a live one.
    pub(crate) async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<WebUser>, ApiError> {
        let Some(token) = token::cookie_value(
            headers,
            token::session_cookie(state.settings.auth.cookie_secure),
        ) else {
            return Ok(None);
        };
        let token = SecretString::from(token);
        Ok(CurrentUser::of_session_token(state, &token)
            .await?
            .map(|current| WebUser {
                csrf: csrf::token_for(&token),
                session_token: token,
                current,
            }))
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match WebUser::from_headers(state, &parts.headers).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(Redirect::to("/").into_response()),
            Err(err) => Err(failure(err)),
        }
    }
}

/// An id in a page's path (`/expenses/{id}`…): one that cannot be an id is the 404 page, as an
/// id that is not the user's is.
#[derive(Debug)]
pub(crate) struct PagePath<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for PagePath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PagePath(value))
            .map_err(|_| failure(ApiError::NotFound("page")))
    }
}

/// An error no form can show next to a field, as a page: a missing row is 404, a fault 500
/// (logged, never shown).
pub(crate) fn failure(err: ApiError) -> Response {
    // The API's own status for the error: one mapping for both.
    let status = err.status_and_code().0;
    if let ApiError::Internal(cause) = &err {
        tracing::error!(error = ?cause, "page failed");
    }
    let message = match &err {
        ApiError::Internal(_) => "Something went wrong on our side. Try again in a moment.".into(),
        ApiError::CsrfRefused => {
            "This form was not sent from a page of this app, or the page is out of date. Go back, reload the page and try again.".into()
        }
        other => other.to_string(),
    };
    (status, layout::message_page(status, &message)).into_response()
}

/// The page for an address that leads nowhere, with the headers of every page.
pub(crate) fn not_found_page(state: &AppState) -> Response {
    SecurityHeaders::new(&state.settings, state.storage.image_origin())
        .apply(failure(ApiError::NotFound("page")))
}

/// A page's query parameter: the last one of that name, trimmed, if not empty. Pages read their
/// address this leniently (a repeated or odd parameter is no error), so any link shows a page.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `Location` for a redirect back to a page after a form: only our own paths.
pub(crate) fn back_to(given: &str, fallback: &'static str) -> String {
    let safe = given.starts_with('/')
        && !given.starts_with("//")
        && !given.starts_with("/\\")
        && !given.chars().any(|c| c.is_control());
    if safe {
        given.to_owned()
    } else {
        fallback.to_owned()
    }
}

/// A `303 See Other` to `location`: the answer to every form that worked.
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn redirects_after_forms_stay_on_this_site() {
        assert_eq!(back_to("/dashboard?page=2", "/"), "/dashboard?page=2");
        assert_eq!(back_to("//evil.example/x", "/dashboard"), "/dashboard");
        assert_eq!(back_to("https://evil.example", "/dashboard"), "/dashboard");
        assert_eq!(back_to("/\\evil.example", "/dashboard"), "/dashboard");
        assert_eq!(back_to("/a\r\nSet-Cookie: x", "/dashboard"), "/dashboard");
    }

    #[test]
    fn pages_allow_no_inline_script_and_no_framing() {
        let headers = SecurityHeaders::new(&Settings::default(), None);
        let csp = headers.csp.to_str().unwrap_or_default();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let response = headers.apply(StatusCode::OK.into_response());
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        assert_eq!(response.headers()[header::REFERRER_POLICY], "same-origin");
        assert!(
            !response
                .headers()
                .contains_key(header::STRICT_TRANSPORT_SECURITY),
            "plain HTTP (ledgerctl up) must not pin browsers to HTTPS"
        );
        let mut settings = Settings::default();
        settings.auth.cookie_secure = true;
        let response = SecurityHeaders::new(&settings, None).apply(StatusCode::OK.into_response());
        assert_eq!(
            response.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
    }

    #[test]
    fn images_come_from_this_site_and_the_receipts_bucket_alone() {
        let settings = Settings::default();
        let csp = |origin| {
            SecurityHeaders::new(&settings, origin)
                .csp
                .to_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(csp(None).contains("img-src 'self' data:;"), "{}", csp(None));
        let bucket = csp(Some("https://receipts.s3.eu-west-1.amazonaws.com"));
        assert!(
            bucket.contains("img-src 'self' data: https://receipts.s3.eu-west-1.amazonaws.com;"),
            "{bucket}"
        );
        assert!(!bucket.contains('*'), "{bucket}");
        // Nothing that could end the directive or add a source gets in.
        assert!(csp(Some("https://x; script-src *")).contains("img-src 'self' data:;"));
    }
}
