//! The dashboard: the month's cards, the year's chart and the month's donut, the expenses table
//! (filter, sort, columns, pages, CSV), and the drawers that add, edit, review and delete.
//!
//! Everything the page shows is in its address (`/dashboard?from=…&sort=…&edit=…`), so every
//! state can be linked, reloaded and reached without JavaScript; a form that fails renders the
//! same page with its drawer open and the errors beside the fields.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledgerly_core::{Category, CategoryId, Expense, ExpenseId, Month, Receipt, ReceiptId, User};
use ledgerly_store::{ExpenseQuery, Page};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::routes::expenses::{
    CreateRequest, ListParams, UpdateRequest, create_expense, date, note, query, update_expense,
    vendor,
};
use crate::state::AppState;
use crate::views::AmountInput;

use super::charts::{self, Palette};
use super::layout::{self, Input, Section, csrf_field, field, money_short, select};
use super::receipts::{receipt_status, thumbnail, upload_form};
use super::{Errors, SignedForm, WebUser, back_to, failure, see_other};

/// The table's columns; `Actions` is always shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Date,
    Vendor,
    Category,
    Amount,
    Note,
    Status,
}

impl Column {
    const ALL: [Column; 6] = [
        Column::Date,
        Column::Vendor,
        Column::Category,
        Column::Amount,
        Column::Note,
        Column::Status,
    ];
    const DEFAULT: [Column; 5] = [
        Column::Date,
        Column::Vendor,
        Column::Category,
        Column::Amount,
        Column::Status,
    ];

    fn key(self) -> &'static str {
        match self {
            Column::Date => "date",
            Column::Vendor => "vendor",
            Column::Category => "category",
            Column::Amount => "amount",
            Column::Note => "note",
            Column::Status => "status",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Column::Date => "Date",
            Column::Vendor => "Vendor",
            Column::Category => "Category",
            Column::Amount => "Amount",
            Column::Note => "Note",
            Column::Status => "Status",
        }
    }

    /// The sort key this column's header sorts by, and its first direction.
    fn sort(self) -> Option<(&'static str, bool)> {
        match self {
            Column::Date => Some(("date", true)),
            Column::Vendor => Some(("vendor", false)),
            Column::Amount => Some(("amount", true)),
            _ => None,
        }
    }

    fn parse(text: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == text)
    }
}

/// Rows per page the table offers.
const PAGE_SIZES: [u32; 3] = [5, 10, 15];

/// The dashboard's state, from its address.
#[derive(Debug, Clone)]
pub(crate) struct View {
    year: i32,
    from: String,
    to: String,
    category: String,
    q: String,
    sort: String,
    page: u32,
    per_page: u32,
    columns: Vec<Column>,
    overlay: Overlay,
    done: Option<String>,
}

/// What opens over the page.
#[derive(Debug, Clone)]
pub(crate) enum Overlay {
    None,
    /// `add=manual`.
    Add,
    /// `add=receipt`.
    Upload,
    /// `edit=<id>`.
    Edit(String),
    /// `review=<id>`.
    Review(String),
    /// `delete=<id>`.
    Delete(String),
    /// `receipt=<id>`: an uploaded receipt and its OCR status.
    Receipt(String),
}

impl View {
    pub(crate) fn parse(pairs: &[(String, String)], user: &User) -> View {
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let this_year = Month::of(user.time_zone.today()).year();
        let year = get("year")
            .parse::<i32>()
            .ok()
            .filter(|y| (1970..=9999).contains(y))
            .unwrap_or(this_year);
        let per_page = get("per_page")
            .parse::<u32>()
            .ok()
            .filter(|n| PAGE_SIZES.contains(n))
            .unwrap_or(10);
        let page = get("page")
            .parse::<u32>()
            .ok()
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        let mut columns: Vec<Column> = pairs
            .iter()
            .filter(|(k, _)| k == "cols")
            .filter_map(|(_, v)| Column::parse(v))
            .collect();
        columns.dedup();
        if columns.is_empty() {
            columns = Column::DEFAULT.to_vec();
        }
        let overlay = match () {
            _ if !get("edit").is_empty() => Overlay::Edit(get("edit")),
            _ if !get("review").is_empty() => Overlay::Review(get("review")),
            _ if !get("delete").is_empty() => Overlay::Delete(get("delete")),
            _ if !get("receipt").is_empty() => Overlay::Receipt(get("receipt")),
            _ if get("add") == "receipt" => Overlay::Upload,
            _ if get("add") == "manual" => Overlay::Add,
            _ => Overlay::None,
        };
        let done = Some(get("done")).filter(|d| !d.is_empty());
        View {
            year,
            from: get("from"),
            to: get("to"),
            category: get("category"),
            q: get("q"),
            sort: Some(get("sort"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "-date".into()),
            page,
            per_page,
            columns,
            overlay,
            done,
        }
    }

    /// The table's state as query pairs (no drawer, no notice).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |key: &'static str, value: &str| {
            if !value.is_empty() {
                pairs.push((key, value.to_owned()));
            }
        };
        push("year", &self.year.to_string());
        push("from", &self.from);
        push("to", &self.to);
        push("category", &self.category);
        push("q", &self.q);
        if self.sort != "-date" {
            push("sort", &self.sort);
        }
        if self.page != 1 {
            push("page", &self.page.to_string());
        }
        if self.per_page != 10 {
            push("per_page", &self.per_page.to_string());
        }
        if self.columns != Column::DEFAULT {
            for column in &self.columns {
                pairs.push(("cols", column.key().to_owned()));
            }
        }
        pairs
    }

    /// `/dashboard?…` with the table's state, changed by `changes` (an empty value removes).
    fn link(&self, changes: &[(&'static str, String)]) -> String {
        let mut pairs = self.pairs();
        for (key, value) in changes {
            pairs.retain(|(k, _)| k != key);
            if !value.is_empty() {
                pairs.push((key, value.clone()));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/dashboard".to_owned()
        } else {
            format!("/dashboard?{query}")
        }
    }

    /// Where a drawer's form goes back to: this page with its table as it was.
    fn back(&self) -> String {
        self.link(&[])
    }

    fn filter_params(&self, page: u32) -> ListParams {
        let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        ListParams {
            from: text(&self.from),
            to: text(&self.to),
            category: text(&self.category),
            q: text(&self.q),
            needs_review: None,
            sort: Some(self.sort.clone()),
            page: Some(page),
            per_page: Some(self.per_page),
        }
    }

    /// The address of the CSV export of the filtered table (every page).
    fn export_link(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (key, value) in [
            ("from", &self.from),
            ("to", &self.to),
            ("category", &self.category),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                pairs.push((key, value));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/api/v1/expenses/export.csv?{query}")
    }
}

/// The values an expense form shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExpenseForm {
    date: String,
    vendor: String,
    amount: String,
    currency: String,
    category: String,
    note: String,
    /// Where to go back to.
    back: String,
    /// `1` when the review's Confirm button sent the form.
    confirm: String,
}

impl ExpenseForm {
    fn of(expense: &Expense) -> Self {
        ExpenseForm {
            date: expense.date.to_string(),
            vendor: expense.vendor.as_str().to_owned(),
            amount: expense.amount.to_decimal_string(),
            currency: expense.amount.currency().code().to_owned(),
            category: expense.category_id.to_string(),
            note: expense
                .note
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            back: String::new(),
            confirm: String::new(),
        }
    }

    /// A new expense: today, the account's currency, and the category of the last expense
    /// recorded (else the first).
    fn blank(user: &User, categories: &[Category], last: Option<CategoryId>) -> Self {
        let category = last
            .filter(|id| categories.iter().any(|c| c.id == *id))
            .or_else(|| categories.first().map(|c| c.id));
        ExpenseForm {
            date: user.time_zone.today().to_string(),
            currency: user.currency.code().to_owned(),
            category: category.map(|c| c.to_string()).unwrap_or_default(),
            ..ExpenseForm::default()
        }
    }
}

/// A drawer's form as sent back after a failure.
#[derive(Debug, Clone)]
pub(crate) struct Failed {
    values: ExpenseForm,
    errors: Errors,
}

/// Everything the page shows.
struct Data {
    categories: Vec<Category>,
    palette: Palette,
    summary: ledgerly_core::MonthSummary,
    breakdown: Vec<ledgerly_core::CategoryTotal>,
    monthly: Vec<ledgerly_core::MonthlyCategoryTotal>,
    expenses: Page<Expense>,
    filter_errors: Errors,
    /// The category of the expense recorded last: a new one's default.
    last_category: Option<CategoryId>,
}

async fn load(state: &AppState, user: &User, view: &mut View) -> ApiResult<Data> {
    let store = &state.store;
    let month = Month::of(user.time_zone.today());
    // The new expense's default category: only when the add drawer is open.
    let latest = async {
        if !matches!(view.overlay, Overlay::Add) {
            return Ok(None);
        }
        let latest = ExpenseQuery {
            sort: ledgerly_store::ExpenseSort {
                field: ledgerly_store::SortField::Created,
                direction: ledgerly_store::SortDirection::Descending,
            },
            per_page: 1,
            ..ExpenseQuery::default()
        };
        Ok::<_, ledgerly_store::StoreError>(
            store
                .list_expenses(user.id, &latest)
                .await?
                .items
                .first()
                .map(|e| e.category_id),
        )
    };
    let ((summary, breakdown), categories, monthly, last_category) = tokio::try_join!(
        store.month_overview(user.id, month, user.currency),
        store.list_categories(user.id),
        store.monthly_totals(user.id, view.year, user.currency),
        latest,
    )?;
    let mut filter_errors = Errors::none();
    let mut list = match query(store, user.id, view.filter_params(view.page)).await {
        Ok(list) => list,
        Err(err) => {
            filter_errors = Errors::from_api(err, "q")?;
            ExpenseQuery {
                per_page: view.per_page,
                ..ExpenseQuery::default()
            }
        }
    };
    let mut expenses = store.list_expenses(user.id, &list).await?;
    let pages = pages(expenses.total, view.per_page);
    if view.page > pages {
        view.page = pages;
        list.page = pages;
        expenses = store.list_expenses(user.id, &list).await?;
    }
    Ok(Data {
        last_category,
        palette: Palette::of(&categories),
        categories,
        summary,
        breakdown,
        monthly,
        expenses,
        filter_errors,
    })
}

fn pages(total: u64, per_page: u32) -> u32 {
    u32::try_from(total.div_ceil(u64::from(per_page.max(1))))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// `GET /dashboard`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let view = View::parse(&pairs, user.user());
    render(&state, &user, view, None, StatusCode::OK).await
}

/// The page for `view`; `failed` is a drawer's form sent back with its errors.
pub(crate) async fn render(
    state: &AppState,
    user: &WebUser,
    mut view: View,
    failed: Option<Failed>,
    status: StatusCode,
) -> Response {
    let data = match load(state, user.user(), &mut view).await {
        Ok(data) => data,
        Err(err) => return failure(err),
    };
    let overlay = match overlay(state, user, &view, &data, failed).await {
        Ok(markup) => markup,
        Err(err) => return failure(err),
    };
    let body = html! {
        (notice(view.done.as_deref()))
        div.page-head {
            h1 { "Dashboard" }
            div.actions {
                a.button.primary href=(view.link(&[("add", "manual".into())])) { "+ Add transaction" }
                a.button href=(view.link(&[("add", "receipt".into())])) { "Scan a receipt" }
            }
        }
        (cards(&data.summary))
        section.charts aria-label="Charts" {
            article.card.chart-card {
                div.card-head {
                    h2 { "Monthly expenditure" }
                    nav.year aria-label="Year" {
                        a href=(view.link(&[("year", (view.year - 1).to_string()), ("page", String::new())]))
                            aria-label={"Show " (view.year - 1)} { "‹" }
                        span { (view.year) }
                        a href=(view.link(&[("year", (view.year + 1).to_string()), ("page", String::new())]))
                            aria-label={"Show " (view.year + 1)} { "›" }
                    }
                }
                (charts::stacked_bars(view.year, &data.monthly, &data.palette, user.user().currency))
            }
            article.card.chart-card {
                div.card-head { h2 { "This month by category" } }
                (charts::donut(data.summary.month.first_day(), &data.breakdown, &data.palette, user.user().currency))
            }
        }
        (table(&view, &data))
        (overlay)
    };
    let page = layout::page(
        "Dashboard",
        Some((user.user(), &user.csrf)),
        Section::Dashboard,
        body,
    );
    (status, page).into_response()
}

/// The short message after a form worked.
pub(crate) fn notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("added") => "Expense added.",
        Some("updated") => "Expense saved.",
        Some("confirmed") => "Receipt confirmed: the expense is in your books.",
        Some("deleted") => "Expense deleted.",
        Some("receipt-deleted") => "Receipt deleted.",
        Some("retried") => "The receipt is being read again.",
        Some("profile") => "Profile saved.",
        Some("email") => "Email changed.",
        Some("password") => "Password changed; your other sessions are signed out.",
        Some("category") => "Categories saved.",
        Some("category-deleted") => "Category deleted.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

fn cards(summary: &ledgerly_core::MonthSummary) -> Markup {
    let month = summary.month.first_day().format("%B %Y").to_string();
    let change = &summary.change;
    let change_text = match &change.percent {
        Some(p) if p.basis_points() > 0 => format!("▲ {p} vs last month"),
        Some(p) if p.basis_points() < 0 => {
            format!("▼ {} vs last month", p.to_string().trim_start_matches('-'))
        }
        Some(_) => "Same as last month".to_owned(),
        None => "Nothing spent last month".to_owned(),
    };
    html! {
        section.cards aria-label={"Summary for " (month)} {
            article.card.stat {
                h2 { "Monthly budget" }
                @match summary.budget {
                    Some(budget) => p.value { (money_short(budget)) },
                    None => p.value.muted { "Not set" },
                }
                p.sub {
                    (month)
                    @if summary.budget.is_none() { " · " a href="/profile#budget" { "Set a budget" } }
                }
            }
            article.card.stat {
                h2 { "Total expenses" }
                p.value { (money_short(summary.spent)) }
                p.sub {
                    @match &summary.top_category {
                        Some(top) => { "Top: " (top.category.as_str()) " · " (money_short(top.amount)) },
                        None => "Nothing spent yet",
                    }
                }
            }
            article.card.stat {
                h2 { "Savings" }
                @match summary.remaining {
                    Some(remaining) => p.value.negative[remaining.is_negative()] { (money_short(remaining)) },
                    None => p.value.muted { "—" },
                }
                p.sub {
                    @match (&summary.savings_percent, summary.remaining) {
                        (Some(p), Some(r)) if r.is_negative() => { "Over budget · " (p) " of budget" },
                        (Some(p), _) => { (p) " of budget left" },
                        _ => "Set a budget to see your savings",
                    }
                }
            }
            article.card.stat {
                h2 { "Transactions" }
                p.value { (summary.count) }
                p.sub {
                    @if let Some(average) = summary.average { "Average " (money_short(average)) " · " }
                    @let compared = change.percent.is_some();
                    span.change.up[compared && change.amount.is_positive()].down[compared && change.amount.is_negative()] { (change_text) }
                }
            }
        }
    }
}

fn table(view: &View, data: &Data) -> Markup {
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
                a.button.small href=(view.export_link()) download="expenses.csv" { "Export CSV" }
            }
            form.filters method="get" action="/dashboard" role="search" aria-label="Filter expenses" {
                input type="hidden" name="year" value=(view.year);
                input type="hidden" name="sort" value=(view.sort);
                (field("filter", "from", "From", &view.from, Input::of("date"), errors))
                (field("filter", "to", "To", &view.to, Input::of("date"), errors))
                (select("filter", "category", "Category", &view.category, &categories, errors))
                (field("filter", "q", "Vendor", &view.q, Input::of("search"), errors))
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
                    @if expenses.total == 0 && view.from.is_empty() && view.to.is_empty() && view.category.is_empty() && view.q.is_empty() {
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
        Column::Vendor => html! { td.vendor { (expense.vendor.as_str()) } },
        Column::Category => html! {
            td { span class={"tag " (data.palette.class(expense.category_id))} { (expense.category.as_str()) } }
        },
        Column::Amount => html! { td.num { (expense.amount.format()) } },
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

async fn overlay(
    state: &AppState,
    user: &WebUser,
    view: &View,
    data: &Data,
    failed: Option<Failed>,
) -> ApiResult<Markup> {
    let close = view.back();
    let back = close.clone();
    let u = user.user();
    Ok(match &view.overlay {
        Overlay::None => html! {},
        Overlay::Add | Overlay::Upload => {
            let manual = matches!(view.overlay, Overlay::Add);
            let (values, errors) = match failed {
                Some(f) if manual => (f.values, f.errors),
                Some(f) => (
                    ExpenseForm::blank(u, &data.categories, data.last_category),
                    f.errors,
                ),
                None => (
                    ExpenseForm::blank(u, &data.categories, data.last_category),
                    Errors::none(),
                ),
            };
            drawer(
                "Add a transaction",
                &close,
                html! {
                    nav.tabs aria-label="How to add" {
                        a href=(view.link(&[("add", "manual".into())])) aria-current=[manual.then_some("page")] { "Enter it" }
                        a href=(view.link(&[("add", "receipt".into())])) aria-current=[(!manual).then_some("page")] { "Scan a receipt" }
                    }
                    @if manual {
                        form method="post" action="/expenses" novalidate {
                            (csrf_field(&user.csrf))
                            input type="hidden" name="back" value=(back);
                            (expense_fields("add", &values, &errors, &data.categories))
                            div.form-actions {
                                button.primary type="submit" { "Add expense" }
                                a.button href=(close) { "Cancel" }
                            }
                        }
                    } @else {
                        (upload_form(&user.csrf, &back, &data.categories, &errors))
                    }
                },
            )
        }
        Overlay::Edit(id) | Overlay::Review(id) => {
            let review = matches!(view.overlay, Overlay::Review(_));
            let expense = expense_named(state, u, id).await?;
            let receipt = match expense.receipt_id {
                Some(receipt) => state.store.get_receipt(u.id, receipt).await.ok(),
                None => None,
            };
            let (values, errors) = match failed {
                Some(f) => (f.values, f.errors),
                None => (ExpenseForm::of(&expense), Errors::none()),
            };
            let title = if review {
                "Review the receipt"
            } else {
                "Edit the expense"
            };
            drawer(
                title,
                &close,
                html! {
                    @if review {
                        p.muted { "OCR read this receipt. Check each field, correct what it got wrong, then confirm." }
                    }
                    @if let Some(receipt) = &receipt {
                        div.review-image { (thumbnail(receipt, "large")) }
                    }
                    form method="post" action={"/expenses/" (expense.id)} novalidate {
                        (csrf_field(&user.csrf))
                        input type="hidden" name="back" value=(back);
                        (expense_fields("edit", &values, &errors, &data.categories))
                        div.form-actions {
                            @if review || expense.needs_review {
                                button.primary type="submit" name="confirm" value="1" { "Confirm" }
                                button type="submit" { "Save for later" }
                            } @else {
                                button.primary type="submit" { "Save" }
                            }
                            a.button href=(close) { "Cancel" }
                        }
                    }
                },
            )
        }
        Overlay::Delete(id) => {
            let expense = expense_named(state, u, id).await?;
            dialog(
                "Delete this expense?",
                &close,
                html! {
                    p {
                        strong { (expense.vendor.as_str()) } ", " (expense.amount.format()) " on "
                        (expense.date.format("%d %b %Y")) ". This cannot be undone."
                    }
                    form method="post" action={"/expenses/" (expense.id) "/delete"} {
                        (csrf_field(&user.csrf))
                        input type="hidden" name="back" value=(back);
                        div.form-actions {
                            button.danger type="submit" { "Delete" }
                            a.button href=(close) autofocus { "Cancel" }
                        }
                    }
                },
            )
        }
        Overlay::Receipt(id) => {
            let receipt = receipt_named(state, u, id).await?;
            drawer(
                "Scanning your receipt",
                &close,
                receipt_status(&receipt, &user.csrf),
            )
        }
    })
}

async fn expense_named(state: &AppState, user: &User, id: &str) -> ApiResult<Expense> {
    let id: ExpenseId = id.parse().map_err(|_| ApiError::NotFound("expense"))?;
    Ok(state.store.get_expense(user.id, id).await?)
}

async fn receipt_named(state: &AppState, user: &User, id: &str) -> ApiResult<Receipt> {
    let id: ReceiptId = id.parse().map_err(|_| ApiError::NotFound("receipt"))?;
    Ok(state.store.get_receipt(user.id, id).await?)
}

/// A panel over the page, closed by its link (and by Escape, with JavaScript).
pub(crate) fn drawer(title: &str, close: &str, body: Markup) -> Markup {
    html! {
        div.overlay {
            a.scrim href=(close) tabindex="-1" aria-hidden="true" {}
            aside.drawer role="dialog" aria-modal="true" aria-labelledby="drawer-title" data-close=(close) {
                div.drawer-head {
                    h2 #drawer-title { (title) }
                    a.close href=(close) aria-label="Close" { "×" }
                }
                (body)
            }
        }
    }
}

/// A small centred question over the page.
pub(crate) fn dialog(title: &str, close: &str, body: Markup) -> Markup {
    html! {
        div.overlay {
            a.scrim href=(close) tabindex="-1" aria-hidden="true" {}
            section.dialog role="alertdialog" aria-modal="true" aria-labelledby="dialog-title" data-close=(close) {
                h2 #dialog-title { (title) }
                (body)
            }
        }
    }
}

fn expense_fields(
    prefix: &str,
    values: &ExpenseForm,
    errors: &Errors,
    categories: &[Category],
) -> Markup {
    let options: Vec<(String, String)> = categories
        .iter()
        .map(|c| (c.id.to_string(), c.name.as_str().to_owned()))
        .collect();
    html! {
        (layout::form_error(errors))
        (field(prefix, "vendor", "Vendor", &values.vendor, Input::of("text").required().autofocus(), errors))
        div.row {
            (field(prefix, "amount", "Amount", &values.amount, Input::of("text").required().inputmode("decimal"), errors))
            (field(prefix, "currency", "Currency", &values.currency, Input::of("text").list("currencies"), errors))
        }
        div.row {
            (field(prefix, "date", "Date", &values.date, Input::of("date").required(), errors))
            (select(prefix, "category", "Category", &values.category, &options, errors))
        }
        p.hint.right { a href="/profile#categories" { "Manage categories" } }
        (field(prefix, "note", "Note", &values.note, Input::of("text").hint("Optional."), errors))
        (layout::currency_list("currencies"))
    }
}

/// The page a drawer's form came from, as its view.
fn view_of(back: &str, user: &User) -> View {
    let query = back.split_once('?').map_or("", |(_, q)| q);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    View::parse(&pairs, user)
}

fn with_done(back: &str, done: &str) -> String {
    let back = back_to(back, "/dashboard");
    let separator = if back.contains('?') { '&' } else { '?' };
    format!("{back}{separator}done={done}")
}

fn amount_input(text: &str) -> AmountInput {
    AmountInput::Text(text.trim().to_owned())
}

/// `POST /expenses`: adds an expense from the drawer.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let mut view = view_of(&form.back, user.user());
    view.overlay = Overlay::Add;
    let errors = check_fields(&form, user.user());
    if !errors.is_empty() {
        return sent_back(
            &state,
            &user,
            view,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = CreateRequest {
        date: form.date.clone(),
        category: form.category.clone(),
        vendor: form.vendor.clone(),
        amount: amount_input(&form.amount),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(form.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match create_expense(&state, user.user(), request).await {
        Ok(_) => see_other(&with_done(&form.back, "added")),
        Err(err) => refused(&state, &user, view, form, err).await,
    }
}

/// Every field's problem at once (the store's own checks run after, on what passes these).
fn check_fields(form: &ExpenseForm, user: &User) -> Errors {
    let mut errors = Errors::none();
    let blank = |text: &str| text.trim().is_empty();
    errors.check(if blank(&form.vendor) {
        Err(ApiError::invalid("vendor", "enter who you paid"))
    } else {
        vendor(&form.vendor).map(drop)
    });
    let currency = if blank(&form.currency) {
        Some(user.currency)
    } else {
        errors.check(crate::views::currency("currency", &form.currency))
    };
    errors.check(if blank(&form.amount) {
        Err(ApiError::invalid("amount", "enter the amount"))
    } else {
        amount_input(&form.amount)
            .to_money("amount", currency.unwrap_or(user.currency))
            .and_then(|money| {
                if money.is_positive() {
                    Ok(())
                } else {
                    Err(ApiError::invalid("amount", "must be more than zero"))
                }
            })
    });
    errors.check(if blank(&form.date) {
        Err(ApiError::invalid("date", "enter the date"))
    } else {
        date("date", &form.date).map(drop)
    });
    if !blank(&form.note) {
        errors.check(note(&form.note).map(drop));
    }
    errors
}

/// The page again with the drawer's form, its values and the errors beside their fields.
async fn sent_back(
    state: &AppState,
    user: &WebUser,
    view: View,
    values: ExpenseForm,
    errors: Errors,
    status: StatusCode,
) -> Response {
    render(state, user, view, Some(Failed { values, errors }), status).await
}

/// [`sent_back`] with what the store refused.
async fn refused(
    state: &AppState,
    user: &WebUser,
    view: View,
    values: ExpenseForm,
    err: ApiError,
) -> Response {
    let status = err.status_and_code().0;
    match Errors::from_api(err, "form") {
        Ok(errors) => sent_back(state, user, view, values, errors, status).await,
        Err(err) => failure(err),
    }
}

/// `POST /expenses/{id}`: saves the drawer's changes; with `confirm=1`, also confirms a receipt's
/// expense.
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<ExpenseForm>,
) -> Response {
    let Ok(id) = id.parse::<ExpenseId>() else {
        return failure(ApiError::NotFound("expense"));
    };
    let confirm = form.confirm == "1";
    let mut view = view_of(&form.back, user.user());
    view.overlay = if confirm {
        Overlay::Review(id.to_string())
    } else {
        Overlay::Edit(id.to_string())
    };
    // Another user's expense is not there at all, whatever the form says.
    if let Err(err) = state.store.get_expense(user.user().id, id).await {
        return failure(err.into());
    }
    let errors = check_fields(&form, user.user());
    if !errors.is_empty() {
        return sent_back(
            &state,
            &user,
            view,
            form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = UpdateRequest {
        date: Some(form.date.clone()),
        category: Some(form.category.clone()),
        vendor: Some(form.vendor.clone()),
        amount: Some(amount_input(&form.amount)),
        currency: Some(form.currency.trim().to_owned()).filter(|c| !c.is_empty()),
        note: Some(Some(form.note.trim().to_owned()).filter(|n| !n.is_empty())),
        needs_review: confirm.then_some(false),
    };
    match update_expense(&state, user.user(), id, request).await {
        Ok(_) => see_other(&with_done(
            &form.back,
            if confirm { "confirmed" } else { "updated" },
        )),
        Err(err) => refused(&state, &user, view, form, err).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct BackForm {
    back: String,
}

/// `POST /expenses/{id}/delete`: after the confirmation dialog.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<BackForm>,
) -> Response {
    let Ok(id) = id.parse::<ExpenseId>() else {
        return failure(ApiError::NotFound("expense"));
    };
    match state.store.delete_expense(user.user().id, id).await {
        Ok(()) => see_other(&with_done(&form.back, "deleted")),
        Err(err) => failure(err.into()),
    }
}

/// The dashboard's address for a receipt being read.
pub(crate) fn receipt_link(id: ReceiptId) -> String {
    format!("/dashboard?receipt={id}")
}

/// The page with the upload drawer and its error (a file of the wrong kind, too large…).
pub(crate) async fn upload_failed(
    state: &AppState,
    user: &WebUser,
    back: &str,
    err: ApiError,
) -> Response {
    let mut view = view_of(back, user.user());
    view.overlay = Overlay::Upload;
    let status = err.status_and_code().0;
    match Errors::from_api(err, "file") {
        Ok(errors) => {
            render(
                state,
                user,
                view,
                Some(Failed {
                    values: ExpenseForm::default(),
                    errors,
                }),
                status,
            )
            .await
        }
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: ledgerly_core::UserId::new(),
            email: ledgerly_core::Email::parse("a@example.com").unwrap_or_else(|_| unreachable!()),
            name: ledgerly_core::PersonName::parse("A").unwrap_or_else(|_| unreachable!()),
            currency: ledgerly_core::Currency::INR,
            time_zone: ledgerly_core::UserTimeZone::UTC,
            created_at: chrono::Utc::now(),
        }
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    #[test]
    fn links_keep_the_table_and_drop_the_drawer() {
        let view = View::parse(
            &pairs("year=2025&q=tea&sort=amount&page=3&per_page=5&edit=x&cols=date&cols=amount"),
            &user(),
        );
        assert!(matches!(view.overlay, Overlay::Edit(_)));
        let back = view.back();
        assert!(
            back.starts_with("/dashboard?year=2025&q=tea&sort=amount&page=3&per_page=5"),
            "{back}"
        );
        assert!(
            back.contains("cols=date&cols=amount") && !back.contains("edit"),
            "{back}"
        );
        let next = view.link(&[("page", "4".into())]);
        assert!(
            next.contains("page=4") && !next.contains("page=3"),
            "{next}"
        );
    }

    #[test]
    fn odd_addresses_fall_back_to_defaults() {
        let view = View::parse(&pairs("per_page=1000&page=0&year=abc&cols=nope"), &user());
        assert_eq!(view.per_page, 10);
        assert_eq!(view.page, 1);
        assert_eq!(view.columns, Column::DEFAULT.to_vec());
        assert_eq!(pages(0, 10), 1);
        assert_eq!(pages(11, 5), 3);
    }

    #[test]
    fn notices_after_forms_go_back_where_they_came_from() {
        assert_eq!(
            with_done("/dashboard?page=2", "added"),
            "/dashboard?page=2&done=added"
        );
        assert_eq!(
            with_done("https://evil.example", "added"),
            "/dashboard?done=added"
        );
    }
}
