//! Importing CSV files: a bank's export with debit and credit columns, a European
//! semicolon/decimal-comma export in Windows-1252, Ledgerly's own export, settings changed and
//! remembered, and bad files refused.

use ledgerly_store::testing::Backend;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    a_bank_export_with_debit_and_credit_columns_is_previewed_and_committed,
    a_semicolon_export_in_windows_1252_with_decimal_commas_is_read,
    our_own_export_imports_into_another_account_and_duplicates_are_skipped,
    settings_are_changed_checked_and_remembered_for_the_next_file_of_that_shape,
    bad_files_and_foreign_imports_are_refused_with_clear_errors,
);

impl TestApp {
    async fn import(&self, token: &str, bytes: Vec<u8>, name: &str) -> Response {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        self.client
            .post(self.url("/api/v1/imports"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload the import")
    }

    async fn commit(&self, token: &str, id: &str, body: Option<Value>) -> Response {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/imports/{id}/commit"),
            Some(token),
            body.as_ref(),
        )
        .await
    }

    async fn expenses(&self, token: &str) -> Vec<Value> {
        let page = expect(
            self.get("/api/v1/expenses?per_page=100&sort=date", token)
                .await,
            StatusCode::OK,
        )
        .await;
        page["items"].as_array().unwrap().clone()
    }
}

fn lines(rows: &Value) -> Vec<u64> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

async fn a_bank_export_with_debit_and_credit_columns_is_previewed_and_committed(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("bank@example.com").await;
    // Recorded already: the same day, amount and vendor (in another case) as line 4.
    app.create_expense(
        &user.token,
        json!({"date": "2026-03-03", "category": "food", "vendor": "TESCO STORES 3297", "amount": "23.10"}),
    )
    .await;
    let csv = "Date,Description,Money Out,Money In,Balance\n\
               02/03/2026,\"PRET A MANGER, LONDON\",4.85,,1995.15\n\
               03/03/2026,Salary ACME LTD,,2500.00,4495.15\n\
               03/03/2026,Tesco Stores 3297,23.10,,4472.05\n\
               14/03/2026,Transport for London,\"1,234.50\",,3237.55\n\
               15/03/2026,Nothing,,,3237.55\n\
               31/02/2026,Bad Day,5.00,,3232.55\n";
    let preview = expect(
        app.import(&user.token, csv.as_bytes().to_vec(), "statement.csv")
            .await,
        StatusCode::CREATED,
    )
    .await;
    let settings = &preview["settings"];
    assert_eq!(settings["encoding"], "utf8", "{preview}");
    assert_eq!(settings["delimiter"], ",");
    assert_eq!(settings["header_row"], 1);
    assert_eq!(settings["date_order"], "dmy");
    assert_eq!(settings["decimal"], "point");
    assert_eq!(
        settings["columns"],
        json!({"date": 0, "vendor": 1, "amount": null, "debit": 2, "credit": 3,
               "category": null, "note": null, "currency": null})
    );
    assert_eq!(preview["file_name"], "statement.csv");
    assert_eq!(preview["columns"][2]["header"], "Money Out");
    assert_eq!(
        preview["counts"],
        json!({"rows": 6, "ready": 2, "duplicates": 1, "rejected": 3})
    );
    assert_eq!(preview["rows"][0]["vendor"], "PRET A MANGER, LONDON");
    assert_eq!(preview["rows"][0]["amount"], "4.85");
    assert_eq!(preview["rows"][0]["currency"], "INR");
    assert_eq!(preview["rows"][0]["date"], "2026-03-02");
    assert_eq!(preview["rows"][1]["amount"], "1234.50");
    assert_eq!(lines(&preview["rows"]), [2, 5]);
    assert_eq!(lines(&preview["duplicates"]), [4]);
    assert_eq!(lines(&preview["rejected"]), [3, 6, 7]);
    let reasons: Vec<&str> = preview["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("money in"), "{reasons:?}");
    assert!(reasons[1].contains("no amount"), "{reasons:?}");
    assert!(reasons[2].contains("31/02/2026"), "{reasons:?}");
    assert_eq!(preview["new_categories"], json!(["other"]));
    assert!(preview["problem"].is_null());

    let id = preview["id"].as_str().unwrap();
    let done = expect(app.commit(&user.token, id, None).await, StatusCode::OK).await;
    assert_eq!(
        done,
        json!({"created": 2, "duplicates_skipped": 1, "rejected": 3, "categories_created": ["other"]})
    );
    let expenses = app.expenses(&user.token).await;
    let written: Vec<(&str, &str, &str, &str)> = expenses
        .iter()
        .map(|e| {
            (
                e["date"].as_str().unwrap(),
                e["vendor"].as_str().unwrap(),
                e["amount"].as_str().unwrap(),
                e["category"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        written,
        [
            ("2026-03-02", "PRET A MANGER, LONDON", "4.85", "other"),
            ("2026-03-03", "TESCO STORES 3297", "23.10", "food"),
            ("2026-03-14", "Transport for London", "1234.50", "other"),
        ]
    );
    // The statistics count the imported rows (the rollups follow the bulk insert).
    let stats = expect(
        app.get("/api/v1/stats/categories?month=2026-03", &user.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(stats.to_string().contains("1239.35"), "{stats}");

    // Committed once: the second commit is refused and changes nothing; the import says what
    // it did.
    expect_error(
        app.commit(&user.token, id, Some(json!({}))).await,
        StatusCode::CONFLICT,
        "import_committed",
        "committed already",
    )
    .await;
    assert_eq!(app.expenses(&user.token).await.len(), 3);
    let shown = expect(
        app.get(&format!("/api/v1/imports/{id}"), &user.token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["committed"]["created"], 2);
    assert_eq!(shown["committed"]["duplicates_skipped"], 1);
    app.stop().await;
}

/// `text` in Windows-1252 (every character here is in it).
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            c => u8::try_from(u32::from(c)).expect("a Latin-1 character"),
        })
        .collect()
}

async fn a_semicolon_export_in_windows_1252_with_decimal_commas_is_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .register_with(json!({
            "email": "konto@example.com", "password": "correct horse", "name": "Jörg Müller",
            "currency": "EUR", "timezone": "Europe/Berlin"
        }))
        .await;
    let csv = windows_1252(
        "Kontonummer:;DE89370400440532013000\r\n\
         Zeitraum:;01.03.2026 - 31.03.2026\r\n\
         \r\n\
         Buchungstag;Valuta;Auftraggeber/Empfänger;Verwendungszweck;Betrag;Währung\r\n\
         02.03.2026;02.03.2026;Bäckerei Müller;Brötchen;-4,50;EUR\r\n\
         05.03.2026;05.03.2026;Möbelhaus Köln;Sofa €;-1.234,56;EUR\r\n\
         06.03.2026;06.03.2026;Arbeitgeber GmbH;Gehalt;2.500,00;EUR\r\n\
         09.03.2026;09.03.2026;Hotel Zürich;Übernachtung;-120,00;CHF\r\n",
    );
    let preview = expect(
        app.import(&user.token, csv, "umsaetze.csv").await,
        StatusCode::CREATED,
    )
    .await;
    let settings = &preview["settings"];
    assert_eq!(settings["encoding"], "windows1252", "{preview}");
    assert_eq!(settings["delimiter"], ";");
    assert_eq!(settings["header_row"], 3, "blank lines are not records");
    assert_eq!(settings["decimal"], "comma");
    assert_eq!(settings["sign"], "negative_is_spending");
    assert_eq!(settings["columns"]["date"], 0);
    assert_eq!(settings["columns"]["vendor"], 2);
    assert_eq!(settings["columns"]["note"], 3);
    assert_eq!(settings["columns"]["amount"], 4);
    assert_eq!(settings["columns"]["currency"], 5);
    assert_eq!(preview["columns"][2]["header"], "Auftraggeber/Empfänger");
    let rows = preview["rows"].as_array().unwrap();
    let read: Vec<(u64, &str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["vendor"].as_str().unwrap(),
                r["amount"].as_str().unwrap(),
                r["currency"].as_str().unwrap(),
                r["note"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (5, "Bäckerei Müller", "4.50", "EUR", "Brötchen"),
            (6, "Möbelhaus Köln", "1234.56", "EUR", "Sofa €"),
            (8, "Hotel Zürich", "120.00", "CHF", "Übernachtung"),
        ]
    );
    assert_eq!(lines(&preview["rejected"]), [7]);
    let id = preview["id"].as_str().unwrap();
    let done = expect(app.commit(&user.token, id, None).await, StatusCode::OK).await;
    assert_eq!(done["created"], 3);
    let expenses = app.expenses(&user.token).await;
    assert_eq!(expenses[2]["vendor"], "Hotel Zürich");
    assert_eq!(expenses[2]["currency"], "CHF");
    assert_eq!(expenses[1]["note"], "Sofa €");
    app.stop().await;
}

async fn our_own_export_imports_into_another_account_and_duplicates_are_skipped(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    expect(
        app.post_json(
            "/api/v1/categories",
            Some(&alice.token),
            &json!({"name": "Travel, abroad"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    for body in [
        json!({"date": "2026-01-05", "category": "food", "vendor": "Blue Tokai", "amount": "450.00", "note": "flat white, \"large\""}),
        json!({"date": "2026-01-06", "category": "Travel, abroad", "vendor": "-Hotel; Lisbon", "amount": "120.50", "currency": "USD"}),
        json!({"date": "2026-02-01", "category": "work", "vendor": "=SUM(A1)", "amount": "1234567.89"}),
    ] {
        app.create_expense(&alice.token, body).await;
    }
    let export = app
        .get("/api/v1/expenses/export.csv", &alice.token)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();

    let preview = expect(
        app.import(&bob.token, export.clone(), "ledgerly-export.csv")
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        preview["settings"]["sign"], "positive_is_spending",
        "{preview}"
    );
    assert_eq!(preview["counts"]["ready"], 3, "{preview}");
    assert_eq!(preview["new_categories"], json!(["Travel, abroad"]));
    let id = preview["id"].as_str().unwrap();
    let done = expect(app.commit(&bob.token, id, None).await, StatusCode::OK).await;
    assert_eq!(done["created"], 3);
    assert_eq!(done["categories_created"], json!(["Travel, abroad"]));

    let fields = |e: &Value| {
        ["date", "category", "vendor", "amount", "currency", "note"].map(|f| e[f].clone())
    };
    let theirs: Vec<_> = app
        .expenses(&alice.token)
        .await
        .iter()
        .map(fields)
        .collect();
    let mine: Vec<_> = app.expenses(&bob.token).await.iter().map(fields).collect();
    assert_eq!(mine, theirs);

    // The same file again: every row is a duplicate, so there is nothing to commit — unless
    // the duplicates are asked for.
    let again = expect(
        app.import(&bob.token, export, "ledgerly-export.csv").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(again["counts"]["duplicates"], 3, "{again}");
    assert_eq!(again["counts"]["ready"], 0);
    let id = again["id"].as_str().unwrap();
    expect(
        app.commit(&bob.token, id, Some(json!({"include_duplicates": false})))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.expenses(&bob.token).await.len(), 3);
    app.stop().await;
}

async fn settings_are_changed_checked_and_remembered_for_the_next_file_of_that_shape(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.register("us@example.com").await;
    // Every date reads both ways: detection says so and picks day/month.
    let csv = "Posted,Payee,Amount\n03/04/2026,Corner Deli,-12.00\n05/06/2026,Gas Co,-40.00\n";
    let preview = expect(
        app.import(&user.token, csv.as_bytes().to_vec(), "march.csv")
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(preview["settings"]["date_order"], "dmy", "{preview}");
    assert_eq!(preview["rows"][0]["date"], "2026-04-03");
    assert!(
        !preview["notes"].as_array().unwrap().is_empty(),
        "{preview}"
    );
    assert_eq!(preview["remembered"], false);
    let id = preview["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/imports/{id}");

    let mut settings = preview["settings"].clone();
    settings["date_order"] = json!("mdy");
    settings["default_category"] = json!("Groceries");
    // The statement is in dollars; the account (INR) is not.
    settings["currency"] = json!("USD");
    let changed = expect(app.put(&path, &user.token, &settings).await, StatusCode::OK).await;
    assert_eq!(changed["rows"][0]["date"], "2026-03-04");
    assert_eq!(changed["rows"][0]["category"], "Groceries");
    assert_eq!(changed["rows"][0]["currency"], "USD");
    assert!(changed["notes"].as_array().unwrap().is_empty());

    // Settings that do not fit the file are refused and not kept.
    let mut wrong = settings.clone();
    wrong["columns"]["amount"] = json!(7);
    expect_error(
        app.put(&path, &user.token, &wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "settings",
    )
    .await;
    let mut both = settings.clone();
    both["columns"]["debit"] = json!(1);
    expect(
        app.put(&path, &user.token, &both).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut unknown = settings.clone();
    unknown["currency"] = json!("XYZ");
    expect(
        app.put(&path, &user.token, &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut long = settings.clone();
    long["delimiter"] = json!(";;");
    expect_error(
        app.put(&path, &user.token, &long).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "delimiter",
    )
    .await;
    let kept = expect(app.get(&path, &user.token).await, StatusCode::OK).await;
    assert_eq!(kept["settings"], settings);

    expect(app.commit(&user.token, &id, None).await, StatusCode::OK).await;
    expect_error(
        app.put(&path, &user.token, &settings).await,
        StatusCode::CONFLICT,
        "import_committed",
        "committed",
    )
    .await;

    // Next month's file from the same bank: read as the last one was.
    let april = "Posted,Payee,Amount\n04/02/2026,Corner Deli,-9.00\n";
    let next = expect(
        app.import(&user.token, april.as_bytes().to_vec(), "april.csv")
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(next["remembered"], true, "{next}");
    assert_eq!(next["settings"], settings);
    assert_eq!(next["rows"][0]["date"], "2026-04-02");
    assert_eq!(next["rows"][0]["category"], "Groceries");

    // A deleted import is gone; its expenses stay.
    let next_id = next["id"].as_str().unwrap();
    expect(
        app.delete(&format!("/api/v1/imports/{next_id}"), &user.token)
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect(
        app.get(&format!("/api/v1/imports/{next_id}"), &user.token)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(app.expenses(&user.token).await.len(), 2);
    app.stop().await;
}

async fn bad_files_and_foreign_imports_are_refused_with_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("careful@example.com").await;
    let other = app.register("other@example.com").await;

    expect_error(
        app.import(&user.token, Vec::new(), "empty.csv").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "empty",
    )
    .await;
    expect_error(
        app.import(&user.token, png("not a csv"), "scan.csv").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "not a CSV",
    )
    .await;
    let mut huge = b"date,vendor,amount\n".to_vec();
    huge.resize(5 * 1024 * 1024 + 1, b'x');
    expect_error(
        app.import(&user.token, huge, "huge.csv").await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "5.2 MB",
    )
    .await;
    let mut many = String::from("date,vendor,amount\n");
    for _ in 0..50_001 {
        many.push_str("2026-01-01,x,1\n");
    }
    expect_error(
        app.import(&user.token, many.into_bytes(), "many.csv").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "50,000",
    )
    .await;
    let not_multipart = app
        .post_json("/api/v1/imports", Some(&user.token), &json!({}))
        .await;
    assert_eq!(not_multipart.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let send_form = |form: reqwest::multipart::Form| {
        app.client
            .post(app.url("/api/v1/imports"))
            .bearer_auth(&user.token)
            .multipart(form)
            .send()
    };
    // A form with no part at all is not a multipart body.
    expect_error(
        send_form(reqwest::multipart::Form::new()).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
        "multipart",
    )
    .await;
    expect_error(
        send_form(reqwest::multipart::Form::new().text("csv", "date,vendor"))
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "send the CSV as `file`",
    )
    .await;

    // Only rejected rows: the preview lists them, and a commit has nothing to write.
    let csv = "date,vendor,amount\n2026-01-01,,5\n2026-13-01,Shop,5\n";
    let preview = expect(
        app.import(&user.token, csv.as_bytes().to_vec(), "bad.csv")
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(lines(&preview["rejected"]), [2, 3], "{preview}");
    let id = preview["id"].as_str().unwrap();
    expect_error(
        app.commit(&user.token, id, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "no row can be imported",
    )
    .await;
    expect(
        app.send(
            reqwest::Method::POST,
            &format!("/api/v1/imports/{id}/commit"),
            Some(&user.token),
            Some(&json!({"include_duplicates": "yes"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Another user's import is not there for them.
    for response in [
        app.get(&format!("/api/v1/imports/{id}"), &other.token)
            .await,
        app.commit(&other.token, id, None).await,
        app.put(
            &format!("/api/v1/imports/{id}"),
            &other.token,
            &preview["settings"],
        )
        .await,
        app.delete(&format!("/api/v1/imports/{id}"), &other.token)
            .await,
    ] {
        expect_error(response, StatusCode::NOT_FOUND, "not_found", "import").await;
    }
    expect(
        app.get(
            "/api/v1/imports/0193a1c2-7d4e-7f00-8000-000000000000",
            &user.token,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}
