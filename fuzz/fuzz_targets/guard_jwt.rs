//! A request's `Authorization` header through the guard (bearer syntax, JWT header and
//! signature, claims, requirements) against a fixed provider; input starting with `{` is read
//! as the provider's metadata or JWKS instead.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trustframe_guard::fuzz::Verifier;

const METADATA: &[u8] = include_bytes!("../keys/metadata.json");
const JWKS: &[u8] = include_bytes!("../keys/jwks.json");

static VERIFIER: OnceLock<Verifier> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        let _ = trustframe_guard::fuzz::documents(data);
        return;
    }
    let verifier = VERIFIER.get_or_init(|| {
        Verifier::new(METADATA, JWKS, "api-app")
            .unwrap_or_else(|e| panic!("the fixed provider documents load: {e}"))
    });
    let _ = verifier.check(data);
});
