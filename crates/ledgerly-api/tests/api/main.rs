//! The API suite: the real server on a free port, every test on PostgreSQL and on SQLite.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod helpers;

mod admin;
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
mod password_reset;
mod phone;
mod rates;
mod receipts;
mod recurring;
mod restore;
mod s3_storage;
mod schemathesis;
mod smtp;
mod tags;
mod tokens;
