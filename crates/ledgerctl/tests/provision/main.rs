//! `ledgerctl plan`, `provision` and `destroy` against the AWS emulator that `scripts/test`
//! starts: from zero, again (no mutating call), after drift, after an interruption at every
//! mutating step, destroyed beside another stack, and with a bad stack file (no AWS call at all).
//! Each test has its own stack name.

#![allow(clippy::unwrap_used, unreachable_pub)]

#[path = "../common/mod.rs"]
mod common;

mod access;
mod approve;
mod assertions;
mod converge;
mod destroy;
mod dns;
mod ecs;
mod fixtures;
mod github;
mod refusals;
mod setup;
mod tunnel;
