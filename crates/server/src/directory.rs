//! The engine's directory over the store: local accounts with argon2id passwords.
//!
//! Hashing runs off the async runtime on a bounded number of blocking threads, so a burst of
//! sign-ins cannot starve the server; an unknown account is checked against a dummy hash so
//! that timing does not tell who has an account.

use std::sync::Arc;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;

use crate::audit::{AuditLog, Event};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use trustframe_engine::{
    CreateResult, Directory, DirectoryUser, EnvError, Identity, PasswordCheck,
};
use trustframe_policy::{ClaimTypeId, ClaimValues, ResolverContext};
use trustframe_store::{FailureCount, NewUser, Store, StoreError, ThrottleRule, User};

use crate::config::{LockoutConfig, PasswordConfig};

#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<String>,
    /// argon2's working memory (19 MiB by default), kept between verifications: allocating,
    /// zeroing and faulting in that much memory per sign-in costs a few milliseconds of CPU.
    /// At most one buffer per permit is ever in use.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    /// CPU seconds spent in argon2 (hashes and verifications), for `/metrics`: how much of the
    /// machine passwords take, and what a sign-in costs besides.
    pub cpu_seconds: Counter<f64, AtomicU64>,
}

/// The CPU time the calling thread has used so far.
fn thread_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Runs `f`, adding the CPU time it took to `counter`.
fn timed<T>(counter: &Counter<f64, AtomicU64>, f: impl FnOnce() -> T) -> T {
    let start = thread_cpu();
    let out = f();
    counter.inc_by(thread_cpu().saturating_sub(start).as_secs_f64());
    out
}

/// Checks `password` against a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a
/// reusable working memory. The parameters come from the stored hash, so hashes made under an
/// older configuration keep verifying.
fn verify_with_memory(password: &[u8], phc: &str, buffers: &Mutex<Vec<Vec<Block>>>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut memory = buffers
        .lock()
        .ok()
        .and_then(|mut b| b.pop())
        .unwrap_or_default();
    if memory.len() < params.block_count() {
        memory = vec![Block::default(); params.block_count()];
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = argon.hash_password_into_with_memory(
        password,
        salt,
        &mut out,
        &mut memory[..params.block_count()],
    );
    if let Ok(mut b) = buffers.lock() {
        b.push(memory);
    }
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

impl PasswordHasherPool {
    pub async fn new(config: &PasswordConfig) -> Result<Self, String> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| format!("passwords: {e}"))?;
        let permits = match config.max_concurrent_hashes {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let mut pool = Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy_hash: Arc::new(String::new()),
            buffers: Arc::new(Mutex::new(Vec::new())),
            cpu_seconds: Counter::default(),
        };
        let dummy = pool
            .hash("trustframe-dummy-password".into())
            .await
            .map_err(|e| e.to_string())?;
        pool.dummy_hash = Arc::new(dummy);
        Ok(pool)
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    pub async fn hash(&self, password: String) -> Result<String, EnvError> {
        let _permit = self.permits.acquire().await.map_err(EnvError::new)?;
        let params = self.params.clone();
        let span = tracing::Span::current();
        let cpu = self.cpu_seconds.clone();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            timed(&cpu, || {
                Self::argon2(params)
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
            })
        })
        .await
        .map_err(EnvError::new)?
        .map_err(EnvError::new)
    }

    /// Verifies in constant time; `None` checks against the dummy hash and returns `false`.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, EnvError> {
        let _permit = self.permits.acquire().await.map_err(EnvError::new)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let span = tracing::Span::current();
        let buffers = self.buffers.clone();
        let cpu = self.cpu_seconds.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            timed(&cpu, || {
                verify_with_memory(password.as_bytes(), &hash, &buffers)
            })
        })
        .await
        .map_err(EnvError::new)?;
        Ok(ok && known)
    }
}

/// The directory of one tenant.
pub struct StoreDirectory {
    pub store: Store,
    pub hasher: PasswordHasherPool,
    /// `contoso.onmicrosoft.com`: the issuer of local identities.
    pub domain: String,
    pub now: fn() -> i64,
    /// Revokes refresh tokens when a password changes.
    pub oidc: trustframe_oidc::OidcService,
    pub lockout: Lockout,
    /// Common passwords refused for new passwords (`[passwords] blocklist`); `None`: off.
    pub blocklist: Option<std::sync::Arc<crate::password_blocklist::PasswordBlocklist>>,
    pub audit: AuditLog,
}

/// Smart lockout's rules (`[lockout]`): per account and per client IP; `None` never locks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lockout {
    pub account: Option<ThrottleRule>,
    pub ip: Option<ThrottleRule>,
    /// The progressive delay before a failed sign-in is answered.
    pub delay: ProgressiveDelay,
}

/// Before the lockout, guessing an account's password gets slower: from its `after`th failure
/// in the window, each failed sign-in is answered `base_ms` later, doubling with each further failure, up to
/// `max_ms` (`[lockout] delay_after`, `delay_base_ms`, `delay_max_ms`). Only failures wait;
/// the delay holds no thread, and parallel guesses are bounded by the lockout.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgressiveDelay {
    pub after: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl ProgressiveDelay {
    /// The delay of the `failures`th failure in the window.
    pub fn for_failure(&self, failures: u32) -> std::time::Duration {
        if self.base_ms == 0 || self.after == 0 || failures < self.after {
            return std::time::Duration::ZERO;
        }
        let doublings = (failures - self.after).min(20);
        let ms = self.base_ms.saturating_mul(1 << doublings).min(self.max_ms);
        std::time::Duration::from_millis(ms)
    }
}

impl From<&LockoutConfig> for Lockout {
    fn from(c: &LockoutConfig) -> Self {
        let rule = |threshold: u32, window: u32| {
            (threshold > 0).then_some(ThrottleRule {
                threshold,
                window_seconds: i64::from(window),
                lockout_seconds: i64::from(c.duration_seconds),
                max_lockout_seconds: i64::from(c.max_duration_seconds),
            })
        };
        Self {
            account: rule(c.threshold, c.window_seconds),
            ip: rule(c.ip_threshold, c.ip_window_seconds),
            delay: ProgressiveDelay {
                after: c.delay_after,
                base_ms: c.delay_base_ms,
                max_ms: c.delay_max_ms,
            },
        }
    }
}

/// Why a password check failed, as the audit log and the log line name it.
#[derive(Clone, Copy)]
enum Failure {
    WrongPassword,
    NoSuchUser,
    Locked,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Self::WrongPassword => "wrong_password",
            Self::NoSuchUser => "no_such_user",
            Self::Locked => "locked",
        }
    }
}

impl StoreDirectory {
    /// A failed sign-in: an audit record and its log line (the object id, never the name
    /// typed or the password: a name typed for no account may be a password typed in the
    /// wrong field).
    async fn sign_in_failed(
        &self,
        object_id: Option<&str>,
        context: &ResolverContext,
        failure: Failure,
    ) -> Result<(), EnvError> {
        let event = Event {
            kind: "sign_in_failed",
            outcome: failure.as_str(),
            subject: object_id,
            detail: Value::Null,
        };
        self.audit
            .record(event, Some(context))
            .await
            .map_err(env_error)
    }

    /// Locks `subject` if its failures reached `rule`'s threshold; a lockout is logged and
    /// audited.
    async fn lock_if_reached(
        &self,
        subject: &str,
        scope: &str,
        rule: &ThrottleRule,
        object_id: Option<&str>,
        context: &ResolverContext,
    ) -> Result<(), EnvError> {
        let now = (self.now)();
        let locked = self
            .store
            .lock_sign_in(subject, rule, now)
            .await
            .map_err(env_error)?;
        if let Some(FailureCount::Locked { until, lockouts }) = locked {
            let detail = serde_json::json!({
                "scope": scope, "lockedUntil": until, "seconds": until - now, "lockouts": lockouts,
            });
            let event = Event {
                kind: "account_locked",
                outcome: "locked",
                subject: object_id,
                detail,
            };
            self.audit
                .record(event, Some(context))
                .await
                .map_err(env_error)?;
        }
        Ok(())
    }

    /// Seconds until the last of `subjects` is unlocked; `None` when none is locked.
    async fn locked_for(&self, subjects: &[&str]) -> Result<Option<i64>, EnvError> {
        let now = (self.now)();
        let until = self
            .store
            .sign_in_locked_until(subjects, now)
            .await
            .map_err(env_error)?;
        Ok(until.map(|u| u - now))
    }

    /// Counts an attempt against `subject` under `rule` (when there is one): its failures in
    /// the window, this one included.
    async fn count_attempt(
        &self,
        subject: &str,
        rule: Option<&ThrottleRule>,
    ) -> Result<Option<(u32, ThrottleRule)>, EnvError> {
        let Some(rule) = rule else {
            return Ok(None);
        };
        let failures = self
            .store
            .count_sign_in_attempt(subject, rule, (self.now)())
            .await
            .map_err(env_error)?;
        Ok(Some((failures, *rule)))
    }
}

fn env_error(e: StoreError) -> EnvError {
    EnvError::new(format!("directory: {e}"))
}

const REFRESH_TOKENS_VALID_FROM: &str = "refreshTokensValidFromDateTime";

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn to_directory_user(user: User) -> DirectoryUser {
    let identities: Vec<Identity> = user
        .identities
        .iter()
        .map(|i| Identity {
            sign_in_type: i.sign_in_type.clone(),
            issuer: i.issuer.clone(),
            issuer_assigned_id: i.issuer_assigned_id.clone(),
        })
        .collect();
    let mut attributes: ClaimValues = user
        .attributes
        .into_iter()
        .map(|(k, v)| (k.into(), v))
        .collect();
    // Graph's shape, for API connectors (`add-api-connector.md`).
    attributes.insert(
        "identities".into(),
        serde_json::to_value(&identities).unwrap_or(Value::Null),
    );
    // Graph's `refreshTokensValidFromDateTime`: the account's creation until a password change
    // moves it (the starter pack's token journey compares refresh tokens with it).
    if !attributes.contains_key(&ClaimTypeId::new(REFRESH_TOKENS_VALID_FROM)) {
        attributes.insert(
            REFRESH_TOKENS_VALID_FROM.into(),
            Value::String(rfc3339(user.created_at)),
        );
    }
    DirectoryUser {
        object_id: user.object_id,
        identities,
        attributes,
    }
}

fn to_map(claims: ClaimValues) -> serde_json::Map<String, Value> {
    claims
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

#[async_trait]
impl Directory for StoreDirectory {
    async fn read(&self, object_id: &str) -> Result<Option<DirectoryUser>, EnvError> {
        Ok(self
            .store
            .user(object_id)
            .await
            .map_err(env_error)?
            .map(to_directory_user))
    }

    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<DirectoryUser>, EnvError> {
        let user = self
            .store
            .user_by_identity(
                &identity.sign_in_type,
                &identity.issuer,
                &identity.issuer_assigned_id,
            )
            .await
            .map_err(env_error)?;
        Ok(user.map(to_directory_user))
    }

    /// Smart lockout first: while the account (by object id, or the lower-cased name when
    /// there is no such account, so unknown names lock alike) or the client IP is locked, the
    /// password is not checked at all. An attempt counts as a failure before the password is
    /// checked and is forgiven when it was right, so parallel guesses cannot overrun the
    /// threshold.
    async fn verify_password(
        &self,
        sign_in_name: &str,
        password: &str,
        context: &ResolverContext,
    ) -> Result<PasswordCheck, EnvError> {
        let user = self
            .store
            .user_by_identity("emailAddress", &self.domain, sign_in_name)
            .await
            .map_err(env_error)?;
        let object_id = user.as_ref().map(|u| u.object_id.clone());
        let account = match &object_id {
            Some(id) => format!("account:{id}"),
            None => format!("account:{}", sign_in_name.to_lowercase()),
        };
        let ip = format!("ip:{}", context.ip_address);
        let ip_rule = self
            .lockout
            .ip
            .as_ref()
            .filter(|_| !context.ip_address.is_empty());
        let account_rule = self.lockout.account.as_ref();
        let mut subjects = Vec::new();
        if account_rule.is_some() {
            subjects.push(account.as_str());
        }
        if ip_rule.is_some() {
            subjects.push(ip.as_str());
        }
        if let Some(retry_after_seconds) = self.locked_for(&subjects).await? {
            self.sign_in_failed(object_id.as_deref(), context, Failure::Locked)
                .await?;
            return Ok(PasswordCheck::Locked {
                retry_after_seconds,
            });
        }

        let counted = [
            (
                account.as_str(),
                "account",
                self.count_attempt(&account, account_rule).await?,
            ),
            (ip.as_str(), "ip", self.count_attempt(&ip, ip_rule).await?),
        ];
        let id = object_id.as_deref();
        // Beyond the threshold: guesses sent in parallel with the one that reached it.
        let over = counted
            .iter()
            .any(|(_, _, c)| c.is_some_and(|(n, rule)| n > rule.threshold));
        if over {
            for (subject, scope, c) in &counted {
                if let Some((_, rule)) = c {
                    self.lock_if_reached(subject, scope, rule, id, context)
                        .await?;
                }
            }
            self.sign_in_failed(id, context, Failure::Locked).await?;
            return Ok(PasswordCheck::Locked {
                retry_after_seconds: self.locked_for(&subjects).await?.unwrap_or(0),
            });
        }

        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = self.hasher.verify(password.to_owned(), hash).await?;
        let failure = match (user, ok) {
            (Some(user), true) => {
                if account_rule.is_some() {
                    self.store
                        .clear_sign_in_failures(&account)
                        .await
                        .map_err(env_error)?;
                }
                if ip_rule.is_some() {
                    self.store
                        .forgive_sign_in_attempt(&ip)
                        .await
                        .map_err(env_error)?;
                }
                let event = Event {
                    kind: "sign_in",
                    outcome: "success",
                    subject: Some(&user.object_id),
                    detail: Value::Null,
                };
                self.audit
                    .record(event, Some(context))
                    .await
                    .map_err(env_error)?;
                return Ok(PasswordCheck::Valid(to_directory_user(user)));
            }
            (Some(_), false) => Failure::WrongPassword,
            (None, _) => Failure::NoSuchUser,
        };
        self.sign_in_failed(id, context, failure).await?;
        for (subject, scope, c) in &counted {
            if let Some((failures, rule)) = c
                && *failures >= rule.threshold
            {
                self.lock_if_reached(subject, scope, rule, id, context)
                    .await?;
            }
        }
        // The account's failures only: users behind one NAT share an IP, and its own limit
        // is the lockout.
        let [(_, _, account_count), _] = counted;
        let delay = self
            .lockout
            .delay
            .for_failure(account_count.map_or(0, |(n, _)| n));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(match failure {
            Failure::NoSuchUser => PasswordCheck::NoSuchUser,
            _ => PasswordCheck::WrongPassword,
        })
    }

    fn refuse_new_password(&self, password: &str) -> Option<String> {
        self.blocklist
            .as_ref()
            .filter(|list| list.refuses(password))
            .map(|_| crate::password_blocklist::MESSAGE.to_owned())
    }

    async fn create(
        &self,
        identities: Vec<Identity>,
        password: Option<String>,
        attributes: ClaimValues,
    ) -> Result<CreateResult, EnvError> {
        let password_hash = match password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };
        let new = NewUser {
            object_id: uuid::Uuid::new_v4().to_string(),
            identities: identities
                .into_iter()
                .map(|i| trustframe_store::Identity {
                    sign_in_type: i.sign_in_type,
                    issuer: i.issuer,
                    issuer_assigned_id: i.issuer_assigned_id,
                })
                .collect(),
            password_hash,
            attributes: to_map(
                attributes
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .collect(),
            ),
            created_at: (self.now)(),
        };
        match self.store.create_user(&new).await {
            Ok(user) => Ok(CreateResult::Created(to_directory_user(user))),
            Err(StoreError::Conflict) => Ok(CreateResult::AlreadyExists),
            Err(e) => Err(env_error(e)),
        }
    }

    async fn write(&self, object_id: &str, attributes: ClaimValues) -> Result<(), EnvError> {
        self.store
            .update_user_attributes(object_id, &to_map(attributes))
            .await
            .map_err(env_error)
    }

    /// A new password (a reset) ends every SSO session and refresh token of the account
    /// (`add-password-reset-policy.md`): whoever knew the old one is signed out everywhere.
    async fn delete(&self, object_id: &str, context: &ResolverContext) -> Result<bool, EnvError> {
        let deleted = self.store.delete_user(object_id).await.map_err(env_error)?;
        if deleted {
            // With its identities, sessions and refresh tokens.
            let event = Event {
                kind: "account_deleted",
                outcome: "deleted",
                subject: Some(object_id),
                detail: Value::Null,
            };
            self.audit
                .record(event, Some(context))
                .await
                .map_err(env_error)?;
        }
        Ok(deleted)
    }

    async fn set_password(
        &self,
        object_id: &str,
        password: &str,
        context: &ResolverContext,
    ) -> Result<(), EnvError> {
        let hash = self.hasher.hash(password.to_owned()).await?;
        self.store
            .set_password_hash(object_id, &hash)
            .await
            .map_err(env_error)?;
        let mut valid_from = serde_json::Map::new();
        valid_from.insert(
            REFRESH_TOKENS_VALID_FROM.into(),
            Value::String(rfc3339((self.now)())),
        );
        self.store
            .update_user_attributes(object_id, &valid_from)
            .await
            .map_err(env_error)?;
        let sessions = self
            .store
            .delete_sessions_of_user(object_id)
            .await
            .map_err(env_error)?;
        let tokens = self
            .oidc
            .revoke_user_refresh_tokens(object_id)
            .await
            .map_err(|e| EnvError::new(format!("directory: {e}")))?;
        let event = Event {
            kind: "password_reset",
            outcome: "changed",
            subject: Some(object_id),
            detail: serde_json::json!({"sessionsEnded": sessions, "refreshTokensRevoked": tokens}),
        };
        self.audit
            .record(event, Some(context))
            .await
            .map_err(env_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_at_the_nth_failure_and_doubles_up_to_its_cap() {
        let d = ProgressiveDelay {
            after: 3,
            base_ms: 250,
            max_ms: 4000,
        };
        let ms = |n| d.for_failure(n).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(40)],
            [0, 0, 250, 500, 1000, 2000, 4000, 4000]
        );
        let off = ProgressiveDelay { base_ms: 0, ..d };
        assert_eq!(off.for_failure(9).as_millis(), 0);
    }
}
