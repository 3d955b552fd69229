//! The bytes of a `SubtensorModule.set_weights` extrinsic, built offline (chain.md §3.3, §5.2-5.3).
//!
//! * [`SetWeightsCall::encode`]: the SCALE call — pallet index, call index, then
//!   `netuid: u16`, `dests: Vec<u16>`, `weights: Vec<u16>`, `version_key: u64` in declaration order.
//!   chain.md gives the call index (**0**) but not the pallet index; the subtensor runtime's
//!   `construct_runtime!` declares `SubtensorModule = 7`, so [`CallIndex::SUBTENSOR_SET_WEIGHTS`]
//!   is `(7, 0)`. The online client must still take both from the live metadata and refuse to
//!   submit when they differ.
//! * [`SignedExtra`] / [`Implicit`]: the transaction extensions of the subtensor runtime
//!   (chain.md §5.3): explicit bytes are era ‖ compact nonce ‖ compact tip
//!   (`ChargeTransactionPaymentWrapper`) ‖ `CheckMetadataHash` mode; implicit bytes are
//!   spec version ‖ transaction version ‖ genesis hash ‖ era birth-block hash ‖ metadata hash
//!   (`Option`, `None`). The zero-sized extensions (`CheckNonZeroSender`, `CheckWeight`,
//!   `SudoTransactionExtension`, `CheckShieldedTxValidity`, `SubtensorTransactionExtension`,
//!   `DrandPriority`) add no bytes.
//! * [`signing_payload`] and [`signed_extrinsic`]: the v4 signed extrinsic
//!   `compact(len) ‖ 0x84 ‖ MultiAddress::Id ‖ MultiSignature::Sr25519 ‖ extra ‖ call`, signed by
//!   the hotkey over `call ‖ extra ‖ implicit` (its blake2-256 when longer than 256 bytes).
//!
//! What needs the network — nonce, genesis and block hashes, spec/transaction versions, the
//! metadata's extension list — is an input here; `docs/chain-client.md` lists it.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use gaia_protocol::Signer;
use parity_scale_codec::{Compact, Decode, Encode};

use super::ChainError;

/// Extrinsic format version 4, signed bit set.
const SIGNED_V4: u8 = 0x84;
/// `MultiAddress::Id`.
const MULTI_ADDRESS_ID: u8 = 0x00;
/// `MultiSignature::Sr25519`.
const MULTI_SIGNATURE_SR25519: u8 = 0x01;
/// Mortality fiber uses for weight sets (chain.md §3.2): 5 blocks, rounded up to 8 by the era.
pub const FIBER_ERA_PERIOD: u64 = 5;

/// Pallet and call index of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallIndex {
    /// Index of the pallet in the runtime.
    pub pallet: u8,
    /// Index of the call in the pallet.
    pub call: u8,
}

impl CallIndex {
    /// `SubtensorModule.set_weights` at the reference subtensor revision: pallet 7
    /// (`construct_runtime!`), call 0 (chain.md §3.3). Confirm against live metadata.
    pub const SUBTENSOR_SET_WEIGHTS: CallIndex = CallIndex { pallet: 7, call: 0 };
}

/// `SubtensorModule.set_weights { netuid, dests, weights, version_key }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetWeightsCall {
    /// Subnet (57 finney, 237 test).
    pub netuid: u16,
    /// UIDs.
    pub dests: Vec<u16>,
    /// u16 weights, same length as `dests`.
    pub weights: Vec<u16>,
    /// Must be ≥ the chain's `WeightsVersionKey` (or that key must be 0).
    pub version_key: u64,
}

impl SetWeightsCall {
    /// A call; refuses vectors of different lengths (the runtime's `WeightVecNotEqualSize`) and
    /// duplicate UIDs (`DuplicateUids`).
    pub fn new(
        netuid: u16,
        dests: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    ) -> Result<Self, ChainError> {
        if dests.len() != weights.len() {
            return Err(ChainError::BadWeights(format!(
                "{} uids but {} weights",
                dests.len(),
                weights.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = dests.iter().find(|u| !seen.insert(**u)) {
            return Err(ChainError::BadWeights(format!("uid {dup} appears twice")));
        }
        Ok(Self {
            netuid,
            dests,
            weights,
            version_key,
        })
    }

    /// The SCALE-encoded call: `pallet ‖ call ‖ u16 ‖ Vec<u16> ‖ Vec<u16> ‖ u64`.
    pub fn encode(&self, index: CallIndex) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 2 + 10 + 4 * self.dests.len() + 8);
        out.push(index.pallet);
        out.push(index.call);
        self.netuid.encode_to(&mut out);
        self.dests.encode_to(&mut out);
        self.weights.encode_to(&mut out);
        self.version_key.encode_to(&mut out);
        out
    }

    /// One-line description for logs (what shadow mode prints).
    pub fn describe(&self) -> String {
        format!(
            "SubtensorModule.set_weights(netuid={}, dests={:?}, weights={:?}, version_key={})",
            self.netuid, self.dests, self.weights, self.version_key
        )
    }
}

/// Gaia's `__spec_version__` formula, `1000·major + 10·minor + patch` (chain.md §3.1): 2.9.96 →
/// 2186.
pub fn gaia_version_key(major: u64, minor: u64, patch: u64) -> u64 {
    1000 * major + 10 * minor + patch
}

/// Refuse to build weights when the subnet has commit-reveal on: the runtime answers
/// `CommitRevealEnabled` to `set_weights`, and the timelocked commit is not implemented
/// (chain.md §3.2-3.3). `enabled` is `CommitRevealWeightsEnabled(netuid)` as read from the chain.
pub fn require_commit_reveal_disabled(netuid: u16, enabled: bool) -> Result<(), ChainError> {
    if enabled {
        Err(ChainError::CommitRevealEnabled { netuid })
    } else {
        Ok(())
    }
}

/// Refuse a `version_key` the runtime would reject with `IncorrectWeightVersionKey`: accepted iff
/// the chain's `WeightsVersionKey` is 0 or ours is at least that (chain.md §3.3).
pub fn require_version_key(ours: u64, chain: u64) -> Result<(), ChainError> {
    if chain == 0 || ours >= chain {
        Ok(())
    } else {
        Err(ChainError::VersionKeyTooLow { ours, chain })
    }
}

/// Transaction mortality (`sp_runtime::generic::Era`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Valid forever (birth block = genesis).
    Immortal,
    /// Valid for `period` blocks (a power of two in 4..=65536) from the block whose number is
    /// congruent to `phase` modulo `period`.
    Mortal {
        /// Validity length.
        period: u64,
        /// Birth block number modulo `period` (quantised).
        phase: u64,
    },
}

impl Era {
    /// A mortal era of (at least) `period` blocks starting at block `current`, as Substrate's
    /// `Era::mortal` computes it: the period is rounded up to a power of two and clamped to
    /// 4..=65536.
    pub fn mortal(period: u64, current: u64) -> Era {
        let period = period
            .checked_next_power_of_two()
            .unwrap_or(1 << 16)
            .clamp(4, 1 << 16);
        let phase = current % period;
        let quantize_factor = (period >> 12).max(1);
        Era::Mortal {
            period,
            phase: phase / quantize_factor * quantize_factor,
        }
    }

    /// The first block this era is valid in, given a block `current` inside it.
    pub fn birth(&self, current: u64) -> u64 {
        match *self {
            Era::Immortal => 0,
            Era::Mortal { period, phase } => {
                let base = current.max(phase) - phase;
                base / period * period + phase
            }
        }
    }

    /// SCALE bytes: `0x00` for immortal, two bytes for mortal.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Era::Immortal => vec![0],
            Era::Mortal { period, phase } => {
                let quantize_factor = (period >> 12).max(1);
                let low = (period.trailing_zeros().saturating_sub(1)).clamp(1, 15) as u16;
                let encoded = low | (((phase / quantize_factor) as u16) << 4);
                encoded.to_le_bytes().to_vec()
            }
        }
    }
}

/// The explicit (signed, sent) transaction-extension values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedExtra {
    /// `CheckMortality`.
    pub era: Era,
    /// `CheckNonce`: the hotkey account's next nonce (`system_accountNextIndex`).
    pub nonce: u32,
    /// `ChargeTransactionPaymentWrapper`: tip in rao (0; `set_weights` is `Pays::No`).
    pub tip: u64,
    /// `CheckMetadataHash`: false = mode `Disabled` (0), true = `Enabled` (1).
    pub metadata_hash_enabled: bool,
}

impl SignedExtra {
    /// SCALE bytes in extension order: era ‖ compact nonce ‖ compact tip ‖ mode.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.era.encode();
        Compact(self.nonce).encode_to(&mut out);
        Compact(self.tip).encode_to(&mut out);
        out.push(u8::from(self.metadata_hash_enabled));
        out
    }
}

/// The implicit (signed, not sent) transaction-extension data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Implicit {
    /// `CheckSpecVersion`: runtime `spec_version`.
    pub spec_version: u32,
    /// `CheckTxVersion`: runtime `transaction_version`.
    pub transaction_version: u32,
    /// `CheckGenesis`: genesis block hash.
    pub genesis_hash: [u8; 32],
    /// `CheckMortality`: hash of the era's birth block (the genesis hash when immortal).
    pub birth_block_hash: [u8; 32],
    /// `CheckMetadataHash`: the metadata hash when enabled.
    pub metadata_hash: Option<[u8; 32]>,
}

impl Implicit {
    /// SCALE bytes in extension order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 + 32 + 32 + 33);
        self.spec_version.encode_to(&mut out);
        self.transaction_version.encode_to(&mut out);
        out.extend_from_slice(&self.genesis_hash);
        out.extend_from_slice(&self.birth_block_hash);
        self.metadata_hash.encode_to(&mut out);
        out
    }
}

/// blake2b-256.
fn blake2_256(data: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(data).into()
}

/// What the hotkey signs: `call ‖ extra ‖ implicit`, or its blake2-256 when over 256 bytes.
pub fn signing_payload(call: &[u8], extra: &SignedExtra, implicit: &Implicit) -> Vec<u8> {
    let mut payload = call.to_vec();
    payload.extend(extra.encode());
    payload.extend(implicit.encode());
    if payload.len() > 256 {
        blake2_256(&payload).to_vec()
    } else {
        payload
    }
}

/// Assemble a v4 signed extrinsic from its parts (length-prefixed, ready for
/// `author_submitExtrinsic`).
pub fn assemble_signed(
    public_key: &[u8; 32],
    signature: &[u8; 64],
    extra: &SignedExtra,
    call: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(1 + 33 + 65 + 8 + call.len());
    body.push(SIGNED_V4);
    body.push(MULTI_ADDRESS_ID);
    body.extend_from_slice(public_key);
    body.push(MULTI_SIGNATURE_SR25519);
    body.extend_from_slice(signature);
    body.extend(extra.encode());
    body.extend_from_slice(call);
    let mut out = Compact(body.len() as u32).encode();
    out.extend(body);
    out
}

/// Sign `call` with `signer` and assemble the extrinsic.
pub fn signed_extrinsic(
    signer: &Signer,
    call: &[u8],
    extra: &SignedExtra,
    implicit: &Implicit,
) -> Vec<u8> {
    let payload = signing_payload(call, extra, implicit);
    let signature = signer.sign(&payload);
    assemble_signed(&signer.public_key(), &signature, extra, call)
}

/// Where the 64 signature bytes sit in a signed v4 extrinsic as [`assemble_signed`] lays it out
/// (None when `extrinsic` is not one: bad length prefix, unsigned, not `MultiAddress::Id` /
/// `MultiSignature::Sr25519`, too short).
pub fn signature_range(extrinsic: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut rest = extrinsic;
    let Compact(len) = Compact::<u32>::decode(&mut rest).ok()?;
    let prefix = extrinsic.len() - rest.len();
    if rest.len() != len as usize
        || rest.first() != Some(&SIGNED_V4)
        || rest.get(1) != Some(&MULTI_ADDRESS_ID)
        || rest.get(34) != Some(&MULTI_SIGNATURE_SR25519)
    {
        return None;
    }
    let start = prefix + 1 + 33 + 1;
    (extrinsic.len() >= start + 64).then_some(start..start + 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_bytes_by_hand() {
        // netuid 237 = 0xed00; two dests (compact 2 = 0x08); version 2186 = 0x088a.
        let call = SetWeightsCall::new(237, vec![1, 252], vec![21845, 65535], 2186).unwrap();
        let bytes = call.encode(CallIndex::SUBTENSOR_SET_WEIGHTS);
        assert_eq!(
            hex::encode(bytes),
            "0700ed00080100fc00085555ffff8a08000000000000"
        );
    }

    #[test]
    fn bad_vectors_are_refused() {
        assert!(SetWeightsCall::new(57, vec![1, 2], vec![1], 1).is_err());
        assert!(SetWeightsCall::new(57, vec![1, 1], vec![1, 2], 1).is_err());
    }

    #[test]
    fn era_matches_substrate() {
        // Substrate's own test: Era::mortal(64, 42) encodes as [5 + 42 % 16 * 16, 42 / 16].
        assert_eq!(
            Era::mortal(64, 42).encode(),
            vec![5 + 42 % 16 * 16, 42 / 16]
        );
        // Substrate's test: Era::mortal(32768, 20000) encodes as the u16 14 + 2500 % 16 · 16 +
        // 2500 / 16 · 256 (quantize factor 8, phase 20000 / 8 = 2500).
        let want: u16 = 14 + 2500 % 16 * 16 + 2500 / 16 * 256;
        assert_eq!(
            Era::mortal(32768, 20000).encode(),
            want.to_le_bytes().to_vec()
        );
        // fiber's period 5 becomes 8.
        assert_eq!(
            Era::mortal(5, 1000),
            Era::Mortal {
                period: 8,
                phase: 0
            }
        );
        assert_eq!(Era::mortal(5, 1003).birth(1005), 1003);
        assert_eq!(Era::Immortal.encode(), vec![0]);
    }

    #[test]
    fn default_chain_has_commit_reveal_off() {
        struct Bare;
        impl super::super::Chain for Bare {
            fn metagraph(
                &self,
            ) -> futures::future::BoxFuture<'_, Result<Vec<super::super::MetagraphNode>, ChainError>>
            {
                Box::pin(async { Ok(Vec::new()) })
            }
            fn current_block(&self) -> futures::future::BoxFuture<'_, Result<u64, ChainError>> {
                Box::pin(async { Ok(0) })
            }
            fn last_update_block(&self) -> futures::future::BoxFuture<'_, Result<u64, ChainError>> {
                Box::pin(async { Ok(0) })
            }
            fn set_weights<'a>(
                &'a self,
                _uids: &'a [u16],
                _values: &'a [u16],
            ) -> futures::future::BoxFuture<'a, Result<super::super::WeightsReceipt, ChainError>>
            {
                Box::pin(async { Err(ChainError::BadWeights("unused".into())) })
            }
        }
        use super::super::Chain;
        let enabled = futures::executor::block_on(Bare.commit_reveal_enabled()).unwrap();
        assert!(require_commit_reveal_disabled(237, enabled).is_ok());
    }

    #[test]
    fn commit_reveal_and_version_key() {
        assert!(require_commit_reveal_disabled(57, false).is_ok());
        assert!(matches!(
            require_commit_reveal_disabled(57, true),
            Err(ChainError::CommitRevealEnabled { netuid: 57 })
        ));
        assert_eq!(gaia_version_key(2, 9, 96), 2186);
        assert!(require_version_key(2186, 0).is_ok());
        assert!(require_version_key(2186, 2186).is_ok());
        assert!(matches!(
            require_version_key(2186, 2187),
            Err(ChainError::VersionKeyTooLow {
                ours: 2186,
                chain: 2187
            })
        ));
    }
}
