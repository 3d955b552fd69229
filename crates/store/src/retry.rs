//! Retrying store operations over transient failures, with logged exponential back-off.
//!
//! Only errors that say "the connection or the server was momentarily unavailable" are retried;
//! a constraint violation or a syntax error is returned at once. Every store write is idempotent
//! (upserts on natural keys, keyed enqueue, lease-checked ledger updates), so re-running an
//! operation whose first attempt may have committed before the connection dropped is safe.

use std::future::Future;
use std::time::Instant;

use crate::config::RetryPolicy;

/// PostgreSQL SQLSTATEs worth retrying: connection exceptions (class 08), server shutting down
/// or starting (57P01-57P03), serialization failure and deadlock (40001, 40P01), too many
/// connections (53300).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300"
        )
}

/// SQLite primary result codes worth retrying: BUSY (5) and LOCKED (6), and their extended forms.
fn is_transient_sqlite_code(code: &str) -> bool {
    code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Whether `err` is worth retrying.
pub(crate) fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Protocol(msg) => msg.contains("connection") || msg.contains("unexpected"),
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| is_transient_sqlstate(&c) || is_transient_sqlite_code(&c)),
        _ => false,
    }
}

/// Run `op` until it succeeds, fails with a non-transient error, or the policy's budget runs out.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    operation: &'static str,
    url: &str,
    mut op: F,
) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let started = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(v) => {
                if attempt > 1 {
                    tracing::info!(
                        operation,
                        url,
                        attempt,
                        "database operation succeeded after retry"
                    );
                }
                return Ok(v);
            }
            Err(err) if is_transient(&err) && started.elapsed() < policy.give_up_after => {
                let delay = policy.delay(attempt);
                tracing::warn!(
                    operation,
                    url,
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %err,
                    "transient database error; retrying"
                );
                tokio::time::sleep(delay).await;
            }
            Err(err) => {
                if is_transient(&err) {
                    tracing::error!(operation, url, attempt, error = %err, "database still unavailable; giving up this operation");
                }
                return Err(err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn classifies_codes() {
        assert!(is_transient_sqlstate("08006"));
        assert!(is_transient_sqlstate("57P01"));
        assert!(!is_transient_sqlstate("23505"));
        assert!(is_transient_sqlite_code("5"));
        assert!(is_transient_sqlite_code("517"));
        assert!(!is_transient_sqlite_code("19"));
        assert!(!is_transient_sqlite_code("x"));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
    }

    #[tokio::test]
    async fn retries_transient_then_succeeds_and_stops_on_permanent() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            give_up_after: Duration::from_secs(5),
        };
        let mut calls = 0;
        let out = with_retry(&policy, "test", "sqlite://x", || {
            calls += 1;
            let fail = calls < 3;
            async move {
                if fail {
                    Err(sqlx::Error::PoolTimedOut)
                } else {
                    Ok(7)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls, 3);

        let mut calls = 0;
        let out: Result<(), _> = with_retry(&policy, "test", "sqlite://x", || {
            calls += 1;
            async { Err(sqlx::Error::RowNotFound) }
        })
        .await;
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn gives_up_after_budget() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(5),
            give_up_after: Duration::from_millis(30),
        };
        let mut calls = 0;
        let out: Result<(), _> = with_retry(&policy, "test", "sqlite://x", || {
            calls += 1;
            async { Err(sqlx::Error::PoolTimedOut) }
        })
        .await;
        assert!(matches!(out, Err(sqlx::Error::PoolTimedOut)));
        assert!(calls >= 2, "{calls}");
    }
}
