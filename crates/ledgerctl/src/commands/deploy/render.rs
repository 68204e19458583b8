//! The stack a release renders to: the template, its values, the images by digest.

use std::collections::BTreeMap;

use anyhow::Context as _;

use super::facts::Facts;
use super::releases::Release;
use crate::aws;
use crate::commands::stack::{Opened, StackArgs};
use crate::docker::spec::StackSpec;
use crate::docker::template::{self, Values};
use crate::stack::StackConfig;
use crate::stack::config::Topology;

/// The stack template's text and where it came from: the instance's stack, which on an ECS stack
/// is the monitoring alone.
fn template_text(stack: &StackArgs, config: &StackConfig) -> anyhow::Result<(String, String)> {
    match &config.deploy.template {
        None if config.topology == Topology::Ecs => Ok((
            template::OPS_INSTANCE.to_owned(),
            "templates/monitoring.yaml".to_owned(),
        )),
        None => Ok((
            template::BUILT_IN.to_owned(),
            "templates/stack.yaml".to_owned(),
        )),
        Some(path) => {
            let path = stack
                .config
                .parent()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|| path.clone());
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("deploy.template: cannot read {}", path.display()))?;
            Ok((text, path.display().to_string()))
        }
    }
}

/// The stack `release` renders to.
pub(crate) fn render(
    stack: &StackArgs,
    opened: &Opened,
    facts: &Facts,
    registry: &str,
    release: &Release,
    bundle: &aws::rds_ca::Bundle,
) -> anyhow::Result<StackSpec> {
    let config = &opened.config;
    let names = aws::ecr::names(config);
    let values = Values {
        stack: config.stack.clone(),
        domain: config.domain.clone(),
        acme_email: config.acme_email.clone(),
        region: opened.aws.region.clone(),
        version: release.version.clone(),
        images: [
            (
                "api".to_owned(),
                format!("{registry}/{}@{}", names[0], release.api),
            ),
            (
                "ocr".to_owned(),
                format!("{registry}/{}@{}", names[1], release.ocr),
            ),
        ]
        .into(),
        database: facts.database(bundle),
        bucket: facts.bucket.clone(),
        public_api_docs: config.deploy.public_api_docs,
        secrets: [
            ("ocr_callback".to_owned(), facts.callback_secret.clone()),
            ("grafana_admin".to_owned(), facts.grafana_password.clone()),
            ("database_app".to_owned(), facts.app_password.clone()),
        ]
        .into(),
        monitoring: template::monitoring(),
        api_tasks: format!(
            "{}.{}",
            aws::cloud_map::service_name(config),
            aws::cloud_map::NAMESPACE
        ),
        access_logs: format!(
            "s3://{}/{}",
            aws::s3::access_logs::name(config, &facts.account),
            aws::s3::access_logs::key_prefix(&facts.account, &opened.aws.region)
        ),
        network: template::NETWORK,
    };
    let (text, origin) = template_text(stack, config)?;
    template::render(&text, &origin, &values)
}

/// What a release is held to besides its own images: the RDS certificate bundle, and the
/// third-party images' digests known for their tags.
#[derive(Clone, Copy)]
pub(crate) struct Pins<'a> {
    pub(crate) bundle: &'a aws::rds_ca::Bundle,
    pub(crate) images: &'a BTreeMap<String, String>,
}
