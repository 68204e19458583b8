//! What a long command shows while it works: on a terminal a spinner with a count, the lines of
//! what is done printed above it; otherwise (a pipe, CI, `--output json`, `--quiet`) plain lines
//! or nothing, so logs stay readable.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    /// Print done lines (text output, not quiet).
    lines: bool,
}

impl Progress {
    /// `total` steps of `what`; `lines`: whether to print a line per finished step.
    pub(crate) fn new(what: &str, total: usize, lines: bool) -> Progress {
        let bar = (lines && total > 0 && std::io::stdout().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{pos}/{len}] {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, lines }
    }

    /// One step done, described by `line`.
    pub(crate) fn done(&self, line: &str) {
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None if self.lines => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{line}").ok();
            }
            None => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
