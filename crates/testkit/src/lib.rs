//! Test support shared by the workspace's tests: throwaway PostgreSQL clusters and the Python
//! interpreter that writes fixtures and computes reference numbers.

pub mod python;

pub use python::{python_interpreter, run_python, workspace_root, PythonError};
