//! Keeping secrets out of audit records and logs.
//!
//! Redaction is structural first (authorization headers, API-key headers, password-type and
//! bearer claims are written as `[redacted]` when the record is built), then a scrub of every
//! recorded text for the secret values themselves, so that an API echoing a password back, or an
//! error message quoting a URL, cannot leak one either.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

pub(crate) const REDACTED: &str = "[redacted]";

/// Shorter values are not scrubbed from free text (they would mangle it); they are still
/// redacted structurally.
const MIN_SCRUB_LEN: usize = 3;

#[derive(Debug, Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.len() < MIN_SCRUB_LEN {
            return;
        }
        let mut forms = vec![secret.to_owned()];
        let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        forms.push(encoded.replace("%20", "+"));
        forms.push(encoded);
        if let Ok(json) = serde_json::to_string(secret) {
            forms.push(json[1..json.len() - 1].to_owned());
        }
        for form in forms {
            if !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub(crate) fn scrub_value(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                let scrubbed = self.scrub(s);
                if scrubbed != *s {
                    *s = scrubbed;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_value(v)),
            _ => {}
        }
    }
}

/// The first `max` bytes of a body as text (on a character boundary), for the audit record.
pub(crate) fn truncated_text(bytes: &[u8], max: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= max {
        return (text.into_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubs_raw_encoded_and_escaped_forms() {
        let mut s = Scrubber::default();
        s.add("p@ss w\"rd");
        s.add("ab");
        assert_eq!(s.scrub("x p@ss w\"rd y"), "x [redacted] y");
        assert_eq!(s.scrub("q=p%40ss+w%22rd"), "q=[redacted]");
        let mut v = json!({"echo": "p@ss w\"rd", "n": ["p@ss w\"rd"], "short": "ab"});
        s.scrub_value(&mut v);
        assert_eq!(
            v,
            json!({"echo": "[redacted]", "n": ["[redacted]"], "short": "ab"})
        );
        assert!(
            !serde_json::to_string(&v)
                .unwrap_or_default()
                .contains("p@ss")
        );
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(
            truncated_text("héllo".as_bytes(), 2),
            ("h".to_owned(), true)
        );
        assert_eq!(truncated_text(b"abc", 10), ("abc".to_owned(), false));
    }
}
