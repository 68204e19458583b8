//! `ledgerctl invite`: an invite to register on the stack's server, for bootstrapping a server
//! whose registration is by invitation (the deployed default). It runs `ledgerly-api invite` in
//! the running API container, on the engine `exec` uses (the stack's instance over SSH, or
//! `--docker-host`), and prints the link on the stack's domain. On an empty server the account
//! made with it is the administrator, who makes the next invites from the admin page.

use std::io::Write as _;

use anyhow::bail;

use super::exec::captured;
use super::logs::StackEngineArgs;
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

/// The command run in the API container.
fn command(args: &Args, origin: Option<&str>) -> Vec<String> {
    let mut command = vec![
        "ledgerly-api".to_owned(),
        "invite".to_owned(),
        "--days".to_owned(),
        args.days.to_string(),
    ];
    if let Some(note) = &args.note {
        command.extend(["--note".to_owned(), note.clone()]);
    }
    if let Some(origin) = origin {
        command.extend(["--origin".to_owned(), origin.to_owned()]);
    }
    command
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if !(1..=30).contains(&args.days) {
        bail!("--days {}: give 1 to 30 days", args.days);
    }
    let config = args.engine.stack_file()?;
    if let Some(config) = &config
        && config.topology == Topology::Ecs
        && args.engine.docker_host.is_none()
    {
        bail!(
            "with topology: ecs the API runs as Fargate tasks, which ledgerctl cannot run a command in: \
             run `ledgerly-api invite` (the server image has it) where it reaches the database — \
             LEDGERLY__DATABASE__URL through `ledgerctl tunnel db` — or, once an administrator \
             exists, make the invite on the admin page"
        );
    }
    let origin = config.as_ref().map(|c| format!("https://{}", c.domain));
    let (engine, stack) = args.engine.connect(config.as_ref()).await?;
    let ran = captured(
        &engine.docker,
        &stack,
        "api",
        command(&args, origin.as_deref()),
    )
    .await?;
    let said = String::from_utf8_lossy(&ran.stderr);
    if ran.code != 0 {
        bail!(
            "`ledgerly-api invite` failed in the api container (exit code {}): {}",
            ran.code,
            said.trim()
        );
    }
    std::io::stdout().write_all(&ran.stdout)?;
    // When the link lasts, from the server (its log lines are JSON; this one is not).
    for line in said.lines().filter(|l| !l.trim_start().starts_with('{')) {
        writeln!(std::io::stderr(), "{line}")?;
    }
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
    fn the_command_carries_the_days_the_note_and_the_domain() {
        let cli = Cli::parse_from(["ledgerctl", "--days", "3", "--note", "Asha Rao"]);
        assert_eq!(
            command(&cli.args, Some("https://ledgerly.example.com")),
            [
                "ledgerly-api",
                "invite",
                "--days",
                "3",
                "--note",
                "Asha Rao",
                "--origin",
                "https://ledgerly.example.com"
            ]
        );
        let cli = Cli::parse_from(["ledgerctl"]);
        assert_eq!(
            command(&cli.args, None),
            ["ledgerly-api", "invite", "--days", "7"]
        );
    }
}
