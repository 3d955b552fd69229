//! The soak's chaos beyond killing one child (issue 15 acceptance 2): when in the chaos run the
//! whole supervisor is SIGKILLed (the kill itself: `super::supervisor`), and when the
//! validator's storage runs out of space — the chaos run's SQLite file and `DATA_DIR` live on a
//! size-limited tmpfs ([`FullDisk`]) that a ballast file fills for a window of the run and then
//! gives back. The kinds of event are named here, with the colour each has in the report.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Timelike, Utc};
use gaia_testkit::{SmallDisk, SmallDiskError};

use super::sample::ChaosEvent;

/// A child (IO-Engine or worker) SIGKILLed.
pub const KILL_CHILD: &str = "kill_child";
/// The supervisor SIGKILLed and a new `run` started on the same database and runtime dir.
pub const KILL_SUPERVISOR: &str = "kill_supervisor";
/// PostgreSQL restarted.
pub const RESTART_POSTGRES: &str = "restart_postgres";
/// The validator's storage filled to the last byte.
pub const FULL_DISK: &str = "full_disk";
/// The ballast removed: space back.
pub const DISK_FREED: &str = "disk_freed";

/// Every kind with its colour in the report's plots.
pub const KINDS: [(&str, &str); 5] = [
    (KILL_CHILD, "#e66"),
    (KILL_SUPERVISOR, "#a0c"),
    (RESTART_POSTGRES, "#36c"),
    (FULL_DISK, "#e90"),
    (DISK_FREED, "#2a2"),
];

/// The colour of a kind (grey for an unknown one).
pub fn colour(kind: &str) -> &'static str {
    KINDS.iter().find(|k| k.0 == kind).map_or("#999", |k| k.1)
}

/// When the one-off events of a chaos run happen, in wall seconds from its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The supervisor kill is due from here (at the next daily-run hour, see
    /// [`Plan::until_supervisor_kill`]).
    pub supervisor_kill_from: f64,
    /// The disk is full from here …
    pub full_disk_from: f64,
    /// … to here.
    pub full_disk_to: f64,
}

impl Plan {
    /// The plan of a run lasting `wall_total` seconds before its drain: the supervisor kill in
    /// the first half, the full disk after PostgreSQL's mid-run restart, both well inside the
    /// chaos window (a tenth in, out before the last 15 %).
    pub fn new(wall_total: f64) -> Self {
        Self {
            supervisor_kill_from: 0.3 * wall_total,
            full_disk_from: 0.6 * wall_total,
            full_disk_to: 0.75 * wall_total,
        }
    }

    /// Business time from `now` until the supervisor may be killed: zero within the two
    /// business hours after the daily run's 18:00, else until the next 18:15. The run of the
    /// day is queued before the kill and the next one is most of a day away (a restart that
    /// takes longer is caught up, `WEATHER__RUN_CATCH_UP_HOURS`). The harness sleeps this long
    /// once it is shorter than its sampling period, so the kill never misses the window.
    pub fn until_supervisor_kill(now: DateTime<Utc>) -> chrono::Duration {
        if (18..20).contains(&now.hour()) {
            return chrono::Duration::zero();
        }
        let today = now
            .date_naive()
            .and_hms_opt(18, 15, 0)
            .unwrap_or_default()
            .and_utc();
        let next = if today > now {
            today
        } else {
            today + chrono::Duration::days(1)
        };
        next - now
    }
}

/// How many lines of a validator log say its storage was full.
pub fn full_disk_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.contains("database or disk is full")
                || l.contains("No space left on device")
                || l.contains("disk full")
        })
        .count()
}

/// [`full_disk_lines`] of the log at `path` from byte `from` on.
pub fn full_disk_lines_since(path: &Path, from: u64) -> usize {
    let bytes = std::fs::read(path).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(usize::MAX).min(bytes.len());
    full_disk_lines(&String::from_utf8_lossy(&bytes[from..]))
}

/// The chaos run's storage: a tmpfs holding its SQLite file and `DATA_DIR`, filled by a
/// ballast file on request.
#[derive(Debug)]
pub struct FullDisk {
    disk: SmallDisk,
    size_mib: u64,
    ballast: Option<PathBuf>,
}

impl FullDisk {
    /// Mount a tmpfs of `size_mib` MiB (needs root).
    pub fn mount(size_mib: u64) -> Result<Self, SmallDiskError> {
        Ok(Self {
            disk: SmallDisk::mount(&format!("{size_mib}m"))?,
            size_mib,
            ballast: None,
        })
    }

    /// A size that holds the run's database with room to spare: 256 MiB, plus 1 MiB per
    /// miner-day beyond 256 of them.
    pub fn size_for(miners: u16, days: u32) -> u64 {
        256 + (u64::from(miners) * u64::from(days)).saturating_sub(256)
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.disk.path()
    }

    /// Fill the disk with the ballast; returns the ballast's bytes.
    pub fn fill(&mut self) -> Result<u64, SmallDiskError> {
        let path = self.disk.fill()?;
        let bytes = std::fs::metadata(&path)?.len();
        self.ballast = Some(path);
        Ok(bytes)
    }

    /// Remove the ballast (space back); false if there was none.
    pub fn free(&mut self) -> Result<bool, SmallDiskError> {
        match self.ballast.take() {
            Some(path) => {
                std::fs::remove_file(path)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Whether the ballast is in place.
    pub fn is_full(&self) -> bool {
        self.ballast.is_some()
    }

    /// Fill the disk now: the `full_disk` event at wall second `t` (`holds`: what lives on the
    /// disk), to be marked recovered by [`FullDisk::free_event`].
    pub fn fill_event(&mut self, t: f64, holds: &str) -> ChaosEvent {
        let what = match self.fill() {
            Ok(bytes) => format!(
                "disk full: {:.1} MiB ballast fills the {} MiB tmpfs of {holds}",
                bytes as f64 / 1_048_576.0,
                self.size_mib
            ),
            Err(e) => format!("filling the disk failed: {e}"),
        };
        ChaosEvent {
            t,
            kind: FULL_DISK.into(),
            what,
            replaced: false,
        }
    }

    /// Give the space back at wall second `t`: marks the last `full_disk` event recovered and
    /// adds a `disk_freed` event saying how long it lasted and how often the validator met it
    /// (`met`: log lines).
    pub fn free_event(&mut self, t: f64, met: usize, events: &mut Vec<ChaosEvent>) {
        let freed = self.free();
        let full = events.iter_mut().rev().find(|e| e.kind == FULL_DISK);
        let since = full.as_ref().map_or(t, |e| e.t);
        if let (Ok(true), Some(full)) = (&freed, full) {
            full.replaced = true;
        }
        events.push(ChaosEvent {
            t,
            kind: DISK_FREED.into(),
            what: match &freed {
                Ok(_) => format!(
                    "space back after {:.1} s; the validator met the full disk in {met} log lines",
                    t - since
                ),
                Err(e) => format!("removing the ballast failed: {e}"),
            },
            replaced: freed.is_ok(),
        });
    }

    /// The size asked for, MiB.
    pub fn size_mib(&self) -> u64 {
        self.size_mib
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_kills_the_supervisor_after_the_daily_run_and_fills_the_disk_later() {
        let p = Plan::new(100.0);
        assert!(p.supervisor_kill_from < p.full_disk_from && p.full_disk_to <= 85.0);
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let wait = Plan::until_supervisor_kill;
        assert_eq!(wait(at("2026-01-03T18:30:00Z")), chrono::Duration::zero());
        assert_eq!(
            wait(at("2026-01-03T07:00:00Z")),
            chrono::Duration::minutes(11 * 60 + 15)
        );
        assert_eq!(
            wait(at("2026-01-03T21:00:00Z")),
            chrono::Duration::minutes(21 * 60 + 15)
        );
        assert_eq!(colour(KILL_SUPERVISOR), "#a0c");
        assert_eq!(colour("other"), "#999");
        assert_eq!(FullDisk::size_for(6, 12), 256);
        assert_eq!(FullDisk::size_for(256, 60), 256 + 256 * 60 - 256);
        let log = "a\n{\"error\":\"database or disk is full\"}\nNo space left on device\nok";
        assert_eq!(full_disk_lines(log), 2);
    }

    #[test]
    fn the_full_disk_refuses_writes_until_its_ballast_goes() {
        let mut disk = FullDisk::mount(2).expect("root mounts a tmpfs");
        assert_eq!(disk.size_mib(), 2);
        assert!(!disk.free().unwrap(), "no ballast yet");
        let bytes = disk.fill().unwrap();
        assert!(disk.is_full() && bytes > 1_000_000, "{bytes}");
        assert!(std::fs::write(disk.path().join("x"), vec![0u8; 64 * 1024]).is_err());
        assert!(disk.free().unwrap());
        std::fs::write(disk.path().join("x"), vec![0u8; 64 * 1024]).unwrap();
        let mut events = vec![disk.fill_event(3.0, "a file")];
        assert!(events[0]
            .what
            .contains("ballast fills the 2 MiB tmpfs of a file"));
        let log = disk.path().join("log");
        assert!(std::fs::write(&log, "x\n").is_err(), "full");
        disk.free_event(5.0, 7, &mut events);
        assert!(events[0].replaced && events[1].replaced, "{events:?}");
        assert_eq!(events[1].kind, DISK_FREED);
        assert!(events[1].what.contains("after 2.0 s") && events[1].what.contains("7 log"));
        std::fs::write(&log, "disk full\nok\ndisk full\n").unwrap();
        assert_eq!(full_disk_lines_since(&log, 0), 2);
        assert_eq!(full_disk_lines_since(&log, 10), 1);
        assert_eq!(full_disk_lines_since(&disk.path().join("none"), 0), 0);
    }
}
