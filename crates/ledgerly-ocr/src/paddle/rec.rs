//! Reading the cut-out lines: the direction classifier (upright or turned 180°) and CTC
//! recognition, each run in batches of lines of similar width so little padding is computed.

use image::RgbImage;
use image::imageops::FilterType;
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;

use super::{EngineError, Net};

/// Every line is resized to this height for both networks.
const HEIGHT: u32 = 48;
/// The classifier's fixed input width.
const CLS_WIDTH: u32 = 192;
/// The widest line the recogniser is given, in pixels at [`HEIGHT`]: wider crops are squeezed.
const MAX_REC_WIDTH: u32 = 1600;
/// Lines per batch.
const BATCH: usize = 8;
/// A line is turned over only when the classifier is at least this sure it is upside down.
const CLS_THRESHOLD: f32 = 0.9;

/// The line resized to `HEIGHT` keeping its shape (no wider than `max_width`), normalised to
/// −1…1 in BGR order into `batch[index]`, the rest of the row left as padding (zero).
fn fill(batch: &mut NdTensor<f32, 4>, index: usize, line: &RgbImage, max_width: u32) {
    let ratio = line.width() as f32 / line.height().max(1) as f32;
    let width = ((HEIGHT as f32 * ratio).ceil() as u32).clamp(1, max_width);
    let resized = image::imageops::resize(line, width, HEIGHT, FilterType::Triangle);
    for (x, y, pixel) in resized.enumerate_pixels() {
        for channel in 0..3 {
            batch[[index, channel, y as usize, x as usize]] =
                f32::from(pixel[2 - channel]) / 127.5 - 1.0;
        }
    }
}

/// The width a line takes at `HEIGHT`.
fn width_at_height(line: &RgbImage) -> u32 {
    let ratio = line.width() as f32 / line.height().max(1) as f32;
    ((HEIGHT as f32 * ratio).ceil() as u32).clamp(1, MAX_REC_WIDTH)
}

/// Indexes of `lines` in batches of similar widths.
fn batches(lines: &[RgbImage]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by_key(|&i| width_at_height(&lines[i]));
    order.chunks(BATCH).map(<[usize]>::to_vec).collect()
}

/// Turns over each line the classifier reads as upside down (180°).
pub(super) fn classify(net: &Net, lines: &mut [RgbImage]) -> Result<(), EngineError> {
    for chunk in batches(lines) {
        let mut input =
            NdTensor::<f32, 4>::zeros([chunk.len(), 3, HEIGHT as usize, CLS_WIDTH as usize]);
        for (slot, &index) in chunk.iter().enumerate() {
            fill(&mut input, slot, &lines[index], CLS_WIDTH);
        }
        let output: NdTensor<f32, 2> = net.run(input)?;
        for (slot, &index) in chunk.iter().enumerate() {
            // Labels: 0°, 180°.
            if output[[slot, 1]] > output[[slot, 0]] && output[[slot, 1]] >= CLS_THRESHOLD {
                image::imageops::rotate180_in_place(&mut lines[index]);
            }
        }
    }
    Ok(())
}

/// A line's text and score.
type Read = (String, f32);

/// The text and score of each line, in the order given. Batches run on as many threads as
/// there are cores: one batch's layers are too small to keep every core busy on their own.
pub(super) fn recognise(
    net: &Net,
    dictionary: &[String],
    lines: &[RgbImage],
) -> Result<Vec<(String, f32)>, EngineError> {
    let batches = batches(lines);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4)
        .min(batches.len().max(1));
    let work = || -> Result<Vec<(usize, Read)>, EngineError> {
        let mut read = Vec::new();
        loop {
            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(chunk) = batches.get(at) else {
                return Ok(read);
            };
            read.extend(
                chunk
                    .iter()
                    .copied()
                    .zip(recognise_batch(net, dictionary, lines, chunk)?),
            );
        }
    };
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut results = vec![work()];
        results.extend(handles.into_iter().map(|h| {
            h.join().unwrap_or_else(|_| {
                Err(EngineError::Inference {
                    network: "recognition",
                    message: "a recognition thread stopped".into(),
                })
            })
        }));
        results
    });
    let mut read = vec![(String::new(), 0.0); lines.len()];
    for result in results {
        for (index, text) in result? {
            read[index] = text;
        }
    }
    Ok(read)
}

fn recognise_batch(
    net: &Net,
    dictionary: &[String],
    lines: &[RgbImage],
    chunk: &[usize],
) -> Result<Vec<(String, f32)>, EngineError> {
    let width = chunk
        .iter()
        .map(|&i| width_at_height(&lines[i]))
        .max()
        .unwrap_or(HEIGHT)
        // The network pools width by 8 at the end; below that it has nothing to read.
        .max(HEIGHT);
    let mut input = NdTensor::<f32, 4>::zeros([chunk.len(), 3, HEIGHT as usize, width as usize]);
    for (slot, &index) in chunk.iter().enumerate() {
        fill(&mut input, slot, &lines[index], width);
    }
    let output: NdTensor<f32, 3> = net.run(input)?;
    let classes = output.shape()[2];
    if classes != dictionary.len() + 2 {
        return Err(EngineError::Inference {
            network: "recognition",
            message: format!(
                "it reads {classes} classes but its dictionary has {} characters (blank and \
                 space make two more); reinstall the models with `ledgerly-ocr models install \
                 --force`",
                dictionary.len()
            ),
        });
    }
    Ok((0..chunk.len())
        .map(|slot| decode(output.slice(slot), dictionary))
        .collect())
}

/// Greedy CTC decoding of one line's `steps × classes` probabilities: the likeliest class at each
/// step, repeats merged, blanks (class 0) dropped; the score is the mean probability of the
/// characters kept. `dictionary[k]` is class `k + 1`'s text; the class after the dictionary is
/// a space. The recogniser often drops the narrow spaces of receipt print (`SANYUSTATIONERY`),
/// so a space is also put between two letters when the blank run between them is far longer
/// than the line's usual one between letters (see [`SPACE_GAP`]).
pub(super) fn decode(
    probabilities: rten_tensor::NdTensorView<f32, 2>,
    dictionary: &[String],
) -> (String, f32) {
    let [steps, _classes] = probabilities.shape();
    // Each character kept, with the number of blank steps before it.
    let mut kept: Vec<(&str, usize)> = Vec::new();
    let mut scores = Vec::new();
    let mut previous = 0usize;
    let mut blanks = 0usize;
    for step in 0..steps {
        let row = probabilities.slice(step);
        let (best, p) = row.iter().copied().enumerate().fold(
            (0usize, f32::NEG_INFINITY),
            |(bi, bp), (i, p)| {
                if p > bp { (i, p) } else { (bi, bp) }
            },
        );
        if best == 0 {
            blanks += 1;
        } else if best != previous {
            let text = dictionary.get(best - 1).map_or(" ", String::as_str);
            kept.push((text, blanks));
            scores.push(p);
            blanks = 0;
        }
        previous = best;
    }
    let letter = |s: &str| s.chars().all(char::is_alphabetic) && !s.is_empty();
    // The usual blank run between two letters of a word on this line.
    let mut runs: Vec<usize> = kept
        .windows(2)
        .filter(|pair| letter(pair[0].0) && letter(pair[1].0))
        .map(|pair| pair[1].1)
        .collect();
    runs.sort_unstable();
    let usual = runs.get(runs.len() / 2).copied().unwrap_or(0);
    let mut text = String::new();
    for (i, (ch, run)) in kept.iter().enumerate() {
        let after_letter = i > 0 && letter(kept[i - 1].0);
        if after_letter
            && letter(ch)
            && runs.len() >= 4
            && *run >= SPACE_GAP.max(usual * 3)
            && !text.ends_with(' ')
        {
            text.push(' ');
        }
        text.push_str(ch);
    }
    let score = if scores.is_empty() {
        0.0
    } else {
        scores.iter().sum::<f32>() / scores.len() as f32
    };
    (text.trim().to_owned(), score)
}

/// The fewest blank steps between two letters that read as a space the recogniser left out.
const SPACE_GAP: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_merges_repeats_drops_blanks_and_keeps_doubled_letters_apart() {
        let dictionary: Vec<String> = ["A", "B", "L"].iter().map(|s| (*s).to_owned()).collect();
        // Classes: 0 blank, 1 A, 2 B, 3 L, 4 space.
        let steps = [1, 1, 0, 3, 0, 3, 3, 4, 2, 0];
        let mut p = NdTensor::<f32, 2>::zeros([steps.len(), 5]);
        for (t, &class) in steps.iter().enumerate() {
            for c in 0..5 {
                p[[t, c]] = if c == class { 0.9 } else { 0.025 };
            }
        }
        let (text, score) = decode(p.view(), &dictionary);
        assert_eq!(text, "ALL B");
        assert!((score - 0.9).abs() < 1e-6);
    }

    /// Probabilities that pick `steps[t]` at step t.
    fn picks(steps: &[usize], classes: usize) -> NdTensor<f32, 2> {
        let mut p = NdTensor::<f32, 2>::zeros([steps.len(), classes]);
        for (t, &class) in steps.iter().enumerate() {
            for c in 0..classes {
                p[[t, c]] = if c == class { 0.9 } else { 0.01 };
            }
        }
        p
    }

    #[test]
    fn a_long_blank_run_between_letters_is_the_space_the_recogniser_left_out() {
        let dictionary: Vec<String> = ["A", "B", "C", "1", "."]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        // ABCA, a long gap, then BCAB: two words.
        let steps = [1, 0, 2, 0, 3, 1, 0, 0, 0, 0, 2, 3, 0, 1, 2];
        assert_eq!(decode(picks(&steps, 7).view(), &dictionary).0, "ABCA BCAB");
        // The same gap inside an amount is not a space: only letters are split.
        let steps = [4, 0, 4, 0, 0, 0, 0, 5, 4, 0, 4];
        assert_eq!(decode(picks(&steps, 7).view(), &dictionary).0, "11.11");
        // Evenly spread letters stay one word, however wide the print.
        let steps = [1, 0, 0, 2, 0, 0, 3, 0, 0, 1, 0, 0, 2];
        assert_eq!(decode(picks(&steps, 7).view(), &dictionary).0, "ABCAB");
    }

    #[test]
    fn nothing_but_blanks_is_empty_with_no_score() {
        let p = NdTensor::<f32, 2>::from_data([3, 2], vec![0.9, 0.1, 0.8, 0.2, 0.7, 0.3]);
        assert_eq!(decode(p.view(), &["A".to_owned()]), (String::new(), 0.0));
    }

    #[test]
    fn lines_are_batched_by_width() {
        let lines: Vec<RgbImage> = [10u32, 300, 20, 290, 15]
            .iter()
            .map(|&w| RgbImage::new(w, 10))
            .collect();
        let order: Vec<usize> = batches(&lines).concat();
        assert_eq!(order, vec![0, 4, 2, 3, 1]);
    }
}
