//! What makes the dashboard a phone app: the manifest (standalone, icons, a share target), the
//! icons themselves, the service worker and its offline page; and the share target, which takes
//! files shared from another app with the session's cookie but only when the browser says no
//! other site sent them.

use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::helpers::*;

on_both_backends!(
    the_manifest_icons_and_service_worker_make_it_installable,
    a_share_uploads_its_files_only_from_the_share_sheet_or_the_site,
);

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn the_manifest_icons_and_service_worker_make_it_installable(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/manifest.webmanifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/manifest+json"
    );
    let manifest: Value = response.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["start_url"], "/dashboard");
    assert_eq!(manifest["share_target"]["action"], "/share");
    assert_eq!(manifest["share_target"]["method"], "POST");
    assert_eq!(manifest["share_target"]["enctype"], "multipart/form-data");
    assert_eq!(
        manifest["share_target"]["params"]["files"][0]["name"],
        "file"
    );
    for icon in manifest["icons"].as_array().unwrap() {
        let size: u32 = icon["sizes"]
            .as_str()
            .unwrap()
            .split('x')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = app
            .client
            .get(app.url(icon["src"].as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let image = image::load_from_memory(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), (size, size), "{icon}");
    }
    let sizes: Vec<&str> = manifest["icons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sizes"].as_str().unwrap())
        .collect();
    assert!(
        sizes.contains(&"192x192") && sizes.contains(&"512x512"),
        "{sizes:?}"
    );

    let worker = app.client.get(app.url("/sw.js")).send().await.unwrap();
    assert_eq!(worker.status(), StatusCode::OK);
    assert!(
        worker.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(worker.text().await.unwrap().contains("/offline"));
    let offline = app.client.get(app.url("/offline")).send().await.unwrap();
    assert_eq!(offline.status(), StatusCode::OK);
    let csp = offline.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("manifest-src 'self'") && csp.contains("worker-src 'self'"),
        "{csp}"
    );
    assert!(offline.text().await.unwrap().contains("You are offline"));
    app.stop().await;
}

async fn a_share_uploads_its_files_only_from_the_share_sheet_or_the_site(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let cookie = format!("ledgerly_session={}", priya.token);
    let share = |site: Option<&str>, cookie: Option<&str>, files: &[&str]| {
        let mut form = Form::new()
            .text("title", "Receipt")
            .text("text", "from the gallery");
        for tag in files {
            form = form.part(
                "file",
                Part::bytes(png(tag)).file_name(format!("{tag}.png")),
            );
        }
        let mut request = no_redirects().post(app.url("/share")).multipart(form);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request.send()
    };

    // Another site posting into the account, or a browser that does not say: refused.
    for site in [Some("cross-site"), Some("same-site"), None] {
        let response = share(site, Some(&cookie), &["forged"]).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{site:?}");
        assert!(response.text().await.unwrap().contains("share sheet"));
    }
    // Not signed in: to the landing page, nothing kept.
    let response = share(Some("none"), None, &["anonymous"]).await.unwrap();
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/");
    let listed = expect(
        app.get("/api/v1/receipts", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["total"], 0, "{listed}");

    // From the share sheet: one photo opens it being read; two go to the receipts page.
    let response = share(Some("none"), Some(&cookie), &["one"]).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/dashboard?receipt="), "{location}");
    let response = share(Some("none"), Some(&cookie), &["two", "three"])
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/receipts?done=uploaded");
    // The same photo shared again is left out, and said so.
    let response = share(Some("same-origin"), Some(&cookie), &["three", "four"])
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "/receipts?done=uploaded-with-duplicates"
    );
    let listed = expect(
        app.get("/api/v1/receipts", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["total"], 4, "{listed}");

    // A file that is not a receipt among several refuses them all, named; nothing is kept.
    let form = Form::new()
        .part("file", Part::bytes(png("five")).file_name("five.png"))
        .part(
            "file",
            Part::bytes(b"just text".to_vec()).file_name("notes.txt"),
        );
    let response = no_redirects()
        .post(app.url("/share"))
        .header("sec-fetch-site", "none")
        .header("cookie", cookie.clone())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("notes.txt"));
    let listed = expect(
        app.get("/api/v1/receipts", &priya.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["total"], 4, "{listed}");

    // The API takes one file per request.
    let form = Form::new()
        .part("file", Part::bytes(png("six")).file_name("six.png"))
        .part("file", Part::bytes(png("seven")).file_name("seven.png"));
    let response = app
        .client
        .post(app.url("/api/v1/receipts"))
        .bearer_auth(&priya.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "one file per request",
    )
    .await;
    app.stop().await;
}
