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

/// A PNG whose header declares `width`×`height` pixels, with a valid checksum and no pixels.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
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
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // One IDAT holding an empty zlib stream: enough for a decoder to start allocating.
    let idat = [
        b"IDAT".as_slice(),
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ]
    .concat();
    png.extend_from_slice(&8u32.to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

/// A one-page PDF whose page is `inches` square, with a line of text on it.
fn pdf_with_page(inches: u32) -> Vec<u8> {
    let side = inches * 72;
    let content = "BT /F1 48 Tf 72 72 Td (TOTAL 12.50) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side} {side}] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
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
    ];
    for (what, bytes, kind, says) in cases {
        let started = Instant::now();
        let result = engine.extract(&bytes, kind, &hints(Currency::USD)).await;
        let took = started.elapsed();
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
