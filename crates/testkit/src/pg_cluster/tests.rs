//! The throwaway cluster's whole life (start, connect, stop, start again, restart, drop) and its
//! named errors; the per-test databases on it; the temporary SQLite file.

use sqlx::{Connection, PgConnection};

use super::*;
use crate::test_db::{TestPostgres, TestSqlite};

async fn select_one(url: &str) -> Result<i32, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    let one: (i32,) = sqlx::query_as("SELECT 1").fetch_one(&mut conn).await?;
    let _ = conn.close().await;
    Ok(one.0)
}

#[tokio::test]
async fn a_cluster_starts_stops_restarts_and_goes_away() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("task")
        .expect("cluster starts");
    assert!(cluster.port() > 0);
    assert!(cluster.socket_dir().is_dir());
    assert_eq!(cluster.url(), cluster.url_for("postgres"));
    assert!(cluster
        .url_for("x")
        .ends_with(&format!(":{}/x", cluster.port())));
    assert_eq!(select_one(&cluster.url()).await.expect("connects"), 1);
    cluster.stop().expect("stops");
    assert!(
        select_one(&cluster.url()).await.is_err(),
        "a stopped server refuses"
    );
    cluster.start_again().expect("starts again");
    assert_eq!(select_one(&cluster.url()).await.expect("connects again"), 1);
    cluster.restart().expect("restarts");
    assert_eq!(
        select_one(&cluster.url())
            .await
            .expect("connects after restart"),
        1
    );
    let data = cluster.data_dir();
    drop(cluster);
    assert!(!data.exists(), "dropped = stopped and removed");
}

#[test]
fn failing_programs_are_named_errors() {
    let cluster = PgCluster {
        dir: tempfile::tempdir().expect("tempdir"),
        bin: postgres_bin_dir(),
        port: 1,
        run_as: None,
    };
    match cluster.pg("gaia-no-such-program", &["--version"]) {
        Err(e @ PgClusterError::Spawn { .. }) => {
            assert!(e.to_string().contains("gaia-no-such-program"))
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
    // pg_ctl on a directory that holds no cluster fails and says so.
    match cluster.stop() {
        Err(e @ PgClusterError::Failed { .. }) => assert!(e.to_string().contains("pg_ctl"), "{e}"),
        other => panic!("expected pg_ctl to fail, got {other:?}"),
    }
    let io = PgClusterError::Io {
        path: "/x".into(),
        source: std::io::Error::other("boom"),
    };
    assert!(io.to_string().contains("/x"));
    assert!(PgClusterError::NoPostgresUser("none".into())
        .to_string()
        .contains("postgres"));
    assert!(PgClusterError::Start("late".into())
        .to_string()
        .contains("late"));
    assert!(free_port().expect("a free port") > 0);
}

#[tokio::test]
async fn test_databases_on_a_shared_server_and_on_a_private_cluster() {
    // On the run's server when TEST_DATABASE_URL is set, else on a cluster of its own.
    let shared = TestPostgres::create().await.expect("a test database");
    assert_eq!(select_one(shared.url()).await.expect("connects"), 1);
    let private = TestPostgres::create_private()
        .await
        .expect("a private cluster");
    assert_eq!(select_one(private.url()).await.expect("connects"), 1);
    assert!(private.cluster().is_some());
    assert_ne!(shared.url(), private.url());
    drop(shared);
    drop(private);
    let lite = TestSqlite::create().expect("sqlite dir");
    assert!(lite.url().starts_with("sqlite://") && lite.url().ends_with("gaia.db"));
    assert!(lite.path().parent().is_some_and(std::path::Path::is_dir));
}

#[tokio::test]
async fn a_database_on_an_unreachable_server_is_a_named_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = PgCluster {
        dir,
        bin: postgres_bin_dir(),
        port: 1,
        run_as: None,
    };
    // Port 1 on loopback: nothing listens there.
    match TestPostgres::create_on_for_tests(cluster.url()).await {
        Err(e @ PgClusterError::Database { .. }) => assert!(e.to_string().contains("127.0.0.1:1")),
        other => panic!("expected a database error, got {other:?}"),
    }
}
