//! The link pass, for both front ends: every reference in a compiled [`Policy`] resolves —
//! technical profiles, claim types, claims transformations and their methods, journeys, sub
//! journeys, the choices of a sign-in page — as B2C checks when a policy is uploaded.
//! An unknown name says which known one is near ("did you mean 'X'?").

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::ids::{ClaimTypeId, ClaimsTransformationId, TechnicalProfileId, UserJourneyId};
use crate::model::*;
use crate::rest::{RestSettings, RestSettingsError};
use crate::transformation::TransformationMethod;

/// B2C's claims transformation methods Trustframe does not run yet (`claimstransformations.md`
/// and its per-family pages). A policy using one loads with a warning; a journey that runs it
/// fails.
const B2C_METHODS: &[&str] = &[
    "AddItemToUserIdentityCollection",
    "AddParameterToStringCollection",
    "AdjustNumber",
    "AssertNumber",
    "BuildUri",
    "CompareBooleanClaimToValue",
    "ConvertBooleanToString",
    "ConvertDateTimeToDateClaim",
    "ConvertDateToDateTimeClaim",
    "ConvertNumberToStringClaim",
    "ConvertPhoneNumberClaimToString",
    "ConvertStringToPhoneNumberClaim",
    "CopyClaimIfPredicateMatch",
    "CreateAlternativeSecurityId",
    "CreateOtpSecret",
    "DateTimeComparison",
    "FormatLocalizedString",
    "FormatStringMultipleClaims",
    "GetAgeGroupAndConsentProvided",
    "GetAlternativeSecurityIdByIdentityProvider",
    "GetClaimsFromJsonArray",
    "GetClaimsFromJsonArrayV2",
    "GetLocalizedStringsTransformation",
    "GetMappedValueFromLocalizedCollection",
    "GetNationalNumberAndCountryCodeFromPhoneNumberString",
    "GetNumericClaimFromJson",
    "GetSingleItemFromJson",
    "GetSingleItemFromStringCollection",
    "GetSingleValueFromJsonArray",
    "Hash",
    "IsTermsOfUseConsentRequired",
    "LookupValue",
    "NullClaim",
    "ParseDomain",
    "RemoveAlternativeSecurityIdByIdentityProvider",
    "SetClaimIfBooleansMatch",
    "SetClaimsIfRegexMatch",
    "StringCollectionContainsClaim",
    "StringContains",
    "StringIndexOf",
    "StringJoin",
    "StringSplit",
    "StringSubstring",
    "XmlStringToJsonString",
];

/// Fills what the link pass computes once for the run: each RESTful profile's typed
/// [`RestSettings`] (`TechnicalProfile::rest`). Both front ends' policies go through it when the
/// server loads them; a profile whose metadata [`check`] refuses is left without.
pub fn prepare(policy: &mut Policy) {
    for tp in policy.technical_profiles.values_mut() {
        if tp.kind == TechnicalProfileKind::Restful {
            tp.rest = RestSettings::from_profile(tp).ok().map(Arc::new);
        }
        if tp.kind == TechnicalProfileKind::OneTimePassword {
            tp.otp = crate::otp::OtpSettings::from_metadata(&tp.metadata)
                .ok()
                .map(Arc::new);
        }
    }
}

/// Checks every reference of a compiled policy. Errors and warnings, each at the element that
/// refers.
pub fn check(policy: &Policy) -> Vec<Diagnostic> {
    let mut l = Linker {
        policy,
        out: Vec::new(),
    };
    l.schema();
    for t in policy.claims_transformations.values() {
        l.transformation(t);
    }
    for tp in policy.technical_profiles.values() {
        l.technical_profile(tp);
    }
    for j in policy
        .user_journeys
        .values()
        .chain(policy.sub_journeys.values())
    {
        l.journey(j);
    }
    l.relying_party();
    l.out
}

struct Linker<'a> {
    policy: &'a Policy,
    out: Vec<Diagnostic>,
}

impl Linker<'_> {
    fn error(&mut self, span: &Span, message: String) {
        self.out.push(Diagnostic::error(span, message));
    }

    /// A `ContentDefinitionReferenceId` names a content definition (`contentdefinitions.md`).
    fn content_definition(&mut self, id: &str, span: &Span, what: &str) {
        if self.policy.content_definition(id).is_none() {
            let known = self
                .policy
                .content_definitions
                .values()
                .map(|c| c.id.as_str());
            let hint = did_you_mean(id, known);
            self.error(
                span,
                format!("{what}: unknown content definition '{id}'{hint}"),
            );
        }
    }

    fn claim(&mut self, id: &ClaimTypeId, span: &Span, what: &str) {
        let schema = &self.policy.claims_schema.claim_types;
        if !schema.contains_key(id) {
            let hint = did_you_mean(id.as_str(), schema.keys().map(ClaimTypeId::as_str));
            self.error(span, format!("{what}: unknown claim type '{id}'{hint}"));
        }
    }

    fn claims(&mut self, refs: &[ClaimRef], what: &str) {
        for r in refs {
            self.claim(&r.claim_type, &r.span, what);
        }
    }

    fn profile(&mut self, id: &TechnicalProfileId, span: &Span, what: &str) -> bool {
        let profiles = &self.policy.technical_profiles;
        if profiles.contains_key(id) {
            return true;
        }
        let hint = did_you_mean(id.as_str(), profiles.keys().map(TechnicalProfileId::as_str));
        self.error(
            span,
            format!("{what}: unknown technical profile '{id}'{hint}"),
        );
        false
    }

    fn transformations(&mut self, ids: &[ClaimsTransformationId], span: &Span, what: &str) {
        let known = &self.policy.claims_transformations;
        for id in ids {
            if !known.contains_key(id) {
                let hint = did_you_mean(
                    id.as_str(),
                    known.keys().map(ClaimsTransformationId::as_str),
                );
                self.error(
                    span,
                    format!("{what}: unknown claims transformation '{id}'{hint}"),
                );
            }
        }
    }

    fn journey_ref(
        &mut self,
        id: &UserJourneyId,
        journeys: &BTreeMap<UserJourneyId, UserJourney>,
        span: &Span,
        what: &str,
    ) {
        if !journeys.contains_key(id) {
            let hint = did_you_mean(id.as_str(), journeys.keys().map(UserJourneyId::as_str));
            self.error(span, format!("{what}: unknown journey '{id}'{hint}"));
        }
    }

    fn preconditions(&mut self, preconditions: &[Precondition], what: &str) {
        for p in preconditions {
            let claim = match &p.test {
                PreconditionTest::ClaimsExist(c) | PreconditionTest::ClaimEquals(c, _) => c,
            };
            self.claim(claim, &p.span, what);
        }
    }

    fn schema(&mut self) {
        for t in self.policy.claims_schema.claim_types.values() {
            if let Some(m) = &t.must_match {
                self.claim(m, &t.span, &format!("claim type '{}' must match", t.id));
            }
            let regexes = t.pattern.iter().map(|p| &p.regex).chain(
                t.predicate_validation
                    .iter()
                    .flat_map(|v| &v.groups)
                    .flat_map(|g| &g.predicates)
                    .filter_map(|p| match &p.method {
                        PredicateMethod::MatchesRegex(r) => Some(r),
                        _ => None,
                    }),
            );
            for r in regexes {
                if let Err(e) = r.compiled() {
                    self.error(&t.span, format!("claim type '{}': {e}", t.id));
                }
            }
        }
    }

    fn transformation(&mut self, t: &ClaimsTransformation) {
        let what = format!("claims transformation '{}'", t.id);
        for c in t.input_claims.iter().chain(&t.output_claims) {
            self.claim(&c.claim_type, &t.span, &what);
        }
        if TransformationMethod::parse(&t.method).is_none() {
            if B2C_METHODS
                .iter()
                .any(|m| m.eq_ignore_ascii_case(t.method.trim()))
            {
                self.out.push(Diagnostic::warning(
                    &t.span,
                    format!(
                        "{what}: method '{}' is not supported yet; a journey that runs it fails",
                        t.method
                    ),
                ));
            } else {
                let hint = did_you_mean(
                    &t.method,
                    TransformationMethod::ALL
                        .iter()
                        .map(|m| m.as_str())
                        .chain(B2C_METHODS.iter().copied()),
                );
                self.error(
                    &t.span,
                    format!("{what}: unknown TransformationMethod '{}'{hint}", t.method),
                );
            }
        }
    }

    fn validation_profiles(&mut self, list: &[ValidationTechnicalProfile], what: &str) {
        for v in list {
            self.profile(&v.reference_id, &v.span, what);
            self.preconditions(&v.preconditions, what);
        }
    }

    fn technical_profile(&mut self, tp: &TechnicalProfile) {
        let what = format!("technical profile '{}'", tp.id);
        self.claims(&tp.input_claims, &what);
        self.claims(&tp.output_claims, &what);
        self.claims(&tp.persisted_claims, &what);
        self.claims(&tp.display_claims, &what);
        self.transformations(&tp.input_claims_transformations, &tp.span, &what);
        self.transformations(&tp.output_claims_transformations, &tp.span, &what);
        self.validation_profiles(&tp.validation_technical_profiles, &what);
        if let Some(cd) = tp.metadata.get(crate::names::CONTENT_DEFINITION) {
            self.content_definition(cd, &tp.span, &what);
        }
        if let Some(s) = &tp.session_management
            && self.profile(s, &tp.span, &format!("{what}: session management"))
        {
            let kind = self.policy.technical_profiles.get(s).map(|p| &p.kind);
            if !matches!(kind, Some(TechnicalProfileKind::SessionManagement(_))) {
                self.error(
                    &tp.span,
                    format!("{what}: session management profile '{s}' is not a session provider"),
                );
            }
        }
        // A RESTful profile's metadata is checked at load (`restful-technical-profile.md`)
        // rather than on the first call. A value that is wrong is an error; one that is missing
        // a warning, since the profile may be a base that others include and complete.
        if tp.kind == TechnicalProfileKind::Restful
            && let Err(e) = RestSettings::from_profile(tp)
        {
            let message = format!("{what}: {e}");
            match e {
                RestSettingsError::Invalid { .. } => self.error(&tp.span, message),
                RestSettingsError::Missing { .. } | RestSettingsError::MissingKey { .. } => {
                    self.out.push(Diagnostic::warning(&tp.span, message));
                }
            }
        }
        // A directory profile's operation (`active-directory-technical-profile.md`).
        if tp.kind == TechnicalProfileKind::Directory
            && let Err(e) = crate::names::DirectoryOperation::of(&tp.metadata)
        {
            self.error(&tp.span, format!("{what}: {e}"));
        }
        // One-time password settings too (`one-time-password-technical-profile.md`).
        if tp.kind == TechnicalProfileKind::OneTimePassword
            && let Err(e) = crate::otp::OtpSettings::from_metadata(&tp.metadata)
        {
            self.error(&tp.span, format!("{what}: {e}"));
        }
        for c in &tp.display_controls {
            let what = format!("{what}, display control '{}'", c.id);
            self.claims(&c.display_claims, &what);
            self.claims(&c.output_claims, &what);
            self.claim(&c.code_claim, &c.span, &what);
            for a in &c.actions {
                self.validation_profiles(&a.validation_technical_profiles, &what);
            }
        }
    }

    fn journey(&mut self, j: &UserJourney) {
        let what = format!("journey '{}'", j.id);
        if j.steps.is_empty() {
            self.error(&j.span, format!("{what} has no orchestration steps"));
        }
        for (i, s) in j.steps.iter().enumerate() {
            let what = format!("{what}, step {}", s.order);
            if let Some(cd) = &s.content_definition {
                self.content_definition(cd, &s.span, &what);
            }
            for x in &s.claims_exchanges {
                self.profile(&x.technical_profile, &s.span, &what);
            }
            self.preconditions(&s.preconditions, &what);
            let later: Vec<&str> = j.steps[i + 1..]
                .iter()
                .flat_map(|s| &s.claims_exchanges)
                .map(|x| x.id.as_str())
                .collect();
            for target in &s.claims_provider_selections {
                if !later.iter().any(|x| x.eq_ignore_ascii_case(target)) {
                    let hint = did_you_mean(target, later.iter().copied());
                    self.error(
                        &s.span,
                        format!("{what}: the choice '{target}' names no claims exchange of a later step{hint}"),
                    );
                }
            }
            match s.kind {
                StepKind::ClaimsExchange if s.claims_exchanges.is_empty() => {
                    self.error(
                        &s.span,
                        format!("{what}: a ClaimsExchange step needs a claims exchange"),
                    );
                }
                StepKind::SendClaims => match &s.cpim_issuer {
                    Some(issuer) => {
                        if self.profile(issuer, &s.span, &what) {
                            let kind = self.policy.technical_profiles.get(issuer).map(|p| &p.kind);
                            if kind != Some(&TechnicalProfileKind::JwtIssuer) {
                                self.error(
                                    &s.span,
                                    format!("{what}: '{issuer}' does not issue tokens"),
                                );
                            }
                        }
                    }
                    None => self.error(
                        &s.span,
                        format!(
                            "{what}: a SendClaims step needs CpimIssuerTechnicalProfileReferenceId"
                        ),
                    ),
                },
                StepKind::InvokeSubJourney => match &s.sub_journey {
                    Some(sub) => {
                        let subs = &self.policy.sub_journeys;
                        self.journey_ref(sub, subs, &s.span, &what);
                    }
                    None => self.error(
                        &s.span,
                        format!("{what}: an InvokeSubJourney step needs a JourneyList Candidate"),
                    ),
                },
                StepKind::CombinedSignInAndSignUp => {
                    // The sign-in page's links name exchanges of the journey
                    // (`self-asserted-technical-profile.md`: `SignUpTarget`).
                    for x in &s.claims_exchanges {
                        let Some(tp) = self.policy.technical_profiles.get(&x.technical_profile)
                        else {
                            continue;
                        };
                        for key in ["SignUpTarget", crate::otp::FORGOT_PASSWORD_LINK_OVERRIDE] {
                            if let Some(target) = tp.metadata.get(key)
                                && !later.iter().any(|x| x.eq_ignore_ascii_case(target))
                            {
                                let hint = did_you_mean(target, later.iter().copied());
                                self.error(
                                        &s.span,
                                        format!("{what}: {key} '{target}' of '{}' names no claims exchange of a later step{hint}", tp.id),
                                    );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn relying_party(&mut self) {
        let rp = &self.policy.relying_party;
        let journeys = &self.policy.user_journeys;
        self.journey_ref(
            &rp.default_user_journey,
            journeys,
            &rp.span,
            "relying party DefaultUserJourney",
        );
        if let Some(t) = &rp.token_journey {
            self.journey_ref(t, journeys, &rp.span, "relying party Token endpoint");
        }
        self.claims(&rp.output_claims, "relying party");
        self.claims(&rp.input_claims, "relying party");
        self.transformations(&rp.output_claims_transformations, &rp.span, "relying party");
        if let Some(subject) = &rp.subject_claim
            && !rp.output_claims.iter().any(|c| c.partner_name() == subject)
        {
            let hint = did_you_mean(subject, rp.output_claims.iter().map(ClaimRef::partner_name));
            self.error(
                    &rp.span,
                    format!("relying party SubjectNamingInfo '{subject}' is not one of its output claims{hint}"),
                );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userflow::{TenantContext, UserFlow, compile};

    #[test]
    fn compiled_user_flows_link_cleanly() {
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &[],
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        for (i, text) in [
            "id = \"B2C_1_susi\"\ntype = \"sign_up_or_sign_in\"\nsign_up_attributes = [\"givenName\"]",
            "id = \"B2C_1_su\"\ntype = \"sign_up\"",
            "id = \"B2C_1_si\"\ntype = \"sign_in\"\npassword_reset = \"error\"",
            "id = \"B2C_1_reset\"\ntype = \"password_reset\"",
            "id = \"B2C_1_edit\"\ntype = \"profile_edit\"\nprofile_attributes = [\"givenName\", \"surname\"]",
        ]
        .iter()
        .enumerate()
        {
            let flow: UserFlow = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
            let policy = compile(&flow, i, &tenant).unwrap_or_else(|e| panic!("{e}"));
            let problems = check(&policy);
            assert!(problems.is_empty(), "{}: {problems:#?}", flow.id);
        }
    }

    /// A custom policy with one RESTful profile whose `SendClaimsIn` is `rest_mode`.
    fn rest_policy(rest_mode: &str) -> String {
        format!(
            r#"<TrustFrameworkPolicy xmlns="http://schemas.microsoft.com/online/cpim/schemas/2013/06" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_Rest">
  <BuildingBlocks><ClaimsSchema>
    <ClaimType Id="objectId"><DataType>string</DataType></ClaimType>
  </ClaimsSchema></BuildingBlocks>
  <ClaimsProviders><ClaimsProvider><DisplayName>REST</DisplayName><TechnicalProfiles>
    <TechnicalProfile Id="REST-Lookup">
      <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.RestfulProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
      <Metadata>
        <Item Key="ServiceUrl">https://api.contoso.test/lookup</Item>
        <Item Key="SendClaimsIn">{rest_mode}</Item>
        <Item Key="AuthenticationType">None</Item>
      </Metadata>
      <InputClaims><InputClaim ClaimTypeReferenceId="objectId" /></InputClaims>
    </TechnicalProfile>
    <TechnicalProfile Id="JwtIssuer"><Protocol Name="OpenIdConnect" /><OutputTokenFormat>JWT</OutputTokenFormat></TechnicalProfile>
  </TechnicalProfiles></ClaimsProvider></ClaimsProviders>
  <UserJourneys><UserJourney Id="J"><OrchestrationSteps>
    <OrchestrationStep Order="1" Type="ClaimsExchange">
      <ClaimsExchanges><ClaimsExchange Id="Lookup" TechnicalProfileReferenceId="REST-Lookup" /></ClaimsExchanges>
    </OrchestrationStep>
    <OrchestrationStep Order="2" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
  </OrchestrationSteps></UserJourney></UserJourneys>
  <RelyingParty>
    <DefaultUserJourney ReferenceId="J" />
    <TechnicalProfile Id="PolicyProfile">
      <Protocol Name="OpenIdConnect" />
      <OutputClaims><OutputClaim ClaimTypeReferenceId="objectId" PartnerClaimType="sub" /></OutputClaims>
      <SubjectNamingInfo ClaimType="sub" />
    </TechnicalProfile>
  </RelyingParty>
</TrustFrameworkPolicy>"#
        )
    }

    fn load_rest_policy(rest_mode: &str) -> Result<crate::xml::Loaded, Vec<Diagnostic>> {
        let settings = BTreeMap::new();
        crate::xml::load(
            &[crate::xml::PolicyFile {
                name: "policies/Rest.xml".to_owned(),
                bytes: rest_policy(rest_mode).into_bytes(),
            }],
            &crate::xml::LoadOptions {
                tenant_domain: "contoso.onmicrosoft.com",
                settings: &settings,
                limits: crate::xml::Limits::default(),
            },
        )
    }

    #[test]
    fn a_bad_send_claims_in_is_an_error_at_the_profile_when_the_policy_loads() {
        let errors = match load_rest_policy("Carrier pigeon") {
            Ok(_) => panic!("a bad SendClaimsIn loaded"),
            Err(e) => e,
        };
        assert_eq!(errors.len(), 1, "{errors:#?}");
        let shown = errors[0].to_string();
        assert!(
            shown.starts_with("policies/Rest.xml:6:5: error: technical profile 'REST-Lookup': metadata SendClaimsIn is invalid"),
            "{shown}"
        );
    }

    #[test]
    fn prepare_fills_the_settings_of_restful_profiles() {
        let mut loaded = load_rest_policy("QueryString").unwrap_or_else(|e| panic!("{e:#?}"));
        let mut policy = loaded.policies.remove(0);
        let id = TechnicalProfileId::from("REST-Lookup");
        assert!(policy.technical_profiles[&id].rest.is_none());
        prepare(&mut policy);
        let rest = policy.technical_profiles[&id]
            .rest
            .as_ref()
            .unwrap_or_else(|| panic!("not prepared"));
        assert_eq!(rest.send_claims_in, crate::rest::SendClaimsIn::QueryString);
        assert!(
            policy.technical_profiles[&TechnicalProfileId::from("JwtIssuer")]
                .rest
                .is_none()
        );
    }

    #[test]
    fn one_time_password_settings_are_read_once_and_checked_at_load() {
        let flow: UserFlow = toml::from_str("id = \"B2C_1_up\"\ntype = \"sign_up\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &[],
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        let mut policy = compile(&flow, 0, &tenant).unwrap_or_else(|e| panic!("{e}"));
        let id = TechnicalProfileId::from("VerifyOtp");
        prepare(&mut policy);
        let settings = policy.technical_profiles[&id]
            .otp
            .as_ref()
            .unwrap_or_else(|| panic!("not prepared"));
        assert_eq!(settings.length, 6);
        if let Some(tp) = policy.technical_profiles.get_mut(&id) {
            tp.metadata.insert(crate::otp::CODE_LENGTH, "99");
        }
        let errors = check(&policy);
        assert!(
            errors
                .iter()
                .any(|d| d.message.contains("VerifyOtp") && d.message.contains("CodeLength")),
            "{errors:?}"
        );
        // A directory operation B2C does not have is refused at load, not at the first sign-in.
        let read = TechnicalProfileId::from("AAD-UserReadUsingObjectId");
        if let Some(tp) = policy.technical_profiles.get_mut(&read) {
            tp.metadata.insert(crate::names::OPERATION, "Reed");
        }
        let errors = check(&policy);
        assert!(
            errors
                .iter()
                .any(|d| d.message.contains("Operation 'Reed' is not one of")),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_references_are_reported_with_a_suggestion() {
        let flow: UserFlow = toml::from_str("id = \"B2C_1_si\"\ntype = \"sign_in\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &[],
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        let mut policy = compile(&flow, 0, &tenant).unwrap_or_else(|e| panic!("{e}"));
        if let Some(j) = policy.user_journeys.values_mut().next() {
            j.steps[0].claims_exchanges[0].technical_profile =
                "SelfAsserted-LocalAccountSignin-Emial".into();
        }
        let problems = check(&policy);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0]
                .message
                .contains("did you mean 'SelfAsserted-LocalAccountSignin-Email'")
        );
    }
}
