//! The status page: a read-only, server-rendered HTML view of the database for operators,
//! served by the IO-Engine on `STATUS_ADDR` (default `127.0.0.1:9091`; empty = off).
//!
//! | path | answers |
//! |---|---|
//! | `/` | overview: recent runs, ledger, workers and restarts, last weights, settings |
//! | `/runs/{id}` | one run: miners × leads heat map, statuses, failure reasons |
//! | `/miners/{uid}` | one miner: score history plot, outcome per run |
//! | `/weights` | the newest vector as a bar chart, burn share, change, history |
//!
//! `overview` and `pages` turn the views of `crate::operator` into HTML, `html` escapes and
//! frames it, `svg` draws the plots; this file routes, authenticates and bounds the database
//! reads. No script and no external asset: plots are inline SVG. Every request reads the
//! database through a store whose retry budget is a few seconds and under an overall deadline,
//! so a page answers a clear 503 page while the database is down instead of hanging; an unknown
//! id answers 404. With `STATUS_TOKEN` set, a request needs `Authorization: Bearer <token>` or
//! HTTP basic auth with the token as password (browsers ask for it). Nothing secret is shown:
//! the views hold no URL, key or token, and every value from the database is escaped.

pub mod html;
pub mod overview;
pub mod pages;
pub mod svg;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use gaia_store::{RetryPolicy, Store};

use super::dispatcher::Dispatcher;
use crate::operator::{self, OverviewContext};
use crate::runtime::{RuntimeDir, SupervisorState};
use overview::ProcessInfo;

/// How long a page may spend reading the database before it answers the error page.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(5);

/// Retry budget of the page's queries: short, so the deadline is rarely the one that fires.
fn page_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        give_up_after: Duration::from_secs(2),
    }
}

/// How many runs the overview lists and a miner page plots.
const OVERVIEW_RUNS: u32 = 10;
const MINER_RUNS: u32 = 30;
const WEIGHTS_HISTORY: u32 = 20;

/// What the status page needs.
#[derive(Clone)]
pub struct StatusState {
    /// The IO-Engine's pool (workers connected, queue) and the database once the tasks open it.
    pub dispatcher: Arc<Dispatcher>,
    /// A store to read instead of the dispatcher's (the benchmark and tests); `None` = the
    /// dispatcher's.
    pub store: Option<Store>,
    /// Settings the overview shows.
    pub context: OverviewContext,
    /// Compute workers the settings ask for.
    pub workers_configured: usize,
    /// Where the supervisor publishes restarts; `None` when run without one.
    pub runtime: Option<RuntimeDir>,
    /// Required token, if any.
    pub token: Option<Arc<str>>,
}

/// The status page's router.
pub fn router(state: StatusState) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/runs/{id}", get(run_page))
        .route("/miners/{uid}", get(miner_page))
        .route("/weights", get(weights_page))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

fn html(code: StatusCode, body: String) -> Response {
    (
        code,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Constant-time comparison of two secrets.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `headers` carry the token as a bearer token or as a basic-auth password.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return same(bearer.as_bytes(), token.as_bytes());
    }
    value
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|d| {
            let pos = d.iter().position(|c| *c == b':')?;
            Some(same(&d[pos + 1..], token.as_bytes()))
        })
        .unwrap_or(false)
}

async fn auth(
    State(state): State<StatusState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = &state.token {
        if !authorized(request.headers(), token) {
            let mut r = html(
                StatusCode::UNAUTHORIZED,
                pages::error(
                    "Sign-in needed",
                    "This status page needs the STATUS_TOKEN: as the password of the browser's \
                     sign-in prompt (any user name) or as Authorization: Bearer <token>.",
                ),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(r#"Basic realm="gaia validator status""#),
            );
            return r;
        }
    }
    next.run(request).await
}

/// Why a page could not be made.
enum PageError {
    /// The tasks have not opened the database yet.
    NotOpen,
    /// The database failed.
    Store(gaia_store::StoreError),
    /// No answer within the deadline.
    Deadline,
    /// No such run or miner.
    NotFound(String),
}

impl PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotOpen => html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::error(
                    "Database not open yet",
                    "The validator is starting and has not opened its database yet (or could \
                     not: see its log). Reload in a few seconds.",
                ),
            ),
            PageError::Store(e) => {
                tracing::warn!(error = %e, "status page: database read failed");
                html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    pages::error(
                        "Database not answering",
                        &format!(
                            "The database failed, so nothing can be shown. The validator \
                             retries on its own; check that the database server is up and \
                             reachable. Error: {e}"
                        ),
                    ),
                )
            }
            PageError::Deadline => html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::error(
                    "Database not answering",
                    &format!(
                        "The database did not answer within {} s, so nothing can be shown: it \
                         is down, unreachable or overloaded. The validator retries on its own; \
                         check the database server and the validator's log.",
                        PAGE_DEADLINE.as_secs()
                    ),
                ),
            ),
            PageError::NotFound(what) => html(
                StatusCode::NOT_FOUND,
                pages::error("Not found", &format!("{what} does not exist.")),
            ),
        }
    }
}

impl StatusState {
    fn store(&self) -> Result<Store, PageError> {
        let store = match &self.store {
            Some(s) => s.clone(),
            None => self
                .dispatcher
                .database
                .get()
                .cloned()
                .ok_or(PageError::NotOpen)?,
        };
        Ok(store.with_retry(page_retry()))
    }

    fn processes(&self) -> ProcessInfo {
        let d = &self.dispatcher;
        ProcessInfo {
            workers_connected: d.metrics.workers_connected.get(),
            workers_configured: self.workers_configured,
            in_flight: d.in_flight(),
            queue_depth: d.queue.depth(),
            restarts: self
                .runtime
                .as_ref()
                .and_then(SupervisorState::read)
                .map(|s| s.restarts),
        }
    }
}

/// Read a view under the page deadline.
async fn read<T>(
    fut: impl std::future::Future<Output = Result<T, gaia_store::StoreError>>,
) -> Result<T, PageError> {
    match tokio::time::timeout(PAGE_DEADLINE, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PageError::Store(e)),
        Err(_) => Err(PageError::Deadline),
    }
}

fn respond(result: Result<String, PageError>) -> Response {
    match result {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => e.into_response(),
    }
}

async fn overview_page(State(state): State<StatusState>) -> Response {
    respond(
        async {
            let store = state.store()?;
            let mut ctx = state.context.clone();
            ctx.recent_runs = OVERVIEW_RUNS;
            let o = read(operator::overview(&store, &ctx, crate::clock::now())).await?;
            Ok(overview::overview(&o, &state.processes()))
        }
        .await,
    )
}

async fn run_page(State(state): State<StatusState>, Path(id): Path<String>) -> Response {
    respond(
        async {
            let not_found = || PageError::NotFound(format!("Run {id}"));
            let run_id: i64 = id.parse().map_err(|_| not_found())?;
            let store = state.store()?;
            let detail = read(operator::run_detail(&store, run_id)).await?;
            detail.map(|d| pages::run(&d)).ok_or_else(not_found)
        }
        .await,
    )
}

async fn miner_page(State(state): State<StatusState>, Path(uid): Path<String>) -> Response {
    respond(
        async {
            let not_found = || PageError::NotFound(format!("Miner {uid}"));
            let miner: u8 = uid.parse().map_err(|_| not_found())?;
            let store = state.store()?;
            let history = read(operator::miner_history(&store, miner, MINER_RUNS)).await?;
            history.map(|h| pages::miner(&h)).ok_or_else(not_found)
        }
        .await,
    )
}

async fn weights_page(State(state): State<StatusState>) -> Response {
    respond(
        async {
            let store = state.store()?;
            let w = read(operator::weights_view(&store, WEIGHTS_HISTORY)).await?;
            Ok(pages::weights(&w, crate::clock::now()))
        }
        .await,
    )
}

async fn not_found(uri: axum::http::Uri) -> Response {
    PageError::NotFound(format!("The page {}", uri.path())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_as_bearer_or_basic_password() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!authorized(&h, "s3cret"));
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        assert!(authorized(&h, "s3cret"));
        let wrong = base64::engine::general_purpose::STANDARD.encode("s3cret:nope");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {wrong}").parse().unwrap(),
        );
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Basic %%%".parse().unwrap());
        assert!(!authorized(&h, "s3cret"));
    }
}
