//! One record read with the settings: an expense, or the reason it is not one.

use super::amount::{self, CellAmount, Marker};
use super::records::Record;
use super::{AmountSign, ImportSettings, ImportedRow, date};
use crate::{CategoryName, Currency, Money, MoneyError, Note, TextError, Vendor};

/// The expense `record` holds, or why it holds none. `column_count` is the file's, for the
/// reason when the record is short.
pub(super) fn read(
    record: &Record,
    settings: &ImportSettings,
    account_currency: Currency,
    column_count: usize,
) -> Result<ImportedRow, String> {
    let columns = &settings.columns;
    if record.cells.len() < columns.width() {
        return Err(format!(
            "the line has {} {}; the file's rows have {column_count}",
            record.cells.len(),
            if record.cells.len() == 1 {
                "field"
            } else {
                "fields"
            },
        ));
    }
    let cell = |index: Option<usize>| index.map_or("", |i| record.cell(i));

    // The amount first: a salary row is better explained as money in than by its odd date.
    let currency = match cell(columns.currency) {
        "" => account_currency,
        code => Currency::from_code(code).map_err(|e| e.to_string())?,
    };
    let amount = match columns.amount {
        Some(index) => single_amount(record.cell(index), settings, currency)?,
        None => debit_or_credit(
            cell(columns.debit),
            cell(columns.credit),
            settings,
            currency,
        )?,
    };

    let written_date = cell(columns.date);
    if written_date.is_empty() {
        return Err("no date".to_owned());
    }
    let date = date::parse(written_date, settings.date_order).ok_or_else(|| {
        format!(
            "`{written_date}` is not a date in {} order",
            settings.date_order
        )
    })?;

    let vendor = bounded(cell(columns.vendor), Vendor::MAX_CHARS, Vendor::parse)
        .ok_or_else(|| "no vendor or description".to_owned())?;

    let category = match cell(columns.category) {
        "" => settings.default_category.clone(),
        name => {
            CategoryName::parse(name).map_err(|e| format!("`{name}` cannot be a category: {e}"))?
        }
    };

    let note = bounded(cell(columns.note), Note::MAX_CHARS, Note::parse);

    Ok(ImportedRow {
        date,
        vendor,
        amount,
        category,
        note,
    })
}

/// What was spent, from a single signed amount column.
fn single_amount(
    written: &str,
    settings: &ImportSettings,
    currency: Currency,
) -> Result<Money, String> {
    let Some(CellAmount { money, marker }) = amount::parse(written, settings.decimal, currency)?
    else {
        return Err("no amount".to_owned());
    };
    if money.is_zero() {
        return Err("the amount is zero".to_owned());
    }
    let spending = match (marker, settings.sign) {
        (Some(Marker::Debit), _) => true,
        (Some(Marker::Credit), _) => false,
        (None, AmountSign::NegativeIsSpending) => money.is_negative(),
        (None, AmountSign::PositiveIsSpending) => money.is_positive(),
    };
    if !spending {
        return Err(format!("money in ({written}), not an expense"));
    }
    magnitude(money)
}

/// What was spent, from debit and credit columns: a debit is spending whatever its sign; a
/// credit is money in.
fn debit_or_credit(
    debit: &str,
    credit: &str,
    settings: &ImportSettings,
    currency: Currency,
) -> Result<Money, String> {
    let debited = amount::parse(debit, settings.decimal, currency)?;
    if let Some(CellAmount { money, .. }) = debited
        && !money.is_zero()
    {
        return magnitude(money);
    }
    let credited = amount::parse(credit, settings.decimal, currency)?;
    if let Some(CellAmount { money, .. }) = credited
        && !money.is_zero()
    {
        return Err(format!("money in (credit {credit}), not an expense"));
    }
    Err("no amount in the debit or credit column".to_owned())
}

fn magnitude(money: Money) -> Result<Money, String> {
    let minor = money
        .minor()
        .checked_abs()
        .ok_or_else(|| MoneyError::Overflow.to_string())?;
    Ok(Money::from_minor(minor, money.currency()))
}

/// The cell as a text of at most `max` characters: control characters (stray in some exports)
/// become spaces, and a text too long is cut rather than refused, since the row is still an
/// expense. `None` when nothing is left.
fn bounded<T>(cell: &str, max: usize, parse: fn(&str) -> Result<T, TextError>) -> Option<T> {
    let visible: String = cell
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(max).collect();
    parse(cut.trim_end()).ok()
}
