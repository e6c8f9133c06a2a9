//! Metadata of the one-time password technical profile
//! (`one-time-password-technical-profile.md`), with B2C's defaults, and of the mail profile that
//! sends the code; [`OtpSettings`], read once when the policy loads.

use crate::model::Metadata;

/// `GenerateCode` or `VerifyCode`.
pub const OPERATION: &str = "Operation";
pub const GENERATE_CODE: &str = "GenerateCode";
pub const VERIFY_CODE: &str = "VerifyCode";
/// How long a code is valid; B2C: 600 (60–1200).
pub const CODE_EXPIRATION_IN_SECONDS: &str = "CodeExpirationInSeconds";
pub const DEFAULT_CODE_EXPIRATION_IN_SECONDS: u32 = 600;
/// Digits in a code; B2C: 6 (4–10).
pub const CODE_LENGTH: &str = "CodeLength";
pub const DEFAULT_CODE_LENGTH: u32 = 6;
/// The characters of a code; B2C: `0-9`.
pub const CHARACTER_SET: &str = "CharacterSet";
/// Wrong tries before the code is void and a new one is needed; B2C: 5.
pub const NUM_RETRY_ATTEMPTS: &str = "NumRetryAttempts";
pub const DEFAULT_NUM_RETRY_ATTEMPTS: u32 = 5;
/// Codes one identifier may be sent in one journey; B2C: 10.
pub const NUM_CODE_GENERATION_ATTEMPTS: &str = "NumCodeGenerationAttempts";
pub const DEFAULT_NUM_CODE_GENERATION_ATTEMPTS: u32 = 10;

/// Messages a policy may override (B2C's `UserMessageIf…` metadata).
pub const MESSAGE_INVALID_CODE: &str = "UserMessageIfInvalidCode";
pub const MESSAGE_CODE_EXPIRED: &str = "UserMessageIfSessionDoesNotExist";
pub const MESSAGE_MAX_RETRY: &str = "UserMessageIfMaxRetryAttempted";
pub const MESSAGE_MAX_CODES: &str = "UserMessageIfMaxNumberOfCodeGenerated";

/// The mail profile's template: `VerificationCode` (the only one so far).
pub const TEMPLATE: &str = "Template";
pub const TEMPLATE_VERIFICATION_CODE: &str = "VerificationCode";

/// The sign-in page's "Forgot your password?" link: the claims exchange it selects (B2C's
/// self-service password reset). Without it the link returns `AADB2C90118` to the app.
pub const FORGOT_PASSWORD_LINK_OVERRIDE: &str = "setting.forgotPasswordLinkOverride";
/// `None` hides the link (B2C: `AfterLabel`, `AfterInput`, `AfterButtons` or `None`).
pub const FORGOT_PASSWORD_LINK_LOCATION: &str = "setting.forgotPasswordLinkLocation";

/// The settings of one OTP technical profile, read from its metadata with B2C's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpSettings {
    pub length: usize,
    pub lifetime_seconds: i64,
    pub retries: u32,
    pub max_codes: u32,
    pub character_set: Vec<char>,
}

impl Default for OtpSettings {
    fn default() -> Self {
        Self {
            length: DEFAULT_CODE_LENGTH as usize,
            lifetime_seconds: i64::from(DEFAULT_CODE_EXPIRATION_IN_SECONDS),
            retries: DEFAULT_NUM_RETRY_ATTEMPTS,
            max_codes: DEFAULT_NUM_CODE_GENERATION_ATTEMPTS,
            character_set: ('0'..='9').collect(),
        }
    }
}

impl OtpSettings {
    /// Reads the metadata; a value out of range is an error for the operator.
    pub fn from_metadata(m: &Metadata) -> Result<Self, String> {
        let mut s = Self::default();
        let number = |key: &str, min: u32, max: u32| -> Result<Option<u32>, String> {
            match m.get(key) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "{key} must be a whole number from {min} to {max}, not '{v}'"
                    )),
                },
            }
        };
        // B2C allows 60–1200 seconds; shorter lifetimes are accepted for tests.
        if let Some(n) = number(CODE_EXPIRATION_IN_SECONDS, 1, 1200)? {
            s.lifetime_seconds = i64::from(n);
        }
        if let Some(n) = number(CODE_LENGTH, 4, 10)? {
            s.length = n as usize;
        }
        if let Some(n) = number(NUM_RETRY_ATTEMPTS, 1, 10)? {
            s.retries = n;
        }
        if let Some(n) = number(NUM_CODE_GENERATION_ATTEMPTS, 1, 100)? {
            s.max_codes = n;
        }
        if let Some(set) = m.get(CHARACTER_SET) {
            s.character_set = character_set(set);
            if s.character_set.len() < 2 {
                return Err(format!(
                    "{} must name at least two characters, not '{set}'",
                    CHARACTER_SET
                ));
            }
        }
        Ok(s)
    }
}

/// `0-9`, `a-z0-9`: ranges and single characters.
fn character_set(spec: &str) -> Vec<char> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i] <= chars[i + 2] {
            out.extend(chars[i]..=chars[i + 2]);
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}
