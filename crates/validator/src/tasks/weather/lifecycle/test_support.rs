//! Test support for the lifecycle steps: a context whose miners are scripted plain-JSON servers
//! on loopback, a run with one response per miner, and hand-made ledger jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Uri;
use chrono::Utc;
use gaia_store::{Job, MinerResponse, NewResponse, NewRun, ResponseStatus, Run};
use serde_json::Value;

use super::WeatherContext;
use crate::miners::client::{MinerClient, PlainJsonTransport};
use crate::miners::url_policy::UrlPolicy;
use crate::tasks::steps::WeatherStep;

/// Answers per endpoint path, used in order; the last one repeats.
pub(crate) type Script = Arc<Mutex<HashMap<String, Vec<Value>>>>;

/// A miner answering `script`; returns its port. An answer `{"__status": 500, "body": {...}}`
/// is sent with that HTTP status and body.
pub(crate) async fn scripted_miner(script: Vec<(&str, Vec<Value>)>) -> u16 {
    let script: Script = Arc::new(Mutex::new(
        script.into_iter().map(|(p, a)| (p.to_owned(), a)).collect(),
    ));
    let app = axum::Router::new()
        .fallback(|State(s): State<Script>, uri: Uri| async move {
            let mut s = s.lock().unwrap();
            let answers = s.get_mut(uri.path()).expect("unscripted endpoint");
            let answer = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            let status = answer
                .get("__status")
                .and_then(Value::as_u64)
                .and_then(|s| axum::http::StatusCode::from_u16(s as u16).ok());
            match status {
                Some(code) => (code, axum::Json(answer["body"].clone())),
                None => (axum::http::StatusCode::OK, axum::Json(answer)),
            }
        })
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A context whose miners are plain-JSON servers on loopback, with a run and a `Received`
/// response per `(uid, port)`.
pub(crate) async fn setup(dir: &std::path::Path, miners: &[(u8, u16)]) -> (WeatherContext, Run) {
    let mut ctx = super::test_context(dir).await;
    ctx.weather.miner_scheme = "http".into();
    ctx.weather.max_poll_attempts = 2;
    ctx.weather.query_retry_delays_s = vec![1];
    ctx.client = MinerClient::new(
        Arc::new(PlainJsonTransport::new().unwrap()),
        UrlPolicy {
            allow_private: true,
        },
    );
    let run = create_run(&ctx).await;
    for &(uid, port) in miners {
        add_miner(&ctx, &run, uid, port, ResponseStatus::Received).await;
    }
    (ctx, run)
}

/// A run initiated now.
pub(crate) async fn create_run(ctx: &WeatherContext) -> Run {
    let now = Utc::now();
    ctx.store
        .create_run(&NewRun {
            run_initiation_time: now,
            target_forecast_time_utc: now,
            gfs_init_time_utc: now,
            gfs_input_metadata: None,
        })
        .await
        .unwrap()
}

/// Register miner `uid` (hotkey `hk<uid>`) at 127.0.0.1:`port` with a `status` response in `run`.
pub(crate) async fn add_miner(
    ctx: &WeatherContext,
    run: &Run,
    uid: u8,
    port: u16,
    status: ResponseStatus,
) -> MinerResponse {
    let now = Utc::now();
    let node = crate::chain::MetagraphNode {
        uid,
        hotkey: format!("hk{uid}"),
        coldkey: String::new(),
        ip: "127.0.0.1".into(),
        port,
        stake: 0.0,
        incentive: 0.0,
        trust: 0.0,
        vtrust: 0.0,
        validator_permit: false,
    };
    ctx.store.upsert_node(&node.to_record(now)).await.unwrap();
    ctx.store
        .upsert_response(&NewResponse {
            run_id: run.id,
            miner_uid: uid,
            miner_hotkey: format!("hk{uid}"),
            job_id: None,
            zarr_url: None,
            verification_hash_claimed: None,
            status,
            response_time: now,
        })
        .await
        .unwrap()
}

/// The ledger job of `step` at its `attempts`-th run.
pub(crate) fn job(step: WeatherStep, attempts: i32) -> Job {
    crate::tasks::steps::tests::claimed(&step.step().new_job(30, Utc::now()), attempts)
}

pub(crate) async fn settled(ctx: &WeatherContext, run: &Run, uid: u8) -> (ResponseStatus, String) {
    let r = ctx.response_of(run.id, uid).await.unwrap();
    (r.status, r.error_message.unwrap_or_default())
}

/// A compute pool for a test context: the IO-Engine on a socket in the test directory and one
/// in-process worker thread serving the production handlers. Dropping it stops the worker.
pub(crate) struct TestPool {
    engine: Option<crate::io_engine::IoEngine>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl TestPool {
    /// Stop the worker and the IO-Engine.
    pub(crate) async fn shutdown(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        if let Some(w) = self.worker.take() {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

/// [`super::test_context`] whose compute calls run in a real pool (IPC over a Unix socket).
pub(crate) async fn pooled_context(dir: &std::path::Path) -> (WeatherContext, TestPool) {
    use crate::compute::worker::{serve, WorkerConfig};
    use crate::io_engine::{IoEngine, IoEngineConfig};
    let mut ctx = super::test_context(dir).await;
    let socket = dir.join("io.sock");
    let config = IoEngineConfig {
        socket: socket.clone(),
        runtime: None,
        http_addr: "127.0.0.1:0".parse().unwrap(),
        admin_api: false,
        admin_token: None,
        queue_size: 64,
        max_frame_bytes: 16 * 1024 * 1024,
        shm_dir: dir.to_path_buf(),
        supervisor_pid: std::process::id(),
        shutdown_grace: std::time::Duration::from_secs(1),
        diagnostic_load_jobs_per_s: 0.0,
        diagnostic_unit: None,
        data_dir: None,
        status_page: None,
    };
    let engine = IoEngine::start(config).await.unwrap();
    ctx.dispatcher = engine.dispatcher.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cfg = WorkerConfig {
        name: "compute-test".into(),
        socket,
        shm_dir: dir.to_path_buf(),
        supervisor_pid: std::process::id(),
        max_jobs: u64::MAX,
        idle_timeout: std::time::Duration::from_secs(3600),
        max_rss_bytes: u64::MAX,
        max_frame_bytes: 16 * 1024 * 1024,
    };
    let worker_stop = stop.clone();
    let worker = std::thread::spawn(move || {
        let registry = crate::compute::default_registry();
        serve(&registry, &cfg, worker_stop);
    });
    (
        ctx,
        TestPool {
            engine: Some(engine),
            stop,
            worker: Some(worker),
        },
    )
}
