//! What the soak records while a validator runs: one [`Sample`] every few seconds from the
//! validator's own `/metrics` (event-loop lag histogram, IPC queue depth, compute jobs and their
//! latency) and from `/proc` for each child the supervisor publishes (resident memory, pid), and
//! the chaos events the harness caused.

use serde::{Deserialize, Serialize};

/// One look at the running validator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Wall seconds since the run started.
    pub t: f64,
    /// Simulated days since the business start.
    pub day: f64,
    /// (child name, pid, resident bytes) of every live child.
    pub rss: Vec<(String, u32, u64)>,
    /// Cumulative event-loop lag histogram: (upper bound, count).
    pub lag_buckets: Vec<(f64, f64)>,
    /// Largest `gaia_ipc_queue_depth` of any queue.
    pub queue_depth: f64,
    /// Cumulative compute jobs (sum over labels).
    pub jobs: f64,
    /// Cumulative compute job seconds and count (latency).
    pub job_seconds: (f64, f64),
    /// Restarts per class the supervisors published, summed over supervisor incarnations.
    pub restarts: u64,
    /// Times the harness killed the supervisor and started a new one so far.
    #[serde(default)]
    pub supervisor_restarts: u64,
}

/// Something the harness did to the validator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChaosEvent {
    /// Wall seconds since the run started.
    pub t: f64,
    /// Which kind of event (`super::chaos::KINDS`): `kill_child`, `kill_supervisor`,
    /// `restart_postgres`, `full_disk`, `disk_freed`.
    #[serde(default)]
    pub kind: String,
    /// What: `kill io-engine (pid 123)`, `restart postgres`, what a supervisor kill left.
    pub what: String,
    /// Whether the validator came back from it: a killed process replaced (a new pid under the
    /// same name, a new supervisor with its children and no orphan), PostgreSQL up again, the
    /// disk's space returned.
    pub replaced: bool,
}

/// Sum of every sample line of `name` (any labels).
pub fn sum_of(text: &str, name: &str) -> f64 {
    values(text, name).map(|(_, v)| v).sum()
}

/// Largest sample of `name` (any labels); 0 when none.
pub fn max_of(text: &str, name: &str) -> f64 {
    values(text, name).map(|(_, v)| v).fold(0.0, f64::max)
}

/// The cumulative buckets of histogram `name` (`le` bound, count), ascending.
pub fn buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let bucket = format!("{name}_bucket");
    let mut out: Vec<(f64, f64)> = values(text, &bucket)
        .filter_map(|(labels, v)| {
            let le = labels.split("le=\"").nth(1)?.split('"').next()?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, v))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// `(labels, value)` of every sample line whose metric name is exactly `name`.
fn values<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter_map(move |line| {
        let rest = line.strip_prefix(name)?;
        let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
            let (labels, v) = r.split_once('}')?;
            (labels, v)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            return None;
        };
        Some((labels, value.split_whitespace().next()?.parse().ok()?))
    })
}

/// Quantile `q` of a histogram given as (upper bound, count in that bucket alone), interpolated
/// linearly inside the bucket it falls in as Prometheus' `histogram_quantile` does (the lower
/// bound of the first bucket is 0; a quantile in the `+Inf` bucket is the last finite bound).
/// 0 when empty.
pub fn quantile(bins: &[(f64, f64)], q: f64) -> f64 {
    let total: f64 = bins.iter().map(|b| b.1).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let rank = q * total;
    let (mut seen, mut lower) = (0.0, 0.0);
    for (bound, n) in bins {
        if seen + n >= rank && *n > 0.0 {
            if bound.is_infinite() {
                return lower;
            }
            return lower + (bound - lower) * ((rank - seen) / n).clamp(0.0, 1.0);
        }
        seen += n;
        if bound.is_finite() {
            lower = *bound;
        }
    }
    lower
}

/// Per-bucket counts observed between two cumulative scrapes; a process restart (a count going
/// down) starts from zero again.
pub fn delta(prev: &[(f64, f64)], now: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let reset =
        now.iter().zip(prev).any(|(n, p)| n.1 < p.1 || n.0 != p.0) || prev.len() != now.len();
    let cum: Vec<(f64, f64)> = if reset {
        now.to_vec()
    } else {
        now.iter()
            .zip(prev)
            .map(|(n, p)| (n.0, n.1 - p.1))
            .collect()
    };
    let mut last = 0.0;
    cum.into_iter()
        .map(|(b, c)| {
            let own = (c - last).max(0.0);
            last = c;
            (b, own)
        })
        .collect()
}

/// Resident bytes of `pid` from `/proc/<pid>/statm` (0 when gone).
pub fn rss_of(pid: u32) -> u64 {
    let page = 4096u64;
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |p| p * page)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP x\n\
        gaia_io_event_loop_lag_seconds_bucket{le=\"0.001\"} 90\n\
        gaia_io_event_loop_lag_seconds_bucket{le=\"0.01\"} 99\n\
        gaia_io_event_loop_lag_seconds_bucket{le=\"+Inf\"} 100\n\
        gaia_io_event_loop_lag_seconds_sum 0.3\n\
        gaia_ipc_queue_depth{queue=\"a\"} 3\n\
        gaia_ipc_queue_depth{queue=\"b\"} 7\n\
        gaia_compute_jobs_total{task=\"x\",outcome=\"ok\"} 5\n\
        gaia_compute_jobs_total{task=\"y\",outcome=\"ok\"} 6\n";

    #[test]
    fn metrics_are_read_by_exact_name() {
        assert_eq!(max_of(TEXT, "gaia_ipc_queue_depth"), 7.0);
        assert_eq!(sum_of(TEXT, "gaia_compute_jobs_total"), 11.0);
        assert_eq!(sum_of(TEXT, "gaia_compute_jobs"), 0.0);
        let b = buckets(TEXT, "gaia_io_event_loop_lag_seconds");
        assert_eq!(b.len(), 3);
        let own = delta(&[], &b);
        assert_eq!(own[0], (0.001, 90.0));
        assert_eq!(own[2], (f64::INFINITY, 1.0));
        // 50 of 90 in (0, 1 ms]; the 99th of 100 is the 9th of 9 in (1, 10 ms].
        assert!((quantile(&own, 0.5) - 0.001 * 50.0 / 90.0).abs() < 1e-12);
        assert!((quantile(&own, 0.99) - 0.01).abs() < 1e-12);
        assert_eq!(
            quantile(&own, 1.0),
            0.01,
            "the +Inf bucket gives the last bound"
        );
        assert_eq!(quantile(&[], 0.99), 0.0);
    }

    #[test]
    fn deltas_follow_a_counter_and_restart_after_a_reset() {
        let a = vec![(0.1, 10.0), (1.0, 20.0)];
        let b = vec![(0.1, 15.0), (1.0, 30.0)];
        assert_eq!(delta(&a, &b), vec![(0.1, 5.0), (1.0, 5.0)]);
        let restarted = vec![(0.1, 1.0), (1.0, 1.0)];
        assert_eq!(delta(&b, &restarted), vec![(0.1, 1.0), (1.0, 0.0)]);
        assert!(rss_of(std::process::id()) > 0);
        assert_eq!(rss_of(u32::MAX), 0);
    }
}
