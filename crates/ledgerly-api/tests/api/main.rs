//! The API suite: the real server on a free port, every test on PostgreSQL and on SQLite.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod helpers;

mod auth;
mod authorization;
mod backup;
mod budget_and_stats;
mod categories;
mod expenses;
mod imports;
mod me;
mod ocr_callback;
mod openapi;
mod operations;
mod phone;
mod rates;
mod receipts;
mod recurring;
mod restore;
mod s3_storage;
mod schemathesis;
mod tags;
mod tokens;
