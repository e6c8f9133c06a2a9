//! Entry points for the fuzz targets in `fuzz/` (not an API): `/authorize` query strings and
//! `/token` bodies and `Authorization` headers arrive as the client sends them, so every byte
//! string must end in a validated request or an OAuth error, never a panic.

use crate::authorize::{self, AuthorizeError, ValidatedAuthorize};
use crate::config::Application;
use crate::params::Params;
use crate::service::{identify_client, token_preamble};
use crate::token::{TokenError, parse_basic_auth};

pub const TENANT_ID: &str = "11111111-2222-3333-4444-555555555555";

/// A confidential web app, a public SPA and an API, as a typical tenant registers them.
pub fn applications() -> Vec<Application> {
    let app = |name: &str, client_id: &str| Application {
        name: name.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uris: Vec::new(),
        client_secret: None,
        allow_implicit_id_token: false,
        allow_implicit_access_token: false,
        api_permissions: Vec::new(),
        app_id_uri: None,
        scopes: Vec::new(),
        post_logout_redirect_uris: Vec::new(),
    };
    let mut web = app("web", "web-app");
    web.redirect_uris = vec!["https://app.example/signin-oidc".to_owned()];
    web.client_secret = Some("0123456789abcdef0123456789abcdef".to_owned());
    web.allow_implicit_id_token = true;
    web.api_permissions = vec!["https://contoso.onmicrosoft.com/api/tasks.read".to_owned()];
    let mut spa = app("spa", "spa-app");
    spa.redirect_uris = vec![
        "http://localhost:3000/".to_owned(),
        "https://spa.example/".to_owned(),
    ];
    spa.allow_implicit_access_token = true;
    let mut api = app("api", "api-app");
    api.app_id_uri = Some("https://contoso.onmicrosoft.com/api".to_owned());
    api.scopes = vec!["tasks.read".to_owned(), "tasks.write".to_owned()];
    vec![web, spa, api]
}

/// An `/authorize` query string (or form body), parsed as the server parses it, validated.
pub fn authorize(apps: &[Application], query: &[u8]) -> Result<ValidatedAuthorize, AuthorizeError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query).into_owned().collect();
    authorize::validate(apps, TENANT_ID, &pairs)
}

/// A `/token` body and `Authorization` header up to what needs the store (the client's lockout
/// count, the grant): the grant type, or the OAuth error the client gets.
pub fn token_request(
    apps: &[Application],
    body: &[u8],
    authorization: Option<&str>,
) -> Result<String, TokenError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let basic = authorization.and_then(parse_basic_auth);
    let basic = basic.as_ref().map(|(id, s)| (id.as_str(), s.as_str()));
    let params = Params::new(&pairs);
    let grant_type = token_preamble(&params)?;
    let (_app, _secret) = identify_client(apps, TENANT_ID, &params, basic)?;
    Ok(grant_type.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fuzz seeds in `fuzz/corpus/token_request/` reach past the client check, so the
    // fuzzer starts from requests the server would accept.
    #[test]
    fn seeds_reach_the_grant() {
        let apps = applications();
        let code = b"grant_type=authorization_code&client_id=web-app\
            &client_secret=0123456789abcdef0123456789abcdef&code=x";
        assert_eq!(
            token_request(&apps, code, None).ok().as_deref(),
            Some("authorization_code")
        );
        let basic = "Basic d2ViLWFwcDowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==";
        let refresh = b"grant_type=refresh_token&refresh_token=r";
        assert_eq!(
            token_request(&apps, refresh, Some(basic)).ok().as_deref(),
            Some("refresh_token")
        );
        let query = b"client_id=spa-app&redirect_uri=https%3A%2F%2Fspa.example%2F\
            &response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
        let validated = authorize(&apps, query);
        assert!(validated.is_ok(), "{:?}", validated.err());
    }
}
