//! Tests of the custom-policy front end, on small starter-pack-shaped fixtures of our own
//! (`tests/fixtures/starter`).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::model::*;

fn files_in(dir: &Path, replace: Option<(&str, &str)>) -> Vec<PolicyFile> {
    let mut files: Vec<PolicyFile> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| {
            let mut bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            if let Some((from, to)) = replace {
                bytes = String::from_utf8_lossy(&bytes)
                    .replace(from, to)
                    .into_bytes();
            }
            PolicyFile {
                name: p.display().to_string(),
                bytes,
            }
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn load_files(files: &[PolicyFile]) -> Result<Loaded, Vec<Diagnostic>> {
    let settings = BTreeMap::new();
    load(
        files,
        &LoadOptions {
            tenant_domain: "contoso.onmicrosoft.com",
            settings: &settings,
            limits: Limits::default(),
        },
    )
}

fn show(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

const NS: &str = "http://schemas.microsoft.com/online/cpim/schemas/2013/06";

fn file(name: &str, text: &str) -> PolicyFile {
    PolicyFile {
        name: name.to_owned(),
        bytes: text.as_bytes().to_vec(),
    }
}

/// The 1-based line of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("'{needle}' not in the text"));
    u32::try_from(i + 1).unwrap_or(0)
}

fn starter() -> Vec<PolicyFile> {
    macro_rules! fixture {
        ($name:literal) => {
            file(
                concat!("starter/", $name),
                include_str!(concat!("../../tests/fixtures/starter/", $name)),
            )
        };
    }
    vec![
        fixture!("TrustFrameworkBase.xml"),
        fixture!("TrustFrameworkLocalization.xml"),
        fixture!("TrustFrameworkExtensions.xml"),
        fixture!("SignUpOrSignin.xml"),
        fixture!("ProfileEdit.xml"),
        fixture!("PasswordReset.xml"),
    ]
}

const SELF_ASSERTED: &str = "Web.TPEngine.Providers.SelfAssertedAttributeProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null";

/// A small base: three claims, a page, a session provider, the issuer and journey `J`.
fn mini_base() -> String {
    format!(
        r#"<TrustFrameworkPolicy xmlns="{NS}" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_Base">
  <BuildingBlocks>
    <ClaimsSchema>
      <ClaimType Id="objectId"><DataType>string</DataType></ClaimType>
      <ClaimType Id="email"><DisplayName>Email</DisplayName><DataType>string</DataType></ClaimType>
      <ClaimType Id="givenName"><DataType>string</DataType>
        <DefaultPartnerClaimTypes><Protocol Name="OpenIdConnect" PartnerClaimType="given_name" /></DefaultPartnerClaimTypes></ClaimType>
    </ClaimsSchema>
  </BuildingBlocks>
  <ClaimsProviders>
    <ClaimsProvider>
      <DisplayName>Pages</DisplayName>
      <TechnicalProfiles>
        <TechnicalProfile Id="Page">
          <DisplayName>Base page</DisplayName>
          <Protocol Name="Proprietary" Handler="{SELF_ASSERTED}" />
          <Metadata><Item Key="a">1</Item><Item Key="b">2</Item></Metadata>
          <OutputClaims>
            <OutputClaim ClaimTypeReferenceId="email" Required="true" />
            <OutputClaim ClaimTypeReferenceId="givenName" />
          </OutputClaims>
        </TechnicalProfile>
      </TechnicalProfiles>
    </ClaimsProvider>
    <ClaimsProvider>
      <DisplayName>Tokens</DisplayName>
      <TechnicalProfiles>
        <TechnicalProfile Id="JwtIssuer">
          <Protocol Name="OpenIdConnect" />
          <OutputTokenFormat>JWT</OutputTokenFormat>
        </TechnicalProfile>
      </TechnicalProfiles>
    </ClaimsProvider>
  </ClaimsProviders>
  <UserJourneys>
    <UserJourney Id="J">
      <OrchestrationSteps>
        <OrchestrationStep Order="1" Type="ClaimsExchange">
          <ClaimsExchanges><ClaimsExchange Id="PageExchange" TechnicalProfileReferenceId="Page" /></ClaimsExchanges>
        </OrchestrationStep>
        <OrchestrationStep Order="2" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
      </OrchestrationSteps>
    </UserJourney>
  </UserJourneys>
</TrustFrameworkPolicy>"#
    )
}

/// A child of `base` with `body` (sections) and a relying party for journey `J`.
fn child(id: &str, base: &str, body: &str) -> String {
    format!(
        r#"<TrustFrameworkPolicy xmlns="{NS}" TenantId="contoso.onmicrosoft.com" PolicyId="{id}">
  <BasePolicy><TenantId>contoso.onmicrosoft.com</TenantId><PolicyId>{base}</PolicyId></BasePolicy>
{body}
  <RelyingParty>
    <DefaultUserJourney ReferenceId="J" />
    <TechnicalProfile Id="PolicyProfile">
      <Protocol Name="OpenIdConnect" />
      <OutputClaims><OutputClaim ClaimTypeReferenceId="objectId" PartnerClaimType="sub" /><OutputClaim ClaimTypeReferenceId="givenName" /></OutputClaims>
      <SubjectNamingInfo ClaimType="sub" />
    </TechnicalProfile>
  </RelyingParty>
</TrustFrameworkPolicy>"#
    )
}

fn one_policy(files: &[PolicyFile]) -> Policy {
    let mut loaded = load_files(files).unwrap_or_else(|e| panic!("{}", show(&e)));
    assert_eq!(loaded.policies.len(), 1);
    loaded.policies.remove(0)
}

fn profile<'a>(p: &'a Policy, id: &str) -> &'a TechnicalProfile {
    p.technical_profile(&id.into())
        .unwrap_or_else(|| panic!("no profile '{id}'"))
}

fn errors(files: &[PolicyFile]) -> Vec<Diagnostic> {
    match load_files(files) {
        Ok(l) => panic!("loaded {} policies without error", l.policies.len()),
        Err(e) => e,
    }
}

/// Asserts an error at `file:line` whose message holds `text`.
fn assert_error(errors: &[Diagnostic], file: &str, line: u32, text: &str) {
    assert!(
        errors
            .iter()
            .any(|d| d.span.file == file && d.span.line == line && d.message.contains(text)),
        "no error at {file}:{line} containing '{text}' in:\n{}",
        show(errors)
    );
}

#[test]
fn a_starter_pack_shaped_chain_compiles_into_three_policies() {
    let loaded = load_files(&starter()).unwrap_or_else(|e| panic!("{}", show(&e)));
    assert!(loaded.warnings.is_empty(), "{}", show(&loaded.warnings));
    let ids: Vec<&str> = loaded.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "B2C_1A_PasswordReset",
            "B2C_1A_ProfileEdit",
            "B2C_1A_signup_signin"
        ]
    );
    let susi = &loaded.policies[2];
    assert_eq!(susi.span.file, "starter/SignUpOrSignin.xml");

    // Kinds from handlers and protocols.
    let kind = |id: &str| profile(susi, id).kind.clone();
    assert_eq!(
        kind("login-NonInteractive"),
        TechnicalProfileKind::PasswordCheck
    );
    assert_eq!(kind("JwtIssuer"), TechnicalProfileKind::JwtIssuer);
    assert_eq!(
        kind("AAD-UserReadUsingObjectId"),
        TechnicalProfileKind::Directory
    );
    assert_eq!(
        kind("SelfAsserted-LocalAccountSignin-Email"),
        TechnicalProfileKind::SelfAsserted
    );
    assert_eq!(
        kind("SM-AAD"),
        TechnicalProfileKind::SessionManagement(SessionProvider::Default)
    );

    // Extensions override the credential check: metadata and input claims added, base kept.
    let login = profile(susi, "login-NonInteractive");
    assert_eq!(
        login.metadata.get("client_id"),
        Some("ProxyIdentityExperienceFrameworkAppId")
    );
    assert_eq!(
        login.metadata.get("ProviderName"),
        Some("https://sts.windows.net/")
    );
    let inputs: Vec<&str> = login
        .input_claims
        .iter()
        .map(|c| c.partner_name())
        .collect();
    assert_eq!(inputs, ["username", "password", "grant_type", "client_id"]);
    // DefaultPartnerClaimTypes apply to an OpenIdConnect profile's claims.
    let outputs: Vec<&str> = login
        .output_claims
        .iter()
        .map(|c| c.partner_name())
        .collect();
    assert_eq!(outputs, ["oid", "given_name", "authenticationSource"]);

    // IncludeTechnicalProfile: the directory profile inherits AAD-Common's settings.
    let read = profile(susi, "AAD-UserReadUsingObjectId");
    assert_eq!(read.session_management, Some("SM-Noop".into()));
    assert!(!read.include_in_sso);
    assert_eq!(
        read.cryptographic_keys
            .get("issuer_secret")
            .map(String::as_str),
        Some("B2C_1A_TokenSigningKeyContainer")
    );
    assert_eq!(read.span.file, "starter/TrustFrameworkBase.xml");
    let write = profile(susi, "AAD-UserWriteUsingLogonEmail");
    assert_eq!(write.session_management, Some("SM-AAD".into()));

    // The journey, with its precondition and issuer.
    let journey = susi.journey().unwrap_or_else(|| panic!("no journey"));
    let kinds: Vec<StepKind> = journey.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            StepKind::CombinedSignInAndSignUp,
            StepKind::ClaimsExchange,
            StepKind::ClaimsExchange,
            StepKind::SendClaims
        ]
    );
    assert!(journey.steps[0].claims_provider_selections.is_empty());
    assert_eq!(
        journey.steps[0].content_definition.as_deref(),
        Some("api.signuporsignin")
    );
    assert!(matches!(
        &journey.steps[1].preconditions[0].test,
        PreconditionTest::ClaimsExist(c) if c == "objectId"
    ));
    assert_eq!(journey.steps[3].cpim_issuer, Some("JwtIssuer".into()));

    // Relying party: token names from DefaultPartnerClaimTypes, subject, refresh journey.
    assert_eq!(
        susi.token_claim_names(),
        ["name", "given_name", "email", "sub", "tid"]
    );
    let rp = &susi.relying_party;
    assert_eq!(rp.subject_claim.as_deref(), Some("sub"));
    assert_eq!(rp.token_journey, Some("SignUpOrSignIn".into()));
    assert_eq!(rp.behaviors.session_expiry_seconds, Some(86400));
    assert_eq!(rp.behaviors.sso_scope.as_deref(), Some("Tenant"));

    // Claims schema: predicates, the confirmation rule, B2C's phoneNumber as a string.
    let schema = &susi.claims_schema;
    let new_password = schema
        .get(&"newPassword".into())
        .unwrap_or_else(|| panic!("newPassword"));
    let rule = new_password
        .predicate_validation
        .as_ref()
        .unwrap_or_else(|| panic!("no predicate validation"));
    assert_eq!(rule.groups.len(), 2);
    assert_eq!(rule.groups[1].match_at_least, Some(2));
    assert!(matches!(
        rule.groups[0].predicates[0].method,
        PredicateMethod::IsLengthRange { min: 8, max: 64 }
    ));
    assert_eq!(
        schema
            .get(&"reenterPassword".into())
            .and_then(|c| c.must_match.clone()),
        Some("newPassword".into())
    );
    assert_eq!(schema.data_type(&"phone".into()), DataType::String);

    // Verified.Email: the user-flow verification control, on both pages that verify.
    for page in [
        "LocalAccountSignUpWithLogonEmail",
        "LocalAccountDiscoveryUsingEmailAddress",
    ] {
        let p = profile(susi, page);
        assert_eq!(p.display_controls.len(), 1, "{page}");
        let control = &p.display_controls[0];
        assert_eq!(control.id, "emailVerificationControl");
        assert_eq!(control.code_claim, "verificationCode");
        let send = &control
            .action(DisplayControl::SEND_CODE)
            .unwrap_or_else(|| panic!("no SendCode"))
            .validation_technical_profiles;
        assert_eq!(
            profile(susi, send[0].reference_id.as_str()).kind,
            TechnicalProfileKind::OneTimePassword
        );
        assert_eq!(
            profile(susi, send[1].reference_id.as_str()).kind,
            TechnicalProfileKind::Mail
        );
    }
    assert!(schema.get(&"verificationCode".into()).is_some());
    assert!(schema.get(&"otp".into()).is_some());

    // Other relying parties run their own journeys over the same base.
    assert_eq!(
        loaded.policies[0].relying_party.default_user_journey,
        crate::UserJourneyId::new("PasswordReset")
    );
    let edit = &loaded.policies[1];
    let update = profile(edit, "SelfAsserted-ProfileUpdate");
    let shown: Vec<(&str, bool)> = update
        .display_claims
        .iter()
        .map(|c| (c.claim_type.as_str(), c.required))
        .collect();
    assert_eq!(shown, [("givenName", false), ("surname", true)]);
    let v = &update.validation_technical_profiles[0];
    assert!(v.continue_on_success && !v.continue_on_error);
    assert!(matches!(
        &v.preconditions[0].test,
        PreconditionTest::ClaimEquals(c, value) if c == "givenName" && value == "nobody"
    ));
    assert_eq!(
        edit.journey()
            .map(|j| j.steps[0].claims_provider_selections.clone()),
        Some(vec!["LocalAccountSigninEmailExchange".to_owned()])
    );
}

#[test]
fn enforce_email_verification_false_turns_it_off() {
    let base = mini_base().replace(
        r#"<OutputClaim ClaimTypeReferenceId="email" Required="true" />"#,
        r#"<OutputClaim ClaimTypeReferenceId="email" PartnerClaimType="Verified.Email" Required="true" />"#,
    );
    let p = one_policy(&[
        file("b.xml", &base),
        file("rp.xml", &child("B2C_1A_rp", "B2C_1A_Base", "")),
    ]);
    assert_eq!(profile(&p, "Page").display_controls.len(), 1);
    let off = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles><TechnicalProfile Id="Page">
  <Metadata><Item Key="EnforceEmailVerification">false</Item></Metadata>
</TechnicalProfile></TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let p = one_policy(&[file("b.xml", &base), file("rp.xml", &off)]);
    assert!(profile(&p, "Page").display_controls.is_empty());
}

fn overriding(body: &str) -> Policy {
    one_policy(&[
        file("base.xml", &mini_base()),
        file("rp.xml", &child("B2C_1A_rp", "B2C_1A_Base", body)),
    ])
}

#[test]
fn merge_metadata_items_by_key() {
    let p = overriding(
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles><TechnicalProfile Id="Page">
  <Metadata><Item Key="B">20</Item><Item Key="c">30</Item></Metadata>
</TechnicalProfile></TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let items: Vec<(&str, &str)> = profile(&p, "Page").metadata.iter().collect();
    assert_eq!(items, [("a", "1"), ("B", "20"), ("c", "30")]);
}

#[test]
fn merge_claims_by_claim_type_reference_id() {
    let p = overriding(
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles><TechnicalProfile Id="Page">
  <OutputClaims>
    <OutputClaim ClaimTypeReferenceId="EMAIL" Required="false" DefaultValue="x@y.z" />
    <OutputClaim ClaimTypeReferenceId="objectId" />
  </OutputClaims>
</TechnicalProfile></TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let out = &profile(&p, "Page").output_claims;
    let ids: Vec<&str> = out.iter().map(|c| c.claim_type.as_str()).collect();
    assert_eq!(ids, ["EMAIL", "givenName", "objectId"]);
    assert!(!out[0].required);
    assert_eq!(out[0].default_value.as_deref(), Some("x@y.z"));
    assert_eq!(out[0].span.file, "rp.xml");
    assert_eq!(out[1].span.file, "base.xml");
}

#[test]
fn merge_orchestration_steps_by_order() {
    let p = overriding(
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Other"><Protocol Name="None" /></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>
<UserJourneys><UserJourney Id="J"><OrchestrationSteps>
  <OrchestrationStep Order="3" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
  <OrchestrationStep Order="2" Type="ClaimsExchange">
    <ClaimsExchanges><ClaimsExchange Id="OtherExchange" TechnicalProfileReferenceId="Other" /></ClaimsExchanges>
  </OrchestrationStep>
</OrchestrationSteps></UserJourney></UserJourneys>"#,
    );
    let steps = &p.journey().unwrap_or_else(|| panic!("journey")).steps;
    let shape: Vec<(u32, StepKind, Vec<&str>)> = steps
        .iter()
        .map(|s| {
            (
                s.order,
                s.kind,
                s.claims_exchanges.iter().map(|x| x.id.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (1, StepKind::ClaimsExchange, vec!["PageExchange"]),
            (2, StepKind::ClaimsExchange, vec!["OtherExchange"]),
            (3, StepKind::SendClaims, vec![]),
        ]
    );
    assert_eq!(steps[1].span.file, "rp.xml");
}

#[test]
fn merge_technical_profiles_across_claims_providers() {
    // The child holds "Page" in a claims provider of another name, with other case.
    let p = overriding(
        r#"<ClaimsProviders><ClaimsProvider><DisplayName>Elsewhere</DisplayName><Domain>contoso.com</Domain><TechnicalProfiles>
  <TechnicalProfile Id="PAGE"><DisplayName>Child page</DisplayName></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let page = profile(&p, "Page");
    assert_eq!(page.display_name, "Child page");
    assert_eq!(page.kind, TechnicalProfileKind::SelfAsserted);
    assert_eq!(page.metadata.get("Domain"), Some("contoso.com"));
    assert_eq!(p.technical_profiles.len(), 2);
}

#[test]
fn include_technical_profile_chains_resolve_and_cycles_are_errors() {
    let body = r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Top"><Metadata><Item Key="a">top</Item></Metadata><IncludeTechnicalProfile ReferenceId="Middle" /></TechnicalProfile>
  <TechnicalProfile Id="Middle"><DisplayName>Middle</DisplayName><Metadata><Item Key="m">1</Item></Metadata><IncludeTechnicalProfile ReferenceId="Page" /></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#;
    let p = overriding(body);
    let top = profile(&p, "Top");
    assert_eq!(top.kind, TechnicalProfileKind::SelfAsserted);
    assert_eq!(top.display_name, "Middle");
    let items: Vec<(&str, &str)> = top.metadata.iter().collect();
    assert_eq!(items, [("a", "top"), ("b", "2"), ("m", "1")]);
    assert_eq!(top.output_claims.len(), 2);
    assert_eq!(top.span.file, "rp.xml");

    let cyclic = body.replace(r#"ReferenceId="Page""#, r#"ReferenceId="Top""#);
    let rp = child("B2C_1A_rp", "B2C_1A_Base", &cyclic);
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "<TechnicalProfile Id=\"Middle\""),
        "circular IncludeTechnicalProfile",
    );
}

#[test]
fn merge_scalars_override_the_base() {
    let p = overriding(
        r#"<BuildingBlocks><ClaimsSchema>
  <ClaimType Id="givenName"><DisplayName>First name</DisplayName><DataType>int</DataType><UserInputType>TextBox</UserInputType></ClaimType>
</ClaimsSchema></BuildingBlocks>
<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Page">
    <DisplayName>Child page</DisplayName>
    <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.RestfulProvider, Web.TPEngine" />
  </TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let page = profile(&p, "Page");
    assert_eq!(page.display_name, "Child page");
    assert_eq!(page.kind, TechnicalProfileKind::Restful);
    let given = p
        .claims_schema
        .get(&"givenName".into())
        .unwrap_or_else(|| panic!("givenName"));
    assert_eq!(given.display_name, "First name");
    assert_eq!(given.data_type, DataType::Int);
    assert_eq!(given.user_input_type, Some(UserInputType::TextBox));
    // The default partner claim type of the base is kept.
    assert_eq!(p.token_claim_names(), ["sub", "given_name"]);
}

#[test]
fn merge_removes_nothing() {
    let p = overriding(
        r#"<BuildingBlocks><ClaimsSchema /></BuildingBlocks>
<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Page"><Metadata /><OutputClaims /></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>
<UserJourneys><UserJourney Id="J"><OrchestrationSteps /></UserJourney></UserJourneys>"#,
    );
    let page = profile(&p, "Page");
    assert_eq!(page.metadata.iter().count(), 2);
    assert_eq!(page.output_claims.len(), 2);
    assert_eq!(page.display_name, "Base page");
    assert_eq!(p.claims_schema.claim_types.len(), 3);
    assert_eq!(p.journey().map(|j| j.steps.len()), Some(2));
}

#[test]
fn missing_base_points_at_the_base_policy_id() {
    let rp = child("B2C_1A_rp", "B2C_1A_Bsae", "");
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "<BasePolicy>"),
        "base policy 'B2C_1A_Bsae' is not in the policy set (did you mean 'B2C_1A_Base'?)",
    );
}

#[test]
fn circular_base_is_an_error_at_each_member() {
    let a = child("B2C_1A_A", "B2C_1A_B", "");
    let b = child("B2C_1A_B", "B2C_1A_A", "");
    let e = errors(&[file("a.xml", &a), file("b.xml", &b)]);
    assert_error(
        &e,
        "a.xml",
        2,
        "circular BasePolicy chain: B2C_1A_A → B2C_1A_B → B2C_1A_A",
    );
    assert_error(&e, "b.xml", 2, "circular BasePolicy chain");
}

#[test]
fn a_tenant_other_than_the_configured_one_is_refused() {
    let base = mini_base().replace("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com");
    let rp = child("B2C_1A_rp", "B2C_1A_Base", "").replacen(
        "<TenantId>contoso.onmicrosoft.com</TenantId>",
        "<TenantId>yourtenant.onmicrosoft.com</TenantId>",
        1,
    );
    let e = errors(&[file("base.xml", &base), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "base.xml",
        1,
        "TenantId is 'fabrikam.onmicrosoft.com', not the configured tenant 'contoso.onmicrosoft.com'",
    );
    assert_error(
        &e,
        "rp.xml",
        2,
        "BasePolicy TenantId is 'yourtenant.onmicrosoft.com'",
    );
}

#[test]
fn an_unknown_technical_profile_is_reported_with_a_suggestion() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<UserJourneys><UserJourney Id="J"><OrchestrationSteps>
  <OrchestrationStep Order="1" Type="ClaimsExchange">
    <ClaimsExchanges><ClaimsExchange Id="PageExchange" TechnicalProfileReferenceId="Paeg" /></ClaimsExchanges>
  </OrchestrationStep>
</OrchestrationSteps></UserJourney></UserJourneys>"#,
    );
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "Order=\"1\""),
        "unknown technical profile 'Paeg' (did you mean 'Page'?)",
    );
}

#[test]
fn an_unknown_handler_is_an_error_and_oauth2_is_unsupported() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Odd"><Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.RestfullProvider, Web.TPEngine" /></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "RestfullProvider"),
        "unknown handler 'Web.TPEngine.Providers.RestfullProvider, Web.TPEngine' (did you mean 'RestfulProvider'?)",
    );

    let p = overriding(
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Facebook"><Protocol Name="OAuth2" /></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    assert_eq!(
        profile(&p, "Facebook").kind,
        TechnicalProfileKind::Unsupported {
            protocol: "OAuth2".into()
        }
    );
}

#[test]
fn an_unknown_transformation_method_is_an_error() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<BuildingBlocks><ClaimsTransformations>
  <ClaimsTransformation Id="Copy" TransformationMethod="CopyClaims">
    <InputClaims><InputClaim ClaimTypeReferenceId="email" TransformationClaimType="inputClaim" /></InputClaims>
  </ClaimsTransformation>
</ClaimsTransformations></BuildingBlocks>"#,
    );
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "CopyClaims"),
        "unknown TransformationMethod 'CopyClaims' (did you mean 'CopyClaim'?)",
    );
}

#[test]
fn an_unknown_claim_type_is_an_error_where_it_is_named() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Page"><OutputClaims>
    <OutputClaim ClaimTypeReferenceId="emial" />
  </OutputClaims></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "\"emial\""),
        "unknown claim type 'emial' (did you mean 'email'?)",
    );
}

#[test]
fn malformed_xml_points_at_the_line() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        "<BuildingBlocks>\n<ClaimsSchema>\n</BuildingBlocks>",
    );
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert!(
        e.iter().any(|d| d.span.file == "rp.xml"
            && d.span.line == line_of(&rp, "</BuildingBlocks>")
            && d.message.starts_with("malformed XML")),
        "{}",
        show(&e)
    );
    assert!(e[0].to_string().starts_with("rp.xml:"), "{}", e[0]);
}

#[test]
fn settings_are_substituted_and_unknown_ones_are_errors() {
    let rp = child(
        "B2C_1A_rp",
        "B2C_1A_Base",
        r#"<ClaimsProviders><ClaimsProvider><TechnicalProfiles>
  <TechnicalProfile Id="Page"><Metadata>
    <Item Key="ServiceUrl">{Settings:ApiBase}/check</Item>
    <Item Key="Other">{Settings:Missing}</Item>
  </Metadata></TechnicalProfile>
</TechnicalProfiles></ClaimsProvider></ClaimsProviders>"#,
    );
    let settings = BTreeMap::from([("ApiBase".to_owned(), "https://api.contoso.test".to_owned())]);
    let options = LoadOptions {
        tenant_domain: "contoso.onmicrosoft.com",
        settings: &settings,
        limits: Limits::default(),
    };
    let files = [file("base.xml", &mini_base()), file("rp.xml", &rp)];
    let e = load(&files, &options).err().unwrap_or_default();
    assert_error(
        &e,
        "rp.xml",
        line_of(&rp, "Settings:Missing"),
        "unknown setting '{Settings:Missing}'",
    );
    let fixed = rp.replace("{Settings:Missing}", "x");
    let files = [file("base.xml", &mini_base()), file("rp.xml", &fixed)];
    let loaded = load(&files, &options).unwrap_or_else(|e| panic!("{}", show(&e)));
    assert_eq!(
        profile(&loaded.policies[0], "Page")
            .metadata
            .get("ServiceUrl"),
        Some("https://api.contoso.test/check")
    );
}

#[test]
fn duplicate_policy_ids_and_orders_are_errors() {
    let rp = child("B2C_1A_Base", "B2C_1A_Base", "");
    let e = errors(&[file("base.xml", &mini_base()), file("rp.xml", &rp)]);
    assert_error(&e, "rp.xml", 1, "duplicate PolicyId 'B2C_1A_Base'");
    let base = mini_base().replace(r#"Order="2""#, r#"Order="1""#);
    let rp = child("B2C_1A_rp", "B2C_1A_Base", "");
    let e = errors(&[file("base.xml", &base), file("rp.xml", &rp)]);
    assert_error(
        &e,
        "base.xml",
        line_of(&base, "SendClaims"),
        "duplicate <OrchestrationStep Order=\"1\">",
    );
}

#[test]
fn hostile_xml_is_refused_quickly() {
    let started = std::time::Instant::now();
    let laughs = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<TrustFrameworkPolicy xmlns="{NS}" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_x">&lol3;</TrustFrameworkPolicy>"#
    );
    let e = errors(&[file("laughs.xml", &laughs)]);
    assert_error(&e, "laughs.xml", 2, "DTD");
    let external = format!(
        r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<TrustFrameworkPolicy xmlns="{NS}" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_x">&xxe;</TrustFrameworkPolicy>"#
    );
    let e = errors(&[file("xxe.xml", &external)]);
    assert_error(&e, "xxe.xml", 2, "DTD");
    // An entity without a DTD is refused too.
    let undeclared = format!(
        r#"<TrustFrameworkPolicy xmlns="{NS}" TenantId="contoso.onmicrosoft.com" PolicyId="B2C_1A_x">&xxe;</TrustFrameworkPolicy>"#
    );
    let e = errors(&[file("ref.xml", &undeclared)]);
    assert_error(&e, "ref.xml", 1, "unknown entity '&xxe;'");

    let mut huge = mini_base().into_bytes();
    huge.resize(50 << 20, b' ');
    let e = errors(&[PolicyFile {
        name: "huge.xml".into(),
        bytes: huge,
    }]);
    assert_error(
        &e,
        "huge.xml",
        1,
        "policy files may be at most 8388608 bytes",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn real_sample_and_fixture_sets_link_cleanly() {
    // Our fixtures again, through `link::check` alone (what the server runs on every policy).
    let loaded = load_files(&starter()).unwrap_or_else(|e| panic!("{}", show(&e)));
    for p in &loaded.policies {
        assert!(crate::link::check(p).is_empty(), "{}", p.id);
    }
}

#[test]
fn microsoft_starter_packs_load_without_errors() {
    for dir in ["/tmp/sp", "/tmp/spsl"] {
        let dir = Path::new(dir);
        if !dir.is_dir() {
            eprintln!("{}: absent, skipped", dir.display());
            continue;
        }
        let files = files_in(dir, Some(("yourtenant", "contoso")));
        let loaded = load_files(&files).unwrap_or_else(|e| panic!("{}", show(&e)));
        eprintln!("{}: warnings:\n{}", dir.display(), show(&loaded.warnings));
        let ids: Vec<&str> = loaded.policies.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "B2C_1A_PasswordReset",
                "B2C_1A_ProfileEdit",
                "B2C_1A_signup_signin"
            ]
        );
    }
}

#[test]
#[ignore = "by hand: the contoso sample set of samples/custom-policies"]
fn contoso_sample_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/custom-policies/contoso");
    let files = files_in(&dir, None);
    let settings = BTreeMap::from([(
        "RestApiBaseUrl".to_owned(),
        "https://127.0.0.1:9".to_owned(),
    )]);
    let options = LoadOptions {
        tenant_domain: "contoso.onmicrosoft.com",
        settings: &settings,
        limits: Limits::default(),
    };
    let loaded = load(&files, &options).unwrap_or_else(|e| panic!("{}", show(&e)));
    eprintln!("{}", show(&loaded.warnings));
    eprintln!(
        "{:?}",
        loaded
            .policies
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
    );
}
