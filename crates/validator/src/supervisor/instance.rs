//! One validator per runtime directory: the supervisor holds an exclusive `flock` on
//! `<runtime>/supervisor.lock` for its whole life and writes its PID into it. A second `run` on
//! the same directory (two IO-Engines on one socket, the same ledger job executed twice, two
//! weight submissions) is refused with the PID of the one already running. The kernel drops the
//! lock when the holder dies, however it dies, so a killed validator never blocks a restart.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::runtime::RuntimeDir;

/// Why the instance lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another validator holds the runtime directory.
    #[error(
        "another validator (pid {pid}) is running with runtime directory {dir}; stop it first \
         or give this one its own RUNTIME_DIR"
    )]
    Running {
        /// The runtime directory.
        dir: String,
        /// The PID written by the holder (`unknown` if it could not be read).
        pid: String,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    _lock: Flock<File>,
}

/// Take the runtime directory's instance lock for this process.
pub fn lock(runtime: &RuntimeDir) -> Result<InstanceLock, InstanceError> {
    let path = runtime.root().join("supervisor.lock");
    let io = |source| InstanceError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(InstanceError::Running {
                dir: runtime.root().display().to_string(),
                pid: if pid.is_empty() { "unknown" } else { pid }.to_string(),
            });
        }
        Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
    };
    lock.set_len(0).map_err(io)?;
    lock.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(lock, "{}", std::process::id()).map_err(io)?;
    lock.flush().map_err(io)?;
    Ok(InstanceLock { _lock: lock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let rt = RuntimeDir::new(dir.path());
        let held = lock(&rt).unwrap();
        // flock locks belong to the open file description: a second open in the same process
        // conflicts exactly as another process would.
        let err = lock(&rt).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("RUNTIME_DIR"), "{msg}");
        drop(held);
        let again = lock(&rt).unwrap();
        drop(again);
        let missing = RuntimeDir::new(dir.path().join("no/such/dir"));
        assert!(matches!(lock(&missing), Err(InstanceError::Io { .. })));
    }
}
