//! Journeys of custom policies over in-process fakes: what the XML front end compiles, the
//! engine runs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use trustframe_policy::xml::{self, Limits, LoadOptions, PolicyFile};
use trustframe_policy::{ClaimValues, Policy, ResolverContext};

use super::{Input, JourneyState, Outcome};
use crate::Engine;
use crate::env::*;

struct Nothing;

#[async_trait]
impl Directory for Nothing {
    async fn read(&self, _: &str) -> Result<Option<DirectoryUser>, EnvError> {
        Ok(None)
    }
    async fn find_by_identity(&self, _: &Identity) -> Result<Option<DirectoryUser>, EnvError> {
        Ok(None)
    }
    async fn verify_password(
        &self,
        _: &str,
        _: &str,
        _: &ResolverContext,
    ) -> Result<PasswordCheck, EnvError> {
        Ok(PasswordCheck::NoSuchUser)
    }
    async fn create(
        &self,
        _: Vec<Identity>,
        _: Option<String>,
        _: ClaimValues,
    ) -> Result<CreateResult, EnvError> {
        Err(EnvError::new("no directory in this test"))
    }
    async fn write(&self, _: &str, _: ClaimValues) -> Result<(), EnvError> {
        Ok(())
    }
    async fn set_password(&self, _: &str, _: &str, _: &ResolverContext) -> Result<(), EnvError> {
        Ok(())
    }
}

#[async_trait]
impl RestClient for Nothing {
    async fn exchange(&self, _: RestRequest<'_>) -> Result<RestOutcome, EnvError> {
        Err(EnvError::new("no REST in this test"))
    }
}

#[async_trait]
impl Mailer for Nothing {
    async fn send_code(&self, _: CodeMail) -> Result<(), EnvError> {
        Ok(())
    }
}

impl Clock for Nothing {
    fn now(&self) -> i64 {
        1_700_000_000
    }
}

const NS: &str = "http://schemas.microsoft.com/online/cpim/schemas/2013/06";

/// One file: a page asking for an address twice, a validation profile asserting they match,
/// and a sub journey called twice to show that calls return where they were made.
fn policy() -> Policy {
    let text = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<TrustFrameworkPolicy xmlns="{NS}" PolicySchemaVersion="0.3.0.0" TenantId="contoso.onmicrosoft.com"
    PolicyId="B2C_1A_test" PublicPolicyUri="http://contoso.onmicrosoft.com/B2C_1A_test">
  <BuildingBlocks>
    <ClaimsSchema>
      <ClaimType Id="objectId"><DisplayName>Object id</DisplayName><DataType>string</DataType></ClaimType>
      <ClaimType Id="email"><DisplayName>E-mail</DisplayName><DataType>string</DataType><UserInputType>TextBox</UserInputType></ClaimType>
      <ClaimType Id="emailAgain"><DisplayName>E-mail again</DisplayName><DataType>string</DataType><UserInputType>TextBox</UserInputType></ClaimType>
      <ClaimType Id="visits"><DisplayName>Visits</DisplayName><DataType>stringCollection</DataType></ClaimType>
      <ClaimType Id="visit"><DisplayName>Visit</DisplayName><DataType>string</DataType></ClaimType>
    </ClaimsSchema>
    <ClaimsTransformations>
      <ClaimsTransformation Id="AssertSameEmail" TransformationMethod="AssertStringClaimsAreEqual">
        <InputClaims>
          <InputClaim ClaimTypeReferenceId="email" TransformationClaimType="inputClaim1" />
          <InputClaim ClaimTypeReferenceId="emailAgain" TransformationClaimType="inputClaim2" />
        </InputClaims>
        <InputParameters>
          <InputParameter Id="stringComparison" DataType="string" Value="ordinalIgnoreCase" />
        </InputParameters>
      </ClaimsTransformation>
      <ClaimsTransformation Id="CountVisit" TransformationMethod="AddItemToStringCollection">
        <InputClaims>
          <InputClaim ClaimTypeReferenceId="visit" TransformationClaimType="item" />
          <InputClaim ClaimTypeReferenceId="visits" TransformationClaimType="collection" />
        </InputClaims>
        <OutputClaims>
          <OutputClaim ClaimTypeReferenceId="visits" TransformationClaimType="collection" />
        </OutputClaims>
      </ClaimsTransformation>
    </ClaimsTransformations>
  </BuildingBlocks>
  <ClaimsProviders>
    <ClaimsProvider>
      <DisplayName>Test</DisplayName>
      <TechnicalProfiles>
        <TechnicalProfile Id="Page">
          <DisplayName>Your address</DisplayName>
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.SelfAssertedAttributeProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <Metadata>
            <Item Key="UserMessageIfClaimsTransformationStringsAreNotEqual">The two addresses differ.</Item>
          </Metadata>
          <OutputClaims>
            <OutputClaim ClaimTypeReferenceId="email" Required="true" />
            <OutputClaim ClaimTypeReferenceId="emailAgain" Required="true" />
            <OutputClaim ClaimTypeReferenceId="objectId" DefaultValue="oid-1" />
          </OutputClaims>
          <ValidationTechnicalProfiles>
            <ValidationTechnicalProfile ReferenceId="Check" />
          </ValidationTechnicalProfiles>
        </TechnicalProfile>
        <TechnicalProfile Id="Check">
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.ClaimsTransformationProtocolProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <OutputClaimsTransformations>
            <OutputClaimsTransformation ReferenceId="AssertSameEmail" />
          </OutputClaimsTransformations>
        </TechnicalProfile>
        <TechnicalProfile Id="Visit">
          <Protocol Name="Proprietary" Handler="Web.TPEngine.Providers.ClaimsTransformationProtocolProvider, Web.TPEngine, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null" />
          <OutputClaims>
            <OutputClaim ClaimTypeReferenceId="visit" DefaultValue="{{Policy:PolicyId}}" AlwaysUseDefaultValue="true" />
          </OutputClaims>
          <OutputClaimsTransformations>
            <OutputClaimsTransformation ReferenceId="CountVisit" />
          </OutputClaimsTransformations>
        </TechnicalProfile>
        <TechnicalProfile Id="JwtIssuer">
          <Protocol Name="OpenIdConnect" />
          <OutputTokenFormat>JWT</OutputTokenFormat>
        </TechnicalProfile>
      </TechnicalProfiles>
    </ClaimsProvider>
  </ClaimsProviders>
  <UserJourneys>
    <UserJourney Id="Main">
      <OrchestrationSteps>
        <OrchestrationStep Order="1" Type="InvokeSubJourney">
          <JourneyList><Candidate SubJourneyReferenceId="Main" /></JourneyList>
        </OrchestrationStep>
        <OrchestrationStep Order="2" Type="ClaimsExchange">
          <ClaimsExchanges><ClaimsExchange Id="PageExchange" TechnicalProfileReferenceId="Page" /></ClaimsExchanges>
        </OrchestrationStep>
        <OrchestrationStep Order="3" Type="InvokeSubJourney">
          <JourneyList><Candidate SubJourneyReferenceId="Main" /></JourneyList>
        </OrchestrationStep>
        <OrchestrationStep Order="4" Type="SendClaims" CpimIssuerTechnicalProfileReferenceId="JwtIssuer" />
      </OrchestrationSteps>
    </UserJourney>
  </UserJourneys>
  <SubJourneys>
    <SubJourney Id="Main" Type="Call">
      <OrchestrationSteps>
        <OrchestrationStep Order="1" Type="ClaimsExchange">
          <ClaimsExchanges><ClaimsExchange Id="VisitExchange" TechnicalProfileReferenceId="Visit" /></ClaimsExchanges>
        </OrchestrationStep>
      </OrchestrationSteps>
    </SubJourney>
  </SubJourneys>
  <RelyingParty>
    <DefaultUserJourney ReferenceId="Main" />
    <TechnicalProfile Id="PolicyProfile">
      <DisplayName>PolicyProfile</DisplayName>
      <Protocol Name="OpenIdConnect" />
      <OutputClaims>
        <OutputClaim ClaimTypeReferenceId="objectId" PartnerClaimType="sub" />
        <OutputClaim ClaimTypeReferenceId="email" />
        <OutputClaim ClaimTypeReferenceId="visits" />
      </OutputClaims>
      <SubjectNamingInfo ClaimType="sub" />
    </TechnicalProfile>
  </RelyingParty>
</TrustFrameworkPolicy>"#
    );
    let files = [PolicyFile {
        name: "test.xml".into(),
        bytes: text.into_bytes(),
    }];
    let settings = BTreeMap::new();
    let loaded = xml::load(
        &files,
        &LoadOptions {
            tenant_domain: "contoso.onmicrosoft.com",
            settings: &settings,
            limits: Limits::default(),
        },
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    loaded
        .policies
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no policy"))
}

fn form(pairs: &[(&str, &str)]) -> Input {
    Input::Submit(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[tokio::test]
async fn a_validation_assertion_speaks_with_the_pages_message_and_sub_journeys_return() {
    let policy = policy();
    let env = Env {
        directory: &Nothing,
        rest: &Nothing,
        mailer: &Nothing,
        clock: &Nothing,
    };
    let engine = Engine::new(&policy, env);
    let context = ResolverContext {
        policy_id: "B2C_1A_test".into(),
        ..ResolverContext::default()
    };
    let mut state = JourneyState::new(policy.id.clone(), context);

    // The sub journey ran once and came back to the page; claims without a UserInputType
    // (objectId) are not fields.
    let Ok(Outcome::Page(page)) = engine.advance(&mut state, Input::Start).await else {
        panic!("expected the page");
    };
    let names: Vec<&str> = page.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["email", "emailAgain"]);

    let outcome = engine
        .advance(
            &mut state,
            form(&[("email", "a@example.com"), ("emailAgain", "b@example.com")]),
        )
        .await;
    let Ok(Outcome::Page(page)) = outcome else {
        panic!("expected the page again, got {outcome:?}");
    };
    assert_eq!(page.error.as_deref(), Some("The two addresses differ."));

    let outcome = engine
        .advance(
            &mut state,
            form(&[("email", "a@example.com"), ("emailAgain", "A@example.com")]),
        )
        .await;
    let Ok(Outcome::SendClaims(issued)) = outcome else {
        panic!("expected tokens, got {outcome:?}");
    };
    assert_eq!(issued.object_id, "oid-1");
    assert_eq!(issued.claims["email"], "a@example.com");
    // Called twice, the sub journey added its item once (a collection keeps each value once),
    // and the journey stack is empty again.
    assert_eq!(issued.claims["visits"], serde_json::json!(["B2C_1A_test"]));
    assert!(state.calls.is_empty());
}
