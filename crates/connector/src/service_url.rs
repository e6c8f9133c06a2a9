//! `ServiceUrl` filled for one call: `{claim}` placeholders with `SendClaimsIn` `Url`, claim
//! resolvers with `IncludeClaimResolvingInClaimsHandling` (`restful-technical-profile.md`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use trustframe_policy::rest::{UrlPart, UrlTemplate};

use crate::RestCall;
use crate::claim_value;
use crate::plan::Sent;
use crate::redact::REDACTED;

/// Characters left as they are in a URL component: RFC 3986 unreserved.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How to fill the tokens of a template.
#[derive(Clone, Copy)]
pub(crate) struct Fill<'a> {
    pub call: &'a RestCall<'a>,
    pub sent: &'a [Sent],
    /// `SendClaimsIn` `Url`: tokens name input claims (by partner name).
    pub placeholders: bool,
    /// `IncludeClaimResolvingInClaimsHandling`: tokens may be claim resolvers.
    pub resolvers: bool,
}

impl Fill<'_> {
    /// The URL to call (`redact` false) or to record (`redact` true: secret claims hidden).
    /// Values are percent-encoded; a token nothing fills stays as written.
    pub(crate) fn apply(&self, template: &UrlTemplate, redact: bool) -> String {
        if !self.placeholders && !self.resolvers {
            return template.raw().to_owned();
        }
        let mut out = String::with_capacity(template.raw().len());
        for part in template.parts() {
            match part {
                UrlPart::Text(text) => out.push_str(text),
                UrlPart::Token(token) => match self.replacement(token, redact) {
                    Some(value) => out.extend(utf8_percent_encode(&value, COMPONENT)),
                    None => {
                        out.push('{');
                        out.push_str(token);
                        out.push('}');
                    }
                },
            }
        }
        out
    }

    fn replacement(&self, token: &str, redact: bool) -> Option<String> {
        let call = self.call;
        let claim = self
            .placeholders
            .then(|| {
                self.sent
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(token))
            })
            .flatten();
        match claim {
            Some(s) if redact && s.secret => Some(REDACTED.to_owned()),
            Some(s) => Some(claim_value::to_texts(&s.value).join(",")),
            // An input claim without a value fills its placeholder with nothing.
            None if self.placeholders
                && call
                    .profile
                    .input_claims
                    .iter()
                    .any(|c| c.partner_name().eq_ignore_ascii_case(token)) =>
            {
                Some(String::new())
            }
            None if self.resolvers => call.context.resolve_one(token, call.claims),
            None => None,
        }
    }
}

/// A URL as records and logs show it: no query string (it often carries a function key), no
/// fragment, no `user:password@`.
pub(crate) fn without_query(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_urls_lose_query_fragment_and_credentials() {
        assert_eq!(
            without_query("https://u:p@api.example.com:8443/a/b?code=k#f"),
            "https://api.example.com:8443/a/b"
        );
        assert_eq!(
            without_query("https://api.example.com?x=1"),
            "https://api.example.com"
        );
        assert_eq!(without_query("https://h/p@x"), "https://h/p@x");
    }
}
