//! One module per subcommand.

pub(crate) mod plan;
pub(crate) mod provision;
mod stack;
pub(crate) mod up;
