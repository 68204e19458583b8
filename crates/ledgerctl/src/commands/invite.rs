//! `ledgerctl invite`: an invite to register on the stack's server, for bootstrapping a server
//! whose registration is by invitation (the deployed default). The invite's secret is made here
//! and never leaves this machine: the server records only its SHA-256, with
//! `ledgerly-api invite --secret-sha256`, run in the API container (on the engine `exec` uses:
//! the stack's instance over SSH, or `--docker-host`) or, with `topology: ecs`, as a one-off
//! Fargate task of the migration's task definition. The link, on the stack's domain, is printed
//! here. On an empty server the account made with it is the administrator, who makes the next
//! invites from the admin page.

use std::io::Write as _;

use anyhow::bail;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use super::exec::captured;
use super::logs::StackEngineArgs;
use crate::aws::{Aws, AwsOptions};
use crate::stack::config::Topology;

/// Make an invite to register on the stack's server and print its link.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ledgerctl invite\n  ledgerctl invite --days 2 --note \"Asha\""
)]
pub(crate) struct Args {
    /// How many days it lasts: 1 to 30.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Whom it is for, shown in the administrator's list.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    engine: StackEngineArgs,
}

/// A new invite's secret: 32 random bytes, base64url, as the server makes its own.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The arguments of `ledgerly-api` that record the invite whose secret hashes to `hash`.
fn arguments(args: &Args, hash: &str) -> Vec<String> {
    let mut command = vec![
        "invite".to_owned(),
        "--days".to_owned(),
        args.days.to_string(),
        "--secret-sha256".to_owned(),
        hash.to_owned(),
    ];
    if let Some(note) = &args.note {
        command.extend(["--note".to_owned(), note.clone()]);
    }
    command
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if !(1..=30).contains(&args.days) {
        bail!("--days {}: give 1 to 30 days", args.days);
    }
    let config = args.engine.stack_file()?;
    let secret = new_secret();
    let arguments = arguments(&args, &sha256_hex(&secret));
    match &config {
        Some(config) if config.topology == Topology::Ecs && args.engine.docker_host.is_none() => {
            let aws = Aws::connect(&AwsOptions {
                region: config.region.clone(),
                profile: args.engine.profile.clone(),
                endpoint_url: args.engine.endpoint_url.clone(),
            })
            .await?;
            super::deploy::run_ecs_api_command(&aws, config, "invite", arguments).await?;
        }
        _ => {
            let (engine, stack) = args.engine.connect(config.as_ref()).await?;
            let mut command = vec!["ledgerly-api".to_owned()];
            command.extend(arguments);
            let ran = captured(&engine.docker, &stack, "api", command).await?;
            let said = String::from_utf8_lossy(&ran.stderr);
            if ran.code != 0 {
                bail!(
                    "`ledgerly-api invite` failed in the api container (exit code {}): {}",
                    ran.code,
                    said.trim()
                );
            }
            // When it lasts, as the server says (its log lines are JSON; this one is not).
            for line in said.lines().filter(|l| !l.trim_start().starts_with('{')) {
                writeln!(std::io::stderr(), "{line}")?;
            }
        }
    }
    let origin = config
        .as_ref()
        .map(|c| format!("https://{}", c.domain))
        .unwrap_or_default();
    writeln!(std::io::stdout(), "{origin}/?invite={secret}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn the_server_is_given_the_secret_s_hash_the_days_and_the_note() {
        let secret = new_secret();
        assert_eq!(secret.len(), 43, "{secret}");
        assert_ne!(secret, new_secret());
        let hash = sha256_hex(&secret);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&secret));
        let cli = Cli::parse_from(["ledgerctl", "--days", "3", "--note", "Asha Rao"]);
        assert_eq!(
            arguments(&cli.args, &hash),
            [
                "invite",
                "--days",
                "3",
                "--secret-sha256",
                hash.as_str(),
                "--note",
                "Asha Rao"
            ]
        );
        // The SHA-256 the server will compare with: that of the secret's text.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
