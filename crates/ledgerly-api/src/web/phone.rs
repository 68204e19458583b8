//! The dashboard on a phone: a web app manifest with icons, so it installs to a home screen and
//! opens without the browser's bars; a share target, so a photo shared to Ledgerly from the
//! phone's gallery or camera is uploaded and read; and a service worker that keeps one page, so
//! a page opened without a connection says it is offline instead of the browser's error.

use std::sync::OnceLock;

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::error::ApiError;
use crate::state::AppState;

use super::layout::{self, Section};
use super::{WebUser, failure};

/// The icon's sizes: the two a home screen asks for.
pub(crate) const ICON_SIZES: [u32; 2] = [192, 512];

/// `GET /manifest.webmanifest`.
pub(crate) async fn manifest() -> Response {
    let icons: Vec<serde_json::Value> = ICON_SIZES
        .iter()
        .flat_map(|size| {
            ["any", "maskable"].map(|purpose| {
                serde_json::json!({
                    "src": format!("/static/icon-{size}.png"),
                    "sizes": format!("{size}x{size}"),
                    "type": "image/png",
                    "purpose": purpose,
                })
            })
        })
        .collect();
    let body = serde_json::json!({
        "name": "Ledgerly",
        "short_name": "Ledgerly",
        "description": "Your expenses and receipts, on your own server.",
        "id": "/dashboard",
        "start_url": "/dashboard",
        "scope": "/",
        "display": "standalone",
        "background_color": "#0b0f17",
        "theme_color": "#3450cc",
        "icons": icons,
        "share_target": {
            "action": "/share",
            "method": "POST",
            "enctype": "multipart/form-data",
            "params": {
                "title": "title",
                "text": "text",
                "files": [{
                    "name": "file",
                    "accept": ["image/jpeg", "image/png", "image/webp", "image/heic", ".heic",
                               "application/pdf"],
                }],
            },
        },
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The icon at `size` px square: the logo's diamond on the accent colour, with the margin a
/// maskable icon needs (the middle 80% is safe). Drawn once per size.
fn icon(size: u32) -> &'static [u8] {
    static ICONS: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = usize::from(size != ICON_SIZES[0]);
    ICONS[slot].get_or_init(|| {
        let accent = image::Rgba([0x34, 0x50, 0xcc, 0xff]);
        let white = image::Rgba([0xff, 0xff, 0xff, 0xff]);
        let centre = size as f32 / 2.0;
        let reach = size as f32 * 0.28;
        let image = image::RgbaImage::from_fn(size, size, |x, y| {
            let distance = (x as f32 + 0.5 - centre).abs() + (y as f32 + 0.5 - centre).abs();
            if distance <= reach { white } else { accent }
        });
        let mut bytes = Vec::new();
        // Encoding a small image in memory cannot fail; an empty body would show as no icon.
        image::DynamicImage::ImageRgba8(image)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .ok();
        bytes
    })
}

/// `GET /static/icon-192.png`.
pub(crate) async fn icon_192() -> Response {
    png(icon(192))
}

/// `GET /static/icon-512.png`.
pub(crate) async fn icon_512() -> Response {
    png(icon(512))
}

fn png(bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}

/// The service worker: keeps the offline page and the stylesheet, and answers a page that cannot
/// be fetched with the offline page. Nothing else is cached: every page is the server's, fresh.
const SERVICE_WORKER: &str = include_str!("assets/sw.js");

/// `GET /sw.js`: at the root, so its scope is the whole site.
pub(crate) async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SERVICE_WORKER,
    )
        .into_response()
}

/// `GET /offline`: what the service worker shows when a page cannot be reached.
pub(crate) async fn offline() -> Response {
    let body = html! {
        section.card.offline {
            h1 { "You are offline" }
            p { "Ledgerly cannot reach its server from here. Your data is safe on the server; "
                "reconnect and reload the page." }
            p { a.button href="/dashboard" { "Try again" } }
        }
    };
    layout::page("Offline", None, Section::Home, body).into_response()
}

/// `POST /share`: a file (or several) shared to the installed app from another app is uploaded
/// as if chosen on the dashboard. The phone's share sheet sends no CSRF token, so the request
/// must say it was not made by another site: `Sec-Fetch-Site: none` (the browser's own, as a
/// share is) or `same-origin`. Anything else, or a browser that does not say, is refused.
pub(crate) async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !matches!(site, "none" | "same-origin") {
        return failure(ApiError::Forbidden {
            code: "share_refused",
            message: "a share must come from the phone's share sheet or this site".into(),
        });
    }
    super::receipts::upload_files(&state, &user, multipart, super::receipts::Via::Share).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icons_are_pngs_of_their_size() {
        for size in ICON_SIZES {
            let decoded = image::load_from_memory(icon(size)).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (size, size));
        }
    }

    #[test]
    fn the_status_code_of_an_offline_page_is_ok() {
        let response = tokio_test_block(offline());
        assert_eq!(response.status(), axum::http::StatusCode::OK);
    }

    fn tokio_test_block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }
}
