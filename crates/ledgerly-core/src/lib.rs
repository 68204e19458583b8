//! Ledgerly's domain: money, expenses, receipts, budgets and the statistics over them.
//!
//! Everything here is pure — no I/O, no clock except where a function says "now" — so the store,
//! the API, the OCR pipeline and the CLI share one set of rules. Request data becomes these types
//! at the edge (`Email::parse`, `Money::parse`, `Month::from_str`) and is trusted after that.

pub mod backup;
pub mod budget;
pub mod callback;
pub mod category;
pub mod currency;
pub mod email;
pub mod expense;
pub mod ids;
pub mod import;
pub mod money;
#[cfg(feature = "openapi")]
mod openapi;
pub mod rates;
pub mod receipt;
pub mod recurring;
pub mod stats;
pub mod tag;
pub mod text;
pub mod time;
pub mod token;
pub mod user;

pub use budget::{Budget, CategoryBudgetUse};
pub use category::{Category, DEFAULT_CATEGORIES};
pub use currency::Currency;
pub use email::Email;
pub use expense::{Expense, ExpenseChanges, NewExpense};
pub use ids::{
    ApiTokenId, CategoryId, ClaimId, ExpenseId, ImportId, InviteId, JobId, ReceiptId, RecurringId,
    SessionId, TagId, UserId,
};
pub use money::{DecimalSeparator, Money, MoneyError, ParseOptions};
pub use receipt::{OcrStatus, Receipt, ReceiptKind, Unsure};
pub use stats::{CategoryTotal, MonthSummary, MonthlyCategoryTotal, Percent};
pub use tag::{Tag, TagMatch, TagTotal, TagUse};
pub use text::{CategoryName, Note, PersonName, TagName, TextError, TokenName, Vendor};
pub use time::{Month, UserTimeZone};
pub use token::{ApiToken, TokenScope};
pub use user::{Role, Theme, User};
