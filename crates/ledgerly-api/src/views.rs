//! The JSON the API sends, and the pieces of input shared by several routes. Money goes out as a
//! decimal string with its currency (`"amount": "1234.50", "currency": "INR"`); on input a JSON
//! number is accepted too.

use chrono::{DateTime, NaiveDate, Utc};
use ledgerly_core::{
    Category, CategoryBudgetUse, CategoryId, CategoryTotal, Currency, DecimalSeparator, Expense,
    ExpenseId, Money, MoneyError, Month, MonthSummary, MonthlyCategoryTotal, ParseOptions,
    ReceiptId, RecurringId, User, UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub currency: Currency,
    pub timezone: String,
    /// The dashboard's colours: `system`, `light` or `dark`.
    pub theme: ledgerly_core::Theme,
    /// `admin` (manages the instance's accounts and invites) or `member`.
    pub role: ledgerly_core::Role,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            email: user.email.to_string(),
            name: user.name.to_string(),
            currency: user.currency,
            timezone: user.time_zone.name().to_owned(),
            theme: user.theme,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpenseView {
    pub id: ExpenseId,
    pub date: NaiveDate,
    pub category_id: CategoryId,
    pub category: String,
    pub vendor: String,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: Currency,
    pub note: Option<String>,
    pub needs_review: bool,
    pub receipt_id: Option<ReceiptId>,
    /// Its tags, by name.
    pub tags: Vec<String>,
    /// The recurring expense that made it, while that exists.
    pub recurring_id: Option<RecurringId>,
    /// For an expense in another currency than the account's: its value in the account's
    /// currency at the rate of its day; `null` when no rate converts it (and for one in the
    /// account's currency).
    #[schema(example = "1026.87", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub converted_amount: Option<String>,
    /// Only from `GET /expenses/{id}`, for an expense awaiting review: the account's other
    /// expenses on the same day, for the same amount, at the same vendor (ignoring case and
    /// punctuation) — the same receipt twice, or one entered by hand already. Empty when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub possible_duplicates: Option<Vec<ExpenseId>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Expense> for ExpenseView {
    fn from(e: Expense) -> Self {
        Self {
            id: e.id,
            date: e.date,
            category_id: e.category_id,
            category: e.category.to_string(),
            vendor: e.vendor.to_string(),
            amount: e.amount.to_decimal_string(),
            currency: e.amount.currency(),
            note: e.note.map(|n| n.to_string()),
            needs_review: e.needs_review,
            receipt_id: e.receipt_id,
            tags: e.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            recurring_id: e.recurring_id,
            converted_amount: None,
            possible_duplicates: None,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: CategoryId,
    pub name: String,
    pub is_default: bool,
}

impl From<Category> for CategoryView {
    fn from(c: Category) -> Self {
        Self {
            id: c.id,
            name: c.name.to_string(),
            is_default: c.is_default,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryTotalView {
    pub category_id: CategoryId,
    pub category: String,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: Currency,
    pub count: u64,
}

/// A category's budget in force in a month beside what its expenses add up to.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryBudgetView {
    pub category_id: CategoryId,
    pub category: String,
    #[schema(example = "5000.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: Currency,
    /// The month this amount has applied from.
    pub effective_from: Month,
    #[schema(example = "4200.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub spent: String,
    /// Budget minus spent; negative when over.
    #[schema(example = "800.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub remaining: String,
    /// The share of the budget spent, in percent; `null` for a budget of zero.
    #[schema(example = "84.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub used_percent: Option<String>,
    /// At least 80% of the budget is spent (or anything, against a budget of zero).
    pub warning: bool,
}

impl From<CategoryBudgetUse> for CategoryBudgetView {
    fn from(u: CategoryBudgetUse) -> Self {
        Self {
            category_id: u.category_id,
            category: u.category.to_string(),
            amount: u.budget.amount.to_decimal_string(),
            currency: u.budget.amount.currency(),
            effective_from: u.budget.effective_from,
            spent: u.spent.to_decimal_string(),
            remaining: u.remaining.to_decimal_string(),
            used_percent: u.used.map(|p| p.to_decimal_string()),
            warning: u.warning,
        }
    }
}

impl From<CategoryTotal> for CategoryTotalView {
    fn from(t: CategoryTotal) -> Self {
        Self {
            category_id: t.category_id,
            category: t.category.to_string(),
            amount: t.amount.to_decimal_string(),
            currency: t.amount.currency(),
            count: t.count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyTotalView {
    pub month: Month,
    pub category_id: CategoryId,
    pub category: String,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    pub currency: Currency,
}

impl From<MonthlyCategoryTotal> for MonthlyTotalView {
    fn from(t: MonthlyCategoryTotal) -> Self {
        Self {
            month: t.month,
            category_id: t.category_id,
            category: t.category.to_string(),
            amount: t.amount.to_decimal_string(),
            currency: t.amount.currency(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub previous: String,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
    /// The change as a percentage of the previous month; `null` when it spent nothing.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub percent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryView {
    pub month: Month,
    pub currency: Currency,
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub budget: Option<String>,
    #[schema(example = "1234.50", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub spent: String,
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub remaining: Option<String>,
    /// The share of the budget not spent; `null` without a budget.
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub savings_percent: Option<String>,
    pub count: u64,
    #[schema(pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub average: Option<String>,
    pub top_category: Option<CategoryTotalView>,
    pub change: ChangeView,
    /// The category budgets in force this month, by category name.
    pub category_budgets: Vec<CategoryBudgetView>,
    /// Expenses in other currencies that no exchange rate converts (enter one with
    /// `POST /rates`, or use the ECB's): left out of every figure above.
    pub not_converted: Vec<NotConvertedView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotConvertedView {
    pub currency: Currency,
    pub count: u64,
    /// What they add up to in their own currency.
    #[schema(example = "120.00", pattern = r"^-?[0-9]+(\.[0-9]+)?$")]
    pub amount: String,
}

impl SummaryView {
    pub fn new(s: MonthSummary, category_budgets: Vec<CategoryBudgetUse>) -> Self {
        let dec = |m: Money| m.to_decimal_string();
        Self {
            category_budgets: category_budgets.into_iter().map(Into::into).collect(),
            not_converted: s
                .not_converted
                .iter()
                .map(|n| NotConvertedView {
                    currency: n.currency,
                    count: n.count,
                    amount: n.amount.to_decimal_string(),
                })
                .collect(),
            month: s.month,
            currency: s.spent.currency(),
            budget: s.budget.map(dec),
            spent: dec(s.spent),
            remaining: s.remaining.map(dec),
            savings_percent: s.savings_percent.map(|p| p.to_decimal_string()),
            count: s.count,
            average: s.average.map(dec),
            top_category: s.top_category.map(Into::into),
            change: ChangeView {
                previous: dec(s.change.previous),
                amount: dec(s.change.amount),
                percent: s.change.percent.map(|p| p.to_decimal_string()),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// An amount as sent: `"1234.50"`, `"₹1,234.50"` or `1234.5`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AmountInput {
    Text(String),
    Number(serde_json::Number),
}

impl utoipa::PartialSchema for AmountInput {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(
                        "A decimal (`\"1234.50\"`), or written as people write it (`\"₹1,05,000\"`)",
                    ))
                    .examples(["1234.50"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .description(Some("A plain decimal number, without an exponent")),
            )
            .description(Some("An amount of money"))
            .into()
    }
}

impl ToSchema for AmountInput {}

impl AmountInput {
    /// The amount in `currency` (a symbol in the text must agree with it).
    pub fn to_money(&self, field: &'static str, currency: Currency) -> Result<Money, ApiError> {
        let text = match self {
            AmountInput::Text(text) => text.clone(),
            AmountInput::Number(n) => {
                let text = n.to_string();
                if text.contains(['e', 'E']) {
                    return Err(ApiError::invalid(
                        field,
                        "write the amount as a plain decimal such as \"1234.50\"",
                    ));
                }
                text
            }
        };
        let money = if is_plain_decimal(&text) {
            // The API's own form: the point is a decimal point, so "10.001" in INR is an
            // error (too many decimals), never ten thousand and one.
            Money::from_decimal_str(&text, currency)
        } else {
            // Written as people write it ("₹1,05,000", "12,50 €"): the text decides, and where
            // it cannot (`1.234,5` is clear, `1,234` KWD is not) the point does.
            let options = ParseOptions::with_currency(currency);
            match Money::parse(&text, options) {
                Err(MoneyError::AmbiguousSeparator(_)) => {
                    Money::parse(&text, options.decimal(DecimalSeparator::Point))
                }
                other => other,
            }
        }
        .map_err(|e| ApiError::invalid(field, e))?;
        if money.currency() != currency {
            return Err(ApiError::invalid(
                field,
                format!(
                    "the amount is in {} but the currency is {currency}",
                    money.currency()
                ),
            ));
        }
        Ok(money)
    }
}

/// `-?digits(.digits)?` and nothing else.
fn is_plain_decimal(text: &str) -> bool {
    let body = text.trim();
    let body = body.strip_prefix('-').unwrap_or(body);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
}

/// A currency code from the request, or an error naming the field.
pub fn currency(field: &'static str, code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code).map_err(|e| ApiError::invalid(field, e))
}

/// Writes a secret into an answer, where the client is meant to have it (a new session's token).
pub(crate) fn expose<S: serde::Serializer>(
    secret: &secrecy::SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret as _;
    serializer.serialize_str(secret.expose_secret())
}

/// `expenses` as the API shows them, those in another currency than `user`'s with their value in
/// it (`converted_amount`) at the rate of their day.
pub(crate) async fn expense_views(
    store: &ledgerly_store::Store,
    user: &User,
    expenses: Vec<Expense>,
) -> Result<Vec<ExpenseView>, ApiError> {
    let foreign: Vec<&Expense> = expenses
        .iter()
        .filter(|e| e.amount.currency() != user.currency)
        .collect();
    let (Some(since), Some(until)) = (
        foreign.iter().map(|e| e.date).min(),
        foreign.iter().map(|e| e.date).max(),
    ) else {
        return Ok(expenses.into_iter().map(Into::into).collect());
    };
    let mut currencies: Vec<Currency> = foreign.iter().map(|e| e.amount.currency()).collect();
    currencies.sort();
    currencies.dedup();
    let book = store
        .rate_book(user.id, user.currency, &currencies, (since, until))
        .await?;
    Ok(expenses
        .into_iter()
        .map(|e| {
            let converted = (e.amount.currency() != user.currency)
                .then(|| book.convert(e.amount, e.date))
                .flatten()
                .map(|m| m.to_decimal_string());
            let mut view = ExpenseView::from(e);
            view.converted_amount = converted;
            view
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inr(text: &str) -> Result<String, String> {
        AmountInput::Text(text.into())
            .to_money("amount", Currency::INR)
            .map(|m| m.to_decimal_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_decimal_is_read_strictly_and_written_amounts_leniently() {
        assert_eq!(inr("1234.5").unwrap(), "1234.50");
        assert!(inr("10.001").unwrap_err().contains("decimal places"));
        assert_eq!(inr("1,234").unwrap(), "1234.00");
        assert_eq!(inr("₹1,05,000.50").unwrap(), "105000.50");
        let kwd = AmountInput::Text("1,234".into())
            .to_money("amount", Currency::KWD)
            .unwrap();
        assert_eq!(kwd.to_decimal_string(), "1234.000");
    }
}
