//! The second offline backend: tesseract 5 (Debian `tesseract-ocr`) through its CLI on a
//! prepared image (grayscale, upscaled, straightened). Its TSV output gives each word's box, so
//! the same line assembly and field rules as the PP-OCR engine read it. Nothing leaves the
//! machine.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use ledgerly_core::ReceiptKind;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::backends::SetupError;
use crate::backends::paddle::fields_from_words;
use crate::extractor::{ExtractError, Extractor, ReceiptFields};
use crate::image_prep;
use crate::layout::Word;
use crate::normalise::Hints;

#[derive(Debug, Clone)]
pub struct TesseractOptions {
    /// The `tesseract` program.
    pub program: String,
    /// Tesseract languages, e.g. `eng` or `eng+hin` (each needs its `tesseract-ocr-<lang>`).
    pub languages: String,
    /// The longest one image may take.
    pub timeout: Duration,
}

impl Default for TesseractOptions {
    fn default() -> Self {
        Self {
            program: "tesseract".into(),
            languages: "eng".into(),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tesseract {
    options: TesseractOptions,
}

impl Tesseract {
    pub fn new(options: TesseractOptions) -> Self {
        Self { options }
    }

    /// Checks that the program runs and has the languages; the error says what to install.
    pub async fn check(&self) -> Result<String, SetupError> {
        let output = Command::new(&self.options.program)
            .arg("--list-langs")
            .output()
            .await
            .map_err(|source| SetupError::TesseractMissing {
                program: self.options.program.clone(),
                source,
            })?;
        let listed = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        for language in self.options.languages.split('+') {
            if !listed.lines().any(|l| l.trim() == language) {
                return Err(SetupError::TesseractLanguage(language.to_owned()));
            }
        }
        let version = Command::new(&self.options.program)
            .arg("--version")
            .output()
            .await
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("tesseract")
                    .to_owned()
            })
            .unwrap_or_else(|_| "tesseract".into());
        Ok(version)
    }

    /// The words tesseract reads from a prepared PNG, with their boxes.
    async fn ocr(&self, png: Vec<u8>) -> Result<Vec<Word>, ExtractError> {
        let mut child = Command::new(&self.options.program)
            // stdin → stdout; psm 6: one block of text, which keeps a row's label and its amount
            // on one line even across a wide gap (psm 4 splits right-aligned columns off).
            .args([
                "stdin",
                "stdout",
                "-l",
                &self.options.languages,
                "--psm",
                "6",
                "tsv",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ExtractError::Permanent(format!(
                    "the offline OCR program `{}` cannot run ({e}); install tesseract-ocr",
                    self.options.program
                ))
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| ExtractError::Transient("tesseract's input is not available".into()))?;
        let feed = async move {
            stdin.write_all(&png).await?;
            stdin.shutdown().await
        };
        let run = async {
            let (fed, output) = tokio::join!(feed, child.wait_with_output());
            fed.map_err(|e| ExtractError::Transient(format!("feeding tesseract failed: {e}")))?;
            output.map_err(|e| ExtractError::Transient(format!("tesseract failed: {e}")))
        };
        let output = tokio::time::timeout(self.options.timeout, run)
            .await
            .map_err(|_| {
                ExtractError::Transient(format!(
                    "tesseract took longer than {} seconds",
                    self.options.timeout.as_secs()
                ))
            })??;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(ExtractError::Permanent(format!(
                "tesseract could not read the image: {}",
                stderr.trim().lines().last().unwrap_or("no message")
            )));
        }
        Ok(parse_tsv(&String::from_utf8_lossy(&output.stdout)))
    }

    /// Every word on the receipt, positioned on the prepared image.
    pub async fn words(&self, image: &[u8], kind: ReceiptKind) -> Result<Vec<Word>, ExtractError> {
        let (raster, kind) = image_prep::to_raster(image, kind).await?;
        let prepared = tokio::task::spawn_blocking(move || {
            let decoded = image_prep::decode(&raster, kind)?;
            let (gray, _skew) = image_prep::prepare_for_ocr(&decoded);
            Ok::<_, ExtractError>(image_prep::png(&gray))
        })
        .await
        .map_err(|e| ExtractError::Transient(format!("preparing the image failed: {e}")))??;
        self.ocr(prepared).await
    }
}

/// The words of tesseract's TSV output (level 5 rows: `level page block par line word left top
/// width height conf text`).
fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .skip(1)
        .filter_map(|row| {
            let cells: Vec<&str> = row.splitn(12, '\t').collect();
            let [level, _, _, _, _, _, left, top, width, height, conf, text] = cells.as_slice()
            else {
                return None;
            };
            if *level != "5" || text.trim().is_empty() {
                return None;
            }
            let number = |cell: &str| cell.trim().parse::<f32>().ok();
            let (left, top) = (number(left)?, number(top)?);
            let score = (number(conf)? / 100.0).clamp(0.0, 1.0);
            Some(Word::new(
                text.trim(),
                score,
                left,
                top,
                left + number(width)?,
                top + number(height)?,
            ))
        })
        .collect()
}

#[async_trait]
impl Extractor for Tesseract {
    fn name(&self) -> &str {
        "tesseract"
    }

    async fn extract(
        &self,
        image: &[u8],
        kind: ReceiptKind,
        hints: &Hints,
    ) -> Result<ReceiptFields, ExtractError> {
        let words = self.words(image, kind).await?;
        fields_from_words(words, hints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_rows_become_words_with_boxes_and_scores() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t20\t100\t80\t20\t96.5\tTOTAL\n\
                   5\t1\t1\t1\t1\t2\t400\t101\t60\t20\t91\t12.50\n\
                   5\t1\t1\t1\t1\t3\t500\t101\t60\t20\t91\t \n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 2);
        assert_eq!(
            words[0],
            Word::new("TOTAL", 0.965, 20.0, 100.0, 100.0, 120.0)
        );
        assert_eq!(words[1].text, "12.50");
    }
}
