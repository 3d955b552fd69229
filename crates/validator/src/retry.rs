//! Retrying remote requests with exponential back-off — one loop for every remote source the
//! validator reads (truth stores over HTTP, NOMADS OPeNDAP, the subtensor node's JSON-RPC).
//! Each caller says which failures are worth another attempt (rate limits, server errors,
//! dropped connections) and may pass on a server's wait hint (`Retry-After`); what is returned
//! on failure is the last error and how many attempts were made, from which the caller builds
//! its own named error.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all (at least one is made).
    pub attempts: u32,
    /// Pause after the first failure; doubled after each further one.
    pub first: Duration,
    /// Longest pause, also the cap of a server's wait hint.
    pub max: Duration,
}

/// What a failed attempt calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Worth another attempt; the server's wait hint, if it gave one.
    Retry(Option<Duration>),
    /// Final: return this error now.
    Stop,
}

/// The last error of a request that did not succeed, and the attempts made.
#[derive(Debug)]
pub struct Failed<E> {
    /// The last attempt's error.
    pub error: E,
    /// Attempts made (1 when the first error was final).
    pub attempts: u32,
}

/// Run `attempt` (given the attempt number, from 1) until it succeeds, `classify` calls an error
/// final, or `backoff.attempts` are used up. Each retry is logged with `what`.
pub async fn with_backoff<T, E, F, Fut>(
    backoff: Backoff,
    what: &str,
    mut attempt: F,
    classify: impl Fn(&E) -> Verdict,
) -> Result<T, Failed<E>>
where
    E: std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let attempts = backoff.attempts.max(1);
    let mut pause = backoff.first.min(backoff.max);
    let mut n = 1;
    loop {
        let error = match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let hint = match classify(&error) {
            Verdict::Retry(hint) if n < attempts => hint,
            _ => return Err(Failed { error, attempts: n }),
        };
        let wait = hint.map_or(pause, |h| h.clamp(pause, backoff.max.max(pause)));
        tracing::warn!(%what, attempt = n, of = attempts, wait_s = wait.as_secs_f64(),
            %error, "request failed, retrying");
        tokio::time::sleep(wait).await;
        pause = pause.saturating_mul(2).min(backoff.max);
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const QUICK: Backoff = Backoff {
        attempts: 3,
        first: Duration::from_millis(10),
        max: Duration::from_millis(15),
    };

    #[tokio::test]
    async fn retries_until_success_final_errors_or_the_limit() {
        let calls = AtomicU32::new(0);
        let ok = with_backoff(
            QUICK,
            "t",
            |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err("busy")
                    } else {
                        Ok(n)
                    }
                }
            },
            |_| Verdict::Retry(None),
        )
        .await
        .unwrap();
        assert_eq!((ok, calls.load(Ordering::SeqCst)), (3, 3));

        let exhausted = with_backoff(
            QUICK,
            "t",
            |_| async { Err::<(), _>("busy") },
            |_| Verdict::Retry(Some(Duration::from_secs(3600))),
        );
        let started = std::time::Instant::now();
        let failed = exhausted.await.unwrap_err();
        assert_eq!((failed.error, failed.attempts), ("busy", 3));
        assert!(started.elapsed() < Duration::from_secs(5), "hint capped");

        let fin = with_backoff(
            QUICK,
            "t",
            |_| async { Err::<(), _>("no") },
            |_| Verdict::Stop,
        )
        .await
        .unwrap_err();
        assert_eq!(fin.attempts, 1);
    }
}
