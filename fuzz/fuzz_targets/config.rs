//! `trustframe.toml` with environment overrides.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = trustframe_server::fuzz::config(text);
    }
});
