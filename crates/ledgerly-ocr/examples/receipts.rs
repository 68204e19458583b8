//! Writes generated receipts to a folder, to look at what the OCR tests and benchmark read:
//! `cargo run -p ledgerly-ocr --features synth --example receipts -- <folder> [count] [seed]`.

#![allow(clippy::print_stdout)]

use ledgerly_ocr::synth::{self, Fonts};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let folder = args
        .next()
        .ok_or("usage: receipts <folder> [count] [seed]")?;
    let count = args
        .next()
        .map_or(Ok(10), |c| c.parse())
        .map_err(|e| format!("count: {e}"))?;
    let seed = args
        .next()
        .map_or(Ok(7), |s| s.parse())
        .map_err(|e| format!("seed: {e}"))?;
    std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let fonts = Fonts::load()?;
    for (index, receipt) in synth::receipts(&fonts, seed, count).into_iter().enumerate() {
        let name = format!("{folder}/{index:03}.{}", receipt.kind.extension());
        std::fs::write(&name, &receipt.image).map_err(|e| e.to_string())?;
        println!(
            "{name}: {} | {} | {} | {}",
            receipt.vendor,
            receipt.date,
            receipt.total.format(),
            receipt.description
        );
    }
    Ok(())
}
