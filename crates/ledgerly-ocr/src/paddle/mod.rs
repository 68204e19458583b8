//! The PP-OCR engine, offline and in pure Rust: DB text detection, the text-direction
//! classifier and CTC recognition, run from PaddleOCR's ONNX models with
//! [rten](https://docs.rs/rten). The result is every text box on the page with its corners, its
//! text and its score; [`crate::layout`] turns boxes into printed lines and [`crate::rules`]
//! reads the fields from them.

mod det;
pub mod geometry;
pub mod models;
mod rec;

use std::path::Path;
use std::time::{Duration, Instant};

use image::RgbImage;
use rten::Model;
use rten_tensor::NdTensor;

pub use det::DetectOptions;
pub use geometry::{Point, Quad};
pub use models::{ModelError, ModelFiles};

/// One piece of text the engine read: where it is on the page, what it says, how sure the
/// recogniser is (0…1).
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    pub quad: Quad,
    pub text: String,
    pub score: f32,
}

/// How long each stage of one page took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageTimes {
    pub detect: Duration,
    pub classify: Duration,
    pub recognise: Duration,
}

/// Why the engine could not read a page.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the {network} network failed: {message}")]
    Inference {
        network: &'static str,
        message: String,
    },
}

/// One ONNX network.
pub(crate) struct Net {
    name: &'static str,
    model: Model,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").field("name", &self.name).finish()
    }
}

/// Whether the runtime rewrites a network's graph before running it (fused operators,
/// constants folded) or runs it as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graph {
    Optimised,
    AsWritten,
}

impl Net {
    fn load(name: &'static str, path: &Path, graph: Graph) -> Result<Self, ModelError> {
        // Prepacked weights: the matrix products (most of the convolutions) run faster for a
        // little more memory.
        let model = rten::ModelOptions::with_all_ops()
            .prepack_weights(true)
            .enable_optimization(graph == Graph::Optimised)
            .load_file(path)
            .map_err(|e| ModelError::Unreadable {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self { name, model })
    }

    /// Runs the network on one input and returns its first output as an `N`-dimensional tensor.
    fn run<const N: usize>(
        &self,
        input: NdTensor<f32, 4>,
    ) -> Result<NdTensor<f32, N>, EngineError> {
        let fail = |message: String| EngineError::Inference {
            network: self.name,
            message,
        };
        let output = self
            .model
            .run_one(input.into(), None)
            .map_err(|e| fail(e.to_string()))?;
        output
            .try_into()
            .map_err(|e: rten::TryFromValueError| fail(format!("unexpected output: {e}")))
    }
}

/// The longest side a page is worked on at: larger scans are scaled down first (a 300 dpi A4
/// scan is 7,000 pixels tall; its text is still many pixels high at this size).
pub const PAGE_MAX_SIDE: u32 = 2400;

/// `image` as RGB, scaled down to [`PAGE_MAX_SIDE`] if larger.
pub fn fit(image: image::DynamicImage) -> RgbImage {
    let (width, height) = (image.width(), image.height());
    let longest = width.max(height);
    let rgb = image.into_rgb8();
    if longest > PAGE_MAX_SIDE {
        let scale = f64::from(PAGE_MAX_SIDE) / f64::from(longest);
        let side = |s: u32| ((f64::from(s) * scale).round() as u32).max(1);
        shrink(&rgb, side(width), side(height))
    } else {
        rgb
    }
}

/// `image` scaled to `width × height`. Shrinking averages the pixels each new one covers,
/// straight into the result: the filtered resize would first build a four-channel float copy
/// (95 MB for a 300 dpi A4 scan), the largest allocation of a receipt's reading.
pub(crate) fn shrink(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if width <= image.width() && height <= image.height() {
        image::imageops::thumbnail(image, width, height)
    } else {
        image::imageops::resize(image, width, height, image::imageops::FilterType::Triangle)
    }
}

/// A line at least this much taller than wide is printed vertically: it is turned a quarter.
const VERTICAL_RATIO: f32 = 1.5;
/// Text read with a lower score than this is noise (a stamp, a smudge).
const MIN_TEXT_SCORE: f32 = 0.5;

/// The recogniser's characters, one per line (class `k + 1` is line `k`; the class after the
/// last is a space).
fn dictionary(path: &Path) -> Result<Vec<String>, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Unreadable {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let characters: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect();
    if characters.is_empty() {
        return Err(ModelError::Unreadable {
            path: path.to_owned(),
            message: "the dictionary is empty".into(),
        });
    }
    Ok(characters)
}

/// The three networks and the recogniser's dictionary.
#[derive(Debug)]
pub struct Engine {
    det: Net,
    cls: Net,
    rec: Net,
    dictionary: Vec<String>,
    options: DetectOptions,
}

impl Engine {
    /// Loads the models in `files`; an error names what is missing and the command that
    /// installs it.
    pub fn load(files: &ModelFiles) -> Result<Self, ModelError> {
        Self::load_with(files, Graph::Optimised)
    }

    /// Loads the models with their graphs optimised (as [`Engine::load`] does) or as written:
    /// the latter is slower, and is what the optimised engine is checked against.
    pub fn load_with(files: &ModelFiles, graph: Graph) -> Result<Self, ModelError> {
        let rec = Net::load("recognition", &files.recognition, graph)?;
        let dictionary = dictionary(&files.dictionary)?;
        Ok(Self {
            det: Net::load("detection", &files.detection, graph)?,
            cls: Net::load("direction", &files.classifier, graph)?,
            rec,
            dictionary,
            options: DetectOptions::default(),
        })
    }

    pub fn with_options(mut self, options: DetectOptions) -> Self {
        self.options = options;
        self
    }

    /// Every text box on `page`, top to bottom, then left to right.
    pub fn read(&self, page: &RgbImage) -> Result<(Vec<TextBox>, StageTimes), EngineError> {
        let mut times = StageTimes::default();
        let started = Instant::now();
        let mut regions = det::detect(&self.det, page, &self.options)?;
        sort_reading_order(&mut regions);
        let mut quads = Vec::with_capacity(regions.len());
        let mut lines = Vec::with_capacity(regions.len());
        for (quad, _) in regions {
            let Some(mut line) = geometry::crop(page, &quad) else {
                continue;
            };
            if line.height() as f32 >= line.width() as f32 * VERTICAL_RATIO {
                line = image::imageops::rotate270(&line);
            }
            quads.push(quad);
            lines.push(line);
        }
        times.detect = started.elapsed();
        let started = Instant::now();
        rec::classify(&self.cls, &mut lines)?;
        times.classify = started.elapsed();
        let started = Instant::now();
        let read = rec::recognise(&self.rec, &self.dictionary, &lines)?;
        times.recognise = started.elapsed();
        let boxes = quads
            .into_iter()
            .zip(read)
            .filter(|(_, (text, score))| !text.is_empty() && *score >= MIN_TEXT_SCORE)
            .map(|(quad, (text, score))| TextBox { quad, text, score })
            .collect();
        Ok((boxes, times))
    }
}

/// Top to bottom by each region's top-left corner, then — for regions whose tops are within
/// a few pixels — left to right (PP-OCR's own order).
fn sort_reading_order(regions: &mut [(Quad, f32)]) {
    regions.sort_by(|a, b| {
        let (a, b) = (a.0.top_left(), b.0.top_left());
        a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x))
    });
    for i in 1..regions.len() {
        let mut j = i;
        while j > 0 {
            let (prev, this) = (regions[j - 1].0.top_left(), regions[j].0.top_left());
            if (this.y - prev.y).abs() < 10.0 && this.x < prev.x {
                regions.swap(j - 1, j);
                j -= 1;
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(x: f32, y: f32) -> (Quad, f32) {
        let p = |dx, dy| Point::new(x + dx, y + dy);
        (Quad([p(0., 0.), p(10., 0.), p(10., 5.), p(0., 5.)]), 1.0)
    }

    #[test]
    fn regions_sort_top_to_bottom_and_left_to_right_within_a_line() {
        let mut regions = vec![region(50.0, 3.0), region(0.0, 40.0), region(5.0, 0.0)];
        sort_reading_order(&mut regions);
        let order: Vec<(f32, f32)> = regions
            .iter()
            .map(|(q, _)| (q.top_left().x, q.top_left().y))
            .collect();
        assert_eq!(order, vec![(5.0, 0.0), (50.0, 3.0), (0.0, 40.0)]);
    }
}
