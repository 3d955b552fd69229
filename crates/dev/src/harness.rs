//! Test harness: a real `run` process (supervisor, IO-Engine, workers) in its own process group,
//! with a private runtime directory, shared-memory directory and metrics port, driven over HTTP on
//! loopback through the admin dispatch endpoint.
//!
//! The caller names the binary: the validator's tests start the production `gaia-validator`
//! (production jobs only), this crate's tests start `gaia-dev` (the same supervisor, IO-Engine and
//! workers, whose workers also offer the diagnostic `sys.*` jobs).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use gaia_validator::runtime::{RuntimeDir, SupervisorState};
use serde_json::Value;

/// A running validator (`<bin> run`); stopped (SIGTERM, then SIGKILL of every process group it
/// started) when dropped.
#[derive(Debug)]
pub struct Validator {
    /// The supervisor process.
    pub child: Child,
    /// The private directory: runtime, shared memory, data, log.
    pub tmp: tempfile::TempDir,
    /// The runtime directory (socket, published state, metrics address).
    pub runtime: RuntimeDir,
    /// The shared-memory directory.
    pub shm_dir: PathBuf,
    /// The stderr of every process (JSON log lines).
    pub log: PathBuf,
}

/// One plain HTTP/1.0 request to `addr`; returns the body.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

impl Validator {
    /// Start `<bin> --log-format json run` with test settings overridden by `env`, and wait until
    /// /health answers and its workers (`NUM_COMPUTE_WORKERS`, default 2) are connected.
    pub fn start(bin: impl AsRef<OsStr>, env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let runtime = RuntimeDir::new(tmp.path().join("rt"));
        let shm_dir = tmp.path().join("shm");
        std::fs::create_dir_all(&shm_dir).unwrap();
        let log = tmp.path().join("validator.log");
        let mut cmd = Command::new(bin);
        cmd.args(["--log-format", "json", "run"])
            .current_dir(tmp.path())
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("STATUS_ADDR", "127.0.0.1:0")
            .env("RUNTIME_DIR", runtime.root())
            .env("SHM_DIR", &shm_dir)
            .env("DATA_DIR", tmp.path().join("data"))
            .env("ADMIN_API_ENABLED", "true")
            .env("NUM_COMPUTE_WORKERS", "2")
            .env("SUPERVISOR_CHECK_INTERVAL_S", "1")
            .env("SHUTDOWN_GRACE_S", "10")
            .env("LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .process_group(0);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let workers = env
            .iter()
            .find(|(k, _)| *k == "NUM_COMPUTE_WORKERS")
            .map_or(2, |(_, v)| v.parse().unwrap_or(2));
        let child = cmd.spawn().unwrap();
        let v = Self {
            child,
            tmp,
            runtime,
            shm_dir,
            log,
        };
        v.wait_ready(workers);
        v
    }

    /// PID of the supervisor.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The metrics/admin address the IO-Engine published (empty until it did).
    pub fn addr(&self) -> String {
        std::fs::read_to_string(self.runtime.metrics_addr_file()).unwrap_or_default()
    }

    /// The status page's address the IO-Engine published (empty until it did, or when off).
    pub fn status_addr(&self) -> String {
        std::fs::read_to_string(self.runtime.status_addr_file()).unwrap_or_default()
    }

    /// The supervisor's published state (default when not readable).
    pub fn state(&self) -> SupervisorState {
        SupervisorState::read(&self.runtime).unwrap_or_default()
    }

    /// PID of the child named `name` (`io-engine`, `compute-1`, ...).
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.state()
            .children
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.pid)
    }

    /// Wait until /health answers and `workers` workers are connected.
    pub fn wait_ready(&self, workers: i64) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(body) = http(&self.addr(), "GET", "/health", None) {
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    if v["workers_connected"].as_i64().unwrap_or(0) >= workers {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < until,
                "validator not ready; log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Dispatch one unit through `/admin/dispatch`; returns the parsed answer.
    pub fn dispatch(&self, unit: &Value) -> Value {
        let body = http(
            &self.addr(),
            "POST",
            "/admin/dispatch",
            Some(&unit.to_string()),
        )
        .unwrap();
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad dispatch answer {body:?}: {e}"))
    }

    /// One `/metrics` scrape (empty on failure).
    pub fn metrics(&self) -> String {
        http(&self.addr(), "GET", "/metrics", None).unwrap_or_default()
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send `sig` to the supervisor.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig).unwrap();
    }

    /// Wait up to `within` for the supervisor to exit.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Wait until `cond` holds on the published state.
    pub fn wait_state(
        &self,
        what: &str,
        within: Duration,
        cond: impl Fn(&SupervisorState) -> bool,
    ) -> SupervisorState {
        let until = Instant::now() + within;
        loop {
            let s = self.state();
            if cond(&s) {
                return s;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; state {s:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        // A graceful stop first, so every process writes its coverage profile; then make sure.
        let pids: Vec<u32> = self.state().children.iter().map(|c| c.pid).collect();
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = self.wait_exit(Duration::from_secs(3));
        }
        for pid in pids.into_iter().chain([self.pid()]) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

/// A work unit as `/admin/dispatch` takes it.
pub fn unit(job_id: &str, task: &str, payload: Value) -> Value {
    serde_json::json!({ "job_id": job_id, "task_name": task, "payload": payload })
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may itself hold spaces; a
        // zombie (Z) or a dead task (X) is not alive.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Value of a metric sample line that starts with `prefix`.
pub fn metric_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}
