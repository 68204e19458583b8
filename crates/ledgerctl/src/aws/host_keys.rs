//! The instance's SSH host keys, learned from a channel an attacker on the network cannot
//! forge: the instance's console output, where cloud-init prints them at first boot between
//! `-----BEGIN SSH HOST KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----`, read through EC2's
//! API (`GetConsoleOutput`) with the operator's AWS credentials. They are recorded, with the
//! instance's id, in the SSM parameter `/<stack>/ssh-host-keys`, so every operator machine and CI
//! run checks the same keys; a replaced instance (another id) is learned afresh. ledgerctl then
//! connects with `StrictHostKeyChecking=yes` against a known_hosts file made from them.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{Aws, sdk_error};
use crate::stack::StackConfig;

const BEGIN: &str = "-----BEGIN SSH HOST KEY KEYS-----";
const END: &str = "-----END SSH HOST KEY KEYS-----";

/// The key types an sshd offers and OpenSSH checks.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
];

pub(crate) fn parameter(config: &StackConfig) -> String {
    format!("/{}/ssh-host-keys", config.stack)
}

/// What the parameter holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    instance: String,
    /// `<type> <base64>`, one per key.
    keys: Vec<String>,
}

/// The host keys in a console output: `<type> <base64>` (the comment dropped), in order.
pub(crate) fn from_console(output: &str) -> Vec<String> {
    let Some((_, rest)) = output.split_once(BEGIN) else {
        return Vec::new();
    };
    let block = rest.split_once(END).map_or("", |(block, _)| block);
    block
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (kind, key) = (parts.next()?, parts.next()?);
            let decoded = base64::engine::general_purpose::STANDARD.decode(key).ok()?;
            // The blob starts with its own type, length-prefixed: a mangled line is dropped.
            let named = decoded.get(4..4 + kind.len())? == kind.as_bytes();
            (KEY_TYPES.contains(&kind) && named).then(|| format!("{kind} {key}"))
        })
        .collect()
}

/// A known_hosts file for `host:port` trusting `keys` only.
pub(crate) fn known_hosts(host: &str, port: u16, keys: &[String]) -> String {
    let name = if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    };
    keys.iter().map(|key| format!("{name} {key}\n")).collect()
}

/// The host keys of the stack's instance `instance`: as recorded, or learned from its console
/// output and recorded.
pub(crate) async fn of_instance(
    aws: &Aws,
    config: &StackConfig,
    instance: &str,
) -> anyhow::Result<Vec<String>> {
    let name = parameter(config);
    if let Some(text) = super::ssm::read(aws, &name).await? {
        let recorded: Recorded = serde_json::from_str(&text).with_context(|| {
            format!("{name} is not what ledgerctl records; delete it to learn the keys again")
        })?;
        if recorded.instance == instance && !recorded.keys.is_empty() {
            return Ok(recorded.keys);
        }
    }
    let reply = aws
        .ec2
        .get_console_output()
        .instance_id(instance)
        .latest(true)
        .send()
        .await
        .map_err(sdk_error(format!(
            "reading the console output of {instance} (where it prints its SSH host keys)"
        )))?;
    let output = reply
        .output()
        .and_then(|o| base64::engine::general_purpose::STANDARD.decode(o).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let keys = from_console(&output);
    if keys.is_empty() {
        bail!(
            "the instance {instance} has not printed its SSH host keys on its console (cloud-init does \
             at first boot; the console output can lag a few minutes behind): try again shortly, or pass \
             --ssh-known-hosts with a known_hosts file you have checked yourself"
        );
    }
    let recorded = Recorded {
        instance: instance.to_owned(),
        keys: keys.clone(),
    };
    super::ssm::write(
        aws,
        config,
        &name,
        &serde_json::to_string(&recorded)?,
        "Ledgerly: the instance's SSH host keys, from its console output (ledgerctl checks SSH against them)",
    )
    .await?;
    tracing::info!(
        instance,
        "learned the instance's SSH host keys from its console output"
    );
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key blob of `kind`, as ssh-keygen writes one (type, then key material).
    fn blob(kind: &str, fill: u8) -> String {
        let mut bytes = (kind.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(kind.as_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 32]);
        bytes.extend(std::iter::repeat_n(fill, 32));
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn host_keys_are_read_from_cloud_init_s_block_in_the_console_output() {
        let ed = blob("ssh-ed25519", 1);
        let ecdsa = blob("ecdsa-sha2-nistp256", 2);
        let console = format!(
            "[   12.3] cloud-init[901]: Cloud-init v. 24.1 running 'modules:config'\n\
             ssh-ed25519 {bogus} root@outside-the-block\n\
             {BEGIN}\n\
             ecdsa-sha2-nistp256 {ecdsa} root@ip-172-31-5-9\n\
             ssh-ed25519 {ed} root@ip-172-31-5-9\n\
             ssh-rsa !!!notbase64 root@ip-172-31-5-9\n\
             ssh-ed25519 {mislabelled} root@ip-172-31-5-9\n\
             {END}\n\
             [   13.0] cloud-init[901]: Cloud-init v. 24.1 finished\n",
            bogus = blob("ssh-ed25519", 9),
            mislabelled = blob("ssh-rsa", 3),
        );
        assert_eq!(
            from_console(&console),
            [
                format!("ecdsa-sha2-nistp256 {ecdsa}"),
                format!("ssh-ed25519 {ed}")
            ]
        );
        assert!(from_console("Linux version 6.8 … no keys yet").is_empty());
        assert!(
            from_console(&format!("{BEGIN}\nssh-ed25519 {ed}\n")).is_empty(),
            "a block cut short is not trusted"
        );
    }

    #[test]
    fn known_hosts_names_the_port_when_it_is_not_22() {
        let keys = vec!["ssh-ed25519 AAAA".to_owned(), "ssh-rsa BBBB".to_owned()];
        assert_eq!(
            known_hosts("203.0.113.7", 22, &keys),
            "203.0.113.7 ssh-ed25519 AAAA\n203.0.113.7 ssh-rsa BBBB\n"
        );
        assert_eq!(
            known_hosts("127.0.0.1", 2222, &keys[..1]),
            "[127.0.0.1]:2222 ssh-ed25519 AAAA\n"
        );
    }
}
