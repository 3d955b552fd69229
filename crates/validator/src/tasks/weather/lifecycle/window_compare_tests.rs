//! `compare --control db:` on a replayed window (issue 17 acceptance 3): this validator's score
//! rows come from replaying the numpy window fixture through the lifecycle's own code
//! (`window_tests::replay_in`, in each scoring profile); the control is a real PostgreSQL
//! database created with the production schema of spec §6 and filled by
//! `scripts/fixtures/python_validator_db.py` with the reference's `production` numbers. The
//! `production` replay must be identical to the control run by run and in the weights (go); the
//! `spec` replay must differ, with the differences reported and attributed to §11.

use gaia_scoring::ScoringProfile;
use serde_json::Value;

use super::window_tests::{fixture, replay_in, time};
use crate::rollout::compare::CompareOptions;
use crate::rollout::control_db::compare_with_db;
use crate::rollout::report::{render, CompareReport};

/// The control database: created on the test server, filled by the fixture script with psql.
async fn control_database() -> gaia_testkit::test_db::TestPostgres {
    let db = gaia_testkit::test_db::TestPostgres::create().await.unwrap();
    let sql = gaia_testkit::run_python("scripts/fixtures/python_validator_db.py", &["7", "22"])
        .expect("control database SQL");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), sql).unwrap();
    let psql = gaia_testkit::pg_cluster::postgres_bin_dir().join("psql");
    let out = std::process::Command::new(psql)
        .arg(db.url())
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

async fn compare(fix: &Value, profile: &str, url: &str) -> CompareReport {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, pool) = replay_in(fix, profile, dir.path()).await;
    let options = CompareOptions {
        thresholds: Default::default(),
        top_k: 10,
        our_profile: profile.parse::<ScoringProfile>().unwrap(),
        control_profile: ScoringProfile::Production,
    };
    let report = compare_with_db(&ctx.store, url, time(&fix["now"]), &options)
        .await
        .unwrap();
    pool.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_profile_matches_the_python_database_and_spec_differs_by_section_11() {
    let fix = fixture();
    let db = control_database().await;

    let prod = compare(&fix, "production", db.url()).await;
    let text = render(&prod);
    eprintln!("production profile against the Python database:\n{text}");
    assert!(prod.is_go(), "{text}");
    // The 15-day window on the last day holds the runs of days 8..=21 (14 runs): all matched.
    assert_eq!(prod.runs.len(), 14, "{text}");
    assert!(prod
        .runs
        .iter()
        .all(|r| r.uids_differing == 0 && r.ours_task_id.is_some() && r.control_task_id.is_some()));
    assert_eq!(prod.runs_differing, 0);
    assert_eq!(prod.agreement.cosine, 1.0, "{text}");
    assert_eq!(prod.agreement.max_abs_delta, 0);
    assert!(prod.agreement.largest_differences.is_empty());
    assert_eq!(prod.profile_note, None);
    assert!(text.contains("verdict: go"), "{text}");

    let spec = compare(&fix, "spec", db.url()).await;
    let text = render(&spec);
    eprintln!("spec profile against the Python database:\n{text}");
    assert!(!spec.is_go(), "{text}");
    // Every run with an ERA5 lead in differs (the pressure-level skills, §11 item 1); runs whose
    // only score is Day-1 are the same in both profiles.
    assert!(spec.runs_differing > 0, "{text}");
    for run in &spec.runs {
        if run.uids_differing > 0 {
            assert!(run.max_abs_score_delta > 1e-6, "{text}");
            assert!(!run.largest.is_empty());
            let a = run.attribution.as_deref().unwrap_or_default();
            assert!(a.starts_with("explained by spec §11"), "{text}");
        } else {
            assert_eq!(run.attribution, None);
        }
    }
    assert!(prod.runs.iter().all(|r| r.attribution.is_none()));
    let note = spec.profile_note.as_deref().unwrap();
    assert!(note.contains("§11") && note.contains("item 1"), "{note}");
    assert!(
        text.contains("note: profiles differ (ours `spec`, control `production`)"),
        "{text}"
    );
    assert!(text.contains("verdict: no-go"), "{text}");
    // The weights the two profiles imply differ as the fixture says they do.
    let u16s = |p: &str| fix["profiles"][p]["weights"]["values"].clone();
    assert_ne!(u16s("spec"), u16s("production"));
    assert!(spec.agreement.max_abs_delta > 0, "{text}");
}
