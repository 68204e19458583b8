//! Recurring expenses through the API: created in the past they catch up at once; upcoming
//! occurrences, skips, edits from a date on, pause and resume; bad input refused with clear
//! errors; another user's rules out of reach; deleting one keeps its expenses.

use chrono::{Datelike, Months, NaiveDate};
use chrono_tz::Asia::Kolkata;
use ledgerly_store::testing::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    a_recurring_expense_catches_up_and_can_be_skipped_edited_paused_and_deleted,
    bad_recurring_expenses_and_another_users_are_refused,
);

/// Today in the test user's zone (Asia/Kolkata).
fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Kolkata).date_naive()
}

fn first_of_month(months_back: u32) -> NaiveDate {
    today().with_day(1).unwrap() - Months::new(months_back)
}

/// The user's expenses made by recurring expense `id`: (date, amount), oldest first.
async fn made_by(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let page = expect(
        app.get("/api/v1/expenses?per_page=500&sort=date", token)
            .await,
        StatusCode::OK,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["recurring_id"] == id)
        .map(|e| {
            (
                e["date"].as_str().unwrap().to_owned(),
                e["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_recurring_expense_catches_up_and_can_be_skipped_edited_paused_and_deleted(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.register("recurring@example.com").await;
    let t = user.token.as_str();
    let start = first_of_month(2);
    let next = first_of_month(0) + Months::new(1);

    // Started two months back on the 1st: this month's, last month's and the one before are
    // made at once.
    let rent = expect(
        app.post_json(
            "/api/v1/recurring",
            Some(t),
            &json!({"category": "food", "vendor": "Landlord", "amount": "25000", "unit": "month",
                    "starts_on": start.to_string(), "day_of_month": 1, "note": "flat 4B"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = rent["id"].as_str().unwrap().to_owned();
    assert_eq!(rent["made"], 3, "{rent}");
    assert_eq!(rent["currency"], "INR");
    assert_eq!(rent["schedule"], "every month on the 1st");
    assert_eq!(rent["next_on"], next.to_string());
    assert_eq!(rent["paused"], false);
    let made = made_by(&app, t, &id).await;
    assert_eq!(
        made.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        [
            start.to_string(),
            first_of_month(1).to_string(),
            first_of_month(0).to_string()
        ]
    );
    assert!(made.iter().all(|(_, amount)| amount == "25000.00"));
    let listed = expect(app.get("/api/v1/recurring", t).await, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    // Upcoming, then the next one skipped (no body: the next), shown skipped, and taken back.
    let upcoming = expect(
        app.get("/api/v1/recurring/upcoming?days=62", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(upcoming[0]["date"], next.to_string(), "{upcoming}");
    assert_eq!(upcoming[0]["vendor"], "Landlord");
    assert_eq!(upcoming[0]["skipped"], false);
    let skipped = expect(
        app.send(
            Method::POST,
            &format!("/api/v1/recurring/{id}/skips"),
            Some(t),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(skipped["skips"], json!([next.to_string()]));
    assert_eq!(
        skipped["next_on"],
        (next + Months::new(1)).to_string(),
        "the next one made is the month after"
    );
    let upcoming = expect(
        app.get("/api/v1/recurring/upcoming?days=62", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(upcoming[0]["skipped"], true);
    let unskipped = expect(
        app.delete(&format!("/api/v1/recurring/{id}/skips/{next}"), t)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unskipped["skips"], json!([]));

    // A raise from last month on changes last month's and this month's rent, not the first.
    let changed = expect(
        app.patch(
            &format!("/api/v1/recurring/{id}"),
            t,
            &json!({"amount": "27500", "from": first_of_month(1).to_string()}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["expenses_changed"], 2, "{changed}");
    assert_eq!(changed["recurring"]["amount"], "27500.00");
    let amounts: Vec<String> = made_by(&app, t, &id)
        .await
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(amounts, ["25000.00", "27500.00", "27500.00"]);

    // A new rhythm cannot start on what was made; from next month on, every 2 weeks, it can.
    expect_error(
        app.patch(
            &format!("/api/v1/recurring/{id}"),
            t,
            &json!({"unit": "week", "every": 2, "starts_on": first_of_month(0).to_string()}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "already made",
    )
    .await;
    let fortnightly = expect(
        app.patch(
            &format!("/api/v1/recurring/{id}"),
            t,
            &json!({"unit": "weeks", "every": 2}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fortnightly["recurring"]["unit"], "week");
    assert_eq!(fortnightly["recurring"]["day_of_month"], Value::Null);
    assert_eq!(fortnightly["recurring"]["starts_on"], next.to_string());
    assert_eq!(fortnightly["recurring"]["next_on"], next.to_string());

    // Paused, it has nothing upcoming; resumed, it has.
    let paused = expect(
        app.send(
            Method::POST,
            &format!("/api/v1/recurring/{id}/pause"),
            Some(t),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paused["paused"], true);
    let upcoming = expect(
        app.get("/api/v1/recurring/upcoming", t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(upcoming, json!([]));
    let resumed = expect(
        app.send(
            Method::POST,
            &format!("/api/v1/recurring/{id}/resume"),
            Some(t),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(resumed["paused"], false);

    // Deleted, its expenses stay, no longer marked.
    expect(
        app.delete(&format!("/api/v1/recurring/{id}"), t).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let page = expect(app.get("/api/v1/expenses", t).await, StatusCode::OK).await;
    assert_eq!(page["total"], 3);
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["recurring_id"].is_null())
    );
    expect_error(
        app.get(&format!("/api/v1/recurring/{id}"), t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "recurring expense",
    )
    .await;
    app.stop().await;
}

async fn bad_recurring_expenses_and_another_users_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let ravi = app.register("ravi@example.com").await;
    let t = priya.token.as_str();
    let base = json!({"category": "food", "vendor": "Gym", "amount": "1500", "unit": "month",
                      "starts_on": today().to_string()});
    let with = |changes: Value| {
        let mut body = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (changes, words) in [
        (json!({"every": 0}), "between 1 and 120 for months"),
        (json!({"unit": "fortnight"}), "unknown unit `fortnight`"),
        (json!({"amount": "-5"}), "greater than zero"),
        (json!({"amount": "abc"}), "amount"),
        (
            json!({"unit": "week", "day_of_month": 3}),
            "only for monthly and yearly",
        ),
        (json!({"day_of_month": 32}), "between 1 and 31"),
        (json!({"starts_on": "2001-01-01"}), "CSV import"),
        (json!({"starts_on": "2026-02-30"}), "not a date"),
        (
            json!({"ends_on": (today() - Months::new(1)).to_string()}),
            "before the start",
        ),
        (json!({"category": "nope"}), "no category `nope`"),
        (json!({"currency": "XYZ"}), "currency"),
        (json!({"colour": "red"}), "colour"),
    ] {
        expect_error(
            app.post_json("/api/v1/recurring", Some(t), &with(changes.clone()))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            words,
        )
        .await;
    }
    expect_error(
        app.get("/api/v1/recurring/upcoming?days=0", t).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "between 1 and 366",
    )
    .await;
    assert!(
        expect(app.get("/api/v1/expenses", t).await, StatusCode::OK).await["total"] == 0,
        "nothing was made by refused requests"
    );

    let gym = expect(
        app.post_json("/api/v1/recurring", Some(t), &base).await,
        StatusCode::CREATED,
    )
    .await;
    let id = gym["id"].as_str().unwrap();
    assert_eq!(gym["made"], 1, "today's is made at once");
    let off_schedule = today() + chrono::Duration::days(1);
    expect_error(
        app.post_json(
            &format!("/api/v1/recurring/{id}/skips"),
            Some(t),
            &json!({"date": off_schedule.to_string()}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "not one of its coming occurrences",
    )
    .await;
    expect_error(
        app.patch(
            &format!("/api/v1/recurring/{id}"),
            t,
            &json!({"currency": "EUR"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "send the amount",
    )
    .await;
    // The category it uses cannot be deleted without moving it.
    let categories = expect(app.get("/api/v1/categories", t).await, StatusCode::OK).await;
    let food = categories
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "food")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        app.delete(&format!("/api/v1/categories/{food}"), t).await,
        StatusCode::CONFLICT,
        "category_in_use",
        "move_to",
    )
    .await;

    // Ravi reaches none of it.
    let r = ravi.token.as_str();
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/recurring/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/recurring/{id}"),
            Some(json!({"amount": "1", "from": "2000-01-01"})),
        ),
        (Method::POST, format!("/api/v1/recurring/{id}/pause"), None),
        (Method::POST, format!("/api/v1/recurring/{id}/resume"), None),
        (Method::POST, format!("/api/v1/recurring/{id}/skips"), None),
        (
            Method::DELETE,
            format!("/api/v1/recurring/{id}/skips/{}", today()),
            None,
        ),
        (Method::DELETE, format!("/api/v1/recurring/{id}"), None),
    ] {
        let response = app
            .send(method.clone(), &path, Some(r), body.as_ref())
            .await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert!(!text.contains("Gym"), "{text}");
    }
    assert_eq!(
        expect(app.get("/api/v1/recurring", r).await, StatusCode::OK).await,
        json!([])
    );
    assert_eq!(
        expect(
            app.get("/api/v1/recurring/upcoming", r).await,
            StatusCode::OK
        )
        .await,
        json!([])
    );
    let still = expect(
        app.get(&format!("/api/v1/recurring/{id}"), t).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["paused"], false);
    assert_eq!(still["made"], 1);
    app.stop().await;
}
