//! AWS clients for the stack: the standard credential chain (environment, profiles, SSO, IMDS, web
//! identity), the region from the flags or the stack file, an endpoint override for every client
//! (an emulator; S3 then path-style), and a log of every call — read or mutating — that `plan`
//! and `provision` report and the tests count.

pub(crate) mod access;
pub(crate) mod acm;
pub(crate) mod cloud_map;
pub(crate) mod ec2;
pub(crate) mod ecr;
pub(crate) mod ecs;
pub(crate) mod eip;
pub(crate) mod elb;
pub(crate) mod host_keys;
pub(crate) mod iam;
pub(crate) mod instance;
pub(crate) mod key_pair;
pub(crate) mod lambda;
pub(crate) mod logs;
pub(crate) mod oidc;
pub(crate) mod rds;
pub(crate) mod rds_ca;
pub(crate) mod route53;
pub(crate) mod s3;
pub(crate) mod scaling;
pub(crate) mod sg;
pub(crate) mod ssm;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default)]
pub(crate) struct AwsOptions {
    pub(crate) region: String,
    pub(crate) profile: Option<String>,
    pub(crate) endpoint_url: Option<String>,
}

/// Every AWS call made, in order, and how many changed something.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    reads: AtomicUsize,
    writes: AtomicUsize,
    calls: Mutex<Vec<String>>,
    /// Testing aid: fail the Nth mutating call (1-based), as an interruption would.
    fail_write: Option<usize>,
}

/// Operations that only read.
fn is_read(operation: &str) -> bool {
    ["Describe", "Get", "List", "Head", "Filter"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

impl CallLog {
    pub(crate) fn new() -> Self {
        Self {
            fail_write: std::env::var("LEDGERCTL_FAIL_AT_MUTATING_CALL")
                .ok()
                .and_then(|n| n.parse().ok()),
            ..Self::default()
        }
    }

    pub(crate) fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub(crate) fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn record(&self, service: &str, operation: &str) -> Result<(), BoxError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(format!("{service}:{operation}"));
        }
        if is_read(operation) {
            self.reads.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_write == Some(n) {
            return Err(format!(
                "interrupted before {service}:{operation} (LEDGERCTL_FAIL_AT_MUTATING_CALL={n})"
            )
            .into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Recorder(Arc<CallLog>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "ledgerctl-call-log"
    }

    // Once per operation (not per retry), after the operation's configuration — and so its name
    // — is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("?".into(), "?".into()));
        self.0.record(&service, &operation)
    }
}

/// The clients of one run.
#[derive(Debug, Clone)]
pub(crate) struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) ecr: aws_sdk_ecr::Client,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) lambda: aws_sdk_lambda::Client,
    pub(crate) rds: aws_sdk_rds::Client,
    pub(crate) ssm: aws_sdk_ssm::Client,
    pub(crate) sts: aws_sdk_sts::Client,
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) acm: aws_sdk_acm::Client,
    pub(crate) scaling: aws_sdk_applicationautoscaling::Client,
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    pub(crate) discovery: aws_sdk_servicediscovery::Client,
    pub(crate) route53: aws_sdk_route53::Client,
    pub(crate) region: String,
    pub(crate) log: Arc<CallLog>,
}

impl Aws {
    /// The clients for `options`. The SDK's own settings hold: the credential chain,
    /// `AWS_ENDPOINT_URL_<SERVICE>` over `AWS_ENDPOINT_URL` (both under `--endpoint-url`), and
    /// `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` (or the profile's `max_attempts` / `retry_mode`)
    /// over ledgerctl's more patient default ([`retry_config`]).
    pub(crate) async fn connect(options: &AwsOptions) -> anyhow::Result<Aws> {
        check_retry_env(
            std::env::var("AWS_MAX_ATTEMPTS").ok().as_deref(),
            std::env::var("AWS_RETRY_MODE").ok().as_deref(),
        )?;
        let mut retry = aws_config::default_provider::retry_config::default_provider();
        if let Some(profile) = &options.profile {
            retry = retry.profile_name(profile);
        }
        let retry = retry_config(retry.retry_config().await);
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(options.region.clone()));
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        loader = loader.retry_config(retry);
        let shared = loader.load().await;
        // An emulator (or any endpoint of one's own) serves buckets by path, not by host name.
        let path_style = options.endpoint_url.is_some()
            || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        Ok(Self::from_shared(&shared, path_style))
    }

    /// The clients of `shared`; `path_style`: address S3 buckets by path (an emulator).
    fn from_shared(shared: &aws_config::SdkConfig, path_style: bool) -> Aws {
        let region = shared.region().map(|r| r.to_string()).unwrap_or_default();
        let log = Arc::new(CallLog::new());
        let recorder = Recorder(log.clone());
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(shared)
                .force_path_style(path_style)
                .interceptor(recorder.clone())
                .build(),
        );
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(shared)
                        .interceptor(recorder.clone())
                        .build(),
                )
            };
        }
        Aws {
            s3,
            ec2: client!(aws_sdk_ec2),
            ecr: client!(aws_sdk_ecr),
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            rds: client!(aws_sdk_rds),
            ssm: client!(aws_sdk_ssm),
            sts: client!(aws_sdk_sts),
            ecs: client!(aws_sdk_ecs),
            elb: client!(aws_sdk_elasticloadbalancingv2),
            acm: client!(aws_sdk_acm),
            scaling: client!(aws_sdk_applicationautoscaling),
            logs: client!(aws_sdk_cloudwatchlogs),
            discovery: client!(aws_sdk_servicediscovery),
            route53: client!(aws_sdk_route53),
            region,
            log,
        }
    }

    /// Clients whose every request goes to `http` (a test double), with sleeps that end at once
    /// while the clock moves on, so waiters and retries run in no time.
    #[cfg(test)]
    pub(crate) fn for_test(http: aws_smithy_runtime_api::client::http::SharedHttpClient) -> Aws {
        let (time, sleep) = aws_smithy_async::test_util::instant_time_and_sleep(
            std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        );
        let shared = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                aws_sdk_sts::config::Credentials::new("AKID", "SECRET", None, None, "test"),
            ))
            .http_client(http)
            .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(sleep))
            .time_source(time)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .build();
        Self::from_shared(&shared, false)
    }

    /// The account the credentials belong to.
    pub(crate) async fn account_id(&self) -> anyhow::Result<String> {
        let identity = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(sdk_error(
                "cannot tell which AWS account the credentials are for".into(),
            ))?;
        identity
            .account
            .ok_or_else(|| anyhow::anyhow!("AWS did not say which account the credentials are for"))
    }
}

/// ledgerctl's retries: the standard mode's exponential backoff with jitter, more patient than
/// the SDK's three attempts (a stack makes bursts of calls) — unless `configured`, what the
/// environment and the profile say, is other than the SDK's default: then that.
pub(crate) fn retry_config(
    configured: aws_config::retry::RetryConfig,
) -> aws_config::retry::RetryConfig {
    if configured == aws_config::retry::RetryConfig::standard() {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(8)
            .with_max_backoff(Duration::from_secs(20))
    } else {
        configured
    }
}

/// `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE` as the SDK takes them (it stops the program at a bad
/// one): an error saying what is wrong instead.
pub(crate) fn check_retry_env(
    max_attempts: Option<&str>,
    mode: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(text) = max_attempts.filter(|t| !t.is_empty())
        && !text.parse::<u32>().is_ok_and(|n| n > 0)
    {
        anyhow::bail!("AWS_MAX_ATTEMPTS={text}: give a whole number of attempts, 1 or more");
    }
    if let Some(text) = mode.filter(|t| !t.is_empty())
        && !["standard", "adaptive"].contains(&text.to_ascii_lowercase().as_str())
    {
        anyhow::bail!("AWS_RETRY_MODE={text}: give standard or adaptive");
    }
    Ok(())
}

/// Turns an SDK error into one that says what was being done, with the service's full message.
pub(crate) fn sdk_error<E, R>(
    what: String,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    move |e| {
        anyhow::anyhow!(
            "{what}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        )
    }
}

/// Whether a call failed with the service error `code`: for the errors the SDK does not model
/// (EC2 models none; S3 few). Where the SDK models one, its typed check is used instead:
/// `err.as_service_error().is_some_and(|e| e.is_no_such_entity_exception())`.
pub(crate) fn has_code<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    code: &str,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some(code)
}

/// The reply, or `None` when the call failed because what it names is not there (`absent` tells
/// that error: the SDK's typed check, or [`code`] where the SDK does not model it); any other
/// error says what was being done.
pub(crate) fn found<T, E, R>(
    result: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    absent: impl FnOnce(&E) -> bool,
    what: impl FnOnce() -> String,
) -> anyhow::Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(reply) => Ok(Some(reply)),
        Err(err) if err.as_service_error().is_some_and(absent) => Ok(None),
        Err(err) => Err(sdk_error(what())(err)),
    }
}

/// Whether a call failed with a server error that names no error code: the emulator's 500 for
/// an operation it does not implement (AWS names every error it answers). Only for reads whose
/// answer can be done without (tags, activities).
pub(crate) fn unimplemented<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|e| e.code().is_none())
        && err
            .raw_response()
            .is_some_and(|r| r.status().is_server_error())
}

/// Recognises the service error `code`, for [`found`]: for the errors the SDK does not model.
pub(crate) fn code<E>(code: &str) -> impl FnOnce(&E) -> bool + '_
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    move |err| err.code() == Some(code)
}

/// Turns a waiter's error into one that says what was awaited and, on a timeout, for how long.
pub(crate) fn waited<O, E>(
    what: String,
    timeout: Duration,
) -> impl FnOnce(aws_smithy_runtime_api::client::waiters::error::WaiterError<O, E>) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    O: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::waiters::error::WaiterError;
    move |err| match err {
        WaiterError::ExceededMaxWait(_) => anyhow::anyhow!(
            "gave up waiting for {what} after {} minutes; it may still finish: run the command again later",
            timeout.as_secs().div_ceil(60)
        ),
        WaiterError::FailureState(_) => {
            anyhow::anyhow!("{what}: it ended in a failed state; see the AWS console")
        }
        other => anyhow::anyhow!(
            "while waiting for {what}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&other)
        ),
    }
}

/// Whether a resource carries the stack's tag: destroy touches nothing else.
pub(crate) fn owned(tags: &BTreeMap<String, String>, config: &crate::stack::StackConfig) -> bool {
    tags.get(crate::stack::config::STACK_TAG) == Some(&config.stack)
}

/// An error unless `what` (with its `tags`) carries the stack's tag: before any delete.
pub(crate) fn ensure_owned(
    tags: &BTreeMap<String, String>,
    config: &crate::stack::StackConfig,
    what: std::fmt::Arguments<'_>,
) -> anyhow::Result<()> {
    if owned(tags, config) {
        Ok(())
    } else {
        anyhow::bail!("{what} does not carry this stack's tag; leaving it alone")
    }
}

/// How many times a call that fails on IAM's eventual consistency is tried.
pub(crate) const PROPAGATION_ATTEMPTS: u32 = 8;
/// The first wait between such tries; it doubles, up to 20 s (about 90 s in all).
pub(crate) const PROPAGATION_DELAY: Duration = Duration::from_secs(2);

/// Calls `call` until it succeeds, fails with an error `propagating` does not recognise, or
/// has been tried `attempts` times: a role or instance profile made a moment ago is not visible
/// to Lambda or EC2 for 10 to 30 s. Each retry is logged with what is happening.
pub(crate) async fn retry_propagation<T, E, Fut>(
    what: &str,
    attempts: u32,
    first_delay: Duration,
    propagating: impl Fn(&E) -> bool,
    mut call: impl FnMut() -> Fut,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut delay = first_delay;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if attempt < attempts && propagating(&err) => {
                tracing::info!(
                    "{what}: IAM has not propagated the new role yet; trying again in {} s ({attempt} of {attempts})",
                    delay.as_secs_f32()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
                attempt += 1;
            }
            other => return other,
        }
    }
}
