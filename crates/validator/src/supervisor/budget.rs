//! Per-class restart budget with exponential back-off.
//!
//! A class may crash `count` times within a sliding `window`; one more crash exhausts the budget
//! and the supervisor stops the validator. Each crash also delays the restart by an exponentially
//! growing back-off (0.5 s, 1 s, 2 s, … up to a maximum), based on the crashes still in the window.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Crash history of one process class.
#[derive(Debug, Clone)]
pub struct RestartBudget {
    count: u32,
    window: Duration,
    max_backoff: Duration,
    crashes: VecDeque<Instant>,
}

/// What to do after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Restart after this delay.
    RestartAfter(Duration),
    /// The budget is exhausted: stop.
    Exhausted,
}

impl RestartBudget {
    /// `count` crashes allowed per `window`; back-off capped at `max_backoff`.
    pub fn new(count: u32, window: Duration, max_backoff: Duration) -> Self {
        Self {
            count,
            window,
            max_backoff,
            crashes: VecDeque::new(),
        }
    }

    /// Record a crash at `now` and decide.
    pub fn record_crash(&mut self, now: Instant) -> Verdict {
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            self.crashes.pop_front();
        }
        self.crashes.push_back(now);
        let recent = self.crashes.len() as u32;
        if recent > self.count {
            return Verdict::Exhausted;
        }
        let exp = recent.saturating_sub(1).min(16);
        let backoff = Duration::from_millis(500).saturating_mul(1u32 << exp);
        Verdict::RestartAfter(backoff.min(self.max_backoff))
    }

    /// Crashes currently in the window (as of the last record).
    pub fn recent(&self) -> usize {
        self.crashes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_exhausts_within_the_window() {
        let mut b = RestartBudget::new(3, Duration::from_secs(60), Duration::from_secs(2));
        let t = Instant::now();
        assert_eq!(
            b.record_crash(t),
            Verdict::RestartAfter(Duration::from_millis(500))
        );
        assert_eq!(
            b.record_crash(t),
            Verdict::RestartAfter(Duration::from_secs(1))
        );
        assert_eq!(
            b.record_crash(t),
            Verdict::RestartAfter(Duration::from_secs(2))
        );
        assert_eq!(b.recent(), 3);
        assert_eq!(b.record_crash(t), Verdict::Exhausted);
    }

    #[test]
    fn old_crashes_leave_the_window() {
        let mut b = RestartBudget::new(1, Duration::from_secs(10), Duration::from_secs(30));
        let t = Instant::now();
        assert!(matches!(b.record_crash(t), Verdict::RestartAfter(_)));
        let later = t + Duration::from_secs(11);
        assert_eq!(
            b.record_crash(later),
            Verdict::RestartAfter(Duration::from_millis(500))
        );
        assert_eq!(b.record_crash(later), Verdict::Exhausted);
    }
}
