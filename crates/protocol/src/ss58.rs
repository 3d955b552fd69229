//! SS58 addresses (miner-protocol.md §8.2): `base58(prefix ‖ pubkey32 ‖ blake2b-512("SS58PRE" ‖
//! prefix ‖ pubkey32)[0..2])`. Any valid prefix decodes (as substrate-interface accepts), and the
//! checksum is always checked.

use blake2::{Blake2b512, Digest};

use crate::VerifyError;

/// The generic Substrate / Bittensor address prefix.
pub const SS58_PREFIX: u16 = 42;

fn checksum(prefix_and_key: &[u8]) -> [u8; 2] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(prefix_and_key);
    let out = h.finalize();
    [out[0], out[1]]
}

/// Decode an SS58 address into (prefix, 32-byte public key).
pub fn decode(address: &str) -> Result<(u16, [u8; 32]), VerifyError> {
    let bad = |why: &str| VerifyError::BadSs58(format!("`{address}`: {why}"));
    if address.len() > 64 {
        return Err(bad("too long"));
    }
    let raw = bs58::decode(address)
        .into_vec()
        .map_err(|_| bad("not base58"))?;
    let (prefix, prefix_len) = match raw.first() {
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 => {
            let second = *raw.get(1).ok_or_else(|| bad("truncated"))?;
            // Two-byte form: 14 bits spread over the two bytes (Substrate's layout; the shift of
            // the first byte drops its top bits, as in sp-core's `u8` arithmetic).
            let lower = u16::from((b << 2) | (second >> 6));
            let upper = u16::from(second & 0b0011_1111);
            (lower | (upper << 8), 2)
        }
        _ => return Err(bad("invalid prefix byte")),
    };
    if raw.len() != prefix_len + 32 + 2 {
        return Err(bad("wrong length for a 32-byte account"));
    }
    let body = &raw[..prefix_len + 32];
    if checksum(body) != raw[prefix_len + 32..] {
        return Err(bad("checksum mismatch"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[prefix_len..prefix_len + 32]);
    Ok((prefix, key))
}

/// Encode a public key with a one-byte prefix (< 64), e.g. [`SS58_PREFIX`].
pub fn encode(public_key: &[u8; 32], prefix: u8) -> String {
    let mut raw = Vec::with_capacity(35);
    raw.push(prefix & 0x3f);
    raw.extend_from_slice(public_key);
    let sum = checksum(&raw);
    raw.extend_from_slice(&sum);
    bs58::encode(raw).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    // miner-protocol.md §8.1 / §8.2 vectors.
    const PUB: &str = "46ebddef8cd9bb167dc30878d7113b7e168e6f0646beffd77d69d39bad76b47a";
    const ADDR: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";
    const ADDR0: &str = "12bzRJfh7arnnfPPUZHeJUaE62QLEwhK48QnH9LXeK2m1iZU";

    #[test]
    fn round_trips_the_documented_vector() {
        let key: [u8; 32] = hex::decode(PUB).unwrap().try_into().unwrap();
        assert_eq!(encode(&key, 42), ADDR);
        assert_eq!(decode(ADDR).unwrap(), (42, key));
        assert_eq!(encode(&key, 0), ADDR0);
        assert_eq!(decode(ADDR0).unwrap(), (0, key));
    }

    #[test]
    fn decodes_two_byte_prefixes() {
        // Prefix 1000 in Substrate's two-byte layout: 0x7a, 0x03 (worked by hand from sp-core's
        // encoder: first = ((1000 & 0xfc) >> 2) | 0x40, second = (1000 >> 8) | ((1000 & 3) << 6)).
        let key = [7u8; 32];
        let mut raw = vec![0x7a, 0x03];
        raw.extend_from_slice(&key);
        let sum = checksum(&raw);
        raw.extend_from_slice(&sum);
        let addr = bs58::encode(&raw).into_string();
        assert_eq!(decode(&addr).unwrap(), (1000, key));
        raw[0] = 0x80;
        assert!(decode(&bs58::encode(&raw).into_string()).is_err());
        assert!(decode(&bs58::encode([0x7au8]).into_string()).is_err());
    }

    #[test]
    fn rejects_corruption() {
        let mut chars: Vec<char> = ADDR.chars().collect();
        chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
        let edited: String = chars.into_iter().collect();
        assert!(matches!(decode(&edited), Err(VerifyError::BadSs58(_))));
        assert!(decode("0OIl").is_err());
        assert!(decode("").is_err());
        assert!(decode(&"5".repeat(100)).is_err());
        assert!(decode(&ADDR[..40]).is_err());
    }
}
