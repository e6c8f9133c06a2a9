//! Verification mails per second through Trustframe's SMTP client (lettre, pooled connections)
//! to the in-process test SMTP server on 127.0.0.1, as a journey sends them: template
//! rendering in the user's language, MIME building, then EHLO/MAIL/RCPT/DATA.
//!
//!     cargo bench -p trustframe-server --bench mail
//!
//! Figures go to crates/server/BENCHMARKS.md. Not a test: nothing here asserts a duration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use trustframe_engine::{CodeMail, Mailer};
use trustframe_server::mail::{EmailConfig, MailService, SmtpUrl, TransportKind};

#[allow(dead_code)]
#[path = "../tests/e2e/smtp.rs"]
mod smtp;

const MAILS: usize = 3000;
const WARM_UP: usize = 100;

fn mail(i: usize) -> CodeMail {
    CodeMail {
        to: format!("user{i}@example.com"),
        code: format!("{:06}", i % 1_000_000),
        culture: if i.is_multiple_of(2) {
            "en-US"
        } else {
            "fr-FR"
        }
        .into(),
        lifetime_seconds: 600,
        tenant: "contoso.onmicrosoft.com".into(),
        correlation_id: format!("bench-{i}"),
        ip_address: String::new(),
        user_agent: String::new(),
    }
}

async fn run(service: Arc<MailService>, concurrency: usize, count: usize, offset: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < count {
                if let Err(e) = service.send_code(mail(offset + i)).await {
                    panic!("send: {e}");
                }
                i += concurrency;
            }
        }));
    }
    for t in tasks {
        if let Err(e) = t.await {
            panic!("worker: {e}");
        }
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("runtime: {e}"),
    };
    runtime.block_on(async {
        let server = smtp::SmtpServer::start().await;
        let config = EmailConfig {
            transport: TransportKind::Smtp,
            smtp_url: SmtpUrl::new(server.url()),
            from: "Contoso <no-reply@contoso.example>".into(),
            ..EmailConfig::default()
        };
        let service = Arc::new(
            MailService::new(&config, &[], "contoso").unwrap_or_else(|e| panic!("mailer: {e}")),
        );

        // Rendering and MIME building alone (no network).
        let started = Instant::now();
        let mut bytes = 0;
        for i in 0..MAILS {
            let m = mail(i);
            let rendered = service.render(&m).unwrap_or_else(|e| panic!("render: {e}"));
            let message = service
                .message(&m.to, &rendered)
                .unwrap_or_else(|e| panic!("message: {e}"));
            bytes += message.formatted().len();
        }
        let build_rate = MAILS as f64 / started.elapsed().as_secs_f64();
        println!(
            "render + MIME build: {build_rate:.0} mails/s ({} bytes per mail)",
            bytes / MAILS
        );

        run(service.clone(), 1, WARM_UP, 0).await;
        let mut sent = WARM_UP;
        for concurrency in [1, 4, 16] {
            let rate = run(service.clone(), concurrency, MAILS, sent).await;
            sent += MAILS;
            println!("SMTP, {concurrency:>2} concurrent senders: {rate:.0} mails/s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let received = server.mails().len();
        assert_eq!(received, sent, "every mail was received");
        println!("{received} mails received by the local SMTP server");
    });
}
