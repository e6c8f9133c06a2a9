//! `trustframe-samples --listen 127.0.0.1:7070`: serves every sample REST API.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: trustframe-samples [--listen ADDRESS:PORT]   (default 127.0.0.1:7070)";

#[tokio::main]
async fn main() -> ExitCode {
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 7070));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--listen" => args.next(),
            s if s.starts_with("--listen=") => Some(s["--listen=".len()..].to_owned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("unknown argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        };
        match value.as_deref().map(str::parse::<SocketAddr>) {
            Some(Ok(addr)) => listen = addr,
            _ => {
                eprintln!("--listen needs ADDRESS:PORT\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().unwrap_or(listen);
    // Written with `let _ =`: a closed stdout must not stop the server.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Trustframe sample REST APIs on http://{local}");
    for path in [
        "POST /validate-accesscode",
        "POST /GetProfile",
        "POST /GetContacts",
        "POST /validate-email",
        "POST /api-connector/validate-email",
        "POST /api-connector/capitalize-names",
        "POST /api-connector/loyalty-number",
    ] {
        let _ = writeln!(out, "  {path}");
    }
    let _ = out.flush();
    drop(out);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, trustframe_samples::router())
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
