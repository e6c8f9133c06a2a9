//! Runs the test issuer until interrupted, printing what a client needs as `KEY=value` lines:
//! the metadata URL, the audience, the policy and a token valid for a day.
//!
//! Used by `bench/load.sh`; handy for trying an API by hand:
//! `cargo run -p trustframe-guard --features test-issuer --example test_issuer`

use std::io::Write;

use trustframe_guard::test_issuer::{AUDIENCE, POLICY, TestIssuer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer = TestIssuer::start().await?;
    let token = issuer
        .token()
        .expires_in(24 * 3600)
        .scopes("tasks.read")
        .sign();
    let mut out = std::io::stdout().lock();
    writeln!(out, "METADATA_URL={}", issuer.metadata_url())?;
    writeln!(out, "AUDIENCE={AUDIENCE}")?;
    writeln!(out, "POLICY={POLICY}")?;
    writeln!(out, "TOKEN={token}")?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
