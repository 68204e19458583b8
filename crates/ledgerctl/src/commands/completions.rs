//! `ledgerctl completions <shell>` and `ledgerctl man`: the shell completion script and the
//! manual pages, both generated from the command line's own definition, so they cannot drift
//! from it. The README says how to install them.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

/// Print the completion script for a shell: bash, zsh, fish, powershell or elvish.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Write the manual pages: ledgerctl(1) and one page per command (ledgerctl-deploy(1), …).
#[derive(Debug, clap::Args)]
pub(crate) struct ManArgs {
    /// The folder to write them into; made if it does not exist.
    #[arg(long, default_value = "man")]
    out: PathBuf,
}

pub(crate) fn run(args: &Args, mut command: clap::Command) -> anyhow::Result<()> {
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(())
}

pub(crate) fn man(args: &ManArgs, command: clap::Command) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot make the folder {}", args.out.display()))?;
    clap_mangen::generate_to(command, &args.out)
        .with_context(|| format!("writing the manual pages into {}", args.out.display()))?;
    writeln!(
        std::io::stdout(),
        "Manual pages written to {}: man -l {}/ledgerctl.1, or copy them into a folder of your MANPATH (e.g. ~/.local/share/man/man1).",
        args.out.display(),
        args.out.display()
    )?;
    Ok(())
}
