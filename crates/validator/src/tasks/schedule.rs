//! When a task runs: the next cron occurrence, and whether an occurrence missed while the
//! validator was down should still run now (once), if it is within its catch-up window.

use chrono::{DateTime, Duration, Utc};
use croner::Cron;

/// A bad cron pattern.
#[derive(Debug, thiserror::Error)]
#[error("invalid cron pattern {pattern:?}: {reason}")]
pub struct ScheduleError {
    /// The pattern.
    pub pattern: String,
    /// The parser's complaint.
    pub reason: String,
}

/// A parsed schedule with its catch-up window.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    pattern: String,
    catch_up: Duration,
}

impl Schedule {
    /// Parse a 5-field cron pattern (UTC). A missed occurrence younger than `catch_up` runs
    /// once at start-up; older ones are skipped.
    pub fn new(pattern: &str, catch_up: Duration) -> Result<Self, ScheduleError> {
        let err = |reason: String| ScheduleError {
            pattern: pattern.to_string(),
            reason,
        };
        let cron = crate::config::parse_cron(pattern).map_err(err)?;
        Ok(Self {
            cron,
            pattern: pattern.to_string(),
            catch_up,
        })
    }

    /// The pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }

    /// The latest occurrence at or before `t`.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&t, true).ok()
    }

    /// At start-up: the occurrence that was missed and should run now, if any. `last_run` is the
    /// occurrence the task last ran for (from the ledger); `None` if it never ran.
    pub fn missed(
        &self,
        now: DateTime<Utc>,
        last_run: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let latest = self.latest_at_or_before(now)?;
        let already = last_run.is_some_and(|l| l >= latest);
        let fresh = now - latest <= self.catch_up;
        (!already && fresh).then_some(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn daily_pattern_fires_at_its_minute_in_utc() {
        let s = Schedule::new("5 18 * * *", Duration::hours(6)).unwrap();
        assert_eq!(
            s.next_after(t("2026-11-28T12:00:00Z")),
            Some(t("2026-11-28T18:05:00Z"))
        );
        assert_eq!(
            s.next_after(t("2026-11-28T18:05:00Z")),
            Some(t("2026-11-29T18:05:00Z"))
        );
        assert_eq!(
            s.latest_at_or_before(t("2026-11-28T18:05:00Z")),
            Some(t("2026-11-28T18:05:00Z"))
        );
        assert_eq!(s.pattern(), "5 18 * * *");
    }

    #[test]
    fn a_missed_run_within_its_window_runs_once() {
        let s = Schedule::new("5 18 * * *", Duration::hours(6)).unwrap();
        let now = t("2026-11-28T20:00:00Z");
        assert_eq!(s.missed(now, None), Some(t("2026-11-28T18:05:00Z")));
        assert_eq!(
            s.missed(now, Some(t("2026-11-27T18:05:00Z"))),
            Some(t("2026-11-28T18:05:00Z"))
        );
        assert_eq!(
            s.missed(now, Some(t("2026-11-28T18:05:00Z"))),
            None,
            "already ran"
        );
        assert_eq!(
            s.missed(t("2026-11-29T01:00:00Z"), None),
            None,
            "outside the window"
        );
    }

    #[test]
    fn bad_patterns_are_named() {
        for p in ["5 18 * *", "61 18 * * *", "x y z w v", "0 5 18 * * *"] {
            let e = Schedule::new(p, Duration::hours(1)).unwrap_err();
            assert!(e.to_string().contains(p), "{e}");
        }
    }
}
