//! The expenses table: filters, column choice, sortable headers, rows (each expense's tags as
//! links to the table filtered by them, a mark on those a recurring expense made, an amount in
//! another currency with its value in the account's) and pages.

use ledgerly_core::Expense;
use maud::{Markup, html};

use super::Data;
use super::view::{Column, PAGE_SIZES, View, pages};
use crate::web::layout::{Input, field, select};

/// What the mark beside an expense a recurring expense made says.
const MADE_BY_RECURRING: &str = "Made by a recurring expense";

/// What an amount in another currency has under it, beside its value in the account's.
const CONVERTED: &str = "In your currency at the rate of its day";

/// What an amount in another currency that no rate converts has under it.
const NO_RATE: &str = "No exchange rate converts it: the totals leave it out";

pub(super) fn table(view: &View, data: &Data) -> Markup {
    let expenses = &data.expenses;
    let pages = pages(expenses.total, view.per_page);
    let categories: Vec<(String, String)> =
        std::iter::once((String::new(), "All categories".to_owned()))
            .chain(
                data.categories
                    .iter()
                    .map(|c| (c.id.to_string(), c.name.as_str().to_owned())),
            )
            .collect();
    let errors = &data.filter_errors;
    let first_row = (u64::from(view.page) - 1) * u64::from(view.per_page) + 1;
    let last_row = first_row + expenses.items.len() as u64 - 1;
    html! {
        section.card.expenses aria-labelledby="expenses-title" {
            div.card-head {
                h2 #expenses-title { "Expenses" }
                div.actions {
                    a.button.small href="/import" { "Import a CSV" }
                    a.button.small href=(view.export_link()) download="expenses.csv" { "Export CSV" }
                }
            }
            form.filters method="get" action="/dashboard" role="search" aria-label="Filter expenses" {
                @if let Some(message) = errors.get("sort") {
                    p.alert role="alert" { (message) }
                }
                input type="hidden" name="year" value=(view.year);
                input type="hidden" name="sort" value=(view.sort);
                (field("filter", "from", "From", &view.from, Input::of("date"), errors))
                (field("filter", "to", "To", &view.to, Input::of("date"), errors))
                (select("filter", "category", "Category", &view.category, &categories, errors))
                (field("filter", "q", "Search", &view.q, Input::of("search"), errors))
                (field("filter", "tags", "Tags", &view.tags, Input::of("text"), errors))
                (select("filter", "tags_match", "Match", &view.tags_match,
                    &[("any".to_owned(), "Any tag".to_owned()), ("all".to_owned(), "All tags".to_owned())], errors))
                (select("filter", "per_page", "Rows", &view.per_page.to_string(),
                    &PAGE_SIZES.map(|n| (n.to_string(), format!("{n} per page"))), errors))
                details.columns {
                    summary { "Columns" }
                    fieldset {
                        legend.visually-hidden { "Columns to show" }
                        @for column in Column::ALL {
                            label.check {
                                input type="checkbox" name="cols" value=(column.key())
                                    checked[view.columns.contains(&column)];
                                (column.label())
                            }
                        }
                    }
                }
                div.filter-actions {
                    button.primary type="submit" { "Apply" }
                    a.button href=(format!("/dashboard?year={}", view.year)) { "Reset" }
                }
            }
            @if expenses.items.is_empty() {
                div.empty {
                    @if expenses.total == 0 && !view.filtered() {
                        p { "No expenses yet. " a href=(view.link(&[("add", "manual".into())])) { "Add your first one" } " or " a href=(view.link(&[("add", "receipt".into())])) { "scan a receipt" } "." }
                    } @else {
                        p { "No expenses match these filters." }
                    }
                }
            } @else {
                div.table-wrap {
                    table.data #expenses-table {
                        caption.visually-hidden { "Expenses, page " (view.page) " of " (pages) }
                        thead {
                            tr {
                                @for column in &view.columns {
                                    (header_cell(view, *column))
                                }
                                th scope="col" { span.visually-hidden { "Actions" } }
                            }
                        }
                        tbody {
                            @for expense in &expenses.items {
                                tr data-expense=(expense.id) {
                                    @for column in &view.columns {
                                        (cell(expense, *column, data, view))
                                    }
                                    td.row-actions {
                                        a href=(view.link(&[("edit", expense.id.to_string())])) aria-label={"Edit " (expense.vendor.as_str())} { "Edit" }
                                        a.danger href=(view.link(&[("delete", expense.id.to_string())])) aria-label={"Delete " (expense.vendor.as_str())} { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                nav.pager aria-label="Pages" {
                    span.count { (first_row) "–" (last_row) " of " (expenses.total) }
                    (pager_link(view, "First", 1, view.page > 1))
                    (pager_link(view, "Previous", view.page.saturating_sub(1).max(1), view.page > 1))
                    span.where aria-current="page" { "Page " (view.page) " of " (pages) }
                    (pager_link(view, "Next", (view.page + 1).min(pages), view.page < pages))
                    (pager_link(view, "Last", pages, view.page < pages))
                }
            }
        }
    }
}

fn pager_link(view: &View, label: &str, page: u32, enabled: bool) -> Markup {
    html! {
        @if enabled {
            a.button.small href=(view.link(&[("page", page.to_string())])) { (label) }
        } @else {
            span.button.small.disabled aria-disabled="true" { (label) }
        }
    }
}

fn header_cell(view: &View, column: Column) -> Markup {
    let Some((key, descending_first)) = column.sort() else {
        return html! { th scope="col" { (column.label()) } };
    };
    let current_desc = view.sort == format!("-{key}");
    let current_asc = view.sort == key;
    let next = match (current_asc, current_desc) {
        (true, _) => format!("-{key}"),
        (_, true) => key.to_owned(),
        _ if descending_first => format!("-{key}"),
        _ => key.to_owned(),
    };
    let aria = if current_asc {
        Some("ascending")
    } else if current_desc {
        Some("descending")
    } else {
        None
    };
    let marker = if current_asc {
        " ▲"
    } else if current_desc {
        " ▼"
    } else {
        ""
    };
    html! {
        th scope="col" aria-sort=[aria] class=[(column == Column::Amount).then_some("num")] {
            a.sort href=(view.link(&[("sort", next), ("page", String::new())])) {
                (column.label()) span aria-hidden="true" { (marker) }
            }
        }
    }
}

fn cell(expense: &Expense, column: Column, data: &Data, view: &View) -> Markup {
    match column {
        Column::Date => {
            html! { td { time datetime=(expense.date) { (expense.date.format("%d %b %Y")) } } }
        }
        Column::Vendor => html! {
            td.vendor {
                (expense.vendor.as_str())
                @if expense.recurring_id.is_some() {
                    a.recurring-badge href="/recurring" title=(MADE_BY_RECURRING) aria-label=(MADE_BY_RECURRING) { "↻" }
                }
                @if !expense.tags.is_empty() {
                    ul.tag-chips aria-label="Tags" {
                        @for tag in &expense.tags {
                            li { a.chip href=(view.tag_link(tag.as_str())) { (tag.as_str()) } }
                        }
                    }
                }
            }
        },
        Column::Category => html! {
            td { span class={"tag " (data.palette.class(expense.category_id))} { (expense.category.as_str()) } }
        },
        Column::Amount => html! {
            td.num {
                (expense.amount.format())
                @match data.converted.get(&expense.id) {
                    Some(Some(home)) => span.converted title=(CONVERTED) { "≈ " (home.format()) },
                    Some(None) => span.converted.no-rate title=(NO_RATE) { "no rate" },
                    None => {},
                }
            }
        },
        Column::Note => {
            html! { td.note { (expense.note.as_ref().map(|n| n.as_str()).unwrap_or("")) } }
        }
        Column::Status => html! {
            td {
                @if expense.needs_review {
                    a.badge.pending href=(view.link(&[("review", expense.id.to_string())])) { "Review" }
                } @else {
                    span.badge.ok { "Confirmed" }
                }
            }
        },
    }
}
