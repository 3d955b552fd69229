//! Diagnostic compute handlers (`sys.*`) used by tests, benchmarks, the spine demo and soak tests
//! to exercise the pool: echo, sleep, crash, allocate, spin, and a checksum over bytes that arrive
//! either inline (base64 in the payload) or through a shared-memory array.
//!
//! Only the developer binary registers them (`gaia_validator::commands::dispatch` takes
//! [`register`] as its extra jobs): `sys.crash` aborts its worker and `sys.alloc` keeps memory,
//! which a production validator must not offer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use gaia_ipc::SharedArray;
use serde_json::{json, Value};

use gaia_validator::compute::{HandlerError, HandlerOutput, HandlerRegistry, JobContext};

/// Memory kept alive by `sys.alloc` until the worker exits (that is the point of it).
static RETAINED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Register every `sys.*` handler (the developer binary's `ExtraJobs`).
pub fn register(registry: &mut HandlerRegistry) {
    registry.register(
        "sys.echo",
        Box::new(|_, payload| Ok(payload.clone().into())),
    );
    registry.register("sys.sleep", Box::new(|_, p| sleep(p)));
    registry.register("sys.crash", Box::new(|_, _| std::process::abort()));
    registry.register("sys.panic", Box::new(|_, _| panic!("sys.panic requested")));
    registry.register("sys.alloc", Box::new(|_, p| alloc(p)));
    registry.register("sys.spin", Box::new(|_, p| spin(p)));
    registry.register("sys.checksum", Box::new(checksum));
}

fn number(task: &str, payload: &Value, key: &str, max: u64) -> Result<u64, HandlerError> {
    let v = payload
        .get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| HandlerError::BadPayload {
            task: task.into(),
            reason: format!("`{key}` must be a non-negative integer"),
        })?;
    if v > max {
        return Err(HandlerError::BadPayload {
            task: task.into(),
            reason: format!("`{key}` = {v} exceeds {max}"),
        });
    }
    Ok(v)
}

fn sleep(payload: &Value) -> Result<HandlerOutput, HandlerError> {
    let ms = number("sys.sleep", payload, "ms", 86_400_000)?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(json!({ "slept_ms": ms }).into())
}

fn spin(payload: &Value) -> Result<HandlerOutput, HandlerError> {
    let ms = number("sys.spin", payload, "ms", 86_400_000)?;
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
    Ok(json!({ "spun_ms": ms, "rounds": rounds, "state": x }).into())
}

fn alloc(payload: &Value) -> Result<HandlerOutput, HandlerError> {
    let mib = number("sys.alloc", payload, "mib", 64 * 1024)?;
    let bytes =
        usize::try_from(mib << 20).map_err(|_| HandlerError::Failed("size overflow".into()))?;
    // Touch every page so the memory is resident, not just reserved.
    let block = vec![1u8; bytes];
    RETAINED
        .lock()
        .map_err(|_| HandlerError::Failed("allocator lock poisoned".into()))?
        .push(block);
    Ok(json!({ "allocated_mib": mib }).into())
}

fn sum_bytes(bytes: &[u8]) -> u64 {
    bytes
        .chunks(8)
        .map(|c| c.iter().map(|&b| u64::from(b)).sum::<u64>())
        .sum()
}

fn checksum(ctx: &JobContext<'_>, payload: &Value) -> Result<HandlerOutput, HandlerError> {
    if let Some(reference) = ctx.shared.get("data") {
        let array = SharedArray::open(ctx.shm_dir, reference)
            .map_err(|e| HandlerError::Failed(e.to_string()))?;
        let sum = sum_bytes(array.bytes());
        return Ok(json!({ "len": array.bytes().len(), "sum": sum }).into());
    }
    let text = payload
        .get("data_b64")
        .and_then(Value::as_str)
        .ok_or_else(|| HandlerError::BadPayload {
            task: "sys.checksum".into(),
            reason: "needs `data_b64` or a shared array named `data`".into(),
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| HandlerError::BadPayload {
            task: "sys.checksum".into(),
            reason: e.to_string(),
        })?;
    Ok(json!({ "len": bytes.len(), "sum": sum_bytes(&bytes) }).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run(task: &str, payload: Value) -> Result<HandlerOutput, HandlerError> {
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
        assert_eq!(
            run("sys.echo", json!({"a": 1})).unwrap().result,
            json!({"a": 1})
        );
        assert_eq!(
            run("sys.sleep", json!({"ms": 5})).unwrap().result["slept_ms"],
            5
        );
        assert!(
            run("sys.spin", json!({"ms": 5})).unwrap().result["rounds"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(
            run("sys.alloc", json!({"mib": 1})).unwrap().result["allocated_mib"],
            1
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3, 250]);
        assert_eq!(
            run("sys.checksum", json!({"data_b64": b64}))
                .unwrap()
                .result["sum"],
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
                Err(HandlerError::BadPayload { task: t, .. }) => assert_eq!(t, task),
                other => panic!("{task}: expected BadPayload, got {other:?}"),
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
        let out = checksum(&ctx, &json!({})).unwrap();
        assert_eq!(out.result, json!({"len": 4, "sum": 100}));
    }
}
