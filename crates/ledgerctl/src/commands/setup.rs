//! `ledgerctl setup`: from an empty account to a running stack in one command — provision (the
//! plan shown and confirmed, as `provision` does), then the DNS step (the record to make, or the
//! Route 53 alias provision made with `ecs.dns.hosted_zone_id`), a bounded wait for the domain to
//! resolve to the stack with progress on standard error, then deploy and status. Every step
//! finds what is done already and goes on, so it is run again after any failure, or later, to
//! the same end.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use super::deploy::{self, RemoteArgs};
use super::stack::StackArgs;
use crate::aws::Aws;
use crate::stack::StackConfig;
use crate::stack::config::Topology;

/// From nothing to a running stack: provision, DNS, deploy, status. Safe to run again.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each step finds what is done and goes on: run it again after a failure.\n\
                  Steps by hand: ledgerctl provision, (the DNS record), ledgerctl deploy, ledgerctl status."
)]
pub(crate) struct Args {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Apply the plan without asking (needed when not at a terminal, as in CI).
    #[arg(long)]
    auto_approve: bool,
    /// How long to wait for the domain to resolve to the stack: 10m, 1h, …
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = super::engine::duration)]
    dns_timeout: Duration,
    /// Deploy without waiting for the domain (the TLS certificate follows once it resolves).
    #[arg(long)]
    skip_dns_wait: bool,
    /// The folder holding release builds of ledgerly-api and ledgerly-ocr (default: build them).
    #[arg(long)]
    binaries: Option<PathBuf>,
}

/// How often the domain is looked up while waiting.
const POLL: Duration = Duration::from_secs(10);

/// Where the domain must point for the stack to answer on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// The instance's Elastic IP: an `A` record; `managed` when provision keeps it in Route 53
    /// (`dns.hosted_zone_id`).
    Address { ip: IpAddr, managed: bool },
    /// The load balancer's DNS name: a `CNAME` (an alias `A` at a zone's apex); `managed` when
    /// provision keeps the alias in Route 53.
    LoadBalancer { dns_name: String, managed: bool },
}

impl Destination {
    /// The record to make, in words.
    pub(crate) fn record(&self, domain: &str) -> String {
        match self {
            Destination::Address { ip, .. } => format!("{domain}. A {ip}"),
            Destination::LoadBalancer { dns_name, .. } => format!(
                "{domain}. CNAME {dns_name} (at a zone's apex: an alias A record to the load balancer)"
            ),
        }
    }
}

/// Whether the addresses `resolved` for the domain reach the destination, whose own addresses
/// (a load balancer's, which change) are `expected`.
pub(crate) fn resolves_to(resolved: &BTreeSet<IpAddr>, expected: &BTreeSet<IpAddr>) -> bool {
    !resolved.is_empty() && resolved.is_subset(expected)
}

/// The addresses `name` resolves to now (none when it does not resolve).
async fn lookup(name: &str) -> BTreeSet<IpAddr> {
    tokio::net::lookup_host((name, 443))
        .await
        .map(|addresses| addresses.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

/// Where the provisioned stack's domain must point.
async fn destination(aws: &Aws, config: &StackConfig) -> Result<Destination> {
    if config.topology == Topology::Ecs {
        let name = crate::aws::elb::name(config);
        let dns_name = crate::aws::elb::observe_by_name(aws, &name)
            .await?
            .map(|balancer| balancer.dns_name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the stack {} has no load balancer {name} after provisioning; run ledgerctl plan to see why",
                    config.stack
                )
            })?;
        let managed = config
            .ecs
            .as_ref()
            .is_some_and(|ecs| ecs.dns.hosted_zone_id.is_some());
        return Ok(Destination::LoadBalancer { dns_name, managed });
    }
    let (address, _) = deploy::instance_endpoint(aws, config).await?;
    Ok(Destination::Address {
        ip: address.parse().map_err(|_| {
            anyhow::anyhow!("AWS gave the Elastic IP as `{address}`, not an address")
        })?,
        managed: config.dns.hosted_zone_id.is_some(),
    })
}

/// Waits up to `timeout` for `domain` to resolve to `destination`, saying on standard error what
/// it resolves to meanwhile.
async fn wait_for_dns(domain: &str, destination: &Destination, timeout: Duration) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut err = std::io::stderr();
    let mut last_seen = None;
    loop {
        let expected = match destination {
            Destination::Address { ip, .. } => BTreeSet::from([*ip]),
            Destination::LoadBalancer { dns_name, .. } => lookup(dns_name).await,
        };
        let resolved = lookup(domain).await;
        if resolves_to(&resolved, &expected) {
            writeln!(err, "{domain} resolves to the stack.")?;
            return Ok(());
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            bail!(
                "{domain} does not resolve to the stack after {}: it resolves to {}. Make the record {}, then run ledgerctl setup again (what is done stays done); --skip-dns-wait deploys without waiting",
                humantime::format_duration(Duration::from_secs(timeout.as_secs())),
                shown(&resolved),
                destination.record(domain)
            );
        }
        if last_seen.as_ref() != Some(&resolved) {
            writeln!(
                err,
                "Waiting for {domain} to resolve to the stack (it resolves to {}); up to {} more.",
                shown(&resolved),
                humantime::format_duration(Duration::from_secs((timeout - elapsed).as_secs()))
            )?;
            last_seen = Some(resolved);
        }
        tokio::time::sleep(POLL.min(timeout - elapsed)).await;
    }
}

fn shown(addresses: &BTreeSet<IpAddr>) -> String {
    if addresses.is_empty() {
        return "nothing yet".into();
    }
    addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn run(args: Args) -> Result<u8> {
    let mut out = std::io::stdout();
    writeln!(out, "1/4 Provision")?;
    super::provision::apply(&args.stack, args.auto_approve).await?;

    writeln!(out, "2/4 DNS")?;
    let opened = args.stack.open().await?;
    let config = &opened.config;
    let destination = destination(&opened.aws, config).await?;
    match &destination {
        Destination::LoadBalancer { managed: true, .. }
        | Destination::Address { managed: true, .. } => writeln!(
            out,
            "Route 53 has the record: {} (provision keeps it).",
            destination.record(&config.domain)
        )?,
        _ => writeln!(
            out,
            "Make this record where {}'s DNS is hosted, if it is not there yet:\n  {}",
            config.domain,
            destination.record(&config.domain)
        )?,
    }
    if args.skip_dns_wait {
        writeln!(
            out,
            "Not waiting for {} to resolve (--skip-dns-wait).",
            config.domain
        )?;
    } else {
        wait_for_dns(&config.domain, &destination, args.dns_timeout).await?;
    }

    writeln!(out, "3/4 Deploy")?;
    let remote = args.remote.clone();
    deploy::run(deploy::Args {
        stack: args.stack.clone(),
        remote: args.remote,
        binaries: args.binaries,
        skip_monitoring: false,
    })
    .await?;

    writeln!(out, "4/4 Status")?;
    super::status::run(super::status::Args {
        stack: args.stack,
        docker_host: remote.docker_host,
        ssh: remote.ssh,
        connect_timeout: remote.connect_timeout,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addresses: &[&str]) -> BTreeSet<IpAddr> {
        addresses.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn the_domain_reaches_the_stack_when_every_address_it_has_is_the_stack_s() {
        let eip = set(&["198.51.100.7"]);
        assert!(resolves_to(&set(&["198.51.100.7"]), &eip));
        assert!(!resolves_to(&set(&[]), &eip), "not resolving yet");
        assert!(
            !resolves_to(&set(&["198.51.100.7", "203.0.113.9"]), &eip),
            "an old address is still there"
        );
        let load_balancer = set(&["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        assert!(resolves_to(
            &set(&["192.0.2.2", "192.0.2.3"]),
            &load_balancer
        ));
        assert!(!resolves_to(&set(&["203.0.113.9"]), &load_balancer));
    }

    #[test]
    fn the_record_to_make_is_named_as_a_zone_file_has_it() {
        assert_eq!(
            Destination::Address {
                ip: "198.51.100.7".parse().unwrap(),
                managed: false
            }
            .record("l.example.com"),
            "l.example.com. A 198.51.100.7"
        );
        assert!(
            Destination::LoadBalancer {
                dns_name: "stk-api-1.eu-west-1.elb.amazonaws.com".into(),
                managed: false
            }
            .record("l.example.com")
            .starts_with("l.example.com. CNAME stk-api-1.eu-west-1.elb.amazonaws.com")
        );
    }
}
