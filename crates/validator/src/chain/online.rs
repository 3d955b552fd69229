//! The online chain: a subtensor node over JSON-RPC (chain.md §2.3, §3), without subxt.
//!
//! * **Metagraph**: at one pinned block (the best block's hash), `SubnetworkN(netuid)` (absent =
//!   no such subnet, an error, so a wrong netuid never empties `node_table`), then
//!   `Keys(netuid, uid)` for every UID, `Owner(hotkey)` and `Axons(netuid, hotkey)` for every
//!   hotkey and `ValidatorPermit(netuid)`, read in batches (`state_queryStorageAt`). Per-UID
//!   vectors are length-checked. Stake, incentive, trust and vtrust are not plain storage items
//!   in chain.md §2.3 (stake is computed with inheritance by the runtime API) and are left 0.
//! * **Weights**: before every submission, at the head block: own UID (`Uids`), then
//!   `CommitRevealWeightsEnabled` (absent = **true**, the storage default), `WeightsVersionKey`,
//!   `LastUpdate[uid]` and `WeightsSetRateLimit` (absent = 100); any refusal sends nothing. The
//!   extrinsic is built by [`super::extrinsic`] with the nonce (`system_accountNextIndex`), genesis
//!   hash, runtime versions and a 5-block mortal era on the head (fiber's), after the runtime's
//!   metadata passed [`metadata::check`] (once per `spec_version`), and submitted once
//!   with `author_submitExtrinsic`. HTTP has no subscriptions, so inclusion is confirmed (when
//!   [`Confirmation`] is set) by polling `LastUpdate[uid]` until it moves past its old value —
//!   the runtime sets it to the inclusion block on success — for the era's 8 blocks plus two;
//!   otherwise [`ChainError::NotIncluded`]. Submissions are serialised, so a second weights job
//!   started while the first waits sees the moved `LastUpdate` and is refused as rate limited.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use gaia_protocol::Signer;
use gaia_scoring::weights::{active_validator_uids, ACTIVE_VALIDATOR_BLOCKS};

use super::extrinsic::{
    require_commit_reveal_disabled, require_version_key, signed_extrinsic, CallIndex, Era,
    Implicit, SetWeightsCall, SignedExtra, FIBER_ERA_PERIOD,
};
use super::metadata;
use super::node::{Hash, Node};
use super::pool::name_pool_error;
pub use super::pool::Confirmation;
use super::rpc::{RpcClient, RpcOptions};
use super::storage::{
    axons_key, decode, decode_account, keys_key, netuid_item, owner_key, uids_key, AxonInfo,
};
use super::{Chain, ChainError, MetagraphNode, WeightsReceipt};

/// `WeightsSetRateLimit` when the key is absent (chain.md §1).
pub const DEFAULT_WEIGHTS_RATE_LIMIT: u64 = 100;
/// The `version_key` sent: Gaia 2.9.96's `__spec_version__` (chain.md §3.1).
pub const GAIA_VERSION_KEY: u64 = 2186;
/// UIDs the node table can hold (`MetagraphNode::uid` is a u8).
const MAX_UIDS: u16 = 256;

/// The weight-setting parameters read before a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightParams {
    /// Head block number.
    pub block: u64,
    /// Own UID.
    pub uid: u16,
    /// `CommitRevealWeightsEnabled(netuid)` (absent = true).
    pub commit_reveal: bool,
    /// `WeightsVersionKey(netuid)` (absent = 0).
    pub version_key: u64,
    /// `LastUpdate(netuid)[uid]` (0 = never).
    pub last_update: u64,
    /// `WeightsSetRateLimit(netuid)`.
    pub rate_limit: u64,
}

/// A subtensor node as the validator's [`Chain`].
pub struct OnlineChain {
    node: Node,
    netuid: u16,
    hotkey: Option<Signer>,
    version_key: u64,
    confirmation: Option<Confirmation>,
    /// One submission at a time: a second one waits, then sees the first's `LastUpdate`.
    submitting: tokio::sync::Mutex<()>,
    /// The `spec_version` whose metadata passed [`metadata::check`].
    checked_spec: std::sync::Mutex<Option<u32>>,
}

impl OnlineChain {
    /// A chain on `endpoint` (`wss://`/`ws://` are used as `https://`/`http://`) for `netuid`,
    /// signing with `hotkey` (without one, only the metagraph and the head can be read).
    pub fn new(
        endpoint: &str,
        options: RpcOptions,
        netuid: u16,
        hotkey: Option<Signer>,
    ) -> Result<OnlineChain, ChainError> {
        Ok(OnlineChain {
            node: Node::new(RpcClient::new(endpoint, options)?),
            netuid,
            hotkey,
            version_key: GAIA_VERSION_KEY,
            confirmation: None,
            submitting: tokio::sync::Mutex::new(()),
            checked_spec: std::sync::Mutex::new(None),
        })
    }

    /// Wait for inclusion after each submission (without: return once the pool accepted it).
    pub fn with_confirmation(mut self, confirmation: Confirmation) -> OnlineChain {
        self.confirmation = Some(confirmation);
        self
    }

    /// Send `version_key` instead of [`GAIA_VERSION_KEY`].
    pub fn with_version_key(mut self, version_key: u64) -> OnlineChain {
        self.version_key = version_key;
        self
    }

    /// The node.
    pub fn node(&self) -> &Node {
        &self.node
    }

    fn hotkey(&self) -> Result<&Signer, ChainError> {
        self.hotkey.as_ref().ok_or(ChainError::NoHotkey)
    }

    async fn item(&self, item: &str, at: Hash) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self
            .node
            .storage(&netuid_item(item, self.netuid), Some(at))
            .await?)
    }

    /// The metagraph at the best block.
    pub async fn read_metagraph(&self) -> Result<Vec<MetagraphNode>, ChainError> {
        let (block, at) = self.node.head().await?;
        let n: u16 = match self.item("SubnetworkN", at).await? {
            Some(raw) => decode("SubnetworkN", &raw)?,
            None => {
                return Err(ChainError::Metagraph {
                    source_name: self.node.url().to_string(),
                    reason: format!("SubnetworkN({}) is absent: no such subnet", self.netuid),
                })
            }
        };
        if n > MAX_UIDS {
            tracing::warn!(
                n,
                "subnet has more UIDs than the node table holds; reading 256"
            );
        }
        let uids: Vec<u16> = (0..n.min(MAX_UIDS)).collect();
        let key_list: Vec<Vec<u8>> = uids.iter().map(|u| keys_key(self.netuid, *u)).collect();
        let mut hotkeys = Vec::with_capacity(uids.len());
        for (uid, raw) in uids
            .iter()
            .zip(self.node.storage_many(&key_list, at).await?)
        {
            match raw {
                Some(raw) => hotkeys.push((*uid, decode_account("Keys", &raw)?)),
                None => tracing::warn!(uid, block, "Keys(netuid, uid) absent below SubnetworkN"),
            }
        }
        let mut detail_keys = Vec::with_capacity(hotkeys.len() * 2);
        for (_, hk) in &hotkeys {
            detail_keys.push(owner_key(hk));
            detail_keys.push(axons_key(self.netuid, hk));
        }
        let details = self.node.storage_many(&detail_keys, at).await?;
        let permits: Vec<bool> = match self.item("ValidatorPermit", at).await? {
            Some(raw) => decode("ValidatorPermit", &raw)?,
            None => Vec::new(),
        };
        let mut nodes = Vec::with_capacity(hotkeys.len());
        for ((uid, hk), pair) in hotkeys.iter().zip(details.chunks(2)) {
            let coldkey = match pair.first().cloned().flatten() {
                Some(raw) => ss58(&decode_account("Owner", &raw)?),
                None => String::new(),
            };
            let axon = match pair.get(1).cloned().flatten() {
                Some(raw) => AxonInfo::decode(&raw)?,
                None => AxonInfo::default(),
            };
            let Ok(uid8) = u8::try_from(*uid) else {
                continue;
            };
            nodes.push(MetagraphNode {
                uid: uid8,
                hotkey: ss58(hk),
                coldkey,
                ip: axon.ip_text(),
                port: axon.port,
                stake: 0.0,
                incentive: 0.0,
                trust: 0.0,
                vtrust: 0.0,
                validator_permit: permits.get(usize::from(*uid)).copied().unwrap_or(false),
            });
        }
        tracing::info!(
            block,
            nodes = nodes.len(),
            netuid = self.netuid,
            "metagraph read"
        );
        Ok(nodes)
    }

    /// Own UID at `at` (`Uids(netuid, hotkey)`), or [`ChainError::NotRegistered`].
    pub async fn own_uid(&self, at: Hash) -> Result<u16, ChainError> {
        let hotkey = self.hotkey()?;
        let key = uids_key(self.netuid, &hotkey.public_key());
        match self.node.storage(&key, Some(at)).await? {
            Some(raw) => Ok(decode("Uids", &raw)?),
            None => Err(ChainError::NotRegistered {
                netuid: self.netuid,
                hotkey: hotkey.ss58(),
            }),
        }
    }

    async fn last_updates(&self, at: Hash) -> Result<Vec<u64>, ChainError> {
        Ok(match self.item("LastUpdate", at).await? {
            Some(raw) => decode("LastUpdate", &raw)?,
            None => Vec::new(),
        })
    }

    /// The active validators at the head block (spec §5.4): permit set and `LastUpdate`
    /// fewer than [`ACTIVE_VALIDATOR_BLOCKS`] behind it.
    pub async fn active_validators_at_head(&self) -> Result<Vec<u16>, ChainError> {
        let (block, at) = self.node.head().await?;
        let permits: Vec<bool> = match self.item("ValidatorPermit", at).await? {
            Some(raw) => decode("ValidatorPermit", &raw)?,
            None => Vec::new(),
        };
        let last_update = self.last_updates(at).await?;
        Ok(active_validator_uids(
            &permits,
            &last_update,
            block,
            ACTIVE_VALIDATOR_BLOCKS,
        ))
    }

    async fn last_update_of(&self, uid: u16, at: Hash) -> Result<u64, ChainError> {
        let all = self.last_updates(at).await?;
        Ok(all.get(usize::from(uid)).copied().unwrap_or_else(|| {
            tracing::warn!(
                uid,
                len = all.len(),
                "LastUpdate shorter than own UID; taking 0"
            );
            0
        }))
    }

    /// `CommitRevealWeightsEnabled(netuid)` at `at`; absent = true (the storage default).
    pub async fn commit_reveal_at(&self, at: Hash) -> Result<bool, ChainError> {
        match self.item("CommitRevealWeightsEnabled", at).await? {
            Some(raw) => Ok(decode("CommitRevealWeightsEnabled", &raw)?),
            None => Ok(true),
        }
    }

    /// Everything a submission depends on, read at the head block.
    pub async fn weight_params(&self) -> Result<(WeightParams, Hash), ChainError> {
        let (block, at) = self.node.head().await?;
        let uid = self.own_uid(at).await?;
        let commit_reveal = self.commit_reveal_at(at).await?;
        let version_key = match self.item("WeightsVersionKey", at).await? {
            Some(raw) => decode("WeightsVersionKey", &raw)?,
            None => 0,
        };
        let rate_limit = match self.item("WeightsSetRateLimit", at).await? {
            Some(raw) => decode("WeightsSetRateLimit", &raw)?,
            None => DEFAULT_WEIGHTS_RATE_LIMIT,
        };
        let last_update = self.last_update_of(uid, at).await?;
        let params = WeightParams {
            block,
            uid,
            commit_reveal,
            version_key,
            last_update,
            rate_limit,
        };
        Ok((params, at))
    }

    /// Check, build, sign and submit `set_weights`; every refusal happens before anything is sent.
    pub async fn submit_weights(
        &self,
        uids: &[u16],
        values: &[u16],
    ) -> Result<WeightsReceipt, ChainError> {
        let signer = self.hotkey()?;
        let _one_at_a_time = self.submitting.lock().await;
        let call = SetWeightsCall::new(
            self.netuid,
            uids.to_vec(),
            values.to_vec(),
            self.version_key,
        )?;
        let (p, head_hash) = self.weight_params().await?;
        require_commit_reveal_disabled(self.netuid, p.commit_reveal)?;
        require_version_key(self.version_key, p.version_key)?;
        let since = p.block.saturating_sub(p.last_update);
        if p.last_update != 0 && since < p.rate_limit {
            return Err(ChainError::RateLimited {
                netuid: self.netuid,
                uid: p.uid,
                blocks_since: since,
                limit: p.rate_limit,
            });
        }
        let version = self.node.runtime_version(head_hash).await?;
        self.check_runtime(version.spec_version, head_hash).await?;
        let genesis_hash = self.node.block_hash(Some(0)).await?;
        let nonce = self.node.account_next_index(&signer.ss58()).await?;
        let era = Era::mortal(FIBER_ERA_PERIOD, p.block);
        let birth = era.birth(p.block);
        let birth_block_hash = if birth == p.block {
            head_hash
        } else {
            self.node.block_hash(Some(birth)).await?
        };
        let extra = SignedExtra {
            era,
            nonce,
            tip: 0,
            metadata_hash_enabled: false,
        };
        let implicit = Implicit {
            spec_version: version.spec_version,
            transaction_version: version.transaction_version,
            genesis_hash,
            birth_block_hash,
            metadata_hash: None,
        };
        let bytes = signed_extrinsic(
            signer,
            &call.encode(CallIndex::SUBTENSOR_SET_WEIGHTS),
            &extra,
            &implicit,
        );
        let submitted = self.node.submit_extrinsic(&bytes).await;
        let hash = format!("0x{}", hex::encode(submitted.map_err(name_pool_error)?));
        let mut detail = format!(
            "submitted {hash} at block {} (uid {}, nonce {nonce}, spec {}, era birth {birth}); {}",
            p.block,
            p.uid,
            version.spec_version,
            call.describe()
        );
        tracing::info!(%detail, "set_weights submitted");
        let mut block = p.block;
        if let Some(c) = self.confirmation {
            block = self.await_inclusion(p.uid, p.last_update, c, &hash).await?;
            detail = format!("included at block {block}: {detail}");
            tracing::info!(block, %hash, "set_weights included (LastUpdate moved)");
        }
        Ok(WeightsReceipt {
            block,
            submitted: true,
            detail,
        })
    }

    /// Check the metadata of runtime `spec_version` once (again after an upgrade).
    async fn check_runtime(&self, spec_version: u32, at: Hash) -> Result<(), ChainError> {
        let checked = *self.checked_spec.lock().unwrap_or_else(|p| p.into_inner());
        if checked == Some(spec_version) {
            return Ok(());
        }
        metadata::check(&metadata::parse(&self.node.metadata(at).await?)?)?;
        tracing::info!(
            spec_version,
            "runtime metadata matches set_weights (7, 0) and extensions"
        );
        *self.checked_spec.lock().unwrap_or_else(|p| p.into_inner()) = Some(spec_version);
        Ok(())
    }

    /// Poll `LastUpdate[uid]` until it is past `before` (the inclusion block), or give up.
    async fn await_inclusion(
        &self,
        uid: u16,
        before: u64,
        c: Confirmation,
        hash: &str,
    ) -> Result<u64, ChainError> {
        let started = Instant::now();
        loop {
            tokio::time::sleep(c.poll).await;
            let read = async {
                let (_, at) = self.node.head().await?;
                self.last_update_of(uid, at).await
            };
            match read.await {
                Ok(now) if now > before => return Ok(now),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, %hash, "inclusion check failed; retrying"),
            }
            if started.elapsed() >= c.max_wait {
                return Err(ChainError::NotIncluded {
                    extrinsic: hash.to_string(),
                    waited_s: started.elapsed().as_secs(),
                });
            }
        }
    }
}

fn ss58(account: &[u8; 32]) -> String {
    gaia_protocol::ss58::encode(account, 42)
}

impl Chain for OnlineChain {
    fn metagraph(&self) -> BoxFuture<'_, Result<Vec<MetagraphNode>, ChainError>> {
        self.read_metagraph().boxed()
    }

    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        async move { Ok(self.node.head().await?.0) }.boxed()
    }

    fn last_update_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        async move {
            let (_, at) = self.node.head().await?;
            let uid = self.own_uid(at).await?;
            self.last_update_of(uid, at).await
        }
        .boxed()
    }

    fn set_weights<'a>(
        &'a self,
        uids: &'a [u16],
        values: &'a [u16],
    ) -> BoxFuture<'a, Result<WeightsReceipt, ChainError>> {
        self.submit_weights(uids, values).boxed()
    }

    fn active_validators(&self) -> BoxFuture<'_, Result<Vec<u16>, ChainError>> {
        self.active_validators_at_head().boxed()
    }

    fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>> {
        async move {
            let (_, at) = self.node.head().await?;
            self.commit_reveal_at(at).await
        }
        .boxed()
    }
}
