//! Federation with an external identity provider (`openid-connect-technical-profile.md`).
//!
//! The engine does no protocol work: at an `OpenIdConnect` claims exchange it answers
//! [`Outcome::Federate`] naming the technical profile, whose metadata tells the server where
//! and how to send the user. The server comes back with [`Input::FederationResult`]: the
//! provider's verified ID token claims, which the profile's output claims map into the bag by
//! their partner claim types, as B2C does.
//!
//! [`Input::FederationResult`]: super::Input::FederationResult

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trustframe_policy::identity_provider::matches_domain_hint;
use trustframe_policy::{
    DataType, OrchestrationStep, TechnicalProfile, TechnicalProfileId, TechnicalProfileKind,
};

use super::{Engine, Failure, JourneyState, Outcome};
use crate::EngineError;

/// Where the user goes next: the provider's technical profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationRequest {
    /// An `OpenIdConnect` technical profile: its metadata names the provider and its settings.
    pub technical_profile: TechnicalProfileId,
    /// The provider's label, for pages and logs.
    pub display_name: String,
}

/// A provider claim as the claim type wants it: a collection's first item for a single value
/// (`emails` → `email`), numbers and booleans as text for strings.
fn claim_value(value: &Value, data_type: DataType) -> Option<Value> {
    match (value, data_type) {
        (Value::Null, _) => None,
        (Value::Array(items), DataType::StringCollection) => Some(Value::Array(items.clone())),
        (Value::Array(items), _) => items.iter().find_map(|v| claim_value(v, data_type)),
        (Value::String(s), DataType::StringCollection) => {
            Some(Value::Array(vec![Value::String(s.clone())]))
        }
        (Value::String(s), _) if s.is_empty() => None,
        (Value::String(_), _) => Some(value.clone()),
        (Value::Bool(_) | Value::Number(_), DataType::String) => {
            Some(Value::String(value.to_string()))
        }
        (other, _) => Some(other.clone()),
    }
}

impl Engine<'_> {
    /// Hands the journey to the server: the user goes to the provider.
    pub(super) fn federate(&self, state: &mut JourneyState, profile: &TechnicalProfile) -> Outcome {
        state.awaiting = Some(profile.id.clone());
        Outcome::Federate(FederationRequest {
            technical_profile: profile.id.clone(),
            display_name: profile.display_name.clone(),
        })
    }

    /// Takes the provider's claims into the bag. `Some(outcome)` ends the journey here.
    pub(super) fn federated(
        &self,
        state: &mut JourneyState,
        provider_claims: &Map<String, Value>,
    ) -> Result<Option<Outcome>, EngineError> {
        let profile = match &state.awaiting {
            Some(id) => self.profile(id)?,
            None => {
                return Err(EngineError::UnexpectedInput(
                    "no identity provider is awaited".into(),
                ));
            }
        };
        if profile.kind != TechnicalProfileKind::OpenIdConnect {
            return Err(EngineError::UnexpectedInput(format!(
                "'{}' is not an identity provider",
                profile.id
            )));
        }
        let mut claims = state.claims.clone();
        for out in &profile.output_claims {
            let partner = out.partner_name();
            let found = provider_claims.get(partner).or_else(|| {
                provider_claims
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(partner))
                    .map(|(_, v)| v)
            });
            let data_type = self.policy.claims_schema.data_type(&out.claim_type);
            match found.and_then(|v| claim_value(v, data_type)) {
                Some(v) if !out.always_use_default_value => {
                    claims.insert(out.claim_type.clone(), v);
                }
                _ if out.required && out.default_value.is_none() => {
                    tracing::info!(profile = %profile.id, claim = partner, "identity provider's token lacks a required claim");
                    return Ok(Some(Outcome::Fail(Failure::Refused(format!(
                        "The identity provider '{}' did not send the '{partner}' claim the sign-in needs.",
                        profile.display_name
                    )))));
                }
                _ => {}
            }
        }
        if let Some(message) = self.finish_profile(profile, &mut claims, &state.context)? {
            return Ok(Some(Outcome::Fail(Failure::Refused(message))));
        }
        state.claims = claims;
        state.awaiting = None;
        state.step += 1;
        Ok(None)
    }

    /// The provider a `domain_hint` names among a sign-in page's choices: the page is
    /// skipped and the user goes straight there.
    pub(super) fn domain_hint_choice(
        &self,
        state: &JourneyState,
        step: &OrchestrationStep,
        steps: &[OrchestrationStep],
    ) -> Result<Option<String>, EngineError> {
        let Some(hint) = state
            .context
            .oauth_params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("domain_hint"))
            .map(|(_, v)| v.as_str())
        else {
            return Ok(None);
        };
        for id in &step.claims_provider_selections {
            let Some(exchange) = steps
                .iter()
                .flat_map(|s| s.claims_exchanges.iter())
                .find(|e| e.id.eq_ignore_ascii_case(id))
            else {
                continue;
            };
            let profile = self.profile(&exchange.technical_profile)?;
            if profile.kind == TechnicalProfileKind::OpenIdConnect
                && matches_domain_hint(profile, hint)
            {
                return Ok(Some(exchange.id.clone()));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_values_fit_the_claim_type() {
        let emails = serde_json::json!(["a@example.com", "b@example.com"]);
        assert_eq!(
            claim_value(&emails, DataType::String),
            Some(Value::String("a@example.com".into()))
        );
        assert_eq!(
            claim_value(&Value::Bool(true), DataType::String),
            Some(Value::String("true".into()))
        );
        assert_eq!(
            claim_value(&Value::String(String::new()), DataType::String),
            None
        );
        assert_eq!(claim_value(&Value::Null, DataType::String), None);
    }
}
