//! The dashboard's charts, drawn on the server as SVG: a year's spending by month stacked by
//! category, and a month's categories as a donut. Each chart has a title and a description for
//! screen readers, a `<title>` on every bar and slice, a legend in HTML, and the numbers behind
//! it in a table.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use ledgerly_core::{Category, CategoryId, CategoryTotal, Currency, Money, MonthlyCategoryTotal};
use maud::{Markup, html};

use super::layout::money_short;

/// How many colours the palette has; categories past it reuse them in order.
pub(crate) const COLOURS: usize = 10;

/// Each category's colour (an index into the palette), stable for a user: by name order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Palette(HashMap<CategoryId, usize>);

impl Palette {
    pub(crate) fn of(categories: &[Category]) -> Self {
        let mut sorted: Vec<&Category> = categories.iter().collect();
        sorted.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Self(
            sorted
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id, i % COLOURS))
                .collect(),
        )
    }

    /// The CSS class of a category's colour.
    pub(crate) fn class(&self, id: CategoryId) -> String {
        format!("c{}", self.0.get(&id).copied().unwrap_or(COLOURS - 1))
    }

    fn order(&self, id: CategoryId) -> usize {
        self.0.get(&id).copied().unwrap_or(usize::MAX)
    }
}

/// A round step for an axis that must reach `max` (in major units) in about four steps.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let fraction = rough / magnitude;
    let nice = match fraction {
        f if f <= 1.0 => 1.0,
        f if f <= 2.0 => 2.0,
        f if f <= 2.5 => 2.5,
        f if f <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * magnitude
}

fn major(minor: i64, currency: Currency) -> f64 {
    minor as f64 / 10f64.powi(currency.exponent() as i32)
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(month.clamp(1, 12) - 1) as usize]
}

/// One category's part of a month's bar: the total, its top and its height.
type Segment<'a> = (&'a MonthlyCategoryTotal, f64, f64);

/// A year's spending per month, each month's bar stacked by category.
pub(crate) fn stacked_bars(
    year: i32,
    totals: &[MonthlyCategoryTotal],
    palette: &Palette,
    currency: Currency,
) -> Markup {
    // month → (colour order, category) → amount
    let mut months: BTreeMap<u32, Vec<&MonthlyCategoryTotal>> = BTreeMap::new();
    for total in totals {
        months.entry(total.month.number()).or_default().push(total);
    }
    for segments in months.values_mut() {
        segments.sort_by_key(|t| (palette.order(t.category_id), t.category.as_str().to_owned()));
    }
    // Each month's total, January first.
    let sums: [i64; 12] = std::array::from_fn(|i| {
        months
            .get(&(i as u32 + 1))
            .map_or(0, |s| s.iter().map(|t| t.amount.minor()).sum())
    });
    let month_sum = |m: u32| sums[(m - 1) as usize];
    let year_sum: i64 = sums.iter().sum();
    let busiest = (1..=12).max_by_key(|m| (month_sum(*m), -(*m as i64)));
    let max = major(sums.iter().copied().max().unwrap_or(0), currency);
    let step = nice_step(max);
    let top = (max / step).ceil().max(1.0) * step;

    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 300.0;
    const LEFT: f64 = 72.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 36.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / 12.0;
    let bar_w = slot * 0.62;
    let y_of = |value: f64| TOP + plot_h - value / top * plot_h;

    let description = match busiest {
        Some(m) if year_sum > 0 => format!(
            "Spent {} in {year}; the most in {} ({}).",
            Money::from_minor(year_sum, currency).format(),
            month_name(m),
            Money::from_minor(month_sum(m), currency).format()
        ),
        _ => format!("Nothing was spent in {year}."),
    };
    let ticks: Vec<f64> = (0..=((top / step).round() as i64))
        .map(|i| i as f64 * step)
        .collect();
    let tick_label = |value: f64| {
        let minor = (value * 10f64.powi(currency.exponent() as i32)).round() as i64;
        money_short(Money::from_minor(minor, currency))
    };
    // Each month's bar: its x, and each segment with its top and height, stacked from zero.
    let bars: Vec<(u32, f64, Vec<Segment<'_>>)> = (1..=12u32)
        .map(|m| {
            let x = LEFT + slot * f64::from(m - 1) + (slot - bar_w) / 2.0;
            let mut base = 0.0f64;
            let stack = months
                .get(&m)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|segment| {
                    let value = major(segment.amount.minor(), currency);
                    let y = y_of(base + value);
                    let h = (y_of(base) - y).max(0.0);
                    base += value;
                    (*segment, y, h)
                })
                .collect();
            (m, x, stack)
        })
        .collect();
    html! {
        figure.chart {
            div.chart-scroll {
            svg.bars viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img"
                aria-labelledby="bars-title bars-desc" preserveAspectRatio="xMidYMid meet" {
                title #bars-title { "Monthly expenditure by category, " (year) }
                desc #bars-desc { (description) }
                @for tick in &ticks {
                    @let y = fmt(y_of(*tick));
                    line.grid x1=(fmt(LEFT)) x2=(fmt(WIDTH - RIGHT)) y1=(y) y2=(y) {}
                    text.axis x=(fmt(LEFT - 8.0)) y=(y) text-anchor="end" dominant-baseline="middle" {
                        (tick_label(*tick))
                    }
                }
                @for (m, x, stack) in &bars {
                    @let m = *m;
                    @let x = *x;
                    g {
                        title { (month_name(m)) " " (year) ": " (Money::from_minor(month_sum(m), currency).format()) }
                        @for (segment, y, h) in stack {
                            rect class={"bar " (palette.class(segment.category_id))}
                                x=(fmt(x)) y=(fmt(*y)) width=(fmt(bar_w)) height=(fmt(*h)) {
                                title {
                                    (segment.category.as_str()) ", " (month_name(m)) " " (year) ": "
                                    (segment.amount.format())
                                }
                            }
                        }
                    }
                    text.axis x=(fmt(x + bar_w / 2.0)) y=(fmt(HEIGHT - BOTTOM + 20.0)) text-anchor="middle" {
                        (&month_name(m)[..3])
                    }
                }
            }
            }
            (legend_of(totals.iter().map(|t| (t.category_id, t.category.as_str())), palette))
            details.numbers {
                summary { "Show the numbers" }
                table {
                    thead { tr { th scope="col" { "Month" } th.num scope="col" { "Spent" } } }
                    tbody {
                        @for m in 1..=12u32 {
                            tr { th scope="row" { (month_name(m)) } td.num { (Money::from_minor(month_sum(m), currency).format()) } }
                        }
                    }
                }
            }
        }
    }
}

/// The categories present, each once, in palette order.
fn legend_of<'a>(
    categories: impl Iterator<Item = (CategoryId, &'a str)>,
    palette: &Palette,
) -> Markup {
    let mut seen: Vec<(CategoryId, &str)> = Vec::new();
    for (id, name) in categories {
        if !seen.iter().any(|(s, _)| *s == id) {
            seen.push((id, name));
        }
    }
    seen.sort_by_key(|(id, name)| (palette.order(*id), (*name).to_owned()));
    html! {
        @if !seen.is_empty() {
            ul.legend aria-label="Categories" {
                @for (id, name) in &seen {
                    li { span class={"swatch " (palette.class(*id))} aria-hidden="true" {} (name) }
                }
            }
        }
    }
}

/// A month's spending by category as a donut, with the amounts beside it.
pub(crate) fn donut(
    month: NaiveDate,
    breakdown: &[CategoryTotal],
    palette: &Palette,
    currency: Currency,
) -> Markup {
    let label = month.format("%B %Y").to_string();
    let total: i64 = breakdown.iter().map(|t| t.amount.minor()).sum();
    const R: f64 = 70.0;
    let circumference = 2.0 * std::f64::consts::PI * R;
    let mut offset = 0.0f64;
    let mut slices = String::new();
    let mut rows = Vec::new();
    for t in breakdown {
        let share = if total > 0 {
            t.amount.minor() as f64 / total as f64
        } else {
            0.0
        };
        let length = share * circumference;
        let percent = format!("{:.1}%", share * 100.0);
        let _ = write!(
            slices,
            "<circle class=\"seg {class}\" cx=\"100\" cy=\"100\" r=\"{R}\" fill=\"none\" stroke-width=\"30\" \
             stroke-dasharray=\"{len} {rest}\" stroke-dashoffset=\"{off}\" transform=\"rotate(-90 100 100)\">\
             <title>{name}: {amount} ({percent})</title></circle>",
            class = palette.class(t.category_id),
            len = fmt(length),
            rest = fmt(circumference - length),
            off = fmt(-offset),
            name = maud::html! { (t.category.as_str()) }.into_string(),
            amount = maud::html! { (t.amount.format()) }.into_string(),
        );
        offset += length;
        rows.push((t, percent));
    }
    let description = match breakdown.first() {
        Some(top) => format!(
            "Spent {} in {label}; the most on {} ({}).",
            Money::from_minor(total, currency).format(),
            top.category.as_str(),
            top.amount.format()
        ),
        None => format!("Nothing was spent in {label} yet."),
    };
    html! {
        figure.chart.donut-chart {
            svg.donut viewBox="0 0 200 200" role="img" aria-labelledby="donut-title donut-desc" {
                title #donut-title { "Spending by category, " (label) }
                desc #donut-desc { (description) }
                circle.track cx="100" cy="100" r=(R) fill="none" stroke-width="30" {}
                (maud::PreEscaped(slices))
                text.donut-total x="100" y="96" text-anchor="middle" { (money_short(Money::from_minor(total, currency))) }
                text.donut-label x="100" y="118" text-anchor="middle" { "spent" }
            }
            @if rows.is_empty() {
                p.muted { "Nothing spent in " (label) " yet." }
            } @else {
                table.breakdown {
                    caption.visually-hidden { "Spending by category, " (label) }
                    thead { tr { th scope="col" { "Category" } th.num scope="col" { "Spent" } th.num scope="col" { "Share" } } }
                    tbody {
                        @for (t, percent) in &rows {
                            tr {
                                th scope="row" {
                                    span class={"swatch " (palette.class(t.category_id))} aria-hidden="true" {}
                                    (t.category.as_str())
                                }
                                td.num { (t.amount.format()) }
                                td.num { (percent) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A coordinate with at most two decimals.
fn fmt(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(1000.0), 250.0);
        assert_eq!(nice_step(37.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(120_000.0), 50_000.0);
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(fmt(12.0), "12");
        assert_eq!(fmt(12.345), "12.35");
        assert_eq!(fmt(-0.5), "-0.5");
    }
}
