//! A REST API's answer (status, body) read for a profile's output claims, by name or JSON path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = trustframe_connector::fuzz::response(data);
});
