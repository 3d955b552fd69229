//! Metrics of the weather pipeline, the weights and the database, recorded by the IO-Engine's
//! lifecycle runner and served with the rest of [`super::metrics::Metrics`].
//!
//! Every labelled family is touched with its known labels at start, so each name is exported
//! from the first scrape (the dashboard and the alert rules can rely on it).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `status` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// A run or response status.
    pub status: String,
}

/// `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `day1`, `era5` or `overall`.
    pub kind: String,
}

/// `job_type` + `outcome` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LedgerLabels {
    /// Ledger job type, e.g. `weather.day1`.
    pub job_type: String,
    /// `succeeded`, `retry` or `failed`.
    pub outcome: String,
}

/// `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `submitted`, `skipped` or `failed`.
    pub outcome: String,
}

/// `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `idle` or `in_use`.
    pub state: String,
}

/// Pipeline, weights and database metrics.
#[derive(Debug, Clone, Default)]
pub struct PipelineMetrics {
    /// `gaia_weather_runs_total{status}`: runs reaching `created`, `completed`, `failed`, `held` (a validator-side day, per check).
    pub runs: Family<StatusLabel, Counter>,
    /// `gaia_weather_miner_outcomes_total{status}`: response statuses reached.
    pub miner_outcomes: Family<StatusLabel, Counter>,
    /// `gaia_weather_scores_total{kind}`: scores stored.
    pub scores: Family<KindLabel, Counter>,
    /// `gaia_weather_ledger_jobs_total{job_type,outcome}`: lifecycle steps finished.
    pub ledger_jobs: Family<LedgerLabels, Counter>,
    /// `gaia_weights_last_set_timestamp_seconds`: unix time of the last recorded weights.
    pub weights_last_set: Gauge,
    /// `gaia_weights_set_total{outcome}`.
    pub weights_set: Family<OutcomeLabel, Counter>,
    /// `gaia_db_pool_connections{state}`.
    pub db_pool: Family<StateLabel, Gauge>,
    /// `gaia_db_errors_total`.
    pub db_errors: Counter,
    /// `gaia_miner_fetch_requests_total{kind}`: HTTP requests to miners' stores while scoring
    /// (`day1`, `era5`), retries included.
    pub miner_fetch_requests: Family<KindLabel, Counter>,
    /// `gaia_miner_fetch_bytes_total{kind}`: bytes received from miners' stores.
    pub miner_fetch_bytes: Family<KindLabel, Counter>,
    /// `gaia_miner_fetch_retries_total{kind}`: requests retried after a 429, 5xx or timeout.
    pub miner_fetch_retries: Family<KindLabel, Counter>,
}

/// Response statuses touched at start (the terminal and scoring ones).
const MINER_STATUSES: [&str; 7] = [
    "day1_scored",
    "completed",
    "failed",
    "miner_offline",
    "verification_failed",
    "verification_error",
    "era5_scoring_failed",
];

impl PipelineMetrics {
    /// Register every metric in `reg`, each family touched with its known labels.
    pub fn register(&self, reg: &mut Registry) {
        for s in ["created", "completed", "failed"] {
            let _ = self.runs.get_or_create(&status(s));
        }
        for s in MINER_STATUSES {
            let _ = self.miner_outcomes.get_or_create(&status(s));
        }
        for k in ["day1", "era5", "overall"] {
            let _ = self.scores.get_or_create(&KindLabel { kind: k.into() });
        }
        for o in ["submitted", "skipped", "failed"] {
            let _ = self
                .weights_set
                .get_or_create(&OutcomeLabel { outcome: o.into() });
        }
        for s in ["idle", "in_use"] {
            let _ = self.db_pool.get_or_create(&StateLabel { state: s.into() });
        }
        let _ = self.ledger_jobs.get_or_create(&LedgerLabels {
            job_type: "weather.run".into(),
            outcome: "succeeded".into(),
        });
        reg.register(
            "gaia_weather_runs",
            "Weather runs by the status they reached",
            self.runs.clone(),
        );
        reg.register(
            "gaia_weather_miner_outcomes",
            "Miner responses by the status they reached",
            self.miner_outcomes.clone(),
        );
        reg.register(
            "gaia_weather_scores",
            "Scores stored, by kind",
            self.scores.clone(),
        );
        reg.register(
            "gaia_weather_ledger_jobs",
            "Lifecycle steps finished, by job type and outcome",
            self.ledger_jobs.clone(),
        );
        reg.register(
            "gaia_weights_last_set_timestamp_seconds",
            "Unix time of the last weight vector recorded",
            self.weights_last_set.clone(),
        );
        reg.register(
            "gaia_weights_set",
            "Weight settings by outcome",
            self.weights_set.clone(),
        );
        reg.register(
            "gaia_db_pool_connections",
            "Database pool connections by state",
            self.db_pool.clone(),
        );
        reg.register(
            "gaia_db_errors",
            "Database operations that failed",
            self.db_errors.clone(),
        );
        for k in ["day1", "era5"] {
            let kind = KindLabel { kind: k.into() };
            let _ = self.miner_fetch_requests.get_or_create(&kind);
            let _ = self.miner_fetch_bytes.get_or_create(&kind);
            let _ = self.miner_fetch_retries.get_or_create(&kind);
        }
        reg.register(
            "gaia_miner_fetch_requests",
            "HTTP requests to miners' forecast stores while scoring, retries included",
            self.miner_fetch_requests.clone(),
        );
        reg.register(
            "gaia_miner_fetch_bytes",
            "Bytes received from miners' forecast stores while scoring",
            self.miner_fetch_bytes.clone(),
        );
        reg.register(
            "gaia_miner_fetch_retries",
            "Requests to miners' stores retried after a 429, a 5xx or a timeout",
            self.miner_fetch_retries.clone(),
        );
    }

    /// Count what a scoring step fetched from a miner's store.
    pub fn fetched(&self, kind: &str, t: &gaia_scoring::zarr::TransferStats) {
        let kind = KindLabel { kind: kind.into() };
        self.miner_fetch_requests
            .get_or_create(&kind)
            .inc_by(t.requests);
        self.miner_fetch_bytes.get_or_create(&kind).inc_by(t.bytes);
        self.miner_fetch_retries
            .get_or_create(&kind)
            .inc_by(t.retries);
    }

    /// Count a response status reached.
    pub fn miner_outcome(&self, s: &str) {
        self.miner_outcomes.get_or_create(&status(s)).inc();
    }

    /// Count a run status reached.
    pub fn run(&self, s: &str) {
        self.runs.get_or_create(&status(s)).inc();
    }

    /// Count a stored score.
    pub fn score(&self, kind: &str) {
        self.scores
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// Count a finished lifecycle step.
    pub fn ledger_job(&self, job_type: &str, outcome: &str) {
        self.ledger_jobs
            .get_or_create(&LedgerLabels {
                job_type: job_type.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// Record the database pool's connection counts.
    pub fn set_db_pool(&self, size: u32, idle: u32) {
        let in_use = size.saturating_sub(idle);
        self.db_pool
            .get_or_create(&StateLabel {
                state: "idle".into(),
            })
            .set(i64::from(idle));
        self.db_pool
            .get_or_create(&StateLabel {
                state: "in_use".into(),
            })
            .set(i64::from(in_use));
    }
}

fn status(s: &str) -> StatusLabel {
    StatusLabel { status: s.into() }
}
