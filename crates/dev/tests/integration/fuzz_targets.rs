//! `gaia-fuzz` (issue 20): every target runs from its seeds without a finding for a short
//! budget, and a saved input replays. The long searches are `scripts/fuzz TARGET --minutes M`.

use std::process::Command;

const FUZZ: &str = env!("CARGO_BIN_EXE_gaia-fuzz");

#[test]
fn every_target_runs_clean_for_a_short_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = Command::new(FUZZ)
        .arg("list")
        .output()
        .expect("gaia-fuzz list");
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(names.lines().count() >= 14, "{names}");
    let out = Command::new(FUZZ)
        .args([
            "all",
            "--max-execs",
            "2000",
            "--seconds",
            "30",
            "--seed",
            "7",
        ])
        .arg("--corpus")
        .arg(dir.path().join("corpus"))
        .arg("--artifacts")
        .arg(dir.path().join("artifacts"))
        .output()
        .expect("gaia-fuzz all");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "findings:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in names.lines() {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.contains("findings 0")),
            "{name}:\n{text}"
        );
    }
}

#[test]
fn saved_inputs_replay_and_unknown_targets_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("frame");
    std::fs::write(&input, [0xff, 0xff, 0xff, 0xff, b'{']).expect("write");
    let out = Command::new(FUZZ)
        .args(["ipc-frame", "--replay"])
        .arg(&input)
        .output()
        .expect("replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("TooLarge"));
    let missing = Command::new(FUZZ)
        .args(["dds", "--replay", "/nonexistent/gaia-fuzz-input"])
        .output()
        .expect("replay");
    assert!(!missing.status.success());
    let unknown = Command::new(FUZZ)
        .arg("no-such-target")
        .output()
        .expect("unknown");
    assert_eq!(unknown.status.code(), Some(2));
}
