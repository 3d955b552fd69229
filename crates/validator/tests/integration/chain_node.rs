//! The loopback subtensor node the online chain client is tested against: the storage, runtime
//! and metadata of `tests/fixtures/chain/online_storage.json` behind JSON-RPC, over HTTP POST
//! ([`serve`]) or over a websocket ([`serve_on`] with [`Wire::WebSocket`]), with switchable
//! misbehaviour ([`Mode`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use futures::{SinkExt, StreamExt};
use gaia_protocol::Signer;
use gaia_validator::chain::online::OnlineChain;
use gaia_validator::chain::rpc::RpcOptions;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chain/online_storage.json"
);

pub(crate) fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("fixture")).expect("JSON")
}

/// How the mock node misbehaves.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Normal,
    NoQueryStorageAt,
    Garbage,
    Oversized,
    /// An endless chunked body (no Content-Length).
    Endless,
    /// Headers at once, then one byte every 100 ms.
    Trickle,
    Slow,
    ServerError,
}

pub(crate) struct Mock {
    pub(crate) storage: Mutex<BTreeMap<String, String>>,
    pub(crate) fx: Value,
    pub(crate) mode: Mutex<Mode>,
    pub(crate) submitted: Mutex<Vec<String>>,
    pub(crate) methods: Mutex<Vec<String>>,
    /// On submission, move LastUpdate[own uid] as inclusion would.
    pub(crate) include: Mutex<bool>,
    /// Answer `author_submitExtrinsic` with subtensor's pool refusal 6.
    pub(crate) refuse_submit: Mutex<bool>,
    /// Which of the fixture's metadata variants `state_getMetadata` answers.
    pub(crate) metadata: Mutex<&'static str>,
    /// Websocket connections accepted.
    pub(crate) connections: AtomicUsize,
}

impl Mock {
    fn hash_of(&self, n: u64) -> Value {
        self.fx["block_hashes"]
            .get(n.to_string())
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn answer(&self, method: &str, params: &Value) -> Result<Value, (i64, &'static str)> {
        let mut storage = self.storage.lock().unwrap();
        let get = |k: &Value| {
            k.as_str()
                .and_then(|k| storage.get(k))
                .map_or(Value::Null, |v| json!(v))
        };
        let head = self.fx["head"].as_u64().unwrap();
        Ok(match method {
            "chain_getBlockHash" => match params.get(0).and_then(Value::as_u64) {
                Some(n) => self.hash_of(n),
                None => self.hash_of(head),
            },
            "chain_getHeader" => json!({"number": format!("0x{head:x}"), "parentHash": "0x00"}),
            "state_getStorage" => get(&params[0]),
            "state_queryStorageAt" if *self.mode.lock().unwrap() != Mode::NoQueryStorageAt => {
                let changes: Vec<Value> = params[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| json!([k, get(k)]))
                    .collect();
                json!([{"block": params[1], "changes": changes}])
            }
            "state_getKeysPaged" => {
                let prefix = params[0].as_str().unwrap();
                let count = params[1].as_u64().unwrap() as usize;
                let start = params[2].as_str().unwrap_or("");
                let keys: Vec<&String> = storage
                    .keys()
                    .filter(|k| k.starts_with(prefix) && k.as_str() > start)
                    .take(count)
                    .collect();
                json!(keys)
            }
            "state_getRuntimeVersion" => self.fx["runtime_version"].clone(),
            "state_getMetadata" => self.fx["metadata"][*self.metadata.lock().unwrap()].clone(),
            "system_accountNextIndex" => self.fx["nonce"].clone(),
            "author_submitExtrinsic" => {
                let xt = params[0].as_str().unwrap().to_string();
                let raw = hex::decode(xt.trim_start_matches("0x")).unwrap();
                self.submitted.lock().unwrap().push(xt);
                if *self.include.lock().unwrap() {
                    let item = &self.fx["items"]["LastUpdate"];
                    storage.insert(
                        item["key"].as_str().unwrap().into(),
                        item["after_inclusion"].as_str().unwrap().into(),
                    );
                }
                json!(format!("0x{}", hex::encode(Blake2b::<U32>::digest(raw))))
            }
            _ => return Err((-32601, "Method not found")),
        })
    }
}

async fn rpc(State(mock): State<Arc<Mock>>, Json(req): Json<Value>) -> Response {
    let method = req["method"].as_str().unwrap_or("").to_string();
    mock.methods.lock().unwrap().push(method.clone());
    let mode = *mock.mode.lock().unwrap();
    match mode {
        Mode::Garbage => return "<html>not json</html>".into_response(),
        Mode::Oversized => return "x".repeat(2 << 20).into_response(),
        Mode::Endless => {
            let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
            let body = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            return axum::body::Body::from_stream(body).into_response();
        }
        Mode::Trickle => {
            let body = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(b" ")), ()))
            });
            return axum::body::Body::from_stream(body).into_response();
        }
        Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
        Mode::ServerError => return axum::http::StatusCode::BAD_GATEWAY.into_response(),
        _ => {}
    }
    Json(reply(&mock, &method, &req)).into_response()
}

/// The JSON-RPC answer to `req` (a result or the node's error object).
fn reply(mock: &Mock, method: &str, req: &Value) -> Value {
    if method == "author_submitExtrinsic" && *mock.refuse_submit.lock().unwrap() {
        return json!({"jsonrpc": "2.0", "id": req["id"], "error": {
            "code": 1010, "message": "Invalid Transaction", "data": "Custom error: 6"}});
    }
    match mock.answer(method, &req["params"]) {
        Ok(result) => json!({"jsonrpc": "2.0", "id": req["id"], "result": result}),
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": code, "message": message}})
        }
    }
}

/// How the test node is reached.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wire {
    /// JSON-RPC over HTTP POST (`http://`).
    Http,
    /// JSON-RPC over a websocket (`ws://`), as the public endpoints.
    WebSocket,
}

/// A websocket node: each text message is a request; before each answer it sends a
/// subscription-style notification the client must skip. `ServerError` closes the connection,
/// `Garbage` answers non-JSON, `Oversized`/`Endless` a 2 MiB message, `Slow`/`Trickle` wait 5 s.
async fn serve_websocket(listener: tokio::net::TcpListener, mock: Arc<Mock>) {
    while let Ok((tcp, _)) = listener.accept().await {
        mock.connections.fetch_add(1, Ordering::SeqCst);
        let _ = tcp.set_nodelay(true);
        let mock = mock.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(req) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let method = req["method"].as_str().unwrap_or("").to_string();
                mock.methods.lock().unwrap().push(method.clone());
                let mode = *mock.mode.lock().unwrap();
                let answer = match mode {
                    Mode::ServerError => return,
                    Mode::Garbage => "<html>not json</html>".to_string(),
                    Mode::Oversized | Mode::Endless => "x".repeat(2 << 20),
                    Mode::Slow | Mode::Trickle => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        reply(&mock, &method, &req).to_string()
                    }
                    Mode::Normal | Mode::NoQueryStorageAt => {
                        reply(&mock, &method, &req).to_string()
                    }
                };
                let notification =
                    json!({"jsonrpc": "2.0", "method": "chain_newHead", "params": {"result": {}}});
                if ws
                    .send(Message::text(notification.to_string()))
                    .await
                    .is_err()
                    || ws.send(Message::text(answer)).await.is_err()
                {
                    return;
                }
            }
        });
    }
}

/// The node over HTTP; the URL is `http://…`.
pub(crate) async fn serve() -> (Arc<Mock>, String) {
    serve_on(Wire::Http).await
}

/// The node over `wire`; the URL is `http://…` or `ws://…`.
pub(crate) async fn serve_on(wire: Wire) -> (Arc<Mock>, String) {
    let fx = fixture();
    let storage = fx["storage"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let mock = Arc::new(Mock {
        storage: Mutex::new(storage),
        fx,
        mode: Mutex::new(Mode::Normal),
        submitted: Mutex::new(Vec::new()),
        methods: Mutex::new(Vec::new()),
        include: Mutex::new(true),
        refuse_submit: Mutex::new(false),
        metadata: Mutex::new("good"),
        connections: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    match wire {
        Wire::Http => {
            let app = Router::new().route("/", post(rpc)).with_state(mock.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            (mock, format!("http://{addr}"))
        }
        Wire::WebSocket => {
            tokio::spawn(serve_websocket(listener, mock.clone()));
            (mock, format!("ws://{addr}"))
        }
    }
}

pub(crate) fn options() -> RpcOptions {
    RpcOptions {
        timeout: Duration::from_millis(500),
        max_response_bytes: 1 << 20,
        attempts: 2,
        backoff: Duration::from_millis(10),
        ..RpcOptions::default()
    }
}

pub(crate) fn own_signer(fx: &Value) -> Signer {
    Signer::from_seed_hex(fx["own_seed"].as_str().unwrap()).unwrap()
}

pub(crate) fn chain(url: &str, fx: &Value) -> OnlineChain {
    OnlineChain::new(url, options(), 237, Some(own_signer(fx))).unwrap()
}

pub(crate) fn set(mock: &Mock, item: &str, value: Option<&str>) {
    let key = mock.fx["items"][item]["key"].as_str().unwrap().to_string();
    let mut storage = mock.storage.lock().unwrap();
    match value {
        Some(v) => storage.insert(key, mock.fx["items"][item][v].as_str().unwrap().into()),
        None => storage.remove(&key),
    };
}

pub(crate) fn weights(fx: &Value) -> (Vec<u16>, Vec<u16>) {
    let v = |k: &str| -> Vec<u16> {
        fx["set_weights"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect()
    };
    (v("dests"), v("weights"))
}
