//! The chaos run's supervisor kill (issue 15 acceptance 2): SIGKILL the whole supervisor, prove
//! that no child outlives it (the parent-death signal), start a new `run` on the same database
//! and runtime dir (its instance locks must not refuse a dead owner), and carry the killed
//! incarnation's counters over into its successor's samples.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use gaia_validator::runtime::{RuntimeDir, SupervisorState};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::harness::alive;

use super::chaos;
use super::run::spawn_validator;
use super::sample::{ChaosEvent, Sample};

/// What a supervisor kill left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Orphans {
    /// Children alive before the kill.
    pub children: usize,
    /// Children still alive at the deadline (then SIGKILLed with their groups by the harness).
    pub survivors: Vec<u32>,
    /// Seconds until the last child was gone (the deadline if some survived).
    pub gone_after_s: f64,
}

/// SIGKILL the supervisor `supervisor` (reaped through `reap`), then watch its `children`:
/// each must die with it (parent-death signal) within `deadline`. Survivors are reported and
/// then SIGKILLed with their process groups, so the next validator does not run beside them.
pub fn kill_supervisor(
    supervisor: u32,
    reap: impl FnOnce(),
    children: &[u32],
    deadline: Duration,
) -> Orphans {
    if let Ok(raw) = i32::try_from(supervisor) {
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    }
    reap();
    let began = Instant::now();
    let mut left: Vec<u32> = children.to_vec();
    while !left.is_empty() && began.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left.retain(|p| alive(*p));
    }
    for pid in &left {
        if let Ok(raw) = i32::try_from(*pid) {
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
    Orphans {
        children: children.len(),
        gone_after_s: began.elapsed().as_secs_f64(),
        survivors: left,
    }
}

/// A sample of a restarted supervisor's validator with its predecessors' counters added, so
/// cumulative figures (jobs, job seconds, restarts) keep rising across a supervisor kill.
pub fn offset(mut s: Sample, base: &Sample) -> Sample {
    s.jobs += base.jobs;
    s.job_seconds.0 += base.job_seconds.0;
    s.job_seconds.1 += base.job_seconds.1;
    s.restarts += base.restarts;
    s.supervisor_restarts = base.supervisor_restarts;
    s
}

/// The chaos run's supervisor kill: SIGKILL the supervisor, check that every child dies with
/// it (parent-death signal), start a new `run` on the same database and runtime dir and wait
/// until it publishes its children and serves `/metrics` (its instance lock must not refuse a
/// dead owner). `child` becomes the successor as soon as it is started, so that whoever owns it
/// stops the successor if the soak is abandoned while it comes up.
pub async fn restart_supervisor(
    child: &mut Child,
    runtime: &RuntimeDir,
    dir: &Path,
    env: &[(String, String)],
    t: f64,
) -> anyhow::Result<ChaosEvent> {
    let old = child.id();
    let pids: Vec<u32> = SupervisorState::read(runtime)
        .unwrap_or_default()
        .children
        .iter()
        .map(|c| c.pid)
        .collect();
    let orphans = tokio::task::block_in_place(|| {
        kill_supervisor(
            old,
            || {
                let _ = child.wait();
            },
            &pids,
            Duration::from_secs(30),
        )
    });
    *child = spawn_validator(dir, env)?.0;
    let successor = child.id();
    let until = Instant::now() + Duration::from_secs(60);
    let mut up = false;
    while !up && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let state = SupervisorState::read(runtime).unwrap_or_default();
        let addr = std::fs::read_to_string(runtime.metrics_addr_file()).unwrap_or_default();
        up = state.supervisor_pid == successor
            && !state.children.is_empty()
            && crate::harness::http(&addr, "GET", "/metrics", None).is_ok();
    }
    let fate = if orphans.survivors.is_empty() {
        format!("all gone after {:.1} s", orphans.gone_after_s)
    } else {
        format!("pids {:?} SIGKILLed by the harness", orphans.survivors)
    };
    let event = ChaosEvent {
        t,
        kind: chaos::KILL_SUPERVISOR.into(),
        what: format!(
            "kill supervisor (pid {old}): {} of {} children outlived it ({fate}); restarted as pid {} ({})",
            orphans.survivors.len(),
            orphans.children,
            successor,
            if up { "up" } else { "NOT up within 60 s" }
        ),
        replaced: orphans.survivors.is_empty() && up,
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn a_successor_continues_its_predecessors_counters() {
        let base = Sample {
            jobs: 100.0,
            job_seconds: (5.0, 100.0),
            restarts: 7,
            supervisor_restarts: 1,
            ..Sample::default()
        };
        let fresh = Sample {
            t: 30.0,
            jobs: 3.0,
            job_seconds: (0.5, 3.0),
            restarts: 0,
            ..Sample::default()
        };
        let s = offset(fresh, &base);
        assert_eq!((s.t, s.jobs, s.restarts), (30.0, 103.0, 7));
        assert_eq!(s.job_seconds, (5.5, 103.0));
        assert_eq!(s.supervisor_restarts, 1);
        let before = offset(Sample::default(), &Sample::default());
        assert_eq!(before.supervisor_restarts, 0, "no kill yet");
    }

    #[test]
    fn a_killed_parent_whose_child_lives_on_is_reported_and_the_orphan_is_killed() {
        // `sh` starts a `sleep` in its own group (no parent-death signal) and waits.
        let mut sh = Command::new("sh")
            .args(["-c", "setsid sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(sh.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let orphan: u32 = line.trim().parse().unwrap();
        assert!(alive(orphan) && alive(sh.id()));
        let o = kill_supervisor(
            sh.id(),
            || {
                let _ = sh.wait();
            },
            &[orphan],
            Duration::from_millis(300),
        );
        assert_eq!(o.children, 1);
        assert_eq!(o.survivors, vec![orphan], "the orphan outlived its parent");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!alive(orphan), "the harness killed the orphan");
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn a_child_that_dies_with_its_parent_is_no_survivor() {
        let mut parent = Command::new("sleep").arg("60").spawn().unwrap();
        let o = kill_supervisor(
            parent.id(),
            || {
                let _ = parent.wait();
            },
            &[],
            Duration::from_secs(1),
        );
        assert!(o.survivors.is_empty() && o.gone_after_s < 1.0, "{o:?}");
    }
}
