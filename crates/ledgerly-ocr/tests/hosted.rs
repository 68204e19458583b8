//! The Gemini and OpenAI-compatible backends against local test doubles that check each request
//! the way the real APIs do — path, key, MIME type, schema, temperature — and replay realistic
//! replies: good JSON, JSON in code fences, missing fields, nulls, numbers as strings, 429 then
//! success, 500 until the backend gives up, a reply slower than the timeout.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use chrono::NaiveDate;
use ledgerly_core::{Currency, Money, ReceiptKind};
use ledgerly_ocr::backends::HttpOptions;
use ledgerly_ocr::backends::gemini::{Gemini, GeminiOptions};
use ledgerly_ocr::backends::openai::{OpenAi, OpenAiOptions};
use ledgerly_ocr::{ExtractError, Extractor, Hints};
use serde_json::{Value, json};

const KEY: &str = "test-key-0123456789";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-a receipt-";

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    /// The model's text, wrapped in the API's reply envelope.
    Model(String),
    /// An error status with the API's error body.
    Error(u16, &'static str),
    /// Answers only after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Double {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<(String, HeaderMap, Value)>>,
}

impl Double {
    fn script(&self, replies: Vec<Reply>) {
        *self.replies.lock().unwrap() = replies.into();
    }

    fn requests(&self) -> Vec<(String, HeaderMap, Value)> {
        self.requests.lock().unwrap().clone()
    }
}

fn api_error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (
        status,
        Json(
            json!({ "error": { "code": status.as_u16(), "message": message, "status": "ERROR" } }),
        ),
    )
        .into_response()
}

async fn answer(double: &Double, envelope: impl Fn(&str) -> Value) -> Response {
    let reply = double.replies.lock().unwrap().pop_front();
    match reply {
        Some(Reply::Model(text)) => Json(envelope(&text)).into_response(),
        Some(Reply::Error(status, message)) => api_error(status, message),
        Some(Reply::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            Json(envelope("{}")).into_response()
        }
        None => api_error(500, "the test double has no more replies"),
    }
}

/// Checks a Gemini `generateContent` request as the real API would.
async fn gemini(
    State(double): State<Arc<Double>>,
    Path(model_action): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    double
        .requests
        .lock()
        .unwrap()
        .push((model_action.clone(), headers.clone(), body.clone()));
    let Some(model) = model_action.strip_suffix(":generateContent") else {
        return api_error(404, "unknown method");
    };
    if model != "gemini-test" {
        return api_error(404, "models/unknown is not found");
    }
    if headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return api_error(403, "API key not valid. Please pass a valid API key.");
    }
    let inline = &body["contents"][0]["parts"][0]["inline_data"];
    let Ok(data) =
        base64::engine::general_purpose::STANDARD.decode(inline["data"].as_str().unwrap_or(""))
    else {
        return api_error(
            400,
            "Invalid value at 'contents[0].parts[0].inline_data.data'",
        );
    };
    let mime = inline["mime_type"].as_str().unwrap_or("");
    let sniffed = ReceiptKind::sniff(&data).map(ReceiptKind::mime_type);
    if sniffed != Some(mime) {
        return api_error(400, "Unable to process input image");
    }
    let config = &body["generationConfig"];
    if config["temperature"] != json!(0)
        || config["responseMimeType"] != "application/json"
        || config["responseSchema"]["type"] != "OBJECT"
        || config["responseSchema"]["properties"]["total"]["type"] != "STRING"
    {
        return api_error(400, "Invalid generationConfig");
    }
    if !body["contents"][0]["parts"][1]["text"]
        .as_str()
        .is_some_and(|t| t.contains("total"))
    {
        return api_error(400, "the prompt is missing");
    }
    answer(&double, |text| {
        json!({
            "candidates": [{
                "content": { "parts": [{ "text": text }], "role": "model" },
                "finishReason": "STOP",
                "index": 0
            }],
            "usageMetadata": { "promptTokenCount": 1290, "candidatesTokenCount": 60 },
            "modelVersion": "gemini-test"
        })
    })
    .await
}

/// Checks a chat-completions request as an OpenAI-compatible server would.
async fn openai(
    State(double): State<Arc<Double>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    double.requests.lock().unwrap().push((
        "chat/completions".into(),
        headers.clone(),
        body.clone(),
    ));
    if let Some(auth) = headers.get("authorization")
        && auth.to_str().ok() != Some(&format!("Bearer {KEY}"))
    {
        return api_error(401, "Incorrect API key provided");
    }
    if body["model"] != "vision-test" {
        return api_error(404, "The model `x` does not exist");
    }
    let url = body["messages"][1]["content"][1]["image_url"]["url"]
        .as_str()
        .unwrap_or("");
    let Some((mime, data)) = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    else {
        return api_error(400, "Invalid image URL");
    };
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap_or_default();
    let sniffed = ReceiptKind::sniff(&data).map(ReceiptKind::mime_type);
    if sniffed != Some(mime) || !["image/png", "image/jpeg", "image/webp"].contains(&mime) {
        return api_error(400, "You uploaded an unsupported image.");
    }
    let format = &body["response_format"];
    if format["type"] != "json_schema"
        || format["json_schema"]["strict"] != true
        || format["json_schema"]["schema"]["additionalProperties"] != false
        || body["temperature"] != json!(0)
    {
        return api_error(400, "Invalid response_format");
    }
    answer(&double, |text| {
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "vision-test",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": text, "refusal": null },
                "finish_reason": "stop"
            }]
        })
    })
    .await
}

async fn start() -> (String, Arc<Double>) {
    let double = Arc::new(Double::default());
    let app = axum::Router::new()
        .route("/v1beta/models/{model_action}", post(gemini))
        .route("/v1/chat/completions", post(openai))
        .with_state(double.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, double)
}

fn http() -> HttpOptions {
    HttpOptions {
        timeout: Duration::from_millis(500),
        max_retries: 2,
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(50),
    }
}

fn gemini_backend(url: &str, key: &str) -> Gemini {
    Gemini::new(GeminiOptions {
        api_key: key.into(),
        model: "gemini-test".into(),
        base_url: url.into(),
        http: http(),
    })
    .unwrap()
}

fn openai_backend(url: &str, key: &str) -> OpenAi {
    OpenAi::new(OpenAiOptions {
        api_key: key.into(),
        model: "vision-test".into(),
        base_url: format!("{url}/v1"),
        http: http(),
    })
    .unwrap()
}

fn hints() -> Hints {
    Hints::new(
        Currency::INR,
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
    )
}

fn inr(text: &str) -> Money {
    Money::from_decimal_str(text, Currency::INR).unwrap()
}

const GOOD: &str = r#"{"vendor": "Blue Tokai Coffee", "date": "20/11/2026", "total": "₹1,05,000.50", "currency": "INR", "line_items": [{"description": "Pour over", "amount": "450.00"}], "confidence": {"vendor": 95, "date": 90, "total": 88}}"#;

#[tokio::test]
async fn gemini_reads_a_good_reply_and_sends_what_the_api_expects() {
    let (url, double) = start().await;
    double.script(vec![Reply::Model(GOOD.into())]);
    let fields = gemini_backend(&url, KEY)
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!(fields.vendor.as_deref(), Some("Blue Tokai Coffee"));
    assert_eq!(fields.date, NaiveDate::from_ymd_opt(2026, 11, 20));
    assert_eq!(fields.total, Some(inr("105000.50")));
    assert_eq!(fields.confidence.total, Some(88));
    assert_eq!(fields.line_items.len(), 1);
    assert!(fields.raw.contains("candidates"), "the raw reply is kept");
    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "gemini-test:generateContent");
}

#[tokio::test]
async fn gemini_sends_heic_and_pdf_as_they_are() {
    let (url, double) = start().await;
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    let pdf = b"%PDF-1.7\n...".to_vec();
    double.script(vec![Reply::Model(GOOD.into()), Reply::Model(GOOD.into())]);
    let backend = gemini_backend(&url, KEY);
    backend
        .extract(&heic, ReceiptKind::Heic, &hints())
        .await
        .unwrap();
    backend
        .extract(&pdf, ReceiptKind::Pdf, &hints())
        .await
        .unwrap();
    let mimes: Vec<String> = double
        .requests()
        .iter()
        .map(|(_, _, body)| {
            body["contents"][0]["parts"][0]["inline_data"]["mime_type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(mimes, ["image/heic", "application/pdf"]);
}

#[tokio::test]
async fn replies_in_fences_with_nulls_missing_fields_and_numbers_are_read() {
    let (url, double) = start().await;
    double.script(vec![
        Reply::Model(format!("```json\n{GOOD}\n```")),
        Reply::Model(r#"{"vendor": null, "date": "None", "total": 1234.5}"#.into()),
        Reply::Model(r#"{"vendor": "Chai Point", "total": "450", "currency": "INR", "confidence": {"total": 0.7}}"#.into()),
        Reply::Model(r#"{"vendor": "Far Future", "date": "2031-01-01", "total": "0.00"}"#.into()),
    ]);
    let backend = gemini_backend(&url, KEY);
    let fenced = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!(fenced.total, Some(inr("105000.50")));
    let sparse = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!((sparse.vendor, sparse.date), (None, None));
    assert_eq!(sparse.total, Some(inr("1234.50")));
    assert!(sparse.problems.is_empty(), "{:?}", sparse.problems);
    let partial = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!(partial.total, Some(inr("450.00")));
    assert_eq!(partial.confidence.total, Some(70));
    let implausible = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!((implausible.date, implausible.total), (None, None));
    assert_eq!(implausible.problems.len(), 2, "{:?}", implausible.problems);
}

#[tokio::test]
async fn a_rate_limit_is_retried_and_a_persistent_500_gives_up_as_transient() {
    let (url, double) = start().await;
    double.script(vec![
        Reply::Error(429, "Resource has been exhausted (e.g. check quota)."),
        Reply::Model(GOOD.into()),
    ]);
    let backend = gemini_backend(&url, KEY);
    let fields = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert!(fields.total.is_some());
    assert_eq!(double.requests().len(), 2);

    double.requests.lock().unwrap().clear();
    double.script(vec![
        Reply::Error(500, "Internal error encountered."),
        Reply::Error(503, "The model is overloaded."),
        Reply::Error(500, "Internal error encountered."),
        Reply::Model(GOOD.into()),
    ]);
    let err = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExtractError::Transient(m) if m.contains("gave up after 3 tries") && m.contains("Internal error")),
        "{err:?}"
    );
    assert_eq!(
        double.requests().len(),
        3,
        "max_retries 2: three tries in all"
    );
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_a_transient_failure() {
    let (url, double) = start().await;
    double.script(vec![
        Reply::Slow(Duration::from_secs(3)),
        Reply::Slow(Duration::from_secs(3)),
        Reply::Slow(Duration::from_secs(3)),
    ]);
    let started = std::time::Instant::now();
    let err = gemini_backend(&url, KEY)
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExtractError::Transient(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "each try stops at the timeout"
    );
}

#[tokio::test]
async fn a_refused_key_fails_for_good_and_the_key_is_never_in_the_message() {
    let (url, double) = start().await;
    let err = gemini_backend(&url, "wrong-key-xyz")
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExtractError::Permanent(m) if m.contains("refused the API key")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong-key-xyz"));
    assert_eq!(double.requests().len(), 1, "no retries for a refused key");
    let debug = format!("{:?}", gemini_backend(&url, KEY));
    assert!(!debug.contains(KEY), "{debug}");
    assert!(
        Gemini::new(GeminiOptions {
            api_key: Default::default(),
            model: "m".into(),
            base_url: url,
            http: http(),
        })
        .unwrap_err()
        .to_string()
        .contains("API key")
    );
}

#[tokio::test]
async fn a_reply_without_json_is_a_permanent_failure() {
    let (url, double) = start().await;
    double.script(vec![Reply::Model(
        "I'm sorry, I can't read this image.".into(),
    )]);
    let err = gemini_backend(&url, KEY)
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExtractError::Permanent(m) if m.contains("no JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn openai_compatible_servers_get_a_data_uri_and_a_strict_schema() {
    let (url, double) = start().await;
    double.script(vec![Reply::Model(GOOD.into()), Reply::Model(GOOD.into())]);
    let fields = openai_backend(&url, KEY)
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    assert_eq!(fields.vendor.as_deref(), Some("Blue Tokai Coffee"));
    assert_eq!(fields.total, Some(inr("105000.50")));
    // A self-hosted server without a key: no Authorization header at all.
    openai_backend(&url, "")
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap();
    let requests = double.requests();
    assert!(requests[0].1.contains_key("authorization"));
    assert!(!requests[1].1.contains_key("authorization"));
}

#[tokio::test]
async fn openai_retries_a_rate_limit_and_reports_a_refusal() {
    let (url, double) = start().await;
    double.script(vec![
        Reply::Error(429, "Rate limit reached"),
        Reply::Model(GOOD.into()),
    ]);
    let backend = openai_backend(&url, KEY);
    assert!(
        backend
            .extract(PNG, ReceiptKind::Png, &hints())
            .await
            .is_ok()
    );
    assert_eq!(double.requests().len(), 2);
    double.script(vec![Reply::Error(
        400,
        "You uploaded an unsupported image.",
    )]);
    let err = backend
        .extract(PNG, ReceiptKind::Png, &hints())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ExtractError::Permanent(m) if m.contains("unsupported image")),
        "{err:?}"
    );
}
