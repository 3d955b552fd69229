//! `preflight`: the go/no-go checklist before a cut-over (docs/rollout.md), one [`Check`] per
//! line with its status, the measured value and what to do when it fails.
//!
//! The checks live by what they need: [`local`] (settings, database, disk, modes), [`chain`]
//! (the subtensor node: endpoint, metadata, hotkey, registration, permit, rate limit,
//! commit-reveal, clock), [`truth`] (each truth source) and [`miners`] (a sample of miners'
//! fiber handshake). Checks that need the network are [`Status::Skip`] in offline mode, with
//! the reason. Go = no required check failed.

pub mod chain;
pub mod local;
pub mod miners;
pub mod truth;

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::chain::online::OnlineChain;
use crate::chain::rpc::RpcOptions;
use crate::chain::wallet::load_hotkey;
use crate::config::Settings;

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Meets the requirement.
    Pass,
    /// Does not: a required check that fails makes the verdict no-go.
    Fail,
    /// Worth a look, never blocking.
    Warn,
    /// Not run (offline mode, or an earlier check it depends on failed).
    Skip,
    /// Stated for the record (weights mode, scoring profile).
    Info,
}

impl Status {
    /// The word printed in the table.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::Skip => "SKIP",
            Status::Info => "INFO",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable name (`hotkey_registered`, `commit_reveal`, …).
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was measured.
    pub value: String,
    /// What to do when it fails (empty when it passes).
    pub action: String,
}

impl Check {
    /// A passing check.
    pub fn pass(name: &'static str, value: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, value, "")
    }

    /// A failing check with what to do about it.
    pub fn fail(name: &'static str, value: impl Into<String>, action: impl Into<String>) -> Check {
        Check::new(name, Status::Fail, value, action)
    }

    /// A check with any status.
    pub fn new(
        name: &'static str,
        status: Status,
        value: impl Into<String>,
        action: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            value: value.into(),
            action: action.into(),
        }
    }

    /// A check not run, and why.
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, why, "")
    }
}

/// The whole checklist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preflight {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Names of the failed checks.
    pub failed: Vec<&'static str>,
    /// `go` or `no-go`.
    pub verdict: &'static str,
}

impl Preflight {
    /// The checklist of `checks` with its verdict.
    pub fn of(checks: Vec<Check>) -> Preflight {
        let failed: Vec<&'static str> = checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect();
        let verdict = if failed.is_empty() { "go" } else { "no-go" };
        Preflight {
            checks,
            failed,
            verdict,
        }
    }

    /// Whether every required check passed.
    pub fn is_go(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Every check after the settings (which the caller loaded): the database at `database_url`,
/// disk, chain, truth sources, miners and the modes. `offline` (or `CHAIN__MODE=offline`)
/// skips every check that needs the network.
pub async fn run_checks(
    settings: &Settings,
    database_url: &str,
    offline: bool,
    now: DateTime<Utc>,
) -> Vec<Check> {
    let mut checks = local::database(database_url).await;
    checks.push(local::disk(
        &settings.data_dir,
        settings.rollout.min_free_disk_gb,
    ));
    let offline_why = if offline {
        Some("offline mode (--offline): not checked")
    } else if settings.chain.mode != "online" {
        Some("offline mode (CHAIN__MODE=offline): not checked")
    } else {
        None
    };
    match offline_why {
        Some(why) => checks.extend(chain::NAMES.iter().map(|n| Check::skip(n, why))),
        None => checks.extend(chain::checks(settings, now).await),
    }
    checks.extend(truth::checks(settings, offline_why.is_none(), now).await);
    checks.push(match offline_why {
        Some(why) => Check::skip("miner_handshake", why),
        None => miner_sample(settings).await,
    });
    checks.extend(local::modes(settings));
    checks
}

/// The miner check with the settings' hotkey, chain and sample size.
async fn miner_sample(settings: &Settings) -> Check {
    const NAME: &str = "miner_handshake";
    let n = settings.rollout.preflight_miner_sample;
    if n == 0 {
        return Check::skip(NAME, "ROLLOUT__PREFLIGHT_MINER_SAMPLE = 0");
    }
    let Some(signer) = settings
        .chain
        .hotkey_file
        .as_deref()
        .and_then(|p| load_hotkey(p).ok())
        .map(|h| h.into_signer())
    else {
        return Check::skip(NAME, "no usable hotkey (see hotkey_file)");
    };
    let c = &settings.chain;
    let options = RpcOptions {
        timeout: Duration::from_secs(c.rpc_timeout_s.min(10)),
        attempts: 2,
        ..RpcOptions::default()
    };
    let nodes = match OnlineChain::new(&c.endpoint, options, c.netuid, None) {
        Ok(chain) => chain.read_metagraph().await,
        Err(e) => Err(e),
    };
    match nodes {
        Ok(nodes) => {
            let scheme = if settings.weather.miner_scheme == "http" {
                "http"
            } else {
                "https"
            };
            miners::handshakes(&miners::sample(&nodes, n, scheme), signer).await
        }
        Err(e) => Check::fail(NAME, format!("metagraph not read: {e}"), "check the node"),
    }
}

/// The table: status, name, value, and the action of a failed or warned check.
pub fn render(p: &Preflight) -> String {
    let mut out = String::new();
    let width = p.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &p.checks {
        let _ = write!(
            out,
            "{:<4}  {:<width$}  {}",
            c.status.word(),
            c.name,
            c.value
        );
        if !c.action.is_empty() && matches!(c.status, Status::Fail | Status::Warn) {
            let _ = write!(out, "  → {}", c.action);
        }
        out.push('\n');
    }
    let skipped = p.checks.iter().filter(|c| c.status == Status::Skip).count();
    let _ = write!(out, "verdict: {}", p.verdict);
    if !p.failed.is_empty() {
        let _ = write!(out, " (failed: {})", p.failed.join(", "));
    }
    if skipped > 0 {
        let _ = write!(out, "; {skipped} skipped (not checked)");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_and_table() {
        let p = Preflight::of(vec![
            Check::pass("settings", "valid"),
            Check::fail("commit_reveal", "enabled", "ask the subnet owner"),
            Check::skip("chain_endpoint", "offline mode"),
            Check::new("weights_mode", Status::Info, "shadow", ""),
        ]);
        assert!(!p.is_go());
        assert_eq!(p.failed, vec!["commit_reveal"]);
        let text = render(&p);
        assert!(
            text.contains("FAIL  commit_reveal   enabled  → ask the subnet owner"),
            "{text}"
        );
        assert!(
            text.contains("SKIP  chain_endpoint  offline mode\n"),
            "{text}"
        );
        assert!(
            text.contains("verdict: no-go (failed: commit_reveal); 1 skipped"),
            "{text}"
        );
        assert!(Preflight::of(vec![Check::pass("a", "b")]).is_go());
        assert_eq!(Status::Info.word(), "INFO");
        assert_eq!(Status::Warn.word(), "WARN");
        assert_eq!(serde_json::to_value(Status::Pass).unwrap(), "pass");
    }
}
