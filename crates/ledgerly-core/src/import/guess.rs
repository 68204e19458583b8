//! Guessing the settings of a file nobody has described yet: the columns by their header names
//! or else their values, the date order, the decimal separator and which sign is spending.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::records::{self, Layout, Record};
use super::{
    AmountSign, ColumnMap, DateOrder, Detection, Encoding, ImportError, ImportSettings, MAX_ROWS,
    amount, date,
};
use crate::{CategoryName, DecimalSeparator};

/// Our own export's header. Its file is read exactly as it was written, whatever its values
/// would suggest.
const OWN_EXPORT: [&str; 8] = [
    "date",
    "category",
    "vendor",
    "amount",
    "currency",
    "needs_review",
    "note",
    "id",
];

/// How many values of a column are looked at to tell what it holds.
const SAMPLES: usize = 200;

/// How many dates are tried in each order, and amounts looked at for their decimal separator.
const MANY_SAMPLES: usize = 500;

pub(super) fn detect(
    text: &str,
    encoding: Encoding,
    default_category: CategoryName,
) -> Result<Detection, ImportError> {
    let delimiter = records::detect_delimiter(text);
    let records = records::parse(text, delimiter, None);
    let header_row = records::detect_header(&records);
    let layout = Layout::of(&records, header_row)?;
    let data: Vec<&Record> = layout.data.iter().filter(|r| !r.is_blank()).collect();
    if data.len() > MAX_ROWS {
        return Err(ImportError::TooManyRows { rows: data.len() });
    }
    let delimiter = char::from(delimiter);
    if layout
        .header
        .is_some_and(|header| header.cells == OWN_EXPORT)
    {
        return Ok(Detection {
            settings: ImportSettings {
                encoding,
                delimiter,
                header_row,
                date_order: DateOrder::Ymd,
                decimal: DecimalSeparator::Point,
                sign: AmountSign::PositiveIsSpending,
                columns: ColumnMap {
                    date: Some(0),
                    category: Some(1),
                    vendor: Some(2),
                    amount: Some(3),
                    currency: Some(4),
                    note: Some(6),
                    ..ColumnMap::default()
                },
                default_category,
                currency: None,
            },
            notes: Vec::new(),
        });
    }

    let mut notes = Vec::new();
    let mut columns = match layout.header {
        Some(header) => by_header(&header.cells),
        None => {
            notes.push(
                "The file has no header row, so the columns were guessed from their values: check them."
                    .to_owned(),
            );
            ColumnMap::default()
        }
    };
    by_content(&mut columns, &data, layout.column_count);
    if data.is_empty() {
        notes.push("There are no rows after the header: check the header row.".to_owned());
    }
    if columns.date.is_none() {
        notes.push("No column looks like a date: choose the date column.".to_owned());
    }
    if columns.vendor.is_none() {
        notes.push(
            "No column looks like a vendor or description: choose the column that names who was paid."
                .to_owned(),
        );
    }
    if columns.amount.is_none() && columns.debit.is_none() && columns.credit.is_none() {
        notes.push(
            "No column looks like an amount: choose the amount column, or the debit and credit columns."
                .to_owned(),
        );
    }
    let decimal = guess_decimal(&columns, &data, delimiter);
    let (date_order, date_note) = guess_date_order(columns.date, &data);
    notes.extend(date_note);
    let sign = guess_sign(&columns, &data);
    Ok(Detection {
        settings: ImportSettings {
            encoding,
            delimiter,
            header_row,
            date_order,
            decimal,
            sign,
            columns,
            default_category,
            currency: None,
        },
        notes,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Date,
    Vendor,
    Amount,
    Debit,
    Credit,
    Category,
    Note,
    Currency,
}

impl Field {
    fn of(self, map: &mut ColumnMap) -> &mut Option<usize> {
        match self {
            Field::Date => &mut map.date,
            Field::Vendor => &mut map.vendor,
            Field::Amount => &mut map.amount,
            Field::Debit => &mut map.debit,
            Field::Credit => &mut map.credit,
            Field::Category => &mut map.category,
            Field::Note => &mut map.note,
            Field::Currency => &mut map.currency,
        }
    }
}

/// The header names each field goes by in the exports of banks and apps, in the order a header
/// that fits several fields ("memo") is given to the first of them still unfilled.
const NAMES: [(Field, &[&str]); 8] = [
    (
        Field::Date,
        &[
            "date",
            "datum",
            "fecha",
            "data",
            "booking date",
            "transaction date",
            "posting date",
            "buchungstag",
            "buchungsdatum",
            "valuta",
            "value date",
            "date de l'opération",
            "date opération",
        ],
    ),
    (
        Field::Vendor,
        &[
            "vendor",
            "payee",
            "merchant",
            "description",
            "name",
            "counterparty",
            "beneficiary",
            "empfänger",
            "empfaenger",
            "auftraggeber/empfänger",
            "auftraggeber/empfaenger",
            "begünstigter",
            "beguenstigter",
            "libellé",
            "concepto",
            "descripción",
            "omschrijving",
            "naam",
            "details",
            "narrative",
            "transaction description",
            "memo",
        ],
    ),
    (
        Field::Amount,
        &[
            "amount", "betrag", "montant", "importe", "bedrag", "value", "sum", "total", "umsatz",
        ],
    ),
    (
        Field::Debit,
        &[
            "debit",
            "debit amount",
            "withdrawal",
            "withdrawals",
            "money out",
            "paid out",
            "out",
            "soll",
            "ausgang",
            "débit",
        ],
    ),
    (
        Field::Credit,
        &[
            "credit",
            "credit amount",
            "deposit",
            "deposits",
            "money in",
            "paid in",
            "in",
            "haben",
            "eingang",
            "crédit",
        ],
    ),
    (
        Field::Category,
        &["category", "kategorie", "catégorie", "categoría"],
    ),
    (
        Field::Note,
        &[
            "note",
            "notes",
            "memo",
            "comment",
            "remarks",
            "verwendungszweck",
            "reference",
            "referenz",
            "purpose",
        ],
    ),
    (
        Field::Currency,
        &["currency", "währung", "waehrung", "devise", "moneda", "ccy"],
    ),
];

/// Words too general to name a field when they are only part of a header: "Account name",
/// "Total balance".
const TOO_GENERAL: [&str; 4] = ["name", "value", "total", "data"];

/// How closely a header fits a name, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// "Booking date" for "booking date".
    Whole,
    /// "Booking date (local)" for "booking date".
    Phrase,
    /// "Amount (EUR)" for "amount": single words of four letters or more.
    Word,
}

/// The columns the header's names show. A stronger fit wins over a weaker one anywhere in the
/// header, and no column is given two fields.
fn by_header(cells: &[String]) -> ColumnMap {
    let headers: Vec<String> = cells.iter().map(|cell| normalise(cell)).collect();
    let mut map = ColumnMap::default();
    let mut taken = vec![false; headers.len()];
    for fit in [Fit::Whole, Fit::Phrase, Fit::Word] {
        // Headers fitting a single field first, so one fitting several takes what they leave.
        for several in [false, true] {
            for (index, header) in headers.iter().enumerate() {
                if taken[index] || header.is_empty() {
                    continue;
                }
                let fields: Vec<Field> = NAMES
                    .iter()
                    .filter(|(_, names)| names.iter().any(|name| fits(header, name, fit)))
                    .map(|(field, _)| *field)
                    .collect();
                if fields.is_empty() || (fields.len() > 1) != several {
                    continue;
                }
                if let Some(field) = fields.into_iter().find(|f| f.of(&mut map).is_none()) {
                    *field.of(&mut map) = Some(index);
                    taken[index] = true;
                }
            }
        }
    }
    // "Betrag" with a "Soll/Haben" marker column: the amount is the amount.
    if map.amount.is_some() && (map.debit.is_some() || map.credit.is_some()) {
        if map.debit.is_some() && map.credit.is_some() {
            map.amount = None;
        } else {
            map.debit = None;
            map.credit = None;
        }
    }
    map
}

fn fits(header: &str, name: &str, fit: Fit) -> bool {
    let name = normalise(name);
    match fit {
        Fit::Whole => header == name,
        Fit::Phrase => name.contains(' ') && format!(" {header} ").contains(&format!(" {name} ")),
        Fit::Word => {
            !name.contains(' ')
                && name.chars().count() >= 4
                && !TOO_GENERAL.contains(&name.as_str())
                && header.split(' ').any(|word| word == name)
        }
    }
}

/// A header as names are compared: lower case, common accents dropped, punctuation as spaces.
fn normalise(text: &str) -> String {
    let folded: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fills the date, amount and vendor the header did not name from what the columns hold: the
/// first column of dates, a column of amounts (one showing decimals or signs before one of bare
/// numbers, which may be references), and the text column with the most different values.
fn by_content(map: &mut ColumnMap, data: &[&Record], column_count: usize) {
    let values: Vec<Vec<&str>> = (0..column_count)
        .map(|index| {
            data.iter()
                .map(|record| record.cell(index))
                .filter(|cell| !cell.is_empty())
                .take(SAMPLES)
                .collect()
        })
        .collect();
    let mostly = |index: usize, test: fn(&str) -> bool| {
        let values = &values[index];
        !values.is_empty() && values.iter().filter(|v| test(v)).count() * 5 >= values.len() * 4
    };
    let used = |map: &ColumnMap, index: usize| {
        map.fields()
            .iter()
            .any(|(_, mapped)| *mapped == Some(index))
    };

    if map.date.is_none() {
        map.date = (0..column_count)
            .find(|&index| !used(map, index) && mostly(index, date::looks_like_date));
    }
    if map.amount.is_none() && map.debit.is_none() && map.credit.is_none() {
        let amounts: Vec<usize> = (0..column_count)
            .filter(|&index| !used(map, index) && mostly(index, amount::looks_like_amount))
            .collect();
        let money_like = amounts.iter().copied().find(|&index| {
            values[index].iter().any(|v| {
                amount::shown_decimal(v).is_some() || amount::written_negative(v) == Some(true)
            })
        });
        map.amount = money_like.or_else(|| amounts.first().copied());
    }
    if map.vendor.is_none() {
        let has_letters = |v: &str| v.chars().any(char::is_alphabetic);
        map.vendor = (0..column_count)
            .filter(|&index| {
                !used(map, index)
                    && mostly(index, has_letters)
                    && !mostly(index, date::looks_like_date)
                    && !mostly(index, amount::looks_like_amount)
            })
            .map(|index| (index, values[index].iter().collect::<HashSet<_>>().len()))
            // The most different values; between equals, the first column.
            .fold(
                None,
                |best: Option<(usize, usize)>, (index, distinct)| match best {
                    Some((_, most)) if most >= distinct => best,
                    _ => Some((index, distinct)),
                },
            )
            .map(|(index, _)| index);
    }
}

/// The decimal separator most amount cells show; without any telling cell, a comma in
/// semicolon files (the reason they use semicolons) and a point otherwise.
fn guess_decimal(map: &ColumnMap, data: &[&Record], delimiter: char) -> DecimalSeparator {
    let (mut points, mut commas) = (0usize, 0usize);
    for index in [map.amount, map.debit, map.credit].into_iter().flatten() {
        for cell in data.iter().map(|r| r.cell(index)).take(MANY_SAMPLES) {
            match amount::shown_decimal(cell) {
                Some(DecimalSeparator::Point) => points += 1,
                Some(DecimalSeparator::Comma) => commas += 1,
                None => {}
            }
        }
    }
    match points.cmp(&commas) {
        std::cmp::Ordering::Greater => DecimalSeparator::Point,
        std::cmp::Ordering::Less => DecimalSeparator::Comma,
        std::cmp::Ordering::Equal if delimiter == ';' => DecimalSeparator::Comma,
        std::cmp::Ordering::Equal => DecimalSeparator::Point,
    }
}

/// The order that reads every date in the column, and a note when that is a guess: several
/// orders read them all differently (day/month before month/day, unless the dates' own shape
/// says otherwise), or none reads them all.
fn guess_date_order(column: Option<usize>, data: &[&Record]) -> (DateOrder, Option<String>) {
    let Some(index) = column else {
        return (DateOrder::Dmy, None);
    };
    let values: Vec<&str> = data
        .iter()
        .map(|r| r.cell(index))
        .filter(|cell| !cell.is_empty())
        .take(MANY_SAMPLES)
        .collect();
    let evident = values.iter().find_map(|v| date::evident_order(v));
    let mut preference: Vec<DateOrder> = evident.into_iter().collect();
    for order in [DateOrder::Dmy, DateOrder::Mdy, DateOrder::Ymd] {
        if !preference.contains(&order) {
            preference.push(order);
        }
    }
    let readings: Vec<(DateOrder, Vec<Option<NaiveDate>>)> = preference
        .iter()
        .map(|&order| {
            (
                order,
                values.iter().map(|v| date::parse(v, order)).collect(),
            )
        })
        .collect();
    let complete: Vec<&(DateOrder, Vec<Option<NaiveDate>>)> = readings
        .iter()
        .filter(|(_, dates)| dates.iter().all(Option::is_some))
        .collect();

    let Some((chosen, chosen_dates)) = complete.first() else {
        // `max_by_key` keeps the last of equals; the preferred order comes first.
        let best = readings
            .iter()
            .rev()
            .max_by_key(|(_, dates)| dates.iter().filter(|d| d.is_some()).count());
        let Some((order, dates)) = best else {
            return (DateOrder::Dmy, None);
        };
        let unreadable = values
            .iter()
            .zip(dates)
            .find_map(|(value, date)| date.is_none().then_some(*value))
            .unwrap_or_default();
        return (
            *order,
            Some(format!(
                "Some dates, such as `{unreadable}`, cannot be read in any date order; they are read as {order}, which reads the most — those rows will be left out unless the date order is changed."
            )),
        );
    };
    let others: Vec<DateOrder> = complete
        .iter()
        .filter(|(_, dates)| dates != chosen_dates)
        .map(|(order, _)| *order)
        .collect();
    if others.is_empty() {
        return (*chosen, None);
    }
    let note = if *chosen == DateOrder::Dmy && others == [DateOrder::Mdy] {
        "Every date could be day/month or month/day; they are read as day/month — change the date order if that is wrong.".to_owned()
    } else {
        let alternatives = others
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        format!(
            "Every date could be read as {chosen} or as {alternatives}; they are read as {chosen} — change the date order if that is wrong."
        )
    };
    (*chosen, Some(note))
}

/// Spending is negative when most amounts are (a bank statement), positive otherwise (an
/// expense app). Debit and credit columns say it themselves.
fn guess_sign(map: &ColumnMap, data: &[&Record]) -> AmountSign {
    let Some(index) = map.amount else {
        return AmountSign::PositiveIsSpending;
    };
    let (mut negative, mut signed) = (0usize, 0usize);
    for written in data
        .iter()
        .filter_map(|r| amount::written_negative(r.cell(index)))
    {
        signed += 1;
        if written {
            negative += 1;
        }
    }
    if negative * 2 > signed {
        AmountSign::NegativeIsSpending
    } else {
        AmountSign::PositiveIsSpending
    }
}
