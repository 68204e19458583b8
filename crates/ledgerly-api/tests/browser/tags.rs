//! Tags from the dashboard: named in the add and edit drawers (a bad one refused beside the
//! field), shown as chips that filter the table, filtered by in the filter bar (any or all),
//! renamed (a taken name refused), merged and deleted on the profile, totalled for the month on
//! the dashboard; at phone width too.

use serde_json::json;

use crate::browser::Browser;
use crate::server::Server;

/// Adds an expense in the drawer, with `tags` as typed in its field.
async fn add_expense(browser: &Browser, vendor: &str, amount: &str, tags: &str) {
    browser.goto("/dashboard?add=manual").await;
    browser
        .fill_form(
            "add",
            &[("vendor", vendor), ("amount", amount), ("tags", tags)],
        )
        .await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_text(".notice", "Expense added").await;
}

/// The chips of the table's row for `vendor`, in order.
async fn chips(browser: &Browser, vendor: &str) -> Vec<String> {
    browser.wait_for("#expenses-table").await;
    let script = format!(
        "const row = Array.from(document.querySelectorAll('#expenses-table tbody tr')) \
         .find(r => r.querySelector('td.vendor').firstChild.textContent.trim() === {}); \
         return row ? Array.from(row.querySelectorAll('td.vendor ul.tag-chips[aria-label=\"Tags\"] a.chip')) \
         .map(a => a.textContent.trim()) : null;",
        json!(vendor)
    );
    let found = browser.execute(&script).await;
    let found = found
        .as_array()
        .unwrap_or_else(|| panic!("no row for {vendor}"));
    found
        .iter()
        .map(|chip| chip.as_str().unwrap().to_owned())
        .collect()
}

/// The id of the tag `name` on the profile's tags card.
async fn tag_id(browser: &Browser, name: &str) -> String {
    browser.wait_for("#tags").await;
    let script = format!(
        "const a = Array.from(document.querySelectorAll('#tags .tag-name')) \
         .find(a => a.textContent.trim() === {}); \
         return a ? a.closest('li').dataset.tag : null;",
        json!(name)
    );
    browser
        .execute(&script)
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no tag {name} on the profile"))
        .to_owned()
}

/// The number of rows in the expenses table.
async fn rows(browser: &Browser) -> usize {
    browser.wait_for("#expenses-table").await;
    browser.count("#expenses-table tbody tr").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_named_on_expenses_filter_the_table_and_are_managed_on_the_profile() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;
    browser.sign_up("Tara", "tara@example.com").await;
    assert_eq!(
        browser.count(".tag-totals").await,
        0,
        "no panel without tagged expenses"
    );
    browser.goto("/profile").await;
    browser
        .wait_text(
            "#tags",
            "No tags yet: add them to expenses in the add or edit drawer.",
        )
        .await;

    // A name too long is refused beside the field, the values kept; then two tags are saved.
    browser.goto("/dashboard?add=manual").await;
    browser.wait_for("#add-tags").await;
    assert!(
        browser
            .text("#add-tags-hint")
            .await
            .contains("Separate tags with commas; new ones are created.")
    );
    let long = "x".repeat(41);
    browser
        .fill_form(
            "add",
            &[
                ("vendor", "Hotel Lisboa"),
                ("amount", "1200"),
                ("tags", &format!("trip, {long}")),
            ],
        )
        .await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_for("#add-tags-error").await;
    assert_eq!(
        browser.attr("#add-tags", "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(browser.value("#add-tags").await, format!("trip, {long}"));
    assert_eq!(browser.value("#add-vendor").await, "Hotel Lisboa");
    browser.fill("#add-tags", "trip, Work").await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_text(".notice", "Expense added").await;
    assert_eq!(chips(&browser, "Hotel Lisboa").await, ["trip", "Work"]);
    let href = browser
        .attr("#expenses-table a.chip", "href")
        .await
        .unwrap_or_default();
    assert!(
        href.starts_with("/dashboard?") && href.contains("tags=trip"),
        "{href}"
    );

    add_expense(&browser, "Taxi", "300", "trip").await;
    assert_eq!(chips(&browser, "Taxi").await, ["trip"]);
    // The month's totals by tag, largest first.
    browser.wait_text(".tag-totals h2", "Tags this month").await;
    let first = browser.text(".tag-total-list li").await;
    assert!(
        first.contains("trip") && first.contains("₹1,500"),
        "{first}"
    );
    assert!(first.contains("2 expenses"), "{first}");

    // The filter bar: any of the tags, then all of them.
    browser.goto("/dashboard").await;
    browser.fill("#filter-tags", "trip").await;
    browser.submit("form.filters").await;
    browser.wait_url("tags=trip").await;
    assert_eq!(rows(&browser).await, 2);
    browser.fill("#filter-tags", "trip,work").await;
    browser.select("#filter-tags_match", "All tags").await;
    browser.submit("form.filters").await;
    browser.wait_url("tags_match=all").await;
    assert_eq!(rows(&browser).await, 1);
    assert!(
        browser
            .text("#expenses-table")
            .await
            .contains("Hotel Lisboa")
    );
    assert_eq!(browser.value("#filter-tags").await, "trip,work");
    assert_eq!(browser.value("#filter-tags_match").await, "all");
    // Any of them: both.
    browser.select("#filter-tags_match", "Any tag").await;
    browser.submit("form.filters").await;
    assert_eq!(rows(&browser).await, 2);
    // A bad match is named beside its field and left out; the tags still filter.
    browser.goto("/dashboard?tags=work&tags_match=maybe").await;
    browser.wait_for("#filter-tags_match-error").await;
    assert!(
        browser
            .text("#filter-tags_match-error")
            .await
            .contains("maybe")
    );
    assert_eq!(rows(&browser).await, 1);
    // A chip filters the table by its tag.
    browser.goto("/dashboard").await;
    browser
        .click("#expenses-table a.chip[href*='tags=Work']")
        .await;
    browser.wait_url("tags=Work").await;
    assert_eq!(rows(&browser).await, 1);
    assert_eq!(browser.value("#filter-tags").await, "Work");
    browser.screenshot("dashboard-tags", 1280).await;

    // Edit: the field shows the tags; taking one out of it takes it off the expense.
    browser.goto("/dashboard").await;
    browser.click_row_link("Hotel Lisboa", "Edit").await;
    browser.wait_for("#edit-tags").await;
    assert_eq!(browser.value("#edit-tags").await, "trip, Work");
    browser.fill("#edit-tags", "trip").await;
    browser.submit("form[action^='/expenses/']").await;
    browser.wait_text(".notice", "Expense saved").await;
    assert_eq!(chips(&browser, "Hotel Lisboa").await, ["trip"]);

    // A third expense with a tag of its own, to merge.
    add_expense(&browser, "Ferry", "150", "holiday").await;
    assert_eq!(chips(&browser, "Ferry").await, ["holiday"]);

    // The profile: each tag with its expenses; a rename to a taken name is refused beside it.
    browser.goto("/profile").await;
    let trip = tag_id(&browser, "trip").await;
    let work = tag_id(&browser, "Work").await;
    let holiday = tag_id(&browser, "holiday").await;
    let row = browser.text(&format!("#tags li[data-tag='{trip}']")).await;
    assert!(row.contains("2 expenses"), "{row}");
    let row = browser.text(&format!("#tags li[data-tag='{work}']")).await;
    assert!(row.contains("0 expenses"), "{row}");
    assert_eq!(
        browser
            .attr(&format!("#tags li[data-tag='{trip}'] a.tag-name"), "href")
            .await
            .as_deref(),
        Some("/dashboard?tags=trip")
    );
    let rename = format!("form[action='/profile/tags/{trip}']");
    let name = format!("#tag-{trip}-name");
    browser.fill(&name, "work").await;
    browser.submit(&rename).await;
    browser.wait_for(&format!("#tag-{trip}-name-error")).await;
    assert_eq!(
        browser.text(&format!("#tag-{trip}-name-error")).await,
        "A tag named “work” exists: merge them instead"
    );
    assert_eq!(browser.value(&name).await, "work", "the name sent is kept");
    assert_eq!(
        browser.attr(&name, "aria-invalid").await.as_deref(),
        Some("true")
    );
    browser.screenshot("profile-tags-error", 1280).await;
    // Renamed: the chips follow.
    browser.fill(&name, "travel").await;
    browser.submit(&rename).await;
    browser.wait_text(".notice", "Tag renamed").await;
    browser.goto("/dashboard").await;
    assert_eq!(chips(&browser, "Hotel Lisboa").await, ["travel"]);
    assert_eq!(chips(&browser, "Taxi").await, ["travel"]);

    // Merged: holiday's expense gets travel, and holiday is gone.
    browser.goto("/profile").await;
    browser
        .select(&format!("#tag-{holiday}-into"), "travel")
        .await;
    browser
        .submit(&format!("form[action='/profile/tags/{holiday}/merge']"))
        .await;
    browser.wait_text(".notice", "Tags merged").await;
    assert_eq!(browser.count("#tags .tag-list li").await, 2);
    let row = browser.text(&format!("#tags li[data-tag='{trip}']")).await;
    assert!(
        row.contains("travel") && row.contains("3 expenses"),
        "{row}"
    );

    // Deleted: Work is gone from the list.
    browser
        .submit(&format!("form[action='/profile/tags/{work}/delete']"))
        .await;
    browser.wait_text(".notice", "Tag deleted").await;
    assert_eq!(browser.count("#tags .tag-list li").await, 1);
    assert!(!browser.text("#tags").await.contains("Work"));
    browser.screenshot("profile-tags", 1280).await;

    // The month's totals follow, and a tag there lists the month's expenses with it.
    browser.goto("/dashboard").await;
    assert_eq!(chips(&browser, "Ferry").await, ["travel"]);
    browser.wait_text(".tag-totals h2", "Tags this month").await;
    assert_eq!(browser.count(".tag-total-list li").await, 1);
    let total = browser.text(".tag-total-list li").await;
    assert!(total.contains("travel"), "{total}");
    assert!(total.contains("₹1,650"), "{total}");
    assert!(total.contains("3 expenses"), "{total}");
    browser.screenshot("dashboard-tag-totals", 1280).await;
    let inline = browser
        .execute("return document.querySelectorAll('script:not([src]), style, [style]').length")
        .await;
    assert_eq!(inline, json!(0), "no inline script or style");
    browser.click(".tag-total-list a.tag-total-name").await;
    browser.wait_url("tags=travel").await;
    assert_eq!(rows(&browser).await, 3);

    // An edit with the field emptied takes every tag off.
    browser.goto("/dashboard").await;
    browser.click_row_link("Ferry", "Edit").await;
    browser.wait_for("#edit-tags").await;
    browser.fill("#edit-tags", "").await;
    browser.submit("form[action^='/expenses/']").await;
    browser.wait_text(".notice", "Expense saved").await;
    assert!(chips(&browser, "Ferry").await.is_empty());
    assert_eq!(chips(&browser, "Taxi").await, ["travel"]);

    // At phone width, nothing wider than the window: the table with its chips, the panel and
    // the tags card.
    browser.set_width(375).await;
    for (path, name) in [
        ("/dashboard", "dashboard-tags"),
        ("/profile", "profile-tags"),
    ] {
        browser.goto(path).await;
        browser.screenshot(name, 375).await;
        browser.assert_fits(path).await;
    }
    browser.set_width(1280).await;

    browser.close().await;
    server.stop().await;
}
