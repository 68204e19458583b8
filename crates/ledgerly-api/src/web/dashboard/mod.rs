//! The dashboard: the month's cards (and the expenses in other currencies no rate converts),
//! budgets by category and tags, what the recurring expenses make in the coming days, the year's
//! chart and the month's donut, the expenses table (filter, sort, columns, pages, CSV; other
//! currencies' amounts converted), and the drawers that add, edit, review and delete.
//!
//! Everything the page shows is in its address (`/dashboard?from=…&sort=…&edit=…`), so every
//! state can be linked, reloaded and reached without JavaScript; a form that fails renders the
//! same page with its drawer open and the errors beside the fields.

mod budgets;
mod drawers;
mod forms;
mod rates;
mod table;
mod tags;
mod upcoming;
mod view;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::TryFutureExt as _;
use ledgerly_core::{Category, CategoryBudgetUse, CategoryId, Expense, Month, TagTotal, User};
use ledgerly_store::{ExpenseQuery, Page};
use maud::{Markup, html};

use crate::error::{ApiError, ApiResult};
use crate::routes::expenses::{ListParams, query};
use crate::routes::recurring::{OccurrenceView, upcoming_for};
use crate::state::AppState;

use super::charts::{self, Palette};
use super::imports;
use super::layout::{self, Section, money_short, notice};
use super::{Errors, WebUser, failure};

use drawers::Failed;
pub(crate) use forms::{add, delete, receipt_link, update, upload_failed};
use view::{Overlay, View, pages};

/// Everything the page shows.
struct Data {
    categories: Vec<Category>,
    palette: Palette,
    summary: ledgerly_core::MonthSummary,
    breakdown: Vec<ledgerly_core::CategoryTotal>,
    monthly: Vec<ledgerly_core::MonthlyCategoryTotal>,
    /// This month's budget of each category that has one, beside what was spent of it.
    category_budgets: Vec<CategoryBudgetUse>,
    /// What this month's expenses with each tag add up to, in the account's currency.
    tag_totals: Vec<TagTotal>,
    /// What the recurring expenses will make in the coming days, skipped dates marked.
    upcoming: Vec<OccurrenceView>,
    expenses: Page<Expense>,
    /// The page's rows in other currencies than the account's, with their value in it.
    converted: rates::Converted,
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
    // Each filter that does not pass is named beside its field and left out; the table shows
    // what the others select. (Only a category filter reads the store here.)
    let mut filter_errors = Errors::none();
    let mut params = view.filter_params(view.page);
    let mut list = loop {
        match query(store, user.id, params.clone()).await {
            Ok(list) => break list,
            Err(ApiError::Invalid {
                field: Some(field),
                message,
            }) if filter_errors.get(field).is_none() && leave_out(&mut params, field) => {
                filter_errors.check::<()>(Err(ApiError::Invalid {
                    field: Some(field),
                    message,
                }));
            }
            Err(err) => return Err(err),
        }
    };
    // The rest is read at once: the statistics (the budget and one read of the rollups), the
    // categories' budgets with what was spent of each, the month's totals by tag, the
    // categories, the page of expenses with its total (one statement), with the add drawer
    // open the latest expense, and what the recurring expenses make in the coming days.
    let (stats, category_budgets, tag_totals, categories, mut expenses, last_category, upcoming) =
        tokio::try_join!(
            store
                .stats_view(user.id, month, view.year, user.currency)
                .map_err(ApiError::from),
            store
                .category_budgets(user.id, month, user.currency)
                .map_err(ApiError::from),
            store
                .tag_totals(user.id, month.first_day(), month.last_day(), user.currency)
                .map_err(ApiError::from),
            store.list_categories(user.id).map_err(ApiError::from),
            store.list_expenses(user.id, &list).map_err(ApiError::from),
            latest.map_err(ApiError::from),
            upcoming_for(state, user, upcoming::DAYS),
        )?;
    let ledgerly_store::StatsView {
        summary,
        breakdown,
        monthly,
    } = stats;
    let pages = pages(expenses.total, view.per_page);
    if view.page > pages {
        view.page = pages;
        list.page = pages;
        expenses = store.list_expenses(user.id, &list).await?;
    }
    // The rates for the page's rows in other currencies, read once and only when it has some.
    let converted = rates::converted(store, user, &expenses.items).await?;
    Ok(Data {
        last_category,
        palette: Palette::of(&categories),
        categories,
        summary,
        breakdown,
        monthly,
        category_budgets,
        tag_totals,
        upcoming,
        expenses,
        converted,
        filter_errors,
    })
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
    let overlay = match drawers::overlay(state, user, &view, &data, failed).await {
        Ok(markup) => markup,
        Err(err) => return failure(err),
    };
    let body = html! {
        @if let Some((created, skipped)) = view.imported {
            (imports::imported_notice(created, skipped))
        } @else {
            (notice(view.done.as_deref()))
        }
        div.page-head {
            h1 { "Dashboard" }
            div.actions {
                a.button.primary href=(view.link(&[("add", "manual".into())])) { "+ Add transaction" }
                a.button href=(view.link(&[("add", "receipt".into())])) { "Scan a receipt" }
            }
        }
        (cards(&data.summary))
        (rates::notice(&data.summary.not_converted))
        (budgets::panel(&data.category_budgets))
        (tags::panel(&data.tag_totals, data.summary.month, &view))
        (upcoming::panel(&data.upcoming))
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
        (table::table(&view, &data))
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

/// Drops the filter `field` names from `params`; false when there is no such filter.
fn leave_out(params: &mut ListParams, field: &str) -> bool {
    match field {
        "from" => params.from = None,
        "to" => params.to = None,
        "category" => params.category = None,
        "q" => params.q = None,
        "tags" => params.tags = None,
        "tags_match" => params.tags_match = None,
        "sort" => params.sort = None,
        _ => return false,
    }
    true
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
