//! Session tokens: 32 random bytes, base64url. The store keeps only their SHA-256.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ledgerly_core::token::SECRET_PREFIX;
use rand::RngCore;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};

/// The session cookie's name over plain HTTP (local use).
pub const COOKIE: &str = "ledgerly_session";
/// The session cookie's name under TLS.
pub const HOST_COOKIE: &str = "__Host-ledgerly_session";

/// The session cookie's name. Under TLS it carries the `__Host-` prefix: a browser then takes it
/// only over HTTPS, from this host, for the whole site and no wider domain, so neither a sibling
/// subdomain nor a plain-HTTP page can plant or replace it. Only that name is read then.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure { HOST_COOKIE } else { COOKIE }
}

pub fn generate() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes).into()
}

/// A new personal API token's secret: [`SECRET_PREFIX`] and 32 random bytes.
pub fn generate_personal() -> SecretString {
    format!("{SECRET_PREFIX}{}", generate().expose_secret()).into()
}

/// Whether `token` is a personal API token's secret rather than a session's.
pub fn is_personal(token: &SecretString) -> bool {
    token.expose_secret().starts_with(SECRET_PREFIX)
}

pub fn hash(token: &SecretString) -> Vec<u8> {
    Sha256::digest(token.expose_secret().as_bytes()).to_vec()
}

/// Where a request's session token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `Authorization: Bearer …`: sent by a program, never by a browser on its own.
    Bearer,
    /// The session cookie: a browser sends it with every request, so a state-changing request
    /// must also prove it came from our pages (the CSRF token).
    Cookie,
}

/// The token from `Authorization: Bearer …`, else from the session cookie (named as `secure`
/// says: see [`session_cookie`]).
pub fn from_headers(headers: &HeaderMap, secure: bool) -> Option<SecretString> {
    credential(headers, secure).map(|(token, _)| token)
}

/// The token and where it came from: the bearer header wins over the cookie.
pub fn credential(headers: &HeaderMap, secure: bool) -> Option<(SecretString, Source)> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.trim().split_once(' ')?;
        return (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
            .then(|| (token.trim().into(), Source::Bearer));
    }
    cookie_value(headers, session_cookie(secure)).map(|token| (token.into(), Source::Cookie))
}

/// The value of the cookie `name`, if sent and not empty.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a session: HttpOnly, SameSite=Lax, `Secure` and `__Host-` when configured.
pub fn cookie(token: &SecretString, max_age_seconds: i64, secure: bool) -> HeaderValue {
    set_cookie(
        session_cookie(secure),
        token.expose_secret(),
        &format!("Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax"),
        secure,
    )
}

/// `Set-Cookie` for `name=value` on the whole site with `attributes`, and `Secure` when asked.
pub fn set_cookie(name: &str, value: &str, attributes: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{name}={value}; Path=/; {attributes}{secure}");
    // Values are base64url: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie(&SecretString::default(), 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = generate();
        assert_ne!(hash(&a), hash(&generate()));
        let a_text = a.expose_secret();
        assert_eq!(a_text.len(), 43);
        assert!(
            a_text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(hash(&a).len(), 32);
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; ledgerly_session=from-cookie"),
        );
        assert_eq!(
            from_headers(&headers, false)
                .as_ref()
                .map(|t| t.expose_secret()),
            Some("from-cookie")
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer from-header"),
        );
        assert_eq!(
            from_headers(&headers, false)
                .as_ref()
                .map(|t| t.expose_secret()),
            Some("from-header")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(from_headers(&headers, false).is_none());
    }

    #[test]
    fn the_cookie_is_http_only_and_lax() {
        let c = cookie(&"t".into(), 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(
            !cookie(&"t".into(), 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn under_tls_the_cookie_is_host_only_and_only_that_name_is_read() {
        let c = cookie(&"t".into(), 60, true);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("__Host-ledgerly_session=t; Path=/;"), "{c}");
        assert!(!c.contains("Domain"), "{c}");
        let mut headers = HeaderMap::new();
        // A cookie without the prefix may have been planted by a sibling subdomain or over
        // plain HTTP: it is not a session under TLS.
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("ledgerly_session=planted"),
        );
        assert!(from_headers(&headers, true).is_none());
        assert_eq!(
            from_headers(&headers, false)
                .as_ref()
                .map(|t| t.expose_secret()),
            Some("planted")
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("ledgerly_session=planted; __Host-ledgerly_session=real"),
        );
        assert_eq!(
            from_headers(&headers, true)
                .as_ref()
                .map(|t| t.expose_secret()),
            Some("real")
        );
    }
}
