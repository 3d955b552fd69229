//! Diagnostic jobs (`sys.*`) used by tests, benchmarks, the spine demo and soak tests to exercise
//! the pool: echo, sleep, crash, panic, allocate, spin, and a checksum over bytes that arrive either
//! inline (base64 in the request) or through a shared-memory array.
//!
//! Only the developer binary registers them (`gaia_validator::commands::dispatch` takes
//! [`register`] as its extra jobs): `sys.crash` aborts its worker and `sys.alloc` keeps memory,
//! which a production validator must not offer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use gaia_ipc::SharedArray;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use gaia_ipc::WorkUnit;
use gaia_validator::commands::Extensions;
use gaia_validator::compute::HandlerRegistry;
use gaia_validator::jobs::{ComputeJob, JobContext, JobError};

/// Memory kept alive by `sys.alloc` until the worker exits (that is the point of it).
static RETAINED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The longest `sys.sleep` / `sys.spin` accepted (one day).
const MAX_MS: u64 = 86_400_000;
/// The largest `sys.alloc` accepted (64 GiB).
const MAX_MIB: u64 = 64 * 1024;

/// What the developer binary adds to the validator: the `sys.*` jobs and, as diagnostic load,
/// a steady mix of them ([`diagnostic_unit`]).
pub const EXTENSIONS: Extensions = Extensions {
    extra_jobs: register,
    diagnostic_unit: Some(diagnostic_unit),
};

/// The `n`-th unit of diagnostic load (`DIAGNOSTIC_LOAD_JOBS_PER_S`): every fourth a 5 ms
/// `sys.spin`, the others a `sys.echo`.
pub fn diagnostic_unit(n: u64) -> WorkUnit {
    let id = format!("diag-{n}");
    if n.is_multiple_of(4) {
        // A struct of one integer always serialises.
        let spin = serde_json::to_value(Millis { ms: 5 }).unwrap_or_default();
        WorkUnit::new(id, Spin::TASK, spin)
    } else {
        WorkUnit::new(id, Echo::TASK, Value::from(n))
    }
}

/// Register every `sys.*` job (the developer binary's extra jobs).
pub fn register(registry: &mut HandlerRegistry) {
    registry.register::<Echo>();
    registry.register::<Sleep>();
    registry.register::<Crash>();
    registry.register::<Panic>();
    registry.register::<Alloc>();
    registry.register::<Spin>();
    registry.register::<Checksum>();
}

/// A bound check with the `bad payload` wording of a request that does not decode.
fn at_most(task: &str, key: &str, value: u64, max: u64) -> Result<u64, JobError> {
    if value > max {
        return Err(JobError::internal(format!(
            "bad payload for {task}: `{key}` = {value} exceeds {max}"
        )));
    }
    Ok(value)
}

/// `sys.echo`: answers its request.
#[derive(Debug)]
pub struct Echo;

impl ComputeJob for Echo {
    const TASK: &'static str = "sys.echo";
    type Request = Value;
    type Response = Value;
    fn run(_: &JobContext<'_>, request: Value) -> Result<Value, JobError> {
        Ok(request)
    }
}

/// Request of `sys.sleep` and `sys.spin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Millis {
    /// How long, in milliseconds.
    pub ms: u64,
}

/// Answer of `sys.sleep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slept {
    /// How long it slept.
    pub slept_ms: u64,
}

/// `sys.sleep`: blocks the worker for `ms`.
#[derive(Debug)]
pub struct Sleep;

impl ComputeJob for Sleep {
    const TASK: &'static str = "sys.sleep";
    type Request = Millis;
    type Response = Slept;
    fn run(_: &JobContext<'_>, request: Millis) -> Result<Slept, JobError> {
        let ms = at_most(Self::TASK, "ms", request.ms, MAX_MS)?;
        std::thread::sleep(Duration::from_millis(ms));
        Ok(Slept { slept_ms: ms })
    }
}

/// `sys.crash`: aborts the worker process (a crash the supervisor must absorb).
#[derive(Debug)]
pub struct Crash;

impl ComputeJob for Crash {
    const TASK: &'static str = "sys.crash";
    type Request = Value;
    type Response = Value;
    fn run(_: &JobContext<'_>, _: Value) -> Result<Value, JobError> {
        std::process::abort()
    }
}

/// `sys.panic`: panics inside the handler (the worker must turn it into a failed result).
#[derive(Debug)]
pub struct Panic;

impl ComputeJob for Panic {
    const TASK: &'static str = "sys.panic";
    type Request = Value;
    type Response = Value;
    fn run(_: &JobContext<'_>, _: Value) -> Result<Value, JobError> {
        panic!("sys.panic requested")
    }
}

/// Answer of `sys.spin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spun {
    /// How long it spun.
    pub spun_ms: u64,
    /// Rounds of the xorshift loop.
    pub rounds: u64,
    /// The loop's final state (so the work cannot be optimised away).
    pub state: u64,
}

/// `sys.spin`: burns CPU for `ms`.
#[derive(Debug)]
pub struct Spin;

impl ComputeJob for Spin {
    const TASK: &'static str = "sys.spin";
    type Request = Millis;
    type Response = Spun;
    fn run(_: &JobContext<'_>, request: Millis) -> Result<Spun, JobError> {
        let ms = at_most(Self::TASK, "ms", request.ms, MAX_MS)?;
        let start = Instant::now();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rounds: u64 = 0;
        while start.elapsed() < Duration::from_millis(ms) {
            for _ in 0..1000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
            }
            rounds += 1;
        }
        Ok(Spun {
            spun_ms: ms,
            rounds,
            state: x,
        })
    }
}

/// Request of `sys.alloc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocRequest {
    /// MiB to allocate and keep.
    pub mib: u64,
}

/// Answer of `sys.alloc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocated {
    /// MiB allocated and kept.
    pub allocated_mib: u64,
}

/// `sys.alloc`: allocates, touches and keeps `mib` MiB until the worker exits.
#[derive(Debug)]
pub struct Alloc;

impl ComputeJob for Alloc {
    const TASK: &'static str = "sys.alloc";
    type Request = AllocRequest;
    type Response = Allocated;
    fn run(_: &JobContext<'_>, request: AllocRequest) -> Result<Allocated, JobError> {
        let mib = at_most(Self::TASK, "mib", request.mib, MAX_MIB)?;
        let bytes = usize::try_from(mib << 20).map_err(|_| JobError::internal("size overflow"))?;
        // Touch every page so the memory is resident, not just reserved.
        let block = vec![1u8; bytes];
        RETAINED
            .lock()
            .map_err(|_| JobError::internal("allocator lock poisoned"))?
            .push(block);
        Ok(Allocated { allocated_mib: mib })
    }
}

/// Request of `sys.checksum`: the bytes inline, unless a shared array named `data` is attached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksumRequest {
    /// The bytes, base64.
    #[serde(default)]
    pub data_b64: Option<String>,
}

/// Answer of `sys.checksum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksumAnswer {
    /// Number of bytes.
    pub len: usize,
    /// Sum of the bytes.
    pub sum: u64,
}

/// `sys.checksum`: the length and byte sum of its input.
#[derive(Debug)]
pub struct Checksum;

fn sum_bytes(bytes: &[u8]) -> u64 {
    bytes
        .chunks(8)
        .map(|c| c.iter().map(|&b| u64::from(b)).sum::<u64>())
        .sum()
}

impl ComputeJob for Checksum {
    const TASK: &'static str = "sys.checksum";
    type Request = ChecksumRequest;
    type Response = ChecksumAnswer;
    fn run(ctx: &JobContext<'_>, request: ChecksumRequest) -> Result<ChecksumAnswer, JobError> {
        if let Some(reference) = ctx.shared.get("data") {
            let array = SharedArray::open(ctx.shm_dir, reference).map_err(JobError::internal)?;
            return Ok(ChecksumAnswer {
                len: array.bytes().len(),
                sum: sum_bytes(array.bytes()),
            });
        }
        let bad = |reason: String| {
            JobError::internal(format!("bad payload for {}: {reason}", Self::TASK))
        };
        let text = request
            .data_b64
            .ok_or_else(|| bad("needs `data_b64` or a shared array named `data`".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| bad(e.to_string()))?;
        Ok(ChecksumAnswer {
            len: bytes.len(),
            sum: sum_bytes(&bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaia_ipc::FailureKind;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn run(task: &str, payload: Value) -> Result<Value, JobError> {
        let mut reg = HandlerRegistry::default();
        register(&mut reg);
        let shared = BTreeMap::new();
        let ctx = JobContext {
            job_id: "t",
            shm_dir: std::path::Path::new("/tmp"),
            shared: &shared,
            segment_prefix: "p",
        };
        reg.get(task).unwrap()(&ctx, &payload)
    }

    #[test]
    fn diagnostic_handlers_do_what_they_say() {
        assert_eq!(run("sys.echo", json!({"a": 1})).unwrap(), json!({"a": 1}));
        assert_eq!(run("sys.sleep", json!({"ms": 5})).unwrap()["slept_ms"], 5);
        assert!(
            run("sys.spin", json!({"ms": 5})).unwrap()["rounds"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(
            run("sys.alloc", json!({"mib": 1})).unwrap()["allocated_mib"],
            1
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3, 250]);
        assert_eq!(
            run("sys.checksum", json!({"data_b64": b64})).unwrap()["sum"],
            256
        );
    }

    #[test]
    fn bad_payloads_are_named() {
        for (task, payload) in [
            ("sys.sleep", json!({})),
            ("sys.sleep", json!({"ms": -1})),
            ("sys.alloc", json!({"mib": 1u64 << 40})),
            ("sys.checksum", json!({})),
            ("sys.checksum", json!({"data_b64": "***"})),
        ] {
            match run(task, payload) {
                Err(e) => {
                    assert_eq!(e.kind, FailureKind::Internal, "{task}: {e}");
                    assert!(
                        e.message.starts_with(&format!("bad payload for {task}")),
                        "{e}"
                    );
                }
                other => panic!("{task}: expected a bad payload, got {other:?}"),
            }
        }
    }

    #[test]
    fn checksum_reads_shared_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut arr =
            SharedArray::create(dir.path(), "gaia-1-t-data", &[4], gaia_ipc::Dtype::U8).unwrap();
        arr.bytes_mut().copy_from_slice(&[10, 20, 30, 40]);
        let mut shared = BTreeMap::new();
        shared.insert("data".to_string(), arr.reference().clone());
        let ctx = JobContext {
            job_id: "t",
            shm_dir: dir.path(),
            shared: &shared,
            segment_prefix: "p",
        };
        let out = Checksum::run(&ctx, ChecksumRequest::default()).unwrap();
        assert_eq!(out, ChecksumAnswer { len: 4, sum: 100 });
    }
}
