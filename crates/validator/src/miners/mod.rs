//! Talking to miners: the fiber transport (RSA handshake, Fernet bodies, signed headers), the
//! miner client of the weather protocol (initiate fetch, poll, kerchunk, store location) and the
//! URL policy that decides which miner addresses may be called at all.
//!
//! Everything here faces hostile input: sizes, times and memory are bounded, and every answer
//! from a miner is parsed into a typed result or a named error.

pub mod client;
pub mod fiber;
pub mod url_policy;

#[cfg(test)]
mod prop_tests;
