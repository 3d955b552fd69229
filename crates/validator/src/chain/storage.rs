//! Subtensor storage keys and values by hand (chain.md §2.3): no metadata, no subxt.
//!
//! A storage key is `twox128(pallet) ‖ twox128(item)` followed by each map key hashed with the
//! item's hasher: `Identity` (the SCALE bytes as they are), `Blake2_128Concat`
//! (`blake2b-128(k) ‖ k`) or `Twox64Concat` (`xxh64(k, seed 0) ‖ k`). `twox128(x)` is
//! `xxh64(x, 0) ‖ xxh64(x, 1)`, both little-endian (xxh64 from the `twox-hash` crate).
//!
//! Values are plain SCALE: [`AxonInfo`] (`block u64, version u32, ip u128, port u16, ip_type u8,
//! protocol u8, placeholder1 u8, placeholder2 u8`, chain.md §2.2), `Vec<u64>`, `Vec<bool>`, `u16`,
//! `u64`, `bool`, 32-byte account ids. Every decoder consumes the whole value or fails with
//! [`DecodeError`].

use std::net::{Ipv4Addr, Ipv6Addr};

use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest};
use parity_scale_codec::{Decode, DecodeAll};

/// The subtensor pallet's storage prefix name.
pub const SUBTENSOR: &str = "SubtensorModule";

/// xxHash64 of `data` with `seed`.
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    twox_hash::XxHash64::oneshot(seed, data)
}

/// `twox128`: xxh64 with seeds 0 and 1, little-endian, concatenated.
pub fn twox128(data: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&xxh64(data, 0).to_le_bytes());
    out[8..].copy_from_slice(&xxh64(data, 1).to_le_bytes());
    out
}

/// How one map key is hashed into the storage key.
#[derive(Debug, Clone, Copy)]
pub enum MapKey<'a> {
    /// The SCALE bytes themselves.
    Identity(&'a [u8]),
    /// `blake2b-128(k) ‖ k`.
    Blake2_128Concat(&'a [u8]),
    /// `xxh64(k) ‖ k`.
    Twox64Concat(&'a [u8]),
}

impl MapKey<'_> {
    fn append_to(&self, out: &mut Vec<u8>) {
        match *self {
            MapKey::Identity(k) => out.extend_from_slice(k),
            MapKey::Blake2_128Concat(k) => {
                out.extend_from_slice(&Blake2b::<U16>::digest(k));
                out.extend_from_slice(k);
            }
            MapKey::Twox64Concat(k) => {
                out.extend_from_slice(&xxh64(k, 0).to_le_bytes());
                out.extend_from_slice(k);
            }
        }
    }
}

/// The storage key of `pallet.item` with `keys` (none for a plain value).
pub fn storage_key(pallet: &str, item: &str, keys: &[MapKey<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + keys.len() * 48);
    out.extend_from_slice(&twox128(pallet.as_bytes()));
    out.extend_from_slice(&twox128(item.as_bytes()));
    for k in keys {
        k.append_to(&mut out);
    }
    out
}

/// A `SubtensorModule` item keyed by the netuid alone (`Identity`): `SubnetworkN`, `LastUpdate`,
/// `ValidatorPermit`, `WeightsSetRateLimit`, `WeightsVersionKey`, `CommitRevealWeightsEnabled`.
pub fn netuid_item(item: &str, netuid: u16) -> Vec<u8> {
    storage_key(SUBTENSOR, item, &[MapKey::Identity(&netuid.to_le_bytes())])
}

/// `Keys(netuid, uid)`: UID → hotkey (both `Identity`).
pub fn keys_key(netuid: u16, uid: u16) -> Vec<u8> {
    storage_key(
        SUBTENSOR,
        "Keys",
        &[
            MapKey::Identity(&netuid.to_le_bytes()),
            MapKey::Identity(&uid.to_le_bytes()),
        ],
    )
}

/// `Uids(netuid, hotkey)`: hotkey → UID (`Identity`, `Blake2_128Concat`).
pub fn uids_key(netuid: u16, hotkey: &[u8; 32]) -> Vec<u8> {
    storage_key(
        SUBTENSOR,
        "Uids",
        &[
            MapKey::Identity(&netuid.to_le_bytes()),
            MapKey::Blake2_128Concat(hotkey),
        ],
    )
}

/// `Owner(hotkey)`: hotkey → coldkey (`Blake2_128Concat`).
pub fn owner_key(hotkey: &[u8; 32]) -> Vec<u8> {
    storage_key(SUBTENSOR, "Owner", &[MapKey::Blake2_128Concat(hotkey)])
}

/// `Axons(netuid, hotkey)` (`Identity`, `Blake2_128Concat`).
pub fn axons_key(netuid: u16, hotkey: &[u8; 32]) -> Vec<u8> {
    storage_key(
        SUBTENSOR,
        "Axons",
        &[
            MapKey::Identity(&netuid.to_le_bytes()),
            MapKey::Blake2_128Concat(hotkey),
        ],
    )
}

/// `System.Number`: the block being built / last imported.
pub fn system_number_key() -> Vec<u8> {
    storage_key("System", "Number", &[])
}

/// A storage value that is not the expected SCALE type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{item}: {reason}")]
pub struct DecodeError {
    /// The storage item.
    pub item: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// Decode a whole value of `item` as `T` (trailing bytes are an error).
pub fn decode<T: Decode>(item: &'static str, mut bytes: &[u8]) -> Result<T, DecodeError> {
    T::decode_all(&mut bytes).map_err(|e| DecodeError {
        item,
        reason: format!("not a SCALE {}: {e}", std::any::type_name::<T>()),
    })
}

/// A 32-byte account id.
pub fn decode_account(item: &'static str, bytes: &[u8]) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError {
        item,
        reason: format!("{} bytes, expected a 32-byte account id", bytes.len()),
    })
}

/// `AxonInfo` (chain.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AxonInfo {
    /// Block of the last `serve_axon`.
    pub block: u64,
    /// Axon version.
    pub version: u32,
    /// The address as an integer (0 = never served).
    pub ip: u128,
    /// Port.
    pub port: u16,
    /// 4 or 6.
    pub ip_type: u8,
    /// Protocol (4 as posted by fiber).
    pub protocol: u8,
}

impl AxonInfo {
    /// Decode the 34-byte plain SCALE struct.
    pub fn decode(bytes: &[u8]) -> Result<AxonInfo, DecodeError> {
        type Raw = (u64, u32, u128, u16, u8, u8, u8, u8);
        let (block, version, ip, port, ip_type, protocol, _, _) = decode::<Raw>("Axons", bytes)?;
        Ok(AxonInfo {
            block,
            version,
            ip,
            port,
            ip_type,
            protocol,
        })
    }

    /// The address as text (chain.md §2.4): `0.0.0.0` when never served, a dotted quad for
    /// `ip_type` 4, IPv6 text for 6; an unknown type is read by magnitude.
    pub fn ip_text(&self) -> String {
        if self.ip == 0 {
            return Ipv4Addr::UNSPECIFIED.to_string();
        }
        match (self.ip_type, u32::try_from(self.ip)) {
            (6, _) | (_, Err(_)) => Ipv6Addr::from(self.ip).to_string(),
            (_, Ok(v4)) => Ipv4Addr::from(v4).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_reference_vectors() {
        // xxHash's own sanity values.
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a", 0), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
        let long = b"Nobody inspects the spammish repetition";
        assert_eq!(xxh64(long, 0), 0xFBCE_A83C_8A37_8BF1);
    }

    #[test]
    fn well_known_storage_keys() {
        assert_eq!(
            hex::encode(system_number_key()),
            "26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac"
        );
        // System.Account prefix, as every Substrate explorer shows it.
        assert_eq!(
            hex::encode(storage_key("System", "Account", &[])),
            "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
        );
        let k = storage_key("P", "I", &[MapKey::Twox64Concat(&[1, 2])]);
        assert_eq!(&k[32..40], &xxh64(&[1, 2], 0).to_le_bytes());
        assert_eq!(&k[40..], &[1, 2]);
    }

    #[test]
    fn axon_ip_text() {
        let mut a = AxonInfo {
            ip: 3_232_235_777,
            ip_type: 4,
            ..AxonInfo::default()
        };
        assert_eq!(a.ip_text(), "192.168.1.1");
        a.ip = 0;
        assert_eq!(a.ip_text(), "0.0.0.0");
        a.ip = 1;
        a.ip_type = 6;
        assert_eq!(a.ip_text(), "::1");
        assert!(AxonInfo::decode(&[0; 33]).is_err());
        assert!(AxonInfo::decode(&[0; 35]).is_err());
        assert_eq!(AxonInfo::decode(&[0; 34]).unwrap(), AxonInfo::default());
    }
}
