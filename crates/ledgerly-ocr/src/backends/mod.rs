//! The extractor backends: `gemini` and `openai` (hosted models), `tesseract` (offline).

pub mod gemini;
mod http;
pub mod openai;
mod reply;
pub mod tesseract;

pub use http::HttpOptions;
