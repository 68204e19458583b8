//! Signed OCR results: a good one becomes an expense needing review; forged, stale and replayed
//! ones are refused and change nothing.

use chrono::Utc;
use ledgerly_core::callback::{self, CallbackOutcome, OcrCallback};
use ledgerly_core::{Currency, ReceiptId, ReceiptKind, Unsure, UserId};
use ledgerly_store::OCR_TEXT_MAX_CHARS;
use ledgerly_store::testing::{Backend, receipt_ocr_text};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const SECRET: &str = "test-secret-of-at-least-32-characters!";

on_both_backends!(
    a_signed_result_becomes_an_expense_needing_review_that_the_owner_confirms,
    a_receipt_read_as_an_expense_the_account_has_names_it_for_review,
    forged_stale_and_replayed_results_are_refused_and_change_nothing,
    a_failure_report_shows_on_the_receipt,
    the_longest_text_fits_the_callback_whatever_the_json_limit,
);

/// What the Lambda read off the receipt `read` reports.
const SLIP: &str = "RELIANCE FRESH\nTotal 1234.50";

/// Where `owner`'s receipt `receipt` is stored (a PNG).
fn key(owner: &Session, receipt: ReceiptId) -> String {
    ledgerly_store::objects::receipt_key(user_id(owner), receipt, ReceiptKind::Png)
}

fn read(owner: &Session, receipt: ReceiptId, amount: &str) -> Vec<u8> {
    read_from(receipt, &key(owner, receipt), amount)
}

fn read_from(receipt: ReceiptId, object_key: &str, amount: &str) -> Vec<u8> {
    read_with_text(receipt, object_key, amount, SLIP)
}

fn read_with_text(receipt: ReceiptId, object_key: &str, amount: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&OcrCallback::new(
        receipt,
        object_key.to_owned(),
        CallbackOutcome::Read {
            vendor: "Reliance Fresh".into(),
            date: "2026-05-02".parse().unwrap(),
            amount: amount.into(),
            currency: Currency::INR,
            unsure: Unsure {
                date: true,
                ..Unsure::default()
            },
            text: Some(text.to_owned()),
        },
    ))
    .unwrap()
}

fn user_id(session: &Session) -> UserId {
    session.user["id"].as_str().unwrap().parse().unwrap()
}

async fn post(app: &TestApp, body: &[u8], timestamp: i64, signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/internal/ocr-results"))
        .header("content-type", "application/json")
        .header(callback::TIMESTAMP_HEADER, timestamp.to_string())
        .header(callback::SIGNATURE_HEADER, signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn signed(app: &TestApp, body: &[u8]) -> reqwest::Response {
    let now = Utc::now().timestamp();
    post(
        app,
        body,
        now,
        &callback::sign(SECRET.as_bytes(), now, body),
    )
    .await
}

async fn spawn(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.ocr.callback_secret = SECRET.into()).await
}

async fn receipt(app: &TestApp, token: &str) -> ReceiptId {
    let body = expect(
        // Each a file of its own: the very same file twice is refused.
        app.upload(
            token,
            png(&format!("scan {}", uuid::Uuid::new_v4())),
            "scan.png",
            None,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn a_signed_result_becomes_an_expense_needing_review_that_the_owner_confirms(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let id = receipt(&app, t).await;
    expect(
        signed(&app, &read(&priya, id, "1234.50")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let shown = expect(
        app.get(&format!("/api/v1/receipts/{id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "done");
    assert_eq!(
        shown["unsure"],
        json!({ "vendor": false, "date": true, "amount": false }),
        "what OCR was unsure of is shown with the receipt"
    );
    assert_eq!(
        receipt_ocr_text(&app.db.store, user_id(&priya), id)
            .await
            .as_deref(),
        Some(SLIP),
        "the text read is kept with the receipt, for search"
    );
    let expense_id = shown["expense_id"].as_str().unwrap();
    let expense = expect(
        app.get(&format!("/api/v1/expenses/{expense_id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            expense["amount"].as_str(),
            expense["needs_review"].as_bool()
        ),
        (Some("1234.50"), Some(true))
    );
    assert_eq!(expense["vendor"], "Reliance Fresh");
    assert_eq!(expense["receipt_id"], id.to_string());
    let to_review = expect(
        app.get("/api/v1/expenses?needs_review=true", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(to_review["total"], 1);
    // The receipt's words find its expense: "total" is only in the text read.
    let searched = expect(
        app.get("/api/v1/expenses?q=TOTAL%201234", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(searched["total"], 1, "{searched}");
    assert_eq!(searched["items"][0]["id"], expense_id);
    // The same result sent again later (newly signed: a retry, not a replay) is harmless.
    let later = Utc::now().timestamp() + 1;
    let body = read(&priya, id, "1234.50");
    let resent = post(
        &app,
        &body,
        later,
        &callback::sign(SECRET.as_bytes(), later, &body),
    )
    .await;
    expect(resent, StatusCode::NO_CONTENT).await;
    // Sent twice in one second (a Lambda event delivered again): two deliveries, not a replay.
    let now = Utc::now().timestamp();
    for _ in 0..2 {
        let body = read(&priya, id, "1234.50");
        let sent = post(
            &app,
            &body,
            now,
            &callback::sign(SECRET.as_bytes(), now, &body),
        )
        .await;
        expect(sent, StatusCode::NO_CONTENT).await;
    }
    let confirmed = expect(
        app.post_json(
            &format!("/api/v1/expenses/{expense_id}/confirm"),
            Some(t),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(confirmed["needs_review"], false);
    app.stop().await;
}

async fn a_receipt_read_as_an_expense_the_account_has_names_it_for_review(backend: Backend) {
    let app = spawn(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    // Entered by hand first, as the slip reads: same day, amount and vendor (another spelling).
    let by_hand = app
        .create_expense(
            t,
            json!({"date": "2026-05-02", "category": "food", "vendor": "RELIANCE FRESH.",
                   "amount": "1234.50"}),
        )
        .await;
    let elsewhere = app
        .create_expense(
            t,
            json!({"date": "2026-05-02", "category": "food", "vendor": "Reliance Fresh",
                   "amount": "99.00"}),
        )
        .await;
    let id = receipt(&app, t).await;
    expect(
        signed(&app, &read(&priya, id, "1234.50")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let shown = expect(
        app.get(&format!("/api/v1/receipts/{id}"), t).await,
        StatusCode::OK,
    )
    .await;
    let read_id = shown["expense_id"].as_str().unwrap().to_owned();
    let read = expect(
        app.get(&format!("/api/v1/expenses/{read_id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["needs_review"], true);
    assert_eq!(
        read["possible_duplicates"],
        json!([by_hand["id"]]),
        "{read}"
    );
    // A confirmed expense names none; lists carry no such field.
    let confirmed = expect(
        app.get(
            &format!("/api/v1/expenses/{}", elsewhere["id"].as_str().unwrap()),
            t,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        confirmed.get("possible_duplicates").is_none(),
        "{confirmed}"
    );
    let list = expect(app.get("/api/v1/expenses", t).await, StatusCode::OK).await;
    assert!(
        list["items"][0].get("possible_duplicates").is_none(),
        "{list}"
    );

    // Once the one entered by hand is deleted, nothing is named.
    let response = app
        .delete(
            &format!("/api/v1/expenses/{}", by_hand["id"].as_str().unwrap()),
            t,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let read = expect(
        app.get(&format!("/api/v1/expenses/{read_id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["possible_duplicates"], json!([]), "{read}");
    app.stop().await;
}

async fn forged_stale_and_replayed_results_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let priya = app.register("priya@example.com").await;
    let id = receipt(&app, &priya.token).await;
    let body = read(&priya, id, "99.00");
    let now = Utc::now().timestamp();
    let good = callback::sign(SECRET.as_bytes(), now, &body);
    let cases: Vec<(i64, String, &str)> = vec![
        (
            now,
            callback::sign(b"a different secret of 32+ characters", now, &body),
            "forged",
        ),
        (now, good.replace("v1=", "v2="), "unknown scheme"),
        // A minute beyond the five-minute window either way, so the seconds this test takes
        // (the server's clock moves on while it runs) cannot bring one back inside.
        (
            now - 360,
            callback::sign(SECRET.as_bytes(), now - 360, &body),
            "stale",
        ),
        (
            now + 360,
            callback::sign(SECRET.as_bytes(), now + 360, &body),
            "from the future",
        ),
        (now + 1, good.clone(), "timestamp changed after signing"),
        (
            i64::MIN,
            callback::sign(SECRET.as_bytes(), i64::MIN, &body),
            "at the start of time",
        ),
        (
            i64::MAX,
            callback::sign(SECRET.as_bytes(), i64::MAX, &body),
            "at the end of time",
        ),
    ];
    for (timestamp, signature, what) in cases {
        let response = post(&app, &body, timestamp, &signature).await;
        let error = expect(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(error["error"]["code"], "signature_refused", "{what}");
    }
    let tampered = read(&priya, id, "99999.00");
    assert_eq!(
        post(&app, &tampered, now, &good).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let unsigned = app
        .client
        .post(app.url("/internal/ocr-results"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    // Nothing happened.
    let shown = expect(
        app.get(&format!("/api/v1/receipts/{id}"), &priya.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (shown["status"].as_str(), shown["expense_id"].is_null()),
        (Some("pending"), true)
    );
    // A result naming one receipt with another's file is refused: it applies only to the
    // receipt stored under the object that was read.
    let other = receipt(&app, &priya.token).await;
    expect_error(
        signed(&app, &read_from(id, &key(&priya, other), "99.00")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "object_key",
    )
    .await;
    // The genuine request works once; its replay is refused, with the signature's hex in upper
    // case too (the same MAC).
    expect(post(&app, &body, now, &good).await, StatusCode::NO_CONTENT).await;
    assert_eq!(
        post(&app, &body, now, &good).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let shouted = format!("v1={}", good[3..].to_uppercase());
    assert_ne!(shouted, good);
    assert_eq!(
        post(&app, &body, now, &shouted).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Signed but wrong: an unknown receipt is 404, a bad amount 422.
    expect_error(
        signed(&app, &read(&priya, ReceiptId::new(), "1.00")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "receipt",
    )
    .await;
    expect_error(
        signed(&app, &read(&priya, id, "12.345")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "amount",
    )
    .await;
    expect_error(
        signed(&app, b"{\"receipt_id\": 5}").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "does not fit",
    )
    .await;
    app.stop().await;
}

async fn a_failure_report_shows_on_the_receipt(backend: Backend) {
    let app = spawn(backend).await;
    let priya = app.register("priya@example.com").await;
    let id = receipt(&app, &priya.token).await;
    let body = serde_json::to_vec(&OcrCallback::new(
        id,
        key(&priya, id),
        CallbackOutcome::Failed {
            reason: "the photo is too dark to read".into(),
        },
    ))
    .unwrap();
    expect(signed(&app, &body).await, StatusCode::NO_CONTENT).await;
    let shown = expect(
        app.get(&format!("/api/v1/receipts/{id}"), &priya.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (shown["status"].as_str(), shown["failure_reason"].as_str()),
        (Some("failed"), Some("the photo is too dark to read"))
    );
    app.stop().await;
}

/// The callback's body outgrows a small `limits.max_json_bytes` when the text is long: the
/// route takes it anyway, even with every character escaped to six bytes.
async fn the_longest_text_fits_the_callback_whatever_the_json_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ocr.callback_secret = SECRET.into();
        s.limits.max_json_bytes = 64 * 1024;
    })
    .await;
    let priya = app.register("priya@example.com").await;
    let id = receipt(&app, &priya.token).await;
    let text = "\u{1}".repeat(OCR_TEXT_MAX_CHARS);
    let body = read_with_text(id, &key(&priya, id), "350.00", &text);
    assert!(body.len() > 6 * OCR_TEXT_MAX_CHARS, "{}", body.len());
    expect(signed(&app, &body).await, StatusCode::NO_CONTENT).await;
    assert_eq!(
        receipt_ocr_text(&app.db.store, user_id(&priya), id).await,
        Some(text)
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_secret_the_route_does_not_exist() {
    let app = spawn_app(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/internal/ocr-results"))
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found", "route").await;
    app.stop().await;
}
