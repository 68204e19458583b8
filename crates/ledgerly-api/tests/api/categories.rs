use ledgerly_store::testing::Backend;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_both_backends!(categories_are_listed_created_renamed_and_deleted_without_losing_expenses);

async fn categories_are_listed_created_renamed_and_deleted_without_losing_expenses(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let priya = app.register("priya@example.com").await;
    let t = priya.token.as_str();
    let list = expect(app.get("/api/v1/categories", t).await, StatusCode::OK).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["entertainment", "food", "work"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["is_default"] == true)
    );

    let rent = expect(
        app.post_json("/api/v1/categories", Some(t), &json!({ "name": "Rent" }))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (rent["name"].as_str(), rent["is_default"].as_bool()),
        (Some("Rent"), Some(false))
    );
    expect_error(
        app.post_json("/api/v1/categories", Some(t), &json!({ "name": "rent" }))
            .await,
        StatusCode::CONFLICT,
        "category_exists",
        "already exists",
    )
    .await;
    expect_error(
        app.post_json(
            "/api/v1/categories",
            Some(t),
            &json!({ "name": "x".repeat(41) }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "40",
    )
    .await;
    let path = format!("/api/v1/categories/{}", rent["id"].as_str().unwrap());
    let renamed = expect(
        app.patch(&path, t, &json!({ "name": "Housing" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["name"], "Housing");
    expect_error(
        app.patch(&path, t, &json!({ "name": "FOOD" })).await,
        StatusCode::CONFLICT,
        "category_exists",
        "FOOD",
    )
    .await;

    let e = app.create_expense(t, json!({ "date": "2026-01-01", "category": "housing", "vendor": "Landlord", "amount": "20000" })).await;
    expect_error(
        app.delete(&path, t).await,
        StatusCode::CONFLICT,
        "category_in_use",
        "move_to",
    )
    .await;
    let food = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "food")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad_target = app
        .delete(
            &format!("{path}?move_to=00000000-0000-0000-0000-000000000000"),
            t,
        )
        .await;
    expect_error(bad_target, StatusCode::NOT_FOUND, "not_found", "category").await;
    expect_error(
        app.delete(&format!("{path}?move_to=food"), t).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "query string",
    )
    .await;
    expect(
        app.delete(&format!("{path}?move_to={food}"), t).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let moved = expect(
        app.get(
            &format!("/api/v1/expenses/{}", e["id"].as_str().unwrap()),
            t,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["category"], "food");
    expect_error(
        app.delete(&path, t).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "category",
    )
    .await;
    app.stop().await;
}
