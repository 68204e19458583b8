//! Writes generated receipts to a folder, to look at what the OCR tests and benchmark read:
//! `cargo run -p ledgerly-ocr --features synth --example receipts -- <folder> [count] [seed]`.

#![allow(clippy::print_stdout)]

use anyhow::Context as _;
use ledgerly_ocr::synth::{self, Fonts};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let folder = args
        .next()
        .context("usage: receipts <folder> [count] [seed]")?;
    let count = args.next().map_or(Ok(10), |c| c.parse()).context("count")?;
    let seed = args.next().map_or(Ok(7), |s| s.parse()).context("seed")?;
    std::fs::create_dir_all(&folder)?;
    let fonts = Fonts::load()?;
    for (index, receipt) in synth::receipts(&fonts, seed, count).into_iter().enumerate() {
        let name = format!("{folder}/{index:03}.{}", receipt.kind.extension());
        std::fs::write(&name, &receipt.image)?;
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
