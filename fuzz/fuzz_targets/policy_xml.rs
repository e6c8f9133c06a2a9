//! A set of custom-policy files (separated by NUL bytes) through the XML loader: parse, base
//! chains, merge, compile and the link pass.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use trustframe_policy::xml::{self, LoadOptions, PolicyFile};

fuzz_target!(|data: &[u8]| {
    let files: Vec<PolicyFile> = data
        .split(|b| *b == 0)
        .take(8)
        .enumerate()
        .map(|(i, bytes)| PolicyFile {
            name: format!("policy{i}.xml"),
            bytes: bytes.to_vec(),
        })
        .collect();
    let settings = BTreeMap::from([(
        "RestApiBaseUrl".to_owned(),
        "http://127.0.0.1:7070".to_owned(),
    )]);
    let options = LoadOptions {
        tenant_domain: "contoso.onmicrosoft.com",
        settings: &settings,
        limits: Default::default(),
    };
    let _ = xml::load(&files, &options);
});
