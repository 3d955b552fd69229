//! PostgreSQL over TLS (issue 15 point 6): managed databases require it. A throwaway cluster
//! serving the test PKI's certificate and refusing plain TCP: `sslmode=verify-full` with the CA
//! as `sslrootcert` works end to end (migrations, a write, a read); plain TCP is refused by the
//! server; verifying against the public roots fails on the unknown issuer.

use std::time::Duration;

use gaia_store::{RetryPolicy, Store, StoreConfig};
use gaia_testkit::{tls, TestPostgres};

fn quick(url: String) -> StoreConfig {
    StoreConfig::new(url).with_retry(RetryPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(50),
        give_up_after: Duration::from_millis(300),
    })
}

#[tokio::test]
async fn verify_full_works_and_plain_tcp_is_refused() {
    let pg = TestPostgres::create_private().await.unwrap();
    let cluster = pg.cluster().expect("private cluster");
    cluster
        .require_tls(
            &tls::pem("CERTIFICATE", tls::SERVER_CERT_DER),
            &tls::pem("PRIVATE KEY", tls::SERVER_KEY_DER),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, tls::pem("CERTIFICATE", tls::CA_DER)).unwrap();

    let verified = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.url(),
        ca.display()
    );
    let store = Store::open(&quick(verified)).await.unwrap();
    store.ping().await.unwrap();
    let (run, responses) = crate::fixtures::seeded(&store, 1, &[1, 2]).await;
    assert!(run > 0 && responses.len() == 2);
    store.close().await;

    let plain = format!("{}?sslmode=disable", pg.url());
    let err = Store::connect(&quick(plain)).await.unwrap_err().to_string();
    assert!(
        err.contains("no encryption") || err.contains("pg_hba"),
        "plain TCP must be refused by the server: {err}"
    );

    let public_roots = format!("{}?sslmode=verify-full", pg.url());
    let err = Store::connect(&quick(public_roots))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.to_ascii_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "the test CA is not a public root: {err}"
    );
}
