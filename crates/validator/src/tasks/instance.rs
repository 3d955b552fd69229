//! Keeping the database's instance lock while the validator runs (issue 15 point 2). On
//! PostgreSQL the lock is a session-level advisory lock, so a server restart or a cut connection
//! releases it: without a keeper, a second validator could start on the database after any
//! outage. The keeper checks the lock every few seconds, takes it again on a new session when
//! it was lost, and reports when another validator took it first — the IO-Engine then stops
//! (its restart is refused by the lock, naming the holder).

use std::sync::Arc;
use std::time::Duration;

use gaia_store::{InstanceLock, LockKept, Store, StoreError};
use tokio::sync::{watch, Mutex};

/// How often the keeper checks the lock.
pub const KEEP_EVERY: Duration = Duration::from_secs(5);

/// The lock, shared by the keeper and the shutdown that releases it.
pub type SharedLock = Arc<Mutex<Option<InstanceLock>>>;

/// Check `lock` every `every` until `stop`. When another validator holds the lock, send why on
/// `lost` and end; while the server cannot be reached, try again at the next tick.
pub async fn keep_instance(
    lock: SharedLock,
    store: Store,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    lost: watch::Sender<Option<String>>,
) {
    while !*stop.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = stop.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return, // the runtime is gone
            },
        }
        let mut guard = lock.lock().await;
        let Some(held) = guard.as_mut() else {
            return;
        };
        match held.keep(&store).await {
            Ok(LockKept::Held) => {}
            Ok(LockKept::Retaken) => tracing::warn!(
                database = store.redacted_url(),
                "database instance lock taken again (the server had cut its session)"
            ),
            Err(e @ StoreError::InstanceLocked { .. }) => {
                let why = format!("lost the database's instance lock: {e}");
                tracing::error!(reason = %why, "stopping this validator's tasks");
                let _ = lost.send(Some(why));
                return;
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot check the database instance lock; trying again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gaia_testkit::TestPostgres;

    async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
        let until = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(std::time::Instant::now() < until, "{what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keeper_retakes_the_lock_after_a_restart_and_reports_a_lost_one() {
        let pg = TestPostgres::create_private().await.unwrap();
        let cluster = pg.cluster().expect("private cluster");
        let config = gaia_store::StoreConfig::new(pg.url());
        let store = Store::open(&config).await.unwrap();
        let other = Store::open(&config).await.unwrap();
        let lock: SharedLock = Arc::new(Mutex::new(Some(store.lock_instance().await.unwrap())));
        let (stop_tx, stop) = watch::channel(false);
        let (lost_tx, mut lost) = watch::channel(None);
        let keeper = tokio::spawn(keep_instance(
            lock.clone(),
            store.clone(),
            Duration::from_millis(100),
            stop,
            lost_tx,
        ));
        let restart = || {
            let cluster = cluster.clone();
            tokio::task::spawn_blocking(move || cluster.restart().unwrap())
        };
        restart().await.unwrap();
        // Taken again: the other validator is refused, nothing is reported lost.
        wait_for("the keeper retakes the lock", async || {
            let held = lock.lock().await.as_mut()?.keep(&store).await.ok()?;
            (held == LockKept::Held).then_some(())
        })
        .await;
        assert!(matches!(
            other.lock_instance().await,
            Err(StoreError::InstanceLocked { .. })
        ));
        assert_eq!(*lost.borrow(), None);

        // The other validator gets in first after the next restart: reported, keeper ends.
        let (_lock_guard, theirs) = {
            let guard = lock.lock().await;
            restart().await.unwrap();
            let theirs = wait_for("the other takes the lock", async || {
                other.lock_instance().await.ok()
            })
            .await;
            (guard, theirs)
        };
        drop(_lock_guard);
        lost.changed().await.unwrap();
        let why = lost.borrow().clone().unwrap();
        assert!(why.contains("one validator per database"), "{why}");
        keeper.await.unwrap();
        drop(theirs);
        let _ = stop_tx.send(true);
    }

    #[tokio::test]
    async fn a_sqlite_lock_is_kept_until_stop() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("v.db").display());
        let store = Store::open(&gaia_store::StoreConfig::new(&url))
            .await
            .unwrap();
        let lock: SharedLock = Arc::new(Mutex::new(Some(store.lock_instance().await.unwrap())));
        let (stop_tx, stop) = watch::channel(false);
        let (lost_tx, lost) = watch::channel(None);
        let keeper = tokio::spawn(keep_instance(
            lock,
            store,
            Duration::from_millis(10),
            stop,
            lost_tx,
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(true).unwrap();
        keeper.await.unwrap();
        assert_eq!(*lost.borrow(), None);
    }
}
