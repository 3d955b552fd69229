//! How to open a store: URL, pool sizes and the retry policy for lost connections.
//!
//! The validator's settings (`gaia_validator::config`) resolve the URL and sizes; this struct is
//! what the store needs from them, so the store does not depend on the settings crate.

use std::time::Duration;

/// Options for [`crate::Store::connect`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The resolved database URL (`postgres://…` or `sqlite://…`).
    pub url: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long to wait for a free pooled connection before that attempt counts as failed.
    pub acquire_timeout: Duration,
    /// Back-off used when the database is unreachable or drops a connection.
    pub retry: RetryPolicy,
}

impl StoreConfig {
    /// Defaults for `url`: 10 connections max, 1 min, 10 s acquire timeout, default retry.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// Replace the pool sizes.
    pub fn with_pool(mut self, min_connections: u32, max_connections: u32) -> Self {
        self.min_connections = min_connections;
        self.max_connections = max_connections;
        self
    }

    /// Replace the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// Exponential back-off for transient failures (connection lost or refused, server restarting,
/// pool exhausted, SQLite busy, serialization conflicts).
///
/// An operation is retried with delays `initial, 2·initial, …` capped at `max_delay` until
/// `give_up_after` has passed since its first attempt; then the last error is returned. The
/// caller (the IO-Engine) logs it and tries again on its next tick, so an outage is never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First delay.
    pub initial_delay: Duration,
    /// Largest delay between two attempts.
    pub max_delay: Duration,
    /// Total time budget of one operation, retries included.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    /// 100 ms doubling to 5 s, for at most 60 s.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (for tools and tests that want the first error).
    pub fn none() -> Self {
        Self {
            initial_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            give_up_after: Duration::ZERO,
        }
    }

    /// The delay before attempt number `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(4), Duration::from_millis(800));
        assert_eq!(p.delay(7), Duration::from_secs(5));
        assert_eq!(p.delay(200), Duration::from_secs(5));
        assert_eq!(RetryPolicy::none().delay(3), Duration::ZERO);
    }

    #[test]
    fn builder_sets_pool() {
        let c = StoreConfig::new("sqlite://x.db").with_pool(2, 4);
        assert_eq!((c.min_connections, c.max_connections), (2, 4));
    }
}
