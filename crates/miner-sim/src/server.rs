//! The plain-JSON HTTP transport of a simulated miner (axum): the three weather POST endpoints
//! with bodies `{"data": {...}, "nonce": ...}` and `GET`/`HEAD /forecasts/{path}` with a Bearer
//! JWT. Only parsing and status mapping live here; the logic is in [`crate::miner`], so the
//! fiber-encrypted transport can reuse it. Error bodies follow the Python miner: FastAPI
//! `{"detail": ...}` for 401/403/404, Gaia `{"error": ...}` for 400/422/500.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::miner::protocol::{Envelope, FileReply, InitiateFetchData, JobIdData, Rejection};
use crate::miner::MinerCore;
use crate::SimError;

/// Header carrying the validator's hotkey (fiber's `validator-hotkey`).
pub const VALIDATOR_HOTKEY_HEADER: &str = "validator-hotkey";

fn reject(r: Rejection) -> Response {
    let status = StatusCode::from_u16(r.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match &r {
        Rejection::Unauthorized(m) | Rejection::Forbidden(m) | Rejection::NotFound(m) => {
            json!({ "detail": m })
        }
        Rejection::Invalid(m) => json!({ "error": "Invalid request payload", "details": m }),
        Rejection::BadRequest(m) | Rejection::Internal(m) => json!({ "error": m }),
    };
    (status, Json(body)).into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice::<Envelope<T>>(body)
        .map(|e| e.data)
        .map_err(|e| Rejection::Invalid(e.to_string()))
}

fn header_validator(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(VALIDATOR_HOTKEY_HEADER)
        .and_then(|v| v.to_str().ok())
}

fn reply<T: serde::Serialize>(r: Result<T, Rejection>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => reject(e),
    }
}

pub(crate) async fn initiate(
    State(core): State<Arc<MinerCore>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        parse::<InitiateFetchData>(&body)
            .and_then(|d| core.initiate_fetch(&d, header_validator(&headers))),
    )
}

fn header_check(core: &MinerCore, headers: &HeaderMap) -> Result<(), Rejection> {
    match (&core.config().allowed_validators, header_validator(headers)) {
        (Some(list), Some(h)) if !list.iter().any(|a| a == h) => {
            Err(Rejection::Forbidden("Hotkey not found in metagraph".into()))
        }
        _ => Ok(()),
    }
}

pub(crate) async fn poll(
    State(core): State<Arc<MinerCore>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        header_check(&core, &headers)
            .and_then(|()| parse::<JobIdData>(&body))
            .and_then(|d| core.poll(&d.job_id)),
    )
}

pub(crate) async fn kerchunk(
    State(core): State<Arc<MinerCore>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(
        header_check(&core, &headers)
            .and_then(|()| parse::<JobIdData>(&body))
            .and_then(|d| core.kerchunk(&d.job_id)),
    )
}

/// The token from `Authorization: Bearer <t>`, `Authorization: <t>` or `?token=<t>`.
fn token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let t = v.strip_prefix("Bearer ").unwrap_or(v).trim();
        return Some(t.to_owned());
    }
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
}

async fn forecasts(
    State(core): State<Arc<MinerCore>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(path): Path<String>,
) -> Response {
    let token = token(&headers, query.as_deref());
    let head = method == Method::HEAD;
    let served =
        tokio::task::spawn_blocking(move || core.file(&path, token.as_deref(), head)).await;
    match served {
        Ok(Ok(FileReply::Bytes(b))) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], b).into_response()
        }
        Ok(Ok(FileReply::Listing(files))) => Json(json!({ "files": files })).into_response(),
        Ok(Err(r)) => reject(r),
        Err(e) => reject(Rejection::Internal(e.to_string())),
    }
}

/// The miner's routes.
pub fn router(core: Arc<MinerCore>) -> Router {
    Router::new()
        .route("/weather-initiate-fetch", post(initiate))
        .route("/weather-poll-job-status", post(poll))
        .route("/weather-kerchunk-request", post(kerchunk))
        .with_state(Arc::clone(&core))
        .merge(forecasts_router(core))
}

/// `GET`/`HEAD /forecasts/{path}` alone (shared with the fiber routes).
pub fn forecasts_router(core: Arc<MinerCore>) -> Router {
    Router::new()
        .route("/forecasts/{*path}", get(forecasts))
        .with_state(core)
}

/// A running miner server.
#[derive(Debug)]
pub struct ServerHandle {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stop accepting, finish in-flight requests and wait for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::warn!(error = %e, "miner server task failed");
        }
    }
}

/// Serve `core` on `bind` (use port 0 for any free port).
pub async fn spawn(core: Arc<MinerCore>, bind: SocketAddr) -> Result<ServerHandle, SimError> {
    spawn_router(router(core), bind).await
}

/// Serve `app` (e.g. [`crate::fiber::routes::router`]) on `bind`.
pub async fn spawn_router(app: Router, bind: SocketAddr) -> Result<ServerHandle, SimError> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| SimError::Server(format!("bind {bind}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SimError::Server(e.to_string()))?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "miner server stopped with an error");
        }
    });
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task,
    })
}
