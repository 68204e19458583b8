//! Tags through the API: on expenses (created on the fly), the list filtered by any or all,
//! totals by month and year, rename, merge, delete, and another user's tags out of reach.

use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    tags_go_on_expenses_and_filter_the_list_and_the_export,
    tags_are_totalled_renamed_merged_and_deleted,
    bad_tags_and_another_users_tags_are_refused,
);

fn vendors(page: &Value) -> Vec<&str> {
    let mut vendors: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["vendor"].as_str().unwrap())
        .collect();
    vendors.sort_unstable();
    vendors
}

async fn tags_go_on_expenses_and_filter_the_list_and_the_export(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("tags@example.com").await;
    let t = user.token.as_str();
    let a = app
        .create_expense(
            t,
            json!({"date": "2026-03-01", "category": "food", "vendor": "A", "amount": "10",
                   "tags": ["trip-lisbon", "Work", "work"]}),
        )
        .await;
    assert_eq!(a["tags"], json!(["trip-lisbon", "Work"]));
    app.create_expense(
        t,
        json!({"date": "2026-03-02", "category": "food", "vendor": "B", "amount": "20",
               "tags": ["TRIP-LISBON"]}),
    )
    .await;
    let c = app
        .create_expense(
            t,
            json!({"date": "2026-03-03", "category": "food", "vendor": "C", "amount": "30"}),
        )
        .await;
    assert_eq!(c["tags"], json!([]));

    let list = |query: &'static str| {
        let app = &app;
        async move {
            expect(
                app.get(&format!("/api/v1/expenses?{query}"), t).await,
                StatusCode::OK,
            )
            .await
        }
    };
    assert_eq!(vendors(&list("tags=trip-lisbon").await), ["A", "B"]);
    assert_eq!(vendors(&list("tags=trip-lisbon,work").await), ["A", "B"]);
    assert_eq!(
        vendors(&list("tags=trip-lisbon,work&tags_match=all").await),
        ["A"]
    );
    assert_eq!(list("tags=trip-lisbon").await["total"], 2);
    // A search finds a tag by part of its name.
    assert_eq!(vendors(&list("q=lisb").await), ["A", "B"]);
    let export = app
        .get("/api/v1/expenses/export.csv?tags=work", t)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(export.lines().count(), 2, "{export}");
    assert!(export.contains(",A,"), "{export}");

    // A change replaces the set; [] removes every tag; leaving tags out keeps them.
    let id = a["id"].as_str().unwrap();
    let path = format!("/api/v1/expenses/{id}");
    let changed = expect(
        app.patch(&path, t, &json!({"tags": ["reimbursable"]}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["tags"], json!(["reimbursable"]));
    let kept = expect(
        app.patch(&path, t, &json!({"vendor": "A2"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(kept["tags"], json!(["reimbursable"]));
    let cleared = expect(
        app.patch(&path, t, &json!({"tags": []})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["tags"], json!([]));
    app.stop().await;
}

async fn tags_are_totalled_renamed_merged_and_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.register("totals@example.com").await;
    let t = user.token.as_str();
    for (date, amount, tags) in [
        ("2026-03-01", "10.00", json!(["trip", "work"])),
        ("2026-03-10", "5.50", json!(["trip"])),
        ("2026-04-01", "3.00", json!(["trip"])),
        ("2026-03-05", "2.00", json!(["journey"])),
    ] {
        app.create_expense(
            t,
            json!({"date": date, "category": "food", "vendor": "Shop", "amount": amount, "tags": tags}),
        )
        .await;
    }
    let march = expect(
        app.get("/api/v1/stats/tags?month=2026-03", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(march["from"], "2026-03-01");
    assert_eq!(march["to"], "2026-03-31");
    assert_eq!(march["currency"], "INR");
    assert_eq!(
        march["tags"],
        json!([
            {"tag": "trip", "amount": "15.50", "count": 2},
            {"tag": "work", "amount": "10.00", "count": 1},
            {"tag": "journey", "amount": "2.00", "count": 1}
        ])
    );
    let year = expect(
        app.get("/api/v1/stats/tags?year=2026", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        year["tags"][0],
        json!({"tag": "trip", "amount": "18.50", "count": 3})
    );
    expect(
        app.get("/api/v1/stats/tags?year=2026&month=2026-03", t)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let tags = expect(app.get("/api/v1/tags", t).await, StatusCode::OK).await;
    let id = |name: &str| {
        tags.as_array()
            .unwrap()
            .iter()
            .find(|tag| tag["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        tags[1],
        json!({"id": id("trip"), "name": "trip", "expenses": 3})
    );
    let (trip, journey, work) = (id("trip"), id("journey"), id("work"));

    // A rename onto another tag's name is a conflict that says to merge.
    expect_error(
        app.patch(
            &format!("/api/v1/tags/{journey}"),
            t,
            &json!({"name": "TRIP"}),
        )
        .await,
        StatusCode::CONFLICT,
        "tag_exists",
        "merge",
    )
    .await;
    let renamed = expect(
        app.patch(
            &format!("/api/v1/tags/{journey}"),
            t,
            &json!({"name": "Journeys"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["name"], "Journeys");
    // Merged by name and by id.
    let merged = expect(
        app.post_json(
            &format!("/api/v1/tags/{journey}/merge"),
            Some(t),
            &json!({"into": "Trip"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(merged["moved"], 1);
    assert_eq!(merged["into"]["expenses"], 4);
    let merged = expect(
        app.post_json(
            &format!("/api/v1/tags/{work}/merge"),
            Some(t),
            &json!({"into": trip}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        merged["into"]["expenses"], 4,
        "an expense with both keeps one"
    );
    expect_error(
        app.post_json(
            &format!("/api/v1/tags/{trip}/merge"),
            Some(t),
            &json!({"into": "trip"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "itself",
    )
    .await;
    expect(
        app.delete(&format!("/api/v1/tags/{trip}"), t).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        expect(app.get("/api/v1/tags", t).await, StatusCode::OK).await,
        json!([])
    );
    let page = expect(app.get("/api/v1/expenses", t).await, StatusCode::OK).await;
    assert_eq!(page["total"], 4, "deleting a tag keeps its expenses");
    app.stop().await;
}

async fn bad_tags_and_another_users_tags_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let ravi = app.register("ravi@example.com").await;
    let p = priya.token.as_str();
    let r = ravi.token.as_str();
    let base = json!({"date": "2026-03-01", "category": "food", "vendor": "V", "amount": "1"});
    let with_tags = |tags: Value| {
        let mut body = base.clone();
        body["tags"] = tags;
        body
    };
    for (tags, words) in [
        (json!(["a,b"]), "cannot contain `,`"),
        (json!([" "]), "empty"),
        (json!(["x".repeat(41)]), "longer than 40"),
        (
            json!((0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()),
            "at most 20 tags",
        ),
    ] {
        expect_error(
            app.post_json("/api/v1/expenses", Some(p), &with_tags(tags))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            words,
        )
        .await;
    }
    expect_error(
        app.get("/api/v1/expenses?tags_match=some", p).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "tags_match",
    )
    .await;
    expect(
        app.patch(
            "/api/v1/tags/0193a1c2-7d4e-7f00-8000-000000000000",
            p,
            &json!({"name": ""}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    app.create_expense(p, with_tags(json!(["private"]))).await;
    let tags = expect(app.get("/api/v1/tags", p).await, StatusCode::OK).await;
    let id = tags[0]["id"].as_str().unwrap();
    for response in [
        app.patch(&format!("/api/v1/tags/{id}"), r, &json!({"name": "mine"}))
            .await,
        app.delete(&format!("/api/v1/tags/{id}"), r).await,
        app.post_json(
            &format!("/api/v1/tags/{id}/merge"),
            Some(r),
            &json!({"into": id}),
        )
        .await,
    ] {
        expect_error(response, StatusCode::NOT_FOUND, "not_found", "tag").await;
    }
    assert_eq!(
        expect(app.get("/api/v1/tags", r).await, StatusCode::OK).await,
        json!([])
    );
    let theirs = expect(
        app.get("/api/v1/expenses?tags=private", r).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs["total"], 0);
    let stats = expect(
        app.get("/api/v1/stats/tags?month=2026-03", r).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(stats["tags"], json!([]));
    // Ravi's own tag of the same name is his, apart from Priya's.
    app.create_expense(r, with_tags(json!(["Private"]))).await;
    let his = expect(app.get("/api/v1/tags", r).await, StatusCode::OK).await;
    assert_ne!(his[0]["id"], tags[0]["id"]);
    assert_eq!(his[0]["expenses"], 1);
    app.stop().await;
}
