//! A small JSON-RPC 2.0 client for a subtensor node (no subxt): over a websocket for `ws://` and
//! `wss://` endpoints (the public ones, chain.md §1; [`super::ws`]), over HTTP(S) POST for
//! `http://` and `https://` (a node's RPC port answers both).
//!
//! Every call has a deadline (connect + request + reading the whole answer), an answer over
//! [`RpcOptions::max_response_bytes`] is refused before it is buffered, and transport failures
//! (connection refused or closed, timeout, HTTP 5xx/429) are retried with doubling back-off — on
//! a websocket, over a new connection. A JSON-RPC error object is not retried. Every [`RpcError`]
//! names the method.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::ws::{WsFailure, WsTransport};
use crate::retry::{with_backoff, Backoff, Failed, Verdict};
use crate::telemetry::calls::CallFamily;

/// Limits of the client.
#[derive(Debug, Clone)]
pub struct RpcOptions {
    /// Deadline of one attempt (connect, send, read the whole body).
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Attempts for a transport failure (1 = no retry).
    pub attempts: u32,
    /// Pause before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Certificates (DER) trusted for `wss://` besides the webpki roots: a node behind a
    /// private CA.
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Where each call's outcome and latency are counted (the IO-Engine's metrics).
    pub metrics: Option<CallFamily>,
}

impl Default for RpcOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            attempts: 3,
            backoff: Duration::from_millis(500),
            extra_root_certificates: Vec::new(),
            metrics: None,
        }
    }
}

/// Failures of a JSON-RPC call. Every variant names the method.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The endpoint could not be reached or answered HTTP 5xx/429 (after every attempt).
    #[error("{method}: transport error after {attempts} attempt(s): {reason}")]
    Transport {
        /// RPC method.
        method: String,
        /// Attempts made.
        attempts: u32,
        /// Last failure.
        reason: String,
    },
    /// No complete answer within the deadline (after every attempt).
    #[error("{method}: no answer within {timeout_ms} ms ({attempts} attempt(s))")]
    Timeout {
        /// RPC method.
        method: String,
        /// Deadline per attempt.
        timeout_ms: u128,
        /// Attempts made.
        attempts: u32,
    },
    /// The body exceeded the size limit.
    #[error("{method}: response over {limit} bytes")]
    TooLarge {
        /// RPC method.
        method: String,
        /// The limit.
        limit: usize,
    },
    /// HTTP status other than 2xx (not retried: 4xx).
    #[error("{method}: HTTP {status}")]
    Http {
        /// RPC method.
        method: String,
        /// Status code.
        status: u16,
    },
    /// The answer is not a JSON-RPC response of the expected shape.
    #[error("{method}: malformed answer: {reason}")]
    Malformed {
        /// RPC method.
        method: String,
        /// What is wrong.
        reason: String,
    },
    /// The node answered with a JSON-RPC error object.
    #[error("{method}: node error {code}: {message}")]
    Remote {
        /// RPC method.
        method: String,
        /// JSON-RPC error code (-32601: method not found).
        code: i64,
        /// Error message (and `data`, when given).
        message: String,
    },
}

impl RpcError {
    /// The failure class, for metrics: `transport`, `timeout`, `too_large`, `http`, `malformed`
    /// or `remote_error`.
    pub fn kind(&self) -> &'static str {
        match self {
            RpcError::Transport { .. } => "transport",
            RpcError::Timeout { .. } => "timeout",
            RpcError::TooLarge { .. } => "too_large",
            RpcError::Http { .. } => "http",
            RpcError::Malformed { .. } => "malformed",
            RpcError::Remote { .. } => "remote_error",
        }
    }

    /// The node does not offer this method.
    pub fn is_method_not_found(&self) -> bool {
        matches!(self, RpcError::Remote { code: -32601, .. })
    }
}

/// Why one attempt failed: for good, or transiently (worth another attempt).
enum AttemptError {
    Final(RpcError),
    Transient(RpcError),
}

impl AttemptError {
    fn as_ref(&self) -> &RpcError {
        match self {
            AttemptError::Final(e) | AttemptError::Transient(e) => e,
        }
    }

    fn into_inner(self) -> RpcError {
        match self {
            AttemptError::Final(e) | AttemptError::Transient(e) => e,
        }
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Final(e) | AttemptError::Transient(e) => e.fmt(f),
        }
    }
}

/// A JSON-RPC client for one endpoint.
#[derive(Debug)]
pub struct RpcClient {
    transport: Transport,
    options: RpcOptions,
    next_id: AtomicU64,
}

/// How requests reach the node.
#[derive(Debug)]
enum Transport {
    Http { http: reqwest::Client, url: String },
    WebSocket(Box<WsTransport>),
}

impl RpcClient {
    /// A client for `endpoint`: `ws://`/`wss://` over a websocket, anything else over HTTP POST.
    pub fn new(endpoint: &str, options: RpcOptions) -> Result<RpcClient, RpcError> {
        let endpoint = endpoint.trim();
        let is_ws = ["ws://", "wss://"].iter().any(|p| {
            endpoint
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        });
        let transport = if is_ws {
            Transport::WebSocket(Box::new(WsTransport::new(endpoint, &options)?))
        } else {
            let http = reqwest::Client::builder()
                .connect_timeout(options.timeout)
                .timeout(options.timeout)
                .build()
                .map_err(|e| RpcError::Transport {
                    method: "(client)".into(),
                    attempts: 0,
                    reason: e.to_string(),
                })?;
            Transport::Http {
                http,
                url: endpoint.to_string(),
            }
        };
        Ok(RpcClient {
            transport,
            options,
            next_id: AtomicU64::new(1),
        })
    }

    /// The endpoint in use.
    pub fn url(&self) -> &str {
        match &self.transport {
            Transport::Http { url, .. } => url,
            Transport::WebSocket(ws) => ws.url(),
        }
    }

    /// Whether calls go over a websocket.
    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::WebSocket(_))
    }

    /// Call `method` with `params`, retrying transport failures; decode `result` as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        self.call_with(method, params, self.options.attempts).await
    }

    /// As [`RpcClient::call`] with one attempt only (for calls that must not be repeated blindly).
    pub async fn call_once<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        self.call_with(method, params, 1).await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        attempts: u32,
    ) -> Result<T, RpcError> {
        let backoff = Backoff {
            attempts,
            first: self.options.backoff,
            max: Duration::from_secs(60),
        };
        let one = |n: u32| {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            async move {
                tokio::time::timeout(self.options.timeout, self.attempt(method, id, &body))
                    .await
                    .unwrap_or_else(|_| {
                        Err(AttemptError::Transient(RpcError::Timeout {
                            method: method.into(),
                            timeout_ms: self.options.timeout.as_millis(),
                            attempts: n,
                        }))
                    })
            }
        };
        let classify = |e: &AttemptError| match e {
            AttemptError::Transient(_) => Verdict::Retry(None),
            AttemptError::Final(_) => Verdict::Stop,
        };
        let started = std::time::Instant::now();
        let outcome = with_backoff(backoff, method, one, classify).await;
        if let Some(metrics) = &self.options.metrics {
            let label = match &outcome {
                Ok(_) => "ok",
                Err(Failed { error, .. }) => error.as_ref().kind(),
            };
            metrics.observe(method, label, started.elapsed().as_secs_f64());
        }
        let value = outcome.map_err(|Failed { error, attempts }| match error.into_inner() {
            RpcError::Timeout {
                method, timeout_ms, ..
            } => RpcError::Timeout {
                method,
                timeout_ms,
                attempts,
            },
            RpcError::Transport { method, reason, .. } => RpcError::Transport {
                method,
                attempts,
                reason,
            },
            other => other,
        })?;
        serde_json::from_value(value).map_err(|e| RpcError::Malformed {
            method: method.into(),
            reason: format!("result: {e}"),
        })
    }

    async fn attempt(&self, method: &str, id: u64, body: &Value) -> Result<Value, AttemptError> {
        let (http, url) = match &self.transport {
            Transport::Http { http, url } => (http, url),
            Transport::WebSocket(ws) => {
                return match ws.exchange(method, id, body).await {
                    Ok(bytes) => parse_response(method, &bytes).map_err(AttemptError::Final),
                    Err(WsFailure::Final(e)) => Err(AttemptError::Final(e)),
                    Err(WsFailure::Transient(e)) => Err(AttemptError::Transient(e)),
                };
            }
        };
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                RpcError::Timeout {
                    method: method.into(),
                    timeout_ms: self.options.timeout.as_millis(),
                    attempts: 1,
                }
            } else {
                RpcError::Transport {
                    method: method.into(),
                    attempts: 1,
                    reason: e.to_string(),
                }
            }
        };
        let mut resp = match http.post(url).json(body).send().await {
            Ok(r) => r,
            Err(e) => return Err(AttemptError::Transient(transport(e))),
        };
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(AttemptError::Transient(RpcError::Transport {
                method: method.into(),
                attempts: 1,
                reason: format!("HTTP {status}"),
            }));
        }
        if !status.is_success() {
            return Err(AttemptError::Final(RpcError::Http {
                method: method.into(),
                status: status.as_u16(),
            }));
        }
        let limit = self.options.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(AttemptError::Final(RpcError::TooLarge {
                method: method.into(),
                limit,
            }));
        }
        let mut buf = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() + chunk.len() > limit {
                        return Err(AttemptError::Final(RpcError::TooLarge {
                            method: method.into(),
                            limit,
                        }));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(AttemptError::Transient(transport(e))),
            }
        }
        parse_response(method, &buf).map_err(AttemptError::Final)
    }
}

/// The `result` of a JSON-RPC response body, or its error object as [`RpcError::Remote`].
pub fn parse_response(method: &str, body: &[u8]) -> Result<Value, RpcError> {
    let malformed = |reason: String| RpcError::Malformed {
        method: method.into(),
        reason,
    };
    let mut v: Value = serde_json::from_slice(body).map_err(|e| malformed(format!("{e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(malformed("not a JSON object".into()));
    };
    if let Some(err) = obj.get("error").filter(|e| !e.is_null()) {
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let mut message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
            .to_string();
        if let Some(data) = err.get("data").filter(|d| !d.is_null()) {
            let data = data
                .as_str()
                .map(str::to_string)
                .unwrap_or(data.to_string());
            message = format!("{message}: {data}");
        }
        return Err(RpcError::Remote {
            method: method.into(),
            code,
            message,
        });
    }
    obj.remove("result")
        .ok_or_else(|| malformed("neither result nor error".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_transport() {
        let client = |e: &str| RpcClient::new(e, RpcOptions::default()).unwrap();
        assert!(client("wss://entrypoint-finney.opentensor.ai:443").is_websocket());
        assert!(client(" WS://127.0.0.1:9944").is_websocket());
        assert!(!client("http://127.0.0.1:9944").is_websocket());
        assert!(!client("https://x:1/").is_websocket());
        assert_eq!(client("ws://127.0.0.1:9944 ").url(), "ws://127.0.0.1:9944");
    }

    #[test]
    fn responses_are_parsed() {
        let ok = parse_response("m", br#"{"jsonrpc":"2.0","id":1,"result":"0x01"}"#).unwrap();
        assert_eq!(ok, json!("0x01"));
        let null = parse_response("m", br#"{"jsonrpc":"2.0","id":1,"result":null}"#).unwrap();
        assert!(null.is_null());
        let err = parse_response(
            "state_x",
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
        )
        .unwrap_err();
        assert!(err.is_method_not_found() && err.to_string().contains("state_x"));
        assert!(matches!(
            parse_response("m", b"<html>"),
            Err(RpcError::Malformed { .. })
        ));
        assert!(matches!(
            parse_response("m", b"[1]"),
            Err(RpcError::Malformed { .. })
        ));
        assert!(matches!(
            parse_response("m", br#"{"id":1}"#),
            Err(RpcError::Malformed { .. })
        ));
    }
}
