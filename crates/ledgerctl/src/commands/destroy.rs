//! `ledgerctl destroy`: deletes every resource of the stack, in the reverse of the order
//! provision makes them, touching only what carries the stack's tag. Already-deleted resources
//! are fine, so an interrupted destroy finishes when run again. The database leaves a final
//! snapshot unless told not to; receipts in the bucket are never deleted without
//! `--delete-receipts`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::progress::Progress;
use super::stack::{Output, StackArgs};
use crate::aws;

/// Delete the stack's AWS resources (only those tagged for it).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Delete the database without taking a final snapshot (its data is then gone for good).
    #[arg(long)]
    skip_final_snapshot: bool,
    /// Also delete the receipts stored in the bucket (otherwise a bucket holding any stops
    /// destroy before it deletes anything).
    #[arg(long)]
    delete_receipts: bool,
}

/// How many resources a whole stack has: the notification, the function, the address, the
/// instance, the database and its subnet group, three security groups, three roles (one opt-in), two
/// repositories, the bucket, three secrets, deploy's release history and the key pair.
const RESOURCES: usize = 20;

#[derive(Debug, Serialize)]
struct Deleted {
    kind: &'static str,
    name: String,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let account = aws.account_id().await?;
    let bucket = aws::s3::name(config, &account);
    if !args.delete_receipts
        && let Some(count) = aws::s3::count_objects(aws, &bucket, 1000).await?
        && count > 0
    {
        bail!(
            "the bucket {bucket} holds {}{count} receipt files; copy them first \
             (aws s3 sync s3://{bucket} ./receipts) or pass --delete-receipts to delete them with the stack",
            if count >= 1000 { "at least " } else { "" }
        );
    }
    if let Some(database) =
        aws::rds::observe(aws, &aws::rds::identifier(config), &Default::default()).await?
        && database.deletion_protection
    {
        bail!(
            "the database {} has deletion protection on; set database.deletion_protection: false \
             in the stack file and run `ledgerctl provision`, then destroy again",
            aws::rds::identifier(config)
        );
    }
    let snapshot = (!args.skip_final_snapshot).then(|| {
        format!(
            "{}-final-{}",
            aws::rds::identifier(config),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        )
    });
    if !args.yes {
        confirm(&config.stack, &aws.region, snapshot.as_deref())?;
    }
    let text = args.stack.output == Output::Text;
    let progress = Progress::new(
        &format!("destroying {}", config.stack),
        RESOURCES,
        text && !args.stack.quiet,
    );
    let mut deleted = Vec::new();
    let mut gone = |kind: &'static str, name: String, was: bool| {
        if was {
            progress.done(&format!("- {kind} {name}"));
            deleted.push(Deleted { kind, name });
        }
    };
    let result: anyhow::Result<()> = async {
        let was = aws::lambda::notification::delete(aws, &bucket).await?;
        gone(aws::lambda::notification::KIND, bucket.clone(), was);
        let was = aws::lambda::delete(aws, config).await?;
        gone(aws::lambda::FUNCTION, aws::lambda::name(config), was);
        let was = aws::eip::delete(aws, config).await?;
        gone(aws::eip::KIND, config.name("ip"), was);
        // The instance and the database go at once: each takes minutes.
        let (instances, database) = tokio::try_join!(
            aws::instance::delete(aws, config),
            aws::rds::delete(aws, config, snapshot.as_deref())
        )?;
        gone(
            aws::instance::KIND,
            aws::instance::name(config),
            instances > 0,
        );
        gone(aws::rds::INSTANCE, aws::rds::identifier(config), database);
        let was = aws::rds::delete_subnet_group(aws, config).await?;
        gone(aws::rds::SUBNET_GROUP, config.name("db"), was);
        for name in aws::sg::delete(aws, config).await? {
            gone(aws::sg::KIND, name, true);
        }
        let targets = aws::iam::Targets {
            account: account.clone(),
            region: aws.region.clone(),
            bucket: bucket.clone(),
            repositories: aws::ecr::names(config).to_vec(),
        };
        // The GitHub deploy role also when the stack file no longer has its section (the OIDC
        // provider is account-wide and stays).
        let github = config
            .github
            .clone()
            .unwrap_or(crate::stack::config::GithubConfig {
                repository: "-/-".into(),
                environment: "-".into(),
                branch: "-".into(),
                workflow: "-".into(),
            });
        for role in [
            aws::iam::github_role(config, &targets, &github),
            aws::iam::instance_role(config, &targets),
            aws::iam::lambda_role(config, &targets),
        ] {
            let was = aws::iam::delete(aws, config, &role).await?;
            gone(aws::iam::ROLE, role.name, was);
        }
        for name in aws::ecr::names(config) {
            let was = aws::ecr::delete(aws, config, &name).await?;
            gone(aws::ecr::KIND, name, was);
        }
        let was = aws::s3::delete(aws, config, &bucket).await?;
        gone(aws::s3::KIND, bucket.clone(), was);
        for secret in aws::ssm::generated_secrets(config) {
            let was = aws::ssm::delete(aws, config, &secret.name).await?;
            gone(aws::ssm::KIND, secret.name, was);
        }
        // Deploy's release history, once there has been a deploy.
        let releases = aws::ssm::releases(config);
        let was = aws::ssm::delete(aws, config, &releases).await?;
        gone(aws::ssm::RELEASES, releases, was);
        // The third-party image digests of the recorded releases.
        let images = aws::ssm::images(config);
        let was = aws::ssm::delete(aws, config, &images).await?;
        gone(aws::ssm::RELEASES, images, was);
        // The instance's SSH host keys, once something has connected to it.
        let host_keys = aws::host_keys::parameter(config);
        let was = aws::ssm::delete(aws, config, &host_keys).await?;
        gone(aws::host_keys::KIND, host_keys, was);
        let was = aws::key_pair::delete(aws, config).await?;
        gone(aws::key_pair::KIND, config.name("deploy"), was);
        Ok(())
    }
    .await;
    progress.finish();
    result.context("destroy stopped; run it again to finish (what is already gone is skipped)")?;
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "deleted": deleted,
                "final_snapshot": if deleted.iter().any(|d| d.kind == aws::rds::INSTANCE) { snapshot } else { None },
                "calls": { "read": aws.log.reads(), "mutating": aws.log.writes() },
            })
        )?,
        Output::Text => {
            if deleted.is_empty() {
                writeln!(out, "Stack {}: nothing to delete.", config.stack)?;
            } else {
                writeln!(
                    out,
                    "Stack {}: {} resources deleted.",
                    config.stack,
                    deleted.len()
                )?;
            }
            if let Some(snapshot) = snapshot
                && deleted.iter().any(|d| d.kind == aws::rds::INSTANCE)
            {
                writeln!(out, "The database's final snapshot: {snapshot}.")?;
            }
        }
    }
    Ok(())
}

/// Asks the operator to type the stack's name.
fn confirm(stack: &str, region: &str, snapshot: Option<&str>) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("destroy deletes the stack {stack}; pass --yes to confirm when not at a terminal");
    }
    let mut err = std::io::stderr();
    writeln!(
        err,
        "This deletes every resource of the stack {stack} in {region}: the instance, the database{}, \
         the bucket, the Lambda, the images, the roles, the security groups and the secrets.",
        match snapshot {
            Some(s) => format!(" (keeping a final snapshot {s})"),
            None => " (with no final snapshot)".into(),
        }
    )?;
    write!(err, "Type the stack's name to go on: ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != stack {
        bail!("not confirmed; nothing was deleted");
    }
    Ok(())
}
