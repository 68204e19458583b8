use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(
    the_budget_is_set_from_a_month_onwards,
    the_summary_has_every_card_of_the_dashboard,
    statistics_are_per_year_and_month_in_exact_money,
    bad_months_and_years_are_named,
    budgets_per_category_are_set_ended_and_counted_in_the_summary,
);

async fn the_budget_is_set_from_a_month_onwards(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let none = expect(
        app.get("/api/v1/budget?month=2026-01", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (none["amount"].is_null(), none["currency"].as_str()),
        (true, Some("INR"))
    );
    let set = expect(
        app.put(
            "/api/v1/budget",
            t,
            &json!({ "amount": "1000", "month": "2026-02" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (set["amount"].as_str(), set["effective_from"].as_str()),
        (Some("1000.00"), Some("2026-02"))
    );
    let later = expect(
        app.get("/api/v1/budget?month=2026-06", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(later["amount"], "1000.00");
    let before = expect(
        app.get("/api/v1/budget?month=2026-01", t).await,
        StatusCode::OK,
    )
    .await;
    assert!(before["amount"].is_null());
    let now = expect(
        app.put("/api/v1/budget", t, &json!({ "amount": 1500 }))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["amount"], "1500.00");
    expect_error(
        app.put("/api/v1/budget", t, &json!({ "amount": "-1" }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "negative",
    )
    .await;
    expect_error(
        app.put("/api/v1/budget", t, &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "amount",
    )
    .await;
    app.stop().await;
}

async fn the_summary_has_every_card_of_the_dashboard(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    app.put(
        "/api/v1/budget",
        t,
        &json!({ "amount": "1000", "month": "2025-01" }),
    )
    .await;
    app.create_expense(
        t,
        json!({ "date": "2025-04-30", "category": "food", "vendor": "April", "amount": "177.90" }),
    )
    .await;
    for (i, amount) in ["30", "20", "20", "20", "20", "20", "20"]
        .iter()
        .enumerate()
    {
        app.create_expense(t, json!({ "date": format!("2025-05-{:02}", i + 1), "category": "work", "vendor": "Office", "amount": amount })).await;
    }
    for i in 0..5 {
        app.create_expense(t, json!({ "date": format!("2025-05-{:02}", i + 10), "category": "food", "vendor": "Lunch", "amount": "14.40" })).await;
    }
    let s = expect(
        app.get("/api/v1/summary?month=2025-05", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["month"], "2025-05");
    assert_eq!(s["currency"], "INR");
    assert_eq!(s["budget"], "1000.00");
    assert_eq!(s["spent"], "222.00");
    assert_eq!(s["remaining"], "778.00");
    assert_eq!(s["savings_percent"], "77.80");
    assert_eq!(s["count"], 12);
    assert_eq!(s["average"], "18.50");
    assert_eq!(s["top_category"]["category"], "work");
    assert_eq!(s["top_category"]["amount"], "150.00");
    assert_eq!(s["change"]["previous"], "177.90");
    assert_eq!(s["change"]["amount"], "44.10");
    assert_eq!(s["change"]["percent"], "24.79");
    let current = expect(app.get("/api/v1/summary", t).await, StatusCode::OK).await;
    assert_eq!(current["count"], 0);
    app.stop().await;
}

async fn statistics_are_per_year_and_month_in_exact_money(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    for (date, category, amount) in [
        ("2025-12-24", "food", "10.10"),
        ("2026-12-24", "food", "20.20"),
        ("2026-12-25", "food", "0.05"),
        ("2026-12-26", "work", "99.99"),
        ("2026-11-01", "entertainment", "1"),
    ] {
        app.create_expense(
            t,
            json!({ "date": date, "category": category, "vendor": "V", "amount": amount }),
        )
        .await;
    }
    let year = expect(
        app.get("/api/v1/stats/monthly?year=2026", t).await,
        StatusCode::OK,
    )
    .await;
    let rows: Vec<(String, String, String)> = year
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["month"].as_str().unwrap().into(),
                r["category"].as_str().unwrap().into(),
                r["amount"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2026-11".into(), "entertainment".into(), "1.00".into()),
            ("2026-12".into(), "food".into(), "20.25".into()),
            ("2026-12".into(), "work".into(), "99.99".into()),
        ]
    );
    let december = expect(
        app.get("/api/v1/stats/categories?month=2026-12", t).await,
        StatusCode::OK,
    )
    .await;
    let rows: Vec<(&str, &str, u64)> = december
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["category"].as_str().unwrap(),
                r["amount"].as_str().unwrap(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("work", "99.99", 1), ("food", "20.25", 2)]);
    let last_year = expect(
        app.get("/api/v1/stats/categories?month=2025-12", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(last_year[0]["amount"], "10.10");
    app.stop().await;
}

async fn bad_months_and_years_are_named(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    for (path, field) in [
        ("/api/v1/summary?month=2026-13", "month"),
        ("/api/v1/summary?month=March", "month"),
        ("/api/v1/stats/categories?month=26-01", "month"),
        ("/api/v1/budget?month=x", "month"),
        ("/api/v1/stats/monthly?year=twenty", "year"),
        ("/api/v1/stats/monthly?year=1800", "year"),
    ] {
        let error = expect_error(
            app.get(path, t).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            field,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{path}");
    }
    app.stop().await;
}

async fn budgets_per_category_are_set_ended_and_counted_in_the_summary(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    for (date, amount) in [("2026-03-02", "3000"), ("2026-03-20", "1200")] {
        app.create_expense(
            t,
            json!({ "date": date, "category": "food", "vendor": "Cafe", "amount": amount }),
        )
        .await;
    }
    let none = expect(
        app.get("/api/v1/budget/categories?month=2026-03", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["categories"], json!([]));

    let set = expect(
        app.put(
            "/api/v1/budget/categories/Food",
            t,
            &json!({ "amount": "₹5,000", "month": "2026-03" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let food = &set["categories"][0];
    assert_eq!(
        (
            food["category"].as_str(),
            food["amount"].as_str(),
            food["spent"].as_str(),
            food["remaining"].as_str(),
            food["used_percent"].as_str(),
            food["warning"].as_bool(),
            food["effective_from"].as_str(),
        ),
        (
            Some("food"),
            Some("5000.00"),
            Some("4200.00"),
            Some("800.00"),
            Some("84.00"),
            Some(true),
            Some("2026-03")
        ),
        "{set}"
    );
    let summary = expect(
        app.get("/api/v1/summary?month=2026-04", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(summary["category_budgets"][0]["spent"], "0.00", "{summary}");

    // Ended from May: April keeps it.
    let ended = expect(
        app.put(
            "/api/v1/budget/categories/food",
            t,
            &json!({ "amount": null, "month": "2026-05" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended["categories"], json!([]));
    let april = expect(
        app.get("/api/v1/budget/categories?month=2026-04", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(april["categories"].as_array().unwrap().len(), 1);

    // Bad input is named; an unknown category is not found; nothing changed.
    for (body, field) in [
        (json!({ "month": "2026-03" }), "amount"),
        (json!({ "amount": "-5" }), "amount"),
        (json!({ "amount": "lots" }), "amount"),
        (json!({ "amount": "10", "month": "March" }), "month"),
    ] {
        let error = expect_error(
            app.put("/api/v1/budget/categories/food", t, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            field,
        )
        .await;
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    expect(
        app.put(
            "/api/v1/budget/categories/travel",
            t,
            &json!({ "amount": "10" }),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let ravi = app.register("ravi@example.com").await;
    let ravis = expect(
        app.get("/api/v1/budget/categories?month=2026-03", &ravi.token)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ravis["categories"], json!([]));
    let march = expect(
        app.get("/api/v1/budget/categories?month=2026-03", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(march["categories"][0]["amount"], "5000.00");
    app.stop().await;
}
