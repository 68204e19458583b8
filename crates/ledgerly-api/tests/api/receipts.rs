use ledgerly_core::ReceiptId;
use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    an_upload_is_stored_privately_under_a_server_chosen_key_and_queued_for_ocr,
    uploads_are_checked_by_content_size_and_fields,
    the_same_file_twice_is_refused_naming_the_first,
    a_receipt_is_listed_retried_and_deleted_with_its_file,
    deleting_the_account_deletes_its_receipt_files,
    another_users_receipts_are_404,
);

async fn an_upload_is_stored_privately_under_a_server_chosen_key_and_queued_for_ocr(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let bytes = png("first");
    let response = app
        .upload(t, bytes.clone(), "../../IMG 0001.PNG", Some("work"))
        .await;
    let body = expect(response, StatusCode::ACCEPTED).await;
    assert_eq!(body["status"], "pending");
    assert_eq!(body["kind"], "png");
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["original_filename"], "IMG 0001.PNG");
    assert_eq!(body["size_bytes"], bytes.len());
    assert!(body.get("duplicate_of").is_none(), "{body}");
    assert!(body["category_id"].is_string());
    let id: ReceiptId = body["id"].as_str().unwrap().parse().unwrap();
    let user: ledgerly_core::UserId = priya.user["id"].as_str().unwrap().parse().unwrap();
    // The file sits under receipts/<user>/<receipt>.png — the client's name plays no part.
    let stored = app
        .settings
        .storage
        .path
        .join(format!("receipts/{user}/{id}.png"));
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
    // OCR has its job.
    let job = app.db.store.get_ocr_job(user, id).await.unwrap().unwrap();
    assert_eq!(job.state, ledgerly_store::JobState::Queued);
    assert_eq!(job.max_attempts, app.settings.ocr.max_attempts.get());
    // The owner gets the image, typed and not sniffable.
    let image = app.get(body["image_url"].as_str().unwrap(), t).await;
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.headers()["x-content-type-options"], "nosniff");
    assert_eq!(image.bytes().await.unwrap().to_vec(), bytes);
    app.stop().await;
}

async fn uploads_are_checked_by_content_size_and_fields(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.storage.max_upload_bytes = std::num::NonZeroUsize::new(2_000).unwrap();
    })
    .await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let gif = app
        .upload(t, b"GIF89a....".to_vec(), "receipt.png", None)
        .await;
    expect_error(
        gif,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "JPEG, PNG, WebP, HEIC or PDF",
    )
    .await;
    let html = app
        .upload(
            t,
            b"<html><script>alert(1)</script>".to_vec(),
            "receipt.jpg",
            None,
        )
        .await;
    assert_eq!(html.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut big = png("big");
    big.resize(2_001, 0);
    expect_error(
        app.upload(t, big, "big.png", None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "limit of 2.0 kB",
    )
    .await;
    // Well past the limit, but within the multipart allowance, so the whole body arrives and
    // the answer is the app's own. (Past the allowance the server may close the connection
    // before the client has finished sending, and the client sees a reset, not the 413.)
    let mut bigger = png("bigger");
    bigger.resize(40_000, 0);
    expect_error(
        app.upload(t, bigger, "bigger.png", None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "larger than the limit",
    )
    .await;
    expect_error(
        app.upload(t, Vec::new(), "empty.png", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "empty",
    )
    .await;
    expect_error(
        app.upload(t, png("x"), "x.png", Some("no-such-category"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "no category",
    )
    .await;
    let no_file = app
        .client
        .post(app.url("/api/v1/receipts"))
        .bearer_auth(t)
        .multipart(reqwest::multipart::Form::new().text("category", "food"))
        .send()
        .await
        .unwrap();
    expect_error(
        no_file,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "no file",
    )
    .await;
    let extra = app
        .client
        .post(app.url("/api/v1/receipts"))
        .bearer_auth(t)
        .multipart(reqwest::multipart::Form::new().text("user_id", "someone-else"))
        .send()
        .await
        .unwrap();
    expect_error(
        extra,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "user_id",
    )
    .await;
    let json_body = app
        .post_json("/api/v1/receipts", Some(t), &json!({ "file": "x" }))
        .await;
    expect_error(
        json_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "multipart/form-data",
    )
    .await;
    // Nothing refused was kept.
    let list = expect(app.get("/api/v1/receipts", t).await, StatusCode::OK).await;
    assert_eq!(list["total"], 0);
    let files = walk(&app.settings.storage.path);
    assert!(files.is_empty(), "{files:?}");
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".ready")
        })
        .collect()
}

async fn the_same_file_twice_is_refused_naming_the_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let first = expect(
        app.upload(t, png("same"), "a.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    expect(
        app.upload(t, png("other"), "b.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let refused = expect_error(
        app.upload(t, png("same"), "c.png", None).await,
        StatusCode::CONFLICT,
        "duplicate_receipt",
        &format!("/api/v1/receipts/{first_id}"),
    )
    .await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("delete that receipt to upload it again"),
        "{refused}"
    );
    // Nothing was kept: two receipts, two files.
    let listed = expect(app.get("/api/v1/receipts", t).await, StatusCode::OK).await;
    assert_eq!(listed["total"], 2, "{listed}");
    let user = priya.user["id"].as_str().unwrap();
    let files = std::fs::read_dir(app.settings.storage.path.join(format!("receipts/{user}")))
        .unwrap()
        .count();
    assert_eq!(files, 2);

    // Another user's identical file is not theirs to know about.
    let ravi = app.register("ravi@example.com").await;
    expect(
        app.upload(&ravi.token, png("same"), "d.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;

    // Once the first is deleted, the file may come again.
    let response = app.delete(&format!("/api/v1/receipts/{first_id}"), t).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect(
        app.upload(t, png("same"), "e.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    app.stop().await;
}

async fn a_receipt_is_listed_retried_and_deleted_with_its_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let first = expect(
        app.upload(t, png("1"), "1.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let second = expect(
        app.upload(t, png("2"), "2.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let list = expect(
        app.get("/api/v1/receipts?per_page=1", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["id"], second["id"]);
    expect_error(
        app.get("/api/v1/receipts?page=0", t).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "page",
    )
    .await;
    let path = format!("/api/v1/receipts/{}", first["id"].as_str().unwrap());
    let shown = expect(app.get(&path, t).await, StatusCode::OK).await;
    assert_eq!(shown["id"], first["id"]);

    // A failed scan can be run again.
    let claimed = app
        .db
        .store
        .claim_ocr_job("test", chrono::Duration::seconds(60), chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    app.db
        .store
        .fail_ocr_job(&claimed, "the image is too blurry to read", None)
        .await
        .unwrap();
    let failed = expect(
        app.get(&format!("/api/v1/receipts/{}", claimed.receipt.id), t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (failed["status"].as_str(), failed["failure_reason"].as_str()),
        (Some("failed"), Some("the image is too blurry to read"))
    );
    let retried = app
        .post_json(
            &format!("/api/v1/receipts/{}/retry", claimed.receipt.id),
            Some(t),
            &json!({}),
        )
        .await;
    let retried = expect(retried, StatusCode::ACCEPTED).await;
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["failure_reason"], serde_json::Value::Null);

    let user: ledgerly_core::UserId = priya.user["id"].as_str().unwrap().parse().unwrap();
    let file = app.settings.storage.path.join(format!(
        "receipts/{user}/{}.png",
        first["id"].as_str().unwrap()
    ));
    assert!(file.exists());
    expect(app.delete(&path, t).await, StatusCode::NO_CONTENT).await;
    assert!(!file.exists(), "the file goes with the receipt");
    expect_error(
        app.get(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "receipt",
    )
    .await;
    expect_error(
        app.get(&format!("{path}/image"), t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "receipt",
    )
    .await;
    app.stop().await;
}

async fn deleting_the_account_deletes_its_receipt_files(backend: Backend) {
    let app = spawn_app(backend).await;
    // Ravi is the first account, the administrator who stays.
    let ravi = app.register("ravi@example.com").await;
    let priya = app.register("priya@example.com").await;
    expect(
        app.upload(&priya.token, png("p1"), "1.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    expect(
        app.upload(&priya.token, png("p2"), "2.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    expect(
        app.upload(&ravi.token, png("r1"), "1.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(walk(&app.settings.storage.path).len(), 3);
    let deleted = app
        .send(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&priya.token),
            Some(&json!({ "password": "correct horse" })),
        )
        .await;
    expect(deleted, StatusCode::NO_CONTENT).await;
    let left = walk(&app.settings.storage.path);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        left[0]
            .to_string_lossy()
            .contains(ravi.user["id"].as_str().unwrap())
    );
    app.stop().await;
}

async fn another_users_receipts_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let ravi = app.register("ravi@example.com").await;
    let receipt = expect(
        app.upload(&priya.token, png("mine"), "m.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let path = format!("/api/v1/receipts/{}", receipt["id"].as_str().unwrap());
    for (method, path) in [
        (reqwest::Method::GET, path.clone()),
        (reqwest::Method::GET, format!("{path}/image")),
        (reqwest::Method::POST, format!("{path}/retry")),
        (reqwest::Method::DELETE, path.clone()),
    ] {
        let response = app
            .send(method.clone(), &path, Some(&ravi.token), None)
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {path}");
        let anonymous = app.send(method.clone(), &path, None, None).await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    assert_eq!(
        expect(
            app.get("/api/v1/receipts", &ravi.token).await,
            StatusCode::OK
        )
        .await["total"],
        0
    );
    let anonymous_upload = app
        .client
        .post(app.url("/api/v1/receipts"))
        .multipart(
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(png("x"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_upload.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        expect(app.get(&path, &priya.token).await, StatusCode::OK).await["id"],
        receipt["id"]
    );
    app.stop().await;
}
