//! The docker module's tests, and what only tests use: the stack as a Compose file (checked with
//! `docker-compose config`) and Traefik's router rules (which requests a rendered router takes).

mod compose;
pub(crate) mod traefik_rule;

use super::*;

#[test]
fn docker_hosts_are_read_with_their_parts() {
    assert_eq!(
        Target::parse("ssh://ubuntu@203.0.113.7", None, None).unwrap(),
        Target::Ssh {
            user: Some("ubuntu".into()),
            host: "203.0.113.7".into(),
            port: None,
            key: None,
            known_hosts: None
        }
    );
    let Target::Ssh { port, host, .. } =
        Target::parse("ssh://root@[::1]:2222", None, None).unwrap()
    else {
        panic!("not ssh");
    };
    assert_eq!((host.as_str(), port), ("::1", Some(2222)));
    assert_eq!(Target::parse("local", None, None).unwrap(), Target::Local);
    assert!(Target::parse("tcp://1.2.3.4:2375", None, None).is_err());
    // No user, no port: ssh's own configuration (~/.ssh/config) decides, as for `ssh host`.
    let alias = Target::parse("ssh://ledgerly-prod", None, None).unwrap();
    assert_eq!(alias.ssh_destination().as_deref(), Some("ledgerly-prod"));
    assert_eq!(alias.address(), "ssh://ledgerly-prod");
    let command = ssh_forward_command(&alias, "/tmp/s:/var/run/docker.sock").unwrap();
    let args: Vec<String> = command
        .as_std()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(!args.contains(&"-p".to_owned()), "{args:?}");
    assert_eq!(args.last().map(String::as_str), Some("ledgerly-prod"));
    assert!(Target::parse("ssh://", None, None).is_err());
    assert!(Target::parse("ssh://u@h:port", None, None).is_err());
}
