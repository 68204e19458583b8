//! The settings form of an import's preview: how the file is read (encoding, delimiter, header,
//! dates, decimals, sign), which column holds what, and the default category — shown with the
//! current choices, read back into the API's [`SettingsView`].

use ledgerly_core::Category;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::routes::imports::{
    ColumnView, ColumnsView, DateOrderView, DecimalView, EncodingView, SettingsView, SignView,
};
use crate::web::Errors;
use crate::web::layout::{Input, csrf_field, field, select};

/// A choice of a select: the value, what the option is called, and what it stands for.
type Choice<T> = (T, &'static str, &'static str);

const ENCODINGS: [Choice<EncodingView>; 4] = [
    (EncodingView::Utf8, "utf8", "UTF-8"),
    (EncodingView::Utf16le, "utf16le", "UTF-16 LE"),
    (EncodingView::Utf16be, "utf16be", "UTF-16 BE"),
    (EncodingView::Windows1252, "windows1252", "Windows-1252"),
];

/// Named, so a tab survives the form (and every option reads as words).
const DELIMITERS: [Choice<char>; 4] = [
    (',', "comma", "Comma ( , )"),
    (';', "semicolon", "Semicolon ( ; )"),
    ('\t', "tab", "Tab"),
    ('|', "pipe", "Pipe ( | )"),
];

const DATE_ORDERS: [Choice<DateOrderView>; 3] = [
    (DateOrderView::Ymd, "ymd", "YYYY-MM-DD"),
    (DateOrderView::Dmy, "dmy", "DD/MM/YYYY"),
    (DateOrderView::Mdy, "mdy", "MM/DD/YYYY"),
];

const DECIMALS: [Choice<DecimalView>; 2] = [
    (DecimalView::Point, "point", "1,234.50"),
    (DecimalView::Comma, "comma", "1.234,50"),
];

const SIGNS: [Choice<SignView>; 2] = [
    (
        SignView::NegativeIsSpending,
        "negative_is_spending",
        "Negative amounts are spending",
    ),
    (
        SignView::PositiveIsSpending,
        "positive_is_spending",
        "Positive amounts are spending",
    ),
];

/// The columns a file can map, as (form field, label).
const COLUMNS: [(&str, &str); 8] = [
    ("column_date", "Date"),
    ("column_vendor", "Vendor or description"),
    ("column_amount", "Amount (one signed column)"),
    ("column_debit", "Money out (debit)"),
    ("column_credit", "Money in (credit)"),
    ("column_category", "Category"),
    ("column_note", "Note"),
    ("column_currency", "Currency"),
];

/// The settings form as sent (and as shown): every value a string, so what was sent can be
/// shown again as it was when it does not pass.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct SettingsForm {
    encoding: String,
    delimiter: String,
    header_row: String,
    date_order: String,
    decimal: String,
    sign: String,
    column_date: String,
    column_vendor: String,
    column_amount: String,
    column_debit: String,
    column_credit: String,
    column_category: String,
    column_note: String,
    column_currency: String,
    default_category: String,
    /// An ISO code, or empty for the account's.
    currency: String,
}

impl SettingsForm {
    /// The form showing `settings`.
    pub(super) fn of(settings: &SettingsView) -> Self {
        let column = |index: Option<u32>| index.map(|i| i.to_string()).unwrap_or_default();
        let columns = &settings.columns;
        SettingsForm {
            encoding: value_of(&ENCODINGS, settings.encoding).to_owned(),
            delimiter: DELIMITERS
                .iter()
                .find(|(c, _, _)| c.to_string() == settings.delimiter)
                .map_or_else(|| settings.delimiter.clone(), |(_, v, _)| (*v).to_owned()),
            header_row: settings
                .header_row
                .map(|r| r.to_string())
                .unwrap_or_default(),
            date_order: value_of(&DATE_ORDERS, settings.date_order).to_owned(),
            decimal: value_of(&DECIMALS, settings.decimal).to_owned(),
            sign: value_of(&SIGNS, settings.sign).to_owned(),
            column_date: column(columns.date),
            column_vendor: column(columns.vendor),
            column_amount: column(columns.amount),
            column_debit: column(columns.debit),
            column_credit: column(columns.credit),
            column_category: column(columns.category),
            column_note: column(columns.note),
            column_currency: column(columns.currency),
            default_category: settings.default_category.clone(),
            currency: settings
                .currency
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
        }
    }

    /// The settings the form asks for, as the API takes them (which checks the rest); every
    /// field's problem at once when some do not read.
    pub(super) fn to_view(&self) -> Result<SettingsView, Errors> {
        let mut errors = Errors::none();
        let encoding = errors.check(choice_of(&ENCODINGS, "encoding", &self.encoding));
        let header_row = errors.check(header_row(&self.header_row));
        let date_order = errors.check(choice_of(&DATE_ORDERS, "date_order", &self.date_order));
        let decimal = errors.check(choice_of(&DECIMALS, "decimal", &self.decimal));
        let sign = errors.check(choice_of(&SIGNS, "sign", &self.sign));
        let columns = errors.check(self.columns());
        let currency = errors.check(currency(&self.currency));
        let (
            Some(encoding),
            Some(header_row),
            Some(date_order),
            Some(decimal),
            Some(sign),
            Some(columns),
            Some(currency),
        ) = (
            encoding, header_row, date_order, decimal, sign, columns, currency,
        )
        else {
            return Err(errors);
        };
        let delimiter = DELIMITERS
            .iter()
            .find(|(_, v, _)| *v == self.delimiter)
            .map_or_else(|| self.delimiter.clone(), |(c, _, _)| c.to_string());
        Ok(SettingsView {
            encoding,
            delimiter,
            header_row,
            date_order,
            decimal,
            sign,
            columns,
            default_category: self.default_category.trim().to_owned(),
            currency,
        })
    }

    fn columns(&self) -> ApiResult<ColumnsView> {
        Ok(ColumnsView {
            date: column("column_date", &self.column_date)?,
            vendor: column("column_vendor", &self.column_vendor)?,
            amount: column("column_amount", &self.column_amount)?,
            debit: column("column_debit", &self.column_debit)?,
            credit: column("column_credit", &self.column_credit)?,
            category: column("column_category", &self.column_category)?,
            note: column("column_note", &self.column_note)?,
            currency: column("column_currency", &self.column_currency)?,
        })
    }

    /// The value sent for a column's select, by its field name.
    fn column_value(&self, name: &str) -> &str {
        match name {
            "column_date" => &self.column_date,
            "column_vendor" => &self.column_vendor,
            "column_amount" => &self.column_amount,
            "column_debit" => &self.column_debit,
            "column_credit" => &self.column_credit,
            "column_category" => &self.column_category,
            "column_note" => &self.column_note,
            "column_currency" => &self.column_currency,
            _ => "",
        }
    }
}

fn value_of<T: PartialEq + Copy>(choices: &[Choice<T>], chosen: T) -> &'static str {
    choices
        .iter()
        .find(|(t, _, _)| *t == chosen)
        .map_or("", |(_, value, _)| *value)
}

fn choice_of<T: Copy>(choices: &[Choice<T>], field: &'static str, value: &str) -> ApiResult<T> {
    choices
        .iter()
        .find(|(_, v, _)| *v == value)
        .map(|(t, _, _)| *t)
        .ok_or_else(|| ApiError::invalid(field, "choose one of the options"))
}

fn options<T>(choices: &[Choice<T>]) -> Vec<(String, String)> {
    choices
        .iter()
        .map(|(_, value, label)| ((*value).to_owned(), (*label).to_owned()))
        .collect()
}

/// Empty: the account's currency. Else an ISO code the app knows.
fn currency(text: &str) -> ApiResult<Option<ledgerly_core::Currency>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    ledgerly_core::Currency::from_code(text)
        .map(Some)
        .map_err(|_| ApiError::invalid("currency", "choose one of the currencies"))
}

/// Empty: no header. Else the header's record number, from 1.
fn header_row(text: &str) -> ApiResult<Option<u32>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(row) if row >= 1 => Ok(Some(row)),
        _ => Err(ApiError::invalid(
            "header_row",
            "must be the header's row number (1 for the first, blank lines not counted), or empty for a file without a header",
        )),
    }
}

/// A column select's value: empty for none, else the column's index.
fn column(field: &'static str, text: &str) -> ApiResult<Option<u32>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u32>()
        .map(Some)
        .map_err(|_| ApiError::invalid(field, "choose one of the file's columns"))
}

/// `— none —`, then each column as `header (e.g. sample)`; a chosen column the file does not
/// show (it cannot be read with these settings) stays choosable.
fn column_options(columns: &[ColumnView], selected: &str) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), "— none —".to_owned())];
    for column in columns {
        let header = if column.header.trim().is_empty() {
            format!("Column {}", u64::from(column.index) + 1)
        } else {
            column.header.clone()
        };
        let label = match column
            .samples
            .iter()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
        {
            Some(sample) => format!("{header} (e.g. {})", shortened(sample, 24)),
            None => header,
        };
        options.push((column.index.to_string(), label));
    }
    if !selected.is_empty() && !options.iter().any(|(value, _)| value == selected) {
        let label = selected.parse::<u32>().map_or_else(
            |_| selected.to_owned(),
            |i| format!("Column {}", u64::from(i) + 1),
        );
        options.push((selected.to_owned(), label));
    }
    options
}

fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// The settings card: the form (posting to `action`) with `form`'s values and `errors` beside
/// their fields; `remembered` says where the settings came from.
/// The account's currency first (empty), then every code.
fn currencies() -> Vec<(String, String)> {
    std::iter::once((
        String::new(),
        "The account's, where a row names none".to_owned(),
    ))
    .chain(
        ledgerly_core::Currency::codes()
            .into_iter()
            .map(|code| (code.to_owned(), code.to_owned())),
    )
    .collect()
}

pub(super) fn card(
    action: &str,
    form: &SettingsForm,
    errors: &Errors,
    columns: &[ColumnView],
    categories: &[Category],
    remembered: bool,
    csrf: &str,
) -> Markup {
    let mut delimiters = options(&DELIMITERS);
    if !form.delimiter.is_empty() && !delimiters.iter().any(|(v, _)| *v == form.delimiter) {
        delimiters.push((form.delimiter.clone(), format!("“{}”", form.delimiter)));
    }
    let general = errors.get("settings").or(errors.get("form"));
    html! {
        section.card aria-labelledby="settings-title" {
            h2 #settings-title { "How the file is read" }
            @if remembered {
                p.muted.import-remembered {
                    "These settings are remembered from your last import of this kind of file."
                }
            }
            form.import-settings method="post" action=(action) novalidate {
                (csrf_field(csrf))
                @if let Some(message) = general {
                    p.alert role="alert" { (message) }
                }
                fieldset {
                    legend { "The file" }
                    div.settings-grid {
                        (select("settings", "encoding", "Encoding", &form.encoding, &options(&ENCODINGS), errors))
                        (select("settings", "delimiter", "Delimiter", &form.delimiter, &delimiters, errors))
                        (field("settings", "header_row", "Header row", &form.header_row,
                            Input::of("number").inputmode("numeric").hint("Which row holds the column names, counting from 1 and leaving out blank lines; empty when the file has none."), errors))
                        (select("settings", "date_order", "Date order", &form.date_order, &options(&DATE_ORDERS), errors))
                        (select("settings", "decimal", "Decimals", &form.decimal, &options(&DECIMALS), errors))
                        (select("settings", "sign", "Spending", &form.sign, &options(&SIGNS), errors))
                    }
                }
                fieldset {
                    legend { "Columns" }
                    div.settings-grid {
                        @for (name, label) in COLUMNS {
                            @let selected = form.column_value(name);
                            (select("settings", name, label, selected, &column_options(columns, selected), errors))
                        }
                    }
                }
                div.settings-grid {
                    (field("settings", "default_category", "Default category", &form.default_category,
                        Input::of("text").list("import-categories").required()
                            .hint("For rows without one; created on import if you have no such category."), errors))
                    (select("settings", "currency", "Currency", &form.currency, &currencies(), errors))
                }
                datalist #import-categories {
                    @for category in categories {
                        option value=(category.name.as_str()) {}
                    }
                }
                div.form-actions {
                    button.primary type="submit" { "Save and preview again" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> SettingsView {
        SettingsView {
            encoding: EncodingView::Windows1252,
            delimiter: "\t".into(),
            header_row: Some(4),
            date_order: DateOrderView::Dmy,
            decimal: DecimalView::Comma,
            sign: SignView::NegativeIsSpending,
            columns: ColumnsView {
                date: Some(0),
                vendor: Some(2),
                amount: Some(4),
                ..ColumnsView::default()
            },
            default_category: "other".into(),
            currency: Some(ledgerly_core::Currency::CHF),
        }
    }

    #[test]
    fn the_form_reads_back_the_settings_it_shows() {
        let form = SettingsForm::of(&bank());
        assert_eq!(form.delimiter, "tab");
        assert_eq!(form.column_debit, "");
        assert_eq!(form.to_view().ok(), Some(bank()));
        let mut odd = bank();
        odd.delimiter = "^".into();
        odd.header_row = None;
        odd.currency = None;
        assert_eq!(SettingsForm::of(&odd).currency, "");
        assert_eq!(SettingsForm::of(&odd).to_view().ok(), Some(odd));
    }

    #[test]
    fn every_field_that_does_not_read_is_named() {
        let mut form = SettingsForm::of(&bank());
        form.header_row = "zero".into();
        form.sign = "both".into();
        form.column_note = "x".into();
        form.currency = "XYZ".into();
        let errors = form.to_view().err().unwrap_or_default();
        assert!(errors.get("currency").is_some());
        assert!(errors.get("header_row").is_some());
        assert!(errors.get("sign").is_some());
        assert!(errors.get("column_note").is_some());
        assert!(errors.get("encoding").is_none());
    }

    #[test]
    fn columns_show_a_sample_and_keep_a_choice_the_file_lacks() {
        let columns = [ColumnView {
            index: 0,
            header: "Description".into(),
            samples: vec![
                String::new(),
                "A very long vendor name indeed, truly".into(),
            ],
        }];
        let options = column_options(&columns, "3");
        assert_eq!(options[0].1, "— none —");
        assert_eq!(options[1].1, "Description (e.g. A very long vendor name…)");
        assert_eq!(options[2], ("3".to_owned(), "Column 4".to_owned()));
    }
}
