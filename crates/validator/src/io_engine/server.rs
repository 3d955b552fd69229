//! Starting and stopping the IO-Engine: socket listener, result router, HTTP endpoint,
//! event-loop lag monitor, optional diagnostic load, and the graceful drain on shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gaia_ipc::WorkUnit;
use tokio::net::UnixListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::dispatcher::Dispatcher;
use super::http::{router, HttpState};
use crate::config::Settings;
use crate::runtime::RuntimeDir;
use crate::telemetry::metrics::Metrics;

/// What the IO-Engine needs to start.
#[derive(Debug, Clone)]
pub struct IoEngineConfig {
    /// Unix socket for the compute pool.
    pub socket: PathBuf,
    /// Runtime directory shared with the supervisor (metrics of children, kill markers).
    pub runtime: Option<RuntimeDir>,
    /// HTTP address (`/metrics`, `/health`); port 0 picks one.
    pub http_addr: SocketAddr,
    /// Serve `/admin/dispatch`.
    pub admin_api: bool,
    /// The bearer token `/admin/dispatch` requires, if any.
    pub admin_token: Option<String>,
    /// Work/result queue capacity.
    pub queue_size: usize,
    /// Largest IPC frame.
    pub max_frame_bytes: usize,
    /// Shared-memory directory.
    pub shm_dir: PathBuf,
    /// Supervisor PID (segment names).
    pub supervisor_pid: u32,
    /// Seconds in-flight jobs get on shutdown.
    pub shutdown_grace: Duration,
    /// Self-generated diagnostic jobs per second (0 = none).
    pub diagnostic_load_jobs_per_s: f64,
    /// The diagnostic job to generate (the developer binary's); `None` = no diagnostic load.
    pub diagnostic_unit: Option<DiagnosticUnit>,
    /// `DATA_DIR`, whose filesystem's free space `/metrics` shows (`None`: not shown).
    pub data_dir: Option<PathBuf>,
    /// The operator's status page; `None` = off.
    pub status_page: Option<StatusPageConfig>,
}

/// Where and how the IO-Engine serves the status page (`STATUS_ADDR`, `STATUS_TOKEN`).
#[derive(Debug, Clone)]
pub struct StatusPageConfig {
    /// Listen address; port 0 picks one (published in the runtime directory).
    pub addr: SocketAddr,
    /// Token required when set.
    pub token: Option<String>,
    /// Settings the overview shows.
    pub context: crate::operator::OverviewContext,
    /// Compute workers the settings ask for.
    pub workers_configured: usize,
}

/// Builds the `n`-th unit of diagnostic load (the binary that offers diagnostic jobs knows them).
pub type DiagnosticUnit = fn(u64) -> WorkUnit;

impl IoEngineConfig {
    /// Configuration from settings for a socket in `runtime`.
    pub fn from_settings(
        settings: &Settings,
        runtime: RuntimeDir,
        supervisor_pid: u32,
    ) -> Result<Self, std::net::AddrParseError> {
        Ok(Self {
            socket: runtime.socket(),
            runtime: Some(runtime),
            http_addr: settings.metrics_addr.parse()?,
            admin_api: settings.admin_api_enabled,
            admin_token: settings
                .admin_api_token
                .clone()
                .filter(|t| !t.trim().is_empty()),
            queue_size: settings.ipc_queue_size,
            max_frame_bytes: settings.ipc_max_frame_bytes,
            shm_dir: settings.shm_dir.clone(),
            supervisor_pid,
            shutdown_grace: Duration::from_secs(settings.shutdown_grace_s),
            diagnostic_load_jobs_per_s: settings.diagnostic_load_jobs_per_s,
            diagnostic_unit: None,
            data_dir: Some(settings.data_dir.clone()),
            status_page: match settings.status_addr.trim() {
                "" => None,
                addr => Some(StatusPageConfig {
                    addr: addr.parse()?,
                    token: settings
                        .status_token
                        .clone()
                        .filter(|t| !t.trim().is_empty()),
                    context: crate::commands::operator::overview_context(settings, 10),
                    workers_configured: settings.num_compute_workers,
                }),
            },
        })
    }
}

/// A running IO-Engine.
pub struct IoEngine {
    /// The pool; `dispatch_and_wait` lives here.
    pub dispatcher: Arc<Dispatcher>,
    /// Where `/metrics` is served.
    pub http_addr: SocketAddr,
    tasks: JoinSet<()>,
    config: IoEngineConfig,
}

impl std::fmt::Debug for IoEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoEngine")
            .field("http_addr", &self.http_addr)
            .finish()
    }
}

/// Errors starting the IO-Engine.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The socket could not be bound.
    #[error("cannot listen on {path}: {source}")]
    Socket {
        /// Socket path.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The HTTP address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Http {
        /// Address.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
}

impl IoEngine {
    /// Bind the socket and the HTTP address and start every background task.
    pub async fn start(config: IoEngineConfig) -> Result<Self, StartError> {
        let (metrics, mut registry) = Metrics::new(config.runtime.clone());
        if let Some(dir) = &config.data_dir {
            registry.register_collector(Box::new(crate::telemetry::disk::DiskCollector {
                dir: dir.clone(),
            }));
        }
        let dispatcher = Dispatcher::new(
            config.queue_size,
            metrics,
            config.shm_dir.clone(),
            config.supervisor_pid,
        );
        let _ = std::fs::remove_file(&config.socket);
        let listener = UnixListener::bind(&config.socket).map_err(|source| StartError::Socket {
            path: config.socket.clone(),
            source,
        })?;
        let http = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .map_err(|source| StartError::Http {
                addr: config.http_addr,
                source,
            })?;
        let http_addr = http.local_addr().map_err(|source| StartError::Http {
            addr: config.http_addr,
            source,
        })?;
        if let Some(dir) = &config.runtime {
            let _ = RuntimeDir::write_atomic(
                &dir.metrics_addr_file(),
                http_addr.to_string().as_bytes(),
            );
        }
        let mut tasks = JoinSet::new();
        tasks.spawn(dispatcher.clone().route_results());
        tasks.spawn(accept_loop(
            listener,
            dispatcher.clone(),
            config.runtime.clone(),
            config.max_frame_bytes,
        ));
        let app = router(
            HttpState {
                dispatcher: dispatcher.clone(),
                registry: Arc::new(registry),
                admin_token: config.admin_token.as_deref().map(Arc::from),
            },
            config.admin_api,
        );
        let mut stop = dispatcher.shutdown_signal();
        let grace = config.shutdown_grace;
        let d = dispatcher.clone();
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
                // Keep answering while in-flight jobs drain, so their callers get results.
                let until = Instant::now() + grace + Duration::from_secs(1);
                while d.in_flight() > 0 && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            let _ = axum::serve(http, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        if let Some(status) = &config.status_page {
            serve_status_page(status, &dispatcher, config.runtime.as_ref(), &mut tasks).await;
        }
        tasks.spawn(lag_monitor(dispatcher.clone()));
        if let Some(runtime) = config.runtime.clone() {
            tasks.spawn(heartbeat(runtime));
        }
        if config.diagnostic_load_jobs_per_s > 0.0 {
            match config.diagnostic_unit {
                Some(unit) => {
                    tasks.spawn(diagnostic_load(
                        dispatcher.clone(),
                        config.diagnostic_load_jobs_per_s,
                        unit,
                    ));
                }
                None => tracing::warn!(
                    per_second = config.diagnostic_load_jobs_per_s,
                    "DIAGNOSTIC_LOAD_JOBS_PER_S ignored: this binary has no diagnostic jobs \
                     (gaia-dev has)"
                ),
            }
        }
        tracing::info!(socket = %config.socket.display(), %http_addr, "IO-Engine started");
        Ok(Self {
            dispatcher,
            http_addr,
            tasks,
            config,
        })
    }

    /// Graceful stop: refuse new work, let in-flight jobs finish within the grace period, fail
    /// what is left, tell idle workers to exit.
    pub async fn shutdown(mut self) {
        let d = self.dispatcher.clone();
        d.begin_shutdown();
        let until = Instant::now() + self.config.shutdown_grace;
        while d.in_flight() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        d.fail_queued();
        // Give connections a moment to send `Shutdown` and the HTTP server to answer.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let _ = std::fs::remove_file(&self.config.socket);
        tracing::info!(left_in_flight = d.in_flight(), "IO-Engine stopped");
    }
}

/// Bind the status page and serve it until shutdown. A bind failure is logged, not fatal: the
/// page is a read-only convenience and must never keep the validator from scoring.
async fn serve_status_page(
    status: &StatusPageConfig,
    dispatcher: &Arc<Dispatcher>,
    runtime: Option<&RuntimeDir>,
    tasks: &mut JoinSet<()>,
) {
    let listener = match tokio::net::TcpListener::bind(status.addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(addr = %status.addr, error = %e, "cannot listen on STATUS_ADDR; the status page is off");
            return;
        }
    };
    let addr = listener.local_addr().unwrap_or(status.addr);
    if !addr.ip().is_loopback() && status.token.is_none() {
        tracing::warn!(%addr, "the status page listens beyond loopback without STATUS_TOKEN: anyone who reaches the port can read runs, scores and weights");
    }
    if let Some(dir) = runtime {
        let _ = RuntimeDir::write_atomic(&dir.status_addr_file(), addr.to_string().as_bytes());
    }
    let app = super::status_page::router(super::status_page::StatusState {
        dispatcher: dispatcher.clone(),
        store: None,
        context: status.context.clone(),
        workers_configured: status.workers_configured,
        runtime: runtime.cloned(),
        token: status.token.as_deref().map(Arc::from),
    });
    let mut stop = dispatcher.shutdown_signal();
    tasks.spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    tracing::info!(%addr, "status page serving");
}

async fn accept_loop(
    listener: UnixListener,
    dispatcher: Arc<Dispatcher>,
    runtime: Option<RuntimeDir>,
    max_frame: usize,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(super::connection::serve(stream, dispatcher.clone(), runtime.clone(), max_frame));
                }
                Err(e) => {
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Touch the heartbeat file every second from the event loop, for the supervisor's liveness
/// check: a stopped, wedged or starved IO-Engine stops touching it.
async fn heartbeat(runtime: RuntimeDir) {
    let path = runtime.heartbeat_file();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        if let Err(e) = tokio::fs::write(&path, b"").await {
            tracing::warn!(error = %e, path = %path.display(), "cannot write the heartbeat");
        }
    }
}

/// Measure how late a 100 ms timer fires: the event loop's responsiveness.
async fn lag_monitor(dispatcher: Arc<Dispatcher>) {
    let period = Duration::from_millis(100);
    loop {
        let expected = Instant::now() + period;
        tokio::time::sleep_until(expected).await;
        let lag = Instant::now().saturating_duration_since(expected);
        dispatcher.metrics.event_loop_lag.observe(lag.as_secs_f64());
        dispatcher.update_depths();
    }
}

/// Send `unit(n)` for n = 1, 2, … at a steady rate (demo and soak tests), without waiting for
/// one to finish before the next.
async fn diagnostic_load(dispatcher: Arc<Dispatcher>, per_second: f64, unit: DiagnosticUnit) {
    let period = Duration::from_secs_f64(1.0 / per_second.max(0.001));
    let mut ticker = tokio::time::interval(period);
    let mut n: u64 = 0;
    loop {
        ticker.tick().await;
        if dispatcher.is_shutting_down() {
            return;
        }
        n += 1;
        let d = dispatcher.clone();
        let unit = unit(n);
        tokio::spawn(async move {
            let _ = d.dispatch_and_wait(unit).await;
        });
    }
}
