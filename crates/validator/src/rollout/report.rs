//! The report of `compare`: what was compared, the figures, the verdict and the §11 note, as
//! JSON (field names are stable) or as text for the operator.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::figures::Agreement;
use super::verdict::{Breach, Thresholds};

/// Our side of a comparison: the newest recorded weight vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OurVector {
    /// The attempt's key (`weights.set:…`).
    pub attempt_key: String,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Whether it was recorded in shadow mode (computed, not submitted).
    pub shadow: bool,
}

/// One run of a database comparison: our score row and the control's, matched by GFS init.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunComparison {
    /// The GFS init both rows are for (`score_table.created_at`).
    pub gfs_init: DateTime<Utc>,
    /// Our row's `task_id` (`None`: we have no row for this run).
    pub ours_task_id: Option<String>,
    /// The control's row's `task_id` (`None`: the control has none).
    pub control_task_id: Option<String>,
    /// UIDs whose scores differ by more than 1e-9.
    pub uids_differing: usize,
    /// Largest |Δ| of one UID's score.
    pub max_abs_score_delta: f64,
    /// The UIDs that differ most, `(uid, ours, control)`, largest |Δ| first (at most 5).
    pub largest: Vec<(u16, f64, f64)>,
    /// When the profiles differ and this run differs: whether spec §11 explains it.
    pub attribution: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    /// The control as given (`chain:…` / `db:…`, password redacted).
    pub control: String,
    /// What the control's vector is (e.g. `uid 0 at block 1203`, `weights implied by 3 rows`).
    pub control_detail: String,
    /// Our vector's origin (`None` for a database comparison, where both sides are computed).
    pub ours: Option<OurVector>,
    /// Our scoring profile.
    pub our_profile: String,
    /// The figures of the two u16 vectors.
    pub agreement: Agreement,
    /// The thresholds applied.
    pub thresholds: Thresholds,
    /// Thresholds not met.
    pub breaches: Vec<Breach>,
    /// Run-by-run score comparison (database control only).
    pub runs: Vec<RunComparison>,
    /// Runs whose scores differ (database control only).
    pub runs_differing: usize,
    /// What a profile difference explains (spec §11), when the profiles differ.
    pub profile_note: Option<String>,
    /// `go` when every threshold holds and every run matches, else `no-go`.
    pub verdict: &'static str,
}

impl CompareReport {
    /// Whether the comparison says go.
    pub fn is_go(&self) -> bool {
        self.verdict == "go"
    }
}

/// The verdict word of a comparison.
pub fn verdict(breaches: &[Breach], runs_differing: usize) -> &'static str {
    if breaches.is_empty() && runs_differing == 0 {
        "go"
    } else {
        "no-go"
    }
}

/// The text form.
pub fn render(r: &CompareReport) -> String {
    let mut out = String::new();
    let a = &r.agreement;
    let _ = writeln!(out, "control: {} ({})", r.control, r.control_detail);
    if let Some(o) = &r.ours {
        let _ = writeln!(
            out,
            "ours:    {} at {}{} (profile {})",
            o.attempt_key,
            o.created_at.to_rfc3339(),
            if o.shadow { ", shadow" } else { "" },
            r.our_profile
        );
    } else {
        let _ = writeln!(out, "ours:    profile {}", r.our_profile);
    }
    for run in &r.runs {
        let _ = writeln!(
            out,
            "run {}: ours {} / control {}: {} UIDs differ, max |Δ| {:.6}",
            run.gfs_init.to_rfc3339(),
            run.ours_task_id.as_deref().unwrap_or("(none)"),
            run.control_task_id.as_deref().unwrap_or("(none)"),
            run.uids_differing,
            run.max_abs_score_delta
        );
        for (uid, o, c) in &run.largest {
            let _ = writeln!(out, "    uid {uid:>3}: ours {o:.6}  control {c:.6}");
        }
        if let Some(a) = &run.attribution {
            let _ = writeln!(out, "    {a}");
        }
    }
    if !r.runs.is_empty() {
        let _ = writeln!(
            out,
            "runs differing: {} of {}",
            r.runs_differing,
            r.runs.len()
        );
    }
    let _ = writeln!(
        out,
        "cosine {:.6}  L1 {:.6}  max|Δ| {}  spearman {}  top-{} overlap {:.3}  \
         (non-zero: ours {}, control {})",
        a.cosine,
        a.l1,
        a.max_abs_delta,
        a.spearman.map_or("undefined".into(), |s| format!("{s:.6}")),
        a.top_k,
        a.top_k_overlap,
        a.ours_nonzero,
        a.control_nonzero
    );
    if !a.largest_differences.is_empty() {
        let _ = writeln!(out, "largest differences (u16):");
        for d in &a.largest_differences {
            let _ = writeln!(
                out,
                "    uid {:>3}: ours {:>5}  control {:>5}  Δ {:+}",
                d.uid, d.ours, d.control, d.delta
            );
        }
    }
    for b in &r.breaches {
        let _ = writeln!(
            out,
            "breach: {} = {} (required {})",
            b.figure, b.value, b.required
        );
    }
    if let Some(note) = &r.profile_note {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "verdict: {}", r.verdict);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::figures::agreement;
    use crate::rollout::verdict::breaches;

    #[test]
    fn text_names_control_figures_breaches_and_verdict() {
        let a = agreement(&[0, 3, 1], &[0, 1, 3], 1);
        let t = Thresholds::default();
        let b = breaches(&a, &t);
        let r = CompareReport {
            control: "chain:0".into(),
            control_detail: "uid 0 at block 9".into(),
            ours: Some(OurVector {
                attempt_key: "weights.set:1".into(),
                created_at: DateTime::<Utc>::UNIX_EPOCH,
                shadow: true,
            }),
            our_profile: "production".into(),
            agreement: a,
            thresholds: t,
            runs_differing: 1,
            runs: vec![RunComparison {
                gfs_init: DateTime::<Utc>::UNIX_EPOCH,
                ours_task_id: None,
                control_task_id: Some("weather_scores_1".into()),
                uids_differing: 2,
                max_abs_score_delta: 0.5,
                largest: vec![(4, 0.1, 0.6)],
                attribution: Some("explained by spec §11".into()),
            }],
            verdict: verdict(&b, 1),
            breaches: b,
            profile_note: Some("§11".into()),
        };
        let text = render(&r);
        for want in [
            "control: chain:0 (uid 0 at block 9)",
            ", shadow",
            "cosine 0.600000",
            "uid   1: ours     3  control     1  Δ +2",
            "breach: cosine",
            "ours (none) / control weather_scores_1: 2 UIDs differ",
            "note: §11",
            "runs differing: 1 of 1",
            "    explained by spec §11",
            "verdict: no-go",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
        assert!(!r.is_go());
        assert_eq!(verdict(&[], 0), "go");
    }
}
