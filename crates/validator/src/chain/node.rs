//! The substrate RPC methods the online chain uses, typed: block hashes and headers, storage
//! reads (one key, many keys at one block, key pages), the runtime version, the account nonce and
//! extrinsic submission. Hex strings from the node are checked (prefix, digits, length) and every
//! failure is an [`RpcError`] naming the method.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::rpc::{RpcClient, RpcError};

/// A 32-byte block or extrinsic hash.
pub type Hash = [u8; 32];

/// Keys per `state_queryStorageAt` request.
const QUERY_CHUNK: usize = 128;

/// `state_getRuntimeVersion`, the fields a signature needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeVersion {
    /// `spec_version`.
    pub spec_version: u32,
    /// `transaction_version`.
    pub transaction_version: u32,
}

/// `0x…` hex → bytes, or a `Malformed` error for `method`.
pub fn from_hex(method: &str, text: &str) -> Result<Vec<u8>, RpcError> {
    let digits = text.strip_prefix("0x").ok_or_else(|| RpcError::Malformed {
        method: method.into(),
        reason: format!("`{}` is not 0x-prefixed hex", preview(text)),
    })?;
    hex::decode(digits).map_err(|e| RpcError::Malformed {
        method: method.into(),
        reason: format!("bad hex: {e}"),
    })
}

fn hash_from_hex(method: &str, text: &str) -> Result<Hash, RpcError> {
    let raw = from_hex(method, text)?;
    raw.as_slice().try_into().map_err(|_| RpcError::Malformed {
        method: method.into(),
        reason: format!("{} bytes, expected a 32-byte hash", raw.len()),
    })
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}

fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A subtensor node behind an [`RpcClient`].
#[derive(Debug)]
pub struct Node {
    rpc: RpcClient,
}

impl Node {
    /// Wrap a client.
    pub fn new(rpc: RpcClient) -> Node {
        Node { rpc }
    }

    /// The client's URL.
    pub fn url(&self) -> &str {
        self.rpc.url()
    }

    /// Whether the node is reached over a websocket (`ws://`, `wss://`).
    pub fn is_websocket(&self) -> bool {
        self.rpc.is_websocket()
    }

    /// `chain_getBlockHash(n)` (`None`: the best block). A block that does not exist is an error.
    pub async fn block_hash(&self, number: Option<u64>) -> Result<Hash, RpcError> {
        const M: &str = "chain_getBlockHash";
        let params = match number {
            Some(n) => json!([n]),
            None => json!([]),
        };
        let v: Option<String> = self.rpc.call(M, params).await?;
        let text = v.ok_or_else(|| RpcError::Malformed {
            method: M.into(),
            reason: format!(
                "no block {}",
                number.map_or("head".into(), |n| n.to_string())
            ),
        })?;
        hash_from_hex(M, &text)
    }

    /// `chain_getHeader(at)`: the block number (hex in the header).
    pub async fn header_number(&self, at: Option<Hash>) -> Result<u64, RpcError> {
        const M: &str = "chain_getHeader";
        #[derive(Deserialize)]
        struct Header {
            number: String,
        }
        let params = match at {
            Some(h) => json!([to_hex(&h)]),
            None => json!([]),
        };
        let header: Option<Header> = self.rpc.call(M, params).await?;
        let header = header.ok_or_else(|| RpcError::Malformed {
            method: M.into(),
            reason: "no such block".into(),
        })?;
        let digits = header.number.strip_prefix("0x").unwrap_or(&header.number);
        u64::from_str_radix(digits, 16).map_err(|e| RpcError::Malformed {
            method: M.into(),
            reason: format!("number `{}`: {e}", preview(&header.number)),
        })
    }

    /// The best block: its number and hash (the hash first, so both describe one block).
    pub async fn head(&self) -> Result<(u64, Hash), RpcError> {
        let hash = self.block_hash(None).await?;
        let number = self.header_number(Some(hash)).await?;
        Ok((number, hash))
    }

    /// `state_getStorage(key, at)`: `None` when the key holds nothing.
    pub async fn storage(&self, key: &[u8], at: Option<Hash>) -> Result<Option<Vec<u8>>, RpcError> {
        const M: &str = "state_getStorage";
        let mut params = vec![json!(to_hex(key))];
        if let Some(h) = at {
            params.push(json!(to_hex(&h)));
        }
        let v: Option<String> = self.rpc.call(M, Value::Array(params)).await?;
        v.map(|t| from_hex(M, &t)).transpose()
    }

    /// Many keys at one block: `state_queryStorageAt` in chunks, or one `state_getStorage` per
    /// key when the node does not offer it. Results are in the order of `keys`.
    pub async fn storage_many(
        &self,
        keys: &[Vec<u8>],
        at: Hash,
    ) -> Result<Vec<Option<Vec<u8>>>, RpcError> {
        const M: &str = "state_queryStorageAt";
        #[derive(Deserialize)]
        struct ChangeSet {
            changes: Vec<(String, Option<String>)>,
        }
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(QUERY_CHUNK) {
            let hex_keys: Vec<String> = chunk.iter().map(|k| to_hex(k)).collect();
            let sets: Vec<ChangeSet> = match self.rpc.call(M, json!([hex_keys, to_hex(&at)])).await
            {
                Ok(sets) => sets,
                Err(e) if e.is_method_not_found() => {
                    for key in chunk {
                        out.push(self.storage(key, Some(at)).await?);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut found: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
            for set in sets {
                for (k, v) in set.changes {
                    found.insert(from_hex(M, &k)?, v.map(|v| from_hex(M, &v)).transpose()?);
                }
            }
            out.extend(chunk.iter().map(|k| found.remove(k).flatten()));
        }
        Ok(out)
    }

    /// `state_getKeysPaged(prefix, count, start_key, at)`: up to `count` keys after `start`.
    pub async fn keys_paged(
        &self,
        prefix: &[u8],
        count: u32,
        start: Option<&[u8]>,
        at: Hash,
    ) -> Result<Vec<Vec<u8>>, RpcError> {
        const M: &str = "state_getKeysPaged";
        let start = start.map(to_hex);
        let keys: Vec<String> = self
            .rpc
            .call(M, json!([to_hex(prefix), count, start, to_hex(&at)]))
            .await?;
        keys.iter().map(|k| from_hex(M, k)).collect()
    }

    /// `state_getRuntimeVersion(at)`.
    pub async fn runtime_version(&self, at: Hash) -> Result<RuntimeVersion, RpcError> {
        self.rpc
            .call("state_getRuntimeVersion", json!([to_hex(&at)]))
            .await
    }

    /// `state_getMetadata(at)`: the SCALE metadata (V14).
    pub async fn metadata(&self, at: Hash) -> Result<Vec<u8>, RpcError> {
        const M: &str = "state_getMetadata";
        let v: String = self.rpc.call(M, json!([to_hex(&at)])).await?;
        from_hex(M, &v)
    }

    /// `system_accountNextIndex(ss58)`: the next nonce, counting the pool.
    pub async fn account_next_index(&self, ss58: &str) -> Result<u32, RpcError> {
        self.rpc
            .call("system_accountNextIndex", json!([ss58]))
            .await
    }

    /// `author_submitExtrinsic(bytes)`: the extrinsic hash the pool reports (one attempt: a
    /// blind retry could submit twice).
    pub async fn submit_extrinsic(&self, extrinsic: &[u8]) -> Result<Hash, RpcError> {
        const M: &str = "author_submitExtrinsic";
        let v: String = self.rpc.call_once(M, json!([to_hex(extrinsic)])).await?;
        hash_from_hex(M, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_checked() {
        assert_eq!(from_hex("m", "0x0102").unwrap(), vec![1, 2]);
        assert!(from_hex("m", "0102").is_err());
        assert!(from_hex("m", "0xzz").is_err());
        assert!(hash_from_hex("m", "0x01").is_err());
        assert_eq!(hash_from_hex("m", &to_hex(&[7; 32])).unwrap(), [7; 32]);
    }
}
