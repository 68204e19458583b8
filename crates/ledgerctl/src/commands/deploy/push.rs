//! The images built and pushed to the stack's ECR repositories, each named by the digest the
//! registry gives.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::REGISTRY_OVERRIDE;
use super::facts::Facts;
use crate::aws::{self, Aws};
use crate::docker::image::{self, Kind, OcrEngine};
use crate::docker::registry::{Login, Registry};
use crate::docker::{Engine, Target};
use crate::stack::StackConfig;

/// Where images go and come from: ECR's registry with a fresh token, or the override.
pub(crate) struct Pushing {
    pub(crate) registry: Registry,
    /// What the instance pulls with (`None`: the override, which needs none).
    pub(crate) pull_login: Option<Login>,
    pub(crate) overridden: bool,
}

/// The registry the stack's images are referred to by (no token fetched).
pub(crate) fn registry_address(facts: &Facts) -> anyhow::Result<String> {
    if let Ok(address) = std::env::var(REGISTRY_OVERRIDE) {
        return Ok(address);
    }
    facts.repositories[0]
        .split_once('/')
        .map(|(host, _)| host.to_owned())
        .context("the ECR repository URI names no registry")
}

pub(crate) async fn pushing(aws: &Aws, facts: &Facts) -> anyhow::Result<Pushing> {
    if let Ok(address) = std::env::var(REGISTRY_OVERRIDE) {
        return Ok(Pushing {
            registry: Registry::plain(&address),
            pull_login: None,
            overridden: true,
        });
    }
    let login = aws::ecr::login(aws).await?;
    let address = registry_address(facts)?;
    Ok(Pushing {
        registry: Registry {
            address,
            login: Some(login.clone()),
        },
        pull_login: Some(login),
        overridden: false,
    })
}

/// One image of the release.
#[derive(Debug, Serialize)]
pub(crate) struct Image {
    pub(crate) image: &'static str,
    pub(crate) tag: String,
    pub(crate) digest: String,
    /// False: ECR already had this exact build under its tag.
    pub(crate) pushed: bool,
}

/// The manifest a plain registry serves for `repository@digest`, and its media type.
async fn manifest(
    registry: &str,
    repository: &str,
    digest: &str,
) -> anyhow::Result<(String, String)> {
    let url = format!("http://{registry}/v2/{repository}/manifests/{digest}");
    let response = reqwest::Client::new()
        .get(&url)
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .with_context(|| format!("reading the manifest {url}"))?;
    if !response.status().is_success() {
        bail!("reading the manifest {url}: {}", response.status());
    }
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/vnd.docker.distribution.manifest.v2+json")
        .to_owned();
    Ok((response.text().await?, media_type))
}

/// Builds and pushes each image unless ECR already has that exact build. For an ECS stack the
/// API's carries the RDS certificate bundle `ca_bundle` (PEM), which a task has no other way to
/// get (on the instance the bundle is a file given to the container, so the image stays the
/// same when only the bundle changes).
pub(crate) async fn images(
    aws: &Aws,
    config: &StackConfig,
    pushing: &Pushing,
    binaries: &Path,
    root: &Path,
    ca_bundle: Option<&str>,
) -> anyhow::Result<[Image; 2]> {
    let kinds = [
        Kind::Api,
        Kind::Ocr {
            engine: OcrEngine::for_backend(&config.ocr.backend),
        },
    ];
    for kind in kinds {
        image::binary(kind, binaries)?;
    }
    if kinds.contains(&Kind::Ocr {
        engine: OcrEngine::Paddle,
    }) {
        crate::commands::models::ensure(&image::local_models_dir()).await?;
    }
    let names = aws::ecr::names(config);
    let mut local = None;
    let mut out = Vec::new();
    for (kind, repository) in kinds.into_iter().zip(names) {
        let context = image::context(kind, binaries, ca_bundle)?;
        let tag = release_tag(
            &image::version_tag(root, &context.content_hash),
            &context.content_hash,
        );
        if let Some(digest) = aws::ecr::tagged_digest(aws, &repository, &tag).await? {
            out.push(Image {
                image: kind.name(),
                tag,
                digest,
                pushed: false,
            });
            continue;
        }
        let engine = match &local {
            Some(engine) => engine,
            None => local.insert(Engine::connect(&Target::Local, Duration::from_secs(30)).await?),
        };
        let reference = format!("{repository}:{tag}");
        image::build(&engine.docker, kind, context, &reference, &config.stack).await?;
        let pushed = pushing
            .registry
            .push(&engine.docker, &reference, &repository, &tag)
            .await?;
        let digest = pushed
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .context("the push gave no digest")?;
        if pushing.overridden {
            let (manifest, media_type) =
                manifest(&pushing.registry.address, &repository, &digest).await?;
            aws::ecr::record_manifest(aws, &repository, &tag, &digest, &manifest, &media_type)
                .await?;
        }
        out.push(Image {
            image: kind.name(),
            tag,
            digest,
            pushed: true,
        });
    }
    let [api, ocr]: [Image; 2] = out
        .try_into()
        .map_err(|_| anyhow::anyhow!("two images were expected"))?;
    Ok([api, ocr])
}

/// The tag a release's image gets: the commit and what was built from it, so that one tag is
/// one build (ECR's tags are immutable) and a build ECR already has is not pushed again.
pub(crate) fn release_tag(version: &str, content_hash: &str) -> String {
    let short = &content_hash[..12];
    if version.ends_with(short) {
        version.to_owned()
    } else {
        format!("{version}-{short}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_tag_names_the_commit_and_the_build() {
        let hash = "0123456789abcdef".repeat(4);
        assert_eq!(
            release_tag("abc123def456", &hash),
            "abc123def456-0123456789ab"
        );
        // A dirty tree's version already carries the build's hash.
        assert_eq!(
            release_tag("abc123def456-dirty-0123456789ab", &hash),
            "abc123def456-dirty-0123456789ab"
        );
    }
}
