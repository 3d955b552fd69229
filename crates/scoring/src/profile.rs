//! The scoring profiles (spec §11): `production` reproduces the numbers of the Python validators
//! that make up the consensus, including two defects of their ERA5 code; `spec` is the same
//! without them. Everything else — Day-1, the aggregation, the weights and every rule of §12 — is
//! the same in both.
//!
//! | | `production` (default) | `spec` |
//! |---|---|---|
//! | pressure-level ERA5 skill vs climatology (§11-1) | 0.0 at every level, unless edge salvage changed the interpolated field at some level | computed |
//! | ERA5 extreme-value check `|x| > 1e12` (§11-2) | not applied: values of any size are scored | a verification failure |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which rules make a score (`WEATHER__SCORING_PROFILE`, `--profile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringProfile {
    /// The running Python validators' numbers, §11 items 1 and 2 included.
    #[default]
    Production,
    /// The formulas of the spec without those two defects.
    Spec,
}

impl ScoringProfile {
    /// The profile's name as configured and stored (`production`, `spec`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Spec => "spec",
        }
    }

    /// §11-1: pressure-level skill against climatology is 0.0 unless edge salvage changed the
    /// field.
    pub fn zeroes_unsalvaged_level_skill(self) -> bool {
        self == Self::Production
    }

    /// §11-2: whether the ERA5 extreme-value check applies.
    pub fn checks_extreme_values(self) -> bool {
        self == Self::Spec
    }
}

impl fmt::Display for ScoringProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is neither `production` nor `spec`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scoring profile `{0}` (expected `production` or `spec`)")]
pub struct UnknownProfile(pub String);

impl FromStr for ScoringProfile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "production" => Ok(Self::Production),
            "spec" => Ok(Self::Spec),
            _ => Err(UnknownProfile(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_and_production_is_the_default() {
        assert_eq!(ScoringProfile::default(), ScoringProfile::Production);
        for p in [ScoringProfile::Production, ScoringProfile::Spec] {
            assert_eq!(p.as_str().parse::<ScoringProfile>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert_eq!(" SPEC ".parse::<ScoringProfile>(), Ok(ScoringProfile::Spec));
        let e = "prod".parse::<ScoringProfile>().unwrap_err();
        assert!(e.to_string().contains("`prod`"), "{e}");
        assert!(ScoringProfile::Production.zeroes_unsalvaged_level_skill());
        assert!(!ScoringProfile::Production.checks_extreme_values());
        assert!(ScoringProfile::Spec.checks_extreme_values());
        assert!(!ScoringProfile::Spec.zeroes_unsalvaged_level_skill());
    }
}
