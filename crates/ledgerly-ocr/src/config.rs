//! Choosing and configuring a backend: flags, or the same `LEDGERLY__EXTRACTOR__…` environment
//! variables in every process that extracts (`ledgerly-ocr extract`, `ledgerly-ocr worker`, the
//! Lambda, `ledgerctl up`). The key may also come from `GEMINI_API_KEY` or `OPENAI_API_KEY`; it is
//! never printed. The default is the offline PP-OCR engine.

use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;
use std::time::Duration;

use crate::backends::gemini::{self, Gemini, GeminiOptions};
use crate::backends::openai::{self, OpenAi, OpenAiOptions};
use crate::backends::paddle::{Paddle, PaddleOptions};
use crate::backends::tesseract::{Tesseract, TesseractOptions};
use crate::backends::{HttpOptions, SetupError};
use crate::extractor::Extractor;
use crate::paddle::models::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Offline, the default: the PP-OCR models on this machine.
    Paddle,
    /// Google Gemini (needs an API key).
    Gemini,
    /// An OpenAI-compatible server: OpenAI, or a self-hosted Ollama or vLLM.
    Openai,
    /// Offline: tesseract on this machine.
    Tesseract,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExtractorSettings {
    /// The OCR backend.
    #[arg(
        long,
        visible_alias = "ocr-backend",
        env = "LEDGERLY__EXTRACTOR__BACKEND",
        value_enum,
        default_value = "paddle"
    )]
    pub backend: BackendKind,
    /// Where the PP-OCR models are (`ledgerly-ocr models install` puts them there).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__MODELS_DIR")]
    pub models_dir: Option<std::path::PathBuf>,
    /// The model (gemini: gemini-2.5-flash; openai: gpt-4o-mini by default).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__MODEL")]
    pub model: Option<String>,
    /// The API key (also read from GEMINI_API_KEY or OPENAI_API_KEY).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__API_KEY", hide_env_values = true)]
    pub api_key: Option<SecretString>,
    /// The API's base URL, e.g. http://localhost:11434/v1 for a local Ollama.
    #[arg(long, env = "LEDGERLY__EXTRACTOR__BASE_URL")]
    pub base_url: Option<String>,
    /// One request's time limit, in seconds.
    #[arg(
        long,
        env = "LEDGERLY__EXTRACTOR__TIMEOUT_SECONDS",
        default_value_t = 60
    )]
    pub timeout_seconds: u64,
    /// Retries of a request that may pass (429, 5xx, timeouts).
    #[arg(long, env = "LEDGERLY__EXTRACTOR__MAX_RETRIES", default_value_t = 3)]
    pub max_retries: u32,
    /// Tesseract's languages, e.g. eng or eng+hin.
    #[arg(long, env = "LEDGERLY__EXTRACTOR__LANGUAGES", default_value = "eng")]
    pub languages: String,
}

impl Default for ExtractorSettings {
    fn default() -> Self {
        Self {
            backend: BackendKind::Paddle,
            models_dir: None,
            model: None,
            api_key: None,
            base_url: None,
            timeout_seconds: 60,
            max_retries: 3,
            languages: "eng".into(),
        }
    }
}

/// Why the configured backend cannot be built; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("--timeout-seconds (LEDGERLY__EXTRACTOR__TIMEOUT_SECONDS) must be at least 1")]
    NoTimeout,
    #[error("loading the OCR models stopped: {0}")]
    LoadStopped(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Models(#[from] ModelError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl ExtractorSettings {
    fn api_key(&self, fallback_env: &str) -> SecretString {
        self.api_key
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
            .or_else(|| std::env::var(fallback_env).ok().map(SecretString::from))
            .unwrap_or_default()
    }

    /// The PP-OCR models directory: the flag's, else the default one.
    pub fn models_dir(&self) -> std::path::PathBuf {
        self.models_dir
            .clone()
            .unwrap_or_else(crate::paddle::models::default_dir)
    }

    /// The configured backend, checked: a missing key or a missing tesseract is an error that
    /// says what to do.
    pub async fn build(&self) -> Result<Arc<dyn Extractor>, BuildError> {
        if self.timeout_seconds == 0 {
            return Err(BuildError::NoTimeout);
        }
        let http = HttpOptions {
            timeout: Duration::from_secs(self.timeout_seconds),
            max_retries: self.max_retries,
            ..HttpOptions::default()
        };
        Ok(match self.backend {
            BackendKind::Paddle => {
                let options = PaddleOptions {
                    models_dir: self.models_dir(),
                    timeout: Duration::from_secs(self.timeout_seconds),
                };
                let load = move || Paddle::load(&options);
                let paddle = tokio::task::spawn_blocking(load)
                    .await
                    .map_err(BuildError::LoadStopped)??;
                Arc::new(paddle)
            }
            BackendKind::Gemini => Arc::new(Gemini::new(GeminiOptions {
                api_key: self.api_key("GEMINI_API_KEY"),
                model: self
                    .model
                    .clone()
                    .unwrap_or_else(|| gemini::DEFAULT_MODEL.into()),
                base_url: self
                    .base_url
                    .clone()
                    .unwrap_or_else(|| gemini::DEFAULT_BASE_URL.into()),
                http,
            })?),
            BackendKind::Openai => Arc::new(OpenAi::new(OpenAiOptions {
                api_key: self.api_key("OPENAI_API_KEY"),
                model: self
                    .model
                    .clone()
                    .unwrap_or_else(|| openai::DEFAULT_MODEL.into()),
                base_url: self
                    .base_url
                    .clone()
                    .unwrap_or_else(|| openai::DEFAULT_BASE_URL.into()),
                http,
            })?),
            BackendKind::Tesseract => {
                let tesseract = Tesseract::new(TesseractOptions {
                    languages: self.languages.clone(),
                    timeout: Duration::from_secs(self.timeout_seconds),
                    ..TesseractOptions::default()
                });
                let version = tesseract.check().await?;
                tracing::debug!(%version, "tesseract found");
                Arc::new(tesseract)
            }
        })
    }
}
