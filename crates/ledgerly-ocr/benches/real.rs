//! The OCR benchmark on real scanned receipts: a directory in the SROIE 2019 task-3 layout
//! (`img/NNN.jpg`, `key/NNN.json` with `company`, `date`, `total`), read one receipt at a time by
//! one engine. Prints one Markdown table row: per-field accuracy, seconds per receipt, time per
//! stage. `scripts/bench-ocr-real` runs it for each engine, under GNU time for the peak RSS.
//!
//! - total: equal to the cent;
//! - date: the same day;
//! - vendor: at least 80% of the tokens of `company` (upper case, punctuation folded, so
//!   `SDN. BHD.` is `SDN BHD`) are among the vendor's.
//!
//! `cargo bench -p ledgerly-ocr --bench real -- DIR FIRST LAST --engine paddle|tesseract
//! [--models-dir DIR] [--currency MYR] [--cache DIR] [--misses [--show]]`
//!
//! `--cache DIR` keeps each receipt's words (`DIR/<engine>/NNN.jsonl`) and reuses them, so the
//! field rules can be tuned without running the engine again; a cached run measures accuracy
//! only. `--misses` lists every receipt a field was wrong on; `--show` adds its lines.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledgerly_core::{Currency, ReceiptKind};
use ledgerly_ocr::Hints;
use ledgerly_ocr::backends::paddle::{Paddle, PaddleOptions, Timings, fields_from_words};
use ledgerly_ocr::backends::tesseract::{Tesseract, TesseractOptions};
use ledgerly_ocr::layout::Word;
use ledgerly_ocr::normalise;

// The allocator the `ledgerly-ocr` binary uses, so the peak RSS measured is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    dir: PathBuf,
    first: u32,
    last: u32,
    engine: String,
    models_dir: Option<PathBuf>,
    currency: Currency,
    cache: Option<PathBuf>,
    misses: bool,
    show: bool,
}

fn args() -> Args {
    let mut positional = Vec::new();
    let mut args = Args {
        dir: PathBuf::new(),
        first: 0,
        last: u32::MAX,
        engine: "paddle".into(),
        models_dir: None,
        currency: Currency::MYR,
        cache: None,
        misses: false,
        show: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--engine" => args.engine = it.next().expect("--engine paddle|tesseract"),
            "--models-dir" => args.models_dir = it.next().map(PathBuf::from),
            "--currency" => {
                args.currency = Currency::from_code(&it.next().expect("--currency CODE"))
                    .expect("an ISO currency code")
            }
            "--cache" => args.cache = it.next().map(PathBuf::from),
            "--misses" => args.misses = true,
            "--show" => args.show = true,
            "--bench" => {}
            other => positional.push(other.to_owned()),
        }
    }
    let mut positional = positional.into_iter();
    args.dir = PathBuf::from(
        positional
            .next()
            .expect("usage: DIR [FIRST LAST] --engine paddle|tesseract (DIR holds img/ and key/)"),
    );
    if let Some(first) = positional.next() {
        args.first = first.parse().expect("FIRST is a receipt number");
    }
    if let Some(last) = positional.next() {
        args.last = last.parse().expect("LAST is a receipt number");
    }
    args
}

enum Engine {
    Paddle(Paddle),
    Tesseract(Tesseract),
}

impl Engine {
    async fn words(&self, bytes: &[u8]) -> (Vec<Word>, Option<Timings>) {
        // SROIE's scans are JPEG; `bench-ocr --write` writes PNG too.
        let kind = ReceiptKind::sniff(bytes).unwrap_or(ReceiptKind::Jpeg);
        match self {
            Engine::Paddle(p) => match p.words(bytes, kind).await {
                Ok((words, timings)) => (words, Some(timings)),
                Err(e) => {
                    eprintln!("  engine failed: {e}");
                    (Vec::new(), None)
                }
            },
            Engine::Tesseract(t) => {
                let started = Instant::now();
                let words = t.words(bytes, kind).await.unwrap_or_else(|e| {
                    eprintln!("  engine failed: {e}");
                    Vec::new()
                });
                let timings = Timings {
                    decode: started.elapsed(),
                    ..Timings::default()
                };
                (words, Some(timings))
            }
        }
    }
}

fn save(path: &Path, words: &[Word]) {
    let text: String = words
        .iter()
        .map(|w| {
            serde_json::json!({"text": w.text, "score": w.score, "box": [w.left, w.top, w.right, w.bottom]})
                .to_string()
                + "\n"
        })
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn load(path: &Path) -> Option<Vec<Word>> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let b = v["box"].as_array()?;
            let f = |i: usize| {
                b.get(i)
                    .and_then(serde_json::Value::as_f64)
                    .map(|x| x as f32)
            };
            Some(Word::new(
                v["text"].as_str()?,
                v["score"].as_f64()? as f32,
                f(0)?,
                f(1)?,
                f(2)?,
                f(3)?,
            ))
        })
        .collect()
}

/// The tokens of a company name: upper case, punctuation folded.
fn tokens(text: &str) -> BTreeSet<String> {
    text.to_uppercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn vendor_matches(read: Option<&str>, company: &str) -> bool {
    let want = tokens(company);
    if want.is_empty() {
        return false;
    }
    let got = read.map(tokens).unwrap_or_default();
    let covered = want.iter().filter(|t| got.contains(*t)).count();
    covered * 10 >= want.len() * 8
}

/// The key's total in minor units: `1.75`, `RM 1,234.50`.
fn key_total(text: &str) -> Option<i64> {
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let (whole, cents) = digits.split_once('.').unwrap_or((&digits, "0"));
    let cents = format!("{cents:0<2}");
    Some(whole.parse::<i64>().ok()? * 100 + cents.get(..2)?.parse::<i64>().ok()?)
}

fn key_date(text: &str, hints: &Hints) -> Option<NaiveDate> {
    normalise::date_in_order(text, hints, true).ok()
}

/// The process's peak resident set so far (`VmHWM`), in MiB; 0 where /proc does not say.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

fn ms(d: Duration, n: usize) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0 / n.max(1) as f64)
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", part as f64 * 100.0 / whole.max(1) as f64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = args();
    let hints = Hints::new(args.currency, chrono::Local::now().date_naive());
    let engine = match args.engine.as_str() {
        "paddle" => {
            let mut options = PaddleOptions::default();
            if let Some(dir) = &args.models_dir {
                options.models_dir = dir.clone();
            }
            Engine::Paddle(Paddle::load(&options).unwrap_or_else(|e| panic!("{e}")))
        }
        "tesseract" => {
            let t = Tesseract::new(TesseractOptions::default());
            t.check().await.unwrap_or_else(|e| panic!("{e}"));
            Engine::Tesseract(t)
        }
        other => panic!("unknown engine {other}: paddle or tesseract"),
    };
    let mut numbers: Vec<(u32, PathBuf)> = std::fs::read_dir(args.dir.join("img"))
        .unwrap_or_else(|e| panic!("{}/img: {e}", args.dir.display()))
        .filter_map(|e| {
            let path = e.ok()?.path();
            let n: u32 = path.file_stem()?.to_str()?.parse().ok()?;
            (args.first..=args.last).contains(&n).then_some((n, path))
        })
        .collect();
    numbers.sort();
    let (mut n, mut total_ok, mut date_ok, mut vendor_ok, mut currency_ok) = (0, 0, 0, 0, 0);
    let mut timed = 0usize;
    let [
        mut decode,
        mut detect,
        mut classify,
        mut recognise,
        mut rules,
        mut wall,
    ] = [Duration::ZERO; 6];
    let mut slowest = Duration::ZERO;
    let mut misses = Vec::new();
    let mut highest = 0;
    for (number, path) in numbers {
        let key_path = args.dir.join("key").join(format!("{number:03}.json"));
        let Ok(key) = std::fs::read_to_string(&key_path) else {
            continue;
        };
        let key: serde_json::Value = serde_json::from_str(&key).unwrap();
        let cached = args
            .cache
            .as_ref()
            .map(|c| c.join(&args.engine).join(format!("{number:03}.jsonl")));
        let started = Instant::now();
        let words = match cached.as_deref().and_then(load) {
            Some(words) => words,
            None => {
                let bytes = std::fs::read(&path).unwrap();
                let (words, timings) = engine.words(&bytes).await;
                if let Some(t) = timings {
                    timed += 1;
                    decode += t.decode;
                    detect += t.engine.detect;
                    classify += t.engine.classify;
                    recognise += t.engine.recognise;
                }
                if let Some(cached) = &cached {
                    save(cached, &words);
                }
                // Which receipts raise the peak: what to look at when it is too high.
                let peak = peak_rss_mib();
                if peak >= highest + 16 {
                    eprintln!("  {number:03} raised the peak RSS to {peak} MiB");
                    highest = peak;
                }
                words
            }
        };
        let shown = args.show.then(|| {
            ledgerly_ocr::layout::lines(words.clone())
                .iter()
                .map(|l| format!("    | {}", l.text()))
                .collect::<Vec<_>>()
                .join("\n")
        });
        let rules_started = Instant::now();
        let fields = fields_from_words(words, &hints).ok();
        rules += rules_started.elapsed();
        let took = started.elapsed();
        wall += took;
        slowest = slowest.max(took);
        n += 1;
        let want_total = key["total"].as_str().and_then(key_total);
        let want_date = key["date"].as_str().and_then(|d| key_date(d, &hints));
        let company = key["company"].as_str().unwrap_or_default();
        let got_total = fields.as_ref().and_then(|f| f.total);
        let got_date = fields.as_ref().and_then(|f| f.date);
        let got_vendor = fields.as_ref().and_then(|f| f.vendor.clone());
        let t_ok = want_total.is_some() && got_total.map(|t| t.minor()) == want_total;
        let d_ok = want_date.is_some() && got_date == want_date;
        let v_ok = vendor_matches(got_vendor.as_deref(), company);
        total_ok += usize::from(t_ok);
        date_ok += usize::from(d_ok);
        vendor_ok += usize::from(v_ok);
        currency_ok += usize::from(got_total.is_some_and(|t| t.currency() == args.currency));
        if args.misses && !(t_ok && d_ok && v_ok) {
            let mut line = format!("{number:03}:");
            if !t_ok {
                line += &format!(
                    " total {:?} (is {})",
                    got_total.map(|t| t.to_decimal_string()),
                    key["total"]
                );
            }
            if !d_ok {
                line += &format!(" date {got_date:?} (is {})", key["date"]);
            }
            if !v_ok {
                line += &format!(" vendor {got_vendor:?} (is {company:?})");
            }
            misses.push(line);
            if let Some(shown) = &shown {
                misses.push(shown.clone());
            }
        }
    }
    for miss in &misses {
        eprintln!("{miss}");
    }
    let per = |d: Duration| ms(d, timed);
    let stages = if timed == 0 {
        "cached words: not timed | | | | |".to_owned()
    } else {
        format!(
            "{} | {} | {} | {} | {} |",
            per(decode),
            per(detect),
            per(classify),
            per(recognise),
            ms(rules, n)
        )
    };
    println!(
        "| {} | {n} | {} | {} | {} | {} | {:.2} s ({:.2} s slowest) | {stages}",
        args.engine,
        percent(total_ok, n),
        percent(date_ok, n),
        percent(vendor_ok, n),
        percent(currency_ok, n),
        wall.as_secs_f64() / n.max(1) as f64,
        slowest.as_secs_f64(),
    );
}
