//! `ledgerctl destroy`: deletes every resource of the stack, in the reverse of the order
//! provision makes them, touching only what carries the stack's tag. Already-deleted resources
//! are fine, so an interrupted destroy finishes when run again. The database leaves a final
//! snapshot unless told not to; receipts in the bucket are never deleted without
//! `--delete-receipts`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::{Context as _, bail};
use futures_util::FutureExt as _;
use serde::Serialize;

use super::progress::Progress;
use super::stack::{Output, StackArgs};
use crate::aws;
use crate::stack::Change;
use crate::stack::resource::{self, Known, Order, Resource as _};
use crate::stack::survey::Survey;

/// Delete the stack's AWS resources (only those tagged for it).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    /// Do not ask for confirmation (needed when not at a terminal, as in CI; `--yes` is the
    /// same).
    #[arg(long, alias = "yes")]
    auto_approve: bool,
    /// Delete the database without taking a final snapshot (its data is then gone for good).
    #[arg(long)]
    skip_final_snapshot: bool,
    /// Also delete the receipts stored in the bucket (otherwise a bucket holding any stops
    /// destroy before it deletes anything).
    #[arg(long)]
    delete_receipts: bool,
}

/// How many resources a whole stack has: the notification, the function, the address, the
/// instance, the database and its subnet group, three security groups, three roles (one opt-in),
/// two repositories, the bucket, three secrets, deploy's three records (releases, images, the
/// instance's host keys) and the key pair.
const RESOURCES: usize = 22;

#[derive(Debug, Serialize)]
struct Deleted {
    kind: &'static str,
    name: String,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let mut known = Known::read(aws, None).await?;
    let bucket = aws::s3::name(config, &known.account);
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
    if !args.auto_approve {
        // What is there to delete, resource by resource, in the order destroy deletes it.
        let survey = Survey::take(aws, config, opened.public_key.clone()).await?;
        let present: Vec<String> = survey
            .changes()
            .iter()
            .rev()
            .filter(|c| !matches!(c.change, Change::Create | Change::Waiting { .. }))
            .map(|c| format!("- {} {}", c.kind, c.name))
            .collect();
        if present.is_empty() {
            writeln!(
                std::io::stdout(),
                "Stack {}: nothing of it found; nothing to delete.",
                config.stack
            )?;
            return Ok(());
        }
        confirm(&config.stack, &aws.region, snapshot.as_deref(), &present)?;
    }
    let text = args.stack.output == Output::Text;
    let progress = Progress::new(
        &format!("destroying {}", config.stack),
        RESOURCES,
        text && !args.stack.quiet,
    );
    known.final_snapshot = snapshot.clone();
    // Every kind, each once nothing that needs it is left: the reverse of provision's order.
    let result = resource::in_order(Order::Unmake, &mut known, |kind, known| {
        let progress = &progress;
        async move {
            let names = kind.delete(aws, config, &known).await?;
            let deleted: Vec<Deleted> = names
                .into_iter()
                .map(|name| Deleted {
                    kind: kind.name(),
                    name,
                })
                .collect();
            for gone in &deleted {
                progress.done(&format!("- {} {}", gone.kind, gone.name));
            }
            Ok((deleted, known))
        }
        .boxed()
    })
    .await;
    progress.finish();
    let deleted: Vec<Deleted> = result
        .context("destroy stopped; run it again to finish (what is already gone is skipped)")?
        .into_iter()
        .flatten()
        .collect();
    let database_deleted = deleted.iter().any(|d| d.kind == aws::rds::Database::KIND);
    let mut out = std::io::stdout();
    match args.stack.output {
        Output::Json => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "deleted": deleted,
                "final_snapshot": if database_deleted { snapshot } else { None },
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
                && database_deleted
            {
                writeln!(out, "The database's final snapshot: {snapshot}.")?;
            }
        }
    }
    Ok(())
}

/// Shows what would be deleted (`present`, one line each) and asks the operator to type the
/// stack's name.
fn confirm(
    stack: &str,
    region: &str,
    snapshot: Option<&str>,
    present: &[String],
) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "destroy deletes the stack {stack}; pass --auto-approve to confirm when not at a terminal"
        );
    }
    let mut err = std::io::stderr();
    for line in present {
        writeln!(err, "{line}")?;
    }
    writeln!(
        err,
        "\n{} resource(s) of {stack} found, deleted in this order (and anything else tagged for it).",
        present.len()
    )?;
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
