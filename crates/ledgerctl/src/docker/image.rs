//! The API and OCR images, assembled from the workspace's own binaries with no base image to pull
//! (a Docker engine that can reach no registry builds them, and so does one offline).
//!
//! Each image is `FROM scratch` plus what its programs load: the binary, the shared libraries
//! `ldd` names (the dynamic loader among them) at their own paths, CA certificates, a passwd file
//! with an unprivileged user, and `/tmp`. The OCR image adds what its engine needs: the PP-OCR
//! models (the default engine) and pdftoppm for PDF receipts, or tesseract with its libraries
//! and English data and pdftoppm when the stack's OCR backend is tesseract, and with pdftoppm
//! `prlimit`, which runs each conversion within a memory limit. Images
//! are tagged with the git commit (and a content hash when the tree has uncommitted changes) and
//! are later referred to by digest, never by `:latest`.
//!
//! Over 500 lines with its tests: what goes into an image and how it is built are one job.

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};

/// The unprivileged user the images run as.
pub(crate) const UID: u64 = 10001;
/// Where the API keeps its SQLite database and local receipts when it has no other storage.
pub(crate) const DATA_DIR: &str = "/data";
/// The label naming which of the stack's images an image is.
pub(crate) const IMAGE_LABEL: &str = "ledgerly.image";
const CA_CERTIFICATES: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Which image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Api,
    Ocr { engine: OcrEngine },
}

/// What the OCR image reads receipts with: the engine decides what goes in beside the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OcrEngine {
    /// The PP-OCR models, built in (the default).
    Paddle,
    /// tesseract, its libraries and its English data.
    Tesseract,
    /// A hosted model (gemini, openai): nothing more.
    Hosted,
}

impl OcrEngine {
    /// The engine for the stack file's `ocr.backend`.
    pub(crate) fn for_backend(backend: &str) -> Self {
        match backend {
            "paddle" => OcrEngine::Paddle,
            "tesseract" => OcrEngine::Tesseract,
            _ => OcrEngine::Hosted,
        }
    }
}

/// Where the OCR image carries the models.
pub(crate) const MODELS_DIR: &str = "/usr/local/share/ledgerly/models";

/// The models folder on this machine the OCR image takes its models from.
pub(crate) fn local_models_dir() -> PathBuf {
    std::env::var_os("LEDGERLY__EXTRACTOR__MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(ledgerly_ocr::paddle::models::default_dir)
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Ocr { .. } => "ocr",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Kind::Api => "ledgerly-api",
            Kind::Ocr { .. } => "ledgerly-ocr",
        }
    }
}

/// A file for the image: where it comes from on this machine, where it goes in the image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    source: PathBuf,
    target: PathBuf,
}

/// The shared libraries `binary` loads, the loader included, as `ldd` resolves them here.
pub(crate) fn libraries(binary: &Path) -> anyhow::Result<BTreeSet<PathBuf>> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .context("cannot run ldd to find the libraries the binaries load (install libc-bin)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // A static binary: nothing to load.
        if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&output.stderr).contains("not a dynamic executable")
        {
            return Ok(BTreeSet::new());
        }
        bail!(
            "ldd {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    parse_ldd(&text)
}

fn parse_ldd(text: &str) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "=>", "not", "found", ..] => bail!("a library is missing on this machine: {line}"),
            [_, "=>", path, ..] if path.starts_with('/') => {
                found.insert(PathBuf::from(path));
            }
            [path, ..] if path.starts_with('/') => {
                found.insert(PathBuf::from(path));
            }
            _ => {}
        }
    }
    Ok(found)
}

/// `kind`'s program in the `binaries` folder, which must be there.
pub(crate) fn binary(kind: Kind, binaries: &Path) -> anyhow::Result<PathBuf> {
    let binary = binaries.join(kind.binary());
    if !binary.is_file() {
        bail!(
            "{} is missing; build it (cargo build --release -p {}) or point --binaries at the folder holding it",
            binary.display(),
            kind.binary()
        );
    }
    Ok(binary)
}

/// What goes into `kind`'s image besides the generated files.
fn entries(kind: Kind, binaries: &Path) -> anyhow::Result<BTreeSet<Entry>> {
    let binary = binary(kind, binaries)?;
    let mut entries = BTreeSet::new();
    let mut add_program = |source: &Path, target: PathBuf| -> anyhow::Result<()> {
        for library in libraries(source)? {
            entries.insert(Entry {
                source: library.clone(),
                target: library,
            });
        }
        entries.insert(Entry {
            source: source.to_owned(),
            target,
        });
        Ok(())
    };
    add_program(&binary, PathBuf::from("/usr/local/bin").join(kind.binary()))?;
    let mut models = Vec::new();
    if let Kind::Ocr {
        engine: OcrEngine::Paddle,
    } = kind
    {
        let pdftoppm = Path::new("/usr/bin/pdftoppm");
        if !pdftoppm.is_file() {
            bail!(
                "the OCR image needs /usr/bin/pdftoppm for PDF receipts (apt install poppler-utils)"
            );
        }
        add_program(pdftoppm, pdftoppm.to_owned())?;
        add_program(&prlimit()?, PathBuf::from(PRLIMIT))?;
        let local = local_models_dir();
        let files = ledgerly_ocr::paddle::ModelFiles::find(&local)
            .map_err(|e| anyhow::anyhow!("the OCR image carries the models: {e}"))?;
        for file in [
            files.detection,
            files.classifier,
            files.recognition,
            files.dictionary,
        ] {
            let inside = file.strip_prefix(&local).unwrap_or(&file).to_owned();
            models.push(Entry {
                target: Path::new(MODELS_DIR).join(inside),
                source: file,
            });
        }
    }
    if let Kind::Ocr {
        engine: OcrEngine::Tesseract,
    } = kind
    {
        for program in ["tesseract", "pdftoppm"] {
            let path = Path::new("/usr/bin").join(program);
            if !path.is_file() {
                bail!(
                    "the tesseract OCR image needs {} (apt install tesseract-ocr tesseract-ocr-eng poppler-utils)",
                    path.display()
                );
            }
            add_program(&path, path.clone())?;
        }
        add_program(&prlimit()?, PathBuf::from(PRLIMIT))?;
        let tessdata = tessdata_dir()?;
        for file in walk(&tessdata)? {
            entries.insert(Entry {
                target: file.clone(),
                source: file,
            });
        }
    }
    entries.extend(models);
    if Path::new(CA_CERTIFICATES).is_file() {
        entries.insert(Entry {
            source: CA_CERTIFICATES.into(),
            target: CA_CERTIFICATES.into(),
        });
    } else {
        bail!(
            "{CA_CERTIFICATES} is missing (apt install ca-certificates): the images call HTTPS APIs"
        );
    }
    Ok(entries)
}

/// Where the OCR image carries `prlimit`, which runs PDF and HEIC conversions within a memory
/// limit.
const PRLIMIT: &str = "/usr/bin/prlimit";

/// `prlimit` on this machine (util-linux, on every Debian).
fn prlimit() -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(PRLIMIT);
    if !path.is_file() {
        bail!(
            "the OCR image needs {PRLIMIT} to bound the memory of PDF conversions (apt install util-linux)"
        );
    }
    Ok(path)
}

/// Tesseract's language data folder on this machine.
fn tessdata_dir() -> anyhow::Result<PathBuf> {
    let base = Path::new("/usr/share/tesseract-ocr");
    let mut found: Vec<PathBuf> = std::fs::read_dir(base)
        .with_context(|| {
            format!(
                "cannot read {} (apt install tesseract-ocr-eng)",
                base.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path().join("tessdata")))
        .filter(|p| p.join("eng.traineddata").is_file())
        .collect();
    found.sort();
    found.pop().context(
        "no English tesseract data under /usr/share/tesseract-ocr (apt install tesseract-ocr-eng)",
    )
}

/// Every file under `dir`, following no links out of it.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn dockerfile(kind: Kind) -> String {
    let mut text = format!(
        "# Generated by ledgerctl: {} on nothing but what its programs load.\nFROM scratch\nCOPY rootfs/ /\nENV SSL_CERT_FILE={CA_CERTIFICATES}\nUSER {UID}:{UID}\n",
        kind.binary()
    );
    match kind {
        Kind::Api => text.push_str(&format!(
            "# COPY keeps no owners from the context: the data folder gets its own.\nCOPY --chown={UID}:{UID} data/ {DATA_DIR}/\nENV LEDGERLY__SERVER__BIND=0.0.0.0 LEDGERLY__SERVER__PORT=8080\nWORKDIR {DATA_DIR}\nEXPOSE 8080\nHEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD [\"/usr/local/bin/ledgerly-api\", \"healthcheck\"]\nENTRYPOINT [\"/usr/local/bin/ledgerly-api\"]\n"
        )),
        Kind::Ocr { engine } => {
            match engine {
                OcrEngine::Paddle => text.push_str(&format!(
                    "ENV LEDGERLY__EXTRACTOR__BACKEND=paddle LEDGERLY__EXTRACTOR__MODELS_DIR={MODELS_DIR}\n"
                )),
                OcrEngine::Tesseract => {
                    text.push_str("ENV LEDGERLY__EXTRACTOR__BACKEND=tesseract\n");
                }
                OcrEngine::Hosted => {}
            }
            text.push_str("ENTRYPOINT [\"/usr/local/bin/ledgerly-ocr\"]\nCMD [\"lambda\"]\n");
        }
    }
    text
}

fn passwd() -> (String, String) {
    (
        format!(
            "root:x:0:0:root:/root:/sbin/nologin\nledgerly:x:{UID}:{UID}:ledgerly:{DATA_DIR}:/sbin/nologin\n"
        ),
        format!("root:x:0:\nledgerly:x:{UID}:\n"),
    )
}

/// A built context: the tar the engine builds from, and a hash of everything in it.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) tar: Vec<u8>,
    pub(crate) content_hash: String,
}

fn header(size: u64, mode: u32, uid: u64, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(uid);
    // A fixed time: the same inputs make the same context, and so the same image layers.
    // (`append_data` sets the path, long ones included, and the checksum.)
    header.set_mtime(0);
    header
}

/// The build context for `kind` from the binaries in `binaries`; for the API, with the RDS
/// certificate bundle `ca_bundle` (PEM) at [`crate::aws::rds_ca::FILE`] when a deploy gives one
/// (an ECS task has no file mounted: the image carries what the API verifies the database with).
pub(crate) fn context(
    kind: Kind,
    binaries: &Path,
    ca_bundle: Option<&str>,
) -> anyhow::Result<Context> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut hash = Sha256::new();
    let mut add = |path: &str, data: &[u8], mode: u32, uid: u64| -> anyhow::Result<()> {
        hash.update(path.as_bytes());
        hash.update((data.len() as u64).to_le_bytes());
        hash.update(data);
        let mut header = header(data.len() as u64, mode, uid, tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, data)
            .with_context(|| format!("adding {path} to the build context"))
    };
    add("Dockerfile", dockerfile(kind).as_bytes(), 0o644, 0)?;
    let (passwd, group) = passwd();
    add("rootfs/etc/passwd", passwd.as_bytes(), 0o644, 0)?;
    add("rootfs/etc/group", group.as_bytes(), 0o644, 0)?;
    for entry in entries(kind, binaries)? {
        // Links are followed: the image gets the file under the name its programs ask for.
        let data = std::fs::read(&entry.source)
            .with_context(|| format!("reading {}", entry.source.display()))?;
        let executable = std::fs::metadata(&entry.source)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt as _;
                m.permissions().mode() & 0o111 != 0
            })
            .unwrap_or(false);
        let target = format!("rootfs{}", entry.target.display());
        add(&target, &data, if executable { 0o755 } else { 0o644 }, 0)?;
    }
    if kind == Kind::Api {
        add("data/.keep", b"", 0o644, UID)?;
        if let Some(pem) = ca_bundle {
            let target = format!("rootfs{}", crate::aws::rds_ca::FILE);
            add(&target, pem.as_bytes(), 0o644, 0)?;
        }
    }
    let mut tmp = header(0, 0o1777, 0, tar::EntryType::Directory);
    builder
        .append_data(&mut tmp, "rootfs/tmp/", std::io::empty())
        .context("adding /tmp to the build context")?;
    let tar = builder
        .into_inner()
        .context("finishing the build context")?;
    Ok(Context {
        tar,
        content_hash: format!("{:x}", hash.finalize()),
    })
}

/// The tag for images built from this tree: the commit, and when the tree has uncommitted
/// changes, a hash of what was built too (so a changed build never reuses a pushed tag).
pub(crate) fn version_tag(workspace: &Path, content_hash: &str) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(workspace)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit)
            if git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| s.is_empty()) =>
        {
            commit
        }
        Some(commit) => format!("{commit}-dirty-{}", &content_hash[..12]),
        None => format!("build-{}", &content_hash[..12]),
    }
}

/// Builds `context` on `docker` as `reference` (`repository:tag`), labelled; the image id.
pub(crate) async fn build(
    docker: &Docker,
    kind: Kind,
    context: Context,
    reference: &str,
    stack: &str,
) -> anyhow::Result<String> {
    let labels: HashMap<&str, &str> = HashMap::from([
        (IMAGE_LABEL, kind.name()),
        ("ledgerly.stack", stack),
        ("ledgerly.content-hash", context.content_hash.as_str()),
    ]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(reference)
        .labels(&labels)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream =
        docker.build_image(options, None, Some(bollard::body_full(context.tar.into())));
    let mut id = None;
    let mut log = Vec::new();
    while let Some(message) = stream.next().await {
        let message = message.map_err(|e| {
            anyhow::anyhow!(
                "building the {} image failed: {e}\n{}",
                kind.name(),
                String::from_utf8_lossy(&log)
            )
        })?;
        if let Some(text) = &message.stream {
            log.write_all(text.as_bytes()).ok();
            tracing::debug!(image = kind.name(), "{}", text.trim_end());
        }
        if let Some(aux) = message.aux.and_then(|a| a.id) {
            id = Some(aux);
        }
    }
    match id {
        Some(id) => Ok(id),
        None => docker
            .inspect_image(reference)
            .await
            .ok()
            .and_then(|i| i.id)
            .with_context(|| {
                format!(
                    "the engine built no {} image:\n{}",
                    kind.name(),
                    String::from_utf8_lossy(&log)
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_every_library_and_the_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x7f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f)\n";
        let found: Vec<String> = parse_ldd(text)
            .unwrap()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            found,
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib/x86_64-linux-gnu/libgcc_s.so.1",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert!(parse_ldd("\tlibfoo.so.1 => not found\n").is_err());
    }

    #[test]
    fn the_dockerfiles_need_no_base_image() {
        for kind in [
            Kind::Api,
            Kind::Ocr {
                engine: OcrEngine::Tesseract,
            },
            Kind::Ocr {
                engine: OcrEngine::Paddle,
            },
        ] {
            let text = dockerfile(kind);
            let from: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM")).collect();
            assert_eq!(from, ["FROM scratch"], "{text}");
            assert!(text.contains(&format!("USER {UID}:{UID}")));
        }
        assert!(dockerfile(Kind::Api).contains("HEALTHCHECK"));
    }
}
