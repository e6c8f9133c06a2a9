//! Claims transformation methods (`claimstransformations.md` and the per-family reference pages
//! such as `string-transformations.md`): the `TransformationMethod` attribute, parsed once at
//! load. An unknown method is a load error; the engine matches on this enum, never on strings.

use serde::{Deserialize, Serialize};

macro_rules! methods {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {
        /// A claims transformation method, by B2C's name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum TransformationMethod {
            $($(#[$doc])* $name),+
        }

        impl TransformationMethod {
            /// Every method, for "did you mean" and documentation.
            pub const ALL: &[Self] = &[$(Self::$name),+];

            /// B2C's spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name)),+
                }
            }

            /// Parses a method name without regard to case, as B2C does.
            pub fn parse(name: &str) -> Option<Self> {
                let name = name.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|m| m.as_str().eq_ignore_ascii_case(name))
            }
        }
    };
}

methods! {
    AddItemToStringCollection,
    AndClaims,
    AssertBooleanClaimIsEqualToValue,
    AssertDateTimeIsGreaterThan,
    AssertStringClaimsAreEqual,
    ChangeCase,
    CompareClaims,
    CompareClaimToValue,
    CopyClaim,
    CreateRandomString,
    CreateStringClaim,
    DoesClaimExist,
    FormatStringClaim,
    GenerateJson,
    GetClaimFromJson,
    GetCurrentDateTime,
    NotClaims,
    OrClaims,
    SetClaimsIfStringsMatch,
    StringCollectionContains,
    StringReplace,
    /// Ours: builds Graph's `identities` collection for API connectors (user flows).
    CreateIdentitiesCollection,
}

impl std::fmt::Display for TransformationMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_without_regard_to_case_and_refuses_unknown_names() {
        assert_eq!(
            TransformationMethod::parse("copyclaim"),
            Some(TransformationMethod::CopyClaim)
        );
        assert_eq!(
            TransformationMethod::parse("GetClaimFromJson").map(TransformationMethod::as_str),
            Some("GetClaimFromJson")
        );
        assert_eq!(TransformationMethod::parse("CopyClaims"), None);
    }
}
