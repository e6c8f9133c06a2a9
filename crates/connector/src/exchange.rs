//! [`Connector`]: runs one exchange (plan → insecure check → tries with timeout and retry →
//! interpretation) and records it.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use trustframe_policy::TechnicalProfileKind;
use trustframe_policy::rest as md;

use crate::audit::{AuditSink, CallRecord};
use crate::auth::Auth;
use crate::circuit::{Circuits, Transition, Verdict};
use crate::error::ConnectorError;
use crate::keys::KeyStore;
use crate::metrics::Metrics;
use crate::outbound::Clients;
use crate::outcome::{ExchangeOutcome, FailureReason};
use crate::plan::{Body, Contract, Plan};
use crate::redact::truncated_text;
use crate::response::{failed, interpret};
use crate::token_cache::TokenCache;
use crate::{ConnectorSettings, RestCall};

/// How much of a response body an audit record keeps.
const AUDIT_BODY_CHARS: usize = 2048;
/// Backoff before the n-th retry: 50 ms, 100 ms, 200 ms, … at most 1 s.
const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Makes REST claims exchanges. Cheap to clone; clones share clients, token cache and metrics.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ConnectorSettings,
    keys: KeyStore,
    audit: Arc<dyn AuditSink>,
    clients: Clients,
    tokens: TokenCache,
    metrics: Metrics,
    circuits: Circuits,
}

/// The result of one try.
enum Try {
    Answer {
        status: u16,
        body: Vec<u8>,
    },
    TooLarge {
        status: u16,
    },
    Transport {
        reason: FailureReason,
        detail: String,
    },
}

impl Try {
    /// Connection errors, timeouts and 5xx are retried; a 4xx (409 included) never is.
    fn retryable(&self) -> bool {
        match self {
            Self::Answer { status, .. } => *status >= 500,
            Self::TooLarge { .. } => false,
            Self::Transport { .. } => true,
        }
    }
}

impl Connector {
    pub fn new(
        settings: ConnectorSettings,
        keys: KeyStore,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Self, ConnectorError> {
        let clients = Clients::new(&settings.extra_root_pems)?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                keys,
                audit,
                clients,
                tokens: TokenCache::default(),
                metrics: Metrics::default(),
                circuits: Circuits::default(),
            }),
        })
    }

    /// Registers `trustframe_connector_{calls,errors,retries}_total` and
    /// `trustframe_connector_call_duration_seconds`, labelled by technical profile.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.inner.metrics.register(registry);
    }

    /// How many OAuth2 tokens this connector has fetched (the rest came from its cache).
    pub fn token_fetches(&self) -> u64 {
        self.inner.tokens.fetches()
    }

    /// Makes the call. `Err` only for misconfiguration (missing `ServiceUrl`, an unknown key
    /// reference, an unusable certificate, …); every run-time failure is
    /// [`ExchangeOutcome::Failed`]. Either way one [`CallRecord`] goes to the audit sink.
    pub async fn exchange(&self, call: RestCall<'_>) -> Result<ExchangeOutcome, ConnectorError> {
        let started = Instant::now();
        let at = unix_now();
        let inner = &*self.inner;

        let plan = if call.profile.kind == TechnicalProfileKind::Restful {
            Plan::build(&call, &inner.settings, &inner.keys)
        } else {
            Err(ConnectorError::InvalidMetadata {
                profile: call.profile.id.to_string(),
                key: "Protocol",
                reason: "not a RESTful technical profile".to_owned(),
            })
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                self.record_misconfiguration(&call, at, started, &e).await;
                return Err(e);
            }
        };

        let client = match &plan.auth {
            Auth::ClientCertificate(reference) => {
                match inner.clients.with_certificate(reference, &inner.keys) {
                    Ok(c) => c,
                    Err(e) => {
                        self.record_misconfiguration(&call, at, started, &e).await;
                        return Err(e);
                    }
                }
            }
            _ => inner.clients.base().clone(),
        };

        let mut tries: Vec<Value> = Vec::new();
        let mut last: Option<Try> = None;
        let mut token_used: Option<String> = None;

        let early = if let Some(why) = &plan.insecure {
            Some((FailureReason::InsecureRefused, why.clone()))
        } else if let Auth::MissingBearerClaim(claim) = &plan.auth {
            Some((
                FailureReason::Auth(format!(
                    "claim {claim} (UseClaimAsBearerToken) has no value"
                )),
                String::new(),
            ))
        } else {
            None
        };

        // The circuit breaker: an open circuit refuses the call before any network attempt
        // (token endpoint included).
        let mut permit = None;
        let mut refusal = None;
        if early.is_none() {
            match inner.circuits.admit(&plan.circuit, Instant::now()) {
                Ok(p) => permit = p,
                Err(r) => refusal = Some(r),
            }
        }

        let outcome = match early {
            Some((reason, _)) => failed(&plan, reason),
            None if refusal.is_some() => failed(&plan, FailureReason::CircuitOpen),
            None => {
                // OAuth2: one token for all tries of this exchange.
                let token = match &plan.auth {
                    Auth::ClientCredentials(request) => {
                        match inner
                            .tokens
                            .token(inner.clients.base(), request, plan.timeout)
                            .await
                        {
                            Ok(t) => Some(Ok(t)),
                            Err(why) => Some(Err(why)),
                        }
                    }
                    _ => None,
                };
                match token {
                    Some(Err(why)) => failed(&plan, FailureReason::Auth(plan.scrubber.scrub(&why))),
                    token => {
                        let bearer = match token {
                            Some(Ok(t)) => {
                                let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                                    .unwrap_or_else(|_| HeaderValue::from_static(""));
                                v.set_sensitive(true);
                                token_used = Some(t);
                                Some(v)
                            }
                            _ => None,
                        };
                        let attempts_allowed = plan.retries + 1;
                        for attempt in 1..=attempts_allowed {
                            let try_started = Instant::now();
                            let result = try_once(&client, &plan, bearer.as_ref()).await;
                            let ms = elapsed_ms(try_started);
                            let entry = match &result {
                                Try::Answer { status, .. } | Try::TooLarge { status } => {
                                    json!({"attempt": attempt, "status": status, "ms": ms})
                                }
                                Try::Transport { reason, detail } => json!({
                                    "attempt": attempt,
                                    "error": reason.label(),
                                    "detail": plan.scrubber.scrub(detail),
                                    "ms": ms,
                                }),
                            };
                            tracing::debug!(
                                technical_profile = %call.profile.id,
                                attempt,
                                result = %entry,
                                "REST call try"
                            );
                            tries.push(entry);
                            let retry = result.retryable() && attempt < attempts_allowed;
                            last = Some(result);
                            if !retry {
                                break;
                            }
                            tokio::time::sleep(backoff(attempt)).await;
                        }
                        match &last {
                            Some(Try::Answer { status, body }) => {
                                if *status == 401
                                    && let (Auth::ClientCredentials(request), Some(t)) =
                                        (&plan.auth, &token_used)
                                {
                                    inner.tokens.evict(request, t).await;
                                }
                                interpret(&plan, *status, body)
                            }
                            Some(Try::TooLarge { .. }) => failed(&plan, FailureReason::TooLarge),
                            Some(Try::Transport { reason, .. }) => failed(&plan, reason.clone()),
                            None => failed(&plan, FailureReason::Connect),
                        }
                    }
                }
            }
        };

        let trial = permit.as_ref().is_some_and(|p| p.is_trial());
        let transition = permit.and_then(|p| p.finish(Verdict::of(&outcome), Instant::now()));
        match transition {
            Some(Transition::Opened(failures)) => {
                inner.metrics.circuit_opened(call.profile.id.as_str());
                tracing::warn!(
                    technical_profile = %call.profile.id,
                    url = %plan.audit_url,
                    consecutive_failures = failures,
                    cool_down_seconds = plan.circuit.cool_down.as_secs_f64(),
                    "circuit to the API opened"
                );
            }
            Some(Transition::Reopened) => {
                inner.metrics.circuit_opened(call.profile.id.as_str());
                tracing::warn!(
                    technical_profile = %call.profile.id,
                    url = %plan.audit_url,
                    cool_down_seconds = plan.circuit.cool_down.as_secs_f64(),
                    "trial call failed: circuit to the API opened again"
                );
            }
            Some(Transition::Closed) => tracing::info!(
                technical_profile = %call.profile.id,
                url = %plan.audit_url,
                "trial call succeeded: circuit to the API closed"
            ),
            None => {}
        }

        let attempts = u32::try_from(tries.len()).unwrap_or(u32::MAX);
        let status = match &last {
            Some(Try::Answer { status, .. } | Try::TooLarge { status }) => Some(*status),
            _ => None,
        };
        let duration_ms = elapsed_ms(started);

        // The record.
        let mut detail = json!({
            "contract": match plan.contract {
                Contract::Restful => "RestfulTechnicalProfile",
                Contract::ApiConnector(_) => "ApiConnector",
            },
            "request": plan.request_detail,
            "tries": tries,
        });
        match &last {
            Some(Try::Answer { status, body }) => {
                let (text, truncated) = truncated_text(body, AUDIT_BODY_CHARS);
                detail["response"] = json!({
                    "status": status,
                    "bytes": body.len(),
                    "body": text,
                    "truncated": truncated,
                });
            }
            Some(Try::TooLarge { status }) => {
                detail["response"] = json!({ "status": status, "tooLarge": true });
            }
            _ => {}
        }
        match &outcome {
            ExchangeOutcome::Failed {
                user_message,
                reason,
            } => {
                detail["error"] = Value::from(reason.to_string());
                detail["userMessage"] = Value::from(user_message.clone());
                if let Some(why) = &plan.insecure {
                    detail["refused"] = Value::from(why.clone());
                }
                if let Some(r) = &refusal {
                    detail["circuit"] = json!({
                        "state": "open",
                        "consecutiveFailures": r.consecutive_failures,
                        "retryInMs": u64::try_from(r.retry_in.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
            ExchangeOutcome::ValidationError {
                user_message, code, ..
            } => {
                detail["userMessage"] = Value::from(user_message.clone());
                if let Some(code) = code {
                    detail["code"] = Value::from(code.clone());
                }
            }
            ExchangeOutcome::Block { user_message } => {
                detail["userMessage"] = Value::from(user_message.clone());
            }
            ExchangeOutcome::Continue { claims, cleared } => {
                detail["claimsReturned"] =
                    Value::from(claims.keys().map(|c| c.to_string()).collect::<Vec<_>>());
                if !cleared.is_empty() {
                    detail["claimsCleared"] =
                        Value::from(cleared.iter().map(|c| c.to_string()).collect::<Vec<_>>());
                }
            }
        }
        if trial {
            detail["circuit"] = json!({ "state": "half_open", "trial": true });
        }
        let mut step = call.step.map(str::to_owned);
        if let Contract::ApiConnector(connector_step) = plan.contract {
            // B2C's audit log entry for API connectors (seed 004).
            detail["message"] = Value::from("An API was called as part of a user flow");
            detail["numberOfAttempts"] = Value::from(attempts);
            detail["apiConnectorStep"] = Value::from(connector_step.as_str());
            step.get_or_insert_with(|| connector_step.as_str().to_owned());
        }
        if let Some(t) = &token_used {
            let mut scrubber = plan.scrubber.clone();
            scrubber.add(t);
            scrubber.scrub_value(&mut detail);
        } else {
            plan.scrubber.scrub_value(&mut detail);
        }

        let outcome_name = outcome.audit_name();
        let failure = match &outcome {
            ExchangeOutcome::Failed { reason, .. } => Some(reason.label()),
            _ => None,
        };
        inner.metrics.observe(
            call.profile.id.as_str(),
            outcome_name.split(':').next().unwrap_or("failed"),
            failure.as_deref(),
            attempts,
            started.elapsed().as_secs_f64(),
        );
        if failure.is_some() {
            tracing::warn!(
                technical_profile = %call.profile.id,
                correlation_id = %call.context.correlation_id,
                url = %plan.audit_url,
                status,
                attempts,
                duration_ms,
                outcome = %outcome_name,
                "REST claims exchange failed"
            );
        } else {
            tracing::info!(
                technical_profile = %call.profile.id,
                correlation_id = %call.context.correlation_id,
                url = %plan.audit_url,
                status,
                attempts,
                duration_ms,
                outcome = %outcome_name,
                "REST claims exchange"
            );
        }

        inner
            .audit
            .record(CallRecord {
                at,
                correlation_id: call.context.correlation_id.clone(),
                policy: call.context.policy_id.clone(),
                step,
                technical_profile: call.profile.id.to_string(),
                url: plan.audit_url.clone(),
                status,
                duration_ms,
                attempts,
                outcome: outcome_name,
                detail,
            })
            .await;
        Ok(outcome)
    }

    async fn record_misconfiguration(
        &self,
        call: &RestCall<'_>,
        at: i64,
        started: Instant,
        error: &ConnectorError,
    ) {
        let url = call
            .profile
            .metadata
            .get(md::SERVICE_URL)
            .map(crate::service_url::without_query)
            .unwrap_or_default();
        tracing::error!(
            technical_profile = %call.profile.id,
            correlation_id = %call.context.correlation_id,
            error = %error,
            "REST claims exchange misconfigured"
        );
        self.inner.metrics.observe(
            call.profile.id.as_str(),
            "failed",
            Some("misconfigured"),
            0,
            started.elapsed().as_secs_f64(),
        );
        self.inner
            .audit
            .record(CallRecord {
                at,
                correlation_id: call.context.correlation_id.clone(),
                policy: call.context.policy_id.clone(),
                step: call.step.map(str::to_owned),
                technical_profile: call.profile.id.to_string(),
                url,
                status: None,
                duration_ms: elapsed_ms(started),
                attempts: 0,
                outcome: "failed:misconfigured".to_owned(),
                detail: json!({ "error": error.to_string() }),
            })
            .await;
    }
}

async fn try_once(client: &reqwest::Client, plan: &Plan, bearer: Option<&HeaderValue>) -> Try {
    let mut request = client
        .request(plan.method.clone(), plan.url.clone())
        .header(ACCEPT, "application/json");
    for (name, value) in &plan.headers {
        request = request.header(name, value);
    }
    match &plan.auth {
        Auth::Header(value) => request = request.header(AUTHORIZATION, value),
        Auth::ApiKeyHeaders(headers) => {
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
        Auth::ClientCredentials(_) => {
            if let Some(value) = bearer {
                request = request.header(AUTHORIZATION, value);
            }
        }
        Auth::None | Auth::ClientCertificate(_) | Auth::MissingBearerClaim(_) => {}
    }
    match &plan.body {
        Body::None => {}
        Body::Json(bytes) => {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone());
        }
        Body::Form(text) => {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(text.clone());
        }
    }
    let max = plan.max_response_bytes;
    let attempt = async move {
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Ok(Try::TooLarge { status });
        }
        // Streamed with a bound: an unbounded body is never buffered.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > max {
                return Ok(Try::TooLarge { status });
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Try::Answer { status, body })
    };
    match tokio::time::timeout(plan.timeout, attempt).await {
        Err(_) => Try::Transport {
            reason: FailureReason::Timeout,
            detail: format!("no complete answer within {:?}", plan.timeout),
        },
        Ok(Ok(result)) => result,
        Ok(Err(e)) => classify(e),
    }
}

/// A transport error's reason, and its text without the URL (which may carry a key).
fn classify(error: reqwest::Error) -> Try {
    let timeout = error.is_timeout();
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let lower = detail.to_ascii_lowercase();
    let reason = if timeout {
        FailureReason::Timeout
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        FailureReason::Dns
    } else {
        FailureReason::Connect
    };
    Try::Transport { reason, detail }
}

fn backoff(attempt: u32) -> Duration {
    let factor = 1u32 << (attempt.saturating_sub(1)).min(10);
    (BACKOFF_BASE * factor).min(BACKOFF_MAX)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
