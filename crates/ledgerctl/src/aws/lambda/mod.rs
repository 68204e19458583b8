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

use anyhow::Context as _;
use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::types::{Environment, PackageType};

use crate::aws::{
    Aws, PROPAGATION_ATTEMPTS, PROPAGATION_DELAY, retry_propagation, sdk_error, waited,
};
use crate::stack::{Change, Diff, ResourceChange, StackConfig};
use permission::permission_source;

pub(crate) const FUNCTION: &str = "lambda function";

/// How long a created or updated function may take to become ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Where the API puts uploads.
pub(crate) const RECEIPTS_PREFIX: &str = "receipts/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    pub(crate) role_arn: String,
    pub(crate) memory_mb: i32,
    pub(crate) timeout_seconds: i32,
    pub(crate) environment: BTreeMap<String, String>,
    /// The OCR repository, where the image comes from.
    pub(crate) repository: String,
    /// The image to create the function from: the repository's newest, if it has one (the
    /// function's own once it exists). `None`: the function waits for the first deploy.
    pub(crate) image: Option<String>,
    pub(crate) bucket: String,
    pub(crate) account: String,
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
    /// The bucket S3 may invoke it for, per our permission statement (`None`: no statement).
    pub(crate) permission_source: Option<String>,
}

pub(crate) fn name(config: &StackConfig) -> String {
    config.name("ocr")
}

fn arn(desired: &Desired, region: &str) -> String {
    format!(
        "arn:aws:lambda:{region}:{}:function:{}",
        desired.account, desired.name
    )
}

pub(crate) fn desired(
    config: &StackConfig,
    account: &str,
    region: &str,
    bucket: &str,
    image: Option<String>,
) -> Desired {
    let mut environment = BTreeMap::from([
        (
            "LEDGERLY_API_URL".to_owned(),
            format!("https://{}", config.domain),
        ),
        (
            "LEDGERLY__OCR__CALLBACK_SECRET_PARAMETER".to_owned(),
            super::ssm::callback_secret(config).name,
        ),
        ("LEDGERLY__STORAGE__BUCKET".to_owned(), bucket.to_owned()),
        ("LEDGERLY__STORAGE__REGION".to_owned(), region.to_owned()),
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
    Desired {
        name: name(config),
        role_arn: format!("arn:aws:iam::{account}:role/{}", config.name("lambda")),
        memory_mb: i32::try_from(config.lambda.memory_mb).unwrap_or(10240),
        timeout_seconds: i32::try_from(config.lambda.timeout_seconds).unwrap_or(900),
        environment,
        repository: super::ecr::names(config)[1].clone(),
        image,
        bucket: bucket.to_owned(),
        account: account.to_owned(),
        tags: config.tags(),
    }
}

/// The newest image in `repository`, by digest; `None` if it has none (or does not exist yet).
pub(crate) async fn newest_image(
    aws: &Aws,
    account: &str,
    repository: &str,
) -> anyhow::Result<Option<String>> {
    let mut images = Vec::new();
    let mut pages = aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => images.extend(page.image_details().iter().cloned()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_repository_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => {
                return Err(sdk_error(format!("listing the images in {repository}"))(
                    err,
                ));
            }
        }
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

pub(crate) async fn observe(aws: &Aws, name: &str) -> anyhow::Result<Option<Observed>> {
    let reply = match aws.lambda.get_function().function_name(name).send().await {
        Ok(reply) => reply,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(sdk_error(format!("reading the function {name}"))(err)),
    };
    let configuration = reply
        .configuration()
        .context("GetFunction answered without the configuration")?;
    let permission_source = match aws.lambda.get_policy().function_name(name).send().await {
        Ok(policy) => policy.policy().and_then(permission_source),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(err) => return Err(sdk_error(format!("reading {name}'s permissions"))(err)),
    };
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
        permission_source,
    }))
}

pub(crate) fn diff(desired: &Desired, observed: Option<&Observed>) -> ResourceChange {
    let change = match observed {
        None if desired.image.is_none() => Change::Waiting {
            reason: format!(
                "no image in {} yet; `ledgerctl deploy` pushes one and creates the function",
                desired.repository
            ),
        },
        None => Change::Create,
        Some(have) => {
            let mut diff = Diff::default();
            diff.field("memory_mb", have.memory_mb, desired.memory_mb);
            diff.field(
                "timeout_seconds",
                have.timeout_seconds,
                desired.timeout_seconds,
            );
            diff.field("role", &have.role_arn, &desired.role_arn);
            let shown = |env: &BTreeMap<String, String>| {
                env.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            diff.field(
                "environment",
                shown(&have.environment),
                shown(&desired.environment),
            );
            diff.tags(&have.tags, &desired.tags);
            diff.into_change()
        }
    };
    ResourceChange {
        kind: FUNCTION,
        name: desired.name.clone(),
        change,
    }
}

/// Creates the function from `desired.image` (retrying while IAM propagates its new role) or
/// updates its configuration, and waits until it is ready. The function's ARN.
pub(crate) async fn apply(
    aws: &Aws,
    desired: &Desired,
    observed: Option<&Observed>,
) -> anyhow::Result<()> {
    let name = &desired.name;
    let environment = Environment::builder()
        .set_variables(Some(desired.environment.clone().into_iter().collect()))
        .build();
    let Some(have) = observed else {
        let image = desired
            .image
            .as_ref()
            .with_context(|| format!("no image in {} to create {name} from", desired.repository))?;
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
                .role(&desired.role_arn)
                .memory_size(desired.memory_mb)
                .timeout(desired.timeout_seconds)
                .environment(environment.clone())
                .description("Ledgerly: reads receipts uploaded to the bucket")
                .set_tags(Some(desired.tags.clone().into_iter().collect()))
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
        match created {
            Ok(_) => {}
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_conflict_exception()) => {}
            Err(err) => return Err(sdk_error(format!("creating the function {name}"))(err)),
        }
        return aws
            .lambda
            .wait_until_function_active_v2()
            .function_name(name)
            .wait(READY_TIMEOUT)
            .await
            .map(drop)
            .map_err(waited(
                format!("the function {name} to become active"),
                READY_TIMEOUT,
            ));
    };
    if have.memory_mb != desired.memory_mb
        || have.timeout_seconds != desired.timeout_seconds
        || have.role_arn != desired.role_arn
        || have.environment != desired.environment
    {
        aws.lambda
            .update_function_configuration()
            .function_name(name)
            .role(&desired.role_arn)
            .memory_size(desired.memory_mb)
            .timeout(desired.timeout_seconds)
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
    if crate::stack::tags_missing(&desired.tags, &have.tags) {
        aws.lambda
            .tag_resource()
            .resource(&have.arn)
            .set_tags(Some(desired.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(sdk_error(format!("tagging {name}")))?;
    }
    Ok(())
}

/// Deletes the stack's function (its permission goes with it); whether there was one.
pub(crate) async fn delete(aws: &Aws, config: &StackConfig) -> anyhow::Result<bool> {
    let name = name(config);
    let Some(have) = observe(aws, &name).await? else {
        return Ok(false);
    };
    super::ensure_owned(&have.tags, config, format_args!("the function {name}"))?;
    match aws
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(sdk_error(format!("deleting the function {name}"))(err)),
    }
}

/// Points the function at `image` (by digest) and waits until the update has succeeded; false
/// when it already runs that image.
pub(crate) async fn update_image(aws: &Aws, name: &str, image: &str) -> anyhow::Result<bool> {
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
