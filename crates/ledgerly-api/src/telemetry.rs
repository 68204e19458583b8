//! Logs: `tracing` to standard error, human-readable on a terminal and JSON otherwise (shared
//! with every Ledgerly process).

pub use ledgerly_process::init_logging as init;
