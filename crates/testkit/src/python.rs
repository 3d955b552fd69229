//! Locating and running the Python interpreter used for fixtures and reference values.
//!
//! `scripts/ensure-python-env` builds `.venv` with the fixture packages; `scripts/test-all` exports
//! its path as `GAIA_PYTHON`. Tests run directly with `cargo test` fall back to `.venv` and then to
//! `python3` on the PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Failure to run a Python fixture script.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// The interpreter could not be started.
    #[error("cannot start python `{interpreter}`: {source}")]
    Spawn {
        /// Interpreter path tried.
        interpreter: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The script exited non-zero.
    #[error("python script {script} failed ({status}):\n{stderr}")]
    Failed {
        /// Script path.
        script: PathBuf,
        /// Exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // crates/testkit -> workspace root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The interpreter to use: `GAIA_PYTHON`, else `<workspace>/.venv/bin/python`, else `python3`.
pub fn python_interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("GAIA_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

/// Run `script` (a path relative to the workspace root) with `args`; return its stdout.
pub fn run_python(script: &str, args: &[&str]) -> Result<String, PythonError> {
    let interpreter = python_interpreter();
    let script_path = workspace_root().join(script);
    let out = Command::new(&interpreter)
        .arg(&script_path)
        .args(args)
        .output()
        .map_err(|source| PythonError::Spawn {
            interpreter: interpreter.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(PythonError::Failed {
            script: script_path,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").exists());
        assert!(workspace_root().join("crates/testkit").is_dir());
    }

    #[test]
    fn runs_a_script_and_reports_failure() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.py");
        std::fs::write(&ok, "import sys\nprint('hi', sys.argv[1])\n").unwrap();
        let out = run_python(ok.to_str().unwrap(), &["there"]).unwrap();
        assert_eq!(out.trim(), "hi there");
        let bad = dir.path().join("bad.py");
        std::fs::write(&bad, "import sys\nsys.stderr.write('boom')\nsys.exit(3)\n").unwrap();
        match run_python(bad.to_str().unwrap(), &[]) {
            Err(PythonError::Failed { stderr, .. }) => assert_eq!(stderr, "boom"),
            other => panic!("expected failure, got {other:?}"),
        }
    }
}
