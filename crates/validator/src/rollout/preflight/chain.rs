//! The chain checks of `preflight`, all read at one best block: the endpoint answers, the
//! runtime metadata matches what the client encodes, the hotkey file loads, the hotkey is
//! registered on the netuid with a validator permit, stake (stated: not a plain storage item),
//! blocks since our last weight set against `WeightsSetRateLimit`, `WeightsVersionKey` not
//! above ours, commit-reveal off, and the clock against the chain's `Timestamp.Now`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Check, Status};
use crate::chain::metadata;
use crate::chain::node::Hash;
use crate::chain::online::{OnlineChain, DEFAULT_WEIGHTS_RATE_LIMIT, GAIA_VERSION_KEY};
use crate::chain::rpc::RpcOptions;
use crate::chain::storage::{decode, netuid_item, storage_key};
use crate::chain::wallet::load_hotkey;
use crate::chain::ChainError;
use crate::config::Settings;

/// Every chain check's name, in order (all skipped together when the endpoint fails).
pub const NAMES: [&str; 10] = [
    "chain_endpoint",
    "runtime_metadata",
    "hotkey_file",
    "hotkey_registered",
    "validator_permit",
    "stake",
    "rate_limit",
    "version_key",
    "commit_reveal",
    "clock_skew",
];

/// `Timestamp.Now`: milliseconds since the epoch of the block's inherent.
pub fn timestamp_now_key() -> Vec<u8> {
    storage_key("Timestamp", "Now", &[])
}

async fn item<T: parity_scale_codec::Decode>(
    chain: &OnlineChain,
    netuid: u16,
    name: &'static str,
    at: Hash,
) -> Result<Option<T>, ChainError> {
    match chain
        .node()
        .storage(&netuid_item(name, netuid), Some(at))
        .await?
    {
        Some(raw) => Ok(Some(decode(name, &raw)?)),
        None => Ok(None),
    }
}

fn skip_rest(checks: &mut Vec<Check>, why: &str) {
    for name in NAMES {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(Check::skip(name, why.to_string()));
        }
    }
}

fn order(mut checks: Vec<Check>) -> Vec<Check> {
    checks.sort_by_key(|c| NAMES.iter().position(|n| *n == c.name));
    checks
}

/// The chain checks against the settings' endpoint and netuid, with `now` as our clock.
pub async fn checks(settings: &Settings, now: DateTime<Utc>) -> Vec<Check> {
    let c = &settings.chain;
    let mut out = Vec::new();
    let hotkey = match &c.hotkey_file {
        None => {
            out.push(Check::fail(
                "hotkey_file",
                "no CHAIN__HOTKEY_FILE (nor CHAIN__WALLET_NAME)",
                "set CHAIN__HOTKEY_FILE to the validator's hotkey file",
            ));
            None
        }
        Some(path) => match load_hotkey(path) {
            Ok(h) => {
                out.push(Check::pass(
                    "hotkey_file",
                    format!("{} ({})", h.ss58(), path.display()),
                ));
                Some(h.into_signer())
            }
            Err(e) => {
                out.push(Check::fail(
                    "hotkey_file",
                    e.to_string(),
                    "point CHAIN__HOTKEY_FILE at a readable, unencrypted hotkey file",
                ));
                None
            }
        },
    };
    let have_hotkey = hotkey.is_some();
    let options = RpcOptions {
        timeout: Duration::from_secs(c.rpc_timeout_s.min(10)),
        attempts: 2,
        ..RpcOptions::default()
    };
    let chain = match OnlineChain::new(&c.endpoint, options, c.netuid, hotkey) {
        Ok(chain) => chain,
        Err(e) => {
            out.push(Check::fail(
                "chain_endpoint",
                e.to_string(),
                "fix CHAIN__ENDPOINT",
            ));
            skip_rest(&mut out, "chain endpoint unusable");
            return order(out);
        }
    };
    let started = Instant::now();
    let (block, at) = match chain.node().head().await {
        Ok(head) => head,
        Err(e) => {
            out.push(Check::fail(
                "chain_endpoint",
                format!("{}: {e}", c.endpoint),
                "check CHAIN__ENDPOINT and that the node is up and synced",
            ));
            skip_rest(&mut out, "chain endpoint did not answer");
            return order(out);
        }
    };
    out.push(Check::pass(
        "chain_endpoint",
        format!(
            "{} at block {block} ({} ms)",
            c.endpoint,
            started.elapsed().as_millis()
        ),
    ));
    out.push(runtime(&chain, at).await);
    out.extend(identity(&chain, c.netuid, block, at, have_hotkey).await);
    out.push(commit_reveal(&chain, at).await);
    out.push(clock(&chain, at, now, settings.rollout.max_clock_skew_s).await);
    order(out)
}

async fn runtime(chain: &OnlineChain, at: Hash) -> Check {
    let read = async {
        let version = chain.node().runtime_version(at).await?;
        let facts = metadata::parse(&chain.node().metadata(at).await?)?;
        metadata::check(&facts)?;
        Ok::<_, ChainError>(version.spec_version)
    };
    match read.await {
        Ok(spec) => Check::pass(
            "runtime_metadata",
            format!("spec_version {spec}: set_weights (7, 0) and the extensions match"),
        ),
        Err(e) => Check::fail(
            "runtime_metadata",
            e.to_string(),
            "the runtime changed: update gaia-validator before setting weights (chain.md §5)",
        ),
    }
}

async fn identity(
    chain: &OnlineChain,
    netuid: u16,
    block: u64,
    at: Hash,
    have_hotkey: bool,
) -> Vec<Check> {
    let mut out = Vec::new();
    if !have_hotkey {
        return out;
    }
    let uid = match chain.own_uid(at).await {
        Ok(uid) => uid,
        Err(e @ ChainError::NotRegistered { .. }) => {
            out.push(Check::fail(
                "hotkey_registered",
                e.to_string(),
                "register the hotkey on the subnet (btcli subnet register) or fix CHAIN__NETUID",
            ));
            return out;
        }
        Err(e) => {
            out.push(Check::fail(
                "hotkey_registered",
                e.to_string(),
                "check the node",
            ));
            return out;
        }
    };
    out.push(Check::pass(
        "hotkey_registered",
        format!("uid {uid} on netuid {netuid}"),
    ));
    let reads = async {
        let permits: Vec<bool> = item(chain, netuid, "ValidatorPermit", at)
            .await?
            .unwrap_or_default();
        let last: Vec<u64> = item(chain, netuid, "LastUpdate", at)
            .await?
            .unwrap_or_default();
        let limit: u64 = item(chain, netuid, "WeightsSetRateLimit", at)
            .await?
            .unwrap_or(DEFAULT_WEIGHTS_RATE_LIMIT);
        let key: u64 = item(chain, netuid, "WeightsVersionKey", at)
            .await?
            .unwrap_or(0);
        Ok::<_, ChainError>((permits, last, limit, key))
    };
    let (permits, last, limit, key) = match reads.await {
        Ok(r) => r,
        Err(e) => {
            out.push(Check::fail(
                "validator_permit",
                e.to_string(),
                "check the node",
            ));
            return out;
        }
    };
    let i = usize::from(uid);
    out.push(if permits.get(i).copied().unwrap_or(false) {
        Check::pass(
            "validator_permit",
            format!("uid {uid} holds a validator permit"),
        )
    } else {
        Check::fail(
            "validator_permit",
            format!("uid {uid} has no validator permit"),
            "stake enough to be among the subnet's top validators, then wait for the next epoch",
        )
    });
    out.push(Check::new(
        "stake",
        Status::Info,
        "not read: stake is computed by the runtime API, not a plain storage item (chain.md §2.3)",
        "",
    ));
    let last_update = last.get(i).copied().unwrap_or(0);
    let since = block.saturating_sub(last_update);
    out.push(if last_update == 0 || since >= limit {
        Check::pass(
            "rate_limit",
            format!("{since} blocks since the last weight set (LastUpdate {last_update}), WeightsSetRateLimit {limit}"),
        )
    } else {
        Check::new(
            "rate_limit",
            Status::Warn,
            format!("{since} blocks since the last weight set, WeightsSetRateLimit {limit}"),
            format!("the next weight set waits {} blocks", limit - since),
        )
    });
    out.push(if key <= GAIA_VERSION_KEY {
        Check::pass(
            "version_key",
            format!("chain WeightsVersionKey {key} <= ours {GAIA_VERSION_KEY}"),
        )
    } else {
        Check::fail(
            "version_key",
            format!("chain WeightsVersionKey {key} > ours {GAIA_VERSION_KEY}"),
            "the subnet raised its version key: update gaia-validator",
        )
    });
    out
}

async fn commit_reveal(chain: &OnlineChain, at: Hash) -> Check {
    match chain.commit_reveal_at(at).await {
        Ok(false) => Check::pass("commit_reveal", "CommitRevealWeightsEnabled = false"),
        Ok(true) => Check::fail(
            "commit_reveal",
            "CommitRevealWeightsEnabled = true (or absent, whose default is true)",
            "set_weights would be rejected: this validator does not implement commit-reveal; \
             do not cut over",
        ),
        Err(e) => Check::fail("commit_reveal", e.to_string(), "check the node"),
    }
}

async fn clock(chain: &OnlineChain, at: Hash, now: DateTime<Utc>, max_skew_s: f64) -> Check {
    let raw = match chain.node().storage(&timestamp_now_key(), Some(at)).await {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            return Check::fail(
                "clock_skew",
                "Timestamp.Now absent at the best block",
                "check the node",
            )
        }
        Err(e) => return Check::fail("clock_skew", e.to_string(), "check the node"),
    };
    let ms: u64 = match decode("Timestamp.Now", &raw) {
        Ok(ms) => ms,
        Err(e) => return Check::fail("clock_skew", e.to_string(), "check the node"),
    };
    let skew_s = (now.timestamp_millis() as f64 - ms as f64) / 1000.0;
    let value =
        format!("{skew_s:+.1} s against the best block's Timestamp.Now (allowed ±{max_skew_s} s)");
    if skew_s.abs() <= max_skew_s {
        Check::pass("clock_skew", value)
    } else {
        Check::fail(
            "clock_skew",
            value,
            "synchronise the clock (chrony / systemd-timesyncd) or check that the node is synced",
        )
    }
}
