//! `ledgerctl access open|close|list`: SSH to the instance for an address outside `admin_cidr`
//! for a while — the release workflow's runner for the length of its job, an operator away from
//! the office. A grant is a rule on the stack's `ssh` group that runs out ([`crate::aws::access`]);
//! `open` and `close` revoke every grant that has run out before anything else, so a job that
//! crashed before closing leaves its rule to the next run at the latest.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::{SecondsFormat, SubsecRound as _, Utc};
use clap::Subcommand;
use ipnet::IpNet;

use super::stack::{Output, StackArgs};
use crate::aws::access::{self, Closing, Grant};

/// Where `access` asks which address this machine's traffic comes from.
pub(crate) const CHECKIP_URL: &str = "https://checkip.amazonaws.com";
/// Overrides [`CHECKIP_URL`] (tests point it at a local server).
pub(crate) const CHECKIP_OVERRIDE: &str = "LEDGERCTL_CHECKIP_URL";

/// Open SSH to the instance for one address, for a while (CI runners, travel).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    Open(OpenArgs),
    Close(CloseArgs),
    List(ListArgs),
}

/// Admit an address to the instance's SSH port until a time: this machine's public address
/// unless `--cidr` names another. Grants that have run out are removed first.
#[derive(Debug, clap::Args)]
struct OpenArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// How long the access lasts: 30m, 2h… (1m to 24h).
    #[arg(long = "for", value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    length: Duration,
    /// The address or block to admit (default: this machine's public address, as
    /// checkip.amazonaws.com sees it).
    #[arg(long)]
    cidr: Option<String>,
}

/// Remove this machine's grant (or `--cidr`'s, or `--all`), and every grant that has run out.
#[derive(Debug, clap::Args)]
struct CloseArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// The address or block whose grant to remove (default: this machine's public address).
    #[arg(long, conflicts_with = "all")]
    cidr: Option<String>,
    /// Remove every grant, whoever opened it.
    #[arg(long)]
    all: bool,
}

/// Show the grants in place, with when each runs out and who opened it.
#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    stack: StackArgs,
}

pub(crate) async fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Open(args) => open(args).await,
        Action::Close(args) => close(args).await,
        Action::List(args) => list(args).await,
    }
}

/// This machine's public address, as the check-IP service sees it.
async fn own_address() -> Result<IpNet> {
    let url = std::env::var(CHECKIP_OVERRIDE).unwrap_or_else(|_| CHECKIP_URL.to_owned());
    let advice = "give the address to admit with --cidr";
    let reply = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("asking {url} for this machine's public address; {advice}"))?;
    let text = reply
        .text()
        .await
        .with_context(|| format!("reading {url}'s answer"))?;
    let address: std::net::IpAddr = text
        .trim()
        .parse()
        .with_context(|| format!("{url} answered {:?}, not an address; {advice}", text.trim()))?;
    Ok(IpNet::from(address))
}

/// The network to grant or close: `--cidr`, else this machine's address. A block wider than a
/// /24 (a /64 in IPv6) is refused: a grant is for one machine or a small range.
async fn network(cidr: Option<&str>) -> Result<IpNet> {
    let net = match cidr {
        Some(text) => access::single(text)?,
        None => own_address().await?,
    };
    let narrowest = if net.addr().is_ipv4() { 24 } else { 64 };
    if net.prefix_len() < narrowest {
        bail!(
            "--cidr {net}: a grant opens SSH to one machine or a small range (a /{narrowest} at the widest); for an office network, add it to admin_cidr in the stack file"
        );
    }
    Ok(net)
}

fn until(grant: &Grant) -> String {
    grant.expires.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn removed_note(out: &mut impl std::io::Write, removed: &[Grant]) -> Result<()> {
    for grant in removed {
        writeln!(
            out,
            "Removed the access of {} ({}), which ran out at {}.",
            grant.cidr,
            grant.holder,
            until(grant)
        )?;
    }
    Ok(())
}

async fn open(args: OpenArgs) -> Result<()> {
    let length = access::checked_length(args.length)?;
    let net = network(args.cidr.as_deref()).await?;
    let opened = args.stack.open().await?;
    let expires = (Utc::now() + length).trunc_subsecs(0);
    let holder = crate::docker::lock::owner();
    let result = access::open(&opened.aws, &opened.config, &net, expires, &holder).await?;
    let mut out = std::io::stdout();
    if args.stack.output == Output::Json {
        writeln!(out, "{:#}", serde_json::to_value(&result)?)?;
        return Ok(());
    }
    if !args.stack.quiet {
        removed_note(&mut out, &result.removed)?;
    }
    match (&result.grant, &result.admitted_by) {
        (_, Some(block)) => writeln!(
            out,
            "{net} may reach SSH already: admin_cidr admits {block}. Nothing opened."
        )?,
        (Some(grant), None) => writeln!(
            out,
            "SSH (tcp/{}) is open to {} until {}{} (rule {}); close it with: ledgerctl access close{}",
            grant.port,
            grant.cidr,
            until(grant),
            if result.extended {
                ", extended"
            } else if grant.expires > expires {
                ", as it already was"
            } else {
                ""
            },
            grant.rule,
            args.cidr
                .as_deref()
                .map(|c| format!(" --cidr {c}"))
                .unwrap_or_default()
        )?,
        (None, None) => {}
    }
    Ok(())
}

async fn close(args: CloseArgs) -> Result<()> {
    let which = if args.all {
        Closing::All
    } else {
        Closing::Of(network(args.cidr.as_deref()).await?)
    };
    let opened = args.stack.open().await?;
    let closed = access::close(&opened.aws, &opened.config, &which).await?;
    let mut out = std::io::stdout();
    if args.stack.output == Output::Json {
        writeln!(out, "{:#}", serde_json::json!({ "closed": closed }))?;
        return Ok(());
    }
    if closed.is_empty() {
        writeln!(out, "No temporary SSH access to close.")?;
    }
    for grant in &closed {
        writeln!(
            out,
            "Closed SSH to {} ({}, {} {}).",
            grant.cidr,
            grant.holder,
            if grant.expired(Utc::now()) {
                "ran out at"
            } else {
                "was open until"
            },
            until(grant)
        )?;
    }
    Ok(())
}

async fn list(args: ListArgs) -> Result<()> {
    let opened = args.stack.open().await?;
    let grants = access::list(&opened.aws, &opened.config).await?;
    let mut out = std::io::stdout();
    if args.stack.output == Output::Json {
        writeln!(out, "{:#}", serde_json::json!({ "grants": grants }))?;
        return Ok(());
    }
    if grants.is_empty() {
        writeln!(
            out,
            "No temporary SSH access; admin_cidr admits {}.",
            opened.config.admin_cidr.join(", ")
        )?;
        return Ok(());
    }
    let now = Utc::now();
    let width = grants.iter().map(|g| g.cidr.len()).max().unwrap_or(0);
    for grant in &grants {
        writeln!(
            out,
            "{:width$}  tcp/{}  {} {}  {}",
            grant.cidr,
            grant.port,
            if grant.expired(now) {
                "ran out at"
            } else {
                "until"
            },
            until(grant),
            grant.holder,
        )?;
    }
    Ok(())
}
