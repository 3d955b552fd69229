//! The validator's Prometheus metrics, served by the IO-Engine for the whole validator.
//!
//! Who collects what: the IO-Engine records what it sees itself (queue depths, job outcomes and
//! durations, event-loop lag) into [`Metrics`]; per-child figures (RSS, CPU, restarts) are read
//! at scrape time from the supervisor's published state and `/proc` by [`ChildCollector`]; the
//! standard `process_*` metrics of the IO-Engine come from [`ProcessCollector`].

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::runtime::{RuntimeDir, SupervisorState};
use crate::telemetry::calls::CallMetrics;
use crate::telemetry::pipeline::PipelineMetrics;
use crate::telemetry::procstat;
use crate::telemetry::rollout::RolloutMetrics;

/// `queue` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// `work` or `result`.
    pub queue: String,
}

/// `task` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// Handler name.
    pub task: String,
}

/// `task` + `outcome` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Handler name.
    pub task: String,
    /// `success`, `handler_error`, `timeout`, `worker_died`, `shutdown`.
    pub outcome: String,
}

/// Metrics the IO-Engine records.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// `gaia_ipc_queue_depth{queue}`.
    pub queue_depth: Family<QueueLabel, Gauge>,
    /// `gaia_compute_job_duration_seconds{task}`.
    pub job_duration: Family<TaskLabel, Histogram>,
    /// `gaia_compute_jobs_total{task,outcome}`.
    pub jobs_total: Family<OutcomeLabels, Counter>,
    /// `gaia_io_event_loop_lag_seconds`.
    pub event_loop_lag: Histogram,
    /// `gaia_ipc_orphaned_results_total`.
    pub orphaned_results: Counter,
    /// `gaia_ipc_refused_connections_total`.
    pub refused_connections: Counter,
    /// `gaia_compute_workers_connected`.
    pub workers_connected: Gauge,
    /// Weather pipeline, weights and database metrics.
    pub pipeline: PipelineMetrics,
    /// Chain, miner and truth calls; build and weights mode.
    pub calls: CallMetrics,
    /// The scheduled comparison with the control validator.
    pub rollout: RolloutMetrics,
}

fn job_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.5, 16))
}

impl Metrics {
    /// Create the metrics and register them (plus the collectors) in a new registry.
    pub fn new(runtime: Option<RuntimeDir>) -> (Arc<Self>, Registry) {
        let metrics = Self {
            queue_depth: Family::default(),
            job_duration: Family::new_with_constructor(job_histogram),
            jobs_total: Family::default(),
            event_loop_lag: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            orphaned_results: Counter::default(),
            refused_connections: Counter::default(),
            workers_connected: Gauge::default(),
            pipeline: PipelineMetrics::default(),
            calls: CallMetrics::default(),
            rollout: RolloutMetrics::default(),
        };
        for q in ["work", "result"] {
            metrics
                .queue_depth
                .get_or_create(&QueueLabel { queue: q.into() })
                .set(0);
        }
        let mut reg = Registry::default();
        reg.register(
            "gaia_ipc_queue_depth",
            "Items waiting in an IPC queue",
            metrics.queue_depth.clone(),
        );
        reg.register(
            "gaia_compute_job_duration_seconds",
            "Handler execution time of compute jobs",
            metrics.job_duration.clone(),
        );
        reg.register(
            "gaia_compute_jobs",
            "Compute jobs by task and outcome",
            metrics.jobs_total.clone(),
        );
        reg.register(
            "gaia_io_event_loop_lag_seconds",
            "How late the IO-Engine's event loop ran a timer",
            metrics.event_loop_lag.clone(),
        );
        reg.register(
            "gaia_ipc_orphaned_results",
            "Results that arrived after their waiter gave up",
            metrics.orphaned_results.clone(),
        );
        reg.register(
            "gaia_ipc_refused_connections",
            "Worker connections refused (handshake or framing)",
            metrics.refused_connections.clone(),
        );
        reg.register(
            "gaia_compute_workers_connected",
            "Compute workers connected to the IO-Engine",
            metrics.workers_connected.clone(),
        );
        metrics.pipeline.register(&mut reg);
        metrics.calls.register(&mut reg);
        metrics.rollout.register(&mut reg);
        reg.register_collector(Box::new(ProcessCollector));
        if let Some(dir) = runtime {
            reg.register_collector(Box::new(ChildCollector { dir }));
        }
        (Arc::new(metrics), reg)
    }

    /// Count one finished job.
    pub fn record_job(&self, task: &str, outcome: &str, seconds: Option<f64>) {
        let labels = OutcomeLabels {
            task: task.to_string(),
            outcome: outcome.to_string(),
        };
        self.jobs_total.get_or_create(&labels).inc();
        crate::faults::job_finished();
        if let Some(s) = seconds {
            self.job_duration
                .get_or_create(&TaskLabel {
                    task: task.to_string(),
                })
                .observe(s);
        }
    }

    /// Set a queue-depth gauge.
    pub fn set_queue_depth(&self, queue: &str, depth: usize) {
        let depth = i64::try_from(depth).unwrap_or(i64::MAX);
        self.queue_depth
            .get_or_create(&QueueLabel {
                queue: queue.to_string(),
            })
            .set(depth);
    }
}

/// Render a registry in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, registry) {
        Ok(()) => out,
        Err(_) => String::from("# encoding error\n"),
    }
}

fn labels(process: &str) -> Vec<(String, String)> {
    vec![("process".to_string(), process.to_string())]
}

/// Per-child RSS, CPU and restart counters, read at scrape time.
#[derive(Debug)]
pub struct ChildCollector {
    dir: RuntimeDir,
}

impl Collector for ChildCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let state = SupervisorState::read(&self.dir).unwrap_or_default();
        let mut procs: Vec<(String, u32)> = vec![("supervisor".into(), state.supervisor_pid)];
        procs.extend(state.children.iter().map(|c| (c.name.clone(), c.pid)));
        let stats: Vec<(String, procstat::ProcStat)> = procs
            .into_iter()
            .filter(|(_, pid)| *pid != 0)
            .filter_map(|(name, pid)| procstat::read(pid).map(|s| (name, s)))
            .collect();
        let rss = ConstGauge::new(0i64);
        let mut enc = encoder.encode_descriptor(
            "gaia_child_resident_memory_bytes",
            "Resident memory of each validator process",
            None,
            rss.metric_type(),
        )?;
        for (name, s) in &stats {
            let v = i64::try_from(s.rss_bytes).unwrap_or(i64::MAX);
            ConstGauge::new(v).encode(enc.encode_family(&labels(name))?)?;
        }
        let cpu = ConstCounter::new(0f64);
        let mut enc = encoder.encode_descriptor(
            "gaia_child_cpu_seconds",
            "CPU time used by each validator process",
            None,
            cpu.metric_type(),
        )?;
        for (name, s) in &stats {
            ConstCounter::new(s.cpu_seconds).encode(enc.encode_family(&labels(name))?)?;
        }
        let restarts = ConstCounter::new(0u64);
        let mut enc = encoder.encode_descriptor(
            "gaia_child_process_restarts",
            "Restarts of child processes by class",
            None,
            restarts.metric_type(),
        )?;
        for class in ["io-engine", "compute"] {
            let n = state.restarts.get(class).copied().unwrap_or(0);
            ConstCounter::new(n).encode(enc.encode_family(&labels(class))?)?;
        }
        Ok(())
    }
}

/// The standard `process_*` metrics of the current process.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(s) = procstat::read(std::process::id()) else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges: [(&str, &str, f64); 4] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.rss_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.vsize_bytes as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time since the Unix epoch in seconds",
                s.start_time_s,
            ),
            ("process_threads", "Number of OS threads", s.threads as f64),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        if let Some(fds) = procstat::open_fds() {
            let g = ConstGauge::new(fds as i64);
            g.encode(encoder.encode_descriptor(
                "process_open_fds",
                "Open file descriptors",
                None,
                g.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{ChildInfo, ProcessClass};

    #[test]
    fn renders_every_metric_with_child_state() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RuntimeDir::new(tmp.path());
        dir.create().unwrap();
        let me = std::process::id();
        let mut state = SupervisorState {
            supervisor_pid: me,
            ..Default::default()
        };
        state.children.push(ChildInfo {
            name: "compute-1".into(),
            class: ProcessClass::Compute,
            pid: me,
        });
        state.restarts.insert("compute".into(), 3);
        state.write(&dir).unwrap();
        let (m, reg) = Metrics::new(Some(dir));
        m.record_job("sys.echo", "success", Some(0.002));
        m.set_queue_depth("work", 4);
        m.event_loop_lag.observe(0.001);
        let text = render(&reg);
        for needle in [
            "gaia_ipc_queue_depth{queue=\"work\"} 4",
            "gaia_ipc_queue_depth{queue=\"result\"} 0",
            "gaia_compute_job_duration_seconds_count{task=\"sys.echo\"} 1",
            "gaia_compute_jobs_total{task=\"sys.echo\",outcome=\"success\"} 1",
            "gaia_io_event_loop_lag_seconds_count 1",
            "gaia_child_process_restarts_total{process=\"compute\"} 3",
            "gaia_child_process_restarts_total{process=\"io-engine\"} 0",
            "gaia_child_resident_memory_bytes{process=\"compute-1\"}",
            "gaia_child_resident_memory_bytes{process=\"supervisor\"}",
            "gaia_child_cpu_seconds_total{process=\"compute-1\"}",
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
