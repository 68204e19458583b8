//! The OCR Lambda and what wires it to the bucket: the function (a container image from the OCR
//! repository, its memory, timeout, role and environment), the permission letting S3 invoke it,
//! and the bucket's object-created notification for `receipts/`.
//!
//! A Lambda cannot exist without an image: from zero, the function waits for the first
//! `ledgerctl deploy` to push one (plan and provision say so). Provision creates the function
//! from the newest image in the repository and never changes its code afterwards — deploy
//! points it at each release.

pub(crate) mod notification;
pub(crate) mod permission;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::types::{Environment, PackageType};

use crate::aws::{
    Aws, PROPAGATION_ATTEMPTS, PROPAGATION_DELAY, found, retry_propagation, sdk_error, waited,
};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// How long a created or updated function may take to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Where the API puts uploads.
pub(crate) const RECEIPTS_PREFIX: &str = "receipts/";

/// The OCR function, as the stack file wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) role_arn: String,
    pub(crate) memory_mb: i32,
    pub(crate) timeout_seconds: i32,
    pub(crate) environment: BTreeMap<String, String>,
    /// The OCR repository, where the image comes from.
    pub(crate) repository: String,
    /// The image to create the function from: the repository's newest, if it has one. `None`:
    /// a function that does not exist yet waits for the first deploy.
    pub(crate) image: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) arn: String,
    pub(crate) role_arn: String,
    pub(crate) memory_mb: i32,
    pub(crate) timeout_seconds: i32,
    pub(crate) environment: BTreeMap<String, String>,
    pub(crate) image: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
}

pub(crate) fn name(config: &StackConfig) -> String {
    config.name("ocr")
}

/// The newest image in `repository`, by digest; `None` if it has none (or does not exist yet).
async fn newest_image(aws: &Aws, account: &str, repository: &str) -> Result<Option<String>> {
    let mut images = Vec::new();
    let mut pages = aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let Some(page) = found(
            page,
            |e| e.is_repository_not_found_exception(),
            || format!("listing the images in {repository}"),
        )?
        else {
            return Ok(None);
        };
        images.extend(page.image_details().iter().cloned());
    }
    Ok(images
        .iter()
        .filter(|i| i.image_digest().is_some())
        .max_by_key(|i| i.image_pushed_at().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|i| {
            Some(format!(
                "{account}.dkr.ecr.{}.amazonaws.com/{repository}@{}",
                aws.region,
                i.image_digest()?
            ))
        }))
}

/// The function named `name` as Lambda has it; `None` if there is none.
pub(crate) async fn observe(aws: &Aws, name: &str) -> Result<Option<Observed>> {
    let reply = found(
        aws.lambda.get_function().function_name(name).send().await,
        |e| e.is_resource_not_found_exception(),
        || format!("reading the function {name}"),
    )?;
    let Some(reply) = reply else {
        return Ok(None);
    };
    let configuration = reply
        .configuration()
        .context("GetFunction answered without the configuration")?;
    Ok(Some(Observed {
        arn: configuration.function_arn().unwrap_or_default().to_owned(),
        role_arn: configuration.role().unwrap_or_default().to_owned(),
        memory_mb: configuration.memory_size().unwrap_or_default(),
        timeout_seconds: configuration.timeout().unwrap_or_default(),
        environment: configuration
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        image: reply
            .code()
            .and_then(|c| c.image_uri().or(c.resolved_image_uri()))
            .map(str::to_owned),
        tags: reply
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

impl Function {
    /// The function as the stack file wants it, created (if it must be) from `image`.
    pub(crate) fn of(config: &StackConfig, known: &Known, image: Option<String>) -> Function {
        let account = &known.account;
        let mut environment = BTreeMap::from([
            (
                "LEDGERLY_API_URL".to_owned(),
                format!("https://{}", config.domain),
            ),
            (
                "LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER".to_owned(),
                super::ssm::callback_secret(config).name,
            ),
            (
                "LEDGERLY__STORAGE__BUCKET".to_owned(),
                super::s3::name(config, account),
            ),
            ("LEDGERLY__STORAGE__REGION".to_owned(), known.region.clone()),
            (
                "LEDGERLY__EXTRACTOR__BACKEND".to_owned(),
                config.ocr.backend.clone(),
            ),
        ]);
        // The key itself stays in SSM: the function reads it at cold start (its role may).
        if let Some(parameter) = &config.ocr.api_key_parameter {
            environment.insert(
                "LEDGERLY__EXTRACTOR__API_KEY_PARAMETER".to_owned(),
                parameter.clone(),
            );
        }
        Function {
            name: name(config),
            role_arn: format!("arn:aws:iam::{account}:role/{}", config.name("lambda")),
            memory_mb: i32::try_from(config.lambda.memory_mb).unwrap_or(10240),
            timeout_seconds: i32::try_from(config.lambda.timeout_seconds).unwrap_or(900),
            environment,
            repository: super::ecr::names(config)[1].clone(),
            image,
            tags: config.tags(),
        }
    }

    /// Creates the function from `self.image` (retrying while IAM propagates its new role) and
    /// waits until it is active.
    async fn create(&self, aws: &Aws, environment: Environment) -> Result<()> {
        let name = &self.name;
        let image = self
            .image
            .as_ref()
            .with_context(|| format!("no image in {} to create {name} from", self.repository))?;
        let create = || {
            aws.lambda
                .create_function()
                .function_name(name)
                .package_type(PackageType::Image)
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .image_uri(image)
                        .build(),
                )
                .role(&self.role_arn)
                .memory_size(self.memory_mb)
                .timeout(self.timeout_seconds)
                .environment(environment.clone())
                .description("Ledgerly: reads receipts uploaded to the bucket")
                .set_tags(Some(self.tags.clone().into_iter().collect()))
                .send()
        };
        let created = retry_propagation(
            &format!("creating the function {name}"),
            PROPAGATION_ATTEMPTS,
            PROPAGATION_DELAY,
            |err| {
                err.as_service_error()
                    .is_some_and(|e| e.is_invalid_parameter_value_exception())
                    && format!("{err:?}").contains("cannot be assumed")
            },
            create,
        )
        .await;
        // Created by a run that was interrupted before it could wait for it: fine.
        found(
            created,
            |e| e.is_resource_conflict_exception(),
            || format!("creating the function {name}"),
        )?;
        aws.lambda
            .wait_until_function_active_v2()
            .function_name(name)
            .wait(READY_TIMEOUT)
            .await
            .map(drop)
            .map_err(waited(
                format!("the function {name} to become active"),
                READY_TIMEOUT,
            ))
    }

    /// Updates the function's configuration where it differs from `have`, and waits until the
    /// update has finished; adds the tags it lacks.
    async fn update(&self, aws: &Aws, have: &Observed, environment: Environment) -> Result<()> {
        let name = &self.name;
        if have.memory_mb != self.memory_mb
            || have.timeout_seconds != self.timeout_seconds
            || have.role_arn != self.role_arn
            || have.environment != self.environment
        {
            aws.lambda
                .update_function_configuration()
                .function_name(name)
                .role(&self.role_arn)
                .memory_size(self.memory_mb)
                .timeout(self.timeout_seconds)
                .environment(environment)
                .send()
                .await
                .map_err(sdk_error(format!("updating {name}'s configuration")))?;
            aws.lambda
                .wait_until_function_updated_v2()
                .function_name(name)
                .wait(READY_TIMEOUT)
                .await
                .map_err(waited(format!("{name}'s update to finish"), READY_TIMEOUT))?;
        }
        if crate::stack::tags_missing(&self.tags, &have.tags) {
            aws.lambda
                .tag_resource()
                .resource(&have.arn)
                .set_tags(Some(self.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(sdk_error(format!("tagging {name}")))?;
        }
        Ok(())
    }
}

impl Resource for Function {
    type Observed = Observed;
    const KIND: &'static str = "lambda function";
    const AFTER: &'static [&'static str] =
        &["iam role", "ecr repository", "s3 bucket", "ssm secret"];

    /// Reads the OCR repository's newest image: the function is created from it (and waits for
    /// the first deploy while there is none).
    async fn desired(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let repositories = super::ecr::names(config);
        let image = newest_image(aws, &known.account, &repositories[1]).await?;
        Ok(vec![Function::of(config, known, image)])
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.name).await
    }

    /// Without an image to create it from, what follows the function waits too.
    fn learn(&self, observed: Option<&Observed>, known: &mut Known) {
        known.function_waits = observed.is_none() && self.image.is_none();
    }

    fn diff(&self, observed: Option<&Observed>, _: &Known) -> Change {
        let have = match observed {
            None if self.image.is_none() => {
                return Change::Waiting {
                    reason: format!(
                        "no image in {} yet; `ledgerctl deploy` pushes one and creates the function",
                        self.repository
                    ),
                };
            }
            None => return Change::Create,
            Some(have) => have,
        };
        let mut diff = Diff::default();
        diff.field("memory_mb", have.memory_mb, self.memory_mb);
        diff.field(
            "timeout_seconds",
            have.timeout_seconds,
            self.timeout_seconds,
        );
        diff.field("role", &have.role_arn, &self.role_arn);
        let shown = |env: &BTreeMap<String, String>| {
            env.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        diff.field(
            "environment",
            shown(&have.environment),
            shown(&self.environment),
        );
        diff.tags(&have.tags, &self.tags);
        diff.into_change()
    }

    /// Creates the function from `self.image` or updates its configuration (never its code:
    /// deploy points it at each release), and waits until it is ready.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let environment = Environment::builder()
            .set_variables(Some(self.environment.clone().into_iter().collect()))
            .build();
        match observed {
            None => self.create(aws, environment).await,
            Some(have) => self.update(aws, have, environment).await,
        }
    }

    /// Deletes the stack's function (its permission goes with it).
    async fn delete(aws: &Aws, config: &StackConfig, _: &Known) -> Result<Vec<String>> {
        let name = name(config);
        let Some(have) = observe(aws, &name).await? else {
            return Ok(vec![]);
        };
        super::ensure_owned(&have.tags, config, format_args!("the function {name}"))?;
        let reply = aws
            .lambda
            .delete_function()
            .function_name(&name)
            .send()
            .await;
        let deleted = found(
            reply,
            |e| e.is_resource_not_found_exception(),
            || format!("deleting the function {name}"),
        )?;
        Ok(deleted.map(|_| name).into_iter().collect())
    }
}

/// Points the function at `image` (by digest) and waits until the update has succeeded; false
/// when it already runs that image.
pub(crate) async fn update_image(aws: &Aws, name: &str, image: &str) -> Result<bool> {
    let current = observe(aws, name).await?.with_context(|| {
        format!("the function {name} does not exist; run ledgerctl provision to create it")
    })?;
    if current.image.as_deref() == Some(image) {
        return Ok(false);
    }
    aws.lambda
        .update_function_code()
        .function_name(name)
        .image_uri(image)
        .publish(true)
        .send()
        .await
        .map_err(sdk_error(format!("pointing {name} at {image}")))?;
    aws.lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(READY_TIMEOUT)
        .await
        .map_err(waited(
            format!("{name}'s code update to succeed"),
            READY_TIMEOUT,
        ))?;
    Ok(true)
}
