//! The fixture cache writes once per content, across threads and processes' worth of callers,
//! rewrites an unfinished directory, keys on every input and removes older keys.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A cache dir and one input file; `write` counts its calls and leaves a file in the fixture.
struct Setup {
    tmp: tempfile::TempDir,
    input: PathBuf,
    writes: Arc<AtomicUsize>,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("make_thing.py");
        fs::write(&input, "print('v1')").unwrap();
        Setup {
            tmp,
            input,
            writes: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn cache(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    fn get(&self) -> Result<PythonFixture, FixtureError> {
        let writes = Arc::clone(&self.writes);
        let content = fs::read_to_string(&self.input).unwrap();
        cached_fixture(
            &self.cache(),
            "scripts/fixtures/make_thing.py",
            std::slice::from_ref(&self.input),
            Path::new("/usr/bin/python3"),
            move |dir| {
                writes.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(50));
                fs::write(dir.join("store.bin"), &content).unwrap();
                Ok(format!("{{\"dir\": \"{}\"}}", dir.display()))
            },
        )
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.cache())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

#[test]
fn concurrent_callers_write_once_and_read_the_same_directory() {
    let setup = Arc::new(Setup::new());
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&setup);
            std::thread::spawn(move || s.get().unwrap())
        })
        .collect();
    let got: Vec<PythonFixture> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(setup.writes.load(Ordering::SeqCst), 1);
    for f in &got {
        assert_eq!(f.dir, got[0].dir);
        assert_eq!(f.stdout, format!("{{\"dir\": \"{}\"}}", f.dir.display()));
        assert_eq!(
            fs::read_to_string(f.dir.join("store.bin")).unwrap(),
            "print('v1')"
        );
    }
    let name = got[0]
        .dir
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("make_thing-"), "{name}");
    // A later call reads it without writing.
    assert_eq!(setup.get().unwrap().dir, got[0].dir);
    assert_eq!(setup.writes.load(Ordering::SeqCst), 1);
}

#[test]
fn an_unfinished_directory_is_written_again_from_scratch() {
    let setup = Setup::new();
    let first = setup.get().unwrap();
    // A writer killed half-way leaves files but no marker.
    fs::remove_file(first.dir.join("done")).unwrap();
    fs::write(first.dir.join("half-written"), b"x").unwrap();
    let again = setup.get().unwrap();
    assert_eq!(again.dir, first.dir);
    assert_eq!(setup.writes.load(Ordering::SeqCst), 2);
    assert!(!again.dir.join("half-written").exists());
    assert!(again.dir.join("done").exists());
}

#[test]
fn an_edited_input_gets_a_new_key_and_the_old_one_is_removed() {
    let setup = Setup::new();
    let old = setup.get().unwrap();
    fs::write(&setup.input, "print('v2')").unwrap();
    let new = setup.get().unwrap();
    assert_ne!(new.dir, old.dir);
    assert_eq!(setup.writes.load(Ordering::SeqCst), 2);
    assert_eq!(
        fs::read_to_string(new.dir.join("store.bin")).unwrap(),
        "print('v2')"
    );
    assert!(!old.dir.exists(), "the old key's directory is removed");
    let new_name = new.dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        setup.entries(),
        vec![new_name.to_string(), format!("{new_name}.lock")]
    );
}

#[test]
fn a_failing_writer_leaves_no_finished_fixture_and_a_missing_input_is_named() {
    let setup = Setup::new();
    let err = cached_fixture(
        &setup.cache(),
        "scripts/fixtures/make_thing.py",
        std::slice::from_ref(&setup.input),
        Path::new("python3"),
        |_| {
            Err(FixtureError::Io {
                what: "write",
                path: PathBuf::from("x"),
                source: std::io::Error::other("boom"),
            })
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("boom"), "{err}");
    let unfinished = setup
        .entries()
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect::<Vec<_>>();
    assert_eq!(unfinished.len(), 1);
    assert!(!setup.cache().join(&unfinished[0]).join("done").exists());

    let missing = setup.tmp.path().join("nope.py");
    let err = cached_fixture(
        &setup.cache(),
        "nope.py",
        std::slice::from_ref(&missing),
        Path::new("python3"),
        |_| Ok(String::new()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.py"), "{err}");
}

#[test]
fn a_real_script_runs_through_the_interpreter_once() {
    // The workspace's own cache, with a script that only records its argument.
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("echo_dir.py");
    fs::write(
        &script,
        "import sys\nopen(sys.argv[1] + '/x', 'w').write('1')\nprint(sys.argv[1])\n",
    )
    .unwrap();
    let cache = tmp.path().join("cache");
    let run = || {
        cached_fixture(
            &cache,
            script.to_str().unwrap(),
            std::slice::from_ref(&script),
            &python_interpreter(),
            |dir| {
                Ok(run_python(
                    script.to_str().unwrap(),
                    &[dir.to_str().unwrap()],
                )?)
            },
        )
        .unwrap()
    };
    let f = run();
    assert_eq!(f.stdout.trim(), f.dir.to_str().unwrap());
    assert_eq!(fs::read_to_string(f.dir.join("x")).unwrap(), "1");
    assert_eq!(run().stdout, f.stdout);
}
