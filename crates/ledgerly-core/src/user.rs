//! Accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::currency::Currency;
use crate::email::Email;
use crate::ids::UserId;
use crate::text::PersonName;
use crate::time::UserTimeZone;

/// A person with an account. The password hash never leaves the store in this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: PersonName,
    /// The currency budgets and statistics are kept in.
    pub currency: Currency,
    pub time_zone: UserTimeZone,
    pub created_at: DateTime<Utc>,
}
