//! Third-party images by digest. A template names Traefik, Prometheus, Grafana… by tag; a tag
//! can be moved by whoever controls the repository. Deploy resolves each tag to the digest the
//! registry gives for it (the Distribution API's manifest endpoint, from wherever deploy runs,
//! with an anonymous token where the registry asks for one), runs the stack by digest, and
//! records the digests with the release: a later deploy reuses them for the same tag (so a
//! moved tag never changes a running stack), and a rollback returns to exactly the images its
//! release had. A tag the template changes is resolved afresh.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};

use super::spec::StackSpec;

/// Manifest types a registry may hold for a tag, the multi-platform ones first.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An image reference, split as the Distribution API needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// As written, without the tag: what a pinned reference is made of.
    pub(crate) name: String,
    /// The registry's API host (`registry-1.docker.io` for Docker Hub).
    pub(crate) registry: String,
    /// The repository path in the registry (`library/traefik`).
    pub(crate) repository: String,
    pub(crate) tag: String,
}

impl Reference {
    /// `None` for a reference already by digest.
    pub(crate) fn parse(image: &str) -> Option<Reference> {
        if image.contains('@') {
            return None;
        }
        let (name, tag) = match image.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (image, "latest"),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            Some(_) => ("registry-1.docker.io".to_owned(), name.to_owned()),
            None => ("registry-1.docker.io".to_owned(), format!("library/{name}")),
        };
        let registry = if registry == "docker.io" {
            "registry-1.docker.io".to_owned()
        } else {
            registry
        };
        Some(Reference {
            name: name.to_owned(),
            registry,
            repository,
            tag: tag.to_owned(),
        })
    }

    /// The tag reference as a template writes it: the key digests are recorded under.
    pub(crate) fn tagged(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    fn base(&self) -> String {
        let host = self.registry.split(':').next().unwrap_or_default();
        let plain = host == "localhost" || host.starts_with("127.");
        format!(
            "{}://{}",
            if plain { "http" } else { "https" },
            self.registry
        )
    }
}

/// The digest the registry gives for `reference`'s tag.
pub(crate) async fn resolve(
    http: &reqwest::Client,
    reference: &Reference,
) -> anyhow::Result<String> {
    let url = format!(
        "{}/v2/{}/manifests/{}",
        reference.base(),
        reference.repository,
        reference.tag
    );
    let what = reference.tagged();
    let ask = |token: Option<String>| {
        let mut request = http.head(&url).header(reqwest::header::ACCEPT, ACCEPT);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let mut reply = ask(None)
        .await
        .with_context(|| format!("asking the registry for the digest of {what}"))?;
    if reply.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = reply
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let token = anonymous_token(http, &challenge)
            .await
            .with_context(|| format!("getting a token to read {what}"))?;
        reply = ask(Some(token))
            .await
            .with_context(|| format!("asking the registry for the digest of {what}"))?;
    }
    if !reply.status().is_success() {
        bail!(
            "the registry answered {} for {what}: is the tag right, and is the registry reachable from here?",
            reply.status()
        );
    }
    let digest = reply
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .with_context(|| format!("the registry gave no digest for {what}"))?;
    if !(digest.starts_with("sha256:") && digest.len() == 71) {
        bail!("the registry gave `{digest}` as the digest of {what}: not a SHA-256 digest");
    }
    Ok(digest)
}

/// A token for anonymous reading, from the realm a `Bearer` challenge names.
async fn anonymous_token(http: &reqwest::Client, challenge: &str) -> anyhow::Result<String> {
    let params = challenge
        .strip_prefix("Bearer ")
        .with_context(|| format!("the registry wants `{challenge}`, not a bearer token"))?;
    let mut realm = None;
    let mut query = Vec::new();
    for part in params.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        let value = value.trim_matches('"').to_owned();
        match key {
            "realm" => realm = Some(value),
            "service" | "scope" => query.push((key.to_owned(), value)),
            _ => {}
        }
    }
    let realm = realm.context("the registry's challenge names no realm")?;
    let reply: serde_json::Value = http
        .get(&realm)
        .query(&query)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    reply["token"]
        .as_str()
        .or_else(|| reply["access_token"].as_str())
        .map(str::to_owned)
        .context("the token service gave no token")
}

/// Puts every service of `spec` whose image is by tag on its digest: the one `known` records for
/// that tag, else the registry's. The digests the stack now runs, by tag reference.
pub(crate) async fn pin(
    spec: &mut StackSpec,
    known: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("building an HTTP client")?;
    let mut pinned = BTreeMap::new();
    for (service_name, service) in &mut spec.services {
        let Some(reference) = Reference::parse(&service.image) else {
            continue;
        };
        let tagged = reference.tagged();
        let digest = match known.get(&tagged).or_else(|| pinned.get(&tagged)) {
            Some(digest) => String::clone(digest),
            None => resolve(&http, &reference)
                .await
                .with_context(|| format!("services.{service_name}: pinning {tagged}"))?,
        };
        service.image = format!("{}@{digest}", reference.name);
        pinned.insert(tagged, digest);
    }
    Ok(pinned)
}

/// `spec` with the digests `known` records put in, and nothing asked of a registry: what a
/// release runs, for status.
pub(crate) fn apply_known(spec: &mut StackSpec, known: &BTreeMap<String, String>) {
    for service in spec.services.values_mut() {
        if let Some(reference) = Reference::parse(&service.image)
            && let Some(digest) = known.get(&reference.tagged())
        {
            service.image = format!("{}@{digest}", reference.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_split_as_the_registries_name_them() {
        let r = Reference::parse("traefik:v3.3").unwrap();
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.tag.as_str(),
                r.name.as_str()
            ),
            ("registry-1.docker.io", "library/traefik", "v3.3", "traefik")
        );
        assert_eq!(r.base(), "https://registry-1.docker.io");
        let r = Reference::parse("grafana/grafana:11.3.1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("registry-1.docker.io", "grafana/grafana")
        );
        let r = Reference::parse("gcr.io/cadvisor/cadvisor:v0.49.1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("gcr.io", "cadvisor/cadvisor", "v0.49.1")
        );
        let r = Reference::parse("127.0.0.1:5000/team/proxy:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("127.0.0.1:5000", "team/proxy", "v1")
        );
        assert_eq!(r.base(), "http://127.0.0.1:5000");
        assert_eq!(r.tagged(), "127.0.0.1:5000/team/proxy:v1");
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str()),
            ("library/busybox", "latest")
        );
        let r = Reference::parse("docker.io/library/busybox:1.37").unwrap();
        assert_eq!(r.registry, "registry-1.docker.io");
        assert!(Reference::parse("registry.example/api@sha256:aa").is_none());
    }

    #[test]
    fn known_digests_are_put_in_without_asking_a_registry() {
        let mut spec = StackSpec::parse(
            "stack: s\nservices:\n  proxy:\n    image: traefik:v3.3\n  other:\n    image: grafana/grafana:11.3.1\n  app:\n    image: r.example/app@sha256:aa\n",
            "t",
        )
        .unwrap();
        let digest = format!("sha256:{}", "b".repeat(64));
        apply_known(
            &mut spec,
            &BTreeMap::from([("traefik:v3.3".to_owned(), digest.clone())]),
        );
        assert_eq!(spec.services["proxy"].image, format!("traefik@{digest}"));
        assert_eq!(spec.services["other"].image, "grafana/grafana:11.3.1");
        assert_eq!(spec.services["app"].image, "r.example/app@sha256:aa");
    }
}
