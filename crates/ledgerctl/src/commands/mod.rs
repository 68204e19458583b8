//! One module per subcommand: its clap `Args` (whose doc comments are the help) and `run`.

pub(crate) mod up;
