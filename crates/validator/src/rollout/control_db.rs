//! `compare --control db:<postgres URL>`: this validator's `score_table` rows against a Python
//! validator's (spec §6: `uid_N_score` columns), run by run — matched by GFS init, the rows'
//! `created_at` — over the 15-day weight window, and the u16 weights both sets of rows imply.
//!
//! Both weight vectors are computed by the one weight calculation
//! (`gaia_scoring::weights::calculate_weights`) with the same metagraph (our node mirror) and no
//! active validators, so every difference comes from the scores. A run counts as differing when
//! one side has no row for it or some UID's score differs by more than [`SCORE_TOLERANCE`]
//! (`NULL` counts as 0, as in the weights).

use chrono::{DateTime, Duration, Utc};
use gaia_scoring::weights::{calculate_weights, ScoreTableRow, WeightsRequest};
use gaia_store::python_db::{PythonScoreRow, PythonValidatorDb};
use gaia_store::{ForecastStats, ScoreRow, Store};

use super::compare::{CompareError, CompareOptions};
use super::figures::{agreement, dense};
use super::report::{verdict, CompareReport, RunComparison};
use super::verdict::{breaches, profile_note};
use crate::tasks::weights::node_info;

/// Largest |Δ| of one UID's score that still counts as equal.
pub const SCORE_TOLERANCE: f64 = 1e-9;
/// Days of the weight window (spec §5.2).
const WINDOW_DAYS: i64 = 15;
/// UIDs listed per differing run.
const LARGEST_PER_RUN: usize = 5;

fn value(v: Option<&Option<f64>>) -> f64 {
    v.copied()
        .flatten()
        .filter(|x| x.is_finite())
        .unwrap_or(0.0)
}

/// Compare one run's rows (either may be missing).
pub fn compare_run(
    gfs_init: DateTime<Utc>,
    ours: Option<(&str, &[Option<f64>])>,
    control: Option<(&str, &[Option<f64>])>,
) -> RunComparison {
    let (o, c) = (
        ours.map_or(&[][..], |r| r.1),
        control.map_or(&[][..], |r| r.1),
    );
    let n = o.len().max(c.len());
    let mut diffs: Vec<(u16, f64, f64)> = (0..n)
        .filter_map(|i| {
            let (a, b) = (value(o.get(i)), value(c.get(i)));
            ((a - b).abs() > SCORE_TOLERANCE).then(|| Some((u16::try_from(i).ok()?, a, b)))?
        })
        .collect();
    diffs.sort_by(|x, y| {
        (y.1 - y.2)
            .abs()
            .total_cmp(&(x.1 - x.2).abs())
            .then(x.0.cmp(&y.0))
    });
    let max = diffs.first().map_or(0.0, |d| (d.1 - d.2).abs());
    RunComparison {
        gfs_init,
        ours_task_id: ours.map(|r| r.0.to_string()),
        control_task_id: control.map(|r| r.0.to_string()),
        uids_differing: diffs.len(),
        max_abs_score_delta: max,
        largest: diffs.into_iter().take(LARGEST_PER_RUN).collect(),
        attribution: None,
    }
}

/// Whether spec §11 explains a differing run, from our forecast stats of it: the profiles
/// differ only in the ERA5 part (§11 items 1 and 2), so a run with ERA5 leads scored is
/// explained and a Day-1-only run is not.
pub fn attribute(stats: &[ForecastStats]) -> String {
    let era5 = stats
        .iter()
        .filter(|s| s.era5_completeness.is_some_and(|c| c > 0.0) || s.era5_combined_score.is_some())
        .count();
    if era5 > 0 {
        format!(
            "explained by spec §11 (profiles differ): {era5} miners have ERA5 leads scored, \
             whose pressure-level skill the profiles score differently (item 1)"
        )
    } else {
        "NOT explained by the profiles: this run has only Day-1 scores, which are the same in \
         both (spec §11); look for another cause"
            .to_string()
    }
}

/// Whether a run comparison shows a difference.
pub fn differs(run: &RunComparison) -> bool {
    run.uids_differing > 0 || run.ours_task_id.is_none() || run.control_task_id.is_none()
}

fn table_row(
    task_name: &str,
    task_id: &str,
    at: DateTime<Utc>,
    s: &[Option<f64>],
) -> ScoreTableRow {
    ScoreTableRow {
        task_name: task_name.to_string(),
        task_id: task_id.to_string(),
        created_at: at,
        scores: s.to_vec(),
    }
}

/// Pair our rows with the control's by GFS init, oldest first.
pub fn match_runs(ours: &[ScoreRow], control: &[PythonScoreRow]) -> Vec<RunComparison> {
    let mut inits: Vec<DateTime<Utc>> = ours
        .iter()
        .map(|r| r.created_at)
        .chain(control.iter().map(|r| r.created_at))
        .collect();
    inits.sort();
    inits.dedup();
    inits
        .into_iter()
        .map(|at| {
            let o = ours
                .iter()
                .find(|r| r.created_at == at)
                .map(|r| (r.task_id.as_str(), r.scores.as_slice()));
            let c = control
                .iter()
                .find(|r| r.created_at == at)
                .map(|r| (r.task_id.as_str(), r.scores.as_slice()));
            compare_run(at, o, c)
        })
        .collect()
}

/// Compare our rows and weights with the Python validator's database at `url`, window ending
/// at `now`.
pub async fn compare_with_db(
    store: &Store,
    url: &str,
    now: DateTime<Utc>,
    options: &CompareOptions,
) -> Result<CompareReport, CompareError> {
    let control_db = PythonValidatorDb::connect(url)
        .await
        .map_err(|e| CompareError::ControlDb(e.to_string()))?;
    let since = now - Duration::days(WINDOW_DAYS);
    let theirs = control_db
        .score_rows_since("weather", since)
        .await
        .map_err(|e| CompareError::ControlDb(e.to_string()))?;
    let ours = store.score_rows_since("weather", since).await?;
    let mut runs = match_runs(&ours, &theirs);
    if options.our_profile != options.control_profile {
        for run in runs.iter_mut().filter(|r| differs(r)) {
            let run_id = ours
                .iter()
                .find(|r| r.created_at == run.gfs_init)
                .and_then(|r| r.run_id);
            if let Some(id) = run_id {
                run.attribution = Some(attribute(&store.list_forecast_stats(id).await?));
            }
        }
    }
    let nodes: Vec<_> = store
        .list_nodes()
        .await?
        .into_iter()
        .map(node_info)
        .collect();
    let implied = |rows: Vec<ScoreTableRow>| -> Result<Vec<u16>, CompareError> {
        let request = WeightsRequest {
            now,
            rows,
            nodes: nodes.clone(),
            active_validators: Vec::new(),
            config: Default::default(),
        };
        let r = calculate_weights(&request).map_err(|e| CompareError::Quantise {
            key: "implied weights".into(),
            reason: e.to_string(),
        })?;
        let pairs: Vec<(u16, u16)> = r.uids.into_iter().zip(r.values).collect();
        Ok(dense(&pairs))
    };
    let our_vector = implied(
        ours.iter()
            .map(|r| table_row(&r.task_name, &r.task_id, r.created_at, r.scores.as_slice()))
            .collect(),
    )?;
    let their_vector = implied(
        theirs
            .iter()
            .map(|r| table_row(&r.task_name, &r.task_id, r.created_at, &r.scores))
            .collect(),
    )?;
    let a = agreement(&our_vector, &their_vector, options.top_k);
    let b = breaches(&a, &options.thresholds);
    let runs_differing = runs.iter().filter(|r| differs(r)).count();
    Ok(CompareReport {
        control: format!("db:{}", control_db.redacted_url()),
        control_detail: format!(
            "{} score rows since {} (ours: {}); weights implied by each with our metagraph",
            theirs.len(),
            since.to_rfc3339(),
            ours.len()
        ),
        ours: None,
        our_profile: options.our_profile.to_string(),
        agreement: a,
        thresholds: options.thresholds,
        verdict: verdict(&b, runs_differing),
        breaches: b,
        runs,
        runs_differing,
        profile_note: profile_note(options.our_profile, options.control_profile),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_match_by_gfs_init_and_name_the_largest_differences() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let same = compare_run(
            t0,
            Some(("a", &[Some(0.5), None])),
            Some(("b", &[Some(0.5)])),
        );
        assert_eq!(same.uids_differing, 0);
        assert!(!differs(&same));
        let d = compare_run(
            t0,
            Some(("a", &[Some(0.5), Some(0.2), Some(f64::NAN)])),
            Some(("b", &[Some(0.1), Some(0.2), Some(0.3)])),
        );
        assert_eq!(d.uids_differing, 2);
        assert!((d.max_abs_score_delta - 0.4).abs() < 1e-12);
        assert_eq!(d.largest[0].0, 0);
        assert_eq!(d.largest[1], (2, 0.0, 0.3));
        let missing = compare_run(t0, None, Some(("b", &[Some(0.0)])));
        assert!(differs(&missing) && missing.ours_task_id.is_none());
    }

    #[test]
    fn only_runs_with_era5_leads_are_explained_by_the_profiles() {
        let day1_only = ForecastStats::new(
            1,
            3,
            "hk",
            gaia_store::ForecastStatus::Day1Scored,
            Utc::now(),
        );
        assert!(attribute(std::slice::from_ref(&day1_only)).starts_with("NOT explained"));
        let mut with_era5 = day1_only.clone();
        with_era5.era5_completeness = Some(0.3);
        let text = attribute(&[day1_only, with_era5]);
        assert!(
            text.starts_with("explained by spec §11") && text.contains("1 miners"),
            "{text}"
        );
    }
}
