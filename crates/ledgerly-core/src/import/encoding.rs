//! Bytes to text: which encoding a file is in, decoding it, and telling text from binary.

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::{Encoding, ImportError};

const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
const UTF16LE_BOM: &[u8] = &[0xFF, 0xFE];
const UTF16BE_BOM: &[u8] = &[0xFE, 0xFF];

/// How much of a file is looked at to tell UTF-16 and binary files apart.
const SNIFF_LEN: usize = 4096;

/// The encoding `bytes` are most likely in. Text without a BOM is UTF-16 when NULs fill every
/// other byte (the high halves of ASCII characters), UTF-8 when it is valid UTF-8, and otherwise
/// Windows-1252 — which every byte sequence is, so that guess is checked for text afterwards.
pub(super) fn sniff(bytes: &[u8]) -> Result<Encoding, ImportError> {
    if bytes.starts_with(UTF8_BOM) {
        return Ok(Encoding::Utf8);
    }
    if bytes.starts_with(UTF16LE_BOM) {
        return Ok(Encoding::Utf16Le);
    }
    if bytes.starts_with(UTF16BE_BOM) {
        return Ok(Encoding::Utf16Be);
    }
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let (mut even, mut odd) = (0usize, 0usize);
    for (i, byte) in head.iter().enumerate() {
        if *byte == 0 {
            if i % 2 == 0 {
                even += 1;
            } else {
                odd += 1;
            }
        }
    }
    let nuls = even + odd;
    if nuls > 0 {
        // CSV text is mostly digits and punctuation, so in UTF-16 nearly half its bytes are NUL,
        // all on one side; a binary file's NULs fall anywhere.
        let plenty = nuls * 8 >= head.len();
        if plenty && odd * 10 >= nuls * 9 {
            return Ok(Encoding::Utf16Le);
        }
        if plenty && even * 10 >= nuls * 9 {
            return Ok(Encoding::Utf16Be);
        }
        return Err(ImportError::NotText);
    }
    if std::str::from_utf8(bytes).is_ok() {
        Ok(Encoding::Utf8)
    } else {
        Ok(Encoding::Windows1252)
    }
}

/// `bytes` as text in `encoding`, without its BOM.
pub(super) fn decode(bytes: &[u8], encoding: Encoding) -> Result<String, ImportError> {
    match encoding {
        Encoding::Utf8 => {
            let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
            let skipped = bytes.len() - body.len();
            std::str::from_utf8(body)
                .map(str::to_owned)
                .map_err(|e| ImportError::Decode {
                    encoding,
                    detail: format!(
                        "byte {} is not part of a UTF-8 character",
                        skipped + e.valid_up_to() + 1
                    ),
                })
        }
        Encoding::Utf16Le => decode_utf16(bytes, encoding),
        Encoding::Utf16Be => decode_utf16(bytes, encoding),
        Encoding::Windows1252 => Ok(WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()),
    }
}

fn decode_utf16(bytes: &[u8], encoding: Encoding) -> Result<String, ImportError> {
    let (bom, decoder, big_endian) = match encoding {
        Encoding::Utf16Be => (UTF16BE_BOM, UTF_16BE, true),
        _ => (UTF16LE_BOM, UTF_16LE, false),
    };
    let body = bytes.strip_prefix(bom).unwrap_or(bytes);
    match decoder.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Ok(text.into_owned()),
        None => Err(ImportError::Decode {
            encoding,
            detail: utf16_fault(body, big_endian, bytes.len() - body.len()),
        }),
    }
}

/// Where UTF-16 text `body` (which starts `skipped` bytes into the file) goes wrong.
fn utf16_fault(body: &[u8], big_endian: bool, skipped: usize) -> String {
    let units = body.chunks_exact(2).map(|pair| {
        let pair = [pair[0], pair[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    });
    let mut at = skipped;
    for decoded in char::decode_utf16(units) {
        match decoded {
            Ok(c) => at += 2 * c.len_utf16(),
            Err(_) => {
                return format!(
                    "byte {} is half of a character pair whose other half is missing",
                    at + 1
                );
            }
        }
    }
    "the file ends in the middle of a character".to_owned()
}

/// Refuses text that is binary content read as characters, and text with nothing in it.
pub(super) fn ensure_text(text: &str) -> Result<(), ImportError> {
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let (mut chars, mut controls) = (0usize, 0usize);
    for c in text.chars().take(SNIFF_LEN) {
        chars += 1;
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
            controls += 1;
        }
    }
    // A stray control character (a DOS end-of-file mark) is noise; more than one in a hundred
    // is not text.
    if controls * 100 > chars {
        return Err(ImportError::NotText);
    }
    Ok(())
}
