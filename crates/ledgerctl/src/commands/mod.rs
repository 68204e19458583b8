//! One module per subcommand.

pub(crate) mod access;
pub(crate) mod build;
pub(crate) mod completions;
pub(crate) mod deploy;
pub(crate) mod destroy;
mod engine;
pub(crate) mod exec;
pub(crate) mod invite;
pub(crate) mod lock;
pub(crate) mod logs;
mod models;
pub(crate) mod plan;
mod progress;
pub(crate) mod provision;
pub(crate) mod prune;
pub(crate) mod reconcile;
pub(crate) mod restart;
pub(crate) mod setup;
mod stack;
pub(crate) mod status;
pub(crate) mod tunnel;
pub(crate) mod up;
