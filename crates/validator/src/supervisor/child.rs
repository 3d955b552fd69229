//! Starting and signalling child processes: each child is this same binary with a subcommand
//! that says what it is (`io-engine --name io-engine`, `compute-worker --name compute-2`), in its
//! own process group so that a signal to the group reaches it and nothing else.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::runtime::{ProcessClass, RuntimeDir};

/// What every child is started with.
#[derive(Debug, Clone)]
pub struct ChildLaunch {
    /// The validator executable.
    pub exe: PathBuf,
    /// `--config` to pass on.
    pub config: Option<PathBuf>,
    /// `--log-format` to pass on (`json` or `pretty`).
    pub log_format: String,
    /// The runtime directory.
    pub runtime: RuntimeDir,
    /// The supervisor's PID.
    pub supervisor_pid: u32,
}

impl ChildLaunch {
    /// Start one child of `class` named `name`.
    pub fn spawn(&self, class: ProcessClass, name: &str) -> std::io::Result<Child> {
        let sub = match class {
            ProcessClass::IoEngine => "io-engine",
            ProcessClass::Compute => "compute-worker",
        };
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--log-format").arg(&self.log_format);
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        cmd.arg(sub)
            .arg("--name")
            .arg(name)
            .arg("--socket")
            .arg(self.runtime.socket())
            .arg("--supervisor-pid")
            .arg(self.supervisor_pid.to_string())
            .stdin(Stdio::null())
            .process_group(0);
        let supervisor =
            nix::unistd::Pid::from_raw(i32::try_from(self.supervisor_pid).unwrap_or(i32::MAX));
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // async-signal-safe system calls (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                // A child dies with its supervisor, however the supervisor dies (SIGKILL
                // included): orphans would finish the run, set weights, and run beside a
                // restarted validator. SIGTERM lets the child drain its current work.
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
                // The supervisor may have died between fork and prctl.
                if nix::unistd::getppid() != supervisor {
                    return Err(std::io::Error::other("the supervisor is gone"));
                }
                Ok(())
            });
        }
        cmd.spawn()
    }
}

/// Send `signal` to the process group led by `pid`; false if it is already gone.
pub fn signal_group(pid: u32, signal: Signal) -> bool {
    match i32::try_from(pid) {
        Ok(raw) if raw > 0 => killpg(Pid::from_raw(raw), signal).is_ok(),
        _ => false,
    }
}
