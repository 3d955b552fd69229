//! Property tests of what a chain node sends (issue 20): JSON-RPC answers, hex, SCALE storage
//! values and V14 runtime metadata. Arbitrary and mutated answers (seeded from the scalecodec
//! fixture `tests/fixtures/chain/online_storage.json`) end in a value or a typed error naming the
//! method or item, within a time bound and an allocation bounded by the answer's size; the SCALE
//! writers (the `set_weights` call, the era, storage values) round-trip through the decoder.

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use parity_scale_codec::{Decode, Encode};
use proptest::prelude::*;
use serde_json::Value;

use super::extrinsic::{CallIndex, Era, SetWeightsCall};
use super::metadata::{self, MetadataError};
use super::node::from_hex;
use super::rpc::{parse_response, RpcError};
use super::storage::{decode, decode_account, AxonInfo, DecodeError};

const FIXTURE: &str = include_str!("../../tests/fixtures/chain/online_storage.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap_or(Value::Null)
}

fn hex_values(v: &Value) -> Vec<Vec<u8>> {
    v.as_object()
        .map(|m| {
            m.values()
                .filter_map(|x| x.as_str())
                .filter_map(|s| hex::decode(s.trim_start_matches("0x")).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The fixture's metadata variants (good, moved pallet, renamed field, extra extensions).
fn metadata_seeds() -> Vec<Vec<u8>> {
    let seeds = hex_values(&fixture()["metadata"]);
    assert!(!seeds.is_empty(), "the fixture holds metadata");
    seeds
}

/// The fixture's storage values (every item the online chain reads).
fn storage_seeds() -> Vec<Vec<u8>> {
    let seeds = hex_values(&fixture()["storage"]);
    assert!(!seeds.is_empty(), "the fixture holds storage values");
    seeds
}

/// JSON-RPC answers as a node sends them.
fn rpc_seeds() -> Vec<Vec<u8>> {
    vec![
        br#"{"jsonrpc":"2.0","id":1,"result":"0xb3040000"}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"result":{"specVersion":312,"transactionVersion":1}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"result":[{"block":"0x01","changes":[["0x26aa","0x01"]]}]}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found","data":{"x":1}}}"#.to_vec(),
    ]
}

/// An allocation bound proportional to the input: a hostile count may not allocate beyond what
/// the bytes could describe.
fn proportional(input: &[u8]) -> Limits {
    Limits {
        peak_bytes: 64 * input.len() + (1 << 20),
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(config(20000))]

    /// V14 metadata: facts or `Malformed`; facts are checked into `Ok` or `Mismatch`.
    #[test]
    fn prop_hostile_metadata_parses_or_is_refused(bytes in hostile(metadata_seeds())) {
        let out = bounded("metadata::parse", &bytes, proportional(&bytes), || metadata::parse(&bytes))?;
        match out {
            Ok(facts) => {
                if let Err(e) = metadata::check(&facts) {
                    prop_assert!(matches!(e, MetadataError::Mismatch(_)), "{e:?}");
                }
            }
            Err(e) => prop_assert!(matches!(e, MetadataError::Malformed(_)), "{e:?}"),
        }
    }

    /// A JSON-RPC body: its result, the node's error, or `Malformed` naming the method.
    #[test]
    fn prop_hostile_rpc_answers_parse_or_are_refused(bytes in hostile(rpc_seeds())) {
        let out = bounded("parse_response", &bytes, Limits::default(), || parse_response("state_getStorage", &bytes))?;
        match out {
            Ok(result) => {
                if let Some(text) = result.as_str() {
                    let hex = bounded("from_hex", text.as_bytes(), Limits::default(), || from_hex("state_getStorage", text))?;
                    if let Err(e) = hex {
                        prop_assert!(matches!(e, RpcError::Malformed { .. }) && e.to_string().contains("state_getStorage"), "{e}");
                    }
                }
            }
            Err(e) => prop_assert!(
                matches!(e, RpcError::Malformed { .. } | RpcError::Remote { .. }) && e.to_string().contains("state_getStorage"),
                "{e}"
            ),
        }
    }

    /// Every storage value the online chain decodes, from hostile bytes: a value or a
    /// `DecodeError` naming the item, with allocation bounded by the bytes.
    #[test]
    fn prop_hostile_storage_values_decode_or_are_refused(bytes in hostile(storage_seeds())) {
        let limits = proportional(&bytes);
        let named = |r: Result<(), DecodeError>, item: &str| match r {
            Ok(()) => Ok(()),
            Err(e) if e.item == item && e.to_string().contains(item) => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("{item}: {e}"))),
        };
        named(bounded("u16", &bytes, limits, || decode::<u16>("SubnetworkN", &bytes).map(drop))?, "SubnetworkN")?;
        named(bounded("Vec<bool>", &bytes, limits, || decode::<Vec<bool>>("ValidatorPermit", &bytes).map(drop))?, "ValidatorPermit")?;
        named(bounded("Vec<u64>", &bytes, limits, || decode::<Vec<u64>>("LastUpdate", &bytes).map(drop))?, "LastUpdate")?;
        named(bounded("bool", &bytes, limits, || decode::<bool>("CommitRevealWeightsEnabled", &bytes).map(drop))?, "CommitRevealWeightsEnabled")?;
        named(bounded("u64", &bytes, limits, || decode::<u64>("WeightsVersionKey", &bytes).map(drop))?, "WeightsVersionKey")?;
        named(bounded("account", &bytes, limits, || decode_account("Keys", &bytes).map(drop))?, "Keys")?;
        named(bounded("AxonInfo", &bytes, limits, || AxonInfo::decode(&bytes).map(|a| drop(a.ip_text())))?, "Axons")?;
    }

    /// Storage values round-trip: what the chain encodes is what is decoded.
    #[test]
    fn prop_storage_values_round_trip(updates in prop::collection::vec(any::<u64>(), 0..300), permits in prop::collection::vec(any::<bool>(), 0..300), axon in any::<(u64, u32, u128, u16, u8, u8)>()) {
        prop_assert_eq!(decode::<Vec<u64>>("LastUpdate", &updates.encode()).ok(), Some(updates));
        prop_assert_eq!(decode::<Vec<bool>>("ValidatorPermit", &permits.encode()).ok(), Some(permits));
        let (block, version, ip, port, ip_type, protocol) = axon;
        let raw = (block, version, ip, port, ip_type, protocol, 0u8, 0u8).encode();
        let back = AxonInfo::decode(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, AxonInfo { block, version, ip, port, ip_type, protocol });
        let _ = back.ip_text();
        // One byte more or less is refused.
        prop_assert!(AxonInfo::decode(&raw[..raw.len() - 1]).is_err());
        prop_assert!(AxonInfo::decode(&[raw.as_slice(), &[0]].concat()).is_err());
    }

    /// The `set_weights` call decodes back field by field.
    #[test]
    fn prop_set_weights_call_round_trips(netuid in any::<u16>(), pairs in prop::collection::btree_map(any::<u16>(), any::<u16>(), 0..256), version_key in any::<u64>(), pallet in any::<u8>(), call in any::<u8>()) {
        let (dests, weights): (Vec<u16>, Vec<u16>) = pairs.into_iter().unzip();
        let c = SetWeightsCall::new(netuid, dests.clone(), weights.clone(), version_key).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = c.encode(CallIndex { pallet, call });
        let back = <(u8, u8, u16, Vec<u16>, Vec<u16>, u64)>::decode(&mut bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, (pallet, call, netuid, dests, weights, version_key));
    }

    /// A mortal era decodes (as Substrate does) to the period and phase it was built with, and
    /// its birth block is at or before the current block.
    #[test]
    fn prop_era_round_trips(period in any::<u64>(), current in any::<u64>()) {
        let era = Era::mortal(period, current);
        let Era::Mortal { period: p, phase } = era else { return Err(TestCaseError::fail("mortal")) };
        let bytes = era.encode();
        prop_assert_eq!(bytes.len(), 2);
        let encoded = u16::from_le_bytes([bytes[0], bytes[1]]);
        let decoded_period = 2u64 << (encoded % (1 << 4));
        let quantize = (decoded_period >> 12).max(1);
        prop_assert_eq!(decoded_period, p);
        prop_assert_eq!(u64::from(encoded >> 4) * quantize, phase);
        prop_assert!(era.birth(current) <= current.max(phase));
        prop_assert_eq!(Era::Immortal.encode(), vec![0]);
    }
}
