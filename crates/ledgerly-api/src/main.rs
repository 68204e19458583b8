//! `ledgerly-api [config.toml]`: the API server, as run in the server image.

use std::path::PathBuf;

use anyhow::Context as _;
use ledgerly_api::{Application, Settings, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("LEDGERLY_CONFIG").map(PathBuf::from));
    let settings = Settings::from_env(path.as_deref()).context("invalid settings")?;
    let app = Application::build(settings).await?;
    tracing::info!(address = %app.local_addr()?, "ledgerly-api listening");
    app.serve(shutdown_signal())
        .await
        .context("the server failed")?;
    Ok(())
}
