//! `compare --control chain:<uid|hotkey>`: this validator's newest recorded weight vector
//! (shadow or submitted) against the control validator's `Weights` on the chain, over the same
//! UIDs. Both are u16 vectors max-normalised to 65535: ours is quantised exactly as fiber would
//! submit it (`gaia_scoring::weights::quantize_dense`), the chain's is what the runtime stored.
//! Shared by the command and the scheduled comparison.

use gaia_scoring::weights::quantize_dense;
use gaia_scoring::ScoringProfile;
use gaia_store::{Store, WeightOutcome, WeightRecord};

use super::control_chain::{read_control_weights, ChainControl};
use super::figures::{agreement, dense};
use super::report::{verdict, CompareReport, OurVector};
use super::verdict::{breaches, profile_note, Thresholds};
use crate::chain::online::OnlineChain;
use crate::chain::ChainError;
use crate::operator::weights::is_shadow;

/// How many recorded attempts are searched for the newest usable vector.
const SEARCHED_ATTEMPTS: u32 = 50;

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// `--control` is neither `chain:…` nor `db:…`.
    #[error("--control `{0}`: expected `chain:<uid or hotkey>` or `db:<postgres URL>`")]
    BadControl(String),
    /// We have no shadow or submitted vector yet.
    #[error(
        "no recorded weight vector (shadow or submitted) in the last {SEARCHED_ATTEMPTS} attempts \
         of {0}: run the validator with CHAIN__WEIGHTS_MODE=shadow first"
    )]
    NoVector(String),
    /// Our vector cannot be quantised.
    #[error("our recorded vector {key} cannot be quantised: {reason}")]
    Quantise {
        /// The attempt.
        key: String,
        /// Why.
        reason: String,
    },
    /// Reading the chain failed (the cause is in the message, not chained, so it prints once).
    #[error("reading the control's weights from the chain: {0}")]
    Chain(ChainError),
    /// Reading our database failed.
    #[error("reading our database: {0}")]
    Store(gaia_store::StoreError),
    /// Reading the control's database failed.
    #[error("control database: {0}")]
    ControlDb(String),
}

impl From<ChainError> for CompareError {
    fn from(e: ChainError) -> Self {
        CompareError::Chain(e)
    }
}

impl From<gaia_store::StoreError> for CompareError {
    fn from(e: gaia_store::StoreError) -> Self {
        CompareError::Store(e)
    }
}

/// The newest shadow or submitted vector of `store`.
pub async fn newest_vector(store: &Store) -> Result<WeightRecord, CompareError> {
    store
        .recent_weights(SEARCHED_ATTEMPTS)
        .await?
        .into_iter()
        .find(|r| r.outcome == WeightOutcome::Submitted || is_shadow(r))
        .ok_or_else(|| CompareError::NoVector(store.redacted_url().to_string()))
}

/// The u16 vector (index = UID) fiber would submit for `record`.
pub fn quantised(record: &WeightRecord) -> Result<Vec<u16>, CompareError> {
    let floats: Vec<f64> = record
        .weights
        .as_slice()
        .iter()
        .map(|w| w.unwrap_or(0.0))
        .collect();
    let q = quantize_dense(&floats).map_err(|e| CompareError::Quantise {
        key: record.attempt_key.clone(),
        reason: e.to_string(),
    })?;
    let pairs: Vec<(u16, u16)> = q.uids.into_iter().zip(q.values).collect();
    Ok(dense(&pairs))
}

/// What a comparison needs besides the two sides.
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// The go/no-go thresholds.
    pub thresholds: Thresholds,
    /// `k` of the top-k overlap.
    pub top_k: usize,
    /// Our scoring profile.
    pub our_profile: ScoringProfile,
    /// The control's scoring profile (a Python validator: `production`).
    pub control_profile: ScoringProfile,
}

/// Compare our newest vector with `control`'s weights on `chain` (subnet `netuid`).
pub async fn compare_with_chain(
    store: &Store,
    chain: &OnlineChain,
    netuid: u16,
    control: &str,
    options: &CompareOptions,
) -> Result<CompareReport, CompareError> {
    let record = newest_vector(store).await?;
    let ours = quantised(&record)?;
    let theirs = read_control_weights(chain, netuid, &ChainControl::parse(control)).await?;
    let a = agreement(&ours, &dense(&theirs.pairs), options.top_k);
    let b = breaches(&a, &options.thresholds);
    Ok(CompareReport {
        control: format!("chain:{control}"),
        control_detail: format!(
            "uid {} on netuid {netuid} at block {} ({} pairs)",
            theirs.uid,
            theirs.block,
            theirs.pairs.len()
        ),
        ours: Some(OurVector {
            attempt_key: record.attempt_key.clone(),
            created_at: record.created_at,
            shadow: is_shadow(&record),
        }),
        our_profile: options.our_profile.to_string(),
        agreement: a,
        thresholds: options.thresholds,
        verdict: verdict(&b, 0),
        breaches: b,
        runs: Vec::new(),
        runs_differing: 0,
        profile_note: profile_note(options.our_profile, options.control_profile),
    })
}
