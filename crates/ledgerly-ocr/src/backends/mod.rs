//! The extractor backends: `paddle` (offline, the default) and `tesseract` (offline), `gemini`
//! and `openai` (hosted models).

pub mod gemini;
mod http;
pub mod openai;
pub mod paddle;
mod reply;
pub mod tesseract;

pub use http::HttpOptions;

/// Why a backend cannot be set up; the message says what to install or configure.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error(
        "the gemini backend needs an API key: pass --api-key, or set LEDGERLY__EXTRACTOR__API_KEY or GEMINI_API_KEY"
    )]
    NoGeminiKey,
    #[error("cannot run `{program}` ({source}); install tesseract 5 (Debian: tesseract-ocr)")]
    TesseractMissing {
        program: String,
        source: std::io::Error,
    },
    #[error("tesseract has no `{0}` language data; install tesseract-ocr-{0}")]
    TesseractLanguage(String),
}
