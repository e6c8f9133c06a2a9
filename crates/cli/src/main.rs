//! `trustframe`: serve, run the demo, make a development certificate, operate keys and the audit
//! log. Errors end the process with one clear line.

mod demo;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use trustframe_server::config::LogFormat;
use trustframe_server::{Config, Server, ServerOptions};

#[derive(Parser)]
#[command(
    name = "trustframe",
    version,
    about = "Identity journeys that talk to your own REST APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server from a config file.
    Serve {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
    },
    /// Run a ready-made tenant with the sample REST APIs: no config needed.
    Demo {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[arg(long, default_value = "./trustframe-demo")]
        data_dir: PathBuf,
    },
    /// Write a self-signed certificate and key for localhost and 127.0.0.1.
    DevCert {
        #[arg(long)]
        out: PathBuf,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log: sign-ins and their failures, lockouts, verification codes, password
    /// resets, revoked token families, account deletions, REST API calls.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new active signing key; the old one stays published until its tokens expire.
    Rotate {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
    },
    /// List the published signing keys.
    List {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print audit records as they are written (one JSON object per line).
    Tail {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
        /// Print the last N records first.
        #[arg(long, default_value_t = 20)]
        last: u32,
        /// Keep waiting for new records.
        #[arg(long)]
        follow: bool,
    },
    /// Print audit records (one JSON object per line), oldest first: those written since a
    /// time, or the last ones.
    List {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
        /// An RFC 3339 time (2026-01-31T08:00:00Z) or an age (90s, 30m, 24h, 7d). Without it,
        /// the last --limit records.
        #[arg(long)]
        since: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Load every policy of a config (user flows and custom policies) and print every problem
    /// as `file:line:column: message`; exit code 1 when there is one.
    Check {
        #[arg(long, default_value = "trustframe.toml")]
        config: PathBuf,
    },
}

/// Logs to stdout at `TRUSTFRAME_LOG` (default `info`): text, or one JSON object per line
/// (`[logging] format = "json"`) whose `span` holds the journey's `correlation_id`.
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRUSTFRAME_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_target(false)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn load(config: &Path) -> Result<Config> {
    Config::load(config).map_err(|e| anyhow::anyhow!("{e}"))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve { config } => {
            let config = load(&config)?;
            init_tracing(config.logging.format);
            let public_url = config.server.public_url.clone();
            let server = Server::build(ServerOptions {
                configs: vec![config],
                extra_routes: None,
                home_links: Vec::new(),
                listener: None,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let addr = server.local_addr()?;
            println!("Trustframe is listening on {addr}; public URL {public_url}");
            server.run().await.map_err(|e| anyhow::anyhow!("{e}"))
        }
        Command::Demo { port, data_dir } => {
            init_tracing(LogFormat::Text);
            demo::run(port, &data_dir).await
        }
        Command::DevCert { out } => {
            let (cert, key) = dev_cert(&out)?;
            println!("wrote {} and {}", cert.display(), key.display());
            Ok(())
        }
        Command::Keys { command } => keys(command).await,
        Command::Audit {
            command:
                AuditCommand::Tail {
                    config,
                    last,
                    follow,
                },
        } => audit_tail(&config, last, follow).await,
        Command::Audit {
            command:
                AuditCommand::List {
                    config,
                    since,
                    limit,
                },
        } => audit_list(&config, since.as_deref(), limit).await,
        Command::Policy {
            command: PolicyCommand::Check { config },
        } => policy_check(&config),
    }
}

/// Loads every policy of the config (user flows and the custom-policy folder) and prints each
/// problem as `file:line:column: message`; the process fails when there is one.
fn policy_check(path: &Path) -> Result<()> {
    let config = load(path)?;
    let app_id = config
        .tenant
        .extensions_app_id
        .clone()
        .unwrap_or_else(|| "0".repeat(32));
    match trustframe_server::policies::load(&config, &app_id) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{w}");
            }
            for policy in &loaded.policies {
                let steps = policy.journey().map(|j| j.steps.len()).unwrap_or(0);
                println!(
                    "{}: ok ({steps} steps, {} technical profiles)",
                    policy.id,
                    policy.technical_profiles.len()
                );
            }
            Ok(())
        }
        Err(problems) => {
            for line in &problems.config {
                println!("{}: {line}", path.display());
            }
            for d in &problems.diagnostics {
                println!("{d}");
            }
            anyhow::bail!(
                "{} problem{} in the policies",
                problems.count(),
                if problems.count() == 1 { "" } else { "s" }
            )
        }
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, as `cert.pem` and `key.pem`.
pub fn dev_cert(out: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified =
        rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    let cert = out.join("cert.pem");
    let key = out.join("key.pem");
    std::fs::write(&cert, certified.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(&key, certified.signing_key.serialize_pem().as_bytes())
        .with_context(|| format!("cannot write {}", key.display()))?;
    Ok((cert, key))
}

/// Writes a secret (a private key) readable by its owner only, also when it replaces a file
/// that was readable by others: its mode is narrowed before the new secret is written.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.set_len(0)?;
    file.write_all(contents)?;
    file.sync_all()
}

async fn keys(command: KeysCommand) -> Result<()> {
    let config = match &command {
        KeysCommand::Rotate { config } | KeysCommand::List { config } => load(config)?,
    };
    let store = trustframe_store::Store::connect(&config.storage.url)
        .await
        .context("storage")?;
    let tenant_id = store
        .setting_or_insert("tenant_id", &uuid::Uuid::new_v4().to_string())
        .await?;
    let oidc = trustframe_oidc::OidcService::new(
        store,
        trustframe_oidc::OidcConfig {
            public_url: config.server.public_url.clone(),
            tenant_id: config.tenant.id.clone().unwrap_or(tenant_id),
            applications: config.applications.clone(),
            tokens: config.tokens.clone(),
            key_encryption: config.storage.key_encryption_key()?,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let KeysCommand::Rotate { .. } = command {
        let kid = oidc
            .rotate_keys()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("new signing key {kid}; running servers pick it up at their next key reload");
    }
    for key in oidc.jwks().keys {
        let active = if key.kid == oidc.active_kid() {
            " (active)"
        } else {
            ""
        };
        println!("{}{active}", key.kid);
    }
    Ok(())
}

async fn audit_tail(config: &Path, last: u32, follow: bool) -> Result<()> {
    let config = load(config)?;
    let store = trustframe_store::Store::connect(&config.storage.url)
        .await
        .context("storage")?;
    // Find the position `last` records from the end by paging once through the log.
    let mut after = 0i64;
    let mut ids = std::collections::VecDeque::new();
    loop {
        let page = store.audit_after(after, 500).await?;
        let Some((id, _)) = page.last() else { break };
        after = *id;
        for (id, _) in &page {
            ids.push_back(*id);
            if ids.len() > last as usize {
                ids.pop_front();
            }
        }
    }
    let mut position = ids.front().map(|id| id - 1).unwrap_or(after);
    loop {
        let page = store.audit_after(position, 500).await?;
        for (id, record) in &page {
            println!("{}", serde_json::json!({ "id": id, "record": record }));
            position = *id;
        }
        if !follow {
            return Ok(());
        }
        if page.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// `--since`: an RFC 3339 time, or an age before `now` (`90s`, `30m`, `24h`, `7d`).
fn parse_since(text: &str, now: i64) -> Result<i64> {
    let age = |digits: &str, unit: i64| -> Option<i64> {
        digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit))
            .map(|s| now - s)
    };
    let relative = match text.char_indices().last() {
        Some((at, 's')) => age(&text[..at], 1),
        Some((at, 'm')) => age(&text[..at], 60),
        Some((at, 'h')) => age(&text[..at], 3600),
        Some((at, 'd')) => age(&text[..at], 86_400),
        _ => None,
    };
    if let Some(at) = relative {
        return Ok(at);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            anyhow::anyhow!(
                "--since: '{text}' is neither an RFC 3339 time (2026-01-31T08:00:00Z) nor an age (90s, 30m, 24h, 7d)"
            )
        })
}

async fn audit_list(config: &Path, since: Option<&str>, limit: u32) -> Result<()> {
    let Some(since) = since else {
        return audit_tail(config, limit, false).await;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let since = parse_since(since, now)?;
    let config = load(config)?;
    let store = trustframe_store::Store::connect(&config.storage.url)
        .await
        .context("storage")?;
    let mut after = 0;
    let mut left = limit;
    while left > 0 {
        let page = store.audit_since(since, after, left.min(500)).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (id, record) in &page {
            println!("{}", serde_json::json!({ "id": id, "record": record }));
        }
        left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    }

    /// `dev-cert`'s private key is readable by its owner only, also when it replaces an old
    /// key that was not; the certificate stays readable.
    #[test]
    fn since_is_a_time_or_an_age() {
        let now = 1_800_000_000;
        assert_eq!(parse_since("90s", now).ok(), Some(now - 90));
        assert_eq!(parse_since("30m", now).ok(), Some(now - 1800));
        assert_eq!(parse_since("24h", now).ok(), Some(now - 86_400));
        assert_eq!(parse_since("7d", now).ok(), Some(now - 7 * 86_400));
        assert_eq!(
            parse_since("2027-01-15T08:00:00Z", now).ok(),
            Some(1_800_000_000)
        );
        assert!(
            parse_since("yesterday", now)
                .err()
                .is_some_and(|e| e.to_string().starts_with("--since: 'yesterday'"))
        );
    }

    #[test]
    fn dev_cert_writes_the_key_owner_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (cert, key) = dev_cert(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&cert) & 0o600, 0o600);
        assert!(
            std::fs::read_to_string(&key)
                .unwrap_or_else(|e| panic!("{e}"))
                .contains("PRIVATE KEY")
        );

        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, again) = dev_cert(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&again), 0o600);
    }
}
