use chrono::NaiveDate;

use super::*;

fn other() -> CategoryName {
    CategoryName::parse("Other").unwrap()
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

fn gbp(minor: i64) -> Money {
    Money::from_minor(minor, Currency::GBP)
}

fn detected(bytes: &[u8]) -> Detection {
    detect(bytes, other()).unwrap()
}

/// Detects the settings and reads the file with them.
fn detect_and_read(bytes: &[u8], currency: Currency) -> (Detection, Table) {
    let detection = detected(bytes);
    let table = read(bytes, &detection.settings, currency).unwrap();
    (detection, table)
}

#[track_caller]
fn expense(row: &ReadRow) -> &ImportedRow {
    match &row.result {
        Ok(imported) => imported,
        Err(reason) => panic!("line {} was refused: {reason}", row.line),
    }
}

#[track_caller]
fn reason(row: &ReadRow) -> &str {
    match &row.result {
        Ok(imported) => panic!("line {} was read as {imported:?}", row.line),
        Err(reason) => reason,
    }
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
    for unit in units {
        if big_endian {
            bytes.extend(unit.to_be_bytes());
        } else {
            bytes.extend(unit.to_le_bytes());
        }
    }
    bytes
}

/// Settings for a plain `date,vendor,amount` file with a header.
fn plain_settings() -> ImportSettings {
    ImportSettings {
        encoding: Encoding::Utf8,
        delimiter: ',',
        header_row: Some(1),
        date_order: DateOrder::Ymd,
        decimal: DecimalSeparator::Point,
        sign: AmountSign::NegativeIsSpending,
        columns: ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(2),
            ..ColumnMap::default()
        },
        default_category: other(),
        currency: None,
    }
}

fn windows_1252(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!unmappable, "{text} has characters Windows-1252 lacks");
    bytes.into_owned()
}

const GERMAN_BANK: &str = "Kontonummer:;DE89 3704 0044 0532 0130 00\r\n\
    Zeitraum:;01.03.2026 - 31.03.2026\r\n\
    Kontostand:;1.234,56 EUR\r\n\
    \r\n\
    Buchungstag;Valuta;Auftraggeber/Empfänger;Verwendungszweck;Betrag;Währung\r\n\
    31.03.2026;31.03.2026;REWE Markt GmbH;Einkauf Lebensmittel;-1.234,56;EUR\r\n\
    30.03.2026;30.03.2026;Arbeitgeber AG;Gehalt März;2.500,00;EUR\r\n\
    28.03.2026;29.03.2026;Bäckerei Müller;Brötchen;-4,20;EUR\r\n\
    ;;;;;\r\n\
    15.03.2026;16.03.2026;Café Zentral;;-12,50 €;EUR\r\n";

#[test]
fn a_german_bank_export_in_windows_1252_is_detected_and_read() {
    let bytes = windows_1252(GERMAN_BANK);
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    let (detection, table) = detect_and_read(&bytes, Currency::EUR);
    let settings = &detection.settings;
    assert_eq!(settings.encoding, Encoding::Windows1252);
    assert_eq!(settings.delimiter, ';');
    // Three preamble records, then the header (the blank line is no record).
    assert_eq!(settings.header_row, Some(4));
    assert_eq!(settings.date_order, DateOrder::Dmy);
    assert_eq!(settings.decimal, DecimalSeparator::Comma);
    assert_eq!(settings.sign, AmountSign::NegativeIsSpending);
    assert_eq!(
        settings.columns,
        ColumnMap {
            date: Some(0),
            vendor: Some(2),
            amount: Some(4),
            note: Some(3),
            currency: Some(5),
            ..ColumnMap::default()
        }
    );
    assert_eq!(settings.default_category, other());
    assert!(detection.notes.is_empty(), "{:?}", detection.notes);

    assert_eq!(table.columns.len(), 6);
    assert_eq!(table.columns[2].header, "Auftraggeber/Empfänger");
    assert_eq!(
        table.columns[2].samples,
        ["REWE Markt GmbH", "Arbeitgeber AG", "Bäckerei Müller"]
    );
    assert_eq!(table.columns[5].header, "Währung");

    // The row of empty cells on line 10 is skipped; line numbers are the editor's.
    let lines: Vec<u64> = table.rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [6, 7, 8, 10]);

    let rewe = expense(&table.rows[0]);
    assert_eq!(rewe.date, day(2026, 3, 31));
    assert_eq!(rewe.vendor.as_str(), "REWE Markt GmbH");
    assert_eq!(rewe.amount, eur(123_456));
    assert_eq!(rewe.category, other());
    assert_eq!(rewe.note.as_ref().unwrap().as_str(), "Einkauf Lebensmittel");

    assert_eq!(
        reason(&table.rows[1]),
        "money in (2.500,00), not an expense"
    );

    let baker = expense(&table.rows[2]);
    assert_eq!(baker.date, day(2026, 3, 28));
    assert_eq!(baker.vendor.as_str(), "Bäckerei Müller");
    assert_eq!(baker.amount, eur(420));
    assert_eq!(baker.note.as_ref().unwrap().as_str(), "Brötchen");

    let cafe = expense(&table.rows[3]);
    assert_eq!(cafe.date, day(2026, 3, 15));
    assert_eq!(cafe.vendor.as_str(), "Café Zentral");
    assert_eq!(cafe.amount, eur(1_250));
    assert_eq!(cafe.note, None);
}

const UK_BANK: &str = "Date,Description,Type,Money Out,Money In,Balance\n\
    31/03/2026,\"TESCO STORES, LONDON\",DEB,12.50,,987.50\n\
    30/03/2026,SALARY ACME LTD,BGC,,\"2,000.00\",\"1,000.00\"\n\
    29/03/2026,\"AMAZON.CO.UK, \"\"PRIME\"\"\",DD,7.99,,-1000.00\n\
    28/03/2026,INTEREST,,,,992.01\n\
    02/03/2026,\"CAFE NERO,\nBRISTOL\",DEB,\"1,234.50\",,5.00\n\
    01/03/2026,CARD REFUND,DEB,-3.00,,5.00\n";

#[test]
fn a_uk_bank_export_with_money_out_and_money_in_columns_is_detected_and_read() {
    let (detection, table) = detect_and_read(UK_BANK.as_bytes(), Currency::GBP);
    let settings = &detection.settings;
    assert_eq!(settings.encoding, Encoding::Utf8);
    assert_eq!(settings.delimiter, ',');
    assert_eq!(settings.header_row, Some(1));
    assert_eq!(settings.date_order, DateOrder::Dmy);
    assert_eq!(settings.decimal, DecimalSeparator::Point);
    assert_eq!(
        settings.columns,
        ColumnMap {
            date: Some(0),
            vendor: Some(1),
            debit: Some(3),
            credit: Some(4),
            ..ColumnMap::default()
        }
    );
    assert!(detection.notes.is_empty(), "{:?}", detection.notes);

    let lines: Vec<u64> = table.rows.iter().map(|r| r.line).collect();
    // The Cafe Nero record spans lines 6 and 7.
    assert_eq!(lines, [2, 3, 4, 5, 6, 8]);

    let tesco = expense(&table.rows[0]);
    assert_eq!(tesco.date, day(2026, 3, 31));
    assert_eq!(tesco.vendor.as_str(), "TESCO STORES, LONDON");
    assert_eq!(tesco.amount, gbp(1_250));
    assert_eq!(
        reason(&table.rows[1]),
        "money in (credit 2,000.00), not an expense"
    );
    assert_eq!(
        expense(&table.rows[2]).vendor.as_str(),
        "AMAZON.CO.UK, \"PRIME\""
    );
    assert_eq!(expense(&table.rows[2]).amount, gbp(799));
    assert_eq!(
        reason(&table.rows[3]),
        "no amount in the debit or credit column"
    );
    let nero = expense(&table.rows[4]);
    assert_eq!(nero.date, day(2026, 3, 2));
    assert_eq!(nero.vendor.as_str(), "CAFE NERO, BRISTOL");
    assert_eq!(nero.amount, gbp(123_450));
    // A negative number in the debit column is still money out.
    assert_eq!(expense(&table.rows[5]).amount, gbp(300));
}

#[test]
fn our_own_export_reads_back_as_it_was_written() {
    let file = "date,category,vendor,amount,currency,needs_review,note,id\n\
        2026-03-31,Food,'-Minus Cafe,12.50,INR,false,'=SUM(A1),0195e7a0-0000-7000-8000-000000000001\n\
        2026-03-30,Travel,Uber,8.00,USD,true,,0195e7a0-0000-7000-8000-000000000002\n\
        2026-03-29,Groceries,\"Big, Bazaar\",1500.00,,false,\"weekly shop, \"\"big\"\"\",0195e7a0-0000-7000-8000-000000000003\n\
        2026-03-28,,'@home,1.00,INR,false,'+1 note,0195e7a0-0000-7000-8000-000000000004\n";
    let (detection, table) = detect_and_read(file.as_bytes(), Currency::INR);
    assert_eq!(
        detection.settings,
        ImportSettings {
            encoding: Encoding::Utf8,
            delimiter: ',',
            header_row: Some(1),
            date_order: DateOrder::Ymd,
            decimal: DecimalSeparator::Point,
            sign: AmountSign::PositiveIsSpending,
            columns: ColumnMap {
                date: Some(0),
                vendor: Some(2),
                amount: Some(3),
                category: Some(1),
                note: Some(6),
                currency: Some(4),
                ..ColumnMap::default()
            },
            default_category: other(),
            currency: None,
        }
    );
    assert!(detection.notes.is_empty());

    let rows: Vec<&ImportedRow> = table.rows.iter().map(expense).collect();
    assert_eq!(rows[0].date, day(2026, 3, 31));
    assert_eq!(rows[0].vendor.as_str(), "-Minus Cafe");
    assert_eq!(rows[0].category.as_str(), "Food");
    assert_eq!(rows[0].amount, Money::from_minor(1_250, Currency::INR));
    assert_eq!(rows[0].note.as_ref().unwrap().as_str(), "=SUM(A1)");
    assert_eq!(rows[1].amount, Money::from_minor(800, Currency::USD));
    assert_eq!(rows[1].note, None);
    // An empty currency cell is the account's currency.
    assert_eq!(rows[2].amount, Money::from_minor(150_000, Currency::INR));
    assert_eq!(rows[2].vendor.as_str(), "Big, Bazaar");
    assert_eq!(
        rows[2].note.as_ref().unwrap().as_str(),
        "weekly shop, \"big\""
    );
    assert_eq!(rows[3].vendor.as_str(), "@home");
    assert_eq!(rows[3].category, other());
    assert_eq!(rows[3].note.as_ref().unwrap().as_str(), "+1 note");
}

#[test]
fn only_a_quote_before_a_formula_character_is_dropped() {
    let file = "date,vendor,amount\n2026-03-01,'Quoted',-1.00\n2026-03-02,'-Dash,-2.00\n";
    let table = read(file.as_bytes(), &plain_settings(), Currency::EUR).unwrap();
    assert_eq!(expense(&table.rows[0]).vendor.as_str(), "'Quoted'");
    assert_eq!(expense(&table.rows[1]).vendor.as_str(), "-Dash");
}

const SMALL_TSV: &str = "Date\tPayee\tAmount\n2026-03-01\tCafé\t-4.50\n2026-03-02\tBook shop\t-12.00\n2026-03-03\tRefund\t3.00\n";

#[track_caller]
fn assert_reads_small_tsv(bytes: &[u8], encoding: Encoding) {
    let (detection, table) = detect_and_read(bytes, Currency::EUR);
    let settings = &detection.settings;
    assert_eq!(settings.encoding, encoding);
    assert_eq!(settings.delimiter, '\t');
    assert_eq!(settings.header_row, Some(1));
    assert_eq!(settings.date_order, DateOrder::Ymd);
    assert_eq!(settings.sign, AmountSign::NegativeIsSpending);
    assert_eq!(
        settings.columns,
        ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(2),
            ..ColumnMap::default()
        }
    );
    assert_eq!(table.rows.len(), 3);
    assert_eq!(table.rows[0].line, 2);
    assert_eq!(expense(&table.rows[0]).vendor.as_str(), "Café");
    assert_eq!(expense(&table.rows[0]).amount, eur(450));
    assert_eq!(expense(&table.rows[1]).date, day(2026, 3, 2));
    assert_eq!(expense(&table.rows[1]).amount, eur(1_200));
    assert_eq!(table.rows[2].line, 4);
    assert_eq!(reason(&table.rows[2]), "money in (3.00), not an expense");
}

#[test]
fn utf16_files_are_read_with_or_without_a_bom() {
    assert_reads_small_tsv(&utf16(SMALL_TSV, false, true), Encoding::Utf16Le);
    assert_reads_small_tsv(&utf16(SMALL_TSV, true, false), Encoding::Utf16Be);
    assert_reads_small_tsv(&utf16(SMALL_TSV, false, false), Encoding::Utf16Le);
    assert_reads_small_tsv(&utf16(SMALL_TSV, true, true), Encoding::Utf16Be);
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend(SMALL_TSV.as_bytes());
    assert_reads_small_tsv(&with_bom, Encoding::Utf8);
}

#[test]
fn decoding_drops_the_bom_and_says_where_the_text_breaks() {
    assert_eq!(
        decode(&utf16("a;b", false, true), Encoding::Utf16Le).unwrap(),
        "a;b"
    );
    assert_eq!(
        decode(&utf16("a;b", true, true), Encoding::Utf16Be).unwrap(),
        "a;b"
    );
    assert_eq!(decode(b"\xEF\xBB\xBFa;b", Encoding::Utf8).unwrap(), "a;b");
    assert_eq!(
        decode(b"caf\xE9 \x80", Encoding::Windows1252).unwrap(),
        "café €"
    );

    let err = decode(b"\xEF\xBB\xBFcaf\xE9", Encoding::Utf8).unwrap_err();
    assert_eq!(
        err,
        ImportError::Decode {
            encoding: Encoding::Utf8,
            detail: "byte 7 is not part of a UTF-8 character".to_owned()
        }
    );
    let message = err.to_string();
    assert!(message.contains("not valid UTF-8"), "{message}");
    assert!(message.contains("Windows-1252"), "{message}");

    // A lone high surrogate, 0xD800, after "ab".
    let mut unpaired = utf16("ab", false, true);
    unpaired.extend([0x00, 0xD8, b'c', 0x00]);
    let message = decode(&unpaired, Encoding::Utf16Le)
        .unwrap_err()
        .to_string();
    assert!(message.contains("not valid UTF-16LE"), "{message}");
    assert!(message.contains("byte 7"), "{message}");

    let mut odd = utf16("ab", true, false);
    odd.push(0);
    let message = decode(&odd, Encoding::Utf16Be).unwrap_err().to_string();
    assert!(message.contains("ends in the middle"), "{message}");
}

fn dated_file(dates: &[&str]) -> String {
    let mut file = String::from("Date,Payee,Amount\n");
    for (i, date) in dates.iter().enumerate() {
        file.push_str(&format!("\"{date}\",Shop {i},-1.50\n"));
    }
    file
}

#[test]
fn ambiguous_dates_are_read_day_first_with_a_note() {
    let detection = detected(dated_file(&["01/02/2026", "03/04/2026", "05/06/2026"]).as_bytes());
    assert_eq!(detection.settings.date_order, DateOrder::Dmy);
    assert_eq!(
        detection.notes,
        [
            "Every date could be day/month or month/day; they are read as day/month — change the date order if that is wrong."
        ]
    );
}

#[test]
fn one_date_past_the_twelfth_settles_the_order() {
    let detection = detected(dated_file(&["01/02/2026", "03/13/2026"]).as_bytes());
    assert_eq!(detection.settings.date_order, DateOrder::Mdy);
    assert!(detection.notes.is_empty(), "{:?}", detection.notes);
    let detection = detected(dated_file(&["13/02/2026", "03/04/2026"]).as_bytes());
    assert_eq!(detection.settings.date_order, DateOrder::Dmy);
    assert!(detection.notes.is_empty(), "{:?}", detection.notes);
}

#[test]
fn year_first_dates_and_month_names_need_no_note() {
    for dates in [
        ["2026-03-01", "2026-03-02"],
        ["2026/01/02", "2026/02/01"],
        ["20260102", "20260201"],
        ["2026-01-02T10:15:00Z", "2026-02-01 23:59"],
    ] {
        let detection = detected(dated_file(&dates).as_bytes());
        assert_eq!(detection.settings.date_order, DateOrder::Ymd, "{dates:?}");
        assert!(
            detection.notes.is_empty(),
            "{dates:?}: {:?}",
            detection.notes
        );
    }
    for (dates, order) in [
        (["1 Mar 2026", "2 March 2026"], DateOrder::Dmy),
        (["Mar 1, 2026", "Sept 2, 2026"], DateOrder::Mdy),
        (["2026-Mar-01", "2026-Apr-02"], DateOrder::Ymd),
    ] {
        let file = dated_file(&dates);
        let detection = detected(file.as_bytes());
        assert_eq!(detection.settings.date_order, order, "{dates:?}");
        assert!(
            detection.notes.is_empty(),
            "{dates:?}: {:?}",
            detection.notes
        );
        let table = read(file.as_bytes(), &detection.settings, Currency::EUR).unwrap();
        assert_eq!(
            expense(&table.rows[0]).date.format("%m-%d").to_string(),
            "03-01"
        );
    }
}

#[test]
fn dates_unreadable_in_every_order_get_the_best_order_and_a_note() {
    let detection = detected(dated_file(&["31/03/2026", "30/03/2026", "someday"]).as_bytes());
    assert_eq!(detection.settings.date_order, DateOrder::Dmy);
    assert_eq!(detection.notes.len(), 1, "{:?}", detection.notes);
    assert!(
        detection.notes[0].contains("`someday`"),
        "{:?}",
        detection.notes
    );
}

#[test]
fn dates_are_read_in_every_written_form() {
    use DateOrder::{Dmy, Mdy, Ymd};
    let march_31 = Some(day(2026, 3, 31));
    for (text, order) in [
        ("2026-03-31", Ymd),
        ("2026.03.31", Ymd),
        ("26/03/31", Ymd),
        ("20260331", Ymd),
        ("2026-03-31T14:22:05+02:00", Ymd),
        ("31.03.2026", Dmy),
        ("31 03 2026", Dmy),
        ("31/03/26", Dmy),
        ("31.03.2026 14:22", Dmy),
        ("03/31/2026", Mdy),
        ("3/31/26 2:15 PM", Mdy),
        ("31 Mar 2026", Dmy),
        ("31-MAR-26", Dmy),
        ("March 31, 2026", Mdy),
        ("Mar 31, 2026", Dmy),
        ("2026-Mar-31", Mdy),
    ] {
        assert_eq!(date::parse(text, order), march_31, "{text} as {order}");
    }
    for (text, order) in [
        ("31/02/2026", Dmy),
        ("13/31/2026", Dmy),
        ("2026-03-31", Dmy),
        ("20260331", Dmy),
        ("31.03.", Dmy),
        ("1.234,56", Dmy),
        ("-12.50", Dmy),
        ("10120304", Ymd),
        ("Foo 31, 2026", Mdy),
        ("", Ymd),
    ] {
        assert_eq!(date::parse(text, order), None, "{text} as {order}");
    }
}

#[test]
fn a_file_without_a_header_is_mapped_by_its_values() {
    let file = "31.03.2026;REWE Markt;-23,45\n30.03.2026;Tankstelle Aral;-60,00\n29.03.2026;REWE Markt;-5,10\n28.03.2026;Kino;-12,00\n";
    let (detection, table) = detect_and_read(file.as_bytes(), Currency::EUR);
    let settings = &detection.settings;
    assert_eq!(settings.header_row, None);
    assert_eq!(settings.delimiter, ';');
    assert_eq!(settings.decimal, DecimalSeparator::Comma);
    assert_eq!(settings.date_order, DateOrder::Dmy);
    assert_eq!(settings.sign, AmountSign::NegativeIsSpending);
    assert_eq!(
        settings.columns,
        ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(2),
            ..ColumnMap::default()
        }
    );
    assert_eq!(detection.notes.len(), 1, "{:?}", detection.notes);
    assert!(detection.notes[0].contains("no header row"));
    assert_eq!(table.rows.len(), 4);
    assert_eq!(table.rows[0].line, 1);
    assert_eq!(expense(&table.rows[0]).amount, eur(2_345));
    assert_eq!(expense(&table.rows[3]).vendor.as_str(), "Kino");
    assert_eq!(table.columns[1].header, "Column 2");
    assert_eq!(
        table.columns[1].samples,
        ["REWE Markt", "Tankstelle Aral", "REWE Markt"]
    );
}

#[test]
fn values_pick_the_amount_over_a_reference_and_the_vendor_with_most_values() {
    let file = "x,31/03/2026,100234,Coffee Shop,CARD,4.50\n\
        x,30/03/2026,100235,Book Shop,CARD,12.00\n\
        x,29/03/2026,100236,Coffee Shop,CARD,3.10\n";
    let detection = detected(file.as_bytes());
    assert_eq!(
        detection.settings.columns,
        ColumnMap {
            date: Some(1),
            vendor: Some(3),
            amount: Some(5),
            ..ColumnMap::default()
        }
    );
    assert_eq!(detection.settings.sign, AmountSign::PositiveIsSpending);
}

#[test]
fn a_file_whose_columns_cannot_be_guessed_still_gets_settings_and_notes() {
    let detection = detected(b"just one line of words\nand another\n");
    let settings = &detection.settings;
    assert_eq!(settings.delimiter, ',');
    assert_eq!(settings.columns.date, None);
    assert_eq!(settings.columns.amount, None);
    assert!(
        detection
            .notes
            .contains(&"No column looks like a date: choose the date column.".to_owned()),
        "{:?}",
        detection.notes
    );
    assert!(detection.notes.iter().any(|n| n.contains("amount column")));
}

#[test]
fn header_names_in_other_languages_and_with_extras_are_recognised() {
    let detection = detected(
        "Date de l'opération;Libellé;Catégorie;Montant (EUR);Devise;Commentaire\n\
         31/03/2026;Boulangerie;Courses;-3,20;EUR;\n"
            .as_bytes(),
    );
    assert_eq!(
        detection.settings.columns,
        ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(3),
            category: Some(2),
            currency: Some(4),
            ..ColumnMap::default()
        }
    );
    // "Memo" fits vendor and note; the description is the vendor, so the memo is the note.
    let detection = detected(
        "Memo,Posting Date,Description,Amount,Account Name\n\
         lunch,2026-03-31,CAFE,-3.20,Checking\n"
            .as_bytes(),
    );
    assert_eq!(
        detection.settings.columns,
        ColumnMap {
            date: Some(1),
            vendor: Some(2),
            amount: Some(3),
            note: Some(0),
            ..ColumnMap::default()
        }
    );
    // Debit and credit columns win over an amount-ish marker column.
    let detection = detected(
        "Transaction Date,Transaction Description,Debit Amount,Credit Amount,Balance\n\
         31/03/2026,CAFE,3.20,,100.00\n"
            .as_bytes(),
    );
    let columns = &detection.settings.columns;
    assert_eq!(
        (
            columns.date,
            columns.vendor,
            columns.amount,
            columns.debit,
            columns.credit
        ),
        (Some(0), Some(1), None, Some(2), Some(3))
    );
    // An amount with a Soll/Haben marker column: the amount is read, the marker is not.
    let detection =
        detected("Datum;Empfänger;Betrag;Soll/Haben\n31.03.2026;Kiosk;3,20;S\n".as_bytes());
    let columns = &detection.settings.columns;
    assert_eq!(
        (columns.amount, columns.debit, columns.credit),
        (Some(2), None, None)
    );
}

#[test]
fn validate_says_which_setting_is_wrong() {
    let settings = plain_settings();
    assert_eq!(settings.validate(3), Ok(()));

    let message = |settings: &ImportSettings, count: usize| match settings.validate(count) {
        Err(ImportError::Settings(message)) => message,
        other => panic!("expected a settings error, got {other:?}"),
    };

    assert_eq!(
        message(&settings, 2),
        "the amount column is column 3, but the file has 2 columns; choose one of its columns or none"
    );

    let mut both = plain_settings();
    both.columns.debit = Some(3);
    let text = message(&both, 4);
    assert!(
        text.contains("either the amount column or the debit and credit"),
        "{text}"
    );

    let mut undated = plain_settings();
    undated.columns.date = None;
    assert!(message(&undated, 3).contains("date"));

    let mut nameless = plain_settings();
    nameless.columns.vendor = None;
    assert!(message(&nameless, 3).contains("vendor"));

    let mut amountless = plain_settings();
    amountless.columns.amount = None;
    assert!(message(&amountless, 3).contains("choose the amount column"));
    amountless.columns.credit = Some(2);
    assert_eq!(amountless.validate(3), Ok(()));

    let mut twice = plain_settings();
    twice.columns.note = Some(1);
    assert_eq!(
        message(&twice, 3),
        "column 2 is chosen for both the vendor and the note; choose another column for one of them"
    );

    for bad in ['"', 'a', '7', '\n', '\r', 'é'] {
        let mut delimited = plain_settings();
        delimited.delimiter = bad;
        assert!(
            message(&delimited, 3).contains("cannot separate columns"),
            "{bad:?}"
        );
    }
    for good in [',', ';', '\t', '|', ':', '^'] {
        let mut delimited = plain_settings();
        delimited.delimiter = good;
        assert_eq!(delimited.validate(3), Ok(()), "{good:?}");
    }

    let mut zero = plain_settings();
    zero.header_row = Some(0);
    assert!(message(&zero, 3).contains("counted from 1"));
}

#[test]
fn read_refuses_settings_that_do_not_fit_the_file_but_columns_still_shows_them() {
    let file = "date,vendor\n2026-03-01,Cafe\n";
    let settings = plain_settings();
    assert!(matches!(
        read(file.as_bytes(), &settings, Currency::EUR),
        Err(ImportError::Settings(_))
    ));
    let columns = columns(file.as_bytes(), &settings).unwrap();
    assert_eq!(
        columns,
        [
            Column {
                index: 0,
                header: "date".to_owned(),
                samples: vec!["2026-03-01".to_owned()],
            },
            Column {
                index: 1,
                header: "vendor".to_owned(),
                samples: vec!["Cafe".to_owned()],
            },
        ]
    );
}

#[test]
fn binary_empty_and_misencoded_files_are_refused() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0\x5c\x72\xa8\x66";
    assert_eq!(detect(png, other()).unwrap_err(), ImportError::NotText);
    let controls: Vec<u8> = (1..=8u8).cycle().take(300).collect();
    assert_eq!(
        detect(&controls, other()).unwrap_err(),
        ImportError::NotText
    );
    assert!(
        ImportError::NotText
            .to_string()
            .starts_with("this is not a CSV text file")
    );

    assert_eq!(detect(b"", other()).unwrap_err(), ImportError::Empty);
    assert_eq!(
        detect(b"\xEF\xBB\xBF\r\n", other()).unwrap_err(),
        ImportError::Empty
    );
    assert_eq!(ImportError::Empty.to_string(), "the file is empty");
    assert_eq!(
        read(b"", &plain_settings(), Currency::EUR),
        Err(ImportError::Empty)
    );

    let latin = b"date,vendor,amount\n2026-03-01,Caf\xE9,-1.00\n";
    let err = read(latin, &plain_settings(), Currency::EUR).unwrap_err();
    assert!(matches!(
        err,
        ImportError::Decode {
            encoding: Encoding::Utf8,
            ..
        }
    ));
    assert!(err.to_string().contains("Windows-1252"), "{err}");
    assert!(matches!(
        columns(latin, &plain_settings()),
        Err(ImportError::Decode { .. })
    ));
    // Detection takes it for what it is.
    assert_eq!(detected(latin).settings.encoding, Encoding::Windows1252);
}

#[test]
fn files_that_are_too_large_are_refused_before_anything_else() {
    let big = vec![b'a'; MAX_BYTES + 1];
    let err = detect(&big, other()).unwrap_err();
    assert_eq!(
        err,
        ImportError::TooLarge {
            bytes: MAX_BYTES + 1
        }
    );
    assert_eq!(
        err.to_string(),
        "the file is 5.1 MB; at most 5 MB are read at once: split it"
    );
    assert!(matches!(
        read(&big, &plain_settings(), Currency::EUR),
        Err(ImportError::TooLarge { .. })
    ));
    assert!(matches!(
        columns(&big, &plain_settings()),
        Err(ImportError::TooLarge { .. })
    ));
}

#[test]
fn the_same_bank_gives_the_same_shape_and_another_does_not() {
    let march = windows_1252(GERMAN_BANK);
    let april = windows_1252(
        "Kontonummer:;DE89 3704 0044 0532 0130 00\r\n\
         Zeitraum:;01.04.2026 - 30.04.2026\r\n\
         Kontostand:;99,00 EUR\r\n\
         BUCHUNGSTAG ; Valuta;Auftraggeber/Empfänger;Verwendungszweck;Betrag;Währung\r\n\
         01.04.2026;01.04.2026;Kiosk;;-1,00;EUR\r\n",
    );
    let settings = detected(&march).settings;
    let shape_of_march = shape(&march, &settings).unwrap();
    assert_eq!(shape_of_march.len(), 64);
    assert!(shape_of_march.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        shape(&april, &detected(&april).settings).unwrap(),
        shape_of_march
    );

    let other_bank = "Date,Description,Amount\n2026-03-01,Cafe,-1.00\n";
    let other_settings = detected(other_bank.as_bytes()).settings;
    assert_ne!(
        shape(other_bank.as_bytes(), &other_settings).unwrap(),
        shape_of_march
    );
    let renamed = "Date,Payee,Amount\n2026-03-01,Cafe,-1.00\n";
    assert_ne!(
        shape(renamed.as_bytes(), &other_settings).unwrap(),
        shape(other_bank.as_bytes(), &other_settings).unwrap()
    );

    // Without a header: the delimiter and the number of columns.
    let mut headerless = other_settings.clone();
    headerless.header_row = None;
    let three = "2026-03-01,Cafe,-1.00\n2026-03-02,Bar,-2.00\n";
    let also_three = "2026-04-01,Kiosk,-9.00\n";
    let four = "2026-03-01,Cafe,-1.00,x\n";
    assert_eq!(
        shape(three.as_bytes(), &headerless).unwrap(),
        shape(also_three.as_bytes(), &headerless).unwrap()
    );
    assert_ne!(
        shape(three.as_bytes(), &headerless).unwrap(),
        shape(four.as_bytes(), &headerless).unwrap()
    );
}

#[test]
fn more_rows_than_the_limit_are_refused() {
    let mut file = String::from("date,vendor,amount\n");
    for _ in 0..=MAX_ROWS {
        file.push_str("2026-03-01,A,-1\n");
    }
    let err = read(file.as_bytes(), &plain_settings(), Currency::EUR).unwrap_err();
    assert_eq!(err, ImportError::TooManyRows { rows: MAX_ROWS + 1 });
    assert_eq!(
        err.to_string(),
        "the file has 50,001 rows; at most 50,000 are read at once: split it"
    );
    assert_eq!(
        detect(file.as_bytes(), other()).unwrap_err(),
        ImportError::TooManyRows { rows: MAX_ROWS + 1 }
    );

    // Exactly the limit is fine.
    let at_limit = file.trim_end_matches("2026-03-01,A,-1\n").to_owned()
        + &"2026-03-01,A,-1\n".repeat(MAX_ROWS);
    assert_eq!(
        read(at_limit.as_bytes(), &plain_settings(), Currency::EUR)
            .unwrap()
            .rows
            .len(),
        MAX_ROWS
    );
}

#[test]
fn amounts_are_read_with_parentheses_trailing_minus_and_cr_dr() {
    let file = "date,vendor,amount\n\
        2026-03-01,Paren,(12.50)\n\
        2026-03-02,Trailing,\"12,50-\"\n\
        2026-03-03,Debit marker,12.50 DR\n\
        2026-03-04,Debit before,DR 7.00\n\
        2026-03-05,Credit marker,12.50 CR\n\
        2026-03-06,Credit lower,12.50cr\n\
        2026-03-07,Positive,+3.00\n\
        2026-03-08,Zero,0.00\n\
        2026-03-09,Empty,\n\
        2026-03-10,Words,lots\n\
        2026-03-11,Symbol,-€ 1 234.50\n\
        2026-03-12,Rupiah,-12000 IDR\n\
        2026-03-13,Both signs,-5.00-\n\
        2026-03-14,Apostrophes,-1'234.50\n";
    let mut settings = plain_settings();
    settings.decimal = DecimalSeparator::Point;
    let table = read(file.as_bytes(), &settings, Currency::EUR).unwrap();
    let rows = &table.rows;
    assert_eq!(expense(&rows[0]).amount, eur(1_250));
    // With a decimal point, "12,50" is a thousands separator in the wrong place.
    assert!(
        reason(&rows[1]).contains("groups its digits oddly"),
        "{}",
        reason(&rows[1])
    );
    assert_eq!(expense(&rows[2]).amount, eur(1_250));
    assert_eq!(expense(&rows[3]).amount, eur(700));
    assert_eq!(reason(&rows[4]), "money in (12.50 CR), not an expense");
    assert_eq!(reason(&rows[5]), "money in (12.50cr), not an expense");
    assert_eq!(reason(&rows[6]), "money in (+3.00), not an expense");
    assert_eq!(reason(&rows[7]), "the amount is zero");
    assert_eq!(reason(&rows[8]), "no amount");
    assert_eq!(
        reason(&rows[9]),
        "`lots` has no digits; write an amount such as 1234.50"
    );
    assert_eq!(expense(&rows[10]).amount, eur(123_450));
    assert_eq!(
        expense(&rows[11]).amount,
        Money::from_minor(1_200_000, Currency::from_code("IDR").unwrap())
    );
    assert!(
        reason(&rows[12]).contains("more than one sign"),
        "{}",
        reason(&rows[12])
    );
    assert_eq!(expense(&rows[13]).amount, eur(123_450));

    settings.decimal = DecimalSeparator::Comma;
    let table = read(file.as_bytes(), &settings, Currency::EUR).unwrap();
    assert_eq!(expense(&table.rows[1]).amount, eur(1_250));

    settings.decimal = DecimalSeparator::Point;
    settings.sign = AmountSign::PositiveIsSpending;
    let table = read(file.as_bytes(), &settings, Currency::EUR).unwrap();
    assert_eq!(reason(&table.rows[0]), "money in ((12.50)), not an expense");
    // A marker says the direction whatever the sign convention.
    assert_eq!(expense(&table.rows[2]).amount, eur(1_250));
    assert!(table.rows[4].result.is_err());
    assert_eq!(expense(&table.rows[6]).amount, eur(300));
}

#[test]
fn each_bad_row_gets_a_reason_naming_its_value() {
    let long_vendor = "V".repeat(Vendor::MAX_CHARS + 50);
    let long_note = "n ".repeat(Note::MAX_CHARS);
    let long_category = "c".repeat(CategoryName::MAX_CHARS + 1);
    let file = format!(
        "date,vendor,amount,category,note,currency\n\
         13/31/2026,Cafe,-1.00,,,\n\
         ,Cafe,-1.00,,,\n\
         31/03/2026,,-1.00,,,\n\
         31/03/2026,{long_vendor},-1.00,,{long_note},\n\
         31/03/2026,Cafe,-1.00,{long_category},,\n\
         31/03/2026,Cafe,-1.00,Rent,,XYZ\n\
         31/03/2026,Short\n\
         \n\
         ,,,,,\n\
         31/03/2026,Cafe,-1.00,  Rent  ,,usd\n\
         31/03/2026,Tab\u{1}Vendor,-1.00,,,,extra,fields\n"
    );
    let settings = ImportSettings {
        date_order: DateOrder::Dmy,
        columns: ColumnMap {
            date: Some(0),
            vendor: Some(1),
            amount: Some(2),
            category: Some(3),
            note: Some(4),
            currency: Some(5),
            ..ColumnMap::default()
        },
        ..plain_settings()
    };
    let table = read(file.as_bytes(), &settings, Currency::EUR).unwrap();
    let rows = &table.rows;
    assert_eq!(rows.len(), 9, "{rows:?}");
    assert_eq!(
        reason(&rows[0]),
        "`13/31/2026` is not a date in day/month/year order"
    );
    assert_eq!(reason(&rows[1]), "no date");
    assert_eq!(reason(&rows[2]), "no vendor or description");
    let long = expense(&rows[3]);
    assert_eq!(long.vendor.as_str(), "V".repeat(Vendor::MAX_CHARS));
    assert_eq!(
        long.note.as_ref().unwrap().as_str().chars().count(),
        Note::MAX_CHARS - 1
    );
    assert!(reason(&rows[4]).starts_with(&format!("`{long_category}` cannot be a category")));
    assert_eq!(
        reason(&rows[5]),
        "`XYZ` is not an ISO 4217 currency code (e.g. INR, USD, EUR)"
    );
    assert_eq!(
        reason(&rows[6]),
        "the line has 2 fields; the file's rows have 6"
    );
    assert_eq!(rows[6].line, 8);
    // The blank line and the row of empty cells are no rows at all.
    assert_eq!(rows[7].line, 11);
    let usd = expense(&rows[7]);
    assert_eq!(usd.category.as_str(), "Rent");
    assert_eq!(usd.amount, Money::from_minor(100, Currency::USD));
    assert_eq!(expense(&rows[8]).vendor.as_str(), "Tab Vendor");
}

#[test]
fn a_file_with_only_a_header_has_no_data() {
    let file = "date,vendor,amount\n";
    assert_eq!(
        read(file.as_bytes(), &plain_settings(), Currency::EUR),
        Err(ImportError::NoData)
    );
    let detection = detected(file.as_bytes());
    assert_eq!(detection.settings.header_row, Some(1));
    assert!(
        detection
            .notes
            .iter()
            .any(|n| n.contains("no rows after the header"))
    );
    let mut past_the_end = plain_settings();
    past_the_end.header_row = Some(5);
    assert_eq!(
        read(file.as_bytes(), &past_the_end, Currency::EUR),
        Err(ImportError::NoData)
    );
}

#[test]
fn an_expense_app_export_is_positive_spending_with_categories() {
    let file = "Date,Merchant,Category,Amount,Notes\n\
        03/31/2026,Starbucks,Coffee,4.50,\n\
        03/30/2026,Shell,Fuel,40.00,full tank\n\
        03/29/2026,Starbucks,,-4.50,refund\n";
    let (detection, table) = detect_and_read(file.as_bytes(), Currency::USD);
    let settings = &detection.settings;
    assert_eq!(settings.sign, AmountSign::PositiveIsSpending);
    assert_eq!(settings.date_order, DateOrder::Mdy);
    assert_eq!(settings.columns.category, Some(2));
    assert_eq!(settings.columns.note, Some(4));
    assert_eq!(expense(&table.rows[0]).category.as_str(), "Coffee");
    assert_eq!(
        expense(&table.rows[1]).amount,
        Money::from_minor(4_000, Currency::USD)
    );
    assert_eq!(reason(&table.rows[2]), "money in (-4.50), not an expense");
}

#[test]
fn a_semicolon_file_with_decimal_commas_is_split_on_semicolons() {
    // Every data line has one comma; the preamble adds more comma lines than header lines.
    let file = "Konto;123,45\nStand;1,00\nSaldo;2,00\nDatum;Text;Betrag\n01.03.2026;A;-1,50\n02.03.2026;B;-2,50\n";
    let detection = detected(file.as_bytes());
    assert_eq!(detection.settings.delimiter, ';');
    assert_eq!(detection.settings.header_row, Some(4));
}

#[test]
fn settings_serialise_in_snake_case() {
    let json = serde_json::to_value(plain_settings()).unwrap();
    assert_eq!(json["encoding"], "utf8");
    assert_eq!(json["date_order"], "ymd");
    assert_eq!(json["decimal"], "point");
    assert_eq!(json["sign"], "negative_is_spending");
    assert_eq!(json["delimiter"], ",");
    assert_eq!(json["columns"]["debit"], serde_json::Value::Null);
    let back: ImportSettings = serde_json::from_value(json).unwrap();
    assert_eq!(back, plain_settings());
    assert_eq!(
        serde_json::to_value(Encoding::Windows1252).unwrap(),
        "windows1252"
    );
    assert_eq!(
        serde_json::to_value(DecimalSeparator::Comma).unwrap(),
        "comma"
    );
}

#[test]
fn the_files_currency_applies_where_no_cell_names_one() {
    let bytes =
        b"date,vendor,amount,currency\n2026-03-01,Diner,-12.50,\n2026-03-02,Hotel,-80.00,EUR\n";
    let mut settings = plain_settings();
    settings.columns.currency = Some(3);
    // The account's currency, when the settings name none.
    let table = read(bytes, &settings, Currency::GBP).unwrap();
    assert_eq!(expense(&table.rows[0]).amount, gbp(1250));
    // The file's, when they do; a cell that names one still wins.
    settings.currency = Some(Currency::USD);
    let table = read(bytes, &settings, Currency::GBP).unwrap();
    assert_eq!(
        expense(&table.rows[0]).amount,
        Money::from_minor(1250, Currency::USD)
    );
    assert_eq!(expense(&table.rows[1]).amount, eur(8000));
    // Settings kept before the field existed read as the account's.
    let mut json = serde_json::to_value(plain_settings()).unwrap();
    json.as_object_mut().unwrap().remove("currency");
    let old: ImportSettings = serde_json::from_value(json).unwrap();
    assert_eq!(old.currency, None);
}
