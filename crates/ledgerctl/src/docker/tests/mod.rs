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
            user: "ubuntu".into(),
            host: "203.0.113.7".into(),
            port: 22,
            key: None,
            known_hosts: None
        }
    );
    let Target::Ssh { port, host, .. } =
        Target::parse("ssh://root@[::1]:2222", None, None).unwrap()
    else {
        panic!("not ssh");
    };
    assert_eq!((host.as_str(), port), ("::1", 2222));
    assert_eq!(Target::parse("local", None, None).unwrap(), Target::Local);
    assert!(Target::parse("tcp://1.2.3.4:2375", None, None).is_err());
    assert!(Target::parse("ssh://host", None, None).is_err());
    assert!(Target::parse("ssh://u@h:port", None, None).is_err());
}
