//! The fuzz loop finds what a target hides, minimises it, writes it, and grows its corpus.

use std::time::Duration;

use super::*;

fn seeds() -> Vec<Vec<u8>> {
    vec![b"hello world".to_vec()]
}

/// Panics on any input holding `"!!"`, breaks a property on `"??"`, labels the first byte.
fn buggy(input: &[u8]) -> Result<String, String> {
    if input.windows(2).any(|w| w == b"!!") {
        panic!("found the bang");
    }
    if input.windows(2).any(|w| w == b"??") {
        return Err("question marks".into());
    }
    Ok(format!("first {:?}", input.first().map(|b| b % 4)))
}

/// Spends 30 ms of CPU on long inputs.
fn slow(input: &[u8]) -> Result<String, String> {
    if input.len() > 11 {
        let start = thread_cpu_time();
        while thread_cpu_time().saturating_sub(start) < Duration::from_millis(30) {
            std::hint::black_box(input.len());
        }
    }
    Ok("ok".into())
}

/// Waits 30 ms without using CPU on long inputs, as a starved thread would.
fn waits(input: &[u8]) -> Result<String, String> {
    if input.len() > 11 {
        std::thread::sleep(Duration::from_millis(30));
    }
    Ok("ok".into())
}

fn options(dir: &Path) -> Options {
    Options {
        duration: Duration::from_secs(20),
        max_execs: 30_000,
        seed: 11,
        corpus_dir: Some(dir.join("corpus")),
        artifacts_dir: Some(dir.join("artifacts")),
        ..Options::default()
    }
}

#[test]
fn finds_minimises_and_writes_panics_and_broken_properties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target {
        name: "buggy",
        seeds,
        run: buggy,
    };
    let report = run(&target, &options(dir.path()));
    assert!(report.execs > 0 && report.execs_per_sec() > 0.0);
    let panic = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Panic)
        .expect("the panic is found");
    assert_eq!(panic.input, b"!!", "minimised to the two bytes that matter");
    assert!(panic.message.contains("bang"));
    let path = panic.path.as_ref().expect("written");
    assert_eq!(std::fs::read(path).expect("artifact"), b"!!");
    let property = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Property)
        .expect("found");
    assert_eq!(property.input, b"??");
    assert!(report.labels.len() > 1, "{:?}", report.labels);
    assert!(report.corpus > 1);
    // The corpus directory holds the inputs with new labels, and a second run reads them.
    let files = std::fs::read_dir(dir.path().join("corpus"))
        .expect("corpus")
        .count();
    assert!(files >= 1);
    let again = run(
        &target,
        &Options {
            max_execs: 10,
            ..options(dir.path())
        },
    );
    assert!(again.corpus > files);
}

/// A 10 ms time limit and no allocation limit.
fn ten_ms() -> Limits {
    Limits {
        time: Duration::from_millis(10),
        peak_bytes: usize::MAX,
    }
}

#[test]
fn waiting_without_cpu_is_not_slow() {
    let target = Target {
        name: "waits",
        seeds,
        run: waits,
    };
    assert_eq!(run_one(&target, &[1; 20], ten_ms()), Ok("ok".to_string()));
    let busy = Target {
        name: "slow",
        seeds,
        run: slow,
    };
    assert!(matches!(
        run_one(&busy, &[1; 20], ten_ms()),
        Err((FindingKind::Slow, _))
    ));
}

#[test]
fn slow_inputs_are_findings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target {
        name: "slow",
        seeds,
        run: slow,
    };
    let limits = ten_ms();
    let report = run(
        &target,
        &Options {
            max_execs: 40,
            limits,
            ..options(dir.path())
        },
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Slow)
        .expect("slow found");
    assert!(f.input.len() > 11);
    assert_eq!(
        f.path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().starts_with("slow-")),
        Some(true)
    );
}

#[test]
fn panic_texts_of_every_payload() {
    assert_eq!(panic_text(&"static"), "static");
    assert_eq!(panic_text(&String::from("owned")), "owned");
    assert_eq!(panic_text(&5u32), "non-string panic");
}

#[test]
fn an_empty_target_runs_from_the_empty_input() {
    let target = Target {
        name: "empty",
        seeds: Vec::new,
        run: |_| Ok(String::new()),
    };
    let report = run(
        &target,
        &Options {
            max_execs: 5,
            ..Options::default()
        },
    );
    assert_eq!(report.execs, 5);
    assert!(report.findings.is_empty());
    assert!(read_corpus(Path::new("/nonexistent/gaia-fuzz")).is_empty());
}
