//! Business time: the one clock every decision about *when in the world* reads — cron schedules,
//! the GFS cycle a run is stamped with, ERA5 eligibility, the manifest freeze window, run
//! retention, the 15-day weights window, the offline chain's block numbers.
//!
//! In production it is the wall clock (scale 1). The soak test (`gaia-dev soak`) runs the same
//! code with a time scale, e.g. 2880 (one simulated day in 30 s): business time then starts at
//! `TIME_SCALE_START` when the wall clock reads `TIME_SCALE_ANCHOR` and runs `TIME_SCALE` times
//! faster. Every process of one validator (supervisor, IO-Engine, workers, restarted ones too)
//! reads the same settings, so they agree on business time to the microsecond.
//!
//! What stays in wall time, at any scale: the work ledger (claim times, leases, retries and
//! back-offs — a step retried "in 10 s" waits 10 real seconds), network timeouts, the
//! supervisor's checks and restarts. A business instant a ledger job must wait for is turned
//! into the wall instant it happens at with [`BusinessClock::to_wall`].
//!
//! The clock is process-wide (like the log subscriber): [`install`] once at process start from
//! the settings; [`now`] anywhere. Nothing installed means scale 1.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

use crate::config::Settings;

/// How business time relates to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BusinessClock {
    scale: f64,
    /// `(business start, wall anchor)`; `None` at scale 1 (business time is the wall clock).
    origin: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Default for BusinessClock {
    fn default() -> Self {
        Self::wall()
    }
}

impl BusinessClock {
    /// Business time is the wall clock (production).
    pub fn wall() -> Self {
        Self {
            scale: 1.0,
            origin: None,
        }
    }

    /// Business time reads `start` when the wall clock reads `anchor`, and runs `scale` times
    /// faster than the wall clock. A scale that is not finite and positive counts as 1.
    pub fn scaled(scale: f64, start: DateTime<Utc>, anchor: DateTime<Utc>) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            scale,
            origin: Some((start, anchor)),
        }
    }

    /// The clock the settings describe: [`BusinessClock::wall`] at `TIME_SCALE` 1 without a
    /// start, otherwise scaled from `TIME_SCALE_START` (default: the anchor) at
    /// `TIME_SCALE_ANCHOR` (default: the start).
    pub fn from_settings(s: &Settings) -> Self {
        match (s.time_scale_start, s.time_scale_anchor) {
            (None, None) if s.time_scale == 1.0 => Self::wall(),
            (start, anchor) => {
                let anchor = anchor.or(start).unwrap_or_else(Utc::now);
                Self::scaled(s.time_scale, start.unwrap_or(anchor), anchor)
            }
        }
    }

    /// Simulated seconds per wall second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Whether business time is the wall clock.
    pub fn is_wall(&self) -> bool {
        self.origin.is_none()
    }

    /// Business time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.at_wall(Utc::now())
    }

    /// Business time when the wall clock reads `wall`.
    pub fn at_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        match self.origin {
            None => wall,
            Some((start, anchor)) => start + scale_by(wall - anchor, self.scale),
        }
    }

    /// The wall instant at which business time reads `business`.
    pub fn to_wall(&self, business: DateTime<Utc>) -> DateTime<Utc> {
        match self.origin {
            None => business,
            Some((start, anchor)) => anchor + scale_by(business - start, 1.0 / self.scale),
        }
    }

    /// The wall duration that `business` of business time takes (zero when negative).
    pub fn wall_duration(&self, business: Duration) -> std::time::Duration {
        scale_by(business, 1.0 / self.scale)
            .to_std()
            .unwrap_or_default()
    }
}

fn scale_by(d: Duration, factor: f64) -> Duration {
    if factor == 1.0 {
        return d;
    }
    let micros = d.num_microseconds().map_or(f64::MAX, |m| m as f64) * factor;
    Duration::microseconds(micros.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
}

static CLOCK: OnceLock<BusinessClock> = OnceLock::new();

/// Make `clock` this process's business clock; false (and no change) when one was installed.
pub fn install(clock: BusinessClock) -> bool {
    CLOCK.set(clock).is_ok()
}

/// This process's business clock ([`BusinessClock::wall`] when none was installed).
pub fn current() -> BusinessClock {
    CLOCK.get().copied().unwrap_or_default()
}

/// Business time now: `current().now()`.
pub fn now() -> DateTime<Utc> {
    current().now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_wall_clock_is_the_default_and_maps_to_itself() {
        let c = BusinessClock::default();
        assert!(c.is_wall());
        assert_eq!(c.scale(), 1.0);
        let x = t("2026-12-03T10:00:00Z");
        assert_eq!(c.at_wall(x), x);
        assert_eq!(c.to_wall(x), x);
        assert_eq!(
            c.wall_duration(Duration::seconds(5)),
            std::time::Duration::from_secs(5)
        );
        let before = Utc::now();
        assert!(now() >= before && current().is_wall());
    }

    #[test]
    fn a_scaled_clock_runs_faster_from_its_start_and_maps_back() {
        let start = t("2026-01-01T00:00:00Z");
        let anchor = t("2026-12-03T10:00:00Z");
        let c = BusinessClock::scaled(2880.0, start, anchor);
        assert!(!c.is_wall());
        assert_eq!(c.at_wall(anchor), start);
        // 30 wall seconds are one business day.
        assert_eq!(
            c.at_wall(anchor + Duration::seconds(30)),
            start + Duration::days(1)
        );
        assert_eq!(
            c.to_wall(start + Duration::days(2)),
            anchor + Duration::seconds(60)
        );
        assert_eq!(
            c.wall_duration(Duration::hours(24)),
            std::time::Duration::from_secs(30)
        );
        assert_eq!(
            c.wall_duration(Duration::hours(-1)),
            std::time::Duration::ZERO
        );
        assert!(
            c.now() > start + Duration::days(100),
            "anchor is in the past"
        );
    }

    #[test]
    fn a_bad_scale_counts_as_one_and_settings_choose_the_clock() {
        let x = t("2026-01-01T00:00:00Z");
        for bad in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert_eq!(BusinessClock::scaled(bad, x, x).scale(), 1.0);
        }
        let mut s = Settings::default();
        assert!(BusinessClock::from_settings(&s).is_wall());
        s.time_scale = 100.0;
        s.time_scale_anchor = Some(x);
        let c = BusinessClock::from_settings(&s);
        assert_eq!((c.scale(), c.at_wall(x)), (100.0, x));
        s.time_scale_start = Some(t("2025-06-01T00:00:00Z"));
        assert_eq!(
            BusinessClock::from_settings(&s).at_wall(x),
            t("2025-06-01T00:00:00Z")
        );
        s.time_scale = 1.0;
        s.time_scale_anchor = None;
        let c = BusinessClock::from_settings(&s);
        assert!(!c.is_wall(), "a start at scale 1 shifts business time");
        assert_eq!(
            c.at_wall(t("2025-06-01T00:00:00Z")),
            t("2025-06-01T00:00:00Z")
        );
    }
}
