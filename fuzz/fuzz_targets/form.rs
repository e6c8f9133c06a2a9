//! A journey page's form body and an `/authorize` query string: the parsers every anonymous
//! visitor reaches first.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trustframe_oidc::Application;

static APPS: OnceLock<Vec<Application>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let _ = trustframe_server::fuzz::form(data);
    let apps = APPS.get_or_init(trustframe_oidc::fuzz::applications);
    let _ = trustframe_oidc::fuzz::authorize(apps, data);
});
