//! What a deploy needs to know of the provisioned stack: its repositories, bucket, database,
//! secrets and the RDS certificate bundle, read once.

use anyhow::Context as _;

use super::reach::instance_endpoint;
use crate::aws::{self, Aws};
use crate::commands::stack::Opened;
use crate::docker::template::Database;
use crate::stack::StackConfig;

/// What the stack has that a deploy needs.
pub(crate) struct Facts {
    /// The AWS account's id.
    pub(crate) account: String,
    /// The ECR repositories' URIs: API, OCR.
    pub(crate) repositories: [String; 2],
    pub(crate) address: String,
    /// The instance the Elastic IP is associated with.
    pub(crate) instance: Option<String>,
    /// The database's endpoint.
    pub(crate) database_host: String,
    pub(crate) database_port: u16,
    pub(crate) master_password: secrecy::SecretString,
    pub(crate) app_password: secrecy::SecretString,
    pub(crate) bucket: String,
    pub(crate) callback_secret: secrecy::SecretString,
    pub(crate) grafana_password: secrecy::SecretString,
    pub(crate) function: String,
    pub(crate) function_exists: bool,
}

pub(crate) fn missing(config: &StackConfig, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the stack {} has no {what} yet; run ledgerctl provision first",
        config.stack
    )
}

pub(crate) async fn read(aws: &Aws, config: &StackConfig) -> anyhow::Result<Facts> {
    let names = aws::ecr::names(config);
    let database_id = aws::rds::identifier(config);
    let no_extra = Default::default();
    let password_name = aws::ssm::database_password(config).name;
    let app_password_name = aws::ssm::app_password(config).name;
    let secret_name = aws::ssm::callback_secret(config).name;
    let grafana_name = aws::ssm::grafana_password(config).name;
    let function_name = aws::lambda::name(config);
    let (api, ocr, address, database, password, app_password, secret, grafana, function, account) = tokio::join!(
        aws::ecr::repository_uri(aws, &names[0]),
        aws::ecr::repository_uri(aws, &names[1]),
        instance_endpoint(aws, config),
        aws::rds::observe(aws, &database_id, &no_extra),
        aws::ssm::value(aws, &password_name),
        aws::ssm::value(aws, &app_password_name),
        aws::ssm::value(aws, &secret_name),
        aws::ssm::value(aws, &grafana_name),
        aws::lambda::observe(aws, &function_name),
        aws.account_id(),
    );
    let (address, instance) = address?;
    let account = account?;
    let database = database?.ok_or_else(|| missing(config, "database"))?;
    let endpoint = database.endpoint.with_context(|| {
        format!(
            "the database {} has no endpoint yet (it is {}); deploy again when it is available",
            aws::rds::identifier(config),
            database.status
        )
    })?;
    let (host, port) = match endpoint.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
        None => (endpoint.clone(), 5432),
    };
    Ok(Facts {
        bucket: aws::s3::name(config, &account),
        account,
        repositories: [api?, ocr?],
        address,
        instance,
        database_host: host,
        database_port: port,
        master_password: password?,
        app_password: app_password?,
        callback_secret: secret?,
        grafana_password: grafana?,
        function: function_name,
        function_exists: function?.is_some(),
    })
}

impl Facts {
    /// The database as the template sees it, verified against `bundle`.
    pub(crate) fn database(&self, bundle: &aws::rds_ca::Bundle) -> Database {
        let url = |user: &str, password: &secrecy::SecretString| -> secrecy::SecretString {
            format!(
                "postgres://{user}:{}@{}:{}/{}?sslmode=verify-full&sslrootcert={}",
                secrecy::ExposeSecret::expose_secret(password),
                self.database_host,
                self.database_port,
                aws::rds::DATABASE,
                aws::rds_ca::FILE
            )
            .into()
        };
        Database {
            url: url(aws::rds::APP_USER, &self.app_password),
            master_url: url(aws::rds::MASTER_USER, &self.master_password),
            host: self.database_host.clone(),
            port: self.database_port,
            name: aws::rds::DATABASE.to_owned(),
            user: aws::rds::APP_USER.to_owned(),
            master_user: aws::rds::MASTER_USER.to_owned(),
            ca_file: aws::rds_ca::FILE.to_owned(),
            ca_bundle: bundle.pem.clone(),
        }
    }
}

/// The RDS certificate bundle, fetched and checked against its pin: the stack file's, else
/// `pinned` (the one the current release was deployed with).
pub(crate) async fn ca_bundle(
    opened: &Opened,
    pinned: Option<&str>,
) -> anyhow::Result<aws::rds_ca::Bundle> {
    let config = &opened.config;
    let url = config.database.ca_bundle_url(&opened.aws.region);
    let bundle = aws::rds_ca::fetch(&url).await?;
    aws::rds_ca::check(
        &bundle,
        &url,
        config.database.ca_bundle_sha256.as_deref(),
        pinned,
    )?;
    Ok(bundle)
}
