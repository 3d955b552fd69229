//! `gaia-validator compare --control chain:…` (issue 17 acceptance 2): the production binary
//! against the loopback node of `chain_node` serving the control's `SubtensorModule.Weights`
//! entries made independently by `scripts/fixtures/control_weights.py` (scalecodec), with our
//! shadow vector recorded in a real SQLite store. For an identical, a permuted and a partly
//! different vector the printed figures must equal the fixture's (computed there by their
//! definitions, Spearman by scipy) and the ones checked by hand below.

use std::path::Path;
use std::process::{Command, Output};

use chrono::Utc;
use gaia_store::{Store, StoreConfig, UidVector, WeightOutcome, WeightRecord};
use serde_json::Value;

use crate::chain_node::{serve, Mock};
use crate::BIN;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/chain/control_weights.json"
);

pub(crate) fn control_fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("fixture")).expect("JSON")
}

/// A migrated SQLite store in `dir` holding our shadow vector of the fixture's floats.
pub(crate) async fn store_with_shadow_vector(dir: &Path, fx: &Value) -> String {
    let url = format!("sqlite://{}/gaia.db", dir.display());
    let store = Store::connect(&StoreConfig::new(url.clone()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut weights = UidVector::empty();
    for (uid, w) in fx["ours_floats"].as_object().unwrap() {
        weights
            .set(uid.parse().unwrap(), Some(w.as_f64().unwrap()))
            .unwrap();
    }
    store
        .record_weights(&WeightRecord {
            attempt_key: "weights.set:test".into(),
            created_at: Utc::now(),
            block: Some(1203),
            weights,
            outcome: WeightOutcome::Skipped,
            detail: Some(format!(
                "{}: would call set_weights",
                gaia_validator::tasks::weights::SHADOW_DETAIL
            )),
        })
        .await
        .unwrap();
    store.close().await;
    url
}

/// Run the production binary with a clean environment pointing at the node.
pub(crate) async fn run_binary(
    dir: &Path,
    node: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let (dir, node) = (dir.to_path_buf(), node.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &dir)
            .env("DATA_DIR", &dir)
            .env("CHAIN__ENDPOINT", &node)
            .env("CHAIN__NETUID", "237")
            .envs(env)
            .current_dir(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn set_weights(mock: &Mock, fx: &Value, case: &str) {
    mock.storage.lock().unwrap().insert(
        fx["weights_key"].as_str().unwrap().into(),
        fx["cases"][case]["value"].as_str().unwrap().into(),
    );
}

fn close(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}: {g} vs {w}"),
        _ => assert_eq!(got, want, "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_with_the_chain_gives_the_fixture_figures_for_three_vectors() {
    let fx = control_fixture();
    let (mock, node) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let url = store_with_shadow_vector(dir.path(), &fx).await;
    let mut reports = std::collections::BTreeMap::new();
    for case in ["identical", "permuted", "partly_different"] {
        set_weights(&mock, &fx, case);
        let out = run_binary(
            dir.path(),
            &node,
            &[
                "compare",
                "--control",
                "chain:0",
                "--database-url",
                &url,
                "--json",
            ],
            &[],
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{case}: {e}\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let want = &fx["cases"][case]["expected"];
        let a = &report["agreement"];
        for f in [
            "cosine",
            "l1",
            "max_abs_delta",
            "spearman",
            "top_k",
            "top_k_overlap",
        ] {
            close(&a[f], &want[f], &format!("{case} {f}"));
        }
        let largest: Vec<Value> = a["largest_differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| serde_json::json!([d["uid"], d["ours"], d["control"]]))
            .collect();
        assert_eq!(Value::from(largest), want["largest_differences"], "{case}");
        assert_eq!(report["ours"]["shadow"], true);
        assert!(
            report["control_detail"]
                .as_str()
                .unwrap()
                .starts_with("uid 0 on netuid 237 at block 1203"),
            "{report}"
        );
        let go = case == "identical";
        assert_eq!(report["verdict"], if go { "go" } else { "no-go" }, "{case}");
        assert_eq!(
            out.status.code(),
            Some(if go { 0 } else { 2 }),
            "{case}: {out:?}"
        );
        reports.insert(case, report);
    }
    // By hand. Ours (UIDs 1, 2, 3, 5) = 65535, 32768, 16384, 16384 (0.5, 0.25, 0.125, 0.125
    // scaled by 65535 / 0.5; 32767.5 rounds to even). Permuted control = 16384, 65535, 32768,
    // 16384: dot = 4 026 482 688, |a|² = |b|² = 5 905 448 961 → cosine 0.681825; max |Δ| =
    // 65535 − 16384 = 49151 at UID 1; the top 4 are the same UIDs → overlap 1.
    let p = &reports["permuted"]["agreement"];
    assert!((p["cosine"].as_f64().unwrap() - 4_026_482_688.0 / 5_905_448_961.0).abs() < 1e-12);
    assert_eq!(p["max_abs_delta"], 49151);
    assert_eq!(p["top_k_overlap"], 1.0);
    // Partly different: UID 3 dropped (Δ 16384), UID 4 added (Δ −16384), UID 5 16384 → 20000:
    // max |Δ| 16384, top-4 overlap 3/4.
    let d = &reports["partly_different"]["agreement"];
    assert_eq!(
        (d["max_abs_delta"].as_u64(), d["top_k_overlap"].as_f64()),
        (Some(16384), Some(0.75))
    );
    // Identical: every figure at its best; the text form says go.
    let i = &reports["identical"]["agreement"];
    assert_eq!(
        (i["l1"].as_f64(), i["max_abs_delta"].as_u64()),
        (Some(0.0), Some(0))
    );
    set_weights(&mock, &fx, "identical");
    let out = run_binary(
        dir.path(),
        &node,
        &["compare", "--control", "chain:0", "--database-url", &url],
        &[],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: go") && text.contains("cosine 1.000000"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_profiles_hotkeys_and_bad_controls() {
    let fx = control_fixture();
    let (mock, node) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    let url = store_with_shadow_vector(dir.path(), &fx).await;
    set_weights(&mock, &fx, "partly_different");
    // Loose thresholds turn the partly different vector into a go.
    let loose = [
        "compare",
        "--control",
        "chain:0",
        "--database-url",
        &url,
        "--min-cosine",
        "0.95",
        "--max-l1",
        "0.3",
        "--max-abs-delta",
        "16384",
        "--min-spearman",
        "0.8",
        "--min-top-k-overlap",
        "0.75",
    ];
    let out = run_binary(dir.path(), &node, &loose, &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Spec profile: the report names §11.
    let out = run_binary(
        dir.path(),
        &node,
        &["compare", "--control", "chain:0", "--database-url", &url],
        &[("WEATHER__SCORING_PROFILE", "spec")],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("note: profiles differ (ours `spec`, control `production`): spec §11"),
        "{text}"
    );
    assert!(
        text.contains("breach: cosine = 0.954008 (required >= 0.99)"),
        "{text}"
    );
    // Our own hotkey resolves to UID 2 through Uids(237, hotkey); it set no weights: no-go.
    let own = "5GbhzqYzcsTqzNv73GJo77Tm3UwFqzqcg1FnD2Xg1wWYwdmr";
    let control = format!("chain:{own}");
    let out = run_binary(
        dir.path(),
        &node,
        &["compare", "--control", &control, "--database-url", &url],
        &[],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("uid 2 on netuid 237") && text.contains("(0 pairs)"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(2));
    // A hotkey that is not registered, garbage and an unknown scheme: named errors, exit 1.
    // UID 0's coldkey: a valid SS58 address that is no hotkey of the subnet.
    let stranger = "chain:5CDgd81sd818ofTDjCd3yKp5A4PP3KnZSNxSTGtRMjqrzrva".to_string();
    for (control, want) in [
        (stranger.as_str(), "is not registered on netuid 237"),
        ("chain:nobody", "neither a UID nor an SS58 hotkey"),
        (
            "ftp:x",
            "expected `chain:<uid or hotkey>` or `db:<postgres URL>`",
        ),
        (
            "db:sqlite:///tmp/x.db",
            "a Python validator's database is PostgreSQL",
        ),
        (
            "db:postgres://nobody@127.0.0.1:1/gaia",
            "control database: cannot connect",
        ),
    ] {
        let out = run_binary(
            dir.path(),
            &node,
            &["compare", "--control", control, "--database-url", &url],
            &[],
        )
        .await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{control}: {err}");
        assert!(err.contains(want), "{control}: {err}");
    }
    // No vector recorded yet.
    let empty = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/gaia.db", empty.path().display());
    let store = Store::connect(&StoreConfig::new(url.clone()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let out = run_binary(
        empty.path(),
        &node,
        &["compare", "--control", "chain:0", "--database-url", &url],
        &[],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no recorded weight vector"),
        "{out:?}"
    );
}

/// The scheduled comparison (`ROLLOUT__COMPARE_CRON`): off by default; on, each occurrence
/// sets `gaia_control_agreement{control}` to the cosine the command prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_comparison_exports_the_agreement() {
    use gaia_validator::rollout::scheduled::from_settings;
    use gaia_validator::telemetry::metrics::{render, Metrics};

    let fx = control_fixture();
    let (mock, node) = serve().await;
    set_weights(&mock, &fx, "permuted");
    let dir = tempfile::tempdir().unwrap();
    let url = store_with_shadow_vector(dir.path(), &fx).await;
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    let (metrics, registry) = Metrics::new(None);
    let mut settings = gaia_validator::config::Settings::default();
    assert!(
        from_settings(&settings, &store, &metrics)
            .unwrap()
            .is_none(),
        "off by default"
    );
    assert!(!render(&registry).contains("gaia_control_agreement{"));
    settings.chain.endpoint = node.clone();
    settings.chain.netuid = 237;
    settings.rollout.compare_cron = "30 6 * * *".into();
    settings.rollout.compare_control = "chain:0".into();
    let task = from_settings(&settings, &store, &metrics).unwrap().unwrap();
    assert_eq!(
        (task.name(), task.cron_schedule()),
        ("control_compare", "30 6 * * *")
    );
    task.run_scheduled_job(Utc::now()).await.unwrap();
    let text = render(&registry);
    let want = fx["cases"]["permuted"]["expected"]["cosine"]
        .as_f64()
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("gaia_control_agreement{control=\"chain:0\"}"))
        .unwrap_or_else(|| panic!("{text}"));
    let got: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((got - want).abs() < 1e-12, "{line}");
    // A failing comparison is a task error naming the control's problem; the gauge keeps its value.
    settings.rollout.compare_control = "chain:nobody".into();
    let task = from_settings(&settings, &store, &metrics).unwrap().unwrap();
    let err = task
        .run_scheduled_job(Utc::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("control_compare") && err.contains("nobody"),
        "{err}"
    );
    store.close().await;
}
