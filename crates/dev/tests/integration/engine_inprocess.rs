//! The IO-Engine used as a library (as the lifecycle tests and the benchmark do): an in-process
//! engine with real worker processes, checking the dispatch contract's edge cases.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gaia_ipc::WorkUnit;
use gaia_validator::io_engine::{DispatchError, IoEngine, IoEngineConfig};
use gaia_validator::runtime::RuntimeDir;

use crate::BIN;

fn config(dir: &std::path::Path) -> (IoEngineConfig, RuntimeDir) {
    let runtime = RuntimeDir::new(dir.join("rt"));
    runtime.create().unwrap();
    let shm = dir.join("shm");
    std::fs::create_dir_all(&shm).unwrap();
    let cfg = IoEngineConfig {
        socket: runtime.socket(),
        runtime: Some(runtime.clone()),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        admin_api: false,
        admin_token: None,
        queue_size: 8,
        max_frame_bytes: 1 << 20,
        shm_dir: shm,
        supervisor_pid: std::process::id(),
        shutdown_grace: Duration::from_secs(2),
        diagnostic_load_jobs_per_s: 0.0,
        diagnostic_unit: None,
        data_dir: None,
        status_page: None,
    };
    (cfg, runtime)
}

fn worker(runtime: &RuntimeDir, name: &str) -> Child {
    Command::new(BIN)
        .args(["compute-worker", "--name", name, "--socket"])
        .arg(runtime.socket())
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_workers(engine: &IoEngine, n: i64) {
    for _ in 0..400 {
        if engine.dispatcher.metrics.workers_connected.get() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("workers did not connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_dispatch_leaves_nothing_and_its_late_result_is_an_orphan() {
    let tmp = tempfile::tempdir().unwrap();
    let (cfg, runtime) = config(tmp.path());
    let engine = IoEngine::start(cfg).await.unwrap();
    let mut w = worker(&runtime, "compute-1");
    wait_workers(&engine, 1).await;
    let d = engine.dispatcher.clone();
    let slow = WorkUnit::new("slow", "sys.sleep", serde_json::json!({"ms": 400}));
    let gave_up = tokio::time::timeout(Duration::from_millis(100), d.dispatch_and_wait(slow)).await;
    assert!(gave_up.is_err(), "the caller gave up first");
    assert_eq!(d.waiting(), 0, "no waiter retained for an abandoned job");
    assert_eq!(d.in_flight(), 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(d.metrics.orphaned_results.get(), 1);
    // The same job id can be used again, and an unknown task is a handler error.
    let again = d
        .dispatch_and_wait(WorkUnit::new("slow", "sys.echo", serde_json::json!(1)))
        .await
        .unwrap();
    assert_eq!(again.result, Some(serde_json::json!(1)));
    match d
        .dispatch_and_wait(WorkUnit::new("x", "no.such.task", serde_json::json!(null)))
        .await
    {
        Err(DispatchError::Handler(r)) => assert!(r.error.unwrap().contains("unknown task")),
        other => panic!("{other:?}"),
    }
    match d
        .dispatch_and_wait(WorkUnit::new("p", "sys.panic", serde_json::json!(null)))
        .await
    {
        Err(DispatchError::Handler(r)) => assert!(
            r.error.unwrap().contains("panicked"),
            "worker survives a panic"
        ),
        other => panic!("{other:?}"),
    }
    assert!(d
        .dispatch_and_wait(WorkUnit::new("q", "sys.echo", serde_json::json!(2)))
        .await
        .is_ok());
    engine.shutdown().await;
    let status = w.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(i32::from(gaia_validator::supervisor::EXIT_WORKER_STOPPED)),
        "a worker told to shut down exits with the code the supervisor does not replace in a drain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_time_out_without_a_worker_and_shutdown_refuses_new_work() {
    let tmp = tempfile::tempdir().unwrap();
    let (cfg, _runtime) = config(tmp.path());
    let engine = IoEngine::start(cfg).await.unwrap();
    let d = engine.dispatcher.clone();
    let mut unit = WorkUnit::new("lonely", "sys.echo", serde_json::json!(null));
    unit.timeout_seconds = 1;
    assert_eq!(
        d.dispatch_and_wait(unit).await,
        Err(DispatchError::Timeout(1))
    );
    assert_eq!(d.queue.depth(), 1, "the cancelled job is skipped lazily");
    assert_eq!(d.waiting(), 0);
    let dup_d = d.clone();
    let first = tokio::spawn(async move {
        dup_d
            .dispatch_and_wait(WorkUnit::new("dup", "sys.echo", serde_json::json!(0)))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = d
        .dispatch_and_wait(WorkUnit::new("dup", "sys.echo", serde_json::json!(0)))
        .await;
    assert_eq!(second, Err(DispatchError::DuplicateJob("dup".into())));
    engine.shutdown().await;
    assert_eq!(
        first.await.unwrap(),
        Err(DispatchError::Shutdown),
        "queued work fails at the end of the grace period"
    );
    assert_eq!(
        d.dispatch_and_wait(WorkUnit::new("late", "sys.echo", serde_json::json!(0)))
            .await,
        Err(DispatchError::Shutdown)
    );
}
