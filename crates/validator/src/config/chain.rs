//! Settings of the chain layer (`CHAIN__*`): which network and node, the subnet, the validator's
//! identity, the weights mode and timings.
//!
//! Operators know Bittensor's words, so they are accepted: `CHAIN__NETWORK=finney|test|local`
//! fills the endpoint and netuid of a known network (a layer under every explicit setting, so
//! `CHAIN__ENDPOINT` still wins), and the hotkey may be named as a wallet
//! (`CHAIN__WALLET_PATH`/`CHAIN__WALLET_NAME`/`CHAIN__HOTKEY_NAME`, as btcli) instead of a file
//! path. `~` at the start of a path is the home directory. Online mode refuses to start without
//! a hotkey file that exists: signing miner requests with the public development key would make
//! every real miner refuse the validator while shadow mode looks healthy.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::load::{in_range, invalid};
use super::tasks::{one_of, positive};
use super::ConfigError;

/// Settings of the chain layer (`CHAIN__<NAME>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChainSettings {
    /// `offline`: metagraph from `metagraph_file`, weights recorded but not submitted.
    /// `online`: a subtensor node at `endpoint` over JSON-RPC (metagraph, blocks, weights).
    pub mode: String,
    /// `finney` (mainnet: its entrypoint, netuid 57), `test` (testnet: netuid 237) or `local`
    /// (`ws://127.0.0.1:9944`): fills `endpoint` and `netuid` unless they are set explicitly;
    /// empty: neither is filled in.
    pub network: String,
    /// Subtensor node for `mode = online`: `wss://`/`ws://` (websocket, as the public
    /// endpoints) or `https://`/`http://` (JSON-RPC over HTTP POST).
    pub endpoint: String,
    /// Deadline of one JSON-RPC call to the node, in seconds.
    pub rpc_timeout_s: u64,
    /// The subnet (finney 57, testnet 237).
    pub netuid: u16,
    /// `off` (no weights computed), `shadow` (computed and recorded with the call that would be
    /// sent, nothing submitted; the default until an operator turns it on) or `on`.
    pub weights_mode: String,
    /// JSON list of nodes (`uid`, `hotkey`, `coldkey`, `ip`, `port`, ...) for the offline chain.
    pub metagraph_file: Option<PathBuf>,
    /// This validator's Bittensor hotkey file (`~/.bittensor/wallets/<wallet>/hotkeys/<hotkey>`),
    /// which signs fiber requests and weights; required online. Unset: taken from the wallet
    /// names below, else (offline only) the public development key of miner-protocol.md §8.1.
    pub hotkey_file: Option<PathBuf>,
    /// Directory of the Bittensor wallets (btcli's `--wallet.path`), used with `wallet_name`.
    pub wallet_path: String,
    /// Wallet (coldkey) name (btcli's `--wallet.name`): with it, the hotkey file is
    /// `<wallet_path>/<wallet_name>/hotkeys/<hotkey_name>`.
    pub wallet_name: Option<String>,
    /// Hotkey name within the wallet (btcli's `--wallet.hotkey`).
    pub hotkey_name: String,
    /// Cron (UTC) of the metagraph sync.
    pub metagraph_sync_cron: String,
    /// Cron (UTC) of the weights check (weights are set when due, see `weights_interval_blocks`).
    pub weights_check_cron: String,
    /// Blocks between two weight submissions (production: 250).
    pub weights_interval_blocks: u64,
    /// Seconds per block (the offline chain derives block numbers from the clock; the online
    /// chain checks once a block, for ten blocks, whether a weight set was included).
    pub block_time_s: f64,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            mode: "offline".into(),
            network: "finney".into(),
            endpoint: FINNEY_ENDPOINT.into(),
            rpc_timeout_s: 30,
            netuid: 57,
            weights_mode: "shadow".into(),
            metagraph_file: None,
            hotkey_file: None,
            wallet_path: "~/.bittensor/wallets".into(),
            wallet_name: None,
            hotkey_name: "default".into(),
            metagraph_sync_cron: "*/20 * * * *".into(),
            weights_check_cron: "* * * * *".into(),
            weights_interval_blocks: 250,
            block_time_s: 12.0,
        }
    }
}

const FINNEY_ENDPOINT: &str = "wss://entrypoint-finney.opentensor.ai:443";

/// What `CHAIN__NETWORK` fills in (chain.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPreset {
    /// The network's public RPC endpoint.
    pub endpoint: &'static str,
    /// Gaia's netuid on it (`None`: a local chain's subnets are the operator's own).
    pub netuid: Option<u16>,
}

/// The preset of a known network name; `None` for an empty or unknown name (the settings
/// check names an unknown one).
pub fn network_preset(name: &str) -> Option<NetworkPreset> {
    let (endpoint, netuid) = match name {
        "finney" => (FINNEY_ENDPOINT, Some(57)),
        "test" => ("wss://test.finney.opentensor.ai:443/", Some(237)),
        "local" => ("ws://127.0.0.1:9944", None),
        _ => return None,
    };
    Some(NetworkPreset { endpoint, netuid })
}

impl ChainSettings {
    /// Expand `~` in the paths with `home` and derive the hotkey file from the wallet names when
    /// none is given (called once by the loader).
    pub(super) fn resolve_paths(&mut self, home: Option<&str>) {
        self.wallet_path = expand_home(Path::new(&self.wallet_path), home)
            .display()
            .to_string();
        if self.hotkey_file.is_none() {
            if let Some(wallet) = self.wallet_name.as_deref().filter(|w| !w.trim().is_empty()) {
                self.hotkey_file = Some(
                    Path::new(&self.wallet_path)
                        .join(wallet)
                        .join("hotkeys")
                        .join(&self.hotkey_name),
                );
            }
        }
        for path in [&mut self.hotkey_file, &mut self.metagraph_file]
            .into_iter()
            .flatten()
        {
            *path = expand_home(path, home);
        }
    }
}

/// `~` or `~/x` → the home directory (or `~` kept when there is none).
fn expand_home(path: &Path, home: Option<&str>) -> PathBuf {
    let Some(home) = home.filter(|h| !h.is_empty()) else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest) => Path::new(home).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The `CHAIN__*` rules.
pub(super) fn validate(c: &ChainSettings) -> Result<(), ConfigError> {
    one_of("CHAIN__MODE", &c.mode, &["offline", "online"])?;
    if !c.network.is_empty() {
        one_of("CHAIN__NETWORK", &c.network, &["finney", "test", "local"])?;
    }
    if c.mode == "online" {
        let scheme_ok = ["wss://", "ws://", "https://", "http://"]
            .iter()
            .any(|p| c.endpoint.starts_with(p));
        if !scheme_ok {
            return Err(invalid(
                "CHAIN__ENDPOINT",
                &c.endpoint,
                "must start with wss://, ws://, https:// or http://",
            ));
        }
        let Some(hotkey) = &c.hotkey_file else {
            return Err(invalid(
                "CHAIN__HOTKEY_FILE",
                "(unset)",
                "CHAIN__MODE=online needs the validator's hotkey: set CHAIN__HOTKEY_FILE, or \
                 CHAIN__WALLET_NAME (with CHAIN__HOTKEY_NAME and CHAIN__WALLET_PATH as btcli); \
                 without it real miners refuse every request",
            ));
        };
        if !hotkey.is_file() {
            let key = if c.wallet_name.is_some() {
                "CHAIN__WALLET_NAME"
            } else {
                "CHAIN__HOTKEY_FILE"
            };
            return Err(invalid(
                key,
                hotkey.display(),
                "the hotkey file does not exist or is not a readable file (CHAIN__MODE=online)",
            ));
        }
    }
    in_range("CHAIN__RPC_TIMEOUT_S", c.rpc_timeout_s, 1, 600)?;
    one_of(
        "CHAIN__WEIGHTS_MODE",
        &c.weights_mode,
        &["off", "shadow", "on"],
    )?;
    positive("CHAIN__BLOCK_TIME_S", c.block_time_s)?;
    in_range(
        "CHAIN__WEIGHTS_INTERVAL_BLOCKS",
        c.weights_interval_blocks,
        1,
        1_000_000,
    )
}

#[cfg(test)]
mod tests {
    use super::super::load_with_env;
    use super::super::tests::env;

    fn wallets() -> String {
        format!(
            "{}/tests/fixtures/chain/wallets",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn online_chain_settings() {
        let hotkey = format!("{}/gaia/hotkeys/default", wallets());
        let online = |extra: &[(&str, &str)]| {
            let mut vars = vec![("CHAIN__MODE", "online")];
            vars.extend_from_slice(extra);
            load_with_env(None, env(&vars)).map(|l| l.settings)
        };
        let s = online(&[
            ("CHAIN__ENDPOINT", "wss://test.finney.opentensor.ai:443/"),
            ("CHAIN__HOTKEY_FILE", &hotkey),
        ])
        .unwrap();
        assert_eq!(s.chain.endpoint, "wss://test.finney.opentensor.ai:443/");
        assert_eq!(s.chain.rpc_timeout_s, 30);
        let err = online(&[
            ("CHAIN__ENDPOINT", "test.finney.opentensor.ai"),
            ("CHAIN__HOTKEY_FILE", &hotkey),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CHAIN__ENDPOINT"), "{err}");
        let err = online(&[
            ("CHAIN__RPC_TIMEOUT_S", "0"),
            ("CHAIN__HOTKEY_FILE", &hotkey),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("CHAIN__RPC_TIMEOUT_S"), "{err}");
    }

    #[test]
    fn online_mode_refuses_to_start_without_a_hotkey() {
        let err = load_with_env(None, env(&[("CHAIN__MODE", "online")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CHAIN__HOTKEY_FILE") && err.contains("CHAIN__WALLET_NAME"),
            "{err}"
        );
        let err = load_with_env(
            None,
            env(&[
                ("CHAIN__MODE", "online"),
                ("CHAIN__HOTKEY_FILE", "/nonexistent/hotkey"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("CHAIN__HOTKEY_FILE") && err.contains("/nonexistent/hotkey"),
            "{err}"
        );
        let err = load_with_env(
            None,
            env(&[
                ("CHAIN__MODE", "online"),
                ("CHAIN__WALLET_PATH", &wallets()),
                ("CHAIN__WALLET_NAME", "nobody"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("CHAIN__WALLET_NAME") && err.contains("nobody/hotkeys/default"),
            "{err}"
        );
        // Offline, the development key is still allowed (local runs, the demo).
        assert!(load_with_env(None, env(&[])).is_ok());
    }

    #[test]
    fn wallet_names_and_home_give_the_hotkey_file() {
        let home = format!("{}/tests/fixtures/chain", env!("CARGO_MANIFEST_DIR"));
        let s = load_with_env(
            None,
            env(&[
                ("HOME", &home),
                ("CHAIN__MODE", "online"),
                ("CHAIN__WALLET_PATH", "~/wallets"),
                ("CHAIN__WALLET_NAME", "gaia"),
            ]),
        )
        .unwrap()
        .settings;
        assert_eq!(
            s.chain.hotkey_file.unwrap(),
            std::path::Path::new(&home).join("wallets/gaia/hotkeys/default")
        );
        // An explicit file wins over the wallet names; `~` in it is expanded too.
        let s = load_with_env(
            None,
            env(&[
                ("HOME", &home),
                ("CHAIN__HOTKEY_FILE", "~/wallets/gaia/hotkeys/default"),
                ("CHAIN__WALLET_NAME", "other"),
            ]),
        )
        .unwrap()
        .settings;
        assert_eq!(
            s.chain.hotkey_file.unwrap(),
            std::path::Path::new(&home).join("wallets/gaia/hotkeys/default")
        );
    }

    #[test]
    fn the_network_fills_endpoint_and_netuid_unless_set() {
        let load = |vars: &[(&str, &str)]| load_with_env(None, env(vars)).unwrap().settings.chain;
        let c = load(&[("CHAIN__NETWORK", "test")]);
        assert_eq!(
            (c.endpoint.as_str(), c.netuid),
            ("wss://test.finney.opentensor.ai:443/", 237)
        );
        let c = load(&[("CHAIN__NETWORK", "local")]);
        assert_eq!((c.endpoint.as_str(), c.netuid), ("ws://127.0.0.1:9944", 57));
        let c = load(&[
            ("CHAIN__NETWORK", "test"),
            ("CHAIN__ENDPOINT", "ws://10.0.0.5:9944"),
        ]);
        assert_eq!((c.endpoint.as_str(), c.netuid), ("ws://10.0.0.5:9944", 237));
        let c = load(&[("CHAIN__NETWORK", "test"), ("CHAIN__NETUID", "12")]);
        assert_eq!(c.netuid, 12);
        let c = load(&[]);
        assert_eq!(
            (c.endpoint.as_str(), c.netuid),
            ("wss://entrypoint-finney.opentensor.ai:443", 57)
        );
        let err = load_with_env(None, env(&[("CHAIN__NETWORK", "mainnet")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CHAIN__NETWORK") && err.contains("finney"),
            "{err}"
        );
    }
}
