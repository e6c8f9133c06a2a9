//! Bounded anonymous cost at the socket (issue 11, item 3): slowloris connections that send
//! headers byte by byte, idle keep-alive connections and connections beyond the cap are closed,
//! over HTTP and HTTPS. Bounds are generous: these tests assert "closed", not how fast.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Short limits for a test; the rest stays at its default.
fn limits(header: u32, idle: u32, max_connections: u32) -> impl FnOnce(String, &str) -> String {
    move |text, _| {
        text.replace(
            "development = true",
            &format!(
                "development = true\nheader_read_timeout_seconds = {header}\n\
                 idle_timeout_seconds = {idle}\nmax_connections = {max_connections}"
            ),
        )
    }
}

/// Sends an endless request head one byte a second, reading meanwhile; returns how long the
/// server kept the connection open, or `None` if it was still open after `bound`.
async fn slowloris<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    bound: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let send = async {
        for byte in head.iter().copied().chain(std::iter::repeat(b'a')) {
            if writer.write_all(&[byte]).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let read = async {
        let mut buf = [0u8; 1024];
        // Whatever the server says (a 408 or nothing), the end of the stream is what counts.
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = read => Some(started.elapsed()),
        _ = send => Some(started.elapsed()),
        _ = tokio::time::sleep(bound) => None,
    }
}

/// True when the peer closes `stream` within `bound` (nothing is sent).
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(bound, read).await.is_ok()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Sends one request on `stream` and reads the answer's head.
async fn get_healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no answer"))
        .unwrap_or_else(|e| panic!("read: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn slowloris_connections_are_closed_after_the_header_timeout() {
    let app = spawn_edited("", None, limits(2, 60, 100)).await;
    let attacks: Vec<_> = (0..5)
        .map(|_| {
            let addr = app.addr;
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                slowloris(stream, Duration::from_secs(15)).await
            })
        })
        .collect();
    for attack in attacks {
        let held = attack.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            held.is_some(),
            "a connection sending its headers a byte a second was still open after 15 s"
        );
    }
    // The server still answers others.
    assert!(
        get_healthz(&mut connect(&app).await)
            .await
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = spawn_edited("", None, limits(60, 2, 100)).await;
    let mut stream = connect(&app).await;
    let answer = get_healthz(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed_within(&mut stream, Duration::from_secs(15)).await,
        "an idle keep-alive connection was still open after 15 s"
    );
    // A connection that never sends anything is idle too.
    assert!(closed_within(&mut connect(&app).await, Duration::from_secs(15)).await);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let app = spawn_edited("", None, limits(60, 60, 3)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        // Proven served, so the server has counted it before the next one.
        assert!(get_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = connect(&app).await;
    assert!(
        closed_within(&mut extra, Duration::from_secs(10)).await,
        "a fourth connection was kept beyond max_connections = 3"
    );
    // One closes: a new one is served again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = connect(&app).await;
        let mut buf = [0u8; 64];
        let served = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .is_ok()
            && matches!(
                tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
                Ok(Ok(n)) if n > 0 && buf.starts_with(b"HTTP/1.1 200")
            );
        if served {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection served after one closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn slowloris_over_https_is_closed_too() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap_or_else(|e| panic!("{e}"));
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap_or_else(|e| panic!("{e}"));
    write_private(&key, certified.signing_key.serialize_pem().as_bytes());
    let app = spawn_edited("", Some((&cert, &key)), limits(2, 60, 100)).await;

    // A handshake that never finishes.
    let mut stream = connect(&app).await;
    stream
        .write_all(&[0x16, 0x03, 0x01])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        closed_within(&mut stream, Duration::from_secs(15)).await,
        "a TLS handshake left unfinished was still open after 15 s"
    );

    // A finished handshake, then headers byte by byte.
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(certified.cert.der().clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost")
        .unwrap_or_else(|e| panic!("{e}"));
    let tls = connector
        .connect(name, connect(&app).await)
        .await
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    assert!(
        slowloris(tls, Duration::from_secs(15)).await.is_some(),
        "a TLS connection sending its headers a byte a second was still open after 15 s"
    );
}

/// A private key file as an operator should keep it: readable by its owner only.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let app = spawn_app("").await;
    let (status, _) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", WEB_CLIENT.to_owned()),
            ("padding", "a".repeat(100 * 1024)),
        ],
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::PAYLOAD_TOO_LARGE);
}
