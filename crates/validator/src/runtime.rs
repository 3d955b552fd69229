//! The runtime directory the supervisor shares with its children, and the state it publishes.
//!
//! Layout: `engine.sock` (the IO-Engine's socket for the compute pool), `supervisor.json`
//! (children, their PIDs and restart counts, rewritten atomically by the supervisor and read by
//! the IO-Engine's metrics endpoint), `metrics.addr` (the address the IO-Engine bound, for tools
//! and tests when port 0 was asked) and `killed/<pid>` markers (the IO-Engine killed that worker
//! because its job timed out; the supervisor replaces it without counting a crash).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Paths inside one runtime directory.
#[derive(Debug, Clone)]
pub struct RuntimeDir {
    root: PathBuf,
}

impl RuntimeDir {
    /// Wrap an existing directory.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The IO-Engine's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.root.join("engine.sock")
    }

    /// The supervisor's published state.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("supervisor.json")
    }

    /// The address the metrics endpoint listens on.
    pub fn metrics_addr_file(&self) -> PathBuf {
        self.root.join("metrics.addr")
    }

    /// The address the status page listens on (absent when it is off).
    pub fn status_addr_file(&self) -> PathBuf {
        self.root.join("status.addr")
    }

    /// The file the IO-Engine touches every second (its modification time is the heartbeat).
    pub fn heartbeat_file(&self) -> PathBuf {
        self.root.join("io-engine.heartbeat")
    }

    /// Marker telling the supervisor that the IO-Engine killed worker `pid` on a job timeout.
    pub fn kill_marker(&self, pid: u32) -> PathBuf {
        self.root.join("killed").join(pid.to_string())
    }

    /// Remove what a previous validator published here (socket, state, metrics address, kill
    /// markers): called by the holder of the instance lock at start and at exit, so tools never
    /// read a dead instance's address or children.
    pub fn remove_published(&self) {
        for path in [
            self.socket(),
            self.state_file(),
            self.metrics_addr_file(),
            self.heartbeat_file(),
        ] {
            let _ = std::fs::remove_file(path);
        }
        if let Ok(markers) = std::fs::read_dir(self.root.join("killed")) {
            for marker in markers.flatten() {
                let _ = std::fs::remove_file(marker.path());
            }
        }
    }

    /// Create the directory tree, readable by this user only: whoever can reach the socket can
    /// take jobs, so other local users must not.
    pub fn create(&self) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(self.root.join("killed"))?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
    }

    /// Write `contents` to `path` atomically (temporary file + rename).
    pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, contents)?;
        std::fs::rename(&tmp, path)
    }
}

/// Process classes the supervisor manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessClass {
    /// The async IO-Engine.
    IoEngine,
    /// A compute worker.
    Compute,
}

impl ProcessClass {
    /// Label value used in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            ProcessClass::IoEngine => "io-engine",
            ProcessClass::Compute => "compute",
        }
    }
}

/// One live child as published by the supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// Stable slot name: `io-engine`, `compute-1`, ...
    pub name: String,
    /// Process class.
    pub class: ProcessClass,
    /// Current PID.
    pub pid: u32,
}

/// What the supervisor publishes in `supervisor.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisorState {
    /// The supervisor's PID.
    pub supervisor_pid: u32,
    /// Live children.
    pub children: Vec<ChildInfo>,
    /// Restarts per class since the supervisor started (crashes, RSS kills, timeouts).
    pub restarts: BTreeMap<String, u64>,
}

impl SupervisorState {
    /// Read the published state; `None` if absent or unreadable.
    pub fn read(dir: &RuntimeDir) -> Option<Self> {
        let text =
            crate::files::read_capped(&dir.state_file(), crate::files::SMALL_FILE_BYTES).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Publish atomically.
    pub fn write(&self, dir: &RuntimeDir) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        RuntimeDir::write_atomic(&dir.state_file(), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RuntimeDir::new(tmp.path());
        dir.create().unwrap();
        assert!(SupervisorState::read(&dir).is_none());
        let mut state = SupervisorState {
            supervisor_pid: 9,
            ..Default::default()
        };
        state.children.push(ChildInfo {
            name: "compute-1".into(),
            class: ProcessClass::Compute,
            pid: 11,
        });
        state.restarts.insert("compute".into(), 2);
        state.write(&dir).unwrap();
        assert_eq!(SupervisorState::read(&dir), Some(state));
        assert!(dir.kill_marker(5).starts_with(tmp.path().join("killed")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "runtime directory is private");
        assert_eq!(ProcessClass::IoEngine.label(), "io-engine");
    }

    #[test]
    fn remove_published_clears_a_dead_instance() {
        let dir = tempfile::tempdir().unwrap();
        let rt = RuntimeDir::new(dir.path());
        rt.create().unwrap();
        for path in [
            rt.socket(),
            rt.state_file(),
            rt.metrics_addr_file(),
            rt.kill_marker(7),
        ] {
            std::fs::write(&path, b"stale").unwrap();
        }
        rt.remove_published();
        for path in [
            rt.socket(),
            rt.state_file(),
            rt.metrics_addr_file(),
            rt.kill_marker(7),
        ] {
            assert!(!path.exists(), "{}", path.display());
        }
        assert!(rt.root().join("killed").is_dir());
        rt.remove_published();
    }
}
