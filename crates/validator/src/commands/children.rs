//! The hidden child entry points the supervisor starts: `io-engine` and `compute-worker`.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{ChildArgs, GlobalArgs};
use crate::compute::HandlerRegistry;
use crate::compute::{default_registry, worker};
use crate::config;
use crate::io_engine::{DiagnosticUnit, IoEngine, IoEngineConfig};
use crate::runtime::RuntimeDir;
use crate::tasks::runtime::TaskRuntime;
use crate::telemetry::logging;

/// The IO-Engine process: serve until SIGTERM/SIGINT, then drain and exit 0. `diagnostic_unit` is
/// the binary's diagnostic load, if it has one.
pub fn io_engine(
    global: &GlobalArgs,
    args: &ChildArgs,
    diagnostic_unit: Option<DiagnosticUnit>,
) -> anyhow::Result<ExitCode> {
    let settings = config::load(global.config.as_deref())?.settings;
    crate::clock::install(crate::clock::BusinessClock::from_settings(&settings));
    logging::init(
        "io-engine",
        global.service_log_format(),
        &settings.log_level,
    );
    let runtime_root = args
        .socket
        .parent()
        .context("socket path has no directory")?;
    let runtime = RuntimeDir::new(runtime_root);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut config = IoEngineConfig::from_settings(&settings, runtime, args.supervisor_pid)?;
        config.socket = args.socket.clone();
        config.diagnostic_unit = diagnostic_unit;
        let engine = IoEngine::start(config).await?;
        let mut tasks = TaskRuntime::start(
            &settings,
            engine.dispatcher.clone(),
            engine.dispatcher.metrics.clone(),
        )
        .await
        .context("cannot start the validator tasks")?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let lost = tokio::select! {
            _ = term.recv() => None,
            _ = tokio::signal::ctrl_c() => None,
            why = tasks.lock_lost() => Some(why),
        };
        if let Some(why) = lost {
            // Another validator owns the database now: stop at once, without draining.
            tasks.shutdown(Duration::ZERO).await;
            engine.shutdown().await;
            anyhow::bail!(why);
        }
        tracing::info!("IO-Engine received a stop signal");
        tasks
            .shutdown(Duration::from_secs(settings.shutdown_grace_s) / 2)
            .await;
        engine.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A compute worker process: run jobs until it recycles or is told to stop, then exit 0. It offers
/// the production jobs plus whatever `extra_jobs` registers (the developer binary's diagnostics).
pub fn compute_worker(
    global: &GlobalArgs,
    args: &ChildArgs,
    extra_jobs: fn(&mut HandlerRegistry),
) -> anyhow::Result<ExitCode> {
    crate::memory::keep_freed_memory_for_scoring();
    let settings = config::load(global.config.as_deref())?.settings;
    crate::clock::install(crate::clock::BusinessClock::from_settings(&settings));
    logging::init(
        "compute-worker",
        global.service_log_format(),
        &settings.log_level,
    );
    if settings.compute_worker_rlimit_as_mb > 0 {
        let bytes = settings.compute_worker_rlimit_as_mb << 20;
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, bytes, bytes)
            .context("cannot set RLIMIT_AS")?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let cfg = worker::WorkerConfig {
        name: args.name.clone(),
        socket: args.socket.clone(),
        shm_dir: settings.shm_dir.clone(),
        supervisor_pid: args.supervisor_pid,
        max_jobs: worker::jittered_max_jobs(settings.max_jobs_per_worker),
        idle_timeout: Duration::from_secs(settings.worker_queue_timeout_s),
        max_rss_bytes: settings.process_max_rss_mb_compute_worker << 20,
        max_frame_bytes: settings.ipc_max_frame_bytes,
    };
    let mut registry = default_registry();
    extra_jobs(&mut registry);
    let reason = worker::serve(&registry, &cfg, stop);
    tracing::info!(reason = ?reason, "compute worker exiting");
    Ok(match reason {
        // Told to stop: the supervisor must not replace it while the validator drains.
        worker::ExitReason::Shutdown => ExitCode::from(crate::supervisor::EXIT_WORKER_STOPPED),
        _ => ExitCode::SUCCESS,
    })
}
