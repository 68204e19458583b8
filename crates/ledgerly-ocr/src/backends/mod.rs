//! The extractor backends.

pub mod tesseract;
