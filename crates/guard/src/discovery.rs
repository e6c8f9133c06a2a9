//! Talking to the provider: the HTTP client, the OpenID metadata document and the URL rules.

use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;
use url::Url;

use crate::GuardError;
use crate::error::chain;

pub(crate) const METADATA: &str = "OpenID metadata";
pub(crate) const JWKS: &str = "JSON Web Key Set";

/// Metadata and key sets are small; a provider answering megabytes is broken or hostile.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The parts of the OpenID metadata the guard uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metadata {
    /// Tokens must carry exactly this `iss`. For B2C it is `https://host/{tenant-id}/v2.0/`,
    /// which differs from the metadata URL, so it is not compared with it.
    pub(crate) issuer: String,
    pub(crate) jwks_uri: Url,
    /// Asymmetric algorithms only; never empty.
    pub(crate) algorithms: Vec<Algorithm>,
}

#[derive(Deserialize)]
struct MetadataDocument {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
}

impl Metadata {
    pub(crate) fn parse(body: &[u8], allow_http: bool) -> Result<Self, String> {
        let doc: MetadataDocument =
            serde_json::from_slice(body).map_err(|e| format!("not OpenID metadata JSON: {e}"))?;
        if doc.issuer.is_empty() {
            return Err("the issuer is empty".into());
        }
        let jwks_uri =
            Url::parse(&doc.jwks_uri).map_err(|e| format!("jwks_uri is not a URL: {e}"))?;
        check_scheme(&jwks_uri, allow_http).map_err(|e| format!("jwks_uri: {e}"))?;
        let algorithms = allowed_algorithms(doc.id_token_signing_alg_values_supported.as_deref())?;
        Ok(Self {
            issuer: doc.issuer,
            jwks_uri,
            algorithms,
        })
    }
}

/// The algorithms a token may use: those the metadata lists, minus `none` and the HMAC family
/// (a public key must never be usable as an HMAC secret). RS256 when the list is absent, as
/// OpenID Connect Discovery makes RS256 the default.
pub(crate) fn allowed_algorithms(listed: Option<&[String]>) -> Result<Vec<Algorithm>, String> {
    let Some(listed) = listed else {
        return Ok(vec![Algorithm::RS256]);
    };
    let mut algorithms = Vec::new();
    for name in listed {
        match Algorithm::from_str(name) {
            Ok(alg) if alg.family() != AlgorithmFamily::Hmac => {
                if !algorithms.contains(&alg) {
                    algorithms.push(alg);
                }
            }
            _ => {
                tracing::debug!(algorithm = %name, "ignoring a signing algorithm the guard does not accept")
            }
        }
    }
    if algorithms.is_empty() {
        return Err(format!(
            "id_token_signing_alg_values_supported lists no accepted asymmetric algorithm ({})",
            listed.join(", ")
        ));
    }
    Ok(algorithms)
}

/// HTTPS always; plain HTTP only to this machine or when the operator said so, because keys
/// fetched over plain HTTP can be swapped by anyone on the path (`docs/operating.md`).
pub(crate) fn check_scheme(url: &Url, allow_http: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} uses plain http; use https (plain http is accepted only for loopback hosts or with allow_http)"
        )),
        other => Err(format!("{url} has the unsupported scheme {other}")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The one HTTP client of a guard: system roots plus the optional extra CA.
pub(crate) fn http_client(
    ca_file: Option<&Path>,
    timeout: Duration,
    https_only: bool,
) -> Result<reqwest::Client, GuardError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .https_only(https_only)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("trustframe-guard/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let ca_error = |reason: String| GuardError::CaFile {
            path: path.to_path_buf(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(chain(&e)))?;
        if certs.is_empty() {
            return Err(ca_error("no PEM certificate in the file".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| GuardError::HttpClient(chain(&e)))
}

/// GET a JSON document, refusing error statuses and oversized bodies.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    document: &'static str,
) -> Result<Vec<u8>, GuardError> {
    let fetch_error = |reason: String| GuardError::Fetch {
        document,
        url: url.to_string(),
        reason,
    };
    let mut response = client
        .get(url.clone())
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fetch_error(chain(&e.without_url())))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fetch_error(format!("the server answered {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fetch_error(chain(&e.without_url())))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(GuardError::InvalidDocument {
                document,
                url: url.to_string(),
                reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn algorithms_default_to_rs256_and_drop_none_and_hmac() {
        assert_eq!(allowed_algorithms(None), Ok(vec![Algorithm::RS256]));
        let listed = ["none", "HS256", "RS256", "ES256", "RS256", "XYZ"].map(String::from);
        assert_eq!(
            allowed_algorithms(Some(&listed)),
            Ok(vec![Algorithm::RS256, Algorithm::ES256])
        );
        let only_bad = ["none", "HS512"].map(String::from);
        let error = allowed_algorithms(Some(&only_bad))
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("no accepted asymmetric algorithm"),
            "{error}"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_or_when_allowed() {
        assert!(check_scheme(&url("https://login.example.com/x"), false).is_ok());
        assert!(check_scheme(&url("http://127.0.0.1:8080/x"), false).is_ok());
        assert!(check_scheme(&url("http://[::1]:8080/x"), false).is_ok());
        assert!(check_scheme(&url("http://LOCALHOST/x"), false).is_ok());
        assert!(check_scheme(&url("http://login.example.com/x"), false).is_err());
        assert!(check_scheme(&url("http://login.example.com/x"), true).is_ok());
        assert!(check_scheme(&url("ftp://login.example.com/x"), true).is_err());
    }

    #[test]
    fn metadata_issuer_may_differ_from_its_url() {
        let body = br#"{
            "issuer": "https://login.example.com/11111111-2222-3333-4444-555555555555/v2.0/",
            "jwks_uri": "https://login.example.com/contoso.onmicrosoft.com/b2c_1_susi/discovery/v2.0/keys",
            "id_token_signing_alg_values_supported": ["RS256"]
        }"#;
        let metadata = Metadata::parse(body, false).map_err(|e| e.to_string());
        assert_eq!(
            metadata.map(|m| (m.issuer, m.algorithms)),
            Ok((
                "https://login.example.com/11111111-2222-3333-4444-555555555555/v2.0/".into(),
                vec![Algorithm::RS256]
            ))
        );
    }

    #[test]
    fn metadata_rejects_plain_http_keys_and_missing_fields() {
        let http_keys = br#"{"issuer": "https://i/", "jwks_uri": "http://evil.example/keys"}"#;
        assert!(Metadata::parse(http_keys, false).is_err());
        assert!(Metadata::parse(br#"{"issuer": "https://i/"}"#, false).is_err());
        assert!(Metadata::parse(b"<html>", false).is_err());
        let empty_issuer = br#"{"issuer": "", "jwks_uri": "https://i/keys"}"#;
        assert!(Metadata::parse(empty_issuer, false).is_err());
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let error = http_client(
            Some(Path::new("/nonexistent/ca.pem")),
            Duration::from_secs(1),
            false,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            error.starts_with("cannot use the trusted CA file /nonexistent/ca.pem"),
            "{error}"
        );
    }
}
