//! Pushing the images to a registry by address (with the engine's own login, or credentials).
//! A pushed image is known by its digest from then on.

use anyhow::{Context as _, bail};
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt as _;
use secrecy::{ExposeSecret as _, SecretString};

/// A registry and how to log in to it.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    /// `host[:port]`, as image references name it.
    pub(crate) address: String,
    pub(crate) login: Option<Login>,
}

/// A registry login. The password stays a secret (shown redacted) until it is handed to the
/// engine for one push or pull.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    /// The registry it is for, as `https://host`.
    pub(crate) server: String,
}

impl Login {
    /// As the engine takes it.
    pub(crate) fn docker(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.expose_secret().to_owned()),
            serveraddress: Some(self.server.clone()),
            ..Default::default()
        }
    }

    /// Whether it is for the registry `image` comes from (ECR's token must not go to Docker Hub
    /// with `traefik:v3`).
    pub(crate) fn is_for(&self, image: &str) -> bool {
        let server = self
            .server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        image
            .split_once('/')
            .is_some_and(|(registry, _)| registry == server)
    }
}

impl Registry {
    /// A registry by address, with no login (a local one, or one the engine is logged in to).
    pub(crate) fn plain(address: &str) -> Registry {
        Registry {
            address: address.trim_end_matches('/').to_owned(),
            login: None,
        }
    }

    /// Tags `local` as `<registry>/<repository>:<tag>` and pushes it; the pushed reference by
    /// digest (`<registry>/<repository>@sha256:…`).
    pub(crate) async fn push(
        &self,
        docker: &Docker,
        local: &str,
        repository: &str,
        tag: &str,
    ) -> anyhow::Result<String> {
        let remote = format!("{}/{repository}", self.address);
        docker
            .tag_image(
                local,
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(&remote)
                        .tag(tag)
                        .build(),
                ),
            )
            .await
            .with_context(|| format!("tagging {local} as {remote}:{tag}"))?;
        let mut stream = docker.push_image(
            &remote,
            Some(PushImageOptionsBuilder::default().tag(tag).build()),
            self.login.as_ref().map(Login::docker),
        );
        let mut digest = None;
        while let Some(info) = stream.next().await {
            let info = info.map_err(|e| anyhow::anyhow!("pushing {remote}:{tag}: {e}"))?;
            if let Some(error) = info.error_detail.and_then(|e| e.message) {
                bail!("pushing {remote}:{tag}: {error}");
            }
            if let Some(found) = info.status.as_deref().and_then(digest_in) {
                digest = Some(found);
            }
        }
        let digest = match digest {
            Some(digest) => digest,
            None => docker
                .inspect_image(&format!("{remote}:{tag}"))
                .await
                .ok()
                .and_then(|i| i.repo_digests)
                .unwrap_or_default()
                .iter()
                .find_map(|d| d.strip_prefix(&format!("{remote}@")).map(str::to_owned))
                .with_context(|| format!("the registry gave no digest for {remote}:{tag}"))?,
        };
        Ok(format!("{remote}@{digest}"))
    }
}

/// The digest in a push status line: `<tag>: digest: sha256:… size: 529`.
fn digest_in(status: &str) -> Option<String> {
    let (_, rest) = status.split_once("digest: ")?;
    let digest = rest.split_whitespace().next()?;
    (digest.starts_with("sha256:") && digest.len() == 71).then(|| digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_the_push_status() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            digest_in(&format!("0123abc: digest: {digest} size: 529")),
            Some(digest)
        );
        assert_eq!(digest_in("Pushed"), None);
        assert_eq!(digest_in("x: digest: md5:abc size: 1"), None);
    }
}
