//! `todo-api`: serves the sample API until Ctrl-C.

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = todo_api::Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let app = if config.no_auth {
        tracing::warn!("--no-auth: serving WITHOUT any token check (benchmark baseline only)");
        todo_api::unguarded_router()
    } else {
        let guard = todo_api::guard(&config).context("cannot set up the token guard")?;
        // Not fatal: the guard keeps retrying and answers 503 until the keys load.
        if let Err(error) = guard.ready().await {
            tracing::warn!(%error, "the identity provider is not reachable yet; retrying in the background");
        }
        todo_api::router(&guard)
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!("Listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server failed")?;
    Ok(())
}
