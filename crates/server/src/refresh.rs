//! A refresh through the policy's token journey (`<Endpoint Id="Token" UserJourneyReferenceId=…>`,
//! `relyingparty.md`): the journey reads the user again, so a refresh after a profile edit
//! carries the new values, and an assertion in it (the starter pack's check that the refresh
//! token was issued after the user's `refreshTokensValidFromDateTime`) can refuse the refresh.
//! Policies without a token journey (user flows) replay the claims of the initial sign-in.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};
use trustframe_engine::{Engine, Env, Input, JourneyState, Outcome, SystemClock};
use trustframe_oidc::{RefreshContext, RefreshJourney};
use trustframe_policy::{ClaimValues, Policy, ResolverContext};

use crate::Tenant;

/// What the claim resolvers of a journey see (`claim-resolver-overview.md`).
pub fn resolver_context(
    tenant: &Tenant,
    policy: &Policy,
    culture: String,
    ip_address: String,
    correlation_id: String,
    oauth_params: BTreeMap<String, String>,
) -> ResolverContext {
    ResolverContext {
        culture,
        policy_id: policy.id.to_string(),
        tenant_id: tenant.id.clone(),
        tenant_name: tenant.domain.clone(),
        correlation_id,
        ip_address,
        user_agent: String::new(),
        build_number: env!("CARGO_PKG_VERSION").to_owned(),
        deployment_mode: if tenant.development {
            "Development".into()
        } else {
            "Production".into()
        },
        kmsi: false,
        now_utc: rfc3339(crate::tenant::now()),
        oauth_params,
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The token journey of one policy of one tenant.
pub struct TokenJourney<'a> {
    pub tenant: &'a Tenant,
    pub policy: &'a Policy,
}

/// B2C's answer when a refresh is no longer honoured (`error-codes.md`).
const REVOKED: &str =
    "AADB2C90129: The provided grant has been revoked. Please reauthenticate and try again.";

#[async_trait]
impl RefreshJourney for TokenJourney<'_> {
    async fn claims(
        &self,
        grant: RefreshContext<'_>,
    ) -> Result<Option<Map<String, Value>>, String> {
        let Some(journey) = self.policy.relying_party.token_journey.clone() else {
            return Ok(None);
        };
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let context = resolver_context(
            self.tenant,
            self.policy,
            "en-US".into(),
            String::new(),
            correlation_id.clone(),
            [("client_id".to_owned(), grant.client_id.to_owned())]
                .into_iter()
                .collect(),
        );
        let mut claims = ClaimValues::new();
        claims.insert("objectId".into(), Value::String(grant.object_id.to_owned()));
        claims.insert(
            "refreshTokenIssuedOnDateTime".into(),
            Value::String(rfc3339(grant.issued_at)),
        );
        let mut state =
            JourneyState::for_token_journey(self.policy.id.clone(), journey, context, claims);
        let engine = Engine::new(
            self.policy,
            Env {
                directory: &self.tenant.directory,
                rest: &self.tenant.rest,
                mailer: &self.tenant.mailer,
                clock: &SystemClock,
            },
        );
        match engine.advance(&mut state, Input::Start).await {
            Ok(Outcome::SendClaims(issued)) if issued.object_id == grant.object_id => {
                Ok(Some(issued.claims))
            }
            Ok(Outcome::SendClaims(_)) => {
                tracing::warn!(tenant = %self.tenant.name, policy = %self.policy.id, correlation_id, "token journey named another user; refresh refused");
                Err(REVOKED.into())
            }
            Ok(Outcome::Fail(failure)) => {
                tracing::info!(tenant = %self.tenant.name, policy = %self.policy.id, correlation_id, reason = %failure.description(), "token journey refused a refresh");
                Err(REVOKED.into())
            }
            Ok(_) => {
                tracing::error!(tenant = %self.tenant.name, policy = %self.policy.id, correlation_id, "token journey asked for user interaction; refresh refused");
                Err(REVOKED.into())
            }
            Err(e) => {
                tracing::error!(tenant = %self.tenant.name, policy = %self.policy.id, correlation_id, error = %e, "token journey failed");
                Err(REVOKED.into())
            }
        }
    }
}
