//! Records tied to the metagraph and the chain: the node mirror, per-run `score_table` rows and
//! the weight-setting history, plus [`UidVector`], the 256-entry vector both tables store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::status::{ScoreRowStatus, WeightOutcome};
use crate::error::StoreError;

/// Number of UIDs on the subnet.
pub const UID_COUNT: usize = 256;

/// One value (or none) per UID 0…255, stored as a JSON array of 256 numbers or nulls.
///
/// Construction checks the length and that every value is finite, so a vector read back is
/// always well formed (reading a malformed one fails with a decode error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Option<f64>>", into = "Vec<Option<f64>>")]
pub struct UidVector(Vec<Option<f64>>);

impl UidVector {
    /// Check and wrap `values`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when there are not exactly 256 values or one is NaN/infinite.
    pub fn new(values: Vec<Option<f64>>) -> Result<Self, StoreError> {
        if values.len() != UID_COUNT {
            return Err(StoreError::InvalidInput {
                field: "UidVector",
                reason: format!("expected {UID_COUNT} values, got {}", values.len()),
            });
        }
        if let Some((uid, v)) = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.filter(|x| !x.is_finite()).map(|x| (i, x)))
        {
            return Err(StoreError::InvalidInput {
                field: "UidVector",
                reason: format!("value for UID {uid} is not finite ({v})"),
            });
        }
        Ok(Self(values))
    }

    /// A vector with no value for any UID.
    pub fn empty() -> Self {
        Self(vec![None; UID_COUNT])
    }

    /// The value of `uid`.
    pub fn get(&self, uid: u8) -> Option<f64> {
        self.0[usize::from(uid)]
    }

    /// Set the value of `uid`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `value` is not finite.
    pub fn set(&mut self, uid: u8, value: Option<f64>) -> Result<(), StoreError> {
        if let Some(v) = value.filter(|v| !v.is_finite()) {
            return Err(StoreError::InvalidInput {
                field: "UidVector",
                reason: format!("value for UID {uid} is not finite ({v})"),
            });
        }
        self.0[usize::from(uid)] = value;
        Ok(())
    }

    /// All 256 values, index = UID.
    pub fn as_slice(&self) -> &[Option<f64>] {
        &self.0
    }
}

impl TryFrom<Vec<Option<f64>>> for UidVector {
    type Error = StoreError;
    fn try_from(v: Vec<Option<f64>>) -> Result<Self, StoreError> {
        Self::new(v)
    }
}

impl From<UidVector> for Vec<Option<f64>> {
    fn from(v: UidVector) -> Self {
        v.0
    }
}

/// A row of `node_table`, the metagraph mirror (UID is the key).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeRecord {
    /// UID 0…255.
    #[sqlx(try_from = "i32")]
    pub uid: u8,
    /// Hotkey (SS58).
    pub hotkey: String,
    /// Coldkey (SS58).
    pub coldkey: String,
    /// Served IP (`""` when not serving).
    pub ip: String,
    /// Served port.
    #[sqlx(try_from = "i32")]
    pub port: u16,
    /// Stake.
    pub stake: f64,
    /// Incentive.
    pub incentive: f64,
    /// Trust.
    pub trust: f64,
    /// Validator trust.
    pub vtrust: f64,
    /// Whether the node holds a validator permit.
    pub validator_permit: bool,
    /// When this row was last synced.
    pub last_updated: DateTime<Utc>,
}

/// A row of `score_table`: one per run, one score per UID (`task_name`, `task_id` unique).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ScoreRow {
    /// Always `weather` for the weather task.
    pub task_name: String,
    /// e.g. `weather_scores_{run_id}_{YYYYmmddTHHMMZ}`.
    pub task_id: String,
    /// The run the row summarises (deleted with it).
    pub run_id: Option<i64>,
    /// Score per UID.
    #[sqlx(json)]
    pub scores: UidVector,
    /// The GFS init time of the run (not wall-clock time), as in the Python validator.
    pub created_at: DateTime<Utc>,
    /// Stage.
    #[sqlx(try_from = "String")]
    pub status: ScoreRowStatus,
}

/// One weight-setting attempt; `attempt_key` makes recording it idempotent.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WeightRecord {
    /// Unique key chosen by the caller (e.g. `weights-<block>`).
    pub attempt_key: String,
    /// When the attempt was made.
    pub created_at: DateTime<Utc>,
    /// Chain block of the attempt, when known.
    pub block: Option<i64>,
    /// The weight per UID that was (or would have been) set.
    #[sqlx(json)]
    pub weights: UidVector,
    /// What happened.
    #[sqlx(try_from = "String")]
    pub outcome: WeightOutcome,
    /// Extra detail (error text, extrinsic hash, …).
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_vector_checks_length_and_finiteness() {
        assert!(UidVector::new(vec![Some(1.0); 255]).is_err());
        let mut v = vec![None; 256];
        v[7] = Some(f64::NAN);
        let err = UidVector::new(v).unwrap_err().to_string();
        assert!(err.contains("UID 7"), "{err}");
        let mut ok = UidVector::empty();
        ok.set(255, Some(0.5)).unwrap();
        assert_eq!(ok.get(255), Some(0.5));
        assert!(ok.set(3, Some(f64::INFINITY)).is_err());
        let json = serde_json::to_string(&ok).unwrap();
        let back: UidVector = serde_json::from_str(&json).unwrap();
        assert_eq!(back, ok);
        assert!(serde_json::from_str::<UidVector>("[1.0, 2.0]").is_err());
    }
}
