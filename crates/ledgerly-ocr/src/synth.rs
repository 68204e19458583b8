//! Receipt images made to order, with the truth about them: the test suite and the accuracy
//! benchmark render their own receipts — several layouts, fonts from Debian's `fonts-dejavu-core`
//! and `fonts-liberation`, four currencies, eight date styles, slight rotation and noise — so
//! accuracy is measured on known answers, reproducibly from a seed. Built with the `synth`
//! feature.

use std::io::Cursor;
use std::path::Path;

use ab_glyph::{FontVec, InvalidFont, PxScale};
use chrono::{Duration, NaiveDate};
use image::{GrayImage, ImageFormat, Luma};
use imageproc::drawing::{draw_text_mut, text_size};
use imageproc::geometric_transformations::{Interpolation, rotate_about_center};
use ledgerly_core::{Currency, Money, ReceiptKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::normalise::DateStyle;

/// One generated receipt and what it says.
#[derive(Debug, Clone)]
pub struct SyntheticReceipt {
    pub image: Vec<u8>,
    pub kind: ReceiptKind,
    pub vendor: String,
    pub date: NaiveDate,
    pub total: Money,
    /// How it was made, for reports: layout, font, date style, rotation.
    pub description: String,
}

/// The fonts receipts are drawn in, loaded once.
#[derive(Debug)]
pub struct Fonts {
    fonts: Vec<(String, FontVec)>,
}

const FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
];

/// Why the fonts cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error(
        "cannot read the font {path} ({source}); install fonts-dejavu-core and fonts-liberation"
    )]
    Unreadable {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Invalid {
        path: &'static str,
        source: InvalidFont,
    },
}

impl Fonts {
    /// Loads the Debian fonts; an error names the package to install.
    pub fn load() -> Result<Fonts, FontError> {
        let mut fonts = Vec::new();
        for &path in FONT_FILES {
            let bytes =
                std::fs::read(path).map_err(|source| FontError::Unreadable { path, source })?;
            let font = FontVec::try_from_vec(bytes)
                .map_err(|source| FontError::Invalid { path, source })?;
            let name = Path::new(path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            fonts.push((name, font));
        }
        Ok(Fonts { fonts })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    IndianRestaurant,
    UsGrocery,
    EuropeanShop,
    UkCafe,
    IndianPharmacy,
}

const LAYOUTS: [Layout; 5] = [
    Layout::IndianRestaurant,
    Layout::UsGrocery,
    Layout::EuropeanShop,
    Layout::UkCafe,
    Layout::IndianPharmacy,
];

const VENDORS: &[&str] = &[
    "Blue Tokai Coffee",
    "Reliance Fresh",
    "Haldiram's",
    "Cafe Coffee Day",
    "Trader Joe's",
    "Whole Foods Market",
    "Tesco Express",
    "Carrefour Market",
    "Apollo Pharmacy",
    "Domino's Pizza",
    "Crossword Books",
    "Shell Fuel Station",
    "Paradise Biryani",
    "Monoprix",
    "Pret A Manger",
    "Walgreens",
    "Big Bazaar",
    "Third Wave Coffee",
    "Lidl",
    "Sainsbury's Local",
];

const ITEMS: &[&str] = &[
    "Cappuccino",
    "Paneer Tikka",
    "Masala Dosa",
    "Bananas",
    "Whole Milk",
    "Sourdough Bread",
    "Paracetamol 500",
    "Notebook A5",
    "Veg Biryani",
    "Espresso",
    "Croissant",
    "Orange Juice",
    "Green Tea",
    "Dal Makhani",
    "Baguette",
    "Cheddar",
];

/// `minor` in `currency`, written the way a receipt of that kind does.
fn written(minor: i64, currency: Currency, indian_grouping: bool) -> String {
    let exponent = currency.exponent();
    let scale = 10i64.pow(exponent);
    let (units, fraction) = (minor / scale, minor % scale);
    let digits = units.to_string();
    let (thousands, decimal) = if currency == Currency::EUR {
        ('.', ',')
    } else {
        (',', '.')
    };
    let grouped = if indian_grouping && digits.len() > 3 {
        let (head, last3) = digits.split_at(digits.len() - 3);
        let mut out = String::new();
        for (i, c) in head.chars().enumerate() {
            if i > 0 && (head.len() - i).is_multiple_of(2) {
                out.push(thousands);
            }
            out.push(c);
        }
        format!("{out}{thousands}{last3}")
    } else {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(thousands);
            }
            out.push(c);
        }
        out
    };
    format!(
        "{grouped}{decimal}{fraction:0width$}",
        width = exponent as usize
    )
}

struct Line {
    left: String,
    right: String,
    centered: bool,
}

fn text(left: impl Into<String>) -> Line {
    Line {
        left: left.into(),
        right: String::new(),
        centered: false,
    }
}

fn centered(text: impl Into<String>) -> Line {
    Line {
        left: text.into(),
        right: String::new(),
        centered: true,
    }
}

fn row(left: impl Into<String>, right: impl Into<String>) -> Line {
    Line {
        left: left.into(),
        right: right.into(),
        centered: false,
    }
}

/// Generates receipt number `index` of the set made from `seed`.
pub fn receipt(fonts: &Fonts, seed: u64, index: u64) -> SyntheticReceipt {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(index));
    let layout = LAYOUTS[(index % LAYOUTS.len() as u64) as usize];
    let vendor = VENDORS[rng.random_range(0..VENDORS.len())].to_owned();
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or(NaiveDate::MIN);
    let date = today - Duration::days(rng.random_range(0..2000));
    let (currency, indian) = match layout {
        Layout::IndianRestaurant | Layout::IndianPharmacy => (Currency::INR, rng.random_bool(0.7)),
        Layout::UsGrocery => (Currency::USD, false),
        Layout::EuropeanShop => (Currency::EUR, false),
        Layout::UkCafe => (Currency::GBP, false),
    };
    let date_style = match layout {
        Layout::UsGrocery => {
            [DateStyle::MonthDayYearSlash, DateStyle::MonthNameDayYear][rng.random_range(0..2)]
        }
        _ => {
            let day_first = [
                DateStyle::Iso,
                DateStyle::DayMonthYearSlash,
                DateStyle::DayMonthYearDot,
                DateStyle::DayMonthShortYearDash,
                DateStyle::DayMonthNameYear,
                DateStyle::DayMonthNameShortYearUpper,
            ];
            day_first[rng.random_range(0..day_first.len())]
        }
    };
    let date_text = date_style.format(date);
    let time = format!(
        "{:02}:{:02}",
        rng.random_range(8..23),
        rng.random_range(0..60)
    );

    // Items; the total is what they add up to plus tax, so every figure on the receipt agrees.
    let scale = 10i64.pow(currency.exponent());
    let mut items = Vec::new();
    let mut subtotal = 0i64;
    for _ in 0..rng.random_range(2..6) {
        let price = match currency {
            Currency::INR => {
                let most = if rng.random_bool(0.15) { 90_000 } else { 900 };
                rng.random_range(40..most) * scale + rng.random_range(0..2) * 50
            }
            _ => rng.random_range(1..60) * scale + rng.random_range(0..100),
        };
        let name = ITEMS[rng.random_range(0..ITEMS.len())];
        subtotal += price;
        items.push((name, price));
    }
    let tax = subtotal * i64::from(rng.random_range(0..13u8)) / 100;
    let total = subtotal + tax;
    let money = |minor: i64| written(minor, currency, indian);

    let mut lines = Vec::new();
    match layout {
        Layout::IndianRestaurant => {
            lines.push(centered("TAX INVOICE"));
            lines.push(centered(vendor.clone()));
            lines.push(centered("Shop 4, MG Road, Bengaluru 560001"));
            lines.push(text(format!(
                "GSTIN 29AAACH{}A1Z5",
                rng.random_range(1000..9999)
            )));
            lines.push(row(
                format!("Bill No: {}", rng.random_range(100..9999)),
                format!("Date: {date_text}"),
            ));
            for (name, price) in &items {
                lines.push(row(*name, money(*price)));
            }
            lines.push(row("Sub Total", money(subtotal)));
            lines.push(row("CGST 2.5%", money(tax / 2)));
            lines.push(row("SGST 2.5%", money(tax - tax / 2)));
            let label =
                ["Grand Total Rs.", "Grand Total", "Net Amount Rs."][rng.random_range(0..3)];
            lines.push(row(label, money(total)));
            lines.push(centered("Thank you! Visit again"));
        }
        Layout::IndianPharmacy => {
            lines.push(centered(vendor.clone()));
            lines.push(centered("Ph: 080 4123 5678"));
            lines.push(text(format!("Date: {date_text} {time}")));
            for (name, price) in &items {
                lines.push(row(*name, money(*price)));
            }
            lines.push(row("Total Qty", items.len().to_string()));
            lines.push(row("Amount Payable INR", money(total)));
            lines.push(centered("Get well soon"));
        }
        Layout::UsGrocery => {
            lines.push(centered(vendor.to_uppercase()));
            lines.push(centered("1200 Main St, Austin TX 78701"));
            lines.push(centered("(512) 555-0100"));
            lines.push(text(format!("{date_text} {time}")));
            for (name, price) in &items {
                lines.push(row(name.to_uppercase(), money(*price)));
            }
            lines.push(row("SUBTOTAL", money(subtotal)));
            lines.push(row("TAX", money(tax)));
            if rng.random_bool(0.5) {
                lines.push(row("TOTAL", format!("${}", money(total))));
            } else {
                lines.push(text("AMOUNT DUE"));
                lines.push(row("", format!("${}", money(total))));
            }
            lines.push(row("CHANGE", money(rng.random_range(0..500))));
        }
        Layout::EuropeanShop => {
            lines.push(centered(vendor.clone()));
            lines.push(centered("Rue de la Paix 12, Paris"));
            lines.push(text(date_text.clone()));
            for (name, price) in &items {
                lines.push(row(*name, money(*price)));
            }
            if rng.random_bool(0.5) {
                lines.push(row("TOTAL EUR", money(total)));
            } else {
                lines.push(row("TOTAL", format!("{} €", money(total))));
            }
            lines.push(row("CB", money(total)));
        }
        Layout::UkCafe => {
            lines.push(centered(vendor.clone()));
            lines.push(centered("14 High Street, London"));
            lines.push(text(format!("Date: {date_text}")));
            lines.push(text(format!("Time: {time}")));
            for (name, price) in &items {
                lines.push(row(*name, format!("£{}", money(*price))));
            }
            lines.push(row("Balance Due", format!("£{}", money(total))));
            lines.push(centered("Thank you for visiting"));
        }
    }

    let font_index = rng.random_range(0..fonts.fonts.len());
    let (font_name, font) = &fonts.fonts[font_index];
    let size = rng.random_range(22.0..30.0f32);
    let scale_px = PxScale::from(size);
    let width = 620u32;
    let line_height = (size * 1.5) as u32;
    let margin = 30u32;
    let height = margin * 2 + line_height * lines.len() as u32;
    let mut canvas = GrayImage::from_pixel(width, height, Luma([255]));
    let ink = Luma([rng.random_range(0..60u8)]);
    for (i, line) in lines.iter().enumerate() {
        let y = (margin + line_height * i as u32) as i32;
        let (left_width, _) = text_size(scale_px, font, &line.left);
        let x = if line.centered {
            (width.saturating_sub(left_width) / 2) as i32
        } else {
            margin as i32
        };
        draw_text_mut(&mut canvas, ink, x, y, scale_px, font, &line.left);
        if !line.right.is_empty() {
            let (right_width, _) = text_size(scale_px, font, &line.right);
            let x = width.saturating_sub(margin + right_width) as i32;
            draw_text_mut(&mut canvas, ink, x, y, scale_px, font, &line.right);
        }
    }
    let degrees = rng.random_range(-2.0..2.0f32);
    let mut image = rotate_about_center(
        &canvas,
        degrees.to_radians(),
        Interpolation::Bilinear,
        Luma([255]),
    );
    imageproc::noise::gaussian_noise_mut(&mut image, 0.0, 10.0, rng.random());
    imageproc::noise::salt_and_pepper_noise_mut(&mut image, 0.002, rng.random());
    let (format, kind) = if rng.random_bool(0.5) {
        (ImageFormat::Png, ReceiptKind::Png)
    } else {
        (ImageFormat::Jpeg, ReceiptKind::Jpeg)
    };
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .unwrap_or_else(|e| unreachable!("encoding to memory cannot fail: {e}"));
    SyntheticReceipt {
        image: bytes.into_inner(),
        kind,
        vendor: if layout == Layout::UsGrocery {
            vendor.to_uppercase()
        } else {
            vendor
        },
        date,
        total: Money::from_minor(total, currency),
        description: format!(
            "#{index} {layout:?}, {font_name} {size:.0}px, {date_style:?}, {degrees:+.1}°, {kind:?}"
        ),
    }
}

/// `lines` drawn plainly — black on white, 28 px, the first font — as a PNG: for a test that
/// needs a receipt saying exactly this.
pub fn plain(fonts: &Fonts, lines: &[&str]) -> Vec<u8> {
    let scale = PxScale::from(28.0);
    let height = 60 + 40 * u32::try_from(lines.len()).unwrap_or(u32::MAX / 64);
    let mut image = GrayImage::from_pixel(720, height, Luma([255]));
    if let Some((_, font)) = fonts.fonts.first() {
        for (i, line) in lines.iter().enumerate() {
            let y = 30 + 40 * i32::try_from(i).unwrap_or(0);
            draw_text_mut(&mut image, Luma([0]), 30, y, scale, font, line);
        }
    }
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .unwrap_or_else(|e| unreachable!("encoding to memory cannot fail: {e}"));
    out.into_inner()
}

/// Receipts `0..count` of the set made from `seed`.
pub fn receipts(fonts: &Fonts, seed: u64, count: u64) -> Vec<SyntheticReceipt> {
    (0..count).map(|i| receipt(fonts, seed, i)).collect()
}

/// A PDF of `objects`, numbered from 1 in order (object 1 is the catalog), with its
/// cross-reference table: for tests that need a PDF built exactly so.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
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

/// A PDF stream object: `dictionary` entries (without `/Length`) and `data`.
pub fn pdf_stream(dictionary: &str, data: &[u8]) -> Vec<u8> {
    [
        format!("<< {dictionary} /Length {} >>\nstream\n", data.len()).into_bytes(),
        data.to_vec(),
        b"\nendstream".to_vec(),
    ]
    .concat()
}

/// A one-page PDF showing `image` as a JPEG that fills the page, one point a pixel — as a
/// scanner makes them.
pub fn pdf_of(image: &GrayImage) -> Vec<u8> {
    let (width, height) = image.dimensions();
    let mut jpeg = Cursor::new(Vec::new());
    image
        .write_to(&mut jpeg, ImageFormat::Jpeg)
        .unwrap_or_else(|e| unreachable!("encoding to memory cannot fail: {e}"));
    let content = format!("q {width} 0 0 {height} 0 0 cm /Im0 Do Q");
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] \
             /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        )
        .into_bytes(),
        pdf_stream(
            &format!(
                "/Type /XObject /Subtype /Image /Width {width} /Height {height} \
                 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode"
            ),
            jpeg.get_ref(),
        ),
        pdf_stream("", content.as_bytes()),
    ])
}
