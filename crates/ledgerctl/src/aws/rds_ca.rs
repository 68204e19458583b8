//! The certificate authorities RDS signs its servers' certificates with. The deployed API and
//! the migration step connect with `sslmode=verify-full` against them: without it, anything on
//! the path between the instance and the database could pose as the database.
//!
//! `deploy` fetches the bundle from where AWS publishes it (over HTTPS, from AWS's own domain),
//! checks it is nothing but certificates, and checks its SHA-256 against a pin: the stack file's
//! `database.ca_bundle_sha256` if it gives one, else the hash the stack's last release was
//! deployed with (recorded in the release history). A bundle that differs from its pin stops
//! the deploy with both hashes and what to check; a new bundle is taken only when the operator
//! writes its hash into the stack file. The first deploy of a stack that pins nothing records
//! what it fetched.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Where the API and the migration step find the bundle inside their containers.
pub(crate) const FILE: &str = "/etc/ledgerly/rds-ca.pem";

/// The bundles AWS publishes: for every commercial region, the GovCloud regions and the China
/// regions (docs: "Certificate bundles for all AWS Regions").
const COMMERCIAL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";
const GOVCLOUD: &str =
    "https://truststore.pki.us-gov-west-1.rds.amazonaws.com/global/global-bundle.pem";
const CHINA: &str =
    "https://rds-truststore.s3.cn-north-1.amazonaws.com.cn/global/global-bundle.pem";

/// More than any bundle AWS has published (about 180 KB with 100-odd certificates).
const MAX_BYTES: usize = 4 << 20;

/// The bundle for the stack's region.
pub(crate) fn default_url(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        CHINA
    } else if region.starts_with("us-gov-") {
        GOVCLOUD
    } else {
        COMMERCIAL
    }
}

/// A fetched bundle that is nothing but certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bundle {
    pub(crate) pem: String,
    /// Lowercase hex.
    pub(crate) sha256: String,
    pub(crate) certificates: usize,
}

/// Fetches the bundle at `url`.
pub(crate) async fn fetch(url: &str) -> anyhow::Result<Bundle> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .context("building an HTTP client")?;
    let mut response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("fetching the RDS certificate bundle from {url}"))?;
    if !response.status().is_success() {
        bail!(
            "fetching the RDS certificate bundle from {url}: the server answered {}",
            response.status()
        );
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("reading the RDS certificate bundle from {url}"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            bail!(
                "the RDS certificate bundle at {url} is larger than {} MiB: not a bundle",
                MAX_BYTES >> 20
            );
        }
    }
    parse(url, &body)
}

/// Checks `body` holds one or more PEM certificates and nothing else.
pub(crate) fn parse(url: &str, body: &[u8]) -> anyhow::Result<Bundle> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = std::str::from_utf8(body)
        .ok()
        .with_context(|| format!("the RDS certificate bundle at {url} is not text"))?;
    let mut rest = text;
    let mut certificates = 0;
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            break;
        }
        let Some(block) = trimmed.strip_prefix(BEGIN) else {
            bail!(
                "the RDS certificate bundle at {url} holds something other than certificates \
                 (certificate {} is not a PEM certificate)",
                certificates + 1
            );
        };
        let (encoded, after) = block.split_once(END).with_context(|| {
            format!(
                "the RDS certificate bundle at {url} is cut short (certificate {} has no end)",
                certificates + 1
            )
        })?;
        let compact: String = encoded.split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .ok()
            .filter(|der| der.first() == Some(&0x30) && der.len() > 64)
            .with_context(|| {
                format!(
                    "the RDS certificate bundle at {url}: certificate {} is not a DER certificate",
                    certificates + 1
                )
            })?;
        drop(der);
        certificates += 1;
        rest = after;
    }
    if certificates == 0 {
        bail!("the RDS certificate bundle at {url} is empty");
    }
    Ok(Bundle {
        pem: text.to_owned(),
        sha256: sha256_hex(body),
        certificates,
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bundle` against the stack file's pin, else the one recorded with the last release.
pub(crate) fn check(
    bundle: &Bundle,
    url: &str,
    configured: Option<&str>,
    recorded: Option<&str>,
) -> anyhow::Result<()> {
    let how_to_check = format!(
        "Check the new bundle's certificates (curl -s {url} | openssl storeutl -noout -text -certs /dev/stdin: \
         each should be an Amazon RDS CA of Amazon Web Services, Inc.), then set \
         database.ca_bundle_sha256: {} in the stack file and deploy again",
        bundle.sha256
    );
    match (configured, recorded) {
        (Some(pin), _) if !pin.eq_ignore_ascii_case(&bundle.sha256) => bail!(
            "the RDS certificate bundle at {url} has SHA-256 {}, not the {pin} that \
             database.ca_bundle_sha256 pins; nothing was changed. If AWS has published a new \
             bundle: {how_to_check}",
            bundle.sha256
        ),
        (None, Some(pin)) if !pin.eq_ignore_ascii_case(&bundle.sha256) => bail!(
            "the RDS certificate bundle at {url} has SHA-256 {}, not the {pin} this stack's last \
             release was deployed with; nothing was changed. If AWS has published a new bundle: \
             {how_to_check}",
            bundle.sha256
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two certificate-shaped blocks (DER SEQUENCEs), as a bundle lays them out.
    pub(crate) fn sample() -> String {
        let block = |fill: u8| {
            let mut der = vec![0x30, 0x82, 0x01, 0x00];
            der.extend(std::iter::repeat_n(fill, 256));
            let encoded = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                lines.join("\n")
            )
        };
        format!("{}{}", block(1), block(2))
    }

    #[test]
    fn the_region_chooses_the_partition_s_bundle() {
        assert_eq!(default_url("eu-west-1"), COMMERCIAL);
        assert_eq!(default_url("us-gov-east-1"), GOVCLOUD);
        assert_eq!(default_url("cn-northwest-1"), CHINA);
    }

    #[test]
    fn a_bundle_is_certificates_and_nothing_else() {
        let text = sample();
        let bundle = parse("u", text.as_bytes()).unwrap();
        assert_eq!(bundle.certificates, 2);
        assert_eq!(bundle.pem, text);
        assert_eq!(bundle.sha256, sha256_hex(text.as_bytes()));
        assert_eq!(bundle.sha256.len(), 64);

        let refused = [
            (String::new(), "is empty"),
            ("<html>captive portal</html>".to_owned(), "something other"),
            (
                format!("{text}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                "certificate 3 is not a PEM certificate",
            ),
            (
                text[..text.len() - 30].to_owned(),
                "certificate 2 has no end",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                    .to_owned(),
                "certificate 1 is not a DER certificate",
            ),
        ];
        for (body, expected) in refused {
            let err = parse("https://x/b.pem", body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(expected), "{body:?}: {err}");
        }
        let err = parse("u", &[0xff, 0xfe]).unwrap_err();
        assert!(err.to_string().contains("not text"), "{err}");
    }

    #[test]
    fn the_stack_file_s_pin_wins_then_the_recorded_one() {
        let bundle = parse("u", sample().as_bytes()).unwrap();
        let same = bundle.sha256.to_uppercase();
        let other = "0".repeat(64);
        // Nothing pinned yet: the first deploy takes it (and records it).
        check(&bundle, "u", None, None).unwrap();
        check(&bundle, "u", None, Some(&same)).unwrap();
        check(&bundle, "u", Some(&same), Some(&other)).unwrap();

        let err = check(&bundle, "u", None, Some(&other)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&other), "{message}");
        assert!(message.contains("last release"), "{message}");
        assert!(
            message.contains(&format!("database.ca_bundle_sha256: {}", bundle.sha256)),
            "the message says how to accept it: {message}"
        );
        let err = check(&bundle, "u", Some(&other), Some(&same)).unwrap_err();
        assert!(err.to_string().contains("pins"), "{err}");
    }
}
