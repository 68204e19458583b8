//! What every Ledgerly process shares: logs set up the same way, and the same shutdown signal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Logs: `tracing` to standard error, human-readable on a terminal and JSON otherwise.
/// Installs the global subscriber; `RUST_LOG` overrides the default level (`info`).
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // Already installed (a host program set its own): keep that one.
    drop(result);
}

/// Completes on Ctrl-C or SIGTERM received after it is first polled.
pub async fn shutdown_signal() {
    listen_for_shutdown().await;
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called: the handlers are in place when it
/// returns, so a program can say "press Ctrl-C to stop" and mean it. The future completes on the
/// first of them.
pub fn listen_for_shutdown() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |listener: std::io::Result<tokio::signal::unix::Signal>,
                        name: &'static str| async move {
                match listener {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "cannot listen for {name}");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                () = wait(interrupt, "Ctrl-C") => {}
                () = wait(terminate, "SIGTERM") => {}
            }
        }
        #[cfg(not(unix))]
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
