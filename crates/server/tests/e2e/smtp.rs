//! A small SMTP server on 127.0.0.1:0 (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT; STARTTLS or implicit TLS when given a certificate) that keeps what it receives,
//! so tests read verification codes from real mail sent by Trustframe's SMTP client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// How the server protects its connections.
#[derive(Clone)]
pub enum Protection {
    None,
    /// TLS from the first byte (`smtps://`).
    Implicit(TlsAcceptor),
    /// `STARTTLS` offered after EHLO.
    StartTls(TlsAcceptor),
}

/// A TLS acceptor for a certificate and its PKCS#8 key (DER).
pub fn acceptor(cert: Vec<u8>, key: Vec<u8>) -> TlsAcceptor {
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("tls versions: {e}"))
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap_or_else(|e| panic!("tls config: {e}"));
    TlsAcceptor::from(Arc::new(config))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends.
    pub data: String,
    /// The (user, password) the client authenticated with.
    pub auth: Option<(String, String)>,
}

impl ReceivedMail {
    /// A header's raw value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The decoded body of the first part of this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        for section in self.data.split("\r\n--") {
            let Some((head, body)) = section.split_once("\r\n\r\n") else {
                continue;
            };
            let head_lower = head.to_ascii_lowercase();
            if !head_lower.contains(&format!("content-type: {content_type}")) {
                continue;
            }
            let body = body.split("\r\n--").next().unwrap_or(body);
            return Some(
                if head_lower.contains("content-transfer-encoding: base64") {
                    let joined: String = body.split_whitespace().collect();
                    String::from_utf8_lossy(&STANDARD.decode(joined).unwrap_or_default())
                        .into_owned()
                } else if head_lower.contains("content-transfer-encoding: quoted-printable") {
                    quoted_printable(body)
                } else {
                    body.to_owned()
                },
            );
        }
        None
    }

    /// The six-digit code of a verification mail.
    pub fn code(&self) -> String {
        let text = self
            .part("text/plain")
            .unwrap_or_else(|| panic!("no text part: {}", self.data));
        // The line "Your code is: 123456" (in any language: a label, a colon, the digits).
        text.lines()
            .filter_map(|l| l.rsplit_once(": "))
            .map(|(_, v)| v.trim())
            .find(|v| v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()))
            .unwrap_or_else(|| panic!("no code in: {text}"))
            .to_owned()
    }
}

fn quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\r') => i += 3,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<ReceivedMail>>,
    arrived: Notify,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Accepts any client, with or without AUTH.
    pub async fn start() -> Self {
        Self::start_with(None, Protection::None).await
    }

    /// Requires AUTH with these credentials before MAIL.
    pub async fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_with(
            Some((user.to_owned(), password.to_owned())),
            Protection::None,
        )
        .await
    }

    /// Implicit TLS or STARTTLS.
    pub async fn start_tls(tls: Protection) -> Self {
        Self::start_with(None, tls).await
    }

    async fn start_with(required: Option<(String, String)>, tls: Protection) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("smtp bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("smtp addr: {e}"));
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inbox = shared.clone();
                let required = required.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _ = match tls {
                        Protection::None => {
                            session(Box::new(stream), inbox, required, None, true).await
                        }
                        Protection::StartTls(a) => {
                            session(Box::new(stream), inbox, required, Some(a), true).await
                        }
                        Protection::Implicit(a) => match a.accept(stream).await {
                            Ok(s) => session(Box::new(s), inbox, required, None, true).await,
                            Err(e) => Err(e),
                        },
                    };
                });
            }
        });
        Self { addr, inbox, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.addr.port())
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.inbox
            .mails
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn mails_to(&self, to: &str) -> Vec<ReceivedMail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }

    /// Waits (10 s at most) until `to` has received `count` mails; returns the last.
    pub async fn wait_for(&self, to: &str, count: usize) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.inbox.arrived.notified();
            let mails = self.mails_to(to);
            if mails.len() >= count {
                return mails[count - 1].clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no mail #{count} to {to} within 10 s (got {})", mails.len());
            }
        }
    }
}

fn address(arg: &str) -> String {
    let a = arg.split_once(':').map(|(_, v)| v).unwrap_or(arg).trim();
    let a = a.split_whitespace().next().unwrap_or(a);
    a.trim_start_matches('<').trim_end_matches('>').to_owned()
}

fn decode_b64(s: &str) -> String {
    String::from_utf8_lossy(&STANDARD.decode(s.trim()).unwrap_or_default()).into_owned()
}

type Session = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// One connection; `starttls` is offered until it is used, then the session goes on over TLS.
fn session(
    stream: Box<dyn Io>,
    inbox: Arc<Inbox>,
    required: Option<(String, String)>,
    starttls: Option<TlsAcceptor>,
    greet: bool,
) -> Session {
    Box::pin(async move {
        let mut lines = BufReader::new(stream);
        if greet {
            lines
                .get_mut()
                .write_all(b"220 test-smtp ESMTP ready\r\n")
                .await?;
        }
        let mut from = String::new();
        let mut to = Vec::new();
        let mut auth: Option<(String, String)> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") {
                let tls = if starttls.is_some() {
                    "250-STARTTLS\r\n"
                } else {
                    ""
                };
                format!(
                    "250-test-smtp\r\n{tls}250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                )
            } else if upper == "STARTTLS" {
                let Some(acceptor) = starttls.clone() else {
                    lines.get_mut().write_all(b"502 Not offered\r\n").await?;
                    continue;
                };
                lines
                    .get_mut()
                    .write_all(b"220 Ready to start TLS\r\n")
                    .await?;
                let plain = lines.into_inner();
                let secured = acceptor.accept(plain).await?;
                return session(Box::new(secured), inbox, required, None, false).await;
            } else if upper.starts_with("HELO") {
                "250 test-smtp\r\n".into()
            } else if upper.starts_with("AUTH PLAIN") {
                let mut initial = command[10..].trim().to_owned();
                if initial.is_empty() {
                    lines.get_mut().write_all(b"334 \r\n").await?;
                    line.clear();
                    lines.read_line(&mut line).await?;
                    initial = line.trim().to_owned();
                }
                let decoded = decode_b64(&initial);
                let mut parts = decoded.split('\0').skip(1);
                let user = parts.next().unwrap_or_default().to_owned();
                let pass = parts.next().unwrap_or_default().to_owned();
                check(&required, user, pass, &mut auth)
            } else if upper.starts_with("AUTH LOGIN") {
                lines.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                line.clear();
                lines.read_line(&mut line).await?;
                let user = decode_b64(&line);
                lines.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                line.clear();
                lines.read_line(&mut line).await?;
                let pass = decode_b64(&line);
                check(&required, user, pass, &mut auth)
            } else if upper.starts_with("MAIL FROM") {
                if required.is_some() && auth.is_none() {
                    "530 5.7.0 Authentication required\r\n".into()
                } else {
                    from = address(&command);
                    to.clear();
                    "250 OK\r\n".into()
                }
            } else if upper.starts_with("RCPT TO") {
                to.push(address(&command));
                "250 OK\r\n".into()
            } else if upper == "DATA" {
                lines
                    .get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    data.push_str(
                        l.strip_prefix('.')
                            .filter(|_| l.starts_with(".."))
                            .unwrap_or(l),
                    );
                    data.push_str("\r\n");
                }
                inbox
                    .mails
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(ReceivedMail {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                        auth: auth.clone(),
                    });
                inbox.arrived.notify_waiters();
                "250 OK queued\r\n".into()
            } else if upper == "RSET" {
                to.clear();
                "250 OK\r\n".into()
            } else if upper == "NOOP" {
                "250 OK\r\n".into()
            } else if upper == "QUIT" {
                lines.get_mut().write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else {
                "502 Command not implemented\r\n".into()
            };
            lines.get_mut().write_all(reply.as_bytes()).await?;
        }
    })
}

fn check(
    required: &Option<(String, String)>,
    user: String,
    pass: String,
    auth: &mut Option<(String, String)>,
) -> String {
    match required {
        Some((u, p)) if *u != user || *p != pass => {
            "535 5.7.8 Authentication credentials invalid\r\n".into()
        }
        _ => {
            *auth = Some((user, pass));
            "235 2.7.0 Authentication successful\r\n".into()
        }
    }
}
