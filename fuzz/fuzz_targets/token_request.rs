//! A `/token` request: the form body, and an `Authorization` header on the first line when the
//! input starts with `Basic ` (the client chooses both).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trustframe_oidc::Application;

static APPS: OnceLock<Vec<Application>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let apps = APPS.get_or_init(trustframe_oidc::fuzz::applications);
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) if data.starts_with(b"Basic ") => {
            (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..])
        }
        _ => (None, data),
    };
    let _ = trustframe_oidc::fuzz::token_request(apps, body, header);
});
