//! The control validator's weights as the chain holds them: `SubtensorModule.Weights(netuid,
//! uid)`, a double map with `Identity` hashers over `(u16 netuid, u16 uid)` whose value is
//! `Vec<(Compact<u16>, Compact<u16>)>` — the `(dest, weight)` pairs of the validator's last
//! accepted `set_weights` (the runtime stores them max-upscaled to 65535). The control is named
//! by UID or by SS58 hotkey (looked up with `Uids(netuid, hotkey)`).

use parity_scale_codec::Compact;

use crate::chain::node::Hash;
use crate::chain::online::OnlineChain;
use crate::chain::storage::{decode, storage_key, uids_key, MapKey, SUBTENSOR};
use crate::chain::ChainError;

/// Which validator is the control on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainControl {
    /// By UID.
    Uid(u16),
    /// By SS58 hotkey.
    Hotkey(String),
}

impl ChainControl {
    /// `2` → UID 2; anything else is an SS58 hotkey (checked when read).
    pub fn parse(text: &str) -> ChainControl {
        match text.trim().parse::<u16>() {
            Ok(uid) => ChainControl::Uid(uid),
            Err(_) => ChainControl::Hotkey(text.trim().to_string()),
        }
    }
}

/// The control's weights read from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainWeights {
    /// The control's UID.
    pub uid: u16,
    /// The block they were read at.
    pub block: u64,
    /// `(dest, weight)` pairs as stored.
    pub pairs: Vec<(u16, u16)>,
}

/// `Weights(netuid, uid)` (`Identity`, `Identity`).
pub fn weights_key(netuid: u16, uid: u16) -> Vec<u8> {
    storage_key(
        SUBTENSOR,
        "Weights",
        &[
            MapKey::Identity(&netuid.to_le_bytes()),
            MapKey::Identity(&uid.to_le_bytes()),
        ],
    )
}

/// Decode a `Weights` value.
pub fn decode_weights(raw: &[u8]) -> Result<Vec<(u16, u16)>, ChainError> {
    let pairs: Vec<(Compact<u16>, Compact<u16>)> = decode("Weights", raw)?;
    Ok(pairs.into_iter().map(|(d, w)| (d.0, w.0)).collect())
}

/// Resolve `control` to a UID at block `at`.
pub async fn control_uid(
    chain: &OnlineChain,
    netuid: u16,
    control: &ChainControl,
    at: Hash,
) -> Result<u16, ChainError> {
    match control {
        ChainControl::Uid(uid) => Ok(*uid),
        ChainControl::Hotkey(ss58) => {
            let (_, account) =
                gaia_protocol::ss58::decode(ss58).map_err(|e| ChainError::Metagraph {
                    source_name: "--control".into(),
                    reason: format!("`{ss58}` is neither a UID nor an SS58 hotkey: {e}"),
                })?;
            match chain
                .node()
                .storage(&uids_key(netuid, &account), Some(at))
                .await?
            {
                Some(raw) => Ok(decode("Uids", &raw)?),
                None => Err(ChainError::NotRegistered {
                    netuid,
                    hotkey: ss58.clone(),
                }),
            }
        }
    }
}

/// Read the control's weights at the best block. An absent entry is an empty vector (the
/// storage default: the validator has set no weights).
pub async fn read_control_weights(
    chain: &OnlineChain,
    netuid: u16,
    control: &ChainControl,
) -> Result<ChainWeights, ChainError> {
    let (block, at) = chain.node().head().await?;
    let uid = control_uid(chain, netuid, control, at).await?;
    let pairs = match chain
        .node()
        .storage(&weights_key(netuid, uid), Some(at))
        .await?
    {
        Some(raw) => decode_weights(&raw)?,
        None => Vec::new(),
    };
    Ok(ChainWeights { uid, block, pairs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Encode;

    #[test]
    fn weights_values_round_trip_and_bad_bytes_are_named() {
        let pairs: Vec<(Compact<u16>, Compact<u16>)> =
            vec![(Compact(0), Compact(65535)), (Compact(3), Compact(4))];
        let raw = pairs.encode();
        assert_eq!(decode_weights(&raw).unwrap(), vec![(0, 65535), (3, 4)]);
        let err = decode_weights(&[0x08, 0x00]).unwrap_err().to_string();
        assert!(err.contains("Weights"), "{err}");
        assert_eq!(ChainControl::parse(" 7 "), ChainControl::Uid(7));
        assert_eq!(
            ChainControl::parse("5Gbh"),
            ChainControl::Hotkey("5Gbh".into())
        );
        // twox128("SubtensorModule") ‖ twox128("Weights") ‖ netuid LE ‖ uid LE.
        let key = weights_key(237, 2);
        assert_eq!(key.len(), 36);
        assert_eq!(&key[32..], &[237, 0, 2, 0]);
    }
}
