//! The command line's own aids: the shell completion scripts (bash's loaded into a real bash and
//! asked to complete) and the manual pages (read with man), generated from its definition.

#![allow(clippy::unwrap_used)]

use std::process::Command;

/// The commands `ledgerctl --help` lists.
const COMMANDS: &[&str] = &[
    "up",
    "plan",
    "provision",
    "destroy",
    "build",
    "deploy",
    "rollback",
    "status",
    "reconcile",
    "logs",
    "tunnel",
    "setup",
    "access",
    "exec",
    "restart",
    "prune",
    "lock",
    "completions",
    "man",
];

/// Every command (and `access` and `lock`'s own) explains itself.
#[test]
fn every_command_has_help() {
    let mut commands: Vec<Vec<&str>> = COMMANDS.iter().map(|c| vec![*c]).collect();
    for nested in [
        ["access", "open"],
        ["access", "close"],
        ["access", "list"],
        ["lock", "status"],
        ["lock", "release"],
    ] {
        commands.push(nested.to_vec());
    }
    for command in commands {
        let mut args = command.clone();
        args.push("--help");
        let help = ledgerctl(&args);
        assert!(help.contains("Usage: ledgerctl"), "{command:?}: {help}");
        let about = help.lines().next().unwrap_or_default();
        assert!(
            !about.starts_with("Usage") && about.len() > 10,
            "{command:?} says what it does first: {help}"
        );
    }
}

fn ledgerctl(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "ledgerctl {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn bash_completes_commands_and_their_values_from_the_generated_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ledgerctl.bash");
    std::fs::write(&script, ledgerctl(&["completions", "bash"])).unwrap();
    // What bash offers for `ledgerctl <TAB>`, `ledgerctl tunnel <TAB>` and
    // `ledgerctl deploy --sk<TAB>`, through the completion function the script registers.
    let complete = |line: &str| -> Vec<String> {
        // The words as bash splits the line, the last one being completed (empty after a space).
        let mut words: Vec<String> = line.split_whitespace().map(|w| format!("'{w}'")).collect();
        if line.ends_with(' ') {
            words.push("''".into());
        }
        let program = format!(
            r#"source "$1"
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
function=$(complete -p ledgerctl | sed -E 's/.*-F ([^ ]+).*/\1/')
"$function" ledgerctl "${{COMP_WORDS[$COMP_CWORD]}}" "${{COMP_WORDS[$((COMP_CWORD - 1))]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            words = words.join(" "),
            cword = words.len() - 1,
        );
        let output = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script)
            .output()
            .unwrap();
        assert!(output.status.success(), "{line}: {output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let commands = complete("ledgerctl ");
    for command in COMMANDS {
        assert!(
            commands.iter().any(|c| c == command),
            "`ledgerctl <TAB>` offers {command}: {commands:?}"
        );
    }
    let services = complete("ledgerctl tunnel ");
    for service in ["grafana", "prometheus", "goaccess", "api", "db"] {
        assert!(services.iter().any(|s| s == service), "{services:?}");
    }
    assert_eq!(
        complete("ledgerctl deploy --skip-m"),
        ["--skip-monitoring"],
        "a command's flags"
    );
}

#[test]
fn every_shell_gets_a_script_for_ledgerctl() {
    for (shell, marker) in [
        ("zsh", "#compdef ledgerctl"),
        ("fish", "complete -c ledgerctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[ledgerctl]"),
    ] {
        let script = ledgerctl(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        for command in ["provision", "deploy", "tunnel"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    let wrong = Command::new(env!("CARGO_BIN_EXE_ledgerctl"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("invalid value 'tcsh'") && stderr.contains("bash"),
        "{stderr}"
    );
}

#[test]
fn the_manual_pages_cover_every_command_and_read_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let said = ledgerctl(&["man", "--out", out.to_str().unwrap()]);
    assert!(said.contains("man -l"), "{said}");
    let mut pages = vec!["ledgerctl.1".to_owned()];
    pages.extend(COMMANDS.iter().map(|c| format!("ledgerctl-{c}.1")));
    for page in &pages {
        assert!(out.join(page).is_file(), "{page} was written");
    }
    // man renders them; the deploy page carries the flag's own help.
    let rendered = Command::new("man")
        .arg("-l")
        .arg(out.join("ledgerctl-deploy.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap_or_else(|e| panic!("man: {e}; scripts/test installs it"));
    assert!(rendered.status.success(), "{rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("--skip-monitoring"), "{text}");
    assert!(text.contains("Build, push and roll out"), "{text}");
    let top = std::fs::read_to_string(out.join("ledgerctl.1")).unwrap();
    assert!(
        top.starts_with(".ie") || top.contains(".TH ledgerctl 1"),
        "{top}"
    );
}
