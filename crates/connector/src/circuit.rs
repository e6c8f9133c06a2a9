//! The circuit breaker: per endpoint (technical profile id + ServiceUrl without query), in
//! memory, per [`Connector`](crate::Connector) and so per node.
//!
//! Closed: calls flow; `failures` consecutive failed exchanges (timeout, DNS, connection, 5xx)
//! open the circuit. Open: calls are refused without any network attempt until `cool_down` has
//! passed. Then one trial call is let through (half-open): a success closes the circuit, a
//! failure opens it again for another `cool_down`. Any other outcome (2xx, 4xx, 409, a
//! malformed answer) counts as a success: the API answered.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::outcome::{ExchangeOutcome, FailureReason};

/// One endpoint's circuit and its settings, from the profile's metadata.
#[derive(Debug, Clone)]
pub(crate) struct CircuitSettings {
    /// `<profile id>\n<ServiceUrl without query>`.
    pub key: String,
    /// Consecutive failures that open the circuit; 0 disables the breaker.
    pub failures: u32,
    pub cool_down: Duration,
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    open_until: Option<Instant>,
    /// A half-open trial call is under way.
    trial: bool,
}

/// What an exchange tells the breaker about its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Timeout, DNS, connection failure or 5xx.
    Failure,
    /// The API answered (whatever it said).
    Success,
    /// Nothing learnt about the API (our token endpoint failed before any call).
    Neutral,
}

impl Verdict {
    pub(crate) fn of(outcome: &ExchangeOutcome) -> Self {
        match outcome {
            ExchangeOutcome::Failed { reason, .. } => match reason {
                FailureReason::Timeout | FailureReason::Dns | FailureReason::Connect => {
                    Self::Failure
                }
                FailureReason::Status(s) if (500..600).contains(s) => Self::Failure,
                FailureReason::Auth(_)
                | FailureReason::InsecureRefused
                | FailureReason::CircuitOpen => Self::Neutral,
                _ => Self::Success,
            },
            _ => Self::Success,
        }
    }
}

/// A change of state worth a log line and a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Closed → open after this many consecutive failures.
    Opened(u32),
    /// The half-open trial failed: open again.
    Reopened,
    /// The half-open trial succeeded: closed.
    Closed,
}

/// Why a call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub consecutive_failures: u32,
    /// Until the next trial call (zero while a trial is under way).
    pub retry_in: Duration,
}

/// The circuits of one connector.
#[derive(Debug, Default)]
pub(crate) struct Circuits {
    states: Mutex<HashMap<String, State>>,
}

impl Circuits {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, State>> {
        // The state stays consistent under a panic (plain field writes): keep using it.
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go to this endpoint? `Ok(None)` when the breaker is disabled; `Ok(Some)` a
    /// permit to [`Permit::finish`] with the outcome; `Err` when the circuit is open.
    pub(crate) fn admit<'a>(
        &'a self,
        settings: &CircuitSettings,
        now: Instant,
    ) -> Result<Option<Permit<'a>>, Refusal> {
        if settings.failures == 0 {
            return Ok(None);
        }
        let mut states = self.lock();
        let trial = match states.get_mut(&settings.key) {
            None => false,
            Some(state) => match state.open_until {
                None => false,
                Some(until) if now < until => {
                    return Err(Refusal {
                        consecutive_failures: state.consecutive,
                        retry_in: until - now,
                    });
                }
                Some(_) if state.trial => {
                    return Err(Refusal {
                        consecutive_failures: state.consecutive,
                        retry_in: Duration::ZERO,
                    });
                }
                Some(_) => {
                    state.trial = true;
                    true
                }
            },
        };
        drop(states);
        Ok(Some(Permit {
            circuits: self,
            settings: settings.clone(),
            trial,
            done: false,
        }))
    }
}

/// A call let through. Dropped without [`finish`](Self::finish) (the exchange was cancelled),
/// a trial permit frees the half-open slot so that the next call is the trial.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    circuits: &'a Circuits,
    settings: CircuitSettings,
    trial: bool,
    done: bool,
}

impl Permit<'_> {
    pub(crate) fn is_trial(&self) -> bool {
        self.trial
    }

    /// Records the exchange's verdict; returns the state change, if any.
    pub(crate) fn finish(mut self, verdict: Verdict, now: Instant) -> Option<Transition> {
        self.done = true;
        let s = &self.settings;
        let mut states = self.circuits.lock();
        match verdict {
            Verdict::Success => {
                if self.trial {
                    states.remove(&s.key);
                    Some(Transition::Closed)
                } else {
                    // A call that started before the circuit opened does not close it: only
                    // the trial does.
                    if states.get(&s.key).is_some_and(|st| st.open_until.is_none()) {
                        states.remove(&s.key);
                    }
                    None
                }
            }
            Verdict::Failure => {
                let state = states.entry(s.key.clone()).or_default();
                state.consecutive = state.consecutive.saturating_add(1);
                if self.trial {
                    state.trial = false;
                    state.open_until = Some(now + s.cool_down);
                    Some(Transition::Reopened)
                } else if state.open_until.is_none() && state.consecutive >= s.failures {
                    state.open_until = Some(now + s.cool_down);
                    Some(Transition::Opened(state.consecutive))
                } else {
                    None
                }
            }
            Verdict::Neutral => {
                if self.trial
                    && let Some(state) = states.get_mut(&s.key)
                {
                    state.trial = false;
                }
                None
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.trial {
            let mut states = self.circuits.lock();
            if let Some(state) = states.get_mut(&self.settings.key) {
                state.trial = false;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings(failures: u32) -> CircuitSettings {
        CircuitSettings {
            key: "REST-X\nhttps://api.example/x".to_owned(),
            failures,
            cool_down: Duration::from_secs(30),
        }
    }

    fn call(
        c: &Circuits,
        s: &CircuitSettings,
        verdict: Verdict,
        now: Instant,
    ) -> Option<Transition> {
        c.admit(s, now).unwrap().unwrap().finish(verdict, now)
    }

    #[test]
    fn closed_open_half_open_closed() {
        let c = Circuits::default();
        let s = settings(3);
        let t0 = Instant::now();
        assert_eq!(call(&c, &s, Verdict::Failure, t0), None);
        assert_eq!(call(&c, &s, Verdict::Failure, t0), None);
        // A success resets the count.
        assert_eq!(call(&c, &s, Verdict::Success, t0), None);
        assert_eq!(call(&c, &s, Verdict::Failure, t0), None);
        assert_eq!(call(&c, &s, Verdict::Failure, t0), None);
        assert_eq!(
            call(&c, &s, Verdict::Failure, t0),
            Some(Transition::Opened(3))
        );

        // Open: refused until the cool-down has passed.
        let refusal = c.admit(&s, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(refusal.consecutive_failures, 3);
        assert_eq!(refusal.retry_in, Duration::from_secs(20));

        // Half-open: one trial; others are refused meanwhile.
        let t1 = t0 + Duration::from_secs(30);
        let trial = c.admit(&s, t1).unwrap().unwrap();
        assert!(trial.is_trial());
        assert_eq!(c.admit(&s, t1).unwrap_err().retry_in, Duration::ZERO);
        assert_eq!(
            trial.finish(Verdict::Failure, t1),
            Some(Transition::Reopened)
        );
        assert!(c.admit(&s, t1 + Duration::from_secs(29)).is_err());

        let t2 = t1 + Duration::from_secs(30);
        let trial = c.admit(&s, t2).unwrap().unwrap();
        assert!(trial.is_trial());
        assert_eq!(trial.finish(Verdict::Success, t2), Some(Transition::Closed));
        let p = c.admit(&s, t2).unwrap().unwrap();
        assert!(!p.is_trial());
        assert_eq!(p.finish(Verdict::Success, t2), None);
        assert!(c.lock().is_empty(), "a healthy endpoint keeps no state");
    }

    #[test]
    fn a_cancelled_or_neutral_trial_frees_the_slot() {
        let c = Circuits::default();
        let s = settings(1);
        let t0 = Instant::now();
        assert_eq!(
            call(&c, &s, Verdict::Failure, t0),
            Some(Transition::Opened(1))
        );
        let t1 = t0 + Duration::from_secs(31);
        drop(c.admit(&s, t1).unwrap().unwrap());
        let trial = c.admit(&s, t1).unwrap().unwrap();
        assert!(trial.is_trial());
        assert_eq!(trial.finish(Verdict::Neutral, t1), None);
        assert!(c.admit(&s, t1).unwrap().unwrap().is_trial());
    }

    #[test]
    fn zero_failures_disables_and_endpoints_are_separate() {
        let c = Circuits::default();
        assert!(c.admit(&settings(0), Instant::now()).unwrap().is_none());
        let s = settings(1);
        let mut other = settings(1);
        other.key = "REST-Y\nhttps://api.example/x".to_owned();
        let t0 = Instant::now();
        call(&c, &s, Verdict::Failure, t0);
        assert!(c.admit(&s, t0).is_err());
        assert!(c.admit(&other, t0).is_ok());
    }

    #[test]
    fn only_transport_failures_and_5xx_count() {
        let failed = |reason| ExchangeOutcome::Failed {
            user_message: String::new(),
            reason,
        };
        for r in [
            FailureReason::Timeout,
            FailureReason::Dns,
            FailureReason::Connect,
            FailureReason::Status(500),
            FailureReason::Status(503),
        ] {
            assert_eq!(Verdict::of(&failed(r)), Verdict::Failure);
        }
        for r in [
            FailureReason::Status(400),
            FailureReason::Status(404),
            FailureReason::Status(429),
            FailureReason::MalformedResponse("x".into()),
            FailureReason::ActionNotAllowed,
        ] {
            assert_eq!(Verdict::of(&failed(r)), Verdict::Success);
        }
        let v = ExchangeOutcome::ValidationError {
            user_message: "no".into(),
            developer_message: None,
            code: None,
        };
        assert_eq!(Verdict::of(&v), Verdict::Success);
        assert_eq!(
            Verdict::of(&ExchangeOutcome::Block {
                user_message: "no".into()
            }),
            Verdict::Success
        );
    }
}
