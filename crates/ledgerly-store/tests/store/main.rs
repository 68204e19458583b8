//! The store suite: every store function, on PostgreSQL and on SQLite.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod harness;

mod accounts;
mod categories;
mod category_budgets;
mod connect;
mod duplicates;
mod expenses;
mod imports;
mod isolation;
mod jobs;
mod rates;
mod receipts;
mod recurring;
mod rollups;
mod search;
mod sessions;
mod stats;
mod tags;
mod tokens;
mod users;
