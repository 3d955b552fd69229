//! The PostgreSQL backend: pool set-up and embedded migrations. Its SQL is shared with SQLite
//! ([`crate::sql`]) except where the dialects differ ([`dialect`]).

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::StoreConfig;

pub(crate) mod dialect;

/// Migrations of the PostgreSQL schema (`crates/store/migrations/postgres`).
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Open a pool on `url` with the configured sizes; fails if the first connection fails.
pub(crate) async fn connect(url: &str, config: &StoreConfig) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name("gaia-validator");
    // One direct connection first: the pool would hide the real cause (refused, bad password,
    // unknown database) behind "pool timed out".
    PgConnection::connect_with(&options).await?.close().await?;
    PgPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .min_connections(config.min_connections.min(config.max_connections.max(1)))
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(true)
        .after_release(|conn, _| Box::pin(crate::store::pool::reusable(conn)))
        .connect_with(options)
        .await
}
