//! The backup through the API: one zip with the manifest, every row of the account with its
//! references intact, and each receipt's file byte for byte (a file missing from storage listed
//! without it); nothing of another account; no session, no backup. The zip is streamed as it is
//! made: a failure before its first bytes is an error status, one after them a cut transfer.

use std::io::{Cursor, Read};

use chrono::NaiveDate;
use chrono_tz::Asia::Kolkata;
use ledgerly_store::testing::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    a_backup_holds_every_piece_of_the_account,
    a_backup_holds_nothing_of_another_account_and_needs_a_session,
    a_backup_is_sent_as_it_is_made_and_a_failure_part_way_cuts_it_short,
);

type Archive = zip::ZipArchive<Cursor<Vec<u8>>>;

/// Today in the test users' zone (Asia/Kolkata).
fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&Kolkata).date_naive()
}

/// The backup of the user with `token`, checked to be a zip download.
async fn backup(app: &TestApp, token: &str) -> Archive {
    let response = app.get("/api/v1/export.zip", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"ledgerly-backup-{}.zip\"", today())
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    zip::ZipArchive::new(Cursor::new(bytes)).unwrap()
}

fn entry(archive: &mut Archive, name: &str) -> Vec<u8> {
    let mut file = archive
        .by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

fn json_entry(archive: &mut Archive, name: &str) -> Value {
    serde_json::from_slice(&entry(archive, name)).unwrap()
}

/// The item of `list` whose `field` is `value`.
fn find<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|item| item[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value} in {list}"))
}

async fn a_backup_holds_every_piece_of_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let user = priya.user["id"].as_str().unwrap().to_owned();

    let travel = expect(
        app.post_json("/api/v1/categories", Some(t), &json!({"name": "Travel"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let travel = travel["id"].as_str().unwrap().to_owned();
    let categories = expect(app.get("/api/v1/categories", t).await, StatusCode::OK).await;
    let food = find(&categories, "name", "food")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let flight = app
        .create_expense(
            t,
            json!({"date": "2026-03-02", "category": "Travel", "vendor": "TAP Air",
                   "amount": "12.50", "currency": "USD", "note": "to Lisbon",
                   "tags": ["trip-lisbon", "Work"]}),
        )
        .await;
    let coffee = app
        .create_expense(
            t,
            json!({"date": "2026-03-03", "category": "food", "vendor": "Blue Tokai",
                   "amount": "450", "tags": ["trip-lisbon"]}),
        )
        .await;
    expect(
        app.put(
            "/api/v1/budget",
            t,
            &json!({"amount": "30000", "month": "2026-03"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for body in [
        json!({"amount": "5000", "month": "2026-03"}),
        json!({"amount": null, "month": "2026-05"}),
    ] {
        expect(
            app.put("/api/v1/budget/categories/Travel", t, &body).await,
            StatusCode::OK,
        )
        .await;
    }
    // Started today: today's is made at once; the next is skipped.
    let gym = expect(
        app.post_json(
            "/api/v1/recurring",
            Some(t),
            &json!({"category": "food", "vendor": "Gym", "amount": "1500", "unit": "month",
                    "starts_on": today().to_string()}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(gym["made"], 1, "{gym}");
    let gym_id = gym["id"].as_str().unwrap().to_owned();
    let skipped = expect(
        app.send(
            Method::POST,
            &format!("/api/v1/recurring/{gym_id}/skips"),
            Some(t),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(skipped["skips"].as_array().unwrap().len(), 1, "{skipped}");
    expect(
        app.post_json(
            "/api/v1/rates",
            Some(t),
            &json!({"currency": "USD", "rate": "80", "date": "2026-03-01"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let kept = png("kept in the backup");
    let receipt = expect(
        app.upload(t, kept.clone(), "receipt.png", None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let receipt = receipt["id"].as_str().unwrap().to_owned();
    // A receipt whose file has gone from storage is listed without it, not a failure.
    let lost = expect(
        app.upload(t, png("lost from storage"), "lost.png", None)
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let lost = lost["id"].as_str().unwrap().to_owned();
    std::fs::remove_file(
        app.settings
            .storage
            .path
            .join(format!("receipts/{user}/{lost}.png")),
    )
    .unwrap();

    let mut archive = backup(&app, t).await;
    let mut names: Vec<String> = archive
        .file_names()
        .map(|name| name.unwrap().into_owned())
        .collect();
    names.sort_unstable();
    let kept_file = format!("receipts/{receipt}.png");
    assert_eq!(names, ["data.json", "manifest.json", kept_file.as_str()]);
    let manifest = json_entry(&mut archive, "manifest.json");
    assert_eq!(manifest["format"], "ledgerly-backup");
    assert_eq!(manifest["version"], 1);
    assert!(
        manifest["schema_version"].as_i64().unwrap() > 0,
        "{manifest}"
    );
    assert!(!manifest["app_version"].as_str().unwrap().is_empty());
    assert_eq!(
        manifest["account"],
        json!({"email": "priya@example.com", "name": "Priya Sharma", "currency": "INR",
               "time_zone": "Asia/Kolkata", "uses_ecb_rates": false})
    );
    assert_eq!(
        manifest["counts"],
        json!({"categories": categories.as_array().unwrap().len(), "tags": 2,
               "expenses": 3, "budgets": 1, "category_budgets": 2, "recurring": 1,
               "rates": 1, "receipts": 2, "receipt_files": 1})
    );

    let data = json_entry(&mut archive, "data.json");
    assert_eq!(
        data["categories"].as_array().unwrap().len(),
        categories.as_array().unwrap().len()
    );
    let travel_entry = find(&data["categories"], "id", &travel);
    assert_eq!(travel_entry["name"], "Travel");
    assert_eq!(travel_entry["is_default"], false);
    assert_eq!(data["tags"], json!(["trip-lisbon", "Work"]));

    let tap = find(&data["expenses"], "vendor", "TAP Air");
    assert_eq!(tap["id"], flight["id"]);
    assert_eq!(tap["date"], "2026-03-02");
    assert_eq!(tap["amount"], "12.50");
    assert_eq!(tap["currency"], "USD");
    assert_eq!(tap["note"], "to Lisbon");
    assert_eq!(tap["category_id"], travel.as_str());
    assert_eq!(tap["tags"], json!(["trip-lisbon", "Work"]));
    assert_eq!(tap["needs_review"], false);
    assert_eq!(tap["receipt_id"], Value::Null);
    let tokai = find(&data["expenses"], "vendor", "Blue Tokai");
    assert_eq!(tokai["id"], coffee["id"]);
    assert_eq!(tokai["amount"], "450.00");
    assert_eq!(tokai["currency"], "INR");
    assert_eq!(tokai["note"], Value::Null);
    assert_eq!(tokai["category_id"], food.as_str());
    assert_eq!(tokai["tags"], json!(["trip-lisbon"]));
    let made = find(&data["expenses"], "vendor", "Gym");
    assert_eq!(made["recurring_id"], gym_id.as_str());
    assert_eq!(made["recurring_on"], today().to_string());
    assert_eq!(made["amount"], "1500.00");
    assert_eq!(made["tags"], json!([]));

    assert_eq!(
        data["budgets"],
        json!([{"from": "2026-03", "amount": "30000.00", "currency": "INR"}])
    );
    assert_eq!(
        data["category_budgets"],
        json!([
            {"category_id": travel, "from": "2026-03", "amount": "5000.00", "currency": "INR"},
            {"category_id": travel, "from": "2026-05", "amount": null, "currency": null},
        ])
    );
    let rule = &data["recurring"][0];
    assert_eq!(rule["id"], gym_id.as_str());
    assert_eq!(rule["category_id"], food.as_str());
    assert_eq!(rule["vendor"], "Gym");
    assert_eq!(rule["amount"], "1500.00");
    assert_eq!(rule["currency"], "INR");
    assert_eq!(rule["unit"], "month");
    assert_eq!(rule["every"], 1);
    assert_eq!(rule["starts_on"], today().to_string());
    assert_eq!(rule["next_index"], 1);
    assert_eq!(rule["paused"], false);
    assert_eq!(rule["skips"], skipped["skips"]);
    assert_eq!(
        data["rates"],
        json!([{"base": "USD", "quote": "INR", "date": "2026-03-01", "rate": "80"}])
    );

    let entry_of_kept = find(&data["receipts"], "id", &receipt);
    assert_eq!(entry_of_kept["kind"], "png");
    assert_eq!(entry_of_kept["original_filename"], "receipt.png");
    assert_eq!(entry_of_kept["size_bytes"], kept.len());
    assert_eq!(entry_of_kept["sha256"].as_str().unwrap().len(), 64);
    assert!(entry_of_kept["status"].is_string());
    assert_eq!(entry_of_kept["file"], kept_file.as_str());
    assert_eq!(entry(&mut archive, &kept_file), kept);
    let entry_of_lost = find(&data["receipts"], "id", &lost);
    assert_eq!(entry_of_lost["file"], Value::Null);
    app.stop().await;
}

async fn a_backup_holds_nothing_of_another_account_and_needs_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let p = priya.token.as_str();
    expect(
        app.post_json("/api/v1/categories", Some(p), &json!({"name": "Private"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    app.create_expense(
        p,
        json!({"date": "2026-03-02", "category": "Private", "vendor": "Priya's secret",
               "amount": "42", "tags": ["priya-only"]}),
    )
    .await;
    expect(
        app.post_json(
            "/api/v1/rates",
            Some(p),
            &json!({"currency": "USD", "rate": "80", "date": "2026-03-01"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        app.upload(p, png("priya's receipt"), "receipt.png", None)
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let priyas = expect(app.get("/api/v1/categories", p).await, StatusCode::OK).await;

    let ravi = app.register("ravi@example.com").await;
    let mut archive = backup(&app, &ravi.token).await;
    assert_eq!(archive.len(), 2, "only the manifest and the data");
    let manifest = json_entry(&mut archive, "manifest.json");
    assert_eq!(manifest["account"]["email"], "ravi@example.com");
    let counts = &manifest["counts"];
    for what in [
        "tags",
        "expenses",
        "budgets",
        "category_budgets",
        "recurring",
        "rates",
        "receipts",
        "receipt_files",
    ] {
        assert_eq!(counts[what], 0, "{what}: {manifest}");
    }
    let text = String::from_utf8(entry(&mut archive, "data.json")).unwrap();
    for word in ["Priya", "priya-only", "Private", "USD"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
    let data: Value = serde_json::from_str(&text).unwrap();
    for category in data["categories"].as_array().unwrap() {
        assert!(
            priyas
                .as_array()
                .unwrap()
                .iter()
                .all(|mine| mine["id"] != category["id"]),
            "{category}"
        );
    }

    let response = app
        .send(Method::GET, "/api/v1/export.zip", None, None)
        .await;
    expect_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "authentication required",
    )
    .await;
    app.stop().await;
}

async fn a_backup_is_sent_as_it_is_made_and_a_failure_part_way_cuts_it_short(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let user = priya.user["id"].as_str().unwrap().to_owned();
    let mut files = Vec::new();
    for n in 0..3 {
        let receipt = expect(
            app.upload(t, png(&format!("receipt {n}")), "receipt.png", None)
                .await,
            StatusCode::ACCEPTED,
        )
        .await;
        let id = receipt["id"].as_str().unwrap().to_owned();
        files.push(
            app.settings
                .storage
                .path
                .join(format!("receipts/{user}/{id}.png")),
        );
    }

    // Streamed: no length is known when the answer starts.
    let response = app.get("/api/v1/export.zip", t).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("content-length").is_none(),
        "{:?}",
        response.headers()
    );
    let whole = response.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(Cursor::new(whole.to_vec())).unwrap();
    assert_eq!(
        archive.len(),
        5,
        "three receipts, the data and the manifest"
    );

    // The second receipt cannot be read (a folder stands where its file was): the first has been
    // sent by then, so the transfer is cut short rather than ending as a shorter, whole-looking zip.
    std::fs::remove_file(&files[1]).unwrap();
    std::fs::create_dir(&files[1]).unwrap();
    // The failure follows the first piece closely, so the connection may close before the
    // status line has left (a failed request) or after it (a 200 whose body fails): either way no
    // client takes it for a whole file.
    let cut = match app
        .client
        .get(app.url("/api/v1/export.zip"))
        .bearer_auth(t)
        .send()
        .await
    {
        Err(err) => Err(err),
        Ok(response) => {
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await
        }
    };
    assert!(
        cut.is_err(),
        "the body ended whole: {} bytes",
        cut.unwrap().len()
    );

    // The first cannot be read: nothing has been sent, so the failure is the answer's status.
    std::fs::remove_file(&files[0]).unwrap();
    std::fs::create_dir(&files[0]).unwrap();
    expect_error(
        app.get("/api/v1/export.zip", t).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "",
    )
    .await;

    // With the folders gone, the two files are missing: the backup lists their receipts without.
    std::fs::remove_dir(&files[0]).unwrap();
    std::fs::remove_dir(&files[1]).unwrap();
    let mut archive = backup(&app, t).await;
    let manifest = json_entry(&mut archive, "manifest.json");
    assert_eq!(manifest["counts"]["receipt_files"], 1, "{manifest}");
    app.stop().await;
}
