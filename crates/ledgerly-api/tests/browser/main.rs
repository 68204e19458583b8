//! The web dashboard in real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed by `scripts/test`), driven over WebDriver: the API on PostgreSQL, receipts on disk,
//! and the OCR worker running in-process with a test extractor that answers when the test lets
//! it. Screenshots of each page at 1280 and 375 px go to `<target>/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod admin;
mod backup;
mod browser;
mod category_budgets;
mod duplicates;
mod imports;
mod isolation;
mod password_reset;
mod phone;
mod rates;
mod recurring;
mod server;
#[path = "../api/smtp.rs"]
mod smtp;
mod tags;
mod themes;
mod tokens;

use serde_json::json;

use browser::Browser;
use server::{Server, receipt_png};

pub(crate) const NASTY: &str = "<script>alert(1)</script>";

/// Sign up → add → the cards and charts change → edit → delete → upload a receipt → OCR turns
/// done → review and confirm → filter, sort, columns, pages → CSV → receipts → profile → logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_session_in_the_browser() {
    let server = Server::start().await;
    let browser = Browser::open(&server.url).await;

    // The landing page, and sign-up's inline errors: every field's problem at once.
    browser.goto("/").await;
    browser.wait_text("h1", "Know where your money goes").await;
    browser.screenshot("landing", 1280).await;
    browser
        .fill_form(
            "signup",
            &[
                ("name", ""),
                ("email", "not-an-email"),
                ("password", "short"),
                ("budget", "lots"),
                ("currency", "XYZ"),
                ("timezone", "Mars/Olympus"),
            ],
        )
        .await;
    browser.click("form[action='/signup'] button").await;
    browser.wait_for("#signup-email-error").await;
    for field in [
        "name", "email", "password", "budget", "currency", "timezone",
    ] {
        let error = browser.text(&format!("#signup-{field}-error")).await;
        assert!(!error.is_empty(), "no error shown for {field}");
        assert_eq!(
            browser
                .attr(&format!("#signup-{field}"), "aria-invalid")
                .await
                .as_deref(),
            Some("true"),
            "{field} is not marked invalid"
        );
    }
    assert_eq!(
        browser.value("#signup-email").await,
        "not-an-email",
        "the value is kept"
    );
    assert_eq!(
        browser.value("#signup-password").await,
        "",
        "a password is never sent back"
    );
    browser.screenshot("landing-errors", 1280).await;

    // A wrong login is refused inline.
    browser
        .fill_form(
            "login",
            &[("email", "nobody@example.com"), ("password", "whatever1")],
        )
        .await;
    browser.click("form[action='/login'] button").await;
    browser.wait_text(".alert", "Wrong email or password").await;

    // Sign up for real.
    browser
        .fill_form(
            "signup",
            &[
                ("name", "Asha"),
                ("email", "asha@example.com"),
                ("password", "correct horse"),
                ("budget", "50000"),
                ("currency", "INR"),
                ("timezone", "Asia/Kolkata"),
            ],
        )
        .await;
    browser.click("form[action='/signup'] button").await;
    browser.wait_url("/dashboard").await;
    browser.wait_text(".cards", "₹50,000").await;
    assert!(browser.text(".cards").await.contains("Nothing spent yet"));
    browser.screenshot("dashboard-empty", 1280).await;

    // Add an expense whose vendor is markup: it must show as text everywhere.
    browser.click_link("+ Add transaction").await;
    browser.wait_for("#add-vendor").await;
    // Bad input first: each field's error beside it, the drawer still open.
    browser
        .fill_form("add", &[("vendor", ""), ("amount", "-5"), ("date", "")])
        .await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_for("#add-vendor-error").await;
    assert!(
        browser
            .text("#add-amount-error")
            .await
            .contains("more than zero")
    );
    assert!(!browser.text("#add-date-error").await.is_empty());
    browser.screenshot("dashboard-add-errors", 1280).await;

    browser
        .fill_form("add", &[("vendor", NASTY), ("amount", "1200")])
        .await;
    browser.set_date("#add-date", &server.today()).await;
    browser.select("#add-category", "food").await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_text(".notice", "Expense added").await;
    assert_eq!(browser.text("#expenses-table tbody td.vendor").await, NASTY);
    assert!(browser.no_alert().await, "the vendor ran as a script");
    assert!(
        !browser.source().await.contains(NASTY),
        "the vendor is in the page unescaped"
    );
    // The cards and the charts follow.
    let cards = browser.text(".cards").await;
    assert!(cards.contains("₹1,200"), "{cards}");
    assert!(cards.contains("Top: food"), "{cards}");
    assert!(cards.contains("₹48,800"), "savings: {cards}");
    let slices = browser.count("svg.donut circle.seg").await;
    assert_eq!(slices, 1);
    let bar = browser.text_of_svg_title("svg.bars rect.bar").await;
    assert!(bar.contains("food") && bar.contains("₹1,200.00"), "{bar}");

    // Edit it in the drawer.
    browser.click_link("Edit").await;
    browser.wait_for("#edit-amount").await;
    assert_eq!(browser.value("#edit-vendor").await, NASTY);
    browser.fill("#edit-amount", "1500").await;
    browser.submit("form[action^='/expenses/']").await;
    browser.wait_text(".notice", "Expense saved").await;
    assert!(browser.text("#expenses-table").await.contains("₹1,500.00"));
    assert!(browser.text(".cards").await.contains("₹1,500"));

    // The confirmation names it as text too; Cancel leaves it be.
    browser.click_row_link(NASTY, "Delete").await;
    browser.wait_text(".dialog", NASTY).await;
    assert!(browser.no_alert().await);
    browser.click_link("Cancel").await;
    assert!(browser.text("#expenses-table").await.contains(NASTY));

    // Add a second one, then delete it after the confirmation.
    browser.click_link("+ Add transaction").await;
    browser
        .fill_form("add", &[("vendor", "Metro card"), ("amount", "300")])
        .await;
    browser.select("#add-category", "entertainment").await;
    browser.submit("form[action='/expenses']").await;
    browser.wait_text(".notice", "Expense added").await;
    assert_eq!(browser.count("svg.donut circle.seg").await, 2);
    browser.click_row_link("Metro card", "Delete").await;
    browser.wait_text(".dialog", "Delete this expense?").await;
    browser.screenshot("dashboard-delete", 1280).await;
    browser.submit(".dialog form").await;
    browser.wait_text(".notice", "Expense deleted").await;
    assert!(!browser.text("#expenses-table").await.contains("Metro card"));

    // Upload a receipt; the status is live, and the review opens when OCR is done.
    let png = server.write_file("corner-bakery.png", &receipt_png());
    browser.click_link("Scan a receipt").await;
    browser.wait_for("#upload-file").await;
    browser.screenshot("dashboard-upload", 1280).await;
    // A file that is not a receipt is refused beside the drop zone; nothing is stored.
    let text = server.write_file("notes.txt", b"just some text, not an image");
    browser.send_file("#upload-file", &text).await;
    browser
        .wait_text("#upload-file-error", "not a receipt image")
        .await;
    browser.send_file("#upload-file", &png).await;
    browser.wait_url("receipt=").await;
    browser.wait_text("[data-status-text]", "").await;
    let status = browser.text("[data-status-text]").await;
    assert!(
        status == "Waiting to be read" || status == "Reading…",
        "before OCR answers: {status}"
    );
    browser.screenshot("dashboard-ocr-pending", 1280).await;
    server.release_ocr(1);
    browser.wait_url("review=").await;
    browser.wait_for("#edit-vendor").await;
    assert_eq!(browser.value("#edit-vendor").await, "Corner Bakery");
    assert_eq!(browser.value("#edit-amount").await, "245.50");
    // What OCR was unsure of is flagged: the faint name, and the date the slip did not show.
    for (input, flagged) in [("vendor", true), ("date", true), ("amount", false)] {
        assert_eq!(
            browser
                .count(&format!(".field.flagged #edit-{input}"))
                .await,
            usize::from(flagged),
            "{input} flagged: {flagged}"
        );
    }
    assert!(browser.text(".notice.flag").await.contains("unsure"));
    assert!(
        browser.image_loaded(".review-image img").await,
        "the thumbnail does not load"
    );
    browser.screenshot("dashboard-review", 1280).await;
    browser.fill("#edit-note", "Birthday cake").await;
    browser.click("button[name=confirm]").await;
    browser.wait_text(".notice", "Receipt confirmed").await;
    let table = browser.text("#expenses-table").await;
    assert!(
        table.contains("Corner Bakery") && table.contains("₹245.50"),
        "{table}"
    );
    assert!(!table.contains("Review"), "still awaiting review: {table}");

    // Enough rows to page through, added through the API with the same account.
    let api = server.login("asha@example.com", "correct horse").await;
    for i in 1..=12 {
        let vendor = if i % 3 == 0 {
            format!("Tea stall {i}")
        } else {
            format!("Shop {i}")
        };
        let category = if i % 2 == 0 { "work" } else { "food" };
        api.post(
            "/api/v1/expenses",
            json!({"date": server.days_ago(i), "vendor": vendor, "amount": format!("{}.00", 100 + i), "category": category}),
        )
        .await;
    }
    browser.goto("/dashboard").await;
    browser.screenshot("dashboard", 1280).await;
    // 14 expenses in all; 5 a page.
    browser.select("#filter-per_page", "5 per page").await;
    browser.submit("form.filters").await;
    browser.wait_text(".pager", "Page 1 of 3").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 5);
    browser.click_link("Next").await;
    browser.wait_text(".pager", "Page 2 of 3").await;
    browser.click_link("Last").await;
    browser.wait_text(".pager", "Page 3 of 3").await;
    browser.click_link("First").await;
    browser.wait_text(".pager", "Page 1 of 3").await;
    browser.select("#filter-per_page", "15 per page").await;
    browser.submit("form.filters").await;
    browser.wait_text(".pager", "Page 1 of 1").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 14);
    // Sort by amount, largest first, then smallest first.
    browser.click_link("Amount").await;
    browser.wait_url("sort=-amount").await;
    assert_eq!(
        browser.text("#expenses-table tbody tr td.num").await,
        "₹1,500.00"
    );
    browser.click_link("Amount").await;
    browser.wait_url("sort=amount").await;
    assert_eq!(
        browser.text("#expenses-table tbody tr td.num").await,
        "₹101.00"
    );
    // Filter by vendor text, then by category.
    browser.fill("#filter-q", "tea").await;
    browser.submit("form.filters").await;
    browser.wait_url("q=tea").await;
    assert_eq!(browser.count("#expenses-table tbody tr").await, 4);
    browser.select("#filter-category", "work").await;
    browser.submit("form.filters").await;
    browser.wait_url("category=").await;
    let rows = browser.count("#expenses-table tbody tr").await;
    assert_eq!(rows, 2, "tea stalls 6 and 12 are work");
    // A date range: the last three days only.
    browser.goto("/dashboard").await;
    browser.set_date("#filter-from", &server.days_ago(3)).await;
    browser.set_date("#filter-to", &server.today()).await;
    browser.submit("form.filters").await;
    browser.wait_url("from=").await;
    assert_eq!(
        browser.count("#expenses-table tbody tr").await,
        5,
        "today's two and days 1 to 3"
    );
    // A bad range is an inline error, not a failure.
    browser
        .goto(&format!(
            "/dashboard?from={}&to={}",
            server.today(),
            server.days_ago(5)
        ))
        .await;
    browser.wait_for("#filter-from-error").await;
    // Choose columns: the note on, the category off.
    browser.goto("/dashboard").await;
    browser.tap("details.columns summary").await;
    browser.tap("input[name=cols][value=note]").await;
    browser.tap("input[name=cols][value=category]").await;
    browser.submit("form.filters").await;
    browser.wait_url("cols=").await;
    let head = browser.text("#expenses-table thead").await;
    assert!(
        head.contains("Note") && !head.contains("Category"),
        "{head}"
    );
    assert!(
        browser
            .text("#expenses-table")
            .await
            .contains("Birthday cake")
    );

    // CSV export of the filtered table, with the browser's own session.
    browser.goto("/dashboard?q=tea&sort=amount").await;
    let href = browser.attr("a[download]", "href").await.unwrap();
    assert!(href.contains("q=tea"), "{href}");
    let (status, csv) = browser.fetch("GET", &href, None, &[]).await;
    assert_eq!(status, 200, "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "date,category,vendor,amount,currency,needs_review,note,id"
    );
    assert_eq!(lines.len(), 5, "a header and four tea stalls: {csv}");
    assert!(
        lines[1].contains("Tea stall 3") && lines[1].contains("103.00"),
        "{csv}"
    );

    // The receipts page: status, thumbnail, re-run OCR, delete.
    browser.goto("/receipts").await;
    browser.wait_text(".receipts", "Read").await;
    assert!(browser.image_loaded(".receipts img").await);
    browser.screenshot("receipts", 1280).await;
    browser.click("form[action$='/retry'] button").await;
    browser.wait_text(".notice", "being read again").await;
    let status = browser.text("[data-status-text]").await;
    assert!(
        status == "Waiting to be read" || status == "Reading…",
        "after re-run: {status}"
    );
    server.release_ocr(1);
    browser.wait_text_is("[data-status-text]", "Read").await;
    browser.click_link("Delete").await;
    browser.wait_text(".dialog", "Delete this receipt?").await;
    browser.submit(".dialog form").await;
    browser.wait_text(".notice", "Receipt deleted").await;
    assert!(browser.text("main").await.contains("No receipts yet"));
    // Drag and drop: a file dropped on the zone is uploaded and read like a chosen one.
    browser
        .drop_file("[data-dropzone]", "dropped.png", &receipt_png())
        .await;
    browser.wait_url("receipt=").await;
    server.release_ocr(1);
    browser.wait_url("review=").await;
    assert_eq!(browser.value("#edit-vendor").await, "Corner Bakery");
    browser
        .click(".drawer button[type=submit]:not([name])")
        .await;
    browser.wait_text(".notice", "Expense saved").await;
    assert!(
        browser.text("#expenses-table").await.contains("Review"),
        "saved for later"
    );

    // The profile: inline errors, then changes that stick.
    browser.goto("/profile").await;
    browser.screenshot("profile", 1280).await;
    browser
        .fill_form("profile", &[("name", ""), ("currency", "ABC")])
        .await;
    browser.submit("form[action='/profile']").await;
    browser.wait_for("#profile-name-error").await;
    assert!(!browser.text("#profile-currency-error").await.is_empty());
    browser
        .fill_form(
            "profile",
            &[
                ("name", "Asha Rao"),
                ("currency", "INR"),
                ("budget", "60000"),
            ],
        )
        .await;
    browser.submit("form[action='/profile']").await;
    browser.wait_text(".notice", "Profile saved").await;
    assert_eq!(browser.value("#profile-budget").await, "60000.00");
    assert!(browser.text(".topbar").await.contains("Asha Rao"));
    browser
        .fill("#password-current_password", "not my password")
        .await;
    browser
        .fill("#password-new_password", "battery staple")
        .await;
    browser
        .fill("#password-confirm_password", "battery staple")
        .await;
    browser.submit("form[action='/profile/password']").await;
    browser
        .wait_text("#password-current_password-error", "wrong")
        .await;
    browser
        .fill("#password-current_password", "correct horse")
        .await;
    browser
        .fill("#password-new_password", "battery staple")
        .await;
    browser
        .fill("#password-confirm_password", "battery staple")
        .await;
    browser.submit("form[action='/profile/password']").await;
    browser.wait_text(".notice", "Password changed").await;
    browser
        .fill_form(
            "email",
            &[
                ("email", "asha.rao@example.com"),
                ("password", "battery staple"),
            ],
        )
        .await;
    browser.submit("form[action='/profile/email']").await;
    browser.wait_text(".notice", "Email changed").await;
    // Categories: add, a bad name inline, rename, and delete — refused while it has expenses,
    // unless they move.
    browser.fill("#category-new-name", "Travel").await;
    browser.submit("form[action='/profile/categories']").await;
    browser.wait_text(".notice", "Categories saved").await;
    browser.fill("#category-new-name", "   ").await;
    browser.submit("form[action='/profile/categories']").await;
    browser
        .wait_text("#category-new-name-error", "Enter a name")
        .await;
    let travel = "input[name=name][value='Travel']";
    browser.fill(travel, "Trips").await;
    browser
        .navigate_by_script(
            "rename",
            "document.querySelector(arguments[0]).form.requestSubmit(); return null;",
            vec![json!(travel)],
        )
        .await;
    browser.wait_text(".notice", "Categories saved").await;
    assert_eq!(browser.count("input[name=name][value='Trips']").await, 1);
    let delete = |name: &str, move_to: &str| {
        (
            "const [name, moveTo] = arguments; \
             const row = Array.from(document.querySelectorAll('.category-list li')) \
               .find(li => li.querySelector('input[name=name]').value === name); \
             const form = row.querySelector(\"form[action$='/delete']\"); \
             const select = form.querySelector('select'); \
             select.value = Array.from(select.options).find(o => o.text === moveTo).value; \
             form.requestSubmit(); return null;",
            vec![json!(name), json!(move_to)],
        )
    };
    let (script, args) = delete("work", "Its expenses move to…");
    browser
        .navigate_by_script("delete work", script, args)
        .await;
    browser
        .wait_text(".category-list .error", "still has 6 expense(s)")
        .await;
    let (script, args) = delete("work", "food");
    browser
        .navigate_by_script("delete work, moving", script, args)
        .await;
    browser.wait_text(".notice", "Category deleted").await;
    assert_eq!(browser.count("input[name=name][value='work']").await, 0);
    browser.goto("/dashboard?q=Shop%202").await;
    assert!(
        browser.text("#expenses-table").await.contains("food"),
        "moved to food"
    );

    browser.goto("/dashboard").await;
    assert!(browser.text(".cards").await.contains("₹60,000"));

    // Narrow screens: nothing wider than the phone, on every page (loaded at that width).
    browser.set_width(375).await;
    for (path, name) in [
        ("/dashboard", "dashboard"),
        ("/dashboard?add=manual", "dashboard-add"),
        ("/receipts", "receipts"),
        ("/profile", "profile"),
    ] {
        browser.goto(path).await;
        browser.screenshot(name, 375).await;
        browser.assert_fits(path).await;
    }

    // Log out: the session ends, and the pages send the browser home.
    browser.click(".topbar form[action='/logout'] button").await;
    browser.wait_url_is("/").await;
    browser.goto("/dashboard").await;
    browser.wait_url_is("/").await;
    browser.assert_fits("/ (375 px)").await;
    browser.screenshot("landing", 375).await;
    // The new password and email sign in.
    browser
        .fill_form(
            "login",
            &[
                ("email", "asha.rao@example.com"),
                ("password", "battery staple"),
            ],
        )
        .await;
    browser.click("form[action='/login'] button").await;
    browser.wait_url("/dashboard").await;

    browser.close().await;
    server.stop().await;
}
