//! Every currency counted, through the API: rates entered and deleted, the summary converting
//! other currencies at their day's rate and naming what it cannot, `converted_amount` on
//! expenses, a change of account currency, and the ECB's rates fetched from a local server with a
//! real-shaped document when turned on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    expenses_in_other_currencies_count_at_their_days_rate,
    the_ecb_rates_are_fetched_when_turned_on_and_convert_any_pair,
);

async fn summary(app: &TestApp, token: &str, month: &str) -> Value {
    expect(
        app.get(&format!("/api/v1/summary?month={month}"), token)
            .await,
        StatusCode::OK,
    )
    .await
}

async fn converted(app: &TestApp, token: &str, vendor: &str) -> Value {
    let page = expect(app.get("/api/v1/expenses", token).await, StatusCode::OK).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["vendor"] == vendor)
        .unwrap()["converted_amount"]
        .clone()
}

async fn expenses_in_other_currencies_count_at_their_days_rate(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("rates@example.com").await;
    let t = user.token.as_str();
    app.create_expense(
        t,
        json!({"date": "2026-03-02", "category": "food", "vendor": "Home", "amount": "100"}),
    )
    .await;
    let dollars = app
        .create_expense(
            t,
            json!({"date": "2026-03-03", "category": "food", "vendor": "Abroad",
                   "amount": "10", "currency": "USD"}),
        )
        .await;
    assert_eq!(dollars["converted_amount"], Value::Null);

    // No rate: the dollars are named, not counted.
    let march = summary(&app, t, "2026-03").await;
    assert_eq!(march["spent"], "100.00");
    assert_eq!(
        march["not_converted"],
        json!([{"currency": "USD", "count": 1, "amount": "10.00"}])
    );
    assert_eq!(converted(&app, t, "Abroad").await, Value::Null);
    assert_eq!(converted(&app, t, "Home").await, Value::Null);

    let rate = expect(
        app.post_json(
            "/api/v1/rates",
            Some(t),
            &json!({"currency": "usd", "rate": "80.00", "date": "2026-03-01"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        rate,
        json!({"base": "USD", "quote": "INR", "date": "2026-03-01", "rate": "80"})
    );
    let march = summary(&app, t, "2026-03").await;
    assert_eq!(march["spent"], "900.00");
    assert_eq!(march["count"], 2);
    assert_eq!(march["not_converted"], json!([]));
    assert_eq!(converted(&app, t, "Abroad").await, "800.00");
    let one = expect(
        app.get(
            &format!("/api/v1/expenses/{}", dollars["id"].as_str().unwrap()),
            t,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["converted_amount"], "800.00");
    assert_eq!(one["amount"], "10.00");
    assert_eq!(one["currency"], "USD");

    // The account in dollars: the rupees are converted (₹100 at 1/80 = $1.25).
    expect(
        app.patch("/api/v1/me", t, &json!({"currency": "USD"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let march = summary(&app, t, "2026-03").await;
    assert_eq!(march["currency"], "USD");
    assert_eq!(march["spent"], "11.25");
    assert_eq!(converted(&app, t, "Home").await, "1.25");
    assert_eq!(converted(&app, t, "Abroad").await, Value::Null);
    expect(
        app.patch("/api/v1/me", t, &json!({"currency": "INR"}))
            .await,
        StatusCode::OK,
    )
    .await;

    // Bad rates, each named.
    for (body, field, words) in [
        (
            json!({"currency": "USD", "rate": "abc", "date": "2026-03-01"}),
            "rate",
            "not a rate",
        ),
        (
            json!({"currency": "USD", "rate": "0", "date": "2026-03-01"}),
            "rate",
            "greater than zero",
        ),
        (
            json!({"currency": "INR", "rate": "1", "date": "2026-03-01"}),
            "currency",
            "between two currencies",
        ),
        (
            json!({"currency": "XYZ", "rate": "1", "date": "2026-03-01"}),
            "currency",
            "XYZ",
        ),
        (
            json!({"currency": "USD", "rate": "1", "date": "March"}),
            "date",
            "not a date",
        ),
    ] {
        let body = expect_error(
            app.post_json("/api/v1/rates", Some(t), &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            words,
        )
        .await;
        assert_eq!(body["error"]["field"], field, "{body}");
    }

    // Listed, then deleted; another user sees and deletes none of it.
    let other = app.register("other@example.com").await;
    let theirs = expect(app.get("/api/v1/rates", &other.token).await, StatusCode::OK).await;
    assert_eq!(theirs["rates"], json!([]));
    expect_error(
        app.delete("/api/v1/rates/USD/INR/2026-03-01", &other.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        "exchange rate",
    )
    .await;
    let listed = expect(app.get("/api/v1/rates", t).await, StatusCode::OK).await;
    assert_eq!(listed["currency"], "INR");
    assert_eq!(listed["uses_ecb"], false);
    assert_eq!(listed["rates"].as_array().unwrap().len(), 1);
    expect(
        app.delete("/api/v1/rates/USD/INR/2026-03-01", t).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(summary(&app, t, "2026-03").await["spent"], "100.00");
    expect_error(
        app.delete("/api/v1/rates/USD/INR/2026-03-01", t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "exchange rate",
    )
    .await;
    app.stop().await;
}

/// The ECB's daily document as it is published (two currencies of it).
const ECB_DAILY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2026-03-06'>
			<Cube currency='USD' rate='1.1'/>
			<Cube currency='JPY' rate='160.5'/>
			<Cube currency='INR' rate='90'/>
		</Cube>
	</Cube>
</gesmes:Envelope>"#;

/// Serves [`ECB_DAILY`] at `/eurofxref-daily.xml`, counting the requests.
async fn ecb_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/eurofxref-daily.xml",
        axum::routing::get(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "text/xml")], ECB_DAILY)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/eurofxref-daily.xml"), hits)
}

async fn the_ecb_rates_are_fetched_when_turned_on_and_convert_any_pair(backend: Backend) {
    let (url, hits) = ecb_server().await;
    let app = spawn_app_with(backend, |settings| settings.rates.ecb_url = url).await;
    let user = app.register("ecb@example.com").await;
    let t = user.token.as_str();
    // A Saturday: Friday's rates stand for it. €10 = ₹900; $11 at 90/1.1 = ₹900.
    app.create_expense(
        t,
        json!({"date": "2026-03-07", "category": "food", "vendor": "Euros",
               "amount": "10", "currency": "EUR"}),
    )
    .await;
    app.create_expense(
        t,
        json!({"date": "2026-03-06", "category": "food", "vendor": "Dollars",
               "amount": "11", "currency": "USD"}),
    )
    .await;
    assert_eq!(summary(&app, t, "2026-03").await["spent"], "0.00");

    let on = expect(
        app.put("/api/v1/rates/ecb", t, &json!({"enabled": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(on["uses_ecb"], true);
    assert_eq!(on["ecb_latest_day"], "2026-03-06");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let march = summary(&app, t, "2026-03").await;
    assert_eq!(march["spent"], "1800.00");
    assert_eq!(march["not_converted"], json!([]));
    assert_eq!(converted(&app, t, "Euros").await, "900.00");
    assert_eq!(converted(&app, t, "Dollars").await, "900.00");

    // Fresh rates are not fetched again on the next switch on.
    expect(
        app.put("/api/v1/rates/ecb", t, &json!({"enabled": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Off: the euros and dollars are named again.
    let off = expect(
        app.put("/api/v1/rates/ecb", t, &json!({"enabled": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(off["uses_ecb"], false);
    let march = summary(&app, t, "2026-03").await;
    assert_eq!(march["spent"], "0.00");
    assert_eq!(march["not_converted"].as_array().unwrap().len(), 2);
    expect_error(
        app.put("/api/v1/rates/ecb", t, &json!({"enabled": "yes"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "",
    )
    .await;
    app.stop().await;
}
