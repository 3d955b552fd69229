//! Test support shared by the workspace's tests: throwaway PostgreSQL clusters, isolated test
//! databases, the Python interpreter that writes fixtures and computes reference numbers (each
//! fixture written once per content and shared by every test process), a test
//! PKI for TLS over loopback, and hostile input for the parsers of outside bytes (mutations,
//! bounds, a stable fuzz loop).

pub mod fixture_cache;
pub mod fuzz;
pub mod hostile;
pub mod pg_cluster;
pub mod python;
pub mod small_disk;
pub mod test_db;
pub mod tls;

pub use fixture_cache::{python_fixture, FixtureError, PythonFixture};
pub use pg_cluster::{postgres_bin_dir, PgCluster, PgClusterError};
pub use python::{python_interpreter, run_python, workspace_root, PythonError};
pub use small_disk::{SmallDisk, SmallDiskError};
pub use test_db::{TestPostgres, TestSqlite, TEST_DATABASE_URL};
