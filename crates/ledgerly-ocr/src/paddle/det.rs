//! DB text detection: the page resized to multiples of 32 under a longest side, normalised, run
//! through the detector; its probability map thresholded and dilated, each connected region's
//! smallest rotated rectangle scored against the map, grown back ("unclipped") and mapped onto
//! the page.

use image::RgbImage;
use rten_imageproc::{PointF, RetrievalMode, find_contours, min_area_rect};
use rten_tensor::prelude::*;
use rten_tensor::{NdTensor, NdTensorView};

use super::geometry::{Point, Quad, unclip_distance};
use super::{EngineError, Net};

/// The detector's settings (PP-OCR's defaults but the size, chosen on real receipts).
#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    /// The longest side the page is resized to before detection.
    pub max_side: u32,
    /// A map pixel above this is text.
    pub threshold: f32,
    /// A region whose mean probability is below this is dropped.
    pub box_threshold: f32,
    /// How far a region is grown back (the DB unclip ratio).
    pub unclip_ratio: f32,
    /// Regions considered at most.
    pub max_candidates: usize,
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            max_side: 1280,
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
        }
    }
}

/// The smallest side of a region kept, in map pixels.
const MIN_SIZE: f32 = 3.0;

/// The page's size for the detector: the longest side at most `max_side`, each side a multiple
/// of 32 (the network downsamples by 32), at least 32.
pub(super) fn input_size(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height).max(1) as f32;
    let scale = (max_side as f32 / longest).min(1.0);
    let round = |side: u32| -> u32 {
        let scaled = (side as f32 * scale / 32.0).round() as u32;
        scaled.max(1) * 32
    };
    (round(width), round(height))
}

/// The normalised `1 × 3 × H × W` tensor (BGR, as the models were trained on OpenCV images,
/// scaled to −1…1).
pub(super) fn tensor(page: &RgbImage, width: u32, height: u32) -> NdTensor<f32, 4> {
    let resized = super::shrink(page, width, height);
    let (w, h) = (width as usize, height as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (x, y, pixel) in resized.enumerate_pixels() {
        let at = y as usize * w + x as usize;
        for channel in 0..3 {
            data[channel * w * h + at] = f32::from(pixel[2 - channel]) / 127.5 - 1.0;
        }
    }
    NdTensor::from_data([1, 3, h, w], data)
}

/// The text regions on `page`, in page pixels, each with the detector's mean probability.
pub(super) fn detect(
    net: &Net,
    page: &RgbImage,
    options: &DetectOptions,
) -> Result<Vec<(Quad, f32)>, EngineError> {
    let (width, height) = input_size(page.width(), page.height(), options.max_side);
    let input = tensor(page, width, height);
    let output: NdTensor<f32, 4> = net.run(input)?;
    let map = output.slice((0, 0));
    let sx = page.width() as f32 / width as f32;
    let sy = page.height() as f32 / height as f32;
    Ok(regions(map, options)
        .into_iter()
        .map(|(quad, score)| {
            (
                quad.scaled(sx, sy, page.width() as f32, page.height() as f32),
                score,
            )
        })
        .filter(|(quad, _)| {
            let (w, h) = quad.size();
            w > 3.0 && h > 3.0
        })
        .collect())
}

/// The regions of a probability map, in map pixels.
pub(super) fn regions(map: NdTensorView<f32, 2>, options: &DetectOptions) -> Vec<(Quad, f32)> {
    let [rows, cols] = map.shape();
    // Threshold, then dilate by 2 × 2 (joins strokes a pixel apart).
    let mut mask = NdTensor::<bool, 2>::zeros([rows, cols]);
    for y in 0..rows {
        for x in 0..cols {
            let hit = |yy: usize, xx: usize| map[[yy, xx]] > options.threshold;
            mask[[y, x]] = hit(y, x)
                || (y > 0 && hit(y - 1, x))
                || (x > 0 && hit(y, x - 1))
                || (y > 0 && x > 0 && hit(y - 1, x - 1));
        }
    }
    let contours = find_contours(mask.view(), RetrievalMode::List);
    let mut found = Vec::new();
    for contour in contours.iter().take(options.max_candidates) {
        let points: Vec<PointF> = contour.iter().map(|p| p.to_f32()).collect();
        let Some(rect) = min_area_rect(&points) else {
            continue;
        };
        if rect.width().min(rect.height()) < MIN_SIZE {
            continue;
        }
        let score = mean_inside(map, &rect);
        if score < options.box_threshold {
            continue;
        }
        let grow = 2.0 * unclip_distance(rect.width(), rect.height(), options.unclip_ratio);
        let grown = rect.expanded(grow, grow);
        if grown.width().min(grown.height()) < MIN_SIZE + 2.0 {
            continue;
        }
        let corners = grown.corners().map(|p| Point::new(p.x, p.y));
        found.push((Quad::ordered(corners), score));
    }
    found
}

/// The map's mean inside `rect` (the "fast" box score: over the rectangle's own pixels).
fn mean_inside(map: NdTensorView<f32, 2>, rect: &rten_imageproc::RotatedRect) -> f32 {
    let [rows, cols] = map.shape();
    let corners = rect.corners();
    let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max.saturating_sub(1));
    let left = clamp(
        corners
            .iter()
            .map(|p| p.x)
            .fold(f32::INFINITY, f32::min)
            .floor(),
        cols,
    );
    let right = clamp(
        corners
            .iter()
            .map(|p| p.x)
            .fold(f32::NEG_INFINITY, f32::max)
            .ceil(),
        cols,
    );
    let top = clamp(
        corners
            .iter()
            .map(|p| p.y)
            .fold(f32::INFINITY, f32::min)
            .floor(),
        rows,
    );
    let bottom = clamp(
        corners
            .iter()
            .map(|p| p.y)
            .fold(f32::NEG_INFINITY, f32::max)
            .ceil(),
        rows,
    );
    let (mut sum, mut count) = (0f32, 0u32);
    for y in top..=bottom {
        for x in left..=right {
            if rect.contains(PointF::from_yx(y as f32, x as f32)) {
                sum += map[[y, x]];
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_multiples_of_32_under_the_longest_side() {
        assert_eq!(input_size(4961, 7016, 1280), (896, 1280));
        assert_eq!(input_size(300, 200, 1280), (288, 192));
        assert_eq!(input_size(1, 1, 1280), (32, 32));
        assert_eq!(input_size(30000, 10, 1280), (1280, 32));
    }

    #[test]
    fn a_bright_bar_on_the_map_is_one_region_grown_back_to_the_text() {
        let mut map = NdTensor::<f32, 2>::zeros([40, 100]);
        for y in 18..22 {
            for x in 20..80 {
                map[[y, x]] = 0.9;
            }
        }
        let found = regions(map.view(), &DetectOptions::default());
        assert_eq!(found.len(), 1, "{found:?}");
        let (quad, score) = found[0];
        // The mean over the region found, which the dilation grew by a row of background.
        assert!(score > 0.6, "{score}");
        let (left, top, right, bottom) = quad.bounds();
        // The kernel is 60 × 4 (5 × 61 after dilation); unclipped it is several pixels larger.
        assert!(left < 19.0 && right > 80.0, "{left} {right}");
        assert!(top < 17.0 && bottom > 22.0, "{top} {bottom}");
    }

    #[test]
    fn faint_and_tiny_regions_are_dropped() {
        let mut map = NdTensor::<f32, 2>::zeros([40, 100]);
        // Above the threshold but below the box threshold on average.
        for y in 5..15 {
            for x in 5..60 {
                map[[y, x]] = 0.35;
            }
        }
        // Two pixels: too small.
        map[[30, 90]] = 0.99;
        assert!(regions(map.view(), &DetectOptions::default()).is_empty());
    }
}
