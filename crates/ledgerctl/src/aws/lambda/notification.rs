//! The bucket's object-created notification for `receipts/`, sent to the function.

use anyhow::{Context as _, Result};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};

use super::RECEIPTS_PREFIX;
use crate::aws::{Aws, code, found, sdk_error};
use crate::stack::resource::{Known, Resource};
use crate::stack::{Change, Diff, StackConfig};

/// The notification's id among the bucket's.
const NOTIFICATION_ID: &str = "ledgerly-ocr";

/// Sends the bucket's new receipts to the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub(crate) bucket: String,
    /// The function's name, and its ARN.
    pub(crate) function: String,
    pub(crate) function_arn: String,
}

/// The bucket's notification as S3 has it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observed {
    /// Ours: the function, events and key prefix; `None` if the bucket has none of ours.
    pub(crate) ours: Option<(String, Vec<String>, String)>,
    /// Everything else configured on the bucket, kept as it is.
    pub(crate) others: NotificationConfiguration,
}

/// The bucket's notifications; `None` when there is no bucket.
async fn observe(aws: &Aws, bucket: &str) -> Result<Option<Observed>> {
    let reply = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await;
    let reply = match reply {
        // Some S3-compatible servers (the emulator among them) answer a bucket with no
        // notifications with an empty element of another name, which the SDK cannot parse.
        Err(err) if empty_reply(&err) => {
            return Ok(Some(Observed {
                ours: None,
                others: NotificationConfiguration::builder().build(),
            }));
        }
        reply => found(reply, code("NoSuchBucket"), || {
            format!("reading {bucket}'s notifications")
        })?,
    };
    let Some(reply) = reply else {
        return Ok(None);
    };
    let (ours, theirs): (Vec<_>, Vec<_>) = reply
        .lambda_function_configurations()
        .iter()
        .cloned()
        .partition(|c| c.id() == Some(NOTIFICATION_ID));
    let ours = ours.first().map(|c| {
        let prefix = c
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .find(|r| {
                r.name()
                    .is_some_and(|n| n.as_str().eq_ignore_ascii_case("prefix"))
            })
            .and_then(|r| r.value())
            .unwrap_or_default()
            .to_owned();
        (
            c.lambda_function_arn().to_owned(),
            c.events().iter().map(|e| e.as_str().to_owned()).collect(),
            prefix,
        )
    });
    let others = NotificationConfiguration::builder()
        .set_topic_configurations(Some(reply.topic_configurations().to_vec()))
        .set_queue_configurations(Some(reply.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(theirs))
        .set_event_bridge_configuration(reply.event_bridge_configuration().cloned())
        .build();
    Ok(Some(Observed { ours, others }))
}

/// A 200 reply whose body is one empty XML element: no configuration at all.
fn empty_reply<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> bool {
    let Some(raw) = err.raw_response() else {
        return false;
    };

    let body = raw.body().bytes().map(String::from_utf8_lossy);
    raw.status().is_success()
        && body.is_some_and(|b| {
            let b = b.trim();
            let b = match b.strip_prefix("<?xml") {
                Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r).trim(),
                None => b,
            };
            b.starts_with('<') && b.ends_with("/>") && b.matches('<').count() == 1
        })
}

impl Resource for Notification {
    type Observed = Observed;
    const KIND: &'static str = "s3 notification";
    const AFTER: &'static [&'static str] = &["lambda permission", "s3 bucket"];

    async fn desired(_: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<Self>> {
        let function = super::name(config);
        Ok(vec![Notification {
            bucket: crate::aws::s3::name(config, &known.account),
            function_arn: format!(
                "arn:aws:lambda:{}:{}:function:{function}",
                known.region, known.account
            ),
            function,
        }])
    }

    fn name(&self) -> String {
        format!("{}/{NOTIFICATION_ID}", self.bucket)
    }

    async fn observe(&self, aws: &Aws, _: &Known) -> Result<Option<Observed>> {
        observe(aws, &self.bucket).await
    }

    fn diff(&self, observed: Option<&Observed>, known: &Known) -> Change {
        match observed.and_then(|o| o.ours.as_ref()) {
            None if known.function_waits => Change::Waiting {
                reason: format!("follows the function {}", self.function),
            },
            None => Change::Create,
            Some((function, events, prefix)) => {
                let mut diff = Diff::default();
                diff.field("function", function, &self.function_arn);
                diff.field("events", events.join(","), "s3:ObjectCreated:*");
                diff.field("prefix", prefix, RECEIPTS_PREFIX);
                diff.into_change()
            }
        }
    }

    /// Sets the bucket's notification for new receipts, keeping every other notification it
    /// has.
    async fn apply(&self, aws: &Aws, observed: Option<&Observed>, _: &mut Known) -> Result<()> {
        let ours = LambdaFunctionConfiguration::builder()
            .id(NOTIFICATION_ID)
            .lambda_function_arn(&self.function_arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(
                NotificationConfigurationFilter::builder()
                    .key(
                        S3KeyFilter::builder()
                            .filter_rules(
                                FilterRule::builder()
                                    .name(FilterRuleName::Prefix)
                                    .value(RECEIPTS_PREFIX)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
            .context("building the notification")?;
        let others = observed
            .map(|o| o.others.clone())
            .unwrap_or_else(|| NotificationConfiguration::builder().build());
        let mut lambdas = others.lambda_function_configurations().to_vec();
        lambdas.push(ours);
        let configuration = NotificationConfiguration::builder()
            .set_topic_configurations(Some(others.topic_configurations().to_vec()))
            .set_queue_configurations(Some(others.queue_configurations().to_vec()))
            .set_lambda_function_configurations(Some(lambdas))
            .set_event_bridge_configuration(others.event_bridge_configuration().cloned())
            .build();
        aws.s3
            .put_bucket_notification_configuration()
            .bucket(&self.bucket)
            .notification_configuration(configuration)
            .send()
            .await
            .map_err(sdk_error(format!(
                "sending {}'s new receipts to {}",
                self.bucket, self.function
            )))?;
        Ok(())
    }

    /// Removes our notification from the bucket, keeping the others.
    async fn delete(aws: &Aws, config: &StackConfig, known: &Known) -> Result<Vec<String>> {
        let bucket = crate::aws::s3::name(config, &known.account);
        let Some(observed) = observe(aws, &bucket).await? else {
            return Ok(vec![]);
        };
        if observed.ours.is_none() {
            return Ok(vec![]);
        }
        aws.s3
            .put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(observed.others)
            .send()
            .await
            .map_err(sdk_error(format!("removing {bucket}'s OCR notification")))?;
        Ok(vec![format!("{bucket}/{NOTIFICATION_ID}")])
    }
}
