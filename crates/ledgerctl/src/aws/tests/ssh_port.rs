//! `instance.ssh_port`: the ssh security group admits that port from the admin CIDR, and the
//! instance's user-data (a valid bash script with every value in) moves sshd there when it is
//! not 22.

use std::process::Command;

use crate::aws::instance::user_data;
use crate::aws::sg;
use crate::stack::StackConfig;

fn config(instance: &str) -> StackConfig {
    StackConfig::parse(
        &format!(
            "stack: stk\nregion: eu-west-1\ndomain: l.example.com\nacme_email: a@example.com\nadmin_cidr: 203.0.113.7/32\ninstance:\n  key_pair:\n    name: k\n{instance}"
        ),
        "test",
    )
    .unwrap()
}

/// `bash -n`: the script parses.
fn parses(script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user-data.sh");
    std::fs::write(&path, script).unwrap();
    let output = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(output.status.success(), "{output:?}\n{script}");
}

#[test]
fn sshd_listens_on_the_stack_s_port_and_the_default_changes_nothing() {
    let default = user_data(&config(""));
    parses(&default);
    assert!(!default.contains("{{"), "every value is in: {default}");
    assert!(!default.contains("sshd_config.d"), "22 needs nothing");

    let moved = user_data(&config("  ssh_port: 2222\n"));
    parses(&moved);
    assert!(!moved.contains("{{"), "{moved}");
    assert!(
        moved.contains("printf 'Port 2222\\n' > /etc/ssh/sshd_config.d/10-ledgerly-port.conf"),
        "{moved}"
    );
    assert!(moved.contains("systemctl restart ssh.socket"), "{moved}");
    // Before the engine and the login user's group, so a failure stops the bootstrap marker.
    assert!(
        moved.find("10-ledgerly-port").unwrap()
            < moved.find("touch /var/lib/ledgerly/bootstrapped").unwrap()
    );
}

#[test]
fn the_ssh_group_admits_the_stack_s_port_alone() {
    for (instance, port) in [("", 22), ("  ssh_port: 2222\n", 2222)] {
        let config = config(instance);
        let groups = sg::desired(&config, false);
        let ssh = groups.iter().find(|g| g.name == "stk-ssh").unwrap();
        let ports: Vec<(i32, i32)> = ssh.rules.iter().map(|r| r.ports).collect();
        assert_eq!(ports, [(port, port)], "{ssh:?}");
    }
}
