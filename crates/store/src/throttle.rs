//! Smart lockout's counters: failed password checks per subject (an account or a client IP),
//! shared by every node on the same database, so a cluster locks an account as one server would.

use crate::{Store, StoreError, Timestamp};

/// How a subject's failures turn into a lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures within `window_seconds` that lock the subject.
    pub threshold: u32,
    pub window_seconds: i64,
    /// The first lockout; each further one (while the subject is remembered) doubles it.
    pub lockout_seconds: i64,
    /// The longest lockout, and how long after its last lockout a subject is remembered.
    pub max_lockout_seconds: i64,
}

impl ThrottleRule {
    /// The lockout after `earlier` lockouts: doubling from `lockout_seconds`, capped.
    pub fn lockout_after(&self, earlier: u32) -> i64 {
        let factor = 1_i64 << earlier.min(30);
        self.lockout_seconds
            .saturating_mul(factor)
            .min(self.max_lockout_seconds.max(self.lockout_seconds))
    }

    /// How long a subject's history is kept after `at`.
    fn memory(&self) -> i64 {
        self.window_seconds.saturating_add(self.max_lockout_seconds)
    }
}

/// What one more failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCount {
    /// Counted: `failures` within the current window.
    Counted { failures: u32 },
    /// This failure reached the threshold: locked until `until`, the subject's `lockouts`th
    /// lockout.
    Locked { until: Timestamp, lockouts: u32 },
}

fn narrow(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// The latest `locked_until` among `subjects` that is still in the future.
    pub async fn sign_in_locked_until(
        &self,
        subjects: &[&str],
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        if subjects.is_empty() {
            return Ok(None);
        }
        let placeholders: Vec<String> = (2..subjects.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT MAX(locked_until) FROM sign_in_throttle \
             WHERE locked_until > $1 AND subject IN ({})",
            placeholders.join(", ")
        );
        let until: Option<i64> = on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(&sql).bind(now);
            for s in subjects {
                query = query.bind(*s);
            }
            query.fetch_one(pool).await?
        });
        Ok(until)
    }

    /// Counts one failed password check of `subject`; locks it when the failures within the
    /// rule's window reach the threshold. Safe under concurrent calls from many nodes: each
    /// failure is counted once and a burst that crosses the threshold locks once.
    pub async fn record_sign_in_failure(
        &self,
        subject: &str,
        rule: &ThrottleRule,
        now: Timestamp,
    ) -> Result<FailureCount, StoreError> {
        let failures = self.count_sign_in_attempt(subject, rule, now).await?;
        if rule.threshold == 0 || failures < rule.threshold {
            return Ok(FailureCount::Counted { failures });
        }
        Ok(self
            .lock_sign_in(subject, rule, now)
            .await?
            .unwrap_or(FailureCount::Counted { failures }))
    }

    /// Counts an attempt of `subject` as a failure until it is proven right
    /// ([`Store::forgive_sign_in_attempt`], [`Store::clear_sign_in_failures`]); returns the
    /// failures in the current window, this one included. Counting before the password is
    /// checked keeps a burst of parallel guesses within the threshold.
    pub async fn count_sign_in_attempt(
        &self,
        subject: &str,
        rule: &ThrottleRule,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        // A forgotten row (expired) starts over; a window that has passed, or a lockout that has
        // ended, starts a new count. During a lockout the count goes on, so attempts that were
        // already under way when it began see that they are beyond the threshold.
        let count = "INSERT INTO sign_in_throttle \
                     (subject, failures, window_start, locked_until, lockouts, expires_at) \
                     VALUES ($1, 1, $2, 0, 0, $3) \
                     ON CONFLICT (subject) DO UPDATE SET \
                     failures = CASE WHEN sign_in_throttle.expires_at <= $2 \
                         OR sign_in_throttle.window_start <= $2 - $4 \
                         OR (sign_in_throttle.locked_until <= $2 \
                             AND sign_in_throttle.window_start < sign_in_throttle.locked_until) \
                         THEN 1 ELSE sign_in_throttle.failures + 1 END, \
                     window_start = CASE WHEN sign_in_throttle.expires_at <= $2 \
                         OR sign_in_throttle.window_start <= $2 - $4 \
                         OR (sign_in_throttle.locked_until <= $2 \
                             AND sign_in_throttle.window_start < sign_in_throttle.locked_until) \
                         THEN $2 ELSE sign_in_throttle.window_start END, \
                     lockouts = CASE WHEN sign_in_throttle.expires_at <= $2 THEN 0 \
                         ELSE sign_in_throttle.lockouts END, \
                     locked_until = CASE WHEN sign_in_throttle.expires_at <= $2 THEN 0 \
                         ELSE sign_in_throttle.locked_until END, \
                     expires_at = CASE WHEN sign_in_throttle.expires_at > $3 \
                         THEN sign_in_throttle.expires_at ELSE $3 END \
                     RETURNING failures";
        let failures: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(count)
                .bind(subject)
                .bind(now)
                .bind(now.saturating_add(rule.memory()))
                .bind(rule.window_seconds)
                .fetch_one(pool)
                .await?
        });
        Ok(narrow(failures))
    }

    /// An attempt counted by [`Store::count_sign_in_attempt`] was right after all.
    pub async fn forgive_sign_in_attempt(&self, subject: &str) -> Result<(), StoreError> {
        let sql = "UPDATE sign_in_throttle SET failures = failures - 1 \
                   WHERE subject = $1 AND failures > 0";
        on_pool!(self, |pool| {
            sqlx::query(sql).bind(subject).execute(pool).await?;
        });
        Ok(())
    }

    /// Locks `subject` if its failures have reached the threshold; `None` when they have not,
    /// or when a concurrent caller locked it first (one burst, one lockout).
    pub async fn lock_sign_in(
        &self,
        subject: &str,
        rule: &ThrottleRule,
        now: Timestamp,
    ) -> Result<Option<FailureCount>, StoreError> {
        if rule.threshold == 0 {
            return Ok(None);
        }
        let read = "SELECT lockouts FROM sign_in_throttle \
                    WHERE subject = $1 AND failures >= $2 AND locked_until <= $3";
        let earlier: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(read)
                .bind(subject)
                .bind(i64::from(rule.threshold))
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        let Some(earlier) = earlier else {
            return Ok(None);
        };
        let until = now.saturating_add(rule.lockout_after(narrow(earlier)));
        // Compare-and-swap on the lockout count, and never while locked: of callers crossing
        // the threshold together, one locks.
        let lock = "UPDATE sign_in_throttle SET locked_until = $2, lockouts = lockouts + 1, \
                    window_start = $6, expires_at = $3 \
                    WHERE subject = $1 AND failures >= $4 AND lockouts = $5 \
                    AND locked_until <= $6 RETURNING lockouts";
        let locked: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(lock)
                .bind(subject)
                .bind(until)
                .bind(until.saturating_add(rule.memory()))
                .bind(i64::from(rule.threshold))
                .bind(earlier)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        Ok(locked.map(|lockouts| FailureCount::Locked {
            until,
            lockouts: narrow(lockouts),
        }))
    }

    /// Counts one event of `subject` in a fixed window of `window_seconds` that begins with
    /// its first event; returns the events in the current window, this one included. Rate
    /// limits that never lock (verification codes sent per address and per client IP, codes
    /// checked per address) keep their counts here, beside smart lockout's, under their own
    /// subject prefixes (`code-sent:…`, `code-check:…`), and are purged with them.
    pub async fn count_event(
        &self,
        subject: &str,
        window_seconds: i64,
        now: Timestamp,
    ) -> Result<u32, StoreError> {
        let rule = ThrottleRule {
            threshold: 0,
            window_seconds: window_seconds.max(1),
            lockout_seconds: 0,
            max_lockout_seconds: 0,
        };
        self.count_sign_in_attempt(subject, &rule, now).await
    }

    /// An event counted by [`Store::count_event`] does not count after all.
    pub async fn forgive_event(&self, subject: &str) -> Result<(), StoreError> {
        self.forgive_sign_in_attempt(subject).await
    }

    /// Forgets `subject`'s failures and lockouts (a correct password).
    pub async fn clear_sign_in_failures(&self, subject: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM sign_in_throttle WHERE subject = $1";
        on_pool!(self, |pool| {
            sqlx::query(sql).bind(subject).execute(pool).await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::test_support::{TestDb, on_each_backend};

    const RULE: ThrottleRule = ThrottleRule {
        threshold: 3,
        window_seconds: 60,
        lockout_seconds: 10,
        max_lockout_seconds: 25,
    };

    #[test]
    fn lockouts_double_up_to_the_cap() {
        assert_eq!(RULE.lockout_after(0), 10);
        assert_eq!(RULE.lockout_after(1), 20);
        assert_eq!(RULE.lockout_after(2), 25);
        assert_eq!(RULE.lockout_after(u32::MAX), 25);
    }

    async fn failures_lock_then_grow_and_clear(db: TestDb) {
        let store = &db.store;
        let a = "account:u1";
        assert_eq!(store.sign_in_locked_until(&[a], 0).await.unwrap(), None);
        for n in 1..3 {
            assert_eq!(
                store.record_sign_in_failure(a, &RULE, 100).await.unwrap(),
                FailureCount::Counted { failures: n }
            );
        }
        assert_eq!(
            store.record_sign_in_failure(a, &RULE, 101).await.unwrap(),
            FailureCount::Locked {
                until: 111,
                lockouts: 1
            }
        );
        assert_eq!(
            store.sign_in_locked_until(&[a, "ip:1"], 105).await.unwrap(),
            Some(111)
        );
        assert_eq!(
            store.sign_in_locked_until(&["ip:1"], 105).await.unwrap(),
            None
        );
        // Attempts under way when the lockout began still count, beyond the threshold, and do
        // not lock again.
        assert_eq!(
            store.record_sign_in_failure(a, &RULE, 105).await.unwrap(),
            FailureCount::Counted { failures: 4 }
        );
        assert_eq!(store.lock_sign_in(a, &RULE, 105).await.unwrap(), None);
        assert_eq!(
            store.sign_in_locked_until(&[a], 105).await.unwrap(),
            Some(111)
        );
        assert_eq!(
            store.sign_in_locked_until(&[a], 111).await.unwrap(),
            None,
            "over"
        );

        // After the lockout the count starts again; the second lockout is twice as long.
        for _ in 0..2 {
            store.record_sign_in_failure(a, &RULE, 120).await.unwrap();
        }
        assert_eq!(
            store.record_sign_in_failure(a, &RULE, 120).await.unwrap(),
            FailureCount::Locked {
                until: 140,
                lockouts: 2
            }
        );

        // A window that has passed starts a new count.
        let b = "account:u2";
        store.record_sign_in_failure(b, &RULE, 0).await.unwrap();
        store.record_sign_in_failure(b, &RULE, 1).await.unwrap();
        assert_eq!(
            store.record_sign_in_failure(b, &RULE, 61).await.unwrap(),
            FailureCount::Counted { failures: 1 }
        );

        // A correct password forgets everything: the next lockout is the first again.
        store.clear_sign_in_failures(a).await.unwrap();
        for _ in 0..2 {
            store.record_sign_in_failure(a, &RULE, 200).await.unwrap();
        }
        assert_eq!(
            store.record_sign_in_failure(a, &RULE, 200).await.unwrap(),
            FailureCount::Locked {
                until: 210,
                lockouts: 1
            }
        );
        // Forgotten after the window and the longest lockout: a fresh start.
        assert_eq!(
            store
                .record_sign_in_failure(a, &RULE, 210 + 86)
                .await
                .unwrap(),
            FailureCount::Counted { failures: 1 }
        );
        assert!(store.purge_expired(10_000).await.unwrap() >= 2);
        assert_eq!(
            store
                .record_sign_in_failure(b, &RULE, 10_000)
                .await
                .unwrap(),
            FailureCount::Counted { failures: 1 }
        );
    }

    async fn a_forgiven_attempt_does_not_count(db: TestDb) {
        let store = &db.store;
        let ip = "ip:198.51.100.4";
        assert_eq!(store.count_sign_in_attempt(ip, &RULE, 0).await.unwrap(), 1);
        assert_eq!(store.count_sign_in_attempt(ip, &RULE, 0).await.unwrap(), 2);
        store.forgive_sign_in_attempt(ip).await.unwrap();
        assert_eq!(
            store.lock_sign_in(ip, &RULE, 0).await.unwrap(),
            None,
            "below the threshold"
        );
        assert_eq!(store.count_sign_in_attempt(ip, &RULE, 0).await.unwrap(), 2);
        assert_eq!(store.count_sign_in_attempt(ip, &RULE, 0).await.unwrap(), 3);
        assert_eq!(
            store.lock_sign_in(ip, &RULE, 0).await.unwrap(),
            Some(FailureCount::Locked {
                until: 10,
                lockouts: 1
            })
        );
        assert_eq!(
            store.lock_sign_in(ip, &RULE, 0).await.unwrap(),
            None,
            "once"
        );
        store.forgive_sign_in_attempt("ip:nobody").await.unwrap();
    }

    /// Two nodes failing at once: every failure counts, and the burst locks exactly once.
    async fn concurrent_failures_on_two_nodes_lock_once(db: TestDb) {
        let other = db.reopen().await;
        let rule = ThrottleRule {
            threshold: 10,
            ..RULE
        };
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    store
                        .record_sign_in_failure("ip:203.0.113.7", &rule, 500)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut locked = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), FailureCount::Locked { .. }) {
                locked += 1;
            }
        }
        assert_eq!(locked, 1);
        assert_eq!(
            other
                .sign_in_locked_until(&["ip:203.0.113.7"], 500)
                .await
                .unwrap(),
            Some(510)
        );
    }

    /// Rate limits that never lock: a fixed window from the first event, shared by every node,
    /// separate per subject, forgiven events not counted, and nothing ever locked.
    async fn events_count_in_a_fixed_window(db: TestDb) {
        let other = db.reopen().await;
        let mail = "code-sent:address:ann@example.com";
        for n in 1..=3 {
            let store = if n % 2 == 0 { &other } else { &db.store };
            assert_eq!(store.count_event(mail, 600, 1000).await.unwrap(), n);
        }
        assert_eq!(
            db.store
                .count_event("code-sent:ip:203.0.113.9", 600, 1000)
                .await
                .unwrap(),
            1,
            "another subject"
        );
        other.forgive_event(mail).await.unwrap();
        assert_eq!(db.store.count_event(mail, 600, 1599).await.unwrap(), 3);
        assert_eq!(
            db.store.count_event(mail, 600, 1600).await.unwrap(),
            1,
            "the window has passed"
        );
        assert_eq!(
            db.store.sign_in_locked_until(&[mail], 1600).await.unwrap(),
            None
        );
        // Parallel events on two nodes are each counted once.
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 {
                    db.store.clone()
                } else {
                    other.clone()
                };
                tokio::spawn(async move {
                    store
                        .count_event("code-check:address:bob@example.com", 600, 50)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=8).collect::<Vec<u32>>());
        assert!(db.store.purge_expired(100_000).await.unwrap() >= 3);
    }

    on_each_backend!(
        failures_lock_then_grow_and_clear,
        events_count_in_a_fixed_window,
        a_forgiven_attempt_does_not_count,
        concurrent_failures_on_two_nodes_lock_once
    );
}
