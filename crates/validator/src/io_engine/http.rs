//! The IO-Engine's HTTP endpoint: OpenMetrics text at `/metrics`, health at `/health`, readiness
//! at `/ready`, and the optional `/admin/dispatch` that runs a `WorkUnit` through the pool (tests
//! and diagnostics).
//!
//! `/health` answers whether the IO-Engine serves and its database answers (503 while draining or
//! when the database does not answer); `/ready` adds that the validator can do its work: the
//! tasks have started (the database is open) and at least one compute worker is connected. A
//! load balancer or an orchestrator's readiness probe uses `/ready`, a liveness probe `/health`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gaia_ipc::WorkUnit;
use prometheus_client::registry::Registry;
use serde_json::json;

use super::dispatcher::{DispatchError, Dispatcher};
use crate::telemetry::metrics::render;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The pool.
    pub dispatcher: Arc<Dispatcher>,
    /// Metrics registry.
    pub registry: Arc<Registry>,
    /// The bearer token `/admin/dispatch` requires, if any.
    pub admin_token: Option<Arc<str>>,
}

/// Build the router.
pub fn router(state: HttpState, admin: bool) -> Router {
    let mut router = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready));
    if admin {
        router = router.route("/admin/dispatch", post(dispatch));
    }
    router.with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> Response {
    state.dispatcher.update_depths();
    let body = render(&state.registry);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// How long `/health` waits for the database.
const DATABASE_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

/// The database's answer and the ledger's backlog; `None` before the tasks opened the store.
async fn database_health(state: &HttpState) -> Option<(bool, serde_json::Value)> {
    let store = state.dispatcher.database.get()?;
    let probe = async {
        store.ping().await?;
        let pending = store.count_jobs(gaia_store::JobStatus::Pending).await?;
        let running = store.count_jobs(gaia_store::JobStatus::InProgress).await?;
        Ok::<_, gaia_store::StoreError>((pending, running))
    };
    Some(match tokio::time::timeout(DATABASE_PROBE, probe).await {
        Ok(Ok((pending, running))) => (
            true,
            json!({ "ok": true, "ledger": { "pending": pending, "in_progress": running } }),
        ),
        Ok(Err(e)) => (false, json!({ "ok": false, "error": e.to_string() })),
        Err(_) => (
            false,
            json!({ "ok": false, "error": format!("no answer within {DATABASE_PROBE:?}") }),
        ),
    })
}

/// 200 with `status: ok`, or 503 while shutting down or when the database does not answer (it
/// used to say "ok" through a database outage).
async fn health(State(state): State<HttpState>) -> Response {
    verdict(&state, false).await
}

/// 200 with `status: ready` once the validator can work: not draining, the database open and
/// answering, at least one compute worker connected; else 503 with the first reason.
async fn ready(State(state): State<HttpState>) -> Response {
    verdict(&state, true).await
}

async fn verdict(state: &HttpState, readiness: bool) -> Response {
    let d = &state.dispatcher;
    let database = database_health(state).await;
    let workers = d.metrics.workers_connected.get();
    let status = if d.is_shutting_down() {
        "shutting_down"
    } else if database.as_ref().is_some_and(|(ok, _)| !ok) {
        "database_unreachable"
    } else if readiness && database.is_none() {
        "starting"
    } else if readiness && workers < 1 {
        "no_workers"
    } else if readiness {
        "ready"
    } else {
        "ok"
    };
    let body = json!({
        "status": status,
        "workers_connected": workers,
        "in_flight": d.in_flight(),
        "queue_depth": d.queue.depth(),
        "database": database.map(|(_, v)| v),
    });
    let code = if matches!(status, "ok" | "ready") {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn dispatch(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Json(unit): Json<WorkUnit>,
) -> Response {
    if let Some(token) = &state.admin_token {
        if !authorized(&headers, token) {
            let body = json!({ "error": "unauthorized: Authorization: Bearer <ADMIN_API_TOKEN>" });
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
    }
    let outcome = state.dispatcher.dispatch_and_wait(unit).await;
    let body = match outcome {
        Ok(result) => json!({ "outcome": "success", "result": result }),
        Err(DispatchError::Handler(result)) => {
            json!({ "outcome": "handler_error", "result": result, "error": result.error })
        }
        Err(e) => json!({ "outcome": e.outcome(), "error": e.to_string() }),
    };
    (StatusCode::OK, Json(body)).into_response()
}
