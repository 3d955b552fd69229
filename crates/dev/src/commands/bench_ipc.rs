//! `bench ipc`: figures for the IO-Engine ↔ worker contract, measured in one run:
//! no-op round-trip latency (p50/p99) and throughput with 1 and N workers, and a 64 MiB array
//! passed through shared memory versus inline through the socket.

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use gaia_ipc::{Dtype, SharedArray, WorkUnit};

use gaia_validator::io_engine::{Dispatcher, IoEngine, IoEngineConfig};
use gaia_validator::jobs::ComputeJob;
use gaia_validator::runtime::RuntimeDir;

use crate::sys_handlers::{Checksum, ChecksumRequest, Echo};

/// A `sys.checksum` request (a struct of one optional string always serialises).
fn checksum_request(data_b64: Option<String>) -> serde_json::Value {
    serde_json::to_value(ChecksumRequest { data_b64 }).unwrap_or_default()
}

const BIG_FRAME: usize = 256 << 20;

fn spawn_workers(n: usize, runtime: &RuntimeDir) -> anyhow::Result<Vec<Child>> {
    let exe = std::env::current_exe()?;
    (1..=n)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--log-format",
                    "json",
                    "compute-worker",
                    "--name",
                    &format!("bench-{i}"),
                ])
                .arg("--socket")
                .arg(runtime.socket())
                .arg("--supervisor-pid")
                .arg(std::process::id().to_string())
                .env("MAX_JOBS_PER_WORKER", "1000000")
                .env("IPC_MAX_FRAME_BYTES", BIG_FRAME.to_string())
                .env("LOG_LEVEL", "warn")
                .stdin(Stdio::null())
                .spawn()
                .context("cannot start a bench worker")
        })
        .collect()
}

async fn wait_connected(d: &Dispatcher, n: i64) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(20);
    while d.metrics.workers_connected.get() < n {
        if Instant::now() > until {
            bail!("workers did not connect");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).copied().unwrap_or(f64::NAN)
}

async fn latency(d: &Dispatcher, rounds: usize) -> anyhow::Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let unit = WorkUnit::new(format!("lat-{i}"), Echo::TASK, serde_json::Value::Null);
        let t = Instant::now();
        d.dispatch_and_wait(unit)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

async fn throughput(
    d: &Arc<Dispatcher>,
    jobs: usize,
    concurrency: usize,
    tag: &str,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for c in 0..concurrency {
        let d = d.clone();
        let tag = tag.to_string();
        set.spawn(async move {
            let mut i = c;
            while i < jobs {
                let unit = WorkUnit::new(format!("{tag}-{i}"), Echo::TASK, serde_json::Value::Null);
                d.dispatch_and_wait(unit)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                i += concurrency;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(jobs as f64 / start.elapsed().as_secs_f64())
}

async fn big_array(
    d: &Dispatcher,
    shm_dir: &std::path::Path,
    rounds: usize,
) -> anyhow::Result<(f64, f64)> {
    let len = 64usize << 20;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut shm_ms = Vec::new();
    let mut sock_ms = Vec::new();
    for r in 0..rounds {
        let t = Instant::now();
        let name = format!(
            "{}bench-{r}",
            gaia_ipc::shm::job_prefix(std::process::id(), "bench")
        );
        let mut arr = SharedArray::create(shm_dir, &name, &[len], Dtype::U8)?;
        arr.bytes_mut().copy_from_slice(&data);
        let mut unit = WorkUnit::new(format!("shm-{r}"), Checksum::TASK, checksum_request(None));
        unit.shared_data = Some([("data".to_string(), arr.reference().clone())].into());
        d.dispatch_and_wait(unit)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(arr);
        shm_ms.push(t.elapsed().as_secs_f64() * 1e3);

        let t = Instant::now();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let unit = WorkUnit::new(
            format!("sock-{r}"),
            Checksum::TASK,
            checksum_request(Some(b64)),
        );
        d.dispatch_and_wait(unit)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        sock_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    shm_ms.sort_by(f64::total_cmp);
    sock_ms.sort_by(f64::total_cmp);
    Ok((percentile(&shm_ms, 0.5), percentile(&sock_ms, 0.5)))
}

async fn bench_with(
    workers: usize,
    tmp: &std::path::Path,
    shm_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let runtime = RuntimeDir::new(tmp.join(format!("w{workers}")));
    runtime.create()?;
    let config = IoEngineConfig {
        socket: runtime.socket(),
        runtime: Some(runtime.clone()),
        http_addr: "127.0.0.1:0".parse()?,
        admin_api: false,
        admin_token: None,
        queue_size: 1000,
        max_frame_bytes: BIG_FRAME,
        shm_dir: shm_dir.to_path_buf(),
        supervisor_pid: std::process::id(),
        shutdown_grace: Duration::from_secs(5),
        diagnostic_load_jobs_per_s: 0.0,
        diagnostic_unit: None,
        data_dir: None,
        status_page: None,
    };
    let engine = IoEngine::start(config).await?;
    let mut children = spawn_workers(workers, &runtime)?;
    let d = engine.dispatcher.clone();
    wait_connected(&d, workers as i64).await?;
    latency(&d, 500).await?; // warm-up
    let (p50, p99) = latency(&d, 5000).await?;
    let rate = throughput(&d, 40_000, 64, &format!("tp{workers}")).await?;
    println!("workers={workers}  no-op round trip p50={p50:.1} µs  p99={p99:.1} µs  throughput={rate:.0} jobs/s");
    if workers == 1 {
        let (shm, sock) = big_array(&d, shm_dir, 5).await?;
        println!(
            "64 MiB array: shared memory {shm:.1} ms, socket (base64 JSON) {sock:.1} ms  → shared memory {:.1}× faster",
            sock / shm
        );
    }
    engine.shutdown().await;
    for c in &mut children {
        let _ = c.wait();
    }
    Ok(())
}

/// Run the IPC benchmark and print its figures.
pub fn run() -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let shm_dir = std::path::PathBuf::from("/dev/shm");
    let shm_dir = if shm_dir.is_dir() {
        shm_dir
    } else {
        tmp.path().to_path_buf()
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "bench ipc on {cores} cores (engine: 2 tokio threads; workers are separate processes)"
    );
    rt.block_on(async {
        bench_with(1, tmp.path(), &shm_dir).await?;
        bench_with(cores, tmp.path(), &shm_dir).await
    })?;
    Ok(ExitCode::SUCCESS)
}
