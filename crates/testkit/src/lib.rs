//! Test support shared by the workspace's tests: throwaway PostgreSQL clusters and fixture paths.
