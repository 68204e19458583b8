//! The default backend, offline: the PP-OCR engine ([`crate::paddle`]) reads the text boxes,
//! [`crate::layout`] assembles them into printed lines, [`crate::rules`] reads the fields.
//! Nothing leaves the machine and nothing is downloaded at run time: the models are installed
//! beforehand (`ledgerly-ocr models install`, `ledgerctl up`, or built into the image).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ledgerly_core::ReceiptKind;

use crate::extractor::{ExtractError, Extractor, ReceiptFields};
use crate::image_prep;
use crate::layout::{self, Word};
use crate::normalise::{Hints, normalise};
use crate::paddle::{self, Engine, ModelError, ModelFiles, StageTimes, TextBox};
use crate::rules;

/// Where the models are, and how long one receipt may take.
#[derive(Debug, Clone)]
pub struct PaddleOptions {
    pub models_dir: PathBuf,
    pub timeout: Duration,
}

impl Default for PaddleOptions {
    fn default() -> Self {
        Self {
            models_dir: paddle::models::default_dir(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// How long each step of one receipt took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Converting and decoding the file.
    pub decode: Duration,
    pub engine: StageTimes,
}

#[derive(Debug, Clone)]
pub struct Paddle {
    engine: Arc<Engine>,
    timeout: Duration,
}

impl Paddle {
    /// Loads the models; a missing one is an error naming the command that installs it.
    pub fn load(options: &PaddleOptions) -> Result<Self, ModelError> {
        let files = ModelFiles::find(&options.models_dir)?;
        Ok(Self {
            engine: Arc::new(Engine::load(&files)?),
            timeout: options.timeout,
        })
    }

    /// Installs the pinned models into the options' folder when they are missing (quietly, no
    /// progress shown), then loads them: for tests and benchmarks.
    pub async fn installed(options: PaddleOptions) -> Result<Self, ModelError> {
        paddle::models::install(
            &options.models_dir,
            &paddle::models::Source::pinned(),
            false,
            &mut |_| {},
        )
        .await?;
        Self::load(&options)
    }

    /// Every word (text box) on the receipt, with how long each step took.
    pub async fn words(
        &self,
        image: &[u8],
        kind: ReceiptKind,
    ) -> Result<(Vec<Word>, Timings), ExtractError> {
        let started = Instant::now();
        let (raster, kind) = image_prep::to_raster(image, kind).await?;
        let engine = self.engine.clone();
        let work = tokio::task::spawn_blocking(move || {
            let decoded = image_prep::decode_for(&raster, kind, paddle::PAGE_MAX_SIDE)?;
            let page = paddle::fit(decoded);
            let decode = started.elapsed();
            let (boxes, engine_times) = engine
                .read(&page)
                .map_err(|e| ExtractError::Transient(format!("the OCR engine failed: {e}")))?;
            Ok::<_, ExtractError>((
                boxes.into_iter().map(word).collect::<Vec<_>>(),
                Timings {
                    decode,
                    engine: engine_times,
                },
            ))
        });
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                ExtractError::Permanent(format!(
                    "reading the receipt took longer than {} seconds; upload a smaller or \
                     clearer image",
                    self.timeout.as_secs()
                ))
            })?
            .map_err(|e| ExtractError::Transient(format!("the OCR engine stopped: {e}")))?
    }
}

fn word(text_box: TextBox) -> Word {
    let (left, top, right, bottom) = text_box.quad.bounds();
    Word::new(text_box.text, text_box.score, left, top, right, bottom)
}

/// The fields of a receipt from its words: lines, rules, normaliser. Shared by both offline
/// engines.
pub fn fields_from_words(words: Vec<Word>, hints: &Hints) -> Result<ReceiptFields, ExtractError> {
    let lines = layout::lines(words);
    if lines.is_empty() {
        return Err(ExtractError::Permanent(
            "no text was found on the image; photograph the receipt flat, in good light".into(),
        ));
    }
    Ok(normalise(rules::read(&lines, hints), hints))
}

#[async_trait]
impl Extractor for Paddle {
    fn name(&self) -> &str {
        "paddle"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        let (words, _) = self.words(image, kind).await?;
        fields_from_words(words, hints)
    }
}
