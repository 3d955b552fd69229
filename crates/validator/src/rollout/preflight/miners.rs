//! The miner check of `preflight`: the fiber handshake (public key, signed key exchange,
//! miner-protocol.md §2) with a sample of miners — the first `ROLLOUT__PREFLIGHT_MINER_SAMPLE`
//! served axons of the metagraph, validators (permit holders) left out. Pass when every miner
//! asked answers, warn when some do not (miners come and go), fail when none does: then the
//! validator's key or network is the likely cause.

use std::sync::Arc;
use std::time::Duration;

use super::{Check, Status};
use crate::chain::MetagraphNode;
use crate::miners::fiber::axon::parse_axon_ip;
use crate::miners::fiber::{FiberOptions, FiberTransport, MinerDirectory};
use crate::miners::url_policy::MinerAddress;

/// Deadline of one handshake call.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The miners to ask: served axons without a validator permit, by UID, at most `n`.
pub fn sample(
    nodes: &[MetagraphNode],
    n: usize,
    scheme: &'static str,
) -> Vec<(MinerAddress, String, u8)> {
    nodes
        .iter()
        .filter(|m| !m.validator_permit && m.port != 0)
        .filter_map(|m| {
            let ip = parse_axon_ip(&m.ip)?;
            Some((
                MinerAddress {
                    ip,
                    port: m.port,
                    scheme,
                },
                m.hotkey.clone(),
                m.uid,
            ))
        })
        .take(n)
        .collect()
}

/// Handshake with each of `miners`, signing as `signer`.
pub async fn handshakes(
    miners: &[(MinerAddress, String, u8)],
    signer: gaia_protocol::Signer,
) -> Check {
    const NAME: &str = "miner_handshake";
    if miners.is_empty() {
        return Check::new(
            NAME,
            Status::Warn,
            "no served miner axon in the metagraph to ask",
            "check the metagraph (CHAIN__NETUID)",
        );
    }
    let options = FiberOptions {
        handshake_timeout_cap: Some(HANDSHAKE_TIMEOUT),
        allow_plain_http: true,
        ..FiberOptions::default()
    };
    let transport = match FiberTransport::new(
        Arc::new(signer),
        Arc::new(MinerDirectory::default()),
        options,
    ) {
        Ok(t) => t,
        Err(e) => return Check::fail(NAME, e.to_string(), "report a bug"),
    };
    let mut failed = Vec::new();
    for (address, hotkey, uid) in miners {
        if let Err(e) = transport
            .check_handshake(address, hotkey, HANDSHAKE_TIMEOUT)
            .await
        {
            failed.push(format!("uid {uid}: {e}"));
        }
    }
    let asked = miners.len();
    let answered = asked - failed.len();
    let value = if failed.is_empty() {
        format!("{answered}/{asked} miners answered the fiber handshake")
    } else {
        format!(
            "{answered}/{asked} miners answered the fiber handshake; {}",
            failed.join("; ")
        )
    };
    match answered {
        0 => Check::fail(
            NAME,
            value,
            "no miner accepted our key: check the hotkey (CHAIN__HOTKEY_FILE) and outbound network",
        ),
        n if n < asked => Check::new(
            NAME,
            Status::Warn,
            value,
            "some miners are down; usually fine",
        ),
        _ => Check::pass(NAME, value),
    }
}
