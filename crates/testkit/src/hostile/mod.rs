//! Hostile input for the parsers of outside bytes (issue 20): structure-aware mutations of valid
//! inputs, proptest strategies built on them, and the bounds every parser must keep (time per
//! input, allocation per input; see [`alloc`]).
//!
//! One mutation engine serves both the property tests (a proptest strategy picks a seed input and
//! a mutation seed) and the in-process fuzz loop of [`crate::fuzz`] (its own random stream), so a
//! failing input of either can be replayed by the other as a plain byte string.

pub mod alloc;

use std::time::{Duration, Instant};

use proptest::prelude::*;

pub use alloc::{measure, CountingAlloc, Usage};

/// Tokens spliced into inputs: JSON/TOML/DDS syntax, numbers that overflow or are not finite,
/// path traversal, non-UTF-8, and binary lengths that claim huge counts (u32/u64/compact SCALE).
pub const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"=",
    b";",
    b"\n",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e308",
    b"-1e309",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"nan",
    b"inf",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775808",
    b"4294967296",
    b"99999999999999999999999999",
    b"0.000000000000000000000000000001",
    b"../",
    b"../../etc/passwd",
    b"/",
    b"%2e%2e/",
    b"\xff\xfe\xfd",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x03\xff\xff\xff\xff",
    b"\xfe\xff\xff\xff",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":",
];

/// A small deterministic random stream (xorshift64*): the same seed gives the same mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed` (0 is replaced: xorshift has no zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Applies one random mutation to `data`: truncate, extend, flip a bit, overwrite, insert or
/// remove a run, duplicate a run (deep nesting, repeated fields), or splice a [`TOKENS`] entry.
/// `max_len` caps the result.
pub fn mutate_once(data: &mut Vec<u8>, rng: &mut Rng, max_len: usize) {
    let len = data.len();
    match rng.below(9) {
        0 => data.truncate(rng.below(len + 1)),
        1 => {
            let n = 1 + rng.below(64);
            for _ in 0..n {
                data.push(rng.next_u64() as u8);
            }
        }
        2 if len > 0 => {
            let at = rng.below(len);
            data[at] ^= 1 << rng.below(8);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            data[at] = [0, 0xff, 0x7f, 0x80, b'0', b'9', b'"', rng.next_u64() as u8][rng.below(8)];
        }
        4 | 5 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            let at = rng.below(len + 1);
            if rng.below(2) == 0 && at + token.len() <= len {
                data[at..at + token.len()].copy_from_slice(token);
            } else {
                data.splice(at..at, token.iter().copied());
            }
        }
        6 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(32));
            data.drain(at..at + n);
        }
        7 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(256));
            let run = data[at..at + n].to_vec();
            let copies = 1 + rng.below(8);
            for _ in 0..copies {
                data.splice(at..at, run.iter().copied());
            }
        }
        _ => {
            // Replace a run of decimal digits by an extreme number (huge counts and shapes).
            if let Some(at) = (0..len)
                .map(|i| (i + rng.below(len)) % len)
                .find(|&i| data[i].is_ascii_digit())
            {
                let mut end = at;
                while end < len && data[end].is_ascii_digit() {
                    end += 1;
                }
                let extreme: &[u8] = [
                    &b"4294967295"[..],
                    b"18446744073709551615",
                    b"1000000000000",
                    b"0",
                    b"-5",
                    b"1e400",
                ][rng.below(6)];
                data.splice(at..end, extreme.iter().copied());
            }
        }
    }
    data.truncate(max_len);
}

/// `seed` with `1 + rng.below(rounds)` mutations applied.
pub fn mutate(seed: &[u8], rng: &mut Rng, rounds: usize, max_len: usize) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(rounds.max(1)) {
        mutate_once(&mut data, rng, max_len);
    }
    data
}

/// Strategy: one of `seeds` with up to eight random mutations (the input, not the recipe, is
/// what a failure report shows).
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "mutated() needs at least one seed");
    let n = seeds.len();
    (0..n, any::<u64>()).prop_map(move |(i, s)| mutate(&seeds[i], &mut Rng::new(s), 8, 1 << 20))
}

/// Strategy: arbitrary bytes (up to 2 KiB) half of the time, mutated seeds the other half.
pub fn hostile(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..2048), mutated(seeds)]
}

/// How much one parse of one input may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time of one call (generous: debug build on a shared 2-core machine).
    pub time: Duration,
    /// Bytes allocated at the peak of one call beyond what was live before it (only checked when
    /// the [`CountingAlloc`] is the binary's global allocator).
    pub peak_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            time: Duration::from_secs(2),
            peak_bytes: 64 << 20,
        }
    }
}

/// Runs `parse` on `input` and checks it stayed within `limits`; the parse's own answer is
/// returned for the caller's further properties.
pub fn bounded<T>(
    what: &str,
    input: &[u8],
    limits: Limits,
    parse: impl FnOnce() -> T,
) -> Result<T, TestCaseError> {
    let start = Instant::now();
    let (out, usage) = measure(parse);
    let elapsed = start.elapsed();
    prop_assert!(
        elapsed <= limits.time,
        "{what}: {elapsed:?} for a {}-byte input (limit {:?})",
        input.len(),
        limits.time
    );
    prop_assert!(
        usage.peak_bytes <= limits.peak_bytes,
        "{what}: peak allocation {} bytes for a {}-byte input (limit {})",
        usage.peak_bytes,
        input.len(),
        limits.peak_bytes
    );
    Ok(out)
}

/// The number of cases of a property test: `GAIA_PROPTEST_CASES` when set (CI and local runs may
/// raise it), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("GAIA_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest configuration with [`cases`]`(default)` cases and no regression files written
/// next to the sources (failures are turned into named regression tests by hand).
pub fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[cfg(test)]
mod tests;
