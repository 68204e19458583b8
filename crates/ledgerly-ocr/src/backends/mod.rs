//! The extractor backends: `paddle` (offline, the default) and `tesseract` (offline), `gemini`
//! and `openai` (hosted models).

pub mod gemini;
mod http;
pub mod openai;
pub mod paddle;
mod reply;
pub mod tesseract;

pub use http::HttpOptions;
