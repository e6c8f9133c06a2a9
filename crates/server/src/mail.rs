//! Outgoing mail (`one-time-password-technical-profile.md`): the verification-code message,
//! from our templates in the user's language, through SMTP (plain, STARTTLS or implicit TLS,
//! optional AUTH), the log (development: the code is logged, that is the point), or the
//! development mailbox of the demo (`/dev/mailbox`).
//!
//! SMTP with TLS trusts what every outbound call trusts (`docs/operating.md`): the system's roots
//! plus `[outbound] ca_files`, TLS 1.2 or later. The SMTP password lives only inside the
//! transport: [`SmtpUrl`]'s `Debug` and `Display` hide it, and it is never logged.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{AutoEscape, Environment};
use serde::{Deserialize, Serialize};
use trustframe_engine::{CodeMail, CodeRefusal, EnvError, Mailer};
use trustframe_policy::ResolverContext;
use trustframe_store::Store;

use crate::audit::{Event, address_hash};
use crate::config::VerificationConfig;

/// `[email] transport`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    #[default]
    Smtp,
    /// Development: the message, code included, is written to the log.
    Log,
    /// Development (the demo): messages are kept in memory and listed at `/dev/mailbox`.
    Mailbox,
}

/// An SMTP URL whose password never shows: `smtp://host:25`, `smtp://host:587?tls=required`,
/// `smtps://user:pass@host:465`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL as written, password included: only for building the transport.
    fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its user and password replaced.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) => {
                if u.password().is_some() || !u.username().is_empty() {
                    let _ = u.set_username("***");
                    let _ = u.set_password(None);
                }
                u.to_string()
            }
            Err(_) => "(unparsable SMTP URL)".to_owned(),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({})", self.redacted())
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    /// STARTTLS; `required` refuses a server that does not offer it.
    StartTls {
        required: bool,
    },
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

/// A parsed SMTP URL.
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<(String, String)>,
    pub hello_name: Option<String>,
}

impl fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("auth", &self.credentials.is_some())
            .finish()
    }
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode(s).ok_or_else(|| "user or password is not valid percent-encoded UTF-8".into())
}

fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

impl SmtpTarget {
    /// Reads `smtp://[user:pass@]host[:port][?tls=required|opportunistic]` or
    /// `smtps://[user:pass@]host[:port]`. Errors never repeat the password.
    pub fn parse(url: &SmtpUrl) -> Result<Self, String> {
        let u = url::Url::parse(url.expose())
            .map_err(|e| format!("'{}' is not a URL: {e}", url.redacted()))?;
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_ascii_lowercase());
        let (security, default_port) = match (u.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "scheme '{scheme}' with tls={} is not understood: use smtp://host:25, smtp://host:587?tls=required (STARTTLS) or smtps://host:465",
                    tls.unwrap_or("(none)")
                ));
            }
        };
        let credentials = if u.username().is_empty() && u.password().is_none() {
            None
        } else {
            Some((
                decode(u.username())?,
                decode(u.password().unwrap_or_default())?,
            ))
        };
        let hello_name = Some(u.path().trim_matches('/').to_owned()).filter(|p| !p.is_empty());
        Ok(Self {
            port: u.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello_name,
        })
    }

    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The transport: a pool of connections, TLS per [`Security`] with the outbound roots.
    pub fn transport(
        &self,
        extra_root_pems: &[Vec<u8>],
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let tls = match self.security {
            Security::Plain => Tls::None,
            other => {
                let mut params = TlsParameters::builder(self.host.clone());
                for (i, pem) in extra_root_pems.iter().enumerate() {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|e| format!("outbound.ca_files[{i}]: {e}"))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params.build_rustls().map_err(|e| format!("TLS: {e}"))?;
                match other {
                    Security::Implicit => Tls::Wrapper(params),
                    Security::StartTls { required: true } => Tls::Required(params),
                    _ => Tls::Opportunistic(params),
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        if let Some(name) = &self.hello_name {
            builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                name.clone(),
            ));
        }
        Ok(builder.build())
    }
}

/// `[email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// `smtp` (default), `log` or `mailbox` (both for development only).
    pub transport: TransportKind,
    pub smtp_url: SmtpUrl,
    /// `Contoso <no-reply@contoso.example>`.
    pub from: String,
    /// Connect, TLS and each SMTP command.
    pub timeout_seconds: u64,
    /// Plain SMTP (no TLS) to a host other than this machine.
    pub allow_insecure: bool,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::Smtp,
            smtp_url: SmtpUrl::new("smtp://localhost:25"),
            from: "no-reply@localhost".into(),
            timeout_seconds: 10,
            allow_insecure: false,
        }
    }
}

impl EmailConfig {
    /// `Err((key, message))`.
    pub fn validate(&self, development: bool) -> Result<(), (&'static str, String)> {
        self.from.parse::<Mailbox>().map_err(|e| {
            (
                "email.from",
                format!("'{}' is not a mail address: {e}", self.from),
            )
        })?;
        if self.timeout_seconds == 0 || self.timeout_seconds > 300 {
            return Err(("email.timeout_seconds", "must be from 1 to 300".into()));
        }
        match self.transport {
            TransportKind::Smtp => {
                let target =
                    SmtpTarget::parse(&self.smtp_url).map_err(|m| ("email.smtp_url", m))?;
                if target.security == Security::Plain
                    && !target.is_loopback()
                    && !(self.allow_insecure || development)
                {
                    return Err((
                        "email.smtp_url",
                        "plain SMTP to another host sends codes (and any password) unencrypted: use ?tls=required or smtps://, or set allow_insecure = true".into(),
                    ));
                }
                Ok(())
            }
            TransportKind::Log | TransportKind::Mailbox if !development => Err((
                "email.transport",
                "'log' and 'mailbox' show verification codes: they need server.development = true"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The texts of the verification-code message, by language (`ui_locales`).
struct Strings {
    lang: &'static str,
    subject: &'static str,
    heading: &'static str,
    intro: &'static str,
    code: &'static str,
    expiry: &'static str,
    ignore: &'static str,
    signature: &'static str,
}

const STRINGS: &[Strings] = &[
    Strings {
        lang: "en",
        subject: "{brand} account e-mail verification code",
        heading: "Verify your e-mail address",
        intro: "Thanks for verifying your {email} account!",
        code: "Your code is:",
        expiry: "The code expires in {minutes} minutes.",
        ignore: "If you didn't ask for this code, you can ignore this e-mail.",
        signature: "Sincerely, {brand}",
    },
    Strings {
        lang: "fr",
        subject: "Code de vérification de l'adresse e-mail de votre compte {brand}",
        heading: "Vérifiez votre adresse e-mail",
        intro: "Merci de vérifier votre compte {email} !",
        code: "Votre code est :",
        expiry: "Le code expire dans {minutes} minutes.",
        ignore: "Si vous n'avez pas demandé ce code, vous pouvez ignorer cet e-mail.",
        signature: "Cordialement, {brand}",
    },
];

fn strings(culture: &str) -> &'static Strings {
    let lang = culture
        .split(['-', '_'])
        .next()
        .unwrap_or("en")
        .to_ascii_lowercase();
    STRINGS
        .iter()
        .find(|s| s.lang == lang)
        .unwrap_or(&STRINGS[0])
}

/// A rendered message.
#[derive(Debug, Clone, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub lang: String,
}

/// A message kept by the development mailbox.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMail {
    pub at: String,
    pub tenant: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub code: String,
}

const MAILBOX_SIZE: usize = 200;

/// The demo's in-memory mailbox.
#[derive(Clone, Default)]
pub struct DevMailbox {
    messages: Arc<Mutex<VecDeque<StoredMail>>>,
}

impl DevMailbox {
    fn push(&self, mail: StoredMail) {
        let mut m = self
            .messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= MAILBOX_SIZE {
            m.pop_back();
        }
        m.push_front(mail);
    }

    /// Newest first.
    pub fn messages(&self) -> Vec<StoredMail> {
        self.messages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
    Mailbox(DevMailbox),
}

/// The mailer of one tenant.
pub struct MailService {
    transport: Transport,
    /// `[verification]`: limits shared by every journey and node; `None` in tools and tests
    /// that mail without a store.
    limits: Option<CodeLimits>,
    /// Codes sent and refused are audited; `None` without a store.
    audit: Option<crate::audit::AuditLog>,
    from: Mailbox,
    /// The name in subjects and signatures (`Contoso`).
    brand: String,
    templates: Environment<'static>,
}

const TEXT: &str = include_str!("../templates/mail/verification_code.txt");
const HTML: &str = include_str!("../templates/mail/verification_code.html");

impl MailService {
    pub fn new(
        config: &EmailConfig,
        extra_root_pems: &[Vec<u8>],
        tenant_name: &str,
    ) -> Result<Self, String> {
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("email.from: {e}"))?;
        let transport = match config.transport {
            TransportKind::Smtp => {
                let target = SmtpTarget::parse(&config.smtp_url)
                    .map_err(|e| format!("email.smtp_url: {e}"))?;
                let t = target
                    .transport(extra_root_pems, Duration::from_secs(config.timeout_seconds))
                    .map_err(|e| format!("email.smtp_url: {e}"))?;
                tracing::info!(tenant = tenant_name, smtp = %config.smtp_url, security = ?target.security, "mail goes out through SMTP");
                Transport::Smtp(t)
            }
            TransportKind::Log => {
                tracing::warn!(
                    tenant = tenant_name,
                    "email.transport = \"log\": verification codes are written to the log (development only)"
                );
                Transport::Log
            }
            TransportKind::Mailbox => Transport::Mailbox(DevMailbox::default()),
        };
        let mut templates = Environment::new();
        templates.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        templates
            .add_template("verification_code.txt", TEXT)
            .map_err(|e| format!("mail template: {e}"))?;
        templates
            .add_template("verification_code.html", HTML)
            .map_err(|e| format!("mail template: {e}"))?;
        let mut brand: Vec<char> = tenant_name.chars().collect();
        if let Some(c) = brand.first_mut() {
            *c = c.to_ascii_uppercase();
        }
        Ok(Self {
            transport,
            limits: None,
            audit: None,
            from,
            brand: brand.into_iter().collect(),
            templates,
        })
    }

    /// Limits codes across journeys, counted in `store` (`[verification]`).
    pub fn with_limits(
        mut self,
        store: Store,
        config: &VerificationConfig,
        now: fn() -> i64,
    ) -> Self {
        self.limits = Some(CodeLimits {
            store,
            config: config.clone(),
            now,
        });
        self
    }

    /// Audits codes sent and refused.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    pub fn mailbox(&self) -> Option<&DevMailbox> {
        match &self.transport {
            Transport::Mailbox(m) => Some(m),
            _ => None,
        }
    }

    /// The message for a code, in the journey's language (English where we have no strings).
    pub fn render(&self, mail: &CodeMail) -> Result<Rendered, minijinja::Error> {
        let s = strings(&mail.culture);
        let minutes = ((mail.lifetime_seconds.max(1) + 59) / 60).to_string();
        let fill = |t: &str| {
            t.replace("{brand}", &self.brand)
                .replace("{email}", &mail.to)
                .replace("{minutes}", &minutes)
        };
        let context = minijinja::context! {
            lang => s.lang,
            subject => fill(s.subject),
            heading => fill(s.heading),
            intro => fill(s.intro),
            code_label => fill(s.code),
            code => &mail.code,
            expiry => fill(s.expiry),
            ignore => fill(s.ignore),
            signature => fill(s.signature),
        };
        Ok(Rendered {
            subject: fill(s.subject),
            text: self
                .templates
                .get_template("verification_code.txt")?
                .render(&context)?,
            html: self
                .templates
                .get_template("verification_code.html")?
                .render(&context)?,
            lang: s.lang.to_owned(),
        })
    }

    pub fn message(&self, to: &str, rendered: &Rendered) -> Result<Message, String> {
        let to = to
            .parse::<Mailbox>()
            .map_err(|e| format!("recipient is not a mail address: {e}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))
            .map_err(|e| format!("message: {e}"))
    }
}

/// Verification codes counted per address and per client IP in the store, so that journeys
/// and nodes share the limits (subjects `code-sent:address:…`, `code-sent:ip:…`,
/// `code-check:address:…` beside smart lockout's).
struct CodeLimits {
    store: Store,
    config: VerificationConfig,
    now: fn() -> i64,
}

impl CodeLimits {
    /// Counts one event of `subject`; `false` when it goes beyond `max` (0: no limit).
    async fn within(&self, subject: &str, max: u32) -> Result<bool, EnvError> {
        if max == 0 {
            return Ok(true);
        }
        let count = self
            .store
            .count_event(subject, i64::from(self.config.window_seconds), (self.now)())
            .await
            .map_err(|e| EnvError::new(format!("store: {e}")))?;
        Ok(count <= max)
    }

    async fn forgive(&self, subject: &str) -> Result<(), EnvError> {
        self.store
            .forgive_event(subject)
            .await
            .map_err(|e| EnvError::new(format!("store: {e}")))
    }
}

/// An address as counted: trimmed and lower-cased, like the journey's codes.
fn address_key(address: &str) -> String {
    address.trim().to_lowercase()
}

#[async_trait]
impl Mailer for MailService {
    async fn count_code_sent(&self, address: &str, ip: &str) -> Result<bool, EnvError> {
        let Some(limits) = &self.limits else {
            return Ok(true);
        };
        let by_address = format!("code-sent:address:{}", address_key(address));
        if !limits
            .within(&by_address, limits.config.max_codes_per_address)
            .await?
        {
            return Ok(false);
        }
        let ip = ip.trim();
        if ip.is_empty() {
            return Ok(true);
        }
        if !limits
            .within(
                &format!("code-sent:ip:{ip}"),
                limits.config.max_codes_per_ip,
            )
            .await?
        {
            // Refused for the IP: nothing goes to the address, so it does not count there.
            if limits.config.max_codes_per_address > 0 {
                limits.forgive(&by_address).await?;
            }
            return Ok(false);
        }
        Ok(true)
    }

    async fn count_code_check(&self, address: &str) -> Result<bool, EnvError> {
        let Some(limits) = &self.limits else {
            return Ok(true);
        };
        limits
            .within(
                &format!("code-check:address:{}", address_key(address)),
                limits.config.max_wrong_codes_per_address,
            )
            .await
    }

    async fn forgive_code_check(&self, address: &str) -> Result<(), EnvError> {
        match &self.limits {
            Some(limits) if limits.config.max_wrong_codes_per_address > 0 => {
                limits
                    .forgive(&format!("code-check:address:{}", address_key(address)))
                    .await
            }
            _ => Ok(()),
        }
    }

    async fn code_refused(
        &self,
        address: &str,
        reason: CodeRefusal,
        context: &ResolverContext,
    ) -> Result<(), EnvError> {
        if let Some(audit) = &self.audit {
            // A code not sent is a refused sending; the others are codes entered.
            let kind = match reason {
                CodeRefusal::TooManySent => "code_sent",
                _ => "code_failed",
            };
            let event = Event {
                kind,
                outcome: reason.as_str(),
                subject: None,
                detail: serde_json::json!({"addressHash": address_hash(address)}),
            };
            audit.record_or_log(event, Some(context)).await;
        }
        Ok(())
    }

    async fn send_code(&self, mail: CodeMail) -> Result<(), EnvError> {
        let rendered = self
            .render(&mail)
            .map_err(|e| EnvError::new(format!("mail template: {e}")))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                let message = self.message(&mail.to, &rendered).map_err(EnvError::new)?;
                smtp.send(message)
                    .await
                    .map_err(|e| EnvError::new(format!("smtp: {e}")))?;
                tracing::info!(correlation_id = %mail.correlation_id, "verification code e-mailed");
            }
            Transport::Log => {
                // The development transport: the whole message, code included, on purpose.
                tracing::info!(
                    correlation_id = %mail.correlation_id,
                    to = %mail.to,
                    subject = %rendered.subject,
                    body = %rendered.text,
                    "mail (email.transport = \"log\")"
                );
            }
            Transport::Mailbox(mailbox) => {
                mailbox.push(StoredMail {
                    at: time::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    tenant: mail.tenant.clone(),
                    to: mail.to.clone(),
                    subject: rendered.subject,
                    text: rendered.text,
                    code: mail.code.clone(),
                });
            }
        }
        if let Some(audit) = &self.audit {
            // The journey's context as the mail carries it: enough for the record.
            let context = ResolverContext {
                correlation_id: mail.correlation_id.clone(),
                ip_address: mail.ip_address.clone(),
                user_agent: mail.user_agent.clone(),
                ..ResolverContext::default()
            };
            let event = Event {
                kind: "code_sent",
                outcome: "sent",
                subject: None,
                detail: serde_json::json!({"addressHash": address_hash(&mail.to)}),
            };
            audit.record_or_log(event, Some(&context)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(culture: &str) -> CodeMail {
        CodeMail {
            to: "ann@example.com".into(),
            code: "123456".into(),
            culture: culture.into(),
            lifetime_seconds: 600,
            tenant: "contoso.onmicrosoft.com".into(),
            correlation_id: "c".into(),
            ip_address: String::new(),
            user_agent: String::new(),
        }
    }

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let url = SmtpUrl::new("smtps://mailer%40contoso:s3cr%2Ft@mail.contoso.example:465");
        let t = SmtpTarget::parse(&url).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("mail.contoso.example", 465, Security::Implicit)
        );
        assert_eq!(
            t.credentials,
            Some(("mailer@contoso".to_owned(), "s3cr/t".to_owned()))
        );
        for shown in [format!("{url}"), format!("{url:?}"), format!("{t:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
        }
        let t = SmtpTarget::parse(&SmtpUrl::new("smtp://host:587?tls=required"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.security, Security::StartTls { required: true });
        let t = SmtpTarget::parse(&SmtpUrl::new("smtp://127.0.0.1:2525"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(t.security == Security::Plain && t.is_loopback() && t.port == 2525);
        assert!(SmtpTarget::parse(&SmtpUrl::new("http://host")).is_err());
    }

    #[test]
    fn plain_smtp_elsewhere_needs_a_choice_and_dev_transports_need_development() {
        let c = EmailConfig {
            smtp_url: SmtpUrl::new("smtp://user:pw@mail.example:25"),
            ..EmailConfig::default()
        };
        assert!(
            c.validate(false)
                .is_err_and(|(k, m)| k == "email.smtp_url" && !m.contains("pw"))
        );
        assert!(c.validate(true).is_ok());
        let c = EmailConfig {
            transport: TransportKind::Log,
            ..EmailConfig::default()
        };
        assert!(c.validate(false).is_err());
    }

    #[test]
    fn the_message_speaks_the_users_language_and_escapes_html() {
        let config = EmailConfig {
            transport: TransportKind::Mailbox,
            from: "Contoso <no-reply@contoso.example>".into(),
            ..EmailConfig::default()
        };
        let m = MailService::new(&config, &[], "contoso").unwrap_or_else(|e| panic!("{e}"));
        let en = m.render(&mail("en-US")).unwrap_or_else(|e| panic!("{e}"));
        assert!(en.subject.starts_with("Contoso account"));
        assert!(en.text.contains("123456") && en.html.contains("123456"));
        assert!(en.text.contains("10 minutes"));
        let fr = m.render(&mail("fr-FR")).unwrap_or_else(|e| panic!("{e}"));
        assert!(fr.text.contains("Votre code est"), "{}", fr.text);
        let de = m.render(&mail("de")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(de.lang, "en");
        let mut evil = mail("en");
        evil.to = "<b>x</b>@example.com".into();
        let r = m.render(&evil).unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.html.contains("<b>x</b>"), "{}", r.html);
        let message = m
            .message("ann@example.com", &en)
            .unwrap_or_else(|e| panic!("{e}"));
        let raw = String::from_utf8_lossy(&message.formatted()).to_string();
        assert!(raw.contains("multipart/alternative"));
    }
}
