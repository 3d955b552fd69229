//! What the validator asks of the outside world, counted: chain JSON-RPC calls, miner requests
//! and truth downloads (requests by outcome, latency, bytes), plus two facts an alert or a
//! dashboard needs to read the rest: the build (`gaia_build_info`) and the weights mode
//! (`gaia_weights_mode`, so the no-weights alert stays silent in shadow mode).
//!
//! [`CallMetrics`] is cheap to clone (every family is shared); the chain client, the miner client
//! and the truth fetchers each hold one when the IO-Engine runs them, none in by-hand commands.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `op` + `outcome` labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpOutcome {
    /// What was asked: the RPC method, the miner endpoint, the truth source kind.
    pub op: String,
    /// `ok` or the failure class (`timeout`, `transport`, `remote_error`, `malformed`, ...).
    pub outcome: String,
}

/// `op` label of a latency histogram or byte counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabel {
    /// As in [`OpOutcome::op`].
    pub op: String,
}

/// `mode` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabel {
    /// `off`, `shadow` or `on`.
    pub mode: String,
}

/// Labels of `gaia_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// Crate version.
    pub version: String,
    /// `release` or `debug`.
    pub profile: String,
}

/// The JSON-RPC methods the chain client calls.
const CHAIN_METHODS: [&str; 9] = [
    "chain_getBlockHash",
    "chain_getHeader",
    "state_getStorage",
    "state_queryStorageAt",
    "state_getKeysPaged",
    "state_getRuntimeVersion",
    "state_getMetadata",
    "system_accountNextIndex",
    "author_submitExtrinsic",
];

/// The weather endpoints of a miner.
const MINER_ENDPOINTS: [&str; 3] = [
    "/weather-initiate-fetch",
    "/weather-poll-job-status",
    "/weather-kerchunk-request",
];

/// The truth download kinds.
const TRUTH_OPS: [&str; 2] = ["zarr_http", "gfs_opendap"];

/// One kind of outbound call: requests by outcome and their latency.
#[derive(Debug, Clone)]
pub struct CallFamily {
    requests: Family<OpOutcome, Counter>,
    duration: Family<OpLabel, Histogram>,
}

impl Default for CallFamily {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.5, 12))
            }),
        }
    }
}

impl CallFamily {
    /// Count one call of `op` that ended with `outcome` after `seconds`.
    pub fn observe(&self, op: &str, outcome: &str, seconds: f64) {
        self.requests
            .get_or_create(&OpOutcome {
                op: op.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&OpLabel { op: op.to_string() })
            .observe(seconds);
    }

    /// Create the `ok` counter and the histogram of `op` at zero.
    fn touch(&self, op: &str) {
        let _ = self.requests.get_or_create(&OpOutcome {
            op: op.to_string(),
            outcome: "ok".to_string(),
        });
        let _ = self.duration.get_or_create(&OpLabel { op: op.to_string() });
    }

    fn register(&self, reg: &mut Registry, name: &str, what: &str) {
        reg.register(
            format!("{name}_requests"),
            format!("{what} by outcome"),
            self.requests.clone(),
        );
        reg.register(
            format!("{name}_duration_seconds"),
            format!("Latency of {what}"),
            self.duration.clone(),
        );
    }
}

/// The validator's outbound-call metrics.
#[derive(Debug, Clone, Default)]
pub struct CallMetrics {
    /// `gaia_chain_rpc_requests_total{op,outcome}`, `gaia_chain_rpc_duration_seconds{op}`: one
    /// per JSON-RPC call (after its retries), `op` = the method.
    pub chain: CallFamily,
    /// `gaia_miner_requests_total{op,outcome}`, `gaia_miner_duration_seconds{op}`: weather
    /// endpoint calls to miners, `op` = the endpoint.
    pub miner: CallFamily,
    /// `gaia_truth_download_requests_total{op,outcome}`,
    /// `gaia_truth_download_duration_seconds{op}`: truth GETs, `op` = `zarr_http` (ERA5 and
    /// climatology mirrors) or `gfs_opendap`.
    pub truth: CallFamily,
    /// `gaia_truth_download_bytes_total{op}`.
    pub truth_bytes: Family<OpLabel, Counter>,
    /// `gaia_weights_mode{mode}`: 1 for the mode in force, 0 for the others.
    pub weights_mode: Family<ModeLabel, Gauge>,
    /// `gaia_build_info{version,profile}` = 1.
    pub build_info: Family<BuildLabels, Gauge>,
}

impl CallMetrics {
    /// Register every metric in `reg`; the build info is set here. The known operations start
    /// at zero, so a rate or ratio exists from the first scrape on (and alerts see it).
    pub fn register(&self, reg: &mut Registry) {
        for (family, ops) in [
            (&self.chain, CHAIN_METHODS.as_slice()),
            (&self.miner, MINER_ENDPOINTS.as_slice()),
            (&self.truth, TRUTH_OPS.as_slice()),
        ] {
            for op in ops {
                family.touch(op);
            }
        }
        for op in TRUTH_OPS {
            let _ = self.truth_bytes.get_or_create(&OpLabel { op: op.into() });
        }
        for m in ["off", "shadow", "on"] {
            let _ = self
                .weights_mode
                .get_or_create(&ModeLabel { mode: m.into() });
        }
        self.chain
            .register(reg, "gaia_chain_rpc", "Chain JSON-RPC calls");
        self.miner.register(reg, "gaia_miner", "Requests to miners");
        self.truth
            .register(reg, "gaia_truth_download", "Truth data downloads");
        reg.register(
            "gaia_truth_download_bytes",
            "Bytes of truth data downloaded",
            self.truth_bytes.clone(),
        );
        reg.register(
            "gaia_weights_mode",
            "Weights mode in force (1) and the others (0)",
            self.weights_mode.clone(),
        );
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        self.build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
                profile: profile.to_string(),
            })
            .set(1);
        reg.register(
            "gaia_build_info",
            "The validator's version (value 1)",
            self.build_info.clone(),
        );
    }

    /// Record the weights mode in force (`CHAIN__WEIGHTS_MODE`).
    pub fn set_weights_mode(&self, mode: &str) {
        for m in ["off", "shadow", "on"] {
            self.weights_mode
                .get_or_create(&ModeLabel { mode: m.into() })
                .set(i64::from(m == mode));
        }
    }

    /// Count one truth GET of `op` with its outcome, size and latency.
    pub fn truth_download(&self, op: &str, outcome: &str, bytes: u64, seconds: f64) {
        self.truth.observe(op, outcome, seconds);
        self.truth_bytes
            .get_or_create(&OpLabel { op: op.to_string() })
            .inc_by(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_render_with_their_labels() {
        let m = CallMetrics::default();
        let mut reg = Registry::default();
        m.register(&mut reg);
        m.chain.observe("chain_getBlockHash", "ok", 0.01);
        m.miner.observe("/weather-poll-job-status", "timeout", 3.0);
        m.truth_download("zarr_http", "ok", 1234, 0.2);
        m.set_weights_mode("shadow");
        let text = crate::telemetry::metrics::render(&reg);
        for line in [
            "gaia_chain_rpc_requests_total{op=\"chain_getBlockHash\",outcome=\"ok\"} 1",
            "gaia_miner_requests_total{op=\"/weather-poll-job-status\",outcome=\"timeout\"} 1",
            "gaia_truth_download_bytes_total{op=\"zarr_http\"} 1234",
            "gaia_weights_mode{mode=\"shadow\"} 1",
            "gaia_weights_mode{mode=\"on\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(text.contains("gaia_build_info{version=\""), "{text}");
        assert!(text.contains("gaia_chain_rpc_duration_seconds_count{op=\"chain_getBlockHash\"} 1"));
    }
}
