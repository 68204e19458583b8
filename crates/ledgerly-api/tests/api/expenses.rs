use chrono::{Days, NaiveDate};
use ledgerly_core::{Currency, Expense, Money, NewExpense, UserId, Vendor};
use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    an_expense_is_created_read_changed_confirmed_and_deleted,
    amounts_are_taken_as_strings_numbers_or_with_a_symbol,
    bad_expense_fields_are_named,
    the_list_filters_sorts_and_pages,
    bad_list_parameters_are_named,
    the_filtered_list_exports_as_csv,
    an_export_of_thousands_streams_every_row_once_in_order,
    exports_past_a_quarter_of_the_pool_are_refused_until_one_ends,
);

async fn an_expense_is_created_read_changed_confirmed_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let created = app
        .create_expense(t, json!({ "date": "2026-03-14", "category": "Food", "vendor": " Blue  Tokai ", "amount": "350", "note": "team coffee" }))
        .await;
    assert_eq!(created["amount"], "350.00");
    assert_eq!(created["currency"], "INR");
    assert_eq!(created["category"], "food");
    assert_eq!(created["vendor"], "Blue Tokai");
    assert_eq!(created["needs_review"], false);
    assert_eq!(created["receipt_id"], Value::Null);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/expenses/{id}");
    assert_eq!(
        expect(app.get(&path, t).await, StatusCode::OK).await,
        created
    );

    let changed = expect(
        app.patch(&path, t, &json!({ "amount": 360.5, "category": "work" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (changed["amount"].as_str(), changed["category"].as_str()),
        (Some("360.50"), Some("work"))
    );
    assert_eq!(changed["note"], "team coffee", "untouched fields stay");
    let cleared = expect(
        app.patch(&path, t, &json!({ "note": null, "needs_review": true }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["note"], Value::Null);
    assert_eq!(cleared["needs_review"], true);
    let confirmed = expect(
        app.post_json(&format!("{path}/confirm"), Some(t), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(confirmed["needs_review"], false);
    let euros = expect(
        app.patch(&path, t, &json!({ "amount": "12,50 €", "currency": "EUR" }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (euros["amount"].as_str(), euros["currency"].as_str()),
        (Some("12.50"), Some("EUR"))
    );

    expect(app.delete(&path, t).await, StatusCode::NO_CONTENT).await;
    expect_error(
        app.get(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "expense",
    )
    .await;
    expect_error(
        app.delete(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "expense",
    )
    .await;
    expect_error(
        app.get("/api/v1/expenses/not-a-uuid", t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "not found",
    )
    .await;
    app.stop().await;
}

async fn amounts_are_taken_as_strings_numbers_or_with_a_symbol(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    for (amount, expected) in [
        (json!("1234.5"), "1234.50"),
        (json!(99), "99.00"),
        (json!(0.1), "0.10"),
        (json!("₹1,05,000"), "105000.00"),
        (json!("Rs. 1,234.50"), "1234.50"),
    ] {
        let e = app.create_expense(t, json!({ "date": "2026-03-14", "category": "food", "vendor": "V", "amount": amount })).await;
        assert_eq!(e["amount"], expected, "{amount}");
    }
    let dinar = app.create_expense(t, json!({ "date": "2026-03-14", "category": "food", "vendor": "V", "amount": "1.234", "currency": "KWD" })).await;
    assert_eq!(
        dinar["amount"], "1.234",
        "ambiguous text reads as the API's decimal point"
    );
    let yen = app.create_expense(t, json!({ "date": "2026-03-14", "category": "food", "vendor": "V", "amount": "1980", "currency": "JPY" })).await;
    assert_eq!(
        (yen["amount"].as_str(), yen["currency"].as_str()),
        (Some("1980"), Some("JPY"))
    );
    app.stop().await;
}

async fn bad_expense_fields_are_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let base = json!({ "date": "2026-03-14", "category": "food", "vendor": "V", "amount": "10" });
    let cases = [
        ("date", json!("14/03/2026"), "YYYY-MM-DD"),
        ("date", json!("2026-02-30"), "not a date"),
        ("category", json!("groceries"), "no category"),
        ("vendor", json!(""), "empty"),
        ("amount", json!("0"), "greater than zero"),
        ("amount", json!("-5"), "greater than zero"),
        ("amount", json!("ten"), "no digits"),
        ("amount", json!("$5"), "USD"),
        ("amount", json!(1e300), "plain decimal"),
        ("amount", json!("10.001"), "decimal places"),
        ("currency", json!("ZZZ"), "ISO 4217"),
    ];
    for (field, value, words) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        let response = app.post_json("/api/v1/expenses", Some(t), &body).await;
        let error =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid", words).await;
        assert_eq!(error["error"]["field"], field, "{value}: {error}");
    }
    let mut body = base.clone();
    body["user_id"] = json!("00000000-0000-0000-0000-000000000000");
    expect_error(
        app.post_json("/api/v1/expenses", Some(t), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "user_id",
    )
    .await;
    let id = app.create_expense(t, base).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/expenses/{id}");
    let currency_alone = app.patch(&path, t, &json!({ "currency": "EUR" })).await;
    expect_error(
        currency_alone,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "with the currency",
    )
    .await;
    expect_error(
        app.patch(&path, t, &json!({ "needs_review": "yes" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "needs_review",
    )
    .await;
    app.stop().await;
}

async fn seed(app: &TestApp, t: &str) {
    for (date, category, vendor, amount) in [
        ("2026-01-31", "food", "Blue Tokai", "100"),
        ("2026-02-01", "food", "BLUE TOKAI Koramangala", "200"),
        ("2026-02-15", "work", "Staples", "300"),
        ("2026-02-28", "work", "50% Off Store", "400"),
        ("2026-03-01", "food", "Zomato", "500"),
    ] {
        app.create_expense(
            t,
            json!({ "date": date, "category": category, "vendor": vendor, "amount": amount }),
        )
        .await;
    }
}

fn vendors(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["vendor"].as_str().unwrap())
        .collect()
}

async fn the_list_filters_sorts_and_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    seed(&app, t).await;
    let all = expect(app.get("/api/v1/expenses", t).await, StatusCode::OK).await;
    assert_eq!(
        (
            all["total"].as_u64(),
            all["page"].as_u64(),
            all["per_page"].as_u64()
        ),
        (Some(5), Some(1), Some(50))
    );
    assert_eq!(
        vendors(&all),
        [
            "Zomato",
            "50% Off Store",
            "Staples",
            "BLUE TOKAI Koramangala",
            "Blue Tokai"
        ]
    );
    let feb = expect(
        app.get(
            "/api/v1/expenses?from=2026-02-01&to=2026-02-28&category=WORK",
            t,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(vendors(&feb), ["50% Off Store", "Staples"]);
    let search = expect(
        app.get("/api/v1/expenses?q=blue%20tokai&sort=amount", t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(vendors(&search), ["Blue Tokai", "BLUE TOKAI Koramangala"]);
    let percent = expect(app.get("/api/v1/expenses?q=0%25", t).await, StatusCode::OK).await;
    assert_eq!(vendors(&percent), ["50% Off Store"]);
    let paged = expect(
        app.get("/api/v1/expenses?sort=-amount&page=2&per_page=2", t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(vendors(&paged), ["Staples", "BLUE TOKAI Koramangala"]);
    assert_eq!(paged["total"], 5);
    let by_vendor = expect(
        app.get("/api/v1/expenses?sort=vendor&per_page=1", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(vendors(&by_vendor), ["50% Off Store"]);
    let beyond = expect(app.get("/api/v1/expenses?page=9", t).await, StatusCode::OK).await;
    assert!(beyond["items"].as_array().unwrap().is_empty());
    app.stop().await;
}

async fn bad_list_parameters_are_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    for (query, field) in [
        ("from=yesterday", "from"),
        ("from=2026-03-01&to=2026-02-01", "from"),
        ("category=nope", "category"),
        ("sort=price", "sort"),
        ("page=0", "page"),
        ("per_page=501", "per_page"),
    ] {
        let error = expect_error(
            app.get(&format!("/api/v1/expenses?{query}"), t).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            field,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{query}");
    }
    for query in ["page=-1", "per_page=x", "needs_review=maybe", "user_id=x"] {
        let response = app.get(&format!("/api/v1/expenses?{query}"), t).await;
        expect_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "query string",
        )
        .await;
    }
    app.stop().await;
}

async fn the_filtered_list_exports_as_csv(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    seed(&app, t).await;
    app.create_expense(t, json!({ "date": "2026-02-20", "category": "work", "vendor": "=HYPERLINK(\"http://evil\")", "amount": "1" })).await;
    let response = app
        .get(
            "/api/v1/expenses/export.csv?from=2026-02-01&to=2026-02-28&sort=date",
            t,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("expenses.csv")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let vendors: Vec<&str> = rows.iter().map(|r| &r[2]).collect();
    assert_eq!(
        vendors,
        [
            "BLUE TOKAI Koramangala",
            "Staples",
            "'=HYPERLINK(\"http://evil\")",
            "50% Off Store"
        ]
    );
    assert_eq!(&rows[1][3], "300.00");
    assert_eq!(&rows[1][4], "INR");
    expect_error(
        app.get("/api/v1/expenses/export.csv?sort=nope", t).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "sort",
    )
    .await;
    app.stop().await;
}

/// The `id` column of a CSV export, in order.
fn exported_ids(text: &str) -> Vec<String> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|record| record.unwrap()[7].to_owned())
        .collect()
}

fn ids(expenses: &[&Expense]) -> Vec<String> {
    expenses.iter().map(|e| e.id.to_string()).collect()
}

/// 3,000 expenses make some 250 kB of CSV, sent in many pieces: every row arrives once, in the
/// order asked for, and only the rows the filters match.
async fn an_export_of_thousands_streams_every_row_once_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let user: UserId = priya.user["id"].as_str().unwrap().parse().unwrap();
    let store = &app.db.store;
    let categories = store.list_categories(user).await.unwrap();
    let id_of = |name: &str| {
        categories
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap()
            .id
    };
    let (food, work) = (id_of("food"), id_of("work"));
    let new_year = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut created = Vec::new();
    for i in 0..3_000u64 {
        let new = NewExpense::new(
            if i % 2 == 0 { food } else { work },
            new_year + Days::new((i * 7) % 365),
            Vendor::parse(&format!("Vendor {i}")).unwrap(),
            Money::from_minor(100 + (i as i64 * 37) % 1_000, Currency::INR),
        )
        .unwrap();
        created.push(store.create_expense(user, new).await.unwrap());
    }
    let ravi = app.register("ravi@example.com").await;
    app.create_expense(
        &ravi.token,
        json!({ "date": "2025-06-01", "category": "food", "vendor": "Ravi's", "amount": "1" }),
    )
    .await;

    let response = app.get("/api/v1/expenses/export.csv", t).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.len() > 200_000, "{} bytes", text.len());
    let mut newest_first: Vec<&Expense> = created.iter().collect();
    newest_first.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
    assert_eq!(exported_ids(&text), ids(&newest_first));

    let response = app
        .get(
            "/api/v1/expenses/export.csv?from=2025-02-01&to=2025-11-30&category=food&sort=-amount",
            t,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let (from, to) = (new_year + Days::new(31), new_year + Days::new(333));
    let mut largest_first: Vec<&Expense> = created
        .iter()
        .filter(|e| e.category_id == food && (from..=to).contains(&e.date))
        .collect();
    largest_first.sort_by(|a, b| {
        let by_amount = b.amount.minor().cmp(&a.amount.minor());
        by_amount.then(b.id.cmp(&a.id))
    });
    assert!(largest_first.len() > 1_000 && largest_first.len() < 1_500);
    assert_eq!(exported_ids(&text), ids(&largest_first));
    app.stop().await;
}

/// With a pool of 4 connections one export runs at a time: a second, while the first is still
/// being downloaded, is 503 `busy` with `Retry-After`; once the first client goes away, the next
/// export runs.
async fn exports_past_a_quarter_of_the_pool_are_refused_until_one_ends(backend: Backend) {
    let app = spawn_app_with(backend, |settings| {
        settings.database.max_connections = std::num::NonZeroU32::new(4).unwrap();
    })
    .await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let user: UserId = priya.user["id"].as_str().unwrap().parse().unwrap();
    // 200,000 expenses, some 16 MB of CSV: more than the socket and the channel hold, so the
    // first export is still running while the first client does not read.
    let loaded = ledgerly_store::testing::load_expenses(&app.db.store, user, 200_000).await;
    assert_eq!(loaded, 200_000);

    let first = app.get("/api/v1/expenses/export.csv", t).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = app.get("/api/v1/expenses/export.csv", t).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "10");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy", "{body}");
    // Other requests are served meanwhile.
    assert_eq!(
        app.get("/api/v1/expenses?per_page=1", t).await.status(),
        StatusCode::OK
    );

    drop(first);
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..100 {
        let third = app
            .get("/api/v1/expenses/export.csv?q=Vendor%2042", t)
            .await;
        status = third.status();
        if status == StatusCode::OK {
            let text = third.text().await.unwrap();
            assert!(
                text.lines().count() > 2_000,
                "{} lines",
                text.lines().count()
            );
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "the first export's turn never ended"
    );
}
