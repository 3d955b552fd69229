//! Python fixtures written once per content and shared by every test process.
//!
//! nextest runs each test in a process of its own, so a `OnceLock` in a test file runs a fixture
//! script once per *test*: the ERA5 fixture (two minutes of xarray) ran 17 times in one CI run,
//! about a third of the suite's CPU time. [`python_fixture`] runs a script once into
//! `target/test-fixtures/NAME-KEY/` and every later call, in any process, reads what it left:
//!
//! - `KEY` hashes the script, every Python module a fixture may import (`scripts/fixtures/*.py`,
//!   `bench/*.py`) and the interpreter's path, so an edited script or reference writes a new
//!   directory; the directories of older keys of the same script are removed then.
//! - One process writes, the others wait: the writer holds an exclusive lock on `NAME-KEY.lock`,
//!   and a directory counts only once its `done` marker exists (written last, after the script's
//!   standard output, `stdout.txt`). A directory without the marker (a writer that was killed) is
//!   written again from scratch.
//!
//! Tests must treat the directory as read-only; a test that modifies a store copies it first.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::python::{python_interpreter, run_python, workspace_root, PythonError};

/// A fixture directory and what its script printed.
#[derive(Debug, Clone)]
pub struct PythonFixture {
    /// The directory the script wrote (its only argument); read-only for tests.
    pub dir: PathBuf,
    /// The script's standard output (the fixtures print their expected values as JSON).
    pub stdout: String,
}

/// Failure to produce or read a cached fixture.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A file operation on the cache failed.
    #[error("fixture cache: cannot {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The script failed.
    #[error(transparent)]
    Python(#[from] PythonError),
}

/// Run `script` (relative to the workspace root) with a fresh directory as its argument once per
/// content (see the module doc) and return that directory and what the script printed.
pub fn python_fixture(script: &str) -> Result<PythonFixture, FixtureError> {
    let root = workspace_root();
    let mut key_inputs = vec![root.join(script)];
    for dir in ["scripts/fixtures", "bench"] {
        key_inputs.extend(python_files(&root.join(dir))?);
    }
    let cache = root.join("target/test-fixtures");
    let interpreter = python_interpreter();
    cached_fixture(&cache, script, &key_inputs, &interpreter, |dir| {
        let out = dir.to_str().ok_or_else(|| FixtureError::Io {
            what: "pass a non-UTF-8 path to",
            path: dir.to_path_buf(),
            source: std::io::Error::other("not UTF-8"),
        })?;
        Ok(run_python(script, &[out])?)
    })
}

/// The cache itself, with the writer passed in: `key_inputs` are the files whose content makes
/// the key (a missing one is an error), `salt` is hashed too (the interpreter path).
pub fn cached_fixture(
    cache: &Path,
    script: &str,
    key_inputs: &[PathBuf],
    salt: &Path,
    write: impl FnOnce(&Path) -> Result<String, FixtureError>,
) -> Result<PythonFixture, FixtureError> {
    let name = Path::new(script)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("fixture");
    let mut hash = Fnv1a::default();
    hash.write(salt.as_os_str().as_encoded_bytes());
    for input in key_inputs {
        hash.write(input.as_os_str().as_encoded_bytes());
        hash.write(&fs::read(input).map_err(io("read", input))?);
    }
    let dir = cache.join(format!("{name}-{:016x}", hash.0));
    if let Some(done) = read_done(&dir)? {
        return Ok(done);
    }
    fs::create_dir_all(cache).map_err(io("create", cache))?;
    let lock_path = dir.with_extension("lock");
    let lock = File::create(&lock_path).map_err(io("create", &lock_path))?;
    lock.lock().map_err(io("lock", &lock_path))?;
    // Another process may have written it while this one waited.
    if let Some(done) = read_done(&dir)? {
        return Ok(done);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io("remove the unfinished", &dir))?;
    }
    fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let stdout = write(&dir)?;
    let stdout_path = dir.join("stdout.txt");
    fs::write(&stdout_path, &stdout).map_err(io("write", &stdout_path))?;
    let done_path = dir.join("done");
    fs::write(&done_path, b"").map_err(io("write", &done_path))?;
    remove_older_keys(cache, name, &dir);
    Ok(PythonFixture { dir, stdout })
}

/// The fixture in `dir` if its writer finished.
fn read_done(dir: &Path) -> Result<Option<PythonFixture>, FixtureError> {
    if !dir.join("done").exists() {
        return Ok(None);
    }
    let path = dir.join("stdout.txt");
    let stdout = fs::read_to_string(&path).map_err(io("read", &path))?;
    Ok(Some(PythonFixture {
        dir: dir.to_path_buf(),
        stdout,
    }))
}

/// Remove `NAME-*` entries of other keys (best effort: a reader of an old key in another
/// checkout of the same target directory would only regenerate).
fn remove_older_keys(cache: &Path, name: &str, keep: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    let keep_lock = keep.with_extension("lock");
    let prefix = format!("{name}-");
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let is_key = file_name
            .strip_prefix(&prefix)
            .map(|rest| rest.trim_end_matches(".lock"))
            .is_some_and(|k| k.len() == 16 && k.bytes().all(|b| b.is_ascii_hexdigit()));
        if !is_key || path == keep || path == keep_lock {
            continue;
        }
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// The `*.py` files directly in `dir`, sorted (none if it does not exist).
fn python_files(dir: &Path) -> Result<Vec<PathBuf>, FixtureError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(io("list", dir))?.path();
        if path.extension().is_some_and(|e| e == "py") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FixtureError {
    let path = path.to_path_buf();
    move |source| FixtureError::Io { what, path, source }
}

/// 64-bit FNV-1a: a stable content key (std's hasher may change between releases).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so that ("ab", "c") and ("a", "bc") differ.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
}

#[cfg(test)]
#[path = "fixture_cache_tests.rs"]
mod tests;
