//! The `trustframe` binary: `serve` with `[logging] format = "json"` logs one JSON object per
//! line with the journey's correlation id in its span, `audit list` prints the journey's audit
//! records, and a short client secret stops the start with one line naming its key.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trustframe");

fn config(secret: &str, development: bool) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:1"
development = {development}
[storage]
url = "sqlite://tf.db"
[tenant]
name = "contoso"
[passwords]
argon2_memory_kib = 256
argon2_iterations = 1
[email]
transport = "mailbox"
[logging]
format = "json"
[[applications]]
name = "webapp1"
client_id = "11112222-bbbb-3333-cccc-4444dddd5555"
client_secret = "{secret}"
redirect_uris = ["http://127.0.0.1:9/callback"]
[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
"#
    )
}

/// The server's stdout, line by line, read on a thread.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path) -> (Served, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .env("TRUSTFRAME_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let served = Served { child, lines };
    loop {
        let line = served
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        if let Some(rest) = line.strip_prefix("Trustframe is listening on ") {
            let addr = rest.split(';').next().unwrap_or_default().to_owned();
            return (served, format!("http://{addr}"));
        }
    }
}

/// An attribute of the first tag after `marker`, unescaped as the pages escape it.
fn attribute_after(body: &str, marker: &str, attribute: &str) -> String {
    let at = body
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker}: {body}"));
    let rest = &body[at..];
    let key = format!("{attribute}=\"");
    let start = rest.find(&key).unwrap_or_else(|| panic!("no {attribute}")) + key.len();
    let end = rest[start..].find('"').unwrap_or(0);
    rest[start..start + end]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn json_logs_carry_the_journeys_correlation_id_and_audit_list_shows_its_records() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("trustframe.toml");
    std::fs::write(&path, config("dev-secret", true)).unwrap_or_else(|e| panic!("{e}"));
    let (served, base) = serve(&path);

    // A sign-in with a wrong password, as a browser does it.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let authorize = format!(
        "{base}/contoso/B2C_1_susi/oauth2/v2.0/authorize?client_id=11112222-bbbb-3333-cccc-4444dddd5555&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&response_type=code&scope=openid"
    );
    let page = http
        .get(&authorize)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = page.url().clone();
    let body = page.text().await.unwrap_or_default();
    let action = attribute_after(&body, "<form method=\"post\"", "action");
    let csrf = attribute_after(&body, "name=\"csrf\"", "value");
    let action = url.join(&action).unwrap_or_else(|e| panic!("{e}"));
    let answer = http
        .post(action)
        .form(&[
            ("csrf", csrf.as_str()),
            ("signInName", "nobody@example.com"),
            ("password", "Wrong-Passw0rd!"),
            ("action", "continue"),
        ])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = answer.status();
    let answered = answer.text().await.unwrap_or_default();
    assert!(
        answered.contains("Your email address or password is incorrect."),
        "{status}: {answered}"
    );

    // Every line is a JSON object; the journey's lines name it in their span.
    let mut logged = Vec::new();
    let mut failed = None;
    while failed.is_none() {
        let line = served
            .lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no sign_in_failed line in {logged:#?}: {e}"));
        let value: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if value["event"] == "sign_in_failed" {
            failed = Some(value.clone());
        }
        logged.push(value);
    }
    let started = logged
        .iter()
        .find(|l| l["message"] == "journey started")
        .unwrap_or_else(|| panic!("no 'journey started' in {logged:#?}"));
    let correlation_id = started["correlation_id"].as_str().unwrap_or_default();
    assert_eq!(correlation_id.len(), 36, "{started}");
    let failed = failed.unwrap_or_default();
    assert_eq!(failed["span"]["name"], "journey", "{failed}");
    assert_eq!(failed["span"]["correlation_id"], correlation_id, "{failed}");
    assert_eq!(failed["outcome"], "no_such_user");
    assert_eq!(failed["level"], "INFO");
    let text = serde_json::to_string(&logged).unwrap_or_default();
    assert!(!text.contains("Wrong-Passw0rd!") && !text.contains("nobody@example.com"));
    drop(served);

    // The audit log of that journey, from the command line.
    let list = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["audit", "list", "--config"])
            .arg(&path)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = list(&["--since", "1h"]);
    assert!(ok, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let record = records
        .iter()
        .map(|r| &r["record"])
        .find(|r| r["kind"] == "sign_in_failed")
        .unwrap_or_else(|| panic!("no sign_in_failed in {out}"));
    assert_eq!(record["correlation_id"], correlation_id);
    assert_eq!(record["outcome"], "no_such_user");
    assert_eq!(record["ip"], "127.0.0.1");
    assert!(record["subject"].is_null());
    let (ok, out, _) = list(&["--since", "2000-01-01T00:00:00Z", "--limit", "1"]);
    assert!(ok && out.lines().count() == 1, "{out}");
    let (ok, out, _) = list(&["--since", "1s", "--limit", "5"]);
    assert!(ok, "{out}");
    let (ok, _, err) = list(&["--since", "yesterday"]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: --since: 'yesterday'"), "{err}");
}

#[test]
fn a_short_client_secret_stops_the_start_with_one_line_naming_its_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("trustframe.toml");
    std::fs::write(&path, config("short-secret", false)).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: applications[0].client_secret: must be at least 32 characters"),
        "{err}"
    );
    assert!(!err.contains("short-secret"), "{err}");
}
