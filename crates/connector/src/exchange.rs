//! [`Connector`]: runs one exchange — plan, admit (insecure transport, circuit breaker), attempt
//! (token, tries with timeout and retry, interpretation), settle the circuit, record — each a
//! named step.

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
use crate::circuit::{Circuits, Permit, Refusal, Transition, Verdict};
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
        let (plan, client) = match self.plan(&call) {
            Ok(ready) => ready,
            Err(e) => {
                self.record_misconfiguration(&call, at, started, &e).await;
                return Err(e);
            }
        };
        let admission = self.admit(&plan);
        let run = match &admission {
            Admission::Refused(reason) => Run::without_call(failed(&plan, reason.clone())),
            Admission::CircuitOpen(_) => {
                Run::without_call(failed(&plan, FailureReason::CircuitOpen))
            }
            Admission::Admitted(_) => self.attempt(&call, &plan, &client).await,
        };
        let circuit = self.settle_circuit(&call, &plan, admission, &run.outcome);
        self.record(&call, &plan, &run, &circuit, at, started).await;
        Ok(run.outcome)
    }

    /// The request plan and the HTTP client to send it with (mutual TLS has its own).
    fn plan(&self, call: &RestCall<'_>) -> Result<(Plan, reqwest::Client), ConnectorError> {
        let inner = &*self.inner;
        if call.profile.kind != TechnicalProfileKind::Restful {
            return Err(ConnectorError::InvalidMetadata {
                profile: call.profile.id.to_string(),
                key: "Protocol",
                reason: "not a RESTful technical profile".to_owned(),
            });
        }
        let plan = Plan::build(call, &inner.settings, &inner.keys)?;
        let client = match &plan.auth {
            Auth::ClientCertificate(reference) => {
                inner.clients.with_certificate(reference, &inner.keys)?
            }
            _ => inner.clients.base().clone(),
        };
        Ok((plan, client))
    }

    /// Refuses what must not be sent (insecure transport, a bearer claim without a value), then
    /// asks the circuit breaker: an open circuit refuses the call before any network attempt
    /// (token endpoint included).
    fn admit(&self, plan: &Plan) -> Admission<'_> {
        if plan.insecure.is_some() {
            return Admission::Refused(FailureReason::InsecureRefused);
        }
        if let Auth::MissingBearerClaim(claim) = &plan.auth {
            return Admission::Refused(FailureReason::Auth(format!(
                "claim {claim} (UseClaimAsBearerToken) has no value"
            )));
        }
        match self.inner.circuits.admit(&plan.circuit, Instant::now()) {
            Ok(permit) => Admission::Admitted(permit),
            Err(refusal) => Admission::CircuitOpen(refusal),
        }
    }

    /// The OAuth2 token (one for all tries), the tries, and what the last answer means.
    async fn attempt(&self, call: &RestCall<'_>, plan: &Plan, client: &reqwest::Client) -> Run {
        let token = match self.bearer_token(plan).await {
            Ok(token) => token,
            Err(why) => {
                let reason = FailureReason::Auth(plan.scrubber.scrub(&why));
                return Run::without_call(failed(plan, reason));
            }
        };
        let bearer = token.as_deref().map(bearer_header);
        let (tries, last) = tries(call, plan, client, bearer.as_ref()).await;
        let outcome = self.answer(plan, last.as_ref(), token.as_deref()).await;
        Run {
            outcome,
            tries,
            last,
            token_used: token,
        }
    }

    /// With `ClientCredentials`: a token from the cache or the token endpoint.
    async fn bearer_token(&self, plan: &Plan) -> Result<Option<String>, String> {
        let inner = &*self.inner;
        match &plan.auth {
            Auth::ClientCredentials(request) => inner
                .tokens
                .token(inner.clients.base(), request, plan.timeout)
                .await
                .map(Some),
            _ => Ok(None),
        }
    }

    /// The outcome of the last try. A 401 to an OAuth2 token drops it from the cache.
    async fn answer(
        &self,
        plan: &Plan,
        last: Option<&Try>,
        token: Option<&str>,
    ) -> ExchangeOutcome {
        match last {
            Some(Try::Answer { status, body }) => {
                if *status == 401
                    && let (Auth::ClientCredentials(request), Some(t)) = (&plan.auth, token)
                {
                    self.inner.tokens.evict(request, t).await;
                }
                interpret(plan, *status, body)
            }
            Some(Try::TooLarge { .. }) => failed(plan, FailureReason::TooLarge),
            Some(Try::Transport { reason, .. }) => failed(plan, reason.clone()),
            None => failed(plan, FailureReason::Connect),
        }
    }

    /// Tells the circuit breaker how the exchange went and logs a change of state.
    fn settle_circuit(
        &self,
        call: &RestCall<'_>,
        plan: &Plan,
        admission: Admission<'_>,
        outcome: &ExchangeOutcome,
    ) -> CircuitNote {
        let permit = match admission {
            Admission::Refused(_) | Admission::Admitted(None) => return CircuitNote::None,
            Admission::CircuitOpen(refusal) => return CircuitNote::Open(refusal),
            Admission::Admitted(Some(permit)) => permit,
        };
        let trial = permit.is_trial();
        let transition = permit.finish(Verdict::of(outcome), Instant::now());
        self.log_transition(call, plan, transition);
        if trial {
            CircuitNote::Trial
        } else {
            CircuitNote::None
        }
    }

    fn log_transition(&self, call: &RestCall<'_>, plan: &Plan, transition: Option<Transition>) {
        match transition {
            Some(Transition::Opened(failures)) => {
                self.inner.metrics.circuit_opened(call.profile.id.as_str());
                tracing::warn!(
                    technical_profile = %call.profile.id,
                    url = %plan.audit_url,
                    consecutive_failures = failures,
                    cool_down_seconds = plan.circuit.cool_down.as_secs_f64(),
                    "circuit to the API opened"
                );
            }
            Some(Transition::Reopened) => {
                self.inner.metrics.circuit_opened(call.profile.id.as_str());
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
    }

    /// Metrics, the log line and the audit record of one exchange.
    async fn record(
        &self,
        call: &RestCall<'_>,
        plan: &Plan,
        run: &Run,
        circuit: &CircuitNote,
        at: i64,
        started: Instant,
    ) {
        let attempts = u32::try_from(run.tries.len()).unwrap_or(u32::MAX);
        let status = match &run.last {
            Some(Try::Answer { status, .. } | Try::TooLarge { status }) => Some(*status),
            _ => None,
        };
        let duration_ms = elapsed_ms(started);
        let mut step = call.step.map(str::to_owned);
        let detail = record_detail(plan, run, circuit, attempts, &mut step);
        let outcome = run.outcome.audit_name();
        self.observe(call, &run.outcome, &outcome, attempts, started);
        log_exchange(
            call,
            plan,
            &run.outcome,
            &outcome,
            status,
            attempts,
            duration_ms,
        );
        self.inner
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
                outcome,
                detail,
            })
            .await;
    }

    /// The exchange's metrics: calls, errors, retries and duration.
    fn observe(
        &self,
        call: &RestCall<'_>,
        outcome: &ExchangeOutcome,
        outcome_name: &str,
        attempts: u32,
        started: Instant,
    ) {
        let failure = match outcome {
            ExchangeOutcome::Failed { reason, .. } => Some(reason.label()),
            _ => None,
        };
        self.inner.metrics.observe(
            call.profile.id.as_str(),
            outcome_name.split(':').next().unwrap_or("failed"),
            failure.as_deref(),
            attempts,
            started.elapsed().as_secs_f64(),
        );
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

/// Whether the breaker let the call through.
enum Admission<'a> {
    /// Refused before the breaker is asked: insecure transport, or a bearer claim without value.
    Refused(FailureReason),
    CircuitOpen(Refusal),
    /// Through; the permit (none with the breaker disabled) settles the circuit afterwards.
    Admitted(Option<Permit<'a>>),
}

/// What the record says about the circuit.
enum CircuitNote {
    None,
    Open(Refusal),
    /// This call was the half-open trial.
    Trial,
}

/// One exchange's tries and outcome.
struct Run {
    outcome: ExchangeOutcome,
    /// One entry per try, for the record.
    tries: Vec<Value>,
    last: Option<Try>,
    /// The OAuth2 token sent (a secret the record must not show).
    token_used: Option<String>,
}

impl Run {
    /// Refused or failed before any try.
    fn without_call(outcome: ExchangeOutcome) -> Self {
        Self {
            outcome,
            tries: Vec::new(),
            last: None,
            token_used: None,
        }
    }
}

fn bearer_header(token: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// The first try and the retries B2C makes: after a timeout, a connection failure or a 5xx,
/// with a backoff, at most `Retries` times (`restful-technical-profile.md`).
async fn tries(
    call: &RestCall<'_>,
    plan: &Plan,
    client: &reqwest::Client,
    bearer: Option<&HeaderValue>,
) -> (Vec<Value>, Option<Try>) {
    let mut tries = Vec::new();
    let mut last = None;
    let attempts_allowed = plan.retries + 1;
    for attempt in 1..=attempts_allowed {
        let try_started = Instant::now();
        let result = try_once(client, plan, bearer).await;
        let entry = try_entry(plan, attempt, &result, elapsed_ms(try_started));
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
    (tries, last)
}

/// One try as the record shows it.
fn try_entry(plan: &Plan, attempt: u32, result: &Try, ms: u64) -> Value {
    match result {
        Try::Answer { status, .. } | Try::TooLarge { status } => {
            json!({"attempt": attempt, "status": status, "ms": ms})
        }
        Try::Transport { reason, detail } => json!({
            "attempt": attempt,
            "error": reason.label(),
            "detail": plan.scrubber.scrub(detail),
            "ms": ms,
        }),
    }
}

/// The audit record's detail: the request, the tries, the answer and the outcome, redacted.
/// API connectors add B2C's audit fields and name their step when the journey did not.
fn record_detail(
    plan: &Plan,
    run: &Run,
    circuit: &CircuitNote,
    attempts: u32,
    step: &mut Option<String>,
) -> Value {
    let mut detail = json!({
        "contract": match plan.contract {
            Contract::Restful => "RestfulTechnicalProfile",
            Contract::ApiConnector(_) => "ApiConnector",
        },
        "request": plan.request_detail,
        "tries": run.tries,
    });
    if let Some(response) = response_detail(run.last.as_ref()) {
        detail["response"] = response;
    }
    outcome_detail(plan, &run.outcome, circuit, &mut detail);
    if let CircuitNote::Trial = circuit {
        detail["circuit"] = json!({ "state": "half_open", "trial": true });
    }
    if let Contract::ApiConnector(connector_step) = plan.contract {
        // B2C's audit log entry for API connectors (`add-api-connector.md`).
        detail["message"] = Value::from("An API was called as part of a user flow");
        detail["numberOfAttempts"] = Value::from(attempts);
        detail["apiConnectorStep"] = Value::from(connector_step.as_str());
        step.get_or_insert_with(|| connector_step.as_str().to_owned());
    }
    if let Some(t) = &run.token_used {
        let mut scrubber = plan.scrubber.clone();
        scrubber.add(t);
        scrubber.scrub_value(&mut detail);
    } else {
        plan.scrubber.scrub_value(&mut detail);
    }
    detail
}

fn response_detail(last: Option<&Try>) -> Option<Value> {
    match last {
        Some(Try::Answer { status, body }) => {
            let (text, truncated) = truncated_text(body, AUDIT_BODY_CHARS);
            Some(json!({
                "status": status,
                "bytes": body.len(),
                "body": text,
                "truncated": truncated,
            }))
        }
        Some(Try::TooLarge { status }) => Some(json!({ "status": status, "tooLarge": true })),
        _ => None,
    }
}

fn outcome_detail(
    plan: &Plan,
    outcome: &ExchangeOutcome,
    circuit: &CircuitNote,
    detail: &mut Value,
) {
    match outcome {
        ExchangeOutcome::Failed {
            user_message,
            reason,
        } => {
            detail["error"] = Value::from(reason.to_string());
            detail["userMessage"] = Value::from(user_message.clone());
            if let Some(why) = &plan.insecure {
                detail["refused"] = Value::from(why.clone());
            }
            if let CircuitNote::Open(r) = circuit {
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
}

/// One log line per exchange: a warning when it failed.
fn log_exchange(
    call: &RestCall<'_>,
    plan: &Plan,
    outcome: &ExchangeOutcome,
    outcome_name: &str,
    status: Option<u16>,
    attempts: u32,
    duration_ms: u64,
) {
    if matches!(outcome, ExchangeOutcome::Failed { .. }) {
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
