//! Printed lines from words: an OCR engine reports pieces of text with their boxes (PP-OCR one
//! box per run of text, tesseract one per word); the field rules read lines, so a label and the
//! amount printed at the far end of its line must end up together, in reading order.
//!
//! A word joins the line it overlaps most vertically — measured against the line's word nearest
//! to it horizontally, so a slightly skewed scan still keeps its long lines whole — when that
//! overlap is at least half the shorter height. Lines read top to bottom, words left to right.

/// A piece of text and where it is on the page (pixels, y down).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    /// How sure the engine is, 0…1.
    pub score: f32,
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl Word {
    pub fn new(
        text: impl Into<String>,
        score: f32,
        left: f32,
        top: f32,
        right: f32,
        bottom: f32,
    ) -> Self {
        Self {
            text: text.into(),
            score,
            left,
            top,
            right,
            bottom,
        }
    }

    pub fn height(&self) -> f32 {
        (self.bottom - self.top).max(0.0)
    }

    fn middle(&self) -> f32 {
        (self.left + self.right) / 2.0
    }

    /// How much of the shorter of the two words' heights they share.
    fn vertical_overlap(&self, other: &Word) -> f32 {
        let shared = self.bottom.min(other.bottom) - self.top.max(other.top);
        let shorter = self.height().min(other.height()).max(1.0);
        (shared / shorter).max(0.0)
    }
}

/// One printed line: its words left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub words: Vec<Word>,
}

impl Line {
    /// The words joined by single spaces.
    pub fn text(&self) -> String {
        self.words
            .iter()
            .map(|w| w.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The least sure word's score: a line is as trustworthy as its weakest part.
    pub fn score(&self) -> f32 {
        self.words.iter().map(|w| w.score).fold(1.0, f32::min)
    }

    /// The median word height: how large the line is printed.
    pub fn height(&self) -> f32 {
        let mut heights: Vec<f32> = self.words.iter().map(Word::height).collect();
        heights.sort_by(f32::total_cmp);
        heights.get(heights.len() / 2).copied().unwrap_or(0.0)
    }

    pub fn top(&self) -> f32 {
        self.words
            .iter()
            .map(|w| w.top)
            .fold(f32::INFINITY, f32::min)
    }

    fn centre(&self) -> f32 {
        let sum: f32 = self.words.iter().map(|w| (w.top + w.bottom) / 2.0).sum();
        sum / self.words.len().max(1) as f32
    }

    /// The word of this line nearest to `word` horizontally.
    fn nearest(&self, word: &Word) -> Option<&Word> {
        self.words.iter().min_by(|a, b| {
            (a.middle() - word.middle())
                .abs()
                .total_cmp(&(b.middle() - word.middle()).abs())
        })
    }
}

/// The least vertical overlap (of the shorter height) that puts two words on one line.
const SAME_LINE: f32 = 0.5;

/// Assembles `words` into lines, top to bottom, each left to right. Empty words are dropped.
pub fn lines(words: Vec<Word>) -> Vec<Line> {
    let mut words: Vec<Word> = words
        .into_iter()
        .filter(|w| !w.text.trim().is_empty() && w.bottom > w.top)
        .collect();
    // Top to bottom by centre, then left to right: each word meets the lines above it first.
    words.sort_by(|a, b| {
        ((a.top + a.bottom) / 2.0)
            .total_cmp(&((b.top + b.bottom) / 2.0))
            .then(a.left.total_cmp(&b.left))
    });
    let mut lines: Vec<Line> = Vec::new();
    for word in words {
        let best = lines
            .iter()
            .enumerate()
            .filter_map(|(index, line)| {
                let nearest = line.nearest(&word)?;
                let overlap = nearest.vertical_overlap(&word);
                // A word that overlaps the line horizontally is a line below, not a neighbour.
                let beside = line.words.iter().all(|w| {
                    w.right <= word.left + 0.25 * word.height()
                        || w.left >= word.right - 0.25 * word.height()
                });
                (overlap >= SAME_LINE && beside).then_some((index, overlap))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((index, _)) => lines[index].words.push(word),
            None => lines.push(Line { words: vec![word] }),
        }
    }
    for line in &mut lines {
        line.words.sort_by(|a, b| a.left.total_cmp(&b.left));
    }
    lines.sort_by(|a, b| a.centre().total_cmp(&b.centre()));
    lines
}

/// Lines from plain text (one per line, no positions): for text that comes without boxes.
pub fn from_text(text: &str) -> Vec<Line> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(index, line)| {
            let top = index as f32 * 20.0;
            Line {
                words: vec![Word::new(
                    line,
                    1.0,
                    0.0,
                    top,
                    10.0 * line.len() as f32,
                    top + 16.0,
                )],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, left: f32, top: f32, width: f32, height: f32) -> Word {
        Word::new(text, 0.9, left, top, left + width, top + height)
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(Line::text).collect()
    }

    #[test]
    fn a_label_and_its_far_amount_share_a_line() {
        let words = vec![
            word("12.50", 400.0, 102.0, 60.0, 20.0),
            word("TOTAL", 20.0, 100.0, 80.0, 20.0),
            word("CASH", 20.0, 130.0, 60.0, 20.0),
            word("20.00", 400.0, 131.0, 60.0, 20.0),
        ];
        assert_eq!(texts(&lines(words)), ["TOTAL 12.50", "CASH 20.00"]);
    }

    #[test]
    fn a_skewed_line_stays_whole() {
        // Each word 3 px lower than the last: the ends of the line barely overlap, neighbours do.
        let words = (0..6)
            .map(|i| {
                word(
                    &format!("w{i}"),
                    i as f32 * 70.0,
                    100.0 + i as f32 * 3.0,
                    60.0,
                    18.0,
                )
            })
            .chain(std::iter::once(word("next", 0.0, 130.0, 60.0, 18.0)))
            .collect();
        assert_eq!(texts(&lines(words)), ["w0 w1 w2 w3 w4 w5", "next"]);
    }

    #[test]
    fn stacked_words_are_separate_lines_even_when_close() {
        // Two lines 12 px apart with 18 px tall text: they overlap by a third, below the bar.
        let words = vec![
            word("QTY 2", 20.0, 100.0, 80.0, 18.0),
            word("SUBTOTAL 8.00", 20.0, 112.0, 160.0, 18.0),
        ];
        assert_eq!(texts(&lines(words)), ["QTY 2", "SUBTOTAL 8.00"]);
    }

    #[test]
    fn a_tall_heading_and_a_small_word_beside_it() {
        let words = vec![
            word("MARKET", 20.0, 40.0, 300.0, 60.0),
            word("since 1990", 340.0, 70.0, 100.0, 16.0),
            word("12 Main St", 20.0, 110.0, 120.0, 16.0),
        ];
        assert_eq!(texts(&lines(words)), ["MARKET since 1990", "12 Main St"]);
    }

    #[test]
    fn empty_words_are_dropped_and_scores_kept() {
        let mut low = word("4.20", 300.0, 10.0, 40.0, 20.0);
        low.score = 0.6;
        let words = vec![
            word("  ", 0.0, 0.0, 10.0, 20.0),
            word("TEA", 0.0, 10.0, 40.0, 20.0),
            low,
        ];
        let lines = lines(words);
        assert_eq!(texts(&lines), ["TEA 4.20"]);
        assert!((lines[0].score() - 0.6).abs() < 1e-6);
        assert!((lines[0].height() - 20.0).abs() < 1e-6);
    }
}
