//! Google Gemini over REST: `POST {base}/v1beta/models/{model}:generateContent` with the file
//! inline in its own MIME type (JPEG, PNG, WebP, HEIC and PDF are all accepted as they are), a
//! `responseSchema` for structured output and temperature 0. The key travels in the
//! `x-goog-api-key` header, never in the URL or a log line.

use secrecy::{ExposeSecret as _, SecretString};

use async_trait::async_trait;
use base64::Engine as _;
use ledgerly_core::ReceiptKind;
use serde_json::{Value, json};

use super::SetupError;
use super::http::{self, HttpOptions};
use super::reply::{self, Dialect};
use crate::extractor::{ExtractError, Extractor, ReceiptFields};
use crate::normalise::{Hints, normalise};

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";

#[derive(Debug, Clone)]
pub struct GeminiOptions {
    pub api_key: SecretString,
    pub model: String,
    pub base_url: String,
    pub http: HttpOptions,
}

#[derive(Debug, Clone)]
pub struct Gemini {
    options: GeminiOptions,
    client: reqwest::Client,
    url: String,
}

impl Gemini {
    pub fn new(options: GeminiOptions) -> Result<Self, SetupError> {
        if options.api_key.expose_secret().trim().is_empty() {
            return Err(SetupError::NoGeminiKey);
        }
        let client = http::client(&options.http)?;
        let url = format!(
            "{}/v1beta/models/{}:generateContent",
            options.base_url.trim_end_matches('/'),
            options.model
        );
        Ok(Self {
            options,
            client,
            url,
        })
    }

    fn request_body(image: &[u8], kind: ReceiptKind) -> Value {
        json!({
            "contents": [{
                "role": "user",
                "parts": [
                    { "inline_data": {
                        "mime_type": kind.mime_type(),
                        "data": base64::engine::general_purpose::STANDARD.encode(image),
                    }},
                    { "text": reply::PROMPT },
                ],
            }],
            "generationConfig": {
                "temperature": 0,
                "responseMimeType": "application/json",
                "responseSchema": reply::fields_schema(Dialect::Gemini),
            },
        })
    }
}

/// The model's text from a `generateContent` reply, or why there is none.
fn reply_text(body: &str) -> Result<String, ExtractError> {
    let reply: Value = serde_json::from_str(body).map_err(|e| {
        ExtractError::Transient(format!("gemini answered something that is not JSON ({e})"))
    })?;
    if let Some(reason) = reply["promptFeedback"]["blockReason"].as_str() {
        return Err(ExtractError::Permanent(format!(
            "gemini refused to read the image ({reason})"
        )));
    }
    let candidate = &reply["candidates"][0];
    let text: String = candidate["content"]["parts"]
        .as_array()
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
        .unwrap_or_default();
    if text.trim().is_empty() {
        let reason = candidate["finishReason"]
            .as_str()
            .unwrap_or("no candidates");
        return Err(ExtractError::Permanent(format!(
            "gemini returned no answer ({reason})"
        )));
    }
    Ok(text)
}

#[async_trait]
impl Extractor for Gemini {
    fn name(&self) -> &str {
        "gemini"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        let body = Self::request_body(image, kind);
        let reply = http::send_with_retries(&self.options.http, "gemini", || {
            self.client
                .post(&self.url)
                .header("x-goog-api-key", self.options.api_key.expose_secret())
                .json(&body)
        })
        .await?;
        let text = reply_text(&reply)?;
        let raw = reply::parse(&text, reply).map_err(|e| ExtractError::Permanent(e.to_string()))?;
        Ok(normalise(raw, hints))
    }
}
