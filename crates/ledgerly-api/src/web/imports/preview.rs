//! An import's preview page: what was guessed, what is wrong, the settings, the rows a commit
//! writes, the duplicates it skips and the rows it cannot read, then the commit — or, once
//! committed, what it did.

use ledgerly_core::{Category, Money, User};
use maud::{Markup, html};

use crate::routes::imports::{ImportView, PreviewRowView, RejectedView};
use crate::web::Errors;
use crate::web::layout::csrf_field;

use super::settings::{self, SettingsForm};
use super::{count, expenses};

/// What the page shows besides the import: the settings form as sent and its errors when it did
/// not pass, the commit's error when it was refused.
#[derive(Debug)]
pub(super) struct Shown<'a> {
    pub(super) settings: Option<(&'a SettingsForm, &'a Errors)>,
    pub(super) commit: Option<&'a Errors>,
}

/// The page's body.
pub(super) fn body(
    user: &User,
    view: &ImportView,
    categories: &[Category],
    shown: &Shown<'_>,
    csrf: &str,
) -> Markup {
    let action = format!("/import/{}", view.id);
    let stored = SettingsForm::of(&view.settings);
    let none = Errors::none();
    let (form, settings_errors) = shown.settings.unwrap_or((&stored, &none));
    let commit_errors = shown.commit.unwrap_or(&none);
    html! {
        div.page-head {
            div {
                h1 { "Import" }
                p.filename { (view.file_name) }
            }
            div.actions { a.button href="/import" { "Upload another file" } }
        }
        @if let Some(committed) = &view.committed {
            @if let Some(message) = refusal(settings_errors).or(refusal(commit_errors)) {
                p.alert role="alert" { (message) }
            }
            section.card.import-done aria-labelledby="done-title" {
                h2 #done-title { "Done: " (expenses(committed.created)) " imported" }
                @if committed.duplicates_skipped > 0 {
                    p { (count(committed.duplicates_skipped, "row", "rows")) " already recorded " (if committed.duplicates_skipped == 1 { "was" } else { "were" }) " skipped." }
                }
                p.muted {
                    "Imported on "
                    time datetime=(committed.at.to_rfc3339()) {
                        (user.time_zone.local_date(committed.at).format("%d %b %Y"))
                    }
                    "."
                }
                div.form-actions {
                    a.button.primary href="/dashboard" { "Go to the dashboard" }
                    a.button href="/import" { "Import another file" }
                }
            }
        } @else {
            @if let Some(problem) = &view.problem {
                div.alert.import-problem role="alert" {
                    p { strong { "The file cannot be read with these settings." } }
                    p { (problem) }
                }
            }
            @if !view.notes.is_empty() {
                div.notice.flag.import-notes role="note" {
                    p { strong { "Worth checking:" } }
                    ul {
                        @for note in &view.notes { li { (note) } }
                    }
                }
            }
            (counts(view))
            (settings::card(&action, form, settings_errors, &view.columns, categories, view.remembered, csrf))
            @if view.problem.is_none() {
                (ready(view))
                @if !view.duplicates.is_empty() {
                    section.card aria-labelledby="duplicates-title" {
                        h2 #duplicates-title { "Already recorded, skipped" }
                        p.hint {
                            "These rows match an expense you have (same day, amount, currency and vendor). "
                            "They are skipped unless you ask for them below."
                        }
                        (rows_table("import-duplicates", "Rows already recorded", first(&view.duplicates)))
                        (more(view.duplicates.len()))
                    }
                }
                @if !view.rejected.is_empty() {
                    section.card aria-labelledby="rejected-title" {
                        h2 #rejected-title { "Not imported" }
                        (rejected_table(first(&view.rejected)))
                        (more(view.rejected.len()))
                    }
                }
            }
            (commit_card(view, commit_errors, csrf))
        }
    }
}

/// The most rows of one kind the page lists: a file read with the wrong settings can reject
/// all its 50,000 rows, and the first thousand say as much as all of them (the API lists all).
const LISTED: usize = 1_000;

fn first<T>(rows: &[T]) -> &[T] {
    &rows[..rows.len().min(LISTED)]
}

/// Says how many rows the table above leaves out.
fn more(total: usize) -> Markup {
    html! {
        @if total > LISTED {
            p.hint { "The first " (LISTED) " of " (total) " are listed." }
        }
    }
}

/// The message of a form that was refused as a whole.
fn refusal(errors: &Errors) -> Option<&str> {
    errors
        .get("settings")
        .or(errors.get("commit"))
        .or(errors.get("form"))
}

fn counts(view: &ImportView) -> Markup {
    let c = &view.counts;
    html! {
        ul.import-counts aria-label="What the file holds" {
            li { strong { (c.rows) } " " (if c.rows == 1 { "row" } else { "rows" }) }
            li.ready { strong { (c.ready) } " ready" }
            li { strong { (c.duplicates) } (if c.duplicates == 1 { " duplicate" } else { " duplicates" }) }
            li.rejected[c.rejected > 0] { strong { (c.rejected) } " rejected" }
        }
    }
}

fn ready(view: &ImportView) -> Markup {
    let shown = view.rows.len() as u64;
    html! {
        section.card aria-labelledby="ready-title" {
            h2 #ready-title { "Ready to import" }
            @if view.rows.is_empty() && view.counts.duplicates > 0 {
                p.empty { "Every row that can be imported is recorded already: see below." }
            } @else if view.rows.is_empty() {
                p.empty { "No row can be imported with these settings." }
            } @else {
                @if view.counts.ready > shown {
                    p.hint { "The first " (shown) " of " (view.counts.ready) " are shown; all of them are imported." }
                }
                (rows_table("import-ready", "Rows to import", &view.rows))
            }
        }
    }
}

fn rows_table(id: &str, caption: &str, rows: &[PreviewRowView]) -> Markup {
    html! {
        div.table-wrap {
            table.data #(id) {
                caption.visually-hidden { (caption) }
                thead {
                    tr {
                        th.num scope="col" { "Line" }
                        th scope="col" { "Date" }
                        th scope="col" { "Vendor" }
                        th.num scope="col" { "Amount" }
                        th scope="col" { "Category" }
                        th scope="col" { "Note" }
                    }
                }
                tbody {
                    @for row in rows {
                        tr {
                            td.num { (row.line) }
                            td { time datetime=(row.date) { (row.date.format("%d %b %Y")) } }
                            td.vendor { (row.vendor) }
                            td.num { (amount(row)) }
                            td { (row.category) }
                            td.note { (row.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

/// `₹1,234.50`, with the currency's symbol as the dashboard shows amounts.
fn amount(row: &PreviewRowView) -> String {
    Money::from_decimal_str(&row.amount, row.currency)
        .map(|money| money.format())
        .unwrap_or_else(|_| format!("{} {}", row.amount, row.currency.code()))
}

fn rejected_table(rows: &[RejectedView]) -> Markup {
    html! {
        div.table-wrap {
            table.data #import-rejected {
                caption.visually-hidden { "Rows not imported, with the reason" }
                thead {
                    tr {
                        th.num scope="col" { "Line" }
                        th scope="col" { "Why" }
                    }
                }
                tbody {
                    @for row in rows {
                        tr {
                            td.num { (row.line) }
                            td.reason { (row.reason) }
                        }
                    }
                }
            }
        }
    }
}

/// The commit (with the duplicates when asked) and the way out.
fn commit_card(view: &ImportView, errors: &Errors, csrf: &str) -> Markup {
    let importable = view.counts.ready + view.counts.duplicates > 0 && view.problem.is_none();
    html! {
        section.card.import-commit-card aria-labelledby="commit-title" {
            h2 #commit-title { "Import" }
            @if let Some(message) = refusal(errors) {
                p.alert role="alert" { (message) }
            }
            @if !view.new_categories.is_empty() {
                p {
                    "Importing creates "
                    (if view.new_categories.len() == 1 { "the category " } else { "the categories " })
                    @for (i, name) in view.new_categories.iter().enumerate() {
                        @if i > 0 { ", " }
                        strong { (name) }
                    }
                    "."
                }
            }
            @if importable {
                form.import-commit method="post" action={"/import/" (view.id) "/commit"} {
                    (csrf_field(csrf))
                    @if view.counts.duplicates > 0 {
                        label.check for="import-include-duplicates" {
                            input #import-include-duplicates type="checkbox" name="include_duplicates" value="yes";
                            "Import the " (count(view.counts.duplicates, "row", "rows")) " already recorded too"
                        }
                    }
                    p.hint { "Nothing is recorded until you press the button; then every row is, at once." }
                    div.form-actions {
                        button.primary type="submit" { "Import " (expenses(view.counts.ready)) }
                    }
                }
            } @else {
                p.muted { "Nothing can be imported with these settings: change them above, or cancel." }
            }
            form.import-cancel method="post" action={"/import/" (view.id) "/delete"} {
                (csrf_field(csrf))
                div.form-actions {
                    button.danger type="submit" { "Cancel this import" }
                }
            }
        }
    }
}
