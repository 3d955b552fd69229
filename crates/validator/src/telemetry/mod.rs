//! Telemetry of all three process kinds: JSON log lines, Prometheus metrics and the per-process
//! resource readings (RSS, CPU) both the supervisor and the metrics endpoint use.

pub mod calls;
pub mod disk;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod procstat;
pub mod rollout;
