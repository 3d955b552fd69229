//! The operator views as text, in process: a run on a fresh database rendered by every view.

use chrono::Utc;

use super::text;
use super::views::{self, OverviewContext};

#[tokio::test]
async fn every_view_renders_a_fresh_run_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::tasks::weather::lifecycle::test_context(dir.path()).await;
    let store = &ctx.store;
    let now = Utc::now();
    let run = store
        .create_run(&gaia_store::NewRun {
            run_initiation_time: now,
            target_forecast_time_utc: now,
            gfs_init_time_utc: now,
            gfs_input_metadata: None,
        })
        .await
        .unwrap();
    let settings = OverviewContext {
        chain_mode: "offline".into(),
        weights_mode: "shadow".into(),
        scoring_profile: "production".into(),
        recent_runs: 5,
    };
    let overview = views::overview(store, &settings, now).await.unwrap();
    let page = text::overview(&overview);
    assert!(
        page.contains("shadow") && page.contains("production"),
        "{page}"
    );
    let runs = views::runs(store, 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    let table = text::runs(&runs);
    assert!(table.contains(&run.id.to_string()), "{table}");
    let detail = views::run_detail(store, run.id)
        .await
        .unwrap()
        .expect("the run");
    assert!(text::run(&detail).contains(&run.id.to_string()));
    assert!(views::run_detail(store, run.id + 1000)
        .await
        .unwrap()
        .is_none());
    let weights = views::weights_view(store, 5).await.unwrap();
    assert!(!text::weights(&weights).is_empty());
    if let Some(history) = views::miner_history(store, 0, 5).await.unwrap() {
        assert!(!text::miner(&history).is_empty());
    }
    assert_eq!(text::score(None), text::score(None));
    assert!(!text::time(Some(now)).is_empty());
}
