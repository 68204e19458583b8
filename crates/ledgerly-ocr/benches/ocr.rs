//! The OCR benchmark: both offline backends (the PP-OCR engine and tesseract) on a generated set
//! of receipts — per-field accuracy and receipts per second — and the `ledgerly-ocr` binary's
//! cold start as a Lambda (exec → asking the runtime API for its first event). Prints a Markdown
//! report for docs/benchmarks.md.
//!
//! `scripts/bench-ocr [receipts]` (default 200).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledgerly_ocr::backends::paddle::{Paddle, PaddleOptions};
use ledgerly_ocr::backends::tesseract::{Tesseract, TesseractOptions};
use ledgerly_ocr::paddle::models;
use ledgerly_ocr::synth::{self, Fonts};
use ledgerly_ocr::{Extractor, Hints};
use tokio::sync::Semaphore;

const SEED: u64 = 2026;

#[derive(Default)]
struct Tally {
    n: usize,
    vendor: usize,
    date: usize,
    total: usize,
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", part as f64 * 100.0 / whole.max(1) as f64)
}

async fn accuracy(count: u64, engine: Arc<dyn Extractor>, version: &str) {
    let fonts = Fonts::load().unwrap();
    let receipts = Arc::new(synth::receipts(&fonts, SEED, count));
    let tesseract = engine;
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let limit = Arc::new(Semaphore::new(parallel));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..receipts.len() {
        let receipts = receipts.clone();
        let tesseract = tesseract.clone();
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let receipt = &receipts[index];
            let hints = Hints::new(
                receipt.total.currency(),
                NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            );
            let fields = tesseract
                .extract(&receipt.image, receipt.kind, &hints)
                .await
                .ok();
            (index, fields)
        }));
    }
    let mut overall = Tally::default();
    let mut by_layout: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for task in tasks {
        let (index, fields) = task.await.unwrap();
        let receipt = &receipts[index];
        let layout = receipt
            .description
            .split([' ', ','])
            .nth(1)
            .unwrap_or("?")
            .to_owned();
        let norm = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let (vendor, date, total) = fields.as_ref().map_or((false, false, false), |f| {
            (
                f.vendor
                    .as_deref()
                    .is_some_and(|v| norm(v) == norm(&receipt.vendor)),
                f.date == Some(receipt.date),
                f.total == Some(receipt.total),
            )
        });
        for tally in [&mut overall, by_layout.entry(layout).or_default()] {
            tally.n += 1;
            tally.vendor += usize::from(vendor);
            tally.date += usize::from(date);
            tally.total += usize::from(total);
        }
        if !(vendor && date && total) {
            let show = |ok: bool, read: String, truth: String| {
                if ok {
                    "ok".to_owned()
                } else {
                    format!("{read} (is {truth})")
                }
            };
            misses.push(format!(
                "- {}: vendor {}, date {}, total {}",
                receipt.description,
                show(
                    vendor,
                    format!("{:?}", fields.as_ref().and_then(|f| f.vendor.clone())),
                    receipt.vendor.clone()
                ),
                show(
                    date,
                    format!("{:?}", fields.as_ref().and_then(|f| f.date)),
                    receipt.date.to_string()
                ),
                show(
                    total,
                    format!(
                        "{:?}",
                        fields.as_ref().and_then(|f| f.total.map(|t| t.format()))
                    ),
                    receipt.total.format()
                ),
            ));
        }
    }
    let elapsed = started.elapsed();
    println!(
        "## OCR: the {} backend on {count} generated receipts\n",
        tesseract.name()
    );
    println!(
        "{version}; {parallel} receipts at a time; seed {SEED}. {:.2} receipts/s ({:.0} ms of wall time per receipt).\n",
        overall.n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / overall.n as f64
    );
    println!("| layout | receipts | total exact | date exact | vendor exact |");
    println!("|---|---|---|---|---|");
    for (layout, t) in by_layout.iter().chain([(&"**all**".to_owned(), &overall)]) {
        println!(
            "| {layout} | {} | {} | {} | {} |",
            t.n,
            percent(t.total, t.n),
            percent(t.date, t.n),
            percent(t.vendor, t.n)
        );
    }
    println!("\nMisses:\n");
    for miss in &misses {
        println!("{miss}");
    }
    println!();
}

/// Time from spawning the binary as a Lambda to its first request for an event, `runs` times.
async fn cold_start(backend: &str, runs: usize) -> Vec<Duration> {
    use axum::routing::get;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let app = axum::Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let tx = tx.clone();
            async move {
                tx.send(Instant::now()).ok();
                // Hold the request as the real runtime API does while no event is waiting.
                tokio::time::sleep(Duration::from_secs(30)).await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ledgerly-ocr"))
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "ledgerly-ocr")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("LEDGERLY_API_URL", "http://127.0.0.1:9")
            .env("LEDGERLY__OCR__CALLBACK_SECRET", "x".repeat(32))
            .env("LEDGERLY__STORAGE__BUCKET", "receipts")
            .env("LEDGERLY__EXTRACTOR__BACKEND", backend)
            .env("LEDGERLY__EXTRACTOR__API_KEY", "bench-key")
            .env("RUST_LOG", "error")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let ready = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("the Lambda never asked for an event")
            .unwrap();
        times.push(ready - started);
        child.kill().await.ok();
    }
    times.sort();
    times
}

fn write(count: u64, dir: &std::path::Path) {
    let fonts = Fonts::load().unwrap();
    for sub in ["img", "key"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (index, receipt) in synth::receipts(&fonts, SEED, count).iter().enumerate() {
        let extension = match receipt.kind {
            ledgerly_core::ReceiptKind::Jpeg => "jpg",
            ledgerly_core::ReceiptKind::Png => "png",
            other => panic!("a generated receipt is an image, not {other:?}"),
        };
        std::fs::write(
            dir.join("img").join(format!("{index:03}.{extension}")),
            &receipt.image,
        )
        .unwrap();
        let key = serde_json::json!({
            "company": receipt.vendor,
            "date": receipt.date.to_string(),
            "total": receipt.total.to_decimal_string(),
            "description": receipt.description,
        });
        std::fs::write(
            dir.join("key").join(format!("{index:03}.json")),
            key.to_string(),
        )
        .unwrap();
    }
    println!("{count} receipts in {}", dir.display());
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = args.iter().find_map(|a| a.parse().ok()).unwrap_or(200);
    // `--only paddle` or `--only tesseract`: one engine's accuracy (tesseract's takes minutes).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let run = |engine: &str| only.is_none_or(|o| o == engine);
    // `--write DIR`: the generated receipts in the SROIE layout (img/NNN.png, key/NNN.json) and
    // nothing else, for `bench-ocr-real DIR -- --misses --show` to show what the engine read.
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
    {
        write(count, std::path::Path::new(dir));
        return;
    }
    let dir = std::env::var_os("LEDGERLY__EXTRACTOR__MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(models::default_dir);
    let paddle = Paddle::installed(PaddleOptions {
        models_dir: dir,
        ..PaddleOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    if run("paddle") {
        accuracy(count, Arc::new(paddle), "PP-OCRv4 on rten").await;
    }
    if run("tesseract") {
        let tesseract = Tesseract::new(TesseractOptions::default());
        let version = tesseract.check().await.unwrap();
        accuracy(count, Arc::new(tesseract), &version).await;
    }
    println!("## The Lambda's cold start (exec → first request for an event), 20 runs\n");
    println!("| backend | median | p90 | max |");
    println!("|---|---|---|---|");
    for backend in ["gemini", "tesseract", "paddle"] {
        let times = cold_start(backend, 20).await;
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {backend} | {} | {} | {} |",
            ms(times[times.len() / 2]),
            ms(times[times.len() * 9 / 10]),
            ms(times[times.len() - 1])
        );
    }
}
