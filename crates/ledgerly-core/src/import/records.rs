//! The file as records of cells: splitting it with a delimiter, finding the delimiter and the
//! header, and the columns the user maps.

use std::collections::BTreeMap;

use super::{Column, ImportError, amount, date};

/// One record of the file: the line it starts on and its cells, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    /// 1-based, as a text editor counts: preamble and blank lines included.
    pub(super) line: u64,
    pub(super) cells: Vec<String>,
}

impl Record {
    /// A record of empty cells: a blank line or a row of delimiters.
    pub(super) fn is_blank(&self) -> bool {
        self.cells.iter().all(String::is_empty)
    }

    pub(super) fn cell(&self, index: usize) -> &str {
        self.cells.get(index).map_or("", String::as_str)
    }

    /// Whether any cell holds a date or an amount: data, not a header or a preamble.
    fn has_values(&self) -> bool {
        self.cells
            .iter()
            .any(|cell| date::looks_like_date(cell) || amount::looks_like_amount(cell))
    }
}

/// The delimiters detection tries, in order of preference.
pub(super) const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Splits `text` into records (at most `limit`), each with the line it starts on.
pub(super) fn parse(text: &str, delimiter: u8, limit: Option<usize>) -> Vec<Record> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    let mut raw = csv::ByteRecord::new();
    let (mut line, mut counted) = (1u64, 0usize);
    // Reading bytes from memory cannot fail: there is no I/O, and byte records are not checked
    // for UTF-8 (the text is UTF-8 and delimiters are ASCII, so every cell is too).
    while limit.is_none_or(|limit| records.len() < limit)
        && reader.read_byte_record(&mut raw).unwrap_or(false)
    {
        // The reader's position is where it stopped after the previous record, before that
        // record's line break and any blank lines; the record starts after them.
        let mut start = raw
            .position()
            .map_or(counted, |p| usize::try_from(p.byte()).unwrap_or(counted));
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.clamp(counted, bytes.len());
        line += bytes[counted..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted = start;
        records.push(Record {
            line,
            cells: raw
                .iter()
                .map(|field| clean_cell(&String::from_utf8_lossy(field)))
                .collect(),
        });
    }
    records
}

/// A cell trimmed, without the `'` our export (and spreadsheets) put before text that would
/// otherwise run as a formula.
fn clean_cell(raw: &str) -> String {
    let trimmed = raw.trim();
    let undefused = match trimmed.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.trim(),
        _ => trimmed,
    };
    undefused.to_owned()
}

/// The most common of `counts` above one and how many have it; between equally common counts,
/// the larger.
pub(super) fn modal_count(counts: impl Iterator<Item = usize>) -> Option<(usize, usize)> {
    let mut tally: BTreeMap<usize, usize> = BTreeMap::new();
    for count in counts.filter(|c| *c > 1) {
        *tally.entry(count).or_default() += 1;
    }
    tally.into_iter().max_by_key(|&(count, seen)| (seen, count))
}

/// The delimiter that splits the first 50 records most consistently into more than one field.
/// Each candidate's most common field count is found, with how many records have it. Among the
/// candidates shared by at least half as many records as the best, the one explaining the most
/// field boundaries (records × (fields − 1)) wins: a `;` file whose amounts have decimal commas
/// splits on `,` as well, into two fields, and its preamble lines may even add a few records to
/// that. Then the most records, then the order of [`DELIMITERS`]. A comma when none splits
/// anything.
pub(super) fn detect_delimiter(text: &str) -> u8 {
    let candidates: Vec<(u8, usize, usize)> = DELIMITERS
        .into_iter()
        .filter_map(|delimiter| {
            let records = parse(text, delimiter, Some(50));
            modal_count(records.iter().map(|r| r.cells.len()))
                .map(|(count, seen)| (delimiter, count, seen))
        })
        .collect();
    let most_seen = candidates.iter().map(|c| c.2).max().unwrap_or(0);
    let mut best: Option<(usize, usize, u8)> = None;
    for (delimiter, count, seen) in candidates {
        if seen * 2 < most_seen {
            continue;
        }
        let score = (seen * (count - 1), seen);
        if best.is_none_or(|(boundaries, best_seen, _)| score > (boundaries, best_seen)) {
            best = Some((score.0, score.1, delimiter));
        }
    }
    best.map_or(b',', |(_, _, delimiter)| delimiter)
}

/// How many of the first records are looked at for the header.
const HEADER_SEARCH: usize = 30;

/// How many of the first records tell the field count of data records.
const SHAPE_SEARCH: usize = 1000;

/// The 1-based number of the header record, if the file has one. Data records have the field
/// count most common among records with a date in them (in a short file a preamble can
/// outnumber them). The header is the record just before the first data record, when it holds
/// no dates or amounts itself; records before it are a preamble. Without a recognisable date
/// near the top, the header is the first record with the most common field count and no dates
/// or amounts.
pub(super) fn detect_header(records: &[Record]) -> Option<u32> {
    let top = &records[..records.len().min(SHAPE_SEARCH)];
    let dated = |r: &&Record| r.cells.iter().any(|c| date::looks_like_date(c));
    let (modal, _) = modal_count(top.iter().filter(dated).map(|r| r.cells.len()))
        .or_else(|| modal_count(top.iter().map(|r| r.cells.len())))?;
    let top = &records[..records.len().min(HEADER_SEARCH)];
    let first_data = top.iter().position(|r| r.cells.len() == modal && dated(&r));
    let index = match first_data {
        Some(0) => return None,
        Some(data) => {
            let before = &top[data - 1];
            // A header may lack a trailing empty field, or have one the rows lack.
            let fits = before.cells.len().abs_diff(modal) <= 1 && before.cells.len() > 1;
            if !fits || before.is_blank() || before.has_values() {
                return None;
            }
            data - 1
        }
        None => top
            .iter()
            .position(|r| r.cells.len() == modal && !r.is_blank() && !r.has_values())?,
    };
    u32::try_from(index + 1).ok()
}

/// How a file divides with a header row: the header, the records after it, and the number of
/// columns they are read as.
#[derive(Debug)]
pub(super) struct Layout<'a> {
    pub(super) header: Option<&'a Record>,
    pub(super) data: &'a [Record],
    pub(super) column_count: usize,
}

impl<'a> Layout<'a> {
    pub(super) fn of(records: &'a [Record], header_row: Option<u32>) -> Result<Self, ImportError> {
        match header_row {
            Some(row) => {
                let index = usize::try_from(row)
                    .ok()
                    .and_then(|row| row.checked_sub(1))
                    .ok_or_else(|| {
                        ImportError::Settings(
                            "the header row is counted from 1; choose the line number of the header, or no header"
                                .to_owned(),
                        )
                    })?;
                let header = records.get(index).ok_or(ImportError::NoData)?;
                Ok(Layout {
                    header: Some(header),
                    data: &records[index + 1..],
                    column_count: header.cells.len(),
                })
            }
            None => Ok(Layout {
                header: None,
                data: records,
                column_count: most_common_len(records),
            }),
        }
    }

    /// Each column's header (or "Column N") and its first three non-empty values.
    pub(super) fn columns(&self) -> Vec<Column> {
        (0..self.column_count)
            .map(|index| {
                let header = self
                    .header
                    .map(|h| h.cell(index))
                    .filter(|cell| !cell.is_empty())
                    .map_or_else(|| format!("Column {}", index + 1), str::to_owned);
                let samples = self
                    .data
                    .iter()
                    .map(|r| r.cell(index))
                    .filter(|cell| !cell.is_empty())
                    .take(3)
                    .map(str::to_owned)
                    .collect();
                Column {
                    index,
                    header,
                    samples,
                }
            })
            .collect()
    }
}

/// The most common field count of non-blank records (between equals, the larger); a file of
/// one-field lines has one column.
fn most_common_len(records: &[Record]) -> usize {
    let mut tally: BTreeMap<usize, usize> = BTreeMap::new();
    for record in records.iter().filter(|r| !r.is_blank()) {
        *tally.entry(record.cells.len()).or_default() += 1;
    }
    tally
        .into_iter()
        .max_by_key(|&(count, seen)| (seen, count))
        .map_or(0, |(count, _)| count)
}
