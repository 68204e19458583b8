//! Getting a receipt file ready to read: PDFs rasterised (the first page, with poppler's
//! `pdftoppm`), HEIC converted (libheif's `heif-convert`, when installed) or refused with a
//! message that says what to do, and — for OCR — grayscale, small images upscaled, the skew
//! measured and undone.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use imageproc::geometric_transformations::{Interpolation, rotate_about_center};
use ledgerly_core::ReceiptKind;
use tokio::process::Command;

use crate::extractor::ExtractError;

/// A file's bytes as an image in a format every backend takes (JPEG, PNG or WebP), with its kind.
/// PDFs become a PNG of their first page; HEIC becomes a JPEG.
pub async fn to_raster(
    bytes: &[u8],
    kind: ReceiptKind,
) -> Result<(Vec<u8>, ReceiptKind), ExtractError> {
    match kind {
        ReceiptKind::Jpeg | ReceiptKind::Png | ReceiptKind::Webp => Ok((bytes.to_vec(), kind)),
        ReceiptKind::Pdf => Ok((rasterise_pdf(bytes).await?, ReceiptKind::Png)),
        ReceiptKind::Heic => Ok((convert_heic(bytes).await?, ReceiptKind::Jpeg)),
    }
}

/// The longest a PDF or HEIC conversion may take.
const CONVERT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// The most address space a conversion may take: rendering a receipt's page at
/// [`PDF_LONGEST_SIDE`] pixels or decoding a 48-megapixel HEIC photo takes a fraction of it; a
/// file built to exhaust memory fails instead of taking the machine with it.
pub const CONVERT_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;
/// The longest side, in pixels, a PDF page is rendered at, whatever size the page declares.
const PDF_LONGEST_SIDE: u32 = 2400;

/// Where `prlimit` (util-linux) is looked for: it applies the memory limit to a conversion.
const PRLIMIT: &str = "prlimit";

/// Finds `program` on `PATH`.
fn find_program(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        let path = Path::new(program);
        return path.is_file().then(|| path.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// How a helper program is run: within a time and a memory limit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: std::time::Duration,
    pub memory_bytes: u64,
}

impl Limits {
    /// The limits every PDF and HEIC conversion runs within.
    pub const CONVERSION: Limits = Limits {
        timeout: CONVERT_TIMEOUT,
        memory_bytes: CONVERT_MEMORY_BYTES,
    };
}

/// Runs `program` with `args` in `dir`, killed past `limits.timeout` and refused memory past
/// `limits.memory_bytes` (its address space, set by `prlimit` before the program starts). Without
/// `prlimit` on the machine the program runs with the time limit alone, and a warning says so.
/// `missing` is the reason given when `program` is not installed.
pub async fn run_limited(
    program: &str,
    args: &[&str],
    dir: &Path,
    limits: Limits,
    missing: &str,
) -> Result<std::process::Output, ExtractError> {
    let Some(path) = find_program(program) else {
        return Err(ExtractError::Permanent(missing.to_owned()));
    };
    let mut command = match find_program(PRLIMIT) {
        Some(prlimit) => {
            let mut command = Command::new(prlimit);
            command
                .arg(format!("--as={}", limits.memory_bytes))
                .arg("--")
                .arg(&path);
            command
        }
        None => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "prlimit (util-linux) is not installed: file conversions run without a \
                     memory limit"
                );
            });
            Command::new(&path)
        }
    };
    let run = command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limits.timeout, run)
        .await
        .map_err(|_| {
            ExtractError::Permanent(format!(
                "converting the file took longer than {} seconds; it may be damaged or far \
                 larger than a receipt — export the first page as an image and upload that",
                limits.timeout.as_secs()
            ))
        })?
        .map_err(|e| ExtractError::Transient(format!("cannot run {program}: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr.trim().lines().last().unwrap_or("no message");
        let out_of_memory = said.contains("alloc")
            || said.contains("memory")
            || said.contains("Memory")
            || output.status.code().is_none();
        return Err(ExtractError::Permanent(if out_of_memory {
            format!(
                "{program} could not read the file within {} MiB of memory ({said}); it may be \
                 damaged or far larger than a receipt — export it as a JPEG and upload that",
                limits.memory_bytes / 1024 / 1024
            )
        } else {
            format!("{program} could not read the file: {said}")
        }));
    }
    Ok(output)
}

/// Runs `program` on a scratch folder holding `input` as `name`, within [`Limits::CONVERSION`];
/// returns the folder.
async fn run_in_scratch(
    program: &str,
    input: &[u8],
    name: &str,
    args: &[&str],
    missing: &str,
) -> Result<tempfile::TempDir, ExtractError> {
    let dir = tempfile::tempdir()
        .map_err(|e| ExtractError::Transient(format!("cannot make a scratch folder: {e}")))?;
    tokio::fs::write(dir.path().join(name), input)
        .await
        .map_err(|e| ExtractError::Transient(format!("cannot write a scratch file: {e}")))?;
    run_limited(program, args, dir.path(), Limits::CONVERSION, missing).await?;
    Ok(dir)
}

async fn rasterise_pdf(bytes: &[u8]) -> Result<Vec<u8>, ExtractError> {
    let dir = run_in_scratch(
        "pdftoppm",
        bytes,
        "receipt.pdf",
        &[
            "-png",
            // The longest side in pixels, whatever the page's size: a 200-inch page at a fixed
            // resolution would be a 40,000-pixel image.
            "-scale-to",
            &PDF_LONGEST_SIDE.to_string(),
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "receipt.pdf",
            "page",
        ],
        "PDF receipts need poppler's pdftoppm (Debian: poppler-utils), which is not installed",
    )
    .await?;
    read_output(&dir.path().join("page.png")).await
}

async fn convert_heic(bytes: &[u8]) -> Result<Vec<u8>, ExtractError> {
    let dir = run_in_scratch(
        "heif-convert",
        bytes,
        "receipt.heic",
        &["-q", "92", "receipt.heic", "receipt.jpg"],
        "HEIC photos cannot be read here: heif-convert (Debian: libheif-examples) is not installed; \
         export the photo as JPEG and upload it again",
    )
    .await?;
    read_output(&dir.path().join("receipt.jpg")).await
}

async fn read_output(path: &Path) -> Result<Vec<u8>, ExtractError> {
    tokio::fs::read(path)
        .await
        .map_err(|e| ExtractError::Permanent(format!("the file could not be converted ({e})")))
}

/// The largest image side decoded: a 600 dpi scan of a two-metre till roll. A file declaring more
/// is refused before any pixel is allocated.
pub const MAX_DECODE_SIDE: u32 = 20_000;
/// The most memory one decoded image may take: 64 megapixels at four bytes each (a 48-megapixel
/// phone photo fits). Checked against the header's size before anything is allocated.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

fn image_format(kind: ReceiptKind) -> Result<ImageFormat, ExtractError> {
    match kind {
        ReceiptKind::Jpeg => Ok(ImageFormat::Jpeg),
        ReceiptKind::Png => Ok(ImageFormat::Png),
        ReceiptKind::Webp => Ok(ImageFormat::WebP),
        ReceiptKind::Heic | ReceiptKind::Pdf => Err(ExtractError::Permanent(
            "the file must be converted to an image first".into(),
        )),
    }
}

fn damaged(e: impl std::fmt::Display) -> ExtractError {
    ExtractError::Permanent(format!(
        "the image cannot be decoded ({e}); it may be damaged or not an image — export it \
         again as JPEG or PNG"
    ))
}

/// The image's size as its header declares it, refused when beyond what is decoded.
fn checked_dimensions(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), ExtractError> {
    if bytes.is_empty() {
        return Err(ExtractError::Permanent(
            "the file is empty (zero bytes); upload the receipt again".into(),
        ));
    }
    let (width, height) = image::ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(damaged)?;
    let pixels = u64::from(width) * u64::from(height);
    if width.max(height) > MAX_DECODE_SIDE || pixels * 4 > MAX_DECODE_BYTES {
        return Err(ExtractError::Permanent(format!(
            "the image is {width}×{height} pixels, larger than receipts are read at (at most \
             {MAX_DECODE_SIDE} pixels a side and {} megapixels); scale it down and upload it again",
            MAX_DECODE_BYTES / 4 / 1_000_000
        )));
    }
    if width == 0 || height == 0 {
        return Err(damaged("it has no pixels"));
    }
    Ok((width, height))
}

/// Decodes a JPEG, PNG or WebP, within [`MAX_DECODE_SIDE`] and a memory bound.
pub fn decode(bytes: &[u8], kind: ReceiptKind) -> Result<DynamicImage, ExtractError> {
    let format = image_format(kind)?;
    checked_dimensions(bytes, format)?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(damaged)
}

/// Decodes an image no larger than needed for `max_side`: a large JPEG is decoded at a half, a
/// quarter or an eighth of its size straight from its DCT (many times faster than decoding a
/// 35-megapixel scan and scaling it down); other images are decoded whole. The result may still
/// exceed `max_side`; it is never below it unless the image is.
pub fn decode_for(
    bytes: &[u8],
    kind: ReceiptKind,
    max_side: u32,
) -> Result<DynamicImage, ExtractError> {
    let format = image_format(kind)?;
    let (width, height) = checked_dimensions(bytes, format)?;
    if kind == ReceiptKind::Jpeg && width.max(height) >= max_side.saturating_mul(2) {
        let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        let factor = f64::from(max_side) / f64::from(width.max(height));
        let want = |side: u32| {
            ((f64::from(side) * factor).ceil() as u32).clamp(1, u32::from(u16::MAX)) as u16
        };
        if let Ok((w, h)) = decoder.scale(want(width), want(height))
            && let Ok(pixels) = decoder.decode()
            && let Some(info) = decoder.info()
        {
            let (w, h) = (u32::from(w), u32::from(h));
            let image = match info.pixel_format {
                jpeg_decoder::PixelFormat::RGB24 => {
                    image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
                }
                jpeg_decoder::PixelFormat::L8 => {
                    GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8)
                }
                // CMYK and 16-bit JPEGs are rare: the general decoder handles them.
                _ => None,
            };
            if let Some(image) = image {
                return Ok(image);
            }
        }
    }
    decode(bytes, kind)
}

/// The width OCR reads best at: smaller images are scaled up to it.
const TARGET_WIDTH: u32 = 1400;
/// Images larger than this (in either side) are scaled down first.
const MAX_SIDE: u32 = 4000;

/// Grayscale, sized for OCR, straightened. Returns the image and the skew it corrected, in degrees.
pub fn prepare_for_ocr(image: &DynamicImage) -> (GrayImage, f32) {
    let mut gray = image.to_luma8();
    let (w, h) = gray.dimensions();
    if w.max(h) > MAX_SIDE {
        let factor = MAX_SIDE as f32 / w.max(h) as f32;
        gray = image::imageops::resize(
            &gray,
            ((w as f32 * factor) as u32).max(1),
            ((h as f32 * factor) as u32).max(1),
            image::imageops::FilterType::Triangle,
        );
    } else if w < TARGET_WIDTH {
        let factor = (TARGET_WIDTH as f32 / w.max(1) as f32).min(4.0);
        gray = image::imageops::resize(
            &gray,
            (w as f32 * factor) as u32,
            (h as f32 * factor) as u32,
            image::imageops::FilterType::CatmullRom,
        );
    }
    let skew = estimate_skew(&gray);
    if skew.abs() >= 0.2 {
        gray = rotate_about_center(
            &gray,
            (-skew).to_radians(),
            Interpolation::Bilinear,
            Luma([255]),
        );
    }
    let level = imageproc::contrast::otsu_level(&gray);
    imageproc::contrast::threshold_mut(
        &mut gray,
        level,
        imageproc::contrast::ThresholdType::Binary,
    );
    despeckle(&mut gray, SPECK_AREA);
    (gray, skew)
}

/// Ink blots smaller than this many pixels (after upscaling) are noise, not text: the dot of an
/// `i` at the smallest legible size is several times larger.
const SPECK_AREA: u32 = 12;

/// Whitens connected ink blots of fewer than `max_area` pixels in a binary image.
fn despeckle(binary: &mut GrayImage, max_area: u32) {
    use imageproc::region_labelling::{Connectivity, connected_components};
    let inverted = image::ImageBuffer::from_fn(binary.width(), binary.height(), |x, y| {
        Luma([255 - binary.get_pixel(x, y).0[0]])
    });
    let labels = connected_components(&inverted, Connectivity::Eight, Luma([0u8]));
    let mut areas: Vec<u32> = Vec::new();
    for label in labels.pixels() {
        let l = label.0[0] as usize;
        if l >= areas.len() {
            areas.resize(l + 1, 0);
        }
        areas[l] += 1;
    }
    for (x, y, label) in labels.enumerate_pixels() {
        let l = label.0[0] as usize;
        if l != 0 && areas[l] < max_area {
            binary.put_pixel(x, y, Luma([255]));
        }
    }
}

/// The text's tilt in degrees (positive: clockwise), by the projection profile: text lines are
/// sharpest — the rows' ink counts vary most — when the image is level. Searched on a small copy
/// within ±5°.
pub fn estimate_skew(gray: &GrayImage) -> f32 {
    let (w, h) = gray.dimensions();
    let factor = (500.0 / w.max(1) as f32).min(1.0);
    let small = image::imageops::resize(
        gray,
        ((w as f32 * factor) as u32).max(1),
        ((h as f32 * factor) as u32).max(1),
        image::imageops::FilterType::Triangle,
    );
    let level = imageproc::contrast::otsu_level(&small);
    let ink: Vec<(f32, f32)> = small
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[0] < level)
        .map(|(x, y, _)| (x as f32, y as f32))
        .collect();
    if ink.is_empty() {
        return 0.0;
    }
    let (cx, cy) = (small.width() as f32 / 2.0, small.height() as f32 / 2.0);
    let rows = small.height() as usize * 2 + 1;
    let sharpness = |degrees: f32| {
        let (sin, cos) = (-degrees).to_radians().sin_cos();
        let mut profile = vec![0u32; rows];
        for &(x, y) in &ink {
            // The row this ink lands on once the image is turned by -degrees.
            let ry = sin * (x - cx) + cos * (y - cy) + cy;
            let row = (ry + small.height() as f32 / 2.0).round();
            if row >= 0.0 && (row as usize) < rows {
                profile[row as usize] += 1;
            }
        }
        profile
            .iter()
            .map(|&n| f64::from(n) * f64::from(n))
            .sum::<f64>()
    };
    let mut best = (0.0f32, sharpness(0.0));
    let mut step = 1.0f32;
    let mut centre = 0.0f32;
    let mut span = 5.0f32;
    while step >= 0.1 {
        let mut angle = centre - span;
        while angle <= centre + span + f32::EPSILON {
            let score = sharpness(angle);
            if score > best.1 {
                best = (angle, score);
            }
            angle += step;
        }
        centre = best.0;
        span = step;
        step /= 4.0;
    }
    best.0
}

/// `image` as PNG bytes.
pub fn png(image: &GrayImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .unwrap_or_else(|e| unreachable!("encoding to memory cannot fail: {e}"));
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_image(degrees: f32) -> GrayImage {
        let mut image = GrayImage::from_pixel(600, 400, Luma([255]));
        for line in 0..8 {
            let y = 40 + line * 40;
            for x in 60..540 {
                for dy in 0..6 {
                    if (x / 7) % 3 != 0 {
                        image.put_pixel(x, y + dy, Luma([0]));
                    }
                }
            }
        }
        rotate_about_center(
            &image,
            degrees.to_radians(),
            Interpolation::Bilinear,
            Luma([255]),
        )
    }

    #[test]
    fn the_skew_of_tilted_lines_is_found() {
        for degrees in [-3.0f32, -1.2, 0.0, 0.8, 2.5] {
            let found = estimate_skew(&lines_image(degrees));
            assert!(
                (found - degrees).abs() <= 0.3,
                "tilted {degrees}°, found {found}°"
            );
        }
    }

    #[test]
    fn small_images_are_upscaled_and_straightened() {
        let tilted = DynamicImage::ImageLuma8(lines_image(2.0));
        let (prepared, skew) = prepare_for_ocr(&tilted);
        assert!(prepared.width() >= TARGET_WIDTH);
        assert!((skew - 2.0).abs() <= 0.3, "{skew}");
        assert!(estimate_skew(&prepared).abs() <= 0.3);
    }

    #[tokio::test]
    async fn a_helper_program_is_refused_memory_past_its_limit_and_stopped_past_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits {
            timeout: std::time::Duration::from_secs(20),
            memory_bytes: 256 << 20,
        };
        let take = |mib: u32| format!("b = bytearray({mib} << 20)");
        run_limited("python3", &["-c", &take(16)], dir.path(), limits, "")
            .await
            .unwrap();
        let err = run_limited("python3", &["-c", &take(512)], dir.path(), limits, "")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ExtractError::Permanent(m) if m.contains("within 256 MiB")),
            "{err:?}"
        );
        let started = std::time::Instant::now();
        let quick = Limits {
            timeout: std::time::Duration::from_millis(300),
            ..limits
        };
        let err = run_limited("sleep", &["10"], dir.path(), quick, "")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ExtractError::Permanent(m) if m.contains("took longer")),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let err = run_limited("no-such-converter", &[], dir.path(), limits, "install it")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ExtractError::Permanent(m) if m == "install it"),
            "{err:?}"
        );
    }

    #[test]
    fn damaged_files_are_refused_for_good() {
        let err = decode(b"\x89PNG\r\n\x1a\nnot really", ReceiptKind::Png).unwrap_err();
        assert!(matches!(err, ExtractError::Permanent(_)), "{err:?}");
    }
}
