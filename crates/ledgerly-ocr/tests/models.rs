//! Installing the OCR models, against a local HTTP server standing in for PyPI: a wheel the test
//! makes (a zip holding the set's files) and its SHA-256. A good install puts every file in place;
//! a hash mismatch, a download cut short or a damaged wheel is a clear error that leaves nothing
//! half-written; a missing set is an error naming the command that installs it.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use ledgerly_ocr::backends::paddle::{Paddle, PaddleOptions};
use ledgerly_ocr::paddle::models::{self, Member, ModelError, ModelFiles, Package, Source, Step};
use sha2::{Digest as _, Sha256};

fn wheel(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (name, body) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the stand-in registry does with a download.
#[derive(Clone)]
enum Serve {
    Whole(Vec<u8>),
    /// Promises the whole length, sends half, hangs up.
    CutShort(Vec<u8>),
    Status(StatusCode),
}

async fn registry(serve: Serve) -> SocketAddr {
    let app = Router::new().route(
        "/packages/models.whl",
        get(move || {
            let serve = serve.clone();
            async move {
                match serve {
                    Serve::Whole(bytes) => Response::builder()
                        .header(header::CONTENT_LENGTH, bytes.len())
                        .body(Body::from(bytes))
                        .unwrap(),
                    Serve::CutShort(bytes) => {
                        let half = bytes[..bytes.len() / 2].to_vec();
                        let stream = futures_util::stream::iter(vec![
                            Ok::<_, std::io::Error>(bytes::Bytes::from(half)),
                            Err(std::io::Error::other("connection reset")),
                        ]);
                        Response::builder()
                            .header(header::CONTENT_LENGTH, bytes.len())
                            .body(Body::from_stream(stream))
                            .unwrap()
                    }
                    Serve::Status(status) => Response::builder()
                        .status(status)
                        .body(Body::from("no"))
                        .unwrap(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

const FILES: &[(&str, &[u8])] = &[
    ("pkg/models/det.onnx", b"detection bytes"),
    ("pkg/models/cls.onnx", b"classifier bytes"),
    ("pkg/models/rec.onnx", b"recognition bytes"),
    ("pkg/dict.txt", b"a\r\nb\r\n"),
];

fn source(address: SocketAddr, sha256: String) -> Source {
    let member = |inside: &str, name| Member {
        package: 0,
        inside: inside.into(),
        name,
    };
    Source {
        packages: vec![Package {
            name: "test models".into(),
            url: format!("http://{address}/packages/models.whl"),
            sha256,
        }],
        members: vec![
            member("pkg/models/det.onnx", "detection.onnx"),
            member("pkg/models/cls.onnx", "classifier.onnx"),
            member("pkg/models/rec.onnx", "recognition.onnx"),
            member("pkg/dict.txt", "dictionary.txt"),
        ],
    }
}

/// Everything under `dir` but the lock file: what an install left behind.
fn left_behind(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name != ".lock")
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[tokio::test]
async fn the_pinned_wheel_is_downloaded_checked_and_unpacked() {
    let bytes = wheel(FILES);
    let address = registry(Serve::Whole(bytes.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let mut progress = |step: Step<'_>| {
        steps.push(match step {
            Step::Package(name) => name.to_owned(),
            Step::Bytes(done, total) => format!("{done}/{total:?}"),
        })
    };
    let files = models::install(
        dir.path(),
        &source(address, sha(&bytes)),
        false,
        &mut progress,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&files.detection).unwrap(), b"detection bytes");
    assert_eq!(
        std::fs::read(&files.recognition).unwrap(),
        b"recognition bytes"
    );
    assert_eq!(std::fs::read(&files.dictionary).unwrap(), b"a\r\nb\r\n");
    assert_eq!(steps.first().map(String::as_str), Some("test models"));
    assert_eq!(
        steps.last().unwrap(),
        &format!("{0}/Some({0})", bytes.len())
    );
    assert_eq!(left_behind(dir.path()), ["pp-ocrv4"]);
    // Installed: a second install downloads nothing (the server is not even asked).
    let gone = source("127.0.0.1:9".parse().unwrap(), sha(&bytes));
    models::install(dir.path(), &gone, false, &mut |_| {})
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wheel_that_is_not_the_pinned_one_installs_nothing() {
    let bytes = wheel(FILES);
    let address = registry(Serve::Whole(bytes)).await;
    let dir = tempfile::tempdir().unwrap();
    let err = models::install(
        dir.path(),
        &source(address, "ab".repeat(32)),
        false,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ModelError::HashMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("nothing was installed"), "{message}");
    assert!(message.contains("ledgerly-ocr models install"), "{message}");
    assert!(
        left_behind(dir.path()).is_empty(),
        "{:?}",
        left_behind(dir.path())
    );
}

#[tokio::test]
async fn a_download_cut_short_installs_nothing_and_says_so() {
    let bytes = wheel(FILES);
    let address = registry(Serve::CutShort(bytes.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let err = models::install(
        dir.path(),
        &source(address, sha(&bytes)),
        false,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ModelError::Download { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing was installed"), "{err}");
    assert!(
        left_behind(dir.path()).is_empty(),
        "{:?}",
        left_behind(dir.path())
    );
    // The registry refusing is the same kind of error.
    let address = registry(Serve::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let err = models::install(
        dir.path(),
        &source(address, sha(&bytes)),
        false,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(left_behind(dir.path()).is_empty());
}

#[tokio::test]
async fn a_wheel_without_the_models_installs_nothing() {
    let bytes = wheel(&FILES[..2]);
    let address = registry(Serve::Whole(bytes.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let err = models::install(
        dir.path(),
        &source(address, sha(&bytes)),
        false,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ModelError::Archive(_)), "{err:?}");
    assert!(err.to_string().contains("pkg/models/rec.onnx"), "{err}");
    assert!(left_behind(dir.path()).is_empty());
}

#[tokio::test]
async fn wheels_on_this_machine_are_matched_by_their_hash() {
    let bytes = wheel(FILES);
    let dir = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let good = downloads.path().join("models.whl");
    std::fs::write(&good, &bytes).unwrap();
    let other = downloads.path().join("other.whl");
    std::fs::write(&other, b"not it").unwrap();
    let pinned = source("127.0.0.1:9".parse().unwrap(), sha(&bytes));
    let err = models::install_from_files(dir.path(), std::slice::from_ref(&other), &pinned, false)
        .unwrap_err();
    assert!(matches!(err, ModelError::NotGiven { .. }), "{err:?}");
    assert!(left_behind(dir.path()).is_empty());
    let files = models::install_from_files(dir.path(), &[other, good], &pinned, false).unwrap();
    assert_eq!(
        std::fs::read(&files.classifier).unwrap(),
        b"classifier bytes"
    );
}

#[tokio::test]
async fn missing_models_are_an_error_naming_the_command_that_installs_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModelFiles::find(dir.path()).unwrap_err();
    assert!(matches!(err, ModelError::Missing { .. }), "{err:?}");
    let err = Paddle::load(&PaddleOptions {
        models_dir: dir.path().to_owned(),
        ..PaddleOptions::default()
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("ledgerly-ocr models install"), "{message}");
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    // Files that are not models: an error that says to reinstall.
    let set = dir.path().join("pp-ocrv4");
    std::fs::create_dir_all(&set).unwrap();
    for name in [
        "detection.onnx",
        "classifier.onnx",
        "recognition.onnx",
        "dictionary.txt",
    ] {
        std::fs::write(set.join(name), b"not a model").unwrap();
    }
    let err = Paddle::load(&PaddleOptions {
        models_dir: dir.path().to_owned(),
        ..PaddleOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
}
