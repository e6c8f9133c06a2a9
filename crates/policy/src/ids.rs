//! Identifiers of policy elements.
//!
//! B2C compares claim type, technical profile and policy ids without regard to case, so the
//! newtypes here keep the spelling they were written with (for display and for JSON keys) but
//! compare, order and hash on the lower-cased form.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! case_insensitive_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            fn folded(&self) -> impl Iterator<Item = char> + '_ {
                self.0.chars().flat_map(char::to_lowercase)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                // Claim ids are nearly always ASCII: compare bytes without folding them first.
                if self.0.is_ascii() && other.0.is_ascii() {
                    return self.0.eq_ignore_ascii_case(&other.0);
                }
                self.folded().eq(other.folded())
            }
        }

        impl Eq for $name {}

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                if self.0.is_ascii() && other.is_ascii() {
                    return self.0.eq_ignore_ascii_case(other);
                }
                self.folded().eq(other.chars().flat_map(char::to_lowercase))
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self == *other
            }
        }

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                // Must agree with `eq`: ASCII letters fold the same way in both paths.
                for c in self.folded() {
                    c.hash(state);
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> Ordering {
                // Every map lookup of the engine lands here: one pass over the common prefix,
                // deciding on its first ASCII difference. A non-ASCII byte before that falls
                // back to folding whole strings; an ASCII prefix folds one-to-one, so the
                // order is the folded order either way.
                let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
                for (&x, &y) in a.iter().zip(b) {
                    if x == y && x.is_ascii() {
                        continue;
                    }
                    if !x.is_ascii() || !y.is_ascii() {
                        return self.folded().cmp(other.folded());
                    }
                    let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
                    if x != y {
                        return x.cmp(&y);
                    }
                }
                a.len().cmp(&b.len())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self)
            }
        }
    };
}

case_insensitive_id!(
    /// A claim type id (`email`, `extension_loyaltyNumber`).
    ClaimTypeId
);
case_insensitive_id!(
    /// A technical profile id (`REST-ValidateAccessCode`).
    TechnicalProfileId
);
case_insensitive_id!(
    /// A policy id (`B2C_1_susi`, `B2C_1A_signup_signin`).
    PolicyId
);
case_insensitive_id!(
    /// A claims transformation id.
    ClaimsTransformationId
);
case_insensitive_id!(
    /// A user journey id.
    UserJourneyId
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn ids_compare_without_regard_to_case_but_keep_their_spelling() {
        let a = ClaimTypeId::new("extension_LoyaltyNumber");
        let b = ClaimTypeId::new("EXTENSION_loyaltynumber");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "extension_LoyaltyNumber");
        let mut map = BTreeMap::new();
        map.insert(a, 1);
        assert_eq!(map.get(&b), Some(&1));
        assert_ne!(ClaimTypeId::new("email"), ClaimTypeId::new("emails"));
        assert!(ClaimTypeId::new("Email") == "eMAIL");
        assert!(ClaimTypeId::new("Straße") == "STRAßE");
    }

    #[test]
    fn order_is_the_case_folded_order() {
        let ids = [
            "",
            "a",
            "A",
            "ab",
            "aB",
            "a_b",
            "a-b",
            "AAD-UserReadUsingObjectId",
            "aad-userread",
            "SelfAsserted-LocalAccountSignin-Email",
            "selfasserted-localaccountsignin-email",
            "émail",
            "Émail",
            "email",
            "emails",
            "ema\u{212A}e",
            "emake",
            "zz",
            "z\u{e9}",
            "Z",
        ];
        for x in ids {
            for y in ids {
                let (a, b) = (ClaimTypeId::new(x), ClaimTypeId::new(y));
                let folded = a.folded().cmp(b.folded());
                assert_eq!(a.cmp(&b), folded, "{x:?} vs {y:?}");
                assert_eq!(a == b, folded.is_eq(), "{x:?} == {y:?}");
            }
        }
    }
}
