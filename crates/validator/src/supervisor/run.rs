//! The supervisor's loop: reap, restart, check RSS, publish state, drain on signals.

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::budget::{RestartBudget, Verdict};
use super::child::{signal_group, ChildLaunch};
use crate::config::Settings;
use crate::runtime::{ChildInfo, ProcessClass, SupervisorState};
use crate::telemetry::procstat;

/// Clean shutdown.
pub const EXIT_OK: u8 = 0;
/// Could not start.
pub const EXIT_STARTUP: u8 = 1;
/// A class exhausted its restart budget.
pub const EXIT_BUDGET_EXHAUSTED: u8 = 3;
/// Exit code: a setting is invalid (sysexits' `EX_CONFIG`). Restarting cannot help, so the
/// systemd unit (`RestartPreventExitStatus=78`) and pm2 (`stop_exit_codes`) stop retrying.
pub const EXIT_CONFIG: u8 = 78;
/// Exit code of a compute worker that stopped because it was told to (the IO-Engine's shutdown
/// message, SIGTERM): replaced outside a drain like a recycled worker (exit 0), but not during
/// one — only a recycled worker is replaced while the IO-Engine drains.
pub const EXIT_WORKER_STOPPED: u8 = 10;
/// A second signal forced an immediate stop.
pub const EXIT_FORCED: u8 = 130;

const TICK: Duration = Duration::from_millis(100);

/// A second SIGINT/SIGTERM within this time of the first counts as the same request.
const SIGNAL_DEBOUNCE: Duration = Duration::from_secs(1);

struct Slot {
    name: String,
    class: ProcessClass,
    child: Option<Child>,
    restart_at: Option<Instant>,
    /// Set when the supervisor itself asked this child to go (RSS limit).
    expected_exit: Option<&'static str>,
    /// When the running child was started.
    started_at: Instant,
}

impl Slot {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// The supervisor of one validator.
pub struct Supervisor {
    settings: Settings,
    launch: ChildLaunch,
    slots: Vec<Slot>,
    budgets: BTreeMap<ProcessClass, RestartBudget>,
    restarts: BTreeMap<String, u64>,
    recycles: u64,
    shutdown_started: Option<Instant>,
    exit_code: u8,
}

impl Supervisor {
    /// Prepare a supervisor; nothing is started yet.
    pub fn new(settings: Settings, launch: ChildLaunch) -> Self {
        let mut slots = vec![Slot {
            name: "io-engine".into(),
            class: ProcessClass::IoEngine,
            child: None,
            restart_at: None,
            expected_exit: None,
            started_at: Instant::now(),
        }];
        for i in 1..=settings.num_compute_workers {
            slots.push(Slot {
                name: format!("compute-{i}"),
                class: ProcessClass::Compute,
                child: None,
                restart_at: None,
                expected_exit: None,
                started_at: Instant::now(),
            });
        }
        let budget = || {
            RestartBudget::new(
                settings.restart_budget_count,
                Duration::from_secs(settings.restart_budget_window_s),
                Duration::from_secs_f64(settings.restart_backoff_max_s),
            )
        };
        let budgets = [
            (ProcessClass::IoEngine, budget()),
            (ProcessClass::Compute, budget()),
        ]
        .into();
        Self {
            settings,
            launch,
            slots,
            budgets,
            restarts: BTreeMap::new(),
            recycles: 0,
            shutdown_started: None,
            exit_code: EXIT_OK,
        }
    }

    /// Run until shutdown; returns the process exit code.
    pub fn run(mut self) -> u8 {
        let signals = Arc::new(AtomicUsize::new(0));
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut sigs) => {
                let counter = signals.clone();
                std::thread::spawn(move || {
                    for _ in sigs.forever() {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot install signal handlers");
                return EXIT_STARTUP;
            }
        }
        for i in 0..self.slots.len() {
            if let Err(e) = self.start(i) {
                tracing::error!(error = %e, "cannot start a child process");
                self.force_kill_all();
                self.cleanup();
                return EXIT_STARTUP;
            }
        }
        self.publish();
        let check_every = Duration::from_secs(self.settings.supervisor_check_interval_s);
        let mut next_check = Instant::now() + check_every;
        let mut first_signal: Option<Instant> = None;
        loop {
            let received = signals.load(Ordering::SeqCst);
            if received > 1 && first_signal.is_none_or(|t| t.elapsed() < SIGNAL_DEBOUNCE) {
                // The same stop sent twice at once (to the PID and to its group, as coreutils
                // `timeout` and some service managers do) is one request: drain.
                signals.store(1, Ordering::SeqCst);
                first_signal.get_or_insert_with(Instant::now);
                continue;
            }
            match received {
                0 => {}
                1 => {
                    first_signal.get_or_insert_with(Instant::now);
                    self.begin_shutdown("signal received");
                }
                _ => {
                    tracing::warn!("second signal: killing every child now");
                    self.force_kill_all();
                    self.cleanup();
                    return EXIT_FORCED;
                }
            }
            let mut changed = self.reap();
            if let Some(started) = self.shutdown_started {
                if self.slots.iter().all(|s| s.child.is_none()) {
                    self.cleanup();
                    tracing::info!(exit_code = self.exit_code, "supervisor stopped");
                    return self.exit_code;
                }
                self.escalate(started);
            } else {
                changed |= self.restart_due();
                if Instant::now() >= next_check {
                    next_check = Instant::now() + check_every;
                    self.check_memory();
                    self.check_heartbeat();
                }
            }
            if changed {
                self.publish();
            }
            std::thread::sleep(TICK);
        }
    }

    fn start(&mut self, i: usize) -> std::io::Result<()> {
        let slot = &mut self.slots[i];
        let child = self.launch.spawn(slot.class, &slot.name)?;
        tracing::info!(process = %slot.name, pid = child.id(), "started child");
        slot.child = Some(child);
        slot.started_at = Instant::now();
        slot.restart_at = None;
        slot.expected_exit = None;
        Ok(())
    }

    fn restart_due(&mut self) -> bool {
        let now = Instant::now();
        let mut changed = false;
        for i in 0..self.slots.len() {
            if self.slots[i].child.is_none() && self.slots[i].restart_at.is_some_and(|t| t <= now) {
                if let Err(e) = self.start(i) {
                    tracing::error!(process = %self.slots[i].name, error = %e, "restart failed; retrying");
                    self.slots[i].restart_at = Some(now + Duration::from_secs(1));
                }
                changed = true;
            }
        }
        changed
    }

    /// Collect exited children and decide what follows. Returns whether anything changed.
    fn reap(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.slots.len() {
            let Some(child) = self.slots[i].child.as_mut() else {
                continue;
            };
            let pid = child.id();
            let status = match child.try_wait() {
                Ok(Some(status)) => status,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(pid, error = %e, "waitpid failed");
                    continue;
                }
            };
            changed = true;
            let slot = &mut self.slots[i];
            slot.child = None;
            let (name, class, expected) =
                (slot.name.clone(), slot.class, slot.expected_exit.take());
            let engine_alive = self
                .slots
                .iter()
                .any(|s| s.class == ProcessClass::IoEngine && s.child.is_some());
            if self.shutdown_started.is_some()
                && class == ProcessClass::Compute
                && status.success()
                && engine_alive
            {
                // A worker that recycled while the engine still drains queued jobs is replaced,
                // so the drain does not stall for the rest of the grace period.
                self.recycles += 1;
                if let Err(e) = self.start(i) {
                    tracing::warn!(process = %name, error = %e, "cannot replace a recycled worker during shutdown");
                }
                continue;
            }
            if self.shutdown_started.is_some() {
                tracing::info!(process = %name, pid, %status, "child exited during shutdown");
                if class == ProcessClass::IoEngine {
                    // The IO-Engine has drained; workers may stop now.
                    self.signal_class(ProcessClass::Compute, Signal::SIGTERM);
                }
                continue;
            }
            let marker = self.launch.runtime.kill_marker(pid);
            let timed_out = marker.exists();
            let _ = std::fs::remove_file(&marker);
            let stopped = status.code() == Some(i32::from(EXIT_WORKER_STOPPED));
            if class == ProcessClass::Compute && (status.success() || stopped) {
                self.recycles += 1;
                tracing::info!(process = %name, pid, "worker recycled; replacing it");
                self.slots[i].restart_at = Some(Instant::now());
            } else if timed_out || expected.is_some() {
                let why = if timed_out {
                    "job timeout"
                } else {
                    expected.unwrap_or("requested")
                };
                *self.restarts.entry(class.label().into()).or_default() += 1;
                tracing::warn!(process = %name, pid, %status, reason = why, "child replaced");
                self.slots[i].restart_at = Some(Instant::now());
            } else {
                *self.restarts.entry(class.label().into()).or_default() += 1;
                let verdict = self
                    .budgets
                    .get_mut(&class)
                    .map(|b| b.record_crash(Instant::now()));
                match verdict {
                    Some(Verdict::RestartAfter(delay)) => {
                        tracing::error!(process = %name, pid, %status, delay_ms = delay.as_millis() as u64, "child crashed; restarting");
                        self.slots[i].restart_at = Some(Instant::now() + delay);
                    }
                    _ => {
                        let msg = format!(
                            "restart budget exhausted for process class `{}` ({} crashes within {} s); stopping",
                            class.label(),
                            self.settings.restart_budget_count + 1,
                            self.settings.restart_budget_window_s
                        );
                        tracing::error!(process = %name, class = class.label(), "{msg}");
                        eprintln!("gaia-validator: {msg}");
                        self.exit_code = EXIT_BUDGET_EXHAUSTED;
                        self.begin_shutdown("restart budget exhausted");
                    }
                }
            }
        }
        changed
    }

    /// Kill an IO-Engine whose heartbeat is older than the timeout (counted as a crash, so it
    /// is restarted within the restart budget).
    fn check_heartbeat(&mut self) {
        let timeout = Duration::from_secs(self.settings.supervisor_heartbeat_timeout_s);
        let file = self.launch.runtime.heartbeat_file();
        for slot in &mut self.slots {
            let Some(pid) = slot.pid() else { continue };
            if slot.class != ProcessClass::IoEngine || slot.started_at.elapsed() < timeout {
                continue;
            }
            let age = std::fs::metadata(&file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                // Missing or unreadable: as old as the child.
                .unwrap_or_else(|| slot.started_at.elapsed())
                .min(slot.started_at.elapsed());
            if age > timeout {
                tracing::error!(process = %slot.name, pid, age_s = age.as_secs(), "IO-Engine heartbeat stale; killing it for a restart");
                signal_group(pid, Signal::SIGKILL);
            }
        }
    }

    fn check_memory(&mut self) {
        for slot in &mut self.slots {
            let Some(pid) = slot.pid() else { continue };
            let limit_mb = match slot.class {
                ProcessClass::IoEngine => self.settings.process_max_rss_mb_io_engine,
                ProcessClass::Compute => self.settings.process_max_rss_mb_compute_worker,
            };
            let rss = procstat::rss_bytes(pid);
            if rss > limit_mb << 20 && slot.expected_exit.is_none() {
                tracing::warn!(process = %slot.name, pid, rss_bytes = rss, limit_mb, "child over its RSS limit; replacing it");
                slot.expected_exit = Some("rss limit");
                let signal = if slot.class == ProcessClass::IoEngine {
                    Signal::SIGTERM
                } else {
                    Signal::SIGKILL
                };
                signal_group(pid, signal);
            }
        }
    }

    fn begin_shutdown(&mut self, why: &str) {
        if self.shutdown_started.is_some() {
            return;
        }
        tracing::info!(reason = why, "shutting down: draining in-flight jobs");
        self.shutdown_started = Some(Instant::now());
        for slot in &mut self.slots {
            slot.restart_at = None;
        }
        let engine_alive = self
            .slots
            .iter()
            .any(|s| s.class == ProcessClass::IoEngine && s.child.is_some());
        if engine_alive {
            self.signal_class(ProcessClass::IoEngine, Signal::SIGTERM);
        } else {
            self.signal_class(ProcessClass::Compute, Signal::SIGTERM);
        }
    }

    /// Past the grace period, terminate what is left; a little later, kill it.
    fn escalate(&mut self, started: Instant) {
        let grace = Duration::from_secs(self.settings.shutdown_grace_s) + Duration::from_secs(3);
        let elapsed = started.elapsed();
        if elapsed > grace + Duration::from_secs(3) {
            self.force_kill_all();
        } else if elapsed > grace {
            self.signal_class(ProcessClass::IoEngine, Signal::SIGTERM);
            self.signal_class(ProcessClass::Compute, Signal::SIGTERM);
        }
    }

    fn signal_class(&self, class: ProcessClass, signal: Signal) {
        for pid in self
            .slots
            .iter()
            .filter(|s| s.class == class)
            .filter_map(Slot::pid)
        {
            signal_group(pid, signal);
        }
    }

    fn force_kill_all(&mut self) {
        for slot in &mut self.slots {
            if let Some(mut child) = slot.child.take() {
                signal_group(child.id(), Signal::SIGKILL);
                let _ = child.wait();
            }
        }
    }

    fn publish(&self) {
        let mut restarts = self.restarts.clone();
        restarts.insert("recycles".into(), self.recycles);
        let state = SupervisorState {
            supervisor_pid: std::process::id(),
            children: self
                .slots
                .iter()
                .filter_map(|s| {
                    s.pid().map(|pid| ChildInfo {
                        name: s.name.clone(),
                        class: s.class,
                        pid,
                    })
                })
                .collect(),
            restarts,
        };
        if let Err(e) = state.write(&self.launch.runtime) {
            tracing::warn!(error = %e, "cannot publish supervisor state");
        }
    }

    fn cleanup(&self) {
        let prefix = format!("gaia-{}-", std::process::id());
        let removed = gaia_ipc::shm::remove_with_prefix(&self.settings.shm_dir, &prefix);
        if removed > 0 {
            tracing::info!(removed, "removed leftover shared-memory segments");
        }
    }
}
