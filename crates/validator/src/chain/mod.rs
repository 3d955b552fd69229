//! The chain layer the IO-Engine talks to: the metagraph (who is registered where) and setting
//! weights. [`Chain`] is the seam; [`offline::OfflineChain`] reads the metagraph from a file and
//! records weights without submitting them. The pieces of the subtensor client that work offline:
//! [`wallet`] (the hotkey from a Bittensor wallet file) and [`extrinsic`] (the bytes of a signed
//! `set_weights` extrinsic, commit-reveal and version-key refusals); see `docs/chain-client.md`.
//! [`online::OnlineChain`] talks to a subtensor node over JSON-RPC ([`rpc`], [`node`]) with storage
//! keys built by hand ([`storage`]) and checks the runtime's metadata before submitting
//! ([`metadata`]).

pub mod extrinsic;
pub mod metadata;
pub mod node;
pub mod offline;
pub mod online;
pub mod pool;
#[cfg(test)]
mod prop_tests;
pub mod rpc;
pub mod storage;
pub mod wallet;
mod ws;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// One registered node as the metagraph lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetagraphNode {
    /// UID in 0..256.
    pub uid: u8,
    /// SS58 hotkey.
    pub hotkey: String,
    /// SS58 coldkey.
    #[serde(default)]
    pub coldkey: String,
    /// Axon IP (dotted quad; `0.0.0.0` when not served).
    #[serde(default)]
    pub ip: String,
    /// Axon port.
    #[serde(default)]
    pub port: u16,
    /// Stake (TAO).
    #[serde(default)]
    pub stake: f64,
    /// Incentive.
    #[serde(default)]
    pub incentive: f64,
    /// Trust.
    #[serde(default)]
    pub trust: f64,
    /// Validator trust.
    #[serde(default)]
    pub vtrust: f64,
    /// Validator permit.
    #[serde(default)]
    pub validator_permit: bool,
}

impl MetagraphNode {
    /// The node-table record of this node, stamped `now`.
    pub fn to_record(&self, now: DateTime<Utc>) -> gaia_store::NodeRecord {
        gaia_store::NodeRecord {
            uid: self.uid,
            hotkey: self.hotkey.clone(),
            coldkey: self.coldkey.clone(),
            ip: self.ip.clone(),
            port: self.port,
            stake: self.stake,
            incentive: self.incentive,
            trust: self.trust,
            vtrust: self.vtrust,
            validator_permit: self.validator_permit,
            last_updated: now,
        }
    }
}

/// What a weight submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsReceipt {
    /// The block it was made at.
    pub block: u64,
    /// Whether it reached the chain (false for the offline chain).
    pub submitted: bool,
    /// Free text for the weight history.
    pub detail: String,
}

/// Chain failures.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The metagraph source could not be read.
    #[error("metagraph {source_name}: {reason}")]
    Metagraph {
        /// File or endpoint.
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The weight vector is unusable.
    #[error("set_weights refused: {0}")]
    BadWeights(String),
    /// The subnet has commit-reveal on: `set_weights` would fail with `CommitRevealEnabled`
    /// and the timelocked commit is not implemented (chain.md §3.2).
    #[error(
        "commit-reveal is enabled on netuid {netuid} (CommitRevealWeightsEnabled = true): \
         set_weights would be rejected; refusing to submit"
    )]
    CommitRevealEnabled {
        /// The subnet.
        netuid: u16,
    },
    /// Our `version_key` is below the chain's `WeightsVersionKey` (`IncorrectWeightVersionKey`).
    #[error("version_key {ours} is below the chain's WeightsVersionKey {chain}")]
    VersionKeyTooLow {
        /// What we would send.
        ours: u64,
        /// What the chain requires at least.
        chain: u64,
    },
    /// The validator hotkey could not be loaded.
    #[error(transparent)]
    Wallet(#[from] wallet::WalletError),
    /// A JSON-RPC call to the node failed.
    #[error("chain rpc: {0}")]
    Rpc(#[from] rpc::RpcError),
    /// The runtime metadata is unreadable or differs from what the client encodes.
    #[error(transparent)]
    Metadata(#[from] metadata::MetadataError),
    /// A storage value is not the expected SCALE type.
    #[error("chain storage: {0}")]
    Storage(#[from] storage::DecodeError),
    /// The online chain needs the validator hotkey (`CHAIN__HOTKEY_FILE`) for this.
    #[error("no validator hotkey configured (CHAIN__HOTKEY_FILE): cannot find our UID or sign")]
    NoHotkey,
    /// Our hotkey has no UID on the subnet (`Uids(netuid, hotkey)` absent).
    #[error("hotkey {hotkey} is not registered on netuid {netuid}")]
    NotRegistered {
        /// The subnet.
        netuid: u16,
        /// Our hotkey (SS58).
        hotkey: String,
    },
    /// The pool accepted our extrinsic but `LastUpdate` did not move in time: it was not
    /// included before its era ended, or it failed at dispatch.
    #[error(
        "extrinsic {extrinsic} was submitted but LastUpdate did not move within {waited_s} s: \
         not included (era expired) or failed at dispatch (e.g. SettingWeightsTooFast, \
         NeuronNoValidatorPermit); look the hash up in a block explorer"
    )]
    NotIncluded {
        /// Extrinsic hash (0x hex).
        extrinsic: String,
        /// Seconds waited.
        waited_s: u64,
    },
    /// Too few blocks since our last weight set (`WeightsSetRateLimit`); nothing was sent.
    #[error(
        "rate limited on netuid {netuid}: uid {uid} set weights {blocks_since} blocks ago, \
         WeightsSetRateLimit is {limit}; not submitting"
    )]
    RateLimited {
        /// The subnet.
        netuid: u16,
        /// Our UID.
        uid: u16,
        /// Head − LastUpdate[uid].
        blocks_since: u64,
        /// `WeightsSetRateLimit(netuid)`.
        limit: u64,
    },
    /// The database behind the chain layer failed.
    #[error(transparent)]
    Store(#[from] gaia_store::StoreError),
}

/// The chain as the validator needs it.
pub trait Chain: Send + Sync {
    /// Every registered node.
    fn metagraph(&self) -> BoxFuture<'_, Result<Vec<MetagraphNode>, ChainError>>;
    /// The current block number.
    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>>;
    /// `LastUpdate` of this validator (0 = never).
    fn last_update_block(&self) -> BoxFuture<'_, Result<u64, ChainError>>;
    /// Set weights: `uids` and their u16 `values` (as quantised for the extrinsic).
    fn set_weights<'a>(
        &'a self,
        uids: &'a [u16],
        values: &'a [u16],
    ) -> BoxFuture<'a, Result<WeightsReceipt, ChainError>>;

    /// UIDs of the active validators (spec §5.4: `ValidatorPermit` set and `LastUpdate` fewer
    /// than 500 blocks behind the head), read before every weight calculation; their weight is
    /// zeroed. The default (for chains without blocks, like the offline one) is none.
    fn active_validators(&self) -> BoxFuture<'_, Result<Vec<u16>, ChainError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// `CommitRevealWeightsEnabled(netuid)`: read before every submission and handed to
    /// [`extrinsic::require_commit_reveal_disabled`]. The default (for chains without the
    /// setting, like the offline one) is `false`.
    fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>> {
        Box::pin(async { Ok(false) })
    }
}
