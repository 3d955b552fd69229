//! JSON-RPC over a websocket, the transport of the public subtensor endpoints (`wss://…:443`) and
//! of every Bittensor tool (substrate-interface, the btcli): one connection per client, opened
//! on first use and again after any failure (the caller's back-off spaces the attempts), calls
//! answered in order on it.
//!
//! The framing is tokio-tungstenite's; TLS is tokio-rustls with the ring provider and the webpki
//! roots (plus [`RpcOptions::extra_root_certificates`]), as reqwest's. A message over
//! [`RpcOptions::max_response_bytes`] is refused by the framing itself, before it is buffered;
//! messages that answer another id (a late answer to a timed-out call, a subscription
//! notification) are skipped. Calls are serialised on the connection: the validator makes a few
//! chain calls a minute, and an answer can then never be matched to the wrong caller.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::rpc::{RpcError, RpcOptions};

/// A byte stream the websocket runs over: plain TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Connection = WebSocketStream<Box<dyn Io>>;

/// Why a websocket exchange failed: for good, or worth another attempt on a new connection.
pub(super) enum WsFailure {
    /// Not worth retrying (the answer was too large).
    Final(RpcError),
    /// The connection failed or closed; the next attempt reconnects.
    Transient(RpcError),
}

/// One websocket endpoint and its connection (if open).
pub(super) struct WsTransport {
    url: String,
    tls: Arc<rustls::ClientConfig>,
    config: WebSocketConfig,
    connection: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("url", &self.url)
            .finish()
    }
}

impl WsTransport {
    /// A transport for the `ws://` or `wss://` `url`; nothing is connected yet.
    pub(super) fn new(url: &str, options: &RpcOptions) -> Result<WsTransport, RpcError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in &options.extra_root_certificates {
            roots
                .add(der.clone().into())
                .map_err(|e| client_error(format!("extra root certificate: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| client_error(format!("TLS set-up: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = WebSocketConfig::default()
            .max_message_size(Some(options.max_response_bytes))
            .max_frame_size(Some(options.max_response_bytes));
        Ok(WsTransport {
            url: url.trim().to_string(),
            tls: Arc::new(tls),
            config,
            connection: Mutex::new(None),
        })
    }

    /// The endpoint.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Send the request `body` (JSON-RPC id `id`) and return the answer with that id, as bytes.
    /// Any failure closes the connection, so the next call starts on a fresh one.
    pub(super) async fn exchange(
        &self,
        method: &str,
        id: u64,
        body: &Value,
    ) -> Result<Vec<u8>, WsFailure> {
        let mut slot = self.connection.lock().await;
        let mut connection = match slot.take() {
            Some(c) => c,
            None => self.connect(method).await.map_err(WsFailure::Transient)?,
        };
        let outcome = exchange_on(&mut connection, method, id, body).await;
        if outcome.is_ok() {
            *slot = Some(connection);
        }
        outcome
    }

    async fn connect(&self, method: &str) -> Result<Connection, RpcError> {
        let transport = |reason: String| RpcError::Transport {
            method: method.into(),
            attempts: 1,
            reason,
        };
        let parsed = reqwest::Url::parse(&self.url)
            .map_err(|e| transport(format!("endpoint {}: {e}", self.url)))?;
        let secure = match parsed.scheme() {
            "wss" => true,
            "ws" => false,
            other => return Err(transport(format!("not a websocket scheme: {other}"))),
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| transport(format!("endpoint {} has no host", self.url)))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| transport(format!("connect {host}:{port}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = if secure {
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| transport(format!("TLS server name {host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| transport(format!("TLS with {host}:{port}: {e}")))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let (connection, _response) = tokio_tungstenite::client_async_with_config(
            self.url.as_str(),
            stream,
            Some(self.config),
        )
        .await
        .map_err(|e| transport(format!("websocket handshake: {e}")))?;
        tracing::debug!(endpoint = %self.url, "chain websocket connected");
        Ok(connection)
    }
}

/// Send one request on `connection` and read until the answer with `id` arrives.
async fn exchange_on(
    connection: &mut Connection,
    method: &str,
    id: u64,
    body: &Value,
) -> Result<Vec<u8>, WsFailure> {
    let transient = |reason: String| {
        WsFailure::Transient(RpcError::Transport {
            method: method.into(),
            attempts: 1,
            reason,
        })
    };
    let classify = |e: WsError| match e {
        WsError::Capacity(c) => WsFailure::Final(RpcError::TooLarge {
            method: method.into(),
            limit: capacity_limit(&c),
        }),
        other => transient(format!("websocket: {other}")),
    };
    connection
        .send(Message::text(body.to_string()))
        .await
        .map_err(classify)?;
    loop {
        let bytes = match connection.next().await {
            None => return Err(transient("the node closed the websocket".into())),
            Some(Err(e)) => return Err(classify(e)),
            Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
            Some(Ok(Message::Binary(data))) => data.to_vec(),
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map(|f| f.to_string()).unwrap_or_default();
                return Err(transient(format!("the node closed the websocket {why}")));
            }
            // Pings are answered by the framing on the next read or write.
            Some(Ok(_)) => continue,
        };
        if answers(&bytes, id) {
            return Ok(bytes);
        }
    }
}

/// Whether the message `bytes` is the answer to request `id` (anything unreadable counts as
/// the answer, so the caller reports it as malformed instead of waiting for another).
fn answers(bytes: &[u8], id: u64) -> bool {
    #[derive(serde::Deserialize)]
    struct Head {
        id: Option<Value>,
        method: Option<String>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Ok(Head {
            method: Some(_),
            id: None,
        }) => false,
        Ok(Head { id: Some(v), .. }) => v.as_u64().is_none_or(|n| n == id),
        _ => true,
    }
}

fn capacity_limit(error: &tokio_tungstenite::tungstenite::error::CapacityError) -> usize {
    use tokio_tungstenite::tungstenite::error::CapacityError;
    match error {
        CapacityError::MessageTooLong { max_size, .. } => *max_size,
        _ => 0,
    }
}

fn client_error(reason: String) -> RpcError {
    RpcError::Transport {
        method: "(client)".into(),
        attempts: 0,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_the_id_and_skip_notifications() {
        assert!(answers(br#"{"jsonrpc":"2.0","id":7,"result":1}"#, 7));
        assert!(!answers(br#"{"jsonrpc":"2.0","id":6,"result":1}"#, 7));
        assert!(!answers(
            br#"{"jsonrpc":"2.0","method":"chain_newHead","params":{}}"#,
            7
        ));
        // Unreadable: handed to the caller, which names it malformed.
        assert!(answers(b"<html>", 7));
        assert!(answers(br#"{"jsonrpc":"2.0","id":"x","result":1}"#, 7));
    }

    #[test]
    fn bad_extra_roots_are_named() {
        let options = RpcOptions {
            extra_root_certificates: vec![vec![1, 2, 3]],
            ..RpcOptions::default()
        };
        let err = WsTransport::new("wss://h:1", &options).unwrap_err();
        assert!(err.to_string().contains("extra root certificate"), "{err}");
    }
}
