//! How a simulated miner's server misbehaves under load, as production miners do: a sliding
//! 60-second request limit on every path (Gaia's `MINER_RATE_LIMIT_PER_MINUTE`, default 500,
//! answered `429 {"detail": "Rate limit exceeded"}` with `Retry-After`), and a delay before every
//! store read (a miner busy with inference). Applied as an axum middleware around the miner's
//! routes; the counters let tests see what the validator did.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

/// The rate limit's window.
const WINDOW: Duration = Duration::from_secs(60);

/// What a miner's server enforces; the default enforces nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeLimits {
    /// Requests allowed per sliding minute, over all paths and clients (on loopback every
    /// client is 127.0.0.1, as the production limiter keys by client IP).
    pub per_minute: Option<u32>,
    /// Wait before answering a `/forecasts/` request.
    pub store_delay: Option<Duration>,
}

/// The live state of a server's limits.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: ServeLimits,
    recent: Mutex<VecDeque<Instant>>,
    served: AtomicU64,
    refused: AtomicU64,
}

impl Limiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: ServeLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            ..Self::default()
        })
    }

    /// Requests let through so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Requests answered 429 so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `None` when the request may pass, else the seconds until a slot frees.
    fn admit(&self) -> Option<u64> {
        let limit = self.limits.per_minute? as usize;
        let now = Instant::now();
        let mut recent = match self.recent.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() < limit {
            recent.push_back(now);
            return None;
        }
        let oldest = recent.front().copied().unwrap_or(now);
        let free_in = WINDOW.saturating_sub(now.duration_since(oldest));
        Some(free_in.as_secs().max(1))
    }
}

async fn enforce(State(limiter): State<Arc<Limiter>>, request: Request, next: Next) -> Response {
    if let Some(retry_after) = limiter.admit() {
        limiter.refused.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            Json(json!({ "detail": "Rate limit exceeded" })),
        )
            .into_response();
    }
    limiter.served.fetch_add(1, Ordering::Relaxed);
    if let Some(delay) = limiter.limits.store_delay {
        if request.uri().path().starts_with("/forecasts/") {
            tokio::time::sleep(delay).await;
        }
    }
    next.run(request).await
}

/// `app` behind `limiter`.
pub fn limited(app: Router, limiter: Arc<Limiter>) -> Router {
    app.layer(axum::middleware::from_fn_with_state(limiter, enforce))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_the_limit_then_refuses_with_a_wait() {
        let l = Limiter::new(ServeLimits {
            per_minute: Some(3),
            store_delay: None,
        });
        assert_eq!((l.admit(), l.admit(), l.admit()), (None, None, None));
        let wait = l.admit().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let open = Limiter::new(ServeLimits::default());
        assert!((0..1000).all(|_| open.admit().is_none()));
    }
}
