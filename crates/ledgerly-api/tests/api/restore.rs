//! Restoring a backup through `POST /imports`: into an empty account it recreates everything
//! (categories, expenses with their tags, notes and currencies, receipts with their files,
//! recurring expenses still linked to what they made, budgets, rates); a second time it skips
//! every duplicate; a backup that does not fit is refused whole, with why.

use std::io::{Cursor, Read, Write};

use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends!(
    a_backup_restores_into_another_account_and_twice_is_all_duplicates,
    a_backup_that_does_not_fit_is_refused_and_writes_nothing,
    an_operator_backs_up_a_whole_instance_and_restores_it_elsewhere,
);

async fn export(app: &TestApp, token: &str) -> Vec<u8> {
    let response = app.get("/api/v1/export.zip", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.unwrap().to_vec()
}

async fn restore(app: &TestApp, token: &str, zip: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(zip).file_name("ledgerly-backup.zip"),
    );
    app.client
        .post(app.url("/api/v1/imports"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// `zip` with `name` replaced by `bytes` (or left out when `None`).
fn rewritten(zip: &[u8], name: &str, bytes: Option<&[u8]>) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let entry = file.name().unwrap().into_owned();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        let content = if entry == name {
            match bytes {
                Some(bytes) => bytes.to_vec(),
                None => continue,
            }
        } else {
            content
        };
        out.start_file(entry, options).unwrap();
        out.write_all(&content).unwrap();
    }
    out.finish().unwrap().into_inner()
}

async fn expenses(app: &TestApp, token: &str) -> Value {
    expect(
        app.get("/api/v1/expenses?sort=date&per_page=100", token)
            .await,
        StatusCode::OK,
    )
    .await
}

/// Priya's account: a category, expenses in two currencies with tags and a note, a budget, a
/// recurring expense that made today's, a rate and a receipt.
async fn priyas_account(app: &TestApp) -> String {
    let priya = app.register("priya@example.com").await;
    let t = priya.token.clone();
    expect(
        app.post_json("/api/v1/categories", Some(&t), &json!({"name": "Travel"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    app.create_expense(
        &t,
        json!({"date": "2026-03-02", "category": "Travel", "vendor": "TAP Air",
               "amount": "12.50", "currency": "USD", "note": "to Lisbon",
               "tags": ["trip-lisbon", "Work"]}),
    )
    .await;
    app.create_expense(
        &t,
        json!({"date": "2026-03-03", "category": "food", "vendor": "Blue Tokai",
               "amount": "450", "tags": ["trip-lisbon"]}),
    )
    .await;
    expect(
        app.put(
            "/api/v1/budget",
            &t,
            &json!({"amount": "30000", "month": "2026-03"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Kolkata)
        .date_naive();
    expect(
        app.post_json(
            "/api/v1/recurring",
            Some(&t),
            &json!({"category": "food", "vendor": "Gym", "amount": "1500", "unit": "month",
                    "starts_on": today.to_string()}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        app.post_json(
            "/api/v1/rates",
            Some(&t),
            &json!({"currency": "USD", "rate": "80", "date": "2026-03-01"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect(
        app.upload(&t, png("restored receipt"), "bill.png", None)
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    t
}

async fn a_backup_restores_into_another_account_and_twice_is_all_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = priyas_account(&app).await;
    let zip = export(&app, &priya).await;
    let omar = app.register("omar@example.com").await;
    let o = omar.token.as_str();

    let done = expect(restore(&app, o, zip.clone()).await, StatusCode::CREATED).await;
    assert_eq!(done["kind"], "backup");
    assert_eq!(done["from_account"], "priya@example.com");
    assert_eq!(done["categories_created"], 1, "{done}");
    assert_eq!(done["expenses_created"], 3, "{done}");
    assert_eq!(done["duplicates_skipped"], 0);
    assert_eq!(done["receipts_created"], 1);
    assert_eq!(done["recurring_created"], 1);
    assert_eq!(done["budgets_created"], 1);
    assert_eq!(done["rates_created"], 1);

    // Omar's account now reads as Priya's did.
    let mine = expenses(&app, o).await;
    let theirs = expenses(&app, &priya).await;
    let shape = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                json!([
                    e["date"],
                    e["vendor"],
                    e["amount"],
                    e["currency"],
                    e["category"],
                    e["note"],
                    e["tags"],
                    e["recurring_id"].is_null()
                ])
            })
            .collect()
    };
    assert_eq!(shape(&mine), shape(&theirs));
    let recurring = expect(app.get("/api/v1/recurring", o).await, StatusCode::OK).await;
    assert_eq!(recurring[0]["vendor"], "Gym");
    assert_eq!(
        recurring[0]["made"], 1,
        "the made expense is linked to the new rule"
    );
    let summary = expect(
        app.get("/api/v1/summary?month=2026-03", o).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(summary["budget"], "30000.00");
    assert_eq!(
        summary["spent"], "1450.00",
        "the rate came too: $12.50 = ₹1,000"
    );
    let receipts = expect(app.get("/api/v1/receipts", o).await, StatusCode::OK).await;
    assert_eq!(receipts["total"], 1, "{receipts}");

    // Again: everything is there already.
    let again = expect(restore(&app, o, zip).await, StatusCode::CREATED).await;
    assert_eq!(again["expenses_created"], 0, "{again}");
    assert_eq!(again["duplicates_skipped"], 3);
    assert_eq!(again["categories_created"], 0);
    assert_eq!(again["receipts_created"], 0);
    assert_eq!(again["recurring_created"], 0);
    assert_eq!(again["budgets_created"], 0);
    assert_eq!(again["rates_created"], 0);
    assert_eq!(expenses(&app, o).await["total"], 3);
    let receipts = expect(app.get("/api/v1/receipts", o).await, StatusCode::OK).await;
    assert_eq!(receipts["total"], 1);
    app.stop().await;
}

async fn a_backup_that_does_not_fit_is_refused_and_writes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let priya = priyas_account(&app).await;
    let zip = export(&app, &priya).await;
    let omar = app.register("omar@example.com").await;
    let o = omar.token.as_str();

    let mut archive = zip::ZipArchive::new(Cursor::new(zip.as_slice())).unwrap();
    let receipt = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|name| name.starts_with("receipts/"))
        .unwrap();
    let mut manifest: Value = {
        let mut text = String::new();
        archive
            .by_name("manifest.json")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    manifest["version"] = json!(99);
    let newer = serde_json::to_vec(&manifest).unwrap();

    for (bad, words) in [
        (rewritten(&zip, "manifest.json", None), "no `manifest.json`"),
        (
            rewritten(&zip, "manifest.json", Some(&newer)),
            "made by a newer Ledgerly",
        ),
        (
            rewritten(&zip, "data.json", Some(b"{\"expenses\": 3}")),
            "`data.json` does not fit",
        ),
        (
            rewritten(&zip, &receipt, Some(b"not the receipt")),
            "the backup is damaged",
        ),
        (b"PK\x03\x04 and then nothing".to_vec(), "cannot be read"),
    ] {
        let body = expect_error(
            restore(&app, o, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            words,
        )
        .await;
        assert_eq!(body["error"]["field"], "file");
    }
    assert_eq!(expenses(&app, o).await["total"], 0);
    let receipts = expect(app.get("/api/v1/receipts", o).await, StatusCode::OK).await;
    assert_eq!(receipts["total"], 0);
    let categories = expect(app.get("/api/v1/categories", o).await, StatusCode::OK).await;
    assert!(
        categories
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "Travel")
    );
    app.stop().await;
}

async fn an_operator_backs_up_a_whole_instance_and_restores_it_elsewhere(backend: Backend) {
    let old = spawn_app(backend).await;
    let priya = priyas_account(&old).await;
    let omar = old.register("omar@example.com").await;
    old.create_expense(
        &omar.token,
        json!({"date": "2026-04-01", "category": "food", "vendor": "Omar's", "amount": "9"}),
    )
    .await;
    let dir = std::env::temp_dir()
        .join("ledgerly-tests")
        .join(format!("instance-{}", uuid::Uuid::new_v4().simple()));
    let done = ledgerly_api::instance::backup(old.settings.clone(), &dir)
        .await
        .unwrap();
    assert_eq!(done.accounts, 2);
    assert_eq!(done.expenses, 4);
    assert_eq!(done.receipts, 1);
    // A directory with a backup in it is not written over.
    let err = ledgerly_api::instance::backup(old.settings.clone(), &dir)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not empty"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("instance.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "instance.json holds password hashes: private"
        );
    }

    // Another instance: both accounts back, signing in with their passwords, with their data.
    let new = spawn_app(backend).await;
    let done = ledgerly_api::instance::restore(new.settings.clone(), &dir)
        .await
        .unwrap();
    assert_eq!(done.accounts, 2);
    assert_eq!(done.accounts_created, 2);
    assert_eq!(done.expenses, 4);
    let login = expect(
        new.login("priya@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let t = login["token"].as_str().unwrap();
    let theirs = expenses(&old, &priya).await;
    let mine = expenses(&new, t).await;
    assert_eq!(mine["total"], theirs["total"]);
    let recurring = expect(new.get("/api/v1/recurring", t).await, StatusCode::OK).await;
    assert_eq!(recurring[0]["made"], 1);
    let login = expect(
        new.login("omar@example.com", "correct horse").await,
        StatusCode::OK,
    )
    .await;
    let page = expenses(&new, login["token"].as_str().unwrap()).await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["vendor"], "Omar's");

    // Restored again: nothing doubles.
    let again = ledgerly_api::instance::restore(new.settings.clone(), &dir)
        .await
        .unwrap();
    assert_eq!(again.accounts_created, 0);
    assert_eq!(again.expenses, 0);
    // Not a backup: said so.
    let err = ledgerly_api::instance::restore(new.settings.clone(), &dir.join("accounts"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ledgerly-api backup"), "{err:#}");
    std::fs::remove_dir_all(&dir).ok();
    old.stop().await;
    new.stop().await;
}
