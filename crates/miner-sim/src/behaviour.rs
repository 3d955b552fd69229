//! What a simulated miner does: honest with a skill, or one of the failure modes the validator
//! must handle (spec §1.4, §2.2–2.3, §4.3). Parsed from and printed as short strings
//! (`honest:0.8`, `slow:3`, `lying_hash`, ...).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SimError;

/// Polls a `slow` miner answers `processing` to when no count is given.
pub const DEFAULT_SLOW_POLLS: u32 = 3;

/// A simulated miner's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// Truth plus noise and phase error scaled by `1 − skill` (skill in [0, 1]).
    Honest {
        /// 1 = perfect forecast, 0 = large errors.
        skill: f64,
    },
    /// Honest (skill 0.7) but answers `processing` to the first `polls` status polls.
    Slow {
        /// Number of polls answered `processing`.
        polls: u32,
    },
    /// Nothing listens on its port: connections are refused.
    Offline,
    /// Serves the GFS 00Z reference forecast as its own.
    GfsCloner,
    /// A correct, signed manifest, but reports a verification hash that does not match it.
    LyingHash,
    /// Rewrites one chunk (`2t` at lead 12 h) after its manifest was first fetched.
    ChunkSwapper,
    /// Honest values with interior NaN holes (~15 % of points) in every field.
    NanInjector,
    /// Honest values but `2t`/`t` in °C (`degC`) and `msl` in hPa.
    WrongUnits,
    /// Honest, in the reference store layout (one chunk per level, `pressure_level`) instead of
    /// the production one.
    ReferenceLayout {
        /// 1 = perfect forecast, 0 = large errors.
        skill: f64,
    },
    /// Honest (skill 0.7), but like production miners answers 429 `Rate limit exceeded` (with
    /// `Retry-After`) to any request beyond `per_minute` in the last 60 s, on every path.
    RateLimited {
        /// Requests allowed per sliding minute (production: 500).
        per_minute: u32,
    },
    /// Honest (skill 0.7), but every store read waits `delay_ms` first (a busy miner).
    SlowStore {
        /// Milliseconds before each `/forecasts/` answer.
        delay_ms: u64,
    },
}

impl Behaviour {
    /// The short name (`honest`, `slow`, `offline`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Behaviour::Honest { .. } => "honest",
            Behaviour::Slow { .. } => "slow",
            Behaviour::Offline => "offline",
            Behaviour::GfsCloner => "gfs_cloner",
            Behaviour::LyingHash => "lying_hash",
            Behaviour::ChunkSwapper => "chunk_swapper",
            Behaviour::NanInjector => "nan_injector",
            Behaviour::WrongUnits => "wrong_units",
            Behaviour::ReferenceLayout { .. } => "reference_layout",
            Behaviour::RateLimited { .. } => "rate_limited",
            Behaviour::SlowStore { .. } => "slow_store",
        }
    }

    /// The store layout this miner writes: production's for the honest kinds, the reference
    /// layout for `reference_layout` and the failure modes (whose defects are per level chunk).
    pub fn layout(&self) -> crate::world::stores::StoreLayout {
        use crate::world::stores::StoreLayout;
        match self {
            Behaviour::Honest { .. }
            | Behaviour::Slow { .. }
            | Behaviour::RateLimited { .. }
            | Behaviour::SlowStore { .. } => StoreLayout::Production,
            _ => StoreLayout::Reference,
        }
    }

    /// Requests allowed per sliding minute, if this miner rate-limits.
    pub fn rate_limit_per_minute(&self) -> Option<u32> {
        match self {
            Behaviour::RateLimited { per_minute } => Some(*per_minute),
            _ => None,
        }
    }

    /// The wait before each store read, if this miner is slow to serve.
    pub fn store_delay(&self) -> Option<std::time::Duration> {
        match self {
            Behaviour::SlowStore { delay_ms } => Some(std::time::Duration::from_millis(*delay_ms)),
            _ => None,
        }
    }

    /// The forecast skill behind the values this miner serves (the cloner's is the GFS error).
    pub fn skill(&self) -> f64 {
        match self {
            Behaviour::Honest { skill } | Behaviour::ReferenceLayout { skill } => *skill,
            _ => 0.7,
        }
    }

    /// Polls answered `processing` before `completed`.
    pub fn processing_polls(&self) -> u32 {
        match self {
            Behaviour::Slow { polls } => *polls,
            _ => 0,
        }
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Behaviour::Honest { skill } => write!(f, "honest:{skill}"),
            Behaviour::Slow { polls } => write!(f, "slow:{polls}"),
            Behaviour::ReferenceLayout { skill } => write!(f, "reference_layout:{skill}"),
            Behaviour::RateLimited { per_minute } => write!(f, "rate_limited:{per_minute}"),
            Behaviour::SlowStore { delay_ms } => write!(f, "slow_store:{delay_ms}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Behaviour {
    type Err = SimError;

    fn from_str(s: &str) -> Result<Self, SimError> {
        let bad = || SimError::UnknownBehaviour(s.to_owned());
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let b = match (name, arg) {
            ("honest", None) => Behaviour::Honest { skill: 0.8 },
            ("honest", Some(a)) => {
                let skill: f64 = a.parse().map_err(|_| bad())?;
                if !(0.0..=1.0).contains(&skill) {
                    return Err(bad());
                }
                Behaviour::Honest { skill }
            }
            ("slow", None) => Behaviour::Slow {
                polls: DEFAULT_SLOW_POLLS,
            },
            ("slow", Some(a)) => Behaviour::Slow {
                polls: a.parse().map_err(|_| bad())?,
            },
            ("offline", None) => Behaviour::Offline,
            ("gfs_cloner", None) => Behaviour::GfsCloner,
            ("lying_hash", None) => Behaviour::LyingHash,
            ("chunk_swapper", None) => Behaviour::ChunkSwapper,
            ("nan_injector", None) => Behaviour::NanInjector,
            ("wrong_units", None) => Behaviour::WrongUnits,
            ("reference_layout", Some(a)) => {
                let skill: f64 = a.parse().map_err(|_| bad())?;
                if !(0.0..=1.0).contains(&skill) {
                    return Err(bad());
                }
                Behaviour::ReferenceLayout { skill }
            }
            ("rate_limited", a) => Behaviour::RateLimited {
                per_minute: a.map_or(Ok(500), str::parse).map_err(|_| bad())?,
            },
            ("slow_store", a) => Behaviour::SlowStore {
                delay_ms: a.map_or(Ok(500), str::parse).map_err(|_| bad())?,
            },
            _ => return Err(bad()),
        };
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in [
            "honest:0.9",
            "slow:2",
            "offline",
            "gfs_cloner",
            "lying_hash",
            "chunk_swapper",
            "nan_injector",
            "wrong_units",
            "reference_layout:0.6",
            "rate_limited:120",
            "slow_store:50",
        ] {
            let b: Behaviour = s.parse().unwrap();
            assert_eq!(b.to_string(), s);
        }
        assert_eq!(
            "honest".parse::<Behaviour>().unwrap(),
            Behaviour::Honest { skill: 0.8 }
        );
        assert_eq!(
            "slow".parse::<Behaviour>().unwrap().processing_polls(),
            DEFAULT_SLOW_POLLS
        );
        for bad in ["honest:2", "honest:x", "slow:-1", "offline:1", "dragon", ""] {
            assert!(
                matches!(bad.parse::<Behaviour>(), Err(SimError::UnknownBehaviour(_))),
                "{bad}"
            );
        }
        let json = serde_json::to_string(&Behaviour::Honest { skill: 0.5 }).unwrap();
        assert_eq!(json, r#"{"kind":"honest","skill":0.5}"#);
        assert_eq!(Behaviour::GfsCloner.skill(), 0.7);
    }
}
