//! CSRF tokens. A signed-in browser's token is derived from its session token (which only that
//! browser holds, in an HttpOnly cookie), so it needs no storage and dies with the session:
//! `base64url(SHA-256("ledgerly-csrf" ‖ 0 ‖ session token))`. Before sign-in, the landing page's
//! forms use the same derivation over a random `ledgerly_csrf` cookie (double submit, bound by
//! the hash). Every state-changing form carries the token in `_csrf`; the JSON API asks for it in
//! `X-CSRF-Token` when a request is authenticated by the cookie rather than a bearer token.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};

/// The form field that carries the token.
pub const FIELD: &str = "_csrf";
/// The header that carries the token on cookie-authenticated API calls.
pub const HEADER: &str = "x-csrf-token";
/// The cookie that holds the secret for forms shown before sign-in (`__Host-` prefixed under
/// TLS, as the session cookie is).
pub const ANONYMOUS_COOKIE: &str = "ledgerly_csrf";
const HOST_ANONYMOUS_COOKIE: &str = "__Host-ledgerly_csrf";

fn anonymous_cookie_name(secure: bool) -> &'static str {
    if secure {
        HOST_ANONYMOUS_COOKIE
    } else {
        ANONYMOUS_COOKIE
    }
}

/// The token for a secret (a session token, or the anonymous cookie's value).
pub fn token_for(secret: &SecretString) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"ledgerly-csrf\0");
    hasher.update(secret.expose_secret().as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Whether `given` is the token for `secret`, compared in constant time.
pub fn matches(secret: &SecretString, given: &str) -> bool {
    let expected = token_for(secret);
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The anonymous cookie's value, if the browser sent one.
pub fn anonymous_secret(headers: &HeaderMap, secure: bool) -> Option<SecretString> {
    super::token::cookie_value(headers, anonymous_cookie_name(secure)).map(SecretString::from)
}

/// `Set-Cookie` for a new anonymous secret: HttpOnly, SameSite=Strict, for the session of the
/// browser.
pub fn anonymous_cookie(secret: &SecretString, secure: bool) -> HeaderValue {
    super::token::set_cookie(
        anonymous_cookie_name(secure),
        secret.expose_secret(),
        "HttpOnly; SameSite=Strict",
        secure,
    )
}

/// The token sent in the `X-CSRF-Token` header.
pub fn from_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|v| v.to_str().ok())
}

/// Whether a request's method changes state (and so needs the token).
pub fn is_unsafe(method: &axum::http::Method) -> bool {
    !matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_its_secret_alone() {
        let (a, b) = ("session-a".into(), "session-b".into());
        let token = token_for(&a);
        assert!(matches(&a, &token));
        assert!(!matches(&b, &token));
        assert!(!matches(&a, ""));
        assert!(!matches(&a, &token[1..]));
        assert_ne!(token, "session-a");
    }

    #[test]
    fn only_reads_are_safe() {
        assert!(!is_unsafe(&axum::http::Method::GET));
        assert!(is_unsafe(&axum::http::Method::POST));
        assert!(is_unsafe(&axum::http::Method::DELETE));
        assert!(is_unsafe(&axum::http::Method::PATCH));
    }
}
