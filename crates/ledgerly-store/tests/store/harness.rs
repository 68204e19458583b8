//! Helpers for the store suite; the databases come from `ledgerly_store::testing`.

use chrono::NaiveDate;
use ledgerly_core::{
    CategoryId, Currency, Email, Money, NewExpense, PersonName, User, UserTimeZone, Vendor,
};
use ledgerly_store::{NewUser, Store};

pub use ledgerly_store::testing::TestDatabase as TestDb;

pub(crate) use ledgerly_store::on_both_backends;

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub fn inr(minor: i64) -> Money {
    Money::from_minor(minor, Currency::INR)
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn vendor(s: &str) -> Vendor {
    Vendor::parse(s).unwrap()
}

pub async fn user(store: &Store, address: &str) -> User {
    user_in(store, address, UserTimeZone::KOLKATA).await
}

pub async fn user_in(store: &Store, address: &str, zone: UserTimeZone) -> User {
    store
        .create_user(NewUser {
            email: email(address),
            name: PersonName::parse("Test Person").unwrap(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            currency: Currency::INR,
            time_zone: zone,
        })
        .await
        .unwrap()
}

/// The id of the user's category called `name`.
pub async fn category(store: &Store, user: &User, name: &str) -> CategoryId {
    store
        .find_category(user.id, &ledgerly_core::CategoryName::parse(name).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no category {name}"))
        .id
}

pub fn expense(category: CategoryId, date: &str, vendor_name: &str, minor: i64) -> NewExpense {
    NewExpense::new(category, day(date), vendor(vendor_name), inr(minor)).unwrap()
}
