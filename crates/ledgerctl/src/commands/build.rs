//! `ledgerctl build`: the API and OCR images from the workspace's binaries, on this machine's
//! Docker engine or a remote one over SSH, with no base image to pull; optionally pushed to a
//! registry, after which they are known by digest.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::engine::EngineArgs;
use super::stack::Output;
use crate::docker::Engine;
use crate::docker::image::{self, Kind, OcrEngine};
use crate::docker::registry::Registry;

/// Build the API and OCR images from the workspace's binaries (no base image is pulled).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The folder holding ledgerly-api and ledgerly-ocr. Default: build them now
    /// (`cargo build --release`) in the workspace this is run from.
    #[arg(long)]
    binaries: Option<PathBuf>,
    /// The stack: images are named `<stack>-api` and `<stack>-ocr`, like its repositories.
    #[arg(long, default_value = "ledgerly")]
    stack: String,
    /// The OCR backend the OCR image serves: paddle builds the PP-OCR models in (installing them
    /// here first when missing); tesseract puts tesseract and its data in it.
    #[arg(long, default_value = "paddle", value_parser = ["paddle", "tesseract", "gemini", "openai"])]
    ocr_backend: String,
    #[command(flatten)]
    engine: EngineArgs,
    /// How long to wait for the engine to answer (a new instance may still be installing it): 30s, 5m, … (a bare number is seconds).
    #[arg(long = "connect-timeout", alias = "wait-seconds", value_name = "DURATION", default_value = "2m", value_parser = super::engine::duration)]
    connect_timeout: Duration,
    /// Push the images to this registry (`host[:port]`) and report them by digest.
    #[arg(long)]
    push: Option<String>,
    /// Override the tag (default: the git commit, plus a content hash when the tree has
    /// uncommitted changes).
    #[arg(long)]
    tag: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Serialize)]
struct Built {
    image: &'static str,
    reference: String,
    id: String,
    /// `<registry>/<repository>@sha256:…`, once pushed.
    pushed: Option<String>,
}

/// Why this machine cannot make the images, if it cannot: they are this machine's own binaries
/// and the shared libraries `ldd` finds for them, so it must be Linux on x86_64 with glibc (the
/// instance's and Fargate's platform). `ldd_version` is what `ldd --version` printed.
fn host_problem(os: &str, arch: &str, ldd_version: &str) -> Option<String> {
    let host = if os != "linux" || arch != "x86_64" {
        format!("{os} on {arch}")
    } else if !(ldd_version.contains("GLIBC") || ldd_version.contains("GNU libc")) {
        let first = ldd_version.lines().next().unwrap_or("").trim();
        format!(
            "Linux with another C library (ldd says: {})",
            if first.is_empty() { "nothing" } else { first }
        )
    } else {
        return None;
    };
    Some(format!(
        "the images are made from this machine's own binaries and the libraries they load, so \
         they can be built only on Linux x86_64 with glibc, and this is {host}. Build and deploy \
         from such a machine, or let the release workflow do it (.github/workflows/release.yml, \
         docs/deploy.md)"
    ))
}

/// Fails with what to do when this machine cannot make the images.
pub(crate) fn check_host() -> anyhow::Result<()> {
    let ldd = std::process::Command::new("ldd")
        .arg("--version")
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default();
    match host_problem(std::env::consts::OS, std::env::consts::ARCH, &ldd) {
        Some(problem) => bail!(problem),
        None => Ok(()),
    }
}

/// The workspace root: where `cargo` finds the workspace from the current folder.
pub(crate) fn workspace_root() -> anyhow::Result<PathBuf> {
    let output = std::process::Command::new("cargo")
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output()
        .context("cannot run cargo to find the workspace; pass --binaries <folder>")?;
    if !output.status.success() {
        bail!(
            "not inside the Ledgerly source tree; run ledgerctl build there, or pass --binaries <folder>"
        );
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    manifest
        .parent()
        .map(Path::to_owned)
        .context("cargo named no workspace folder")
}

/// Builds the release binaries; the folder they are in.
pub(crate) fn build_binaries(root: &Path) -> anyhow::Result<PathBuf> {
    let status = std::process::Command::new("cargo")
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "ledgerly-api",
            "-p",
            "ledgerly-ocr",
            "--bins",
        ])
        .current_dir(root)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed (see above)");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release"))
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    check_host()?;
    let target = args.engine.target()?;
    let (root, binaries) = match &args.binaries {
        Some(folder) => (std::env::current_dir()?, folder.clone()),
        None => {
            let root = workspace_root()?;
            let binaries = build_binaries(&root)?;
            (root, binaries)
        }
    };
    let kinds = [
        Kind::Api,
        Kind::Ocr {
            engine: OcrEngine::for_backend(&args.ocr_backend),
        },
    ];
    // Both programs are there before the engine is reached.
    for kind in kinds {
        image::binary(kind, &binaries)?;
    }
    if kinds.contains(&Kind::Ocr {
        engine: OcrEngine::Paddle,
    }) {
        super::models::ensure(&image::local_models_dir()).await?;
    }
    let engine = Engine::connect(&target, args.connect_timeout).await?;
    let registry = args.push.as_deref().map(Registry::plain);
    let mut built = Vec::new();
    for kind in kinds {
        let context = image::context(kind, &binaries, None)?;
        let tag = args
            .tag
            .clone()
            .unwrap_or_else(|| image::version_tag(&root, &context.content_hash));
        let repository = format!("{}-{}", args.stack, kind.name());
        let reference = format!("{repository}:{tag}");
        let id = image::build(&engine.docker, kind, context, &reference, &args.stack).await?;
        let pushed = match &registry {
            Some(registry) => Some(
                registry
                    .push(&engine.docker, &reference, &repository, &tag)
                    .await?,
            ),
            None => None,
        };
        built.push(Built {
            image: kind.name(),
            reference,
            id,
            pushed,
        });
    }
    let mut out = std::io::stdout();
    match args.output {
        Output::Json => writeln!(out, "{:#}", serde_json::json!({ "images": built }))?,
        Output::Text => {
            for image in &built {
                match &image.pushed {
                    Some(pushed) => {
                        writeln!(out, "{}: {} → {pushed}", image.image, image.reference)?
                    }
                    None => writeln!(out, "{}: {} ({})", image.image, image.reference, image.id)?,
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_problem;

    const GLIBC: &str = "ldd (Debian GLIBC 2.36-9+deb12u4) 2.36\nCopyright (C) 2022 Free Software Foundation, Inc.\n";
    const MUSL: &str = "musl libc (x86_64)\nVersion 1.2.5\nDynamic Program Loader\n";

    #[test]
    fn only_linux_x86_64_with_glibc_makes_the_images_and_the_others_are_told_what_to_do() {
        assert_eq!(host_problem("linux", "x86_64", GLIBC), None);
        for (os, arch, ldd, named) in [
            ("macos", "aarch64", "", "macos on aarch64"),
            ("linux", "aarch64", GLIBC, "linux on aarch64"),
            ("windows", "x86_64", "", "windows on x86_64"),
            ("linux", "x86_64", MUSL, "ldd says: musl libc (x86_64)"),
            ("linux", "x86_64", "", "ldd says: nothing"),
        ] {
            let problem = host_problem(os, arch, ldd).unwrap();
            assert!(problem.contains(named), "{problem}");
            assert!(problem.contains("release workflow"), "{problem}");
        }
    }
}
