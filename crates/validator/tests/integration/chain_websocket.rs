//! The websocket transport of the chain client beyond what the shared online tests show over both
//! wires: a dropped connection is replaced on the next attempt, concurrent calls on one client
//! each get their own answer, and `wss://` through a TLS front with the test PKI's certificate, which the
//! client is told to trust (and refused without it).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use gaia_validator::chain::online::OnlineChain;
use gaia_validator::chain::rpc::{RpcError, RpcOptions};
use gaia_validator::chain::{Chain, ChainError};

use crate::chain_node::{chain, options, serve_on, Mode, Wire};
use crate::fiber_transport::tls_front_with;

#[tokio::test]
async fn a_dropped_connection_is_replaced_on_the_next_attempt() {
    let (mock, url) = serve_on(Wire::WebSocket).await;
    let head = mock.fx["head"].as_u64().unwrap();
    let chain = chain(&url, &mock.fx);
    assert!(chain.node().is_websocket());
    assert_eq!(chain.current_block().await.unwrap(), head);
    assert_eq!(chain.current_block().await.unwrap(), head);
    assert_eq!(
        mock.connections.load(Ordering::SeqCst),
        1,
        "calls share one connection"
    );
    // The node closes every connection on the next request: both attempts fail, each on a
    // connection of its own.
    *mock.mode.lock().unwrap() = Mode::ServerError;
    let err = chain.current_block().await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Rpc(RpcError::Transport { attempts: 2, .. })
        ),
        "{err}"
    );
    *mock.mode.lock().unwrap() = Mode::Normal;
    assert_eq!(chain.current_block().await.unwrap(), head);
    assert_eq!(mock.connections.load(Ordering::SeqCst), 3);
    // Concurrent calls are serialised on the connection and each gets its own answer.
    let (a, b, c) = tokio::join!(
        chain.current_block(),
        chain.last_update_block(),
        chain.commit_reveal_enabled()
    );
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (head, 1000, false));
}

#[tokio::test]
async fn wss_through_a_tls_front_with_a_trusted_certificate() {
    let (mock, url) = serve_on(Wire::WebSocket).await;
    let head = mock.fx["head"].as_u64().unwrap();
    let backend: SocketAddr = url.trim_start_matches("ws://").parse().unwrap();
    use gaia_testkit::tls;
    let (front, _proxy) = tls_front_with(
        backend,
        tls::SERVER_CERT_DER.to_vec(),
        tls::SERVER_KEY_DER.to_vec(),
    )
    .await;
    let wss = format!("wss://127.0.0.1:{}", front.port());
    let trusted = RpcOptions {
        extra_root_certificates: vec![tls::CA_DER.to_vec()],
        ..options()
    };
    let chain = OnlineChain::new(&wss, trusted, 237, None).unwrap();
    assert_eq!(chain.current_block().await.unwrap(), head);
    assert_eq!(chain.metagraph().await.unwrap().len(), 4);

    // Without the certificate the node is not trusted: a named transport error, nothing read.
    let calls = mock.methods.lock().unwrap().len();
    let untrusted = OnlineChain::new(&wss, options(), 237, None).unwrap();
    let err = untrusted.current_block().await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ChainError::Rpc(RpcError::Transport { .. })) && text.contains("TLS"),
        "{text}"
    );
    assert_eq!(mock.methods.lock().unwrap().len(), calls);
}
