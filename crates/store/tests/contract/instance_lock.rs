//! Issue 15 point 2, PostgreSQL: the database's instance lock is a session-level advisory lock,
//! so a server restart releases it. [`InstanceLock::keep`] takes it again on a new session; when
//! another validator took it first, `keep` says so and this one must stop.

use std::time::{Duration, Instant};

use gaia_store::{InstanceLock, LockKept, Store, StoreError};
use gaia_testkit::TestPostgres;

/// `keep` until it answers other than "server unreachable" (the server is coming back).
async fn keep_until_answered(
    lock: &mut InstanceLock,
    store: &Store,
) -> Result<LockKept, StoreError> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        match lock.keep(store).await {
            Err(e) if !matches!(e, StoreError::InstanceLocked { .. }) && Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// `pg_ctl restart`, which cuts every session.
async fn restart(cluster: &std::sync::Arc<gaia_testkit::PgCluster>) {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || cluster.restart())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_releases_the_lock_and_keep_takes_it_again() {
    let pg = TestPostgres::create_private().await.unwrap();
    let cluster = pg.cluster().expect("private cluster");
    let store = Store::open(&gaia_store::StoreConfig::new(pg.url()))
        .await
        .unwrap();
    let other = Store::open(&gaia_store::StoreConfig::new(pg.url()))
        .await
        .unwrap();
    let mut lock = store.lock_instance().await.unwrap();
    assert_eq!(lock.keep(&store).await.unwrap(), LockKept::Held);
    assert!(matches!(
        other.lock_instance().await,
        Err(StoreError::InstanceLocked { .. })
    ));

    // A restart cuts the session: the lock is gone until `keep` takes it again.
    restart(&cluster).await;
    assert_eq!(
        keep_until_answered(&mut lock, &store).await.unwrap(),
        LockKept::Retaken
    );
    assert_eq!(lock.keep(&store).await.unwrap(), LockKept::Held);
    let err = other.lock_instance().await.unwrap_err();
    assert!(matches!(err, StoreError::InstanceLocked { .. }), "{err}");

    // Another validator wins the race after the next restart: `keep` names the holder.
    restart(&cluster).await;
    let until = Instant::now() + Duration::from_secs(60);
    let _theirs = loop {
        match other.lock_instance().await {
            Ok(l) => break l,
            Err(e) => assert!(Instant::now() < until, "the other never got the lock: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let err = keep_until_answered(&mut lock, &store).await.unwrap_err();
    assert!(
        err.to_string().contains("one validator per database"),
        "{err}"
    );
}
