//! Entry points for the fuzz targets in `fuzz/` (not an API): what a REST API answers reaches
//! [`response::interpret`] and the JSON paths untouched, so both must refuse garbage without
//! panicking.

use std::time::Duration;

use reqwest::Method;
use trustframe_policy::rest::ApiConnectorStep;
use trustframe_policy::{ClaimTypeId, DataType};
use url::Url;

use crate::auth::Auth;
use crate::circuit::CircuitSettings;
use crate::json_path::ClaimPath;
use crate::plan::{Body, Contract, OutputSpec, Plan};
use crate::redact::Scrubber;
use crate::response;

const STATUSES: [u16; 8] = [200, 201, 204, 302, 400, 409, 500, 503];
const TYPES: [DataType; 7] = [
    DataType::String,
    DataType::Boolean,
    DataType::Int,
    DataType::Long,
    DataType::Date,
    DataType::DateTime,
    DataType::StringCollection,
];

/// One answer read the way [`crate::Connector::exchange`] reads it. `input` is two selector
/// bytes (contract and JSON paths, HTTP status), a line of output claims (`name` or `name=type`,
/// separated by spaces) and the body. Returns the outcome's audit name.
pub fn response(input: &[u8]) -> String {
    let [contract, status, rest @ ..] = input else {
        return String::new();
    };
    let (outputs_line, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let resolve_paths = contract & 0x10 != 0;
    let contract = match contract % 4 {
        0 => Contract::Restful,
        1 => Contract::ApiConnector(ApiConnectorStep::PostFederationSignup),
        2 => Contract::ApiConnector(ApiConnectorStep::PostAttributeCollection),
        _ => Contract::ApiConnector(ApiConnectorStep::PreTokenIssuance),
    };
    let status = STATUSES[usize::from(*status) % STATUSES.len()];
    let outputs = String::from_utf8_lossy(outputs_line)
        .split(' ')
        .filter(|s| !s.is_empty())
        .enumerate()
        .filter_map(|(i, spec)| {
            let (name, data_type) = match spec.split_once('=') {
                Some((name, t)) => (name, DataType::parse(t).unwrap_or(DataType::String)),
                None => (spec, TYPES[i % TYPES.len()]),
            };
            let path = if resolve_paths {
                // A path the policy loader would refuse never reaches an answer.
                Some(ClaimPath::parse(name).ok()?)
            } else {
                None
            };
            Some(OutputSpec {
                claim: ClaimTypeId::new(name),
                name: name.to_owned(),
                path,
                default: None,
                always_default: false,
                data_type,
            })
        })
        .collect();
    let Ok(url) = Url::parse("https://api.example/fuzz") else {
        return String::new();
    };
    let plan = Plan {
        contract,
        method: Method::POST,
        url,
        audit_url: "https://api.example/fuzz".to_owned(),
        headers: Vec::new(),
        body: Body::None,
        auth: Auth::None,
        insecure: None,
        timeout: Duration::from_secs(1),
        retries: 0,
        max_response_bytes: 1 << 20,
        debug_mode: true,
        outputs,
        messages: Default::default(),
        circuit: CircuitSettings {
            key: String::new(),
            failures: 0,
            cool_down: Duration::ZERO,
        },
        scrubber: Scrubber::default(),
        request_detail: serde_json::Value::Null,
    };
    response::interpret(&plan, status, body).audit_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fuzz seeds in `fuzz/corpus/connector_response/` are answers the connector accepts.
    #[test]
    fn seeds_are_read_as_the_connector_reads_them() {
        let answer = |flags: u8, status: u8, outputs: &str, body: &str| {
            let mut input = vec![flags, status];
            input.extend_from_slice(outputs.as_bytes());
            input.push(b'\n');
            input.extend_from_slice(body.as_bytes());
            response(&input)
        };
        assert_eq!(
            answer(0, 0, "balance=int", r#"{"balance": 42}"#),
            "continue"
        );
        assert_eq!(
            answer(0x10, 0, "a[0].b=string", r#"{"a": [{"b": "x"}]}"#),
            "continue"
        );
        assert_eq!(
            answer(
                0,
                5,
                "email",
                r#"{"version": "1.0.0", "status": 409, "userMessage": "no"}"#
            ),
            "validation_error"
        );
        assert_eq!(
            answer(0, 0, "balance=int", "not json"),
            "failed:malformed_response"
        );
    }
}
