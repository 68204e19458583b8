//! `ledgerctl tunnel <grafana|prometheus|goaccess|api|db>`: an SSH port forward from this machine
//! to a service that is never on a public port — the monitoring UIs and the proxy's internal
//! entry point to the whole API (its documentation, `/metrics`, `/readyz`), which the stack
//! publishes on the instance's loopback only (on an ECS stack, `api` is one of the API's tasks),
//! and the database, which only the instance may reach — printing the local address to open.
//! Runs until Ctrl-C.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::stack::StackArgs;
use crate::aws;
use crate::docker::{Target, open_forward};
use crate::stack::config::Topology;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Service {
    Grafana,
    Prometheus,
    Goaccess,
    /// The whole API through the proxy's internal entry point.
    Api,
    Db,
}

impl Service {
    /// Where the service listens, seen from the instance (the database's is looked up).
    fn port(self) -> u16 {
        match self {
            Service::Grafana => 3000,
            Service::Prometheus => 9090,
            Service::Goaccess => 7890,
            Service::Api => 8081,
            Service::Db => 5432,
        }
    }
}

/// Forward a local port to a service on the instance (or the database behind it) over SSH.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[arg(value_enum)]
    service: Service,
    #[command(flatten)]
    stack: StackArgs,
    /// The local port (default: the service's own, or any free one if that is taken).
    #[arg(long)]
    local_port: Option<u16>,
    /// Where the service listens on the instance, if not its usual port.
    #[arg(long)]
    remote_port: Option<u16>,
    #[command(flatten)]
    ssh: super::deploy::SshOptions,
}

fn free_local_port(wanted: u16) -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", wanted))
        .or_else(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .context("cannot find a free local port")?;
    Ok(listener.local_addr()?.port())
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let opened = args.stack.open().await?;
    let (config, aws) = (&opened.config, &opened.aws);
    let target = super::deploy::reach_instance(aws, config, &args.ssh).await?;
    if !matches!(target, Target::Ssh { .. }) {
        bail!("the instance is reached over SSH only");
    }
    let host = target.address();
    let remote = match args.service {
        Service::Db => {
            let database =
                aws::rds::observe(aws, &aws::rds::identifier(config), &Default::default())
                    .await?
                    .with_context(|| {
                        format!(
                            "the stack {} has no database yet; run ledgerctl provision first",
                            config.stack
                        )
                    })?;
            let endpoint = database.endpoint.with_context(|| {
                format!(
                    "the database {} has no endpoint yet (it is {}); try again when it is available",
                    aws::rds::identifier(config),
                    database.status
                )
            })?;
            match args.remote_port {
                Some(port) => format!(
                    "{}:{port}",
                    endpoint
                        .rsplit_once(':')
                        .map_or(endpoint.as_str(), |(h, _)| h)
                ),
                None => endpoint,
            }
        }
        // On an ECS stack the API is its tasks: one of them by their Cloud Map name, which the
        // instance's resolver answers and whose security group admits the instance.
        Service::Api if config.topology == Topology::Ecs => format!(
            "{}.{}:{}",
            aws::cloud_map::service_name(config),
            aws::cloud_map::NAMESPACE,
            args.remote_port
                .map_or(aws::elb::target_group::API_PORT, i32::from)
        ),
        service => format!("127.0.0.1:{}", args.remote_port.unwrap_or(service.port())),
    };
    let local = free_local_port(args.local_port.unwrap_or(args.service.port()))?;
    if args.local_port.is_some_and(|p| p != local) {
        bail!(
            "--local-port {}: the port is taken; pick another or leave it out",
            args.local_port.unwrap_or_default()
        );
    }
    let mut child = open_forward(
        &target,
        &format!("127.0.0.1:{local}:{remote}"),
        Duration::from_secs(30),
        async || {
            tokio::net::TcpStream::connect(("127.0.0.1", local))
                .await
                .is_ok()
        },
    )
    .await?;
    let mut out = std::io::stdout();
    match args.service {
        Service::Db => writeln!(
            out,
            "db: postgres://{}@127.0.0.1:{local}/{} → {remote} (the password: aws ssm get-parameter --with-decryption --name {} --query Parameter.Value --output text)",
            aws::rds::MASTER_USER,
            aws::rds::DATABASE,
            aws::ssm::database_password(config).name
        )?,
        service => writeln!(
            out,
            "{}: http://127.0.0.1:{local}/ → {remote} on the instance",
            format!("{service:?}").to_lowercase()
        )?,
    }
    writeln!(out, "Forwarding until Ctrl-C.")?;
    out.flush()?;
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            bail!("ssh to {host} ended ({status}); the tunnel is closed");
        }
        () = ledgerly_api::shutdown_signal() => {
            child.start_kill().ok();
            Ok(())
        }
    }
}
