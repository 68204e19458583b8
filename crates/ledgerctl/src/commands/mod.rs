//! One module per subcommand.

pub(crate) mod build;
pub(crate) mod completions;
pub(crate) mod deploy;
pub(crate) mod destroy;
mod engine;
pub(crate) mod logs;
mod models;
pub(crate) mod plan;
mod progress;
pub(crate) mod provision;
pub(crate) mod reconcile;
mod stack;
pub(crate) mod status;
pub(crate) mod tunnel;
pub(crate) mod up;
