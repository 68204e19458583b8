//! Any OpenAI-compatible chat-completions endpoint — OpenAI itself, or a self-hosted Ollama or
//! vLLM: `POST {base}/chat/completions` with the image as a `data:` URI and a strict JSON-schema
//! response format, temperature 0. PDFs (first page) and HEIC photos are converted to images
//! first, since these endpoints take images only. The key, when there is one, travels as a
//! bearer token and is never logged.

use secrecy::{ExposeSecret as _, SecretString};

use async_trait::async_trait;
use base64::Engine as _;
use ledgerly_core::ReceiptKind;
use serde_json::{Value, json};

use super::SetupError;
use super::http::{self, HttpOptions};
use super::reply::{self, Dialect};
use crate::extractor::{ExtractError, Extractor, ReceiptFields};
use crate::image_prep;
use crate::normalise::{Hints, normalise};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// Empty for servers without keys (a local Ollama).
    pub api_key: SecretString,
    pub model: String,
    pub base_url: String,
    pub http: HttpOptions,
}

#[derive(Debug, Clone)]
pub struct OpenAi {
    options: OpenAiOptions,
    client: reqwest::Client,
    url: String,
}

impl OpenAi {
    pub fn new(options: OpenAiOptions) -> Result<Self, SetupError> {
        let client = http::client(&options.http)?;
        let url = format!(
            "{}/chat/completions",
            options.base_url.trim_end_matches('/')
        );
        Ok(Self {
            options,
            client,
            url,
        })
    }

    fn request_body(&self, image: &[u8], kind: ReceiptKind) -> Value {
        let data_uri = format!(
            "data:{};base64,{}",
            kind.mime_type(),
            base64::engine::general_purpose::STANDARD.encode(image)
        );
        json!({
            "model": self.options.model,
            "temperature": 0,
            "messages": [
                { "role": "system", "content": reply::PROMPT },
                { "role": "user", "content": [
                    { "type": "text", "text": "Read this receipt." },
                    { "type": "image_url", "image_url": { "url": data_uri } },
                ]},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "receipt",
                    "strict": true,
                    "schema": reply::fields_schema(Dialect::OpenAi),
                },
            },
        })
    }
}

/// The assistant's text from a chat-completions reply, or why there is none.
fn reply_text(body: &str) -> Result<String, ExtractError> {
    let reply: Value = serde_json::from_str(body).map_err(|e| {
        ExtractError::Transient(format!(
            "the model server answered something that is not JSON ({e})"
        ))
    })?;
    let message = &reply["choices"][0]["message"];
    if let Some(refusal) = message["refusal"].as_str().filter(|r| !r.is_empty()) {
        return Err(ExtractError::Permanent(format!(
            "the model refused to read the image: {refusal}"
        )));
    }
    match message["content"].as_str() {
        Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
        _ => Err(ExtractError::Permanent(format!(
            "the model returned no answer ({})",
            reply["choices"][0]["finish_reason"]
                .as_str()
                .unwrap_or("no choices")
        ))),
    }
}

#[async_trait]
impl Extractor for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        let (image, kind) = image_prep::to_raster(image, kind).await?;
        let body = self.request_body(&image, kind);
        let reply = http::send_with_retries(&self.options.http, "the model server", || {
            let request = self.client.post(&self.url).json(&body);
            if self.options.api_key.expose_secret().is_empty() {
                request
            } else {
                request.bearer_auth(self.options.api_key.expose_secret())
            }
        })
        .await?;
        let text = reply_text(&reply)?;
        let raw = reply::parse(&text, reply).map_err(|e| ExtractError::Permanent(e.to_string()))?;
        Ok(normalise(raw, hints))
    }
}
