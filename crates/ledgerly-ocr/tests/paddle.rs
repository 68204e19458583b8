//! The default engine — PP-OCR from the pinned models — on receipts the suite renders itself
//! (accuracy over the set must hold), and on files that are not receipts at all: each is a
//! failed receipt with a reason a person understands, quickly, without a crash.
//!
//! The models are installed into the default models folder (or `LEDGERLY_TEST_MODELS_DIR`) on
//! first use, from the pinned wheels.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledgerly_core::{Currency, ReceiptKind};
use ledgerly_ocr::backends::paddle::{Paddle, PaddleOptions};
use ledgerly_ocr::paddle::models;
use ledgerly_ocr::synth::{self, Fonts};
use ledgerly_ocr::{ExtractError, Extractor, Hints};
use tokio::sync::OnceCell;

fn hints(currency: Currency) -> Hints {
    Hints::new(currency, NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())
}

async fn engine() -> &'static Paddle {
    static ENGINE: OnceCell<Paddle> = OnceCell::const_new();
    ENGINE
        .get_or_init(|| async {
            Paddle::installed(PaddleOptions {
                models_dir: models_dir(),
                timeout: Duration::from_secs(30),
            })
            .await
            .unwrap_or_else(|e| panic!("installing the OCR models for the tests: {e}"))
        })
        .await
}

/// Where the tests install and read the models.
fn models_dir() -> std::path::PathBuf {
    std::env::var_os("LEDGERLY_TEST_MODELS_DIR")
        .map(Into::into)
        .unwrap_or_else(models::default_dir)
}

fn same_vendor(read: Option<&str>, truth: &str) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    read.is_some_and(|r| norm(r) == norm(truth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_are_read_from_generated_receipts() {
    let engine = engine().await;
    let fonts = Fonts::load().unwrap();
    let receipts = synth::receipts(&fonts, 11, 20);
    let (mut vendor, mut date, mut total) = (0, 0, 0);
    for receipt in &receipts {
        let h = hints(receipt.total.currency());
        let fields = engine
            .extract(&receipt.image, receipt.kind, &h)
            .await
            .unwrap();
        let ok_vendor = same_vendor(fields.vendor.as_deref(), &receipt.vendor);
        let ok_date = fields.date == Some(receipt.date);
        let ok_total = fields.total == Some(receipt.total);
        vendor += usize::from(ok_vendor);
        date += usize::from(ok_date);
        total += usize::from(ok_total);
        if !(ok_vendor && ok_date && ok_total) {
            println!(
                "{}: vendor {:?} (want {:?}), date {:?} (want {}), total {:?} (want {})\n---\n{}\n---",
                receipt.description,
                fields.vendor,
                receipt.vendor,
                fields.date,
                receipt.date,
                fields.total.map(|t| t.format()),
                receipt.total.format(),
                fields.raw
            );
        }
    }
    let n = receipts.len();
    println!("vendor {vendor}/{n}, date {date}/{n}, total {total}/{n}");
    assert!(total * 100 >= n * 90, "total read right on {total} of {n}");
    assert!(date * 100 >= n * 90, "date read right on {date} of {n}");
    assert!(
        vendor * 100 >= n * 80,
        "vendor read right on {vendor} of {n}"
    );
}

/// A PNG declaring `width`×`height` 8-bit RGB, with an empty zlib stream for its pixels:
/// enough for a decoder to start allocating.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    png_with(
        width,
        height,
        2,
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    )
}

/// A PNG of `width`×`height` of colour type `colour`, whose pixel data is the zlib stream `zlib`.
fn png_with(width: u32, height: u32, colour: u8, zlib: &[u8]) -> Vec<u8> {
    fn chunk(png: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        let body = [kind, data].concat();
        png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, colour, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A raw deflate stream that inflates to about `bytes` zero bytes: one literal, then copies of
/// 258 bytes from one back, 13 bits each in the fixed Huffman code (a ratio of about 160).
fn deflate_zeros(bytes: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        bit: u32,
    }
    impl Bits {
        fn push(&mut self, value: u32, count: u32) {
            for i in 0..count {
                if self.bit == 0 {
                    self.out.push(0);
                }
                *self.out.last_mut().unwrap() |=
                    u8::try_from((value >> i) & 1).unwrap() << self.bit;
                self.bit = (self.bit + 1) % 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            for i in (0..count).rev() {
                self.push((code >> i) & 1, 1);
            }
        }
    }
    let mut bits = Bits {
        out: Vec::new(),
        bit: 0,
    };
    bits.push(1, 1); // the last block
    bits.push(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // the literal 0
    for _ in 0..bytes.saturating_sub(1) / 258 {
        bits.code(0b1100_0101, 8); // length 258
        bits.code(0, 5); // distance 1
    }
    bits.code(0, 7); // end of block
    bits.out
}

/// [`deflate_zeros`] in a zlib wrapper, as PNG and PDF streams hold it.
fn zlib_zeros(bytes: u64) -> Vec<u8> {
    let inflated = 1 + bytes.saturating_sub(1) / 258 * 258;
    // Adler-32 of zeros: the sum stays 1, the sum of sums grows by 1 a byte.
    let adler = (((inflated % 65521) as u32) << 16) | 1;
    [
        vec![0x78, 0x01],
        deflate_zeros(bytes),
        adler.to_be_bytes().to_vec(),
    ]
    .concat()
}

/// A one-page PDF whose page is `inches` square, with a line of text on it.
fn pdf_with_page(inches: u32) -> Vec<u8> {
    let side = inches * 72;
    let content = "BT /F1 48 Tf 72 72 Td (TOTAL 12.50) Tj ET";
    synth::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side} {side}] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ).into_bytes(),
        synth::pdf_stream("", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ])
}

/// A one-page PDF whose page's drawing instructions inflate to `bytes` (zeros, which PDF reads as
/// blank space).
fn pdf_with_content_bomb(bytes: u64) -> Vec<u8> {
    synth::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
        synth::pdf_stream("/Filter /FlateDecode", &zlib_zeros(bytes)),
    ])
}

/// A one-page PDF showing a `side`×`side` grayscale image whose pixels are a zlib bomb.
fn pdf_with_image_bomb(side: u32) -> Vec<u8> {
    let content = "q 612 0 0 792 0 0 cm /Im0 Do Q";
    synth::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        synth::pdf_stream(
            &format!("/Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"),
            &zlib_zeros(u64::from(side) * u64::from(side)),
        ),
        synth::pdf_stream("", content.as_bytes()),
    ])
}

/// A zip archive whose one member inflates to `bytes`, behind a JPEG's magic bytes.
fn zip_bomb_as_jpeg(bytes: u64) -> Vec<u8> {
    let data = deflate_zeros(bytes);
    let mut zip = vec![0xFF, 0xD8, 0xFF, 0xE0];
    zip.extend_from_slice(b"PK\x03\x04");
    zip.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]); // version, flags, deflate, time, date
    zip.extend_from_slice(&0u32.to_le_bytes()); // CRC (never checked: nothing gets that far)
    zip.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    zip.extend_from_slice(&u32::try_from(bytes).unwrap_or(u32::MAX).to_le_bytes());
    zip.extend_from_slice(&9u16.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(b"zeros.bin");
    zip.extend_from_slice(&data);
    zip
}

/// The most this process has had resident, from the kernel.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn jpeg_of(image: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_receipts_fail_with_a_reason_quickly() {
    let engine = engine().await;
    let receipt = jpeg_of(&image::RgbImage::from_pixel(
        600,
        900,
        image::Rgb([250, 250, 250]),
    ));
    let truncated = receipt[..receipt.len() / 3].to_vec();
    let tiny = jpeg_of(&image::RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 0])));
    let cases: Vec<(&str, Vec<u8>, ReceiptKind, &str)> = vec![
        ("zero bytes", Vec::new(), ReceiptKind::Jpeg, "empty"),
        ("a truncated JPEG", truncated, ReceiptKind::Jpeg, ""),
        ("a 1×1 image", tiny, ReceiptKind::Jpeg, "no text"),
        (
            "a PNG declaring 30000×30000",
            png_declaring(30_000, 30_000),
            ReceiptKind::Png,
            "30000×30000",
        ),
        (
            "a PDF with a 200-inch page",
            pdf_with_page(200),
            ReceiptKind::Pdf,
            "",
        ),
        (
            "a PNG whose pixels inflate to 2 GB",
            png_with(4000, 4000, 0, &zlib_zeros(2 << 30)),
            ReceiptKind::Png,
            "",
        ),
        (
            "a zip bomb behind a JPEG's magic bytes",
            zip_bomb_as_jpeg(1 << 30),
            ReceiptKind::Jpeg,
            "cannot be decoded",
        ),
        (
            "a PDF whose page inflates to 1 GB",
            pdf_with_content_bomb(1 << 30),
            ReceiptKind::Pdf,
            "",
        ),
        (
            "a PDF showing a 40000×40000 image",
            pdf_with_image_bomb(40_000),
            ReceiptKind::Pdf,
            "",
        ),
    ];
    for (what, bytes, kind, says) in cases {
        let started = Instant::now();
        let result = engine.extract(&bytes, kind, &hints(Currency::USD)).await;
        let took = started.elapsed();
        println!("{what}: {took:?}");
        assert!(took < Duration::from_secs(30), "{what} took {took:?}");
        match result {
            Err(ExtractError::Permanent(reason)) => {
                assert!(reason.contains(says), "{what}: {reason}");
                assert!(reason.len() > 20, "{what}: {reason}");
            }
            // The huge page may hold readable text once scaled: reading it is fine too, as long
            // as it was quick and bounded.
            Ok(fields) if what.starts_with("a PDF") => {
                println!("{what}: read {:?}", fields.total);
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // The engine itself peaks near 400 MiB; none of these files took memory beyond it.
    let peak = peak_rss_bytes();
    assert!(peak < 768 << 20, "peak RSS {} MiB", peak >> 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_reports_boxes_with_positions_and_scores() {
    let engine = engine().await;
    let fonts = Fonts::load().unwrap();
    let receipt = synth::receipt(&fonts, 11, 0);
    let (words, timings) = engine.words(&receipt.image, receipt.kind).await.unwrap();
    assert!(words.len() >= 5, "{words:?}");
    for word in &words {
        assert!(word.right > word.left && word.bottom > word.top, "{word:?}");
        assert!((0.5..=1.0).contains(&word.score), "{word:?}");
    }
    // Reading order: the first word is above the last.
    assert!(words.first().unwrap().top < words.last().unwrap().top);
    assert!(timings.engine.detect > Duration::ZERO && timings.engine.recognise > Duration::ZERO);
}

/// The runtime's graph rewrites (among them the fused affine and hard-swish steps patched into
/// the vendored rten, and its vectorised depthwise convolution, which both graphs use) read a
/// receipt as the networks as written do: the same boxes, the same text, scores within
/// rounding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optimised_networks_read_as_the_networks_as_written() {
    use ledgerly_ocr::paddle::{Engine, Graph, ModelFiles};
    // Installs the models when missing.
    engine().await;
    let files = ModelFiles::find(&models_dir()).unwrap();
    let fonts = Fonts::load().unwrap();
    let receipt = synth::receipt(&fonts, 11, 3);
    let page = ledgerly_ocr::paddle::fit(image::load_from_memory(&receipt.image).unwrap());
    let (optimised, _) = Engine::load(&files).unwrap().read(&page).unwrap();
    let (as_written, _) = Engine::load_with(&files, Graph::AsWritten)
        .unwrap()
        .read(&page)
        .unwrap();
    assert!(optimised.len() >= 5, "{optimised:?}");
    assert_eq!(optimised.len(), as_written.len());
    for (a, b) in optimised.iter().zip(&as_written) {
        assert_eq!(a.text, b.text);
        assert!((a.score - b.score).abs() < 1e-3, "{a:?} {b:?}");
        let (a, b) = (a.quad.bounds(), b.quad.bounds());
        assert!(
            (a.0 - b.0).abs() < 1.0 && (a.3 - b.3).abs() < 1.0,
            "{a:?} {b:?}"
        );
    }
}

/// Hostile files uploaded through the API and read by the worker with this engine, on
/// PostgreSQL: each ends as a failed receipt with a reason, quickly, and the worker goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_uploads_end_as_failed_receipts_with_reasons() {
    use ledgerly_api::testing::{ApiClient, RunningApi};
    use ledgerly_ocr::{Worker, WorkerOptions};
    use ledgerly_store::objects::{Storage, StorageBackend, StorageLocation};
    use ledgerly_store::testing::{Backend, TestDatabase};

    let db = TestDatabase::new(Backend::Postgres).await;
    let folder = tempfile::tempdir().unwrap();
    let mut settings = ledgerly_api::Settings::default();
    settings.database.url = db.url().to_owned().into();
    settings.storage.path = folder.path().to_owned();
    let api = RunningApi::start(settings).await;
    let storage = Storage::open(&StorageLocation {
        backend: StorageBackend::Local,
        path: folder.path().to_owned(),
        bucket: String::new(),
        region: String::new(),
        endpoint: String::new(),
    })
    .await
    .unwrap();
    let worker = Worker::new(
        db.store.clone(),
        storage,
        std::sync::Arc::new(engine().await.clone()),
        WorkerOptions {
            concurrency: 1,
            poll_interval: Duration::from_millis(50),
            ..WorkerOptions::default()
        },
    );
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(worker.run(async {
        worker_stopped.await.ok();
    }));

    let user = ApiClient::register(&api.url, "hostile@example.com", "USD").await;
    let readable = jpeg_of(&image::RgbImage::from_pixel(
        600,
        900,
        image::Rgb([250, 250, 250]),
    ));
    let files = [
        ("a PNG declaring 30000×30000", png_declaring(30_000, 30_000)),
        ("a PDF with a 200-inch page", pdf_with_page(200)),
        ("a truncated JPEG", readable[..readable.len() / 3].to_vec()),
        (
            "a zip bomb behind a JPEG's magic bytes",
            zip_bomb_as_jpeg(1 << 30),
        ),
        // Kept under the upload limit (10 MB), which caps how far any bomb can inflate.
        (
            "a PNG whose pixels inflate to 1 GB",
            png_with(4000, 4000, 0, &zlib_zeros(1 << 30)),
        ),
        (
            "a PDF whose page inflates to 1 GB",
            pdf_with_content_bomb(1 << 30),
        ),
    ];
    for (what, bytes) in files {
        let started = Instant::now();
        let receipt = user.upload(bytes).await;
        let id = receipt["id"].as_str().unwrap();
        let read = user.wait_for_ocr(id, 30).await;
        println!(
            "{what}: {} in {:?} ({})",
            read["status"],
            started.elapsed(),
            read["failure_reason"]
        );
        // The 200-inch page holds a readable total once scaled; reading it is right too.
        if what.starts_with("a PDF") && read["status"] == "done" {
            continue;
        }
        assert_eq!(read["status"], "failed", "{what}: {read}");
        let reason = read["failure_reason"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "{what}: {read}");
    }
    let peak = peak_rss_bytes();
    assert!(peak < 1 << 30, "peak RSS {} MiB", peak >> 20);
    stop_worker.send(()).ok();
    worker.await.unwrap();
    api.stop().await;
    db.cleanup().await;
}
