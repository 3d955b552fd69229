//! The fiber transport of real Gaia miners (miner-protocol.md, docs/fiber.md): RSA-OAEP-SHA256
//! key exchange, sr25519-signed headers with single-use nanosecond nonces, Fernet-encrypted
//! JSON bodies, plain-JSON answers, HTTPS with certificate checks off.
//!
//! * [`wire`] — the wire format as pure functions, checked against the test vectors of §8.
//! * [`axon`] — chain axon (integer IP, port) → the `https://ip:port` address.
//! * [`FiberTransport`] — the [`MinerTransport`](super::client::MinerTransport) with the
//!   per-miner session-key cache, timeouts and the one bounded retry.

pub mod axon;
mod transport;
pub mod wire;

pub use axon::{axon_address, axon_ip, parse_axon_ip};
pub use transport::{
    classify_answer, detail_of, Clock, FiberCounters, FiberError, FiberOptions, FiberTransport,
    MinerDirectory, NonceSource, KEY_TTL, POST_TIMEOUT,
};
pub use wire::{dev_validator_signer, HotkeySigner, SignedHeaders, SymmetricKey, WireError};
