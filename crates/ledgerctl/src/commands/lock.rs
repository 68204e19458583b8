//! `ledgerctl lock status|release`: the stack's deploy lock ([`crate::docker::lock`]) on its
//! engine — who holds it, since when, and until when its lease runs, by the engine's clock; and
//! releasing it at once when the run that held it is gone (killed, its machine lost) and its
//! lease has not run out yet. A run that died releases it by itself once its lease runs out; one
//! still running finds its lock gone and stops before its next step.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;

use super::logs::StackEngineArgs;
use super::stack::Output;
use crate::docker::lock::{self, Holder};

/// Show or release the stack's deploy lock.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    Status(StatusArgs),
    Release(ReleaseArgs),
}

/// Who holds the stack's deploy lock, since when, and until when its lease runs.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// `text` for people, `json` for programs.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    #[command(flatten)]
    engine: StackEngineArgs,
}

/// Release the stack's deploy lock now: only when the run holding it is gone (a run that died
/// releases it by itself once its lease runs out).
#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// Release it without asking (needed when not at a terminal).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    engine: StackEngineArgs,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Status(args) => status(args).await,
        Action::Release(args) => release(args).await,
    }
}

/// Unix seconds as RFC 3339, in UTC.
fn time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0).map_or_else(
        || format!("{seconds} (Unix seconds)"),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// `3h 2m 5s`.
fn span(seconds: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(seconds.unsigned_abs())).to_string()
}

/// The lease's state: running out in a while, or run out a while ago.
fn lease(holder: &Holder) -> String {
    if holder.expired() {
        format!(
            "ran out {} ago: its run died, and the next deploy takes the lock over",
            span(holder.now - holder.expires)
        )
    } else {
        format!(
            "runs out in {} unless its run renews it",
            span(holder.expires - holder.now)
        )
    }
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let config = args.engine.stack_file()?;
    let (engine, stack) = args.engine.connect(config.as_ref()).await?;
    let holder = lock::holder(&engine.docker, &stack).await?;
    let mut out = std::io::stdout();
    match (args.output, &holder) {
        (Output::Json, None) => writeln!(
            out,
            "{:#}",
            serde_json::json!({ "stack": stack, "held": false })
        )?,
        (Output::Json, Some(holder)) => writeln!(
            out,
            "{:#}",
            serde_json::json!({
                "stack": stack,
                "held": true,
                "owner": holder.owner,
                "since": time(holder.since),
                "expires": time(holder.expires),
                "expired": holder.expired(),
                "container": holder.id,
            })
        )?,
        (Output::Text, None) => writeln!(out, "The deploy lock of {stack} is not held.")?,
        (Output::Text, Some(holder)) => writeln!(
            out,
            "The deploy lock of {stack} is held by {}\n  since {} ({} ago)\n  its lease {} ({})",
            holder.owner,
            time(holder.since),
            span(holder.now - holder.since),
            lease(holder),
            time(holder.expires)
        )?,
    }
    Ok(())
}

/// Asks at a terminal before the lock is released; elsewhere, refuses.
fn confirm(stack: &str, holder: &Holder) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "the deploy lock of {stack} is held by {} (since {}; its lease {}); releasing it needs a yes at a \
             terminal, or --force: make sure that run is gone first",
            holder.owner,
            time(holder.since),
            lease(holder)
        );
    }
    let mut err = std::io::stderr();
    writeln!(
        err,
        "The deploy lock of {stack} is held by {} since {}; its lease {}.\n\
         If that run is still going, releasing the lock lets another deploy interleave with it.",
        holder.owner,
        time(holder.since),
        lease(holder)
    )?;
    write!(err, "Release it? Only 'yes' is accepted: ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not released; the lock is still held by {}", holder.owner);
    }
    Ok(())
}

async fn release(args: ReleaseArgs) -> anyhow::Result<()> {
    let config = args.engine.stack_file()?;
    let (engine, stack) = args.engine.connect(config.as_ref()).await?;
    let docker = &engine.docker;
    let mut out = std::io::stdout();
    let Some(holder) = lock::holder(docker, &stack).await? else {
        writeln!(
            out,
            "The deploy lock of {stack} is not held: nothing to release."
        )?;
        return Ok(());
    };
    if !args.force {
        confirm(&stack, &holder)?;
    }
    if lock::release(docker, &holder).await? {
        writeln!(
            out,
            "Released the deploy lock of {stack}, held by {} since {}.",
            holder.owner,
            time(holder.since)
        )?;
    } else {
        writeln!(
            out,
            "The deploy lock of {stack} held by {} was released meanwhile; nothing to do.",
            holder.owner
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Holder, lease, span, time};

    fn holder(since: i64, expires: i64, now: i64) -> Holder {
        Holder {
            id: "abc".into(),
            owner: "ops@laptop pid 42".into(),
            since,
            expires,
            now,
        }
    }

    #[test]
    fn times_are_rfc_3339_in_utc_and_spans_read_as_durations() {
        assert_eq!(time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(span(3_725), "1h 2m 5s");
    }

    #[test]
    fn a_lease_runs_out_in_a_while_or_ran_out_a_while_ago() {
        assert_eq!(
            lease(&holder(0, 100, 40)),
            "runs out in 1m unless its run renews it"
        );
        assert_eq!(
            lease(&holder(0, 100, 190)),
            "ran out 1m 30s ago: its run died, and the next deploy takes the lock over"
        );
    }
}
