//! Polite, robust reads from a miner (issue "real miners"): production miners rate-limit every
//! client to 500 requests a minute and answer 429, 5xx or nothing while busy. Every HTTP request
//! of a store goes through a [`Pacer`]: a token bucket keeps the request rate under the
//! per-miner budget, and a failed request that may succeed later (429, 500, 502, 503, 504, a
//! timeout or a transport error) is retried with exponential back-off and full jitter, waiting at
//! least what a `Retry-After` header asks. A read that still fails is reported as the last error,
//! which callers classify as transient ([`ZarrError::is_transient`]), so the step runs again
//! later instead of failing the lead. [`TransferStats`] counts requests, bytes, retries and waits
//! per opened store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::ZarrError;

/// How failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries per request, the first included (1 = no retry).
    pub attempts: u32,
    /// Back-off before the first retry; doubled per retry (full jitter below it).
    pub base_delay: Duration,
    /// Largest back-off of one retry (a longer `Retry-After` is honoured up to `max_wait`).
    pub max_delay: Duration,
    /// Most time one request may spend waiting between its tries.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_wait: Duration::from_secs(90),
        }
    }
}

/// Default request budget per opened miner store: well under the miners' 500 a minute.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 240;

/// What one opened store fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Body bytes received from successful requests.
    pub bytes: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// Milliseconds spent waiting: back-off and the rate budget.
    pub waited_ms: u64,
}

impl TransferStats {
    /// The sum of two records.
    pub fn plus(self, other: TransferStats) -> TransferStats {
        TransferStats {
            requests: self.requests + other.requests,
            bytes: self.bytes + other.bytes,
            retries: self.retries + other.retries,
            waited_ms: self.waited_ms + other.waited_ms,
        }
    }
}

/// Live counters behind [`TransferStats`].
#[derive(Debug, Default)]
pub(super) struct TransferCounters {
    requests: AtomicU64,
    bytes: AtomicU64,
    retries: AtomicU64,
    waited_ms: AtomicU64,
}

impl TransferCounters {
    pub(super) fn snapshot(&self) -> TransferStats {
        TransferStats {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            waited_ms: self.waited_ms.load(Ordering::Relaxed),
        }
    }

    pub(super) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn waited(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A failed try: the error, and how long the server asked us to wait (`Retry-After`).
#[derive(Debug)]
pub(super) struct Failed {
    pub error: ZarrError,
    pub retry_after: Option<Duration>,
}

impl From<ZarrError> for Failed {
    fn from(error: ZarrError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// Rate budget and retries for the requests of one store.
#[derive(Debug)]
pub(super) struct Pacer {
    policy: RetryPolicy,
    /// Seconds between requests at the budget; 0 = unlimited.
    interval: f64,
    /// Requests allowed back to back before the budget spaces them.
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
    pub(super) counters: TransferCounters,
    seed: AtomicU64,
    /// When every read of the store must have ended, and the budget it was computed from.
    deadline: Option<(Instant, Duration)>,
}

impl Pacer {
    pub(super) fn new(policy: RetryPolicy, requests_per_minute: u32) -> Self {
        let interval = if requests_per_minute == 0 {
            0.0
        } else {
            60.0 / f64::from(requests_per_minute)
        };
        // A small burst: a miner's stores are read one step at a time, each with its own
        // bucket, so a large burst would be granted again at every store.
        let burst = 2.0;
        let seed = Instant::now().elapsed().as_nanos() as u64 ^ 0x9E37_79B9_7F4A_7C15;
        Self {
            policy,
            interval,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
            counters: TransferCounters::default(),
            seed: AtomicU64::new(seed | 1),
            deadline: None,
        }
    }

    /// The same pacer with a deadline `budget` from now for all its requests (`None`: none).
    pub(super) fn with_deadline(mut self, budget: Option<Duration>) -> Self {
        self.deadline = budget.map(|b| (Instant::now() + b, b));
        self
    }

    /// Time left before the deadline (`None` without one); the deadline error once it passed.
    pub(super) fn remaining(&self) -> Result<Option<Duration>, ZarrError> {
        let Some((at, budget)) = self.deadline else {
            return Ok(None);
        };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ZarrError::DownloadDeadline {
                seconds: budget.as_secs(),
                requests: self.counters.requests.load(Ordering::Relaxed),
            });
        }
        Ok(Some(left))
    }

    /// The timeout of the next request: `timeout`, shortened to the time left before the
    /// deadline so that no request runs past it.
    pub(super) fn request_timeout(&self, timeout: Duration) -> Duration {
        match self.remaining() {
            Ok(Some(left)) => timeout.min(left),
            Ok(None) => timeout,
            Err(_) => Duration::from_millis(1),
        }
    }

    /// Wait for a token of the rate budget.
    fn take_token(&self) {
        if self.interval <= 0.0 {
            return;
        }
        let wait = {
            let mut guard = match self.bucket.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let (tokens, last) = &mut *guard;
            let now = Instant::now();
            *tokens =
                (*tokens + now.duration_since(*last).as_secs_f64() / self.interval).min(self.burst);
            *last = now;
            *tokens -= 1.0;
            if *tokens >= 0.0 {
                None
            } else {
                Some(Duration::from_secs_f64(-*tokens * self.interval))
            }
        };
        if let Some(d) = wait {
            self.counters.waited(d);
            std::thread::sleep(d);
        }
    }

    /// A uniform number in [0, 1) (xorshift; jitter needs no cryptographic quality).
    fn unit_random(&self) -> f64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The wait before retry number `retry` (1-based): full jitter below the doubled base delay,
    /// at least the server's `Retry-After`.
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self
            .policy
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.policy.max_delay);
        let jittered = cap.mul_f64(self.unit_random());
        retry_after.map_or(jittered, |ra| ra.max(jittered))
    }

    /// Run `attempt` under the budget, retrying transient failures.
    pub(super) fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failed>,
    ) -> Result<T, ZarrError> {
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        loop {
            self.remaining()?;
            self.take_token();
            self.remaining()?;
            tries += 1;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            if tries > 1 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let failed = match attempt() {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            if !failed.error.is_transient() || tries >= self.policy.attempts.max(1) {
                return Err(failed.error);
            }
            let delay = self.backoff(tries, failed.retry_after);
            if waited + delay > self.policy.max_wait {
                return Err(failed.error);
            }
            if let Some(left) = self.remaining()? {
                if delay >= left {
                    // Waiting would end past the deadline: say so now.
                    std::thread::sleep(left);
                    self.remaining()?;
                }
            }
            waited += delay;
            self.counters.waited(delay);
            std::thread::sleep(delay);
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by miners and is ignored).
pub(super) fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(8),
            max_wait: Duration::from_secs(5),
        }
    }

    fn status(code: u16) -> Failed {
        Failed {
            error: ZarrError::HttpStatus {
                url: "u".into(),
                status: code,
            },
            retry_after: None,
        }
    }

    #[test]
    fn transient_failures_are_retried_until_success_and_counted() {
        let pacer = Pacer::new(fast(), 0);
        let mut n = 0;
        let out = pacer.run(|| {
            n += 1;
            if n < 3 {
                Err(status(429))
            } else {
                Ok(n)
            }
        });
        assert_eq!(out.unwrap(), 3);
        let s = pacer.counters.snapshot();
        assert_eq!((s.requests, s.retries), (3, 2));
    }

    #[test]
    fn permanent_failures_and_exhausted_retries_end_with_the_error() {
        let pacer = Pacer::new(fast(), 0);
        let mut n = 0;
        let err = pacer
            .run(|| -> Result<(), Failed> {
                n += 1;
                Err(status(403))
            })
            .unwrap_err();
        assert_eq!(n, 1, "a 403 is not retried");
        assert!(!err.is_transient());
        let mut m = 0;
        let err = pacer
            .run(|| -> Result<(), Failed> {
                m += 1;
                Err(status(503))
            })
            .unwrap_err();
        assert_eq!(m, 4, "four tries in all");
        assert!(err.is_transient(), "{err}");
    }

    #[test]
    fn retry_after_is_honoured_and_bounded_by_the_wait_budget() {
        assert_eq!(parse_retry_after(Some(" 2 ")), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
        let pacer = Pacer::new(fast(), 0);
        assert!(pacer.backoff(1, Some(Duration::from_millis(50))) >= Duration::from_millis(50));
        assert!(pacer.backoff(3, None) <= Duration::from_millis(8));
        let tight = Pacer::new(
            RetryPolicy {
                max_wait: Duration::from_millis(30),
                ..fast()
            },
            0,
        );
        let started = Instant::now();
        let mut n = 0;
        let _ = tight.run(|| -> Result<(), Failed> {
            n += 1;
            Err(Failed {
                retry_after: Some(Duration::from_secs(60)),
                ..status(429)
            })
        });
        assert_eq!(n, 1, "a Retry-After beyond the wait budget ends the read");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_rate_budget_spaces_requests_after_the_burst() {
        // 600 a minute: 100 ms apart after a burst of 2.
        let pacer = Pacer::new(fast(), 600);
        let started = Instant::now();
        for _ in 0..6 {
            pacer.run(|| Ok::<_, Failed>(())).unwrap();
        }
        assert!(started.elapsed() >= Duration::from_millis(380));
        assert!(pacer.counters.snapshot().waited_ms >= 380);
        let s = TransferStats {
            requests: 1,
            bytes: 2,
            retries: 3,
            waited_ms: 4,
        };
        assert_eq!(s.plus(s).bytes, 4);
    }
}
