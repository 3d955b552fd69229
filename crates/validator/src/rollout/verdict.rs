//! Go / no-go of a comparison: the thresholds an operator passes as flags, checked against the
//! [`Agreement`] figures, and the §11 note when the two sides score with different profiles.

use gaia_scoring::ScoringProfile;
use serde::{Deserialize, Serialize};

use super::figures::Agreement;

/// The thresholds a comparison must meet to say "go" (defaults: a near-identical vector).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Smallest cosine similarity.
    pub min_cosine: f64,
    /// Largest L1 distance of the normalised vectors.
    pub max_l1: f64,
    /// Largest |Δ| of one u16 value.
    pub max_abs_delta: u16,
    /// Smallest Spearman ρ (an undefined ρ passes only when both vectors are identical).
    pub min_spearman: f64,
    /// Smallest top-k overlap.
    pub min_top_k_overlap: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_cosine: 0.99,
            max_l1: 0.05,
            max_abs_delta: 655,
            min_spearman: 0.95,
            min_top_k_overlap: 0.8,
        }
    }
}

/// One threshold that was not met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    /// The figure (`cosine`, `l1`, …).
    pub figure: &'static str,
    /// Its value, as text.
    pub value: String,
    /// The threshold, as text (`>= 0.99`).
    pub required: String,
}

/// The figures' breaches of `t` (empty = go).
pub fn breaches(a: &Agreement, t: &Thresholds) -> Vec<Breach> {
    let mut out = Vec::new();
    let mut check = |ok: bool, figure: &'static str, value: String, required: String| {
        if !ok {
            out.push(Breach {
                figure,
                value,
                required,
            });
        }
    };
    check(
        a.cosine >= t.min_cosine,
        "cosine",
        format!("{:.6}", a.cosine),
        format!(">= {}", t.min_cosine),
    );
    check(
        a.l1 <= t.max_l1,
        "l1",
        format!("{:.6}", a.l1),
        format!("<= {}", t.max_l1),
    );
    check(
        a.max_abs_delta <= t.max_abs_delta,
        "max_abs_delta",
        a.max_abs_delta.to_string(),
        format!("<= {}", t.max_abs_delta),
    );
    let identical = a.largest_differences.is_empty();
    check(
        a.spearman.map_or(identical, |r| r >= t.min_spearman),
        "spearman",
        a.spearman.map_or("undefined".into(), |r| format!("{r:.6}")),
        format!(">= {}", t.min_spearman),
    );
    check(
        a.top_k_overlap >= t.min_top_k_overlap,
        "top_k_overlap",
        format!("{:.3}", a.top_k_overlap),
        format!(">= {}", t.min_top_k_overlap),
    );
    out
}

/// What the difference between `ours` and the control's profile explains (spec §11), or `None`
/// when both score alike. The control is a Python validator: `production` unless told otherwise.
pub fn profile_note(ours: ScoringProfile, control: ScoringProfile) -> Option<String> {
    if ours == control {
        return None;
    }
    Some(format!(
        "profiles differ (ours `{ours}`, control `{control}`): spec §11 explains differences in \
         the ERA5 part of the overall scores and the weights they imply — item 1, pressure-level \
         skill against climatology is 0.0 in `production` unless edge salvage ran (so `spec` \
         gives full-grid forecasts markedly higher ERA5 and overall scores); item 2, \
         `production` scores forecasts with |x| > 1e12 that `spec` fails. Day-1 scores and the \
         weight formula are the same in both, so differences in Day-1-only runs are not explained"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::figures::agreement;

    #[test]
    fn identical_is_go_and_a_swap_breaches_every_figure() {
        let t = Thresholds::default();
        assert!(breaches(&agreement(&[0, 5, 9], &[0, 5, 9], 10), &t).is_empty());
        let b = breaches(&agreement(&[0, 65535, 1], &[0, 1, 65535], 1), &t);
        let names: Vec<_> = b.iter().map(|b| b.figure).collect();
        assert_eq!(
            names,
            vec!["cosine", "l1", "max_abs_delta", "spearman", "top_k_overlap"]
        );
        assert_eq!(b[2].value, "65534");
        assert_eq!(b[2].required, "<= 655");
        // Undefined ρ (one UID) fails unless the vectors are the same.
        let one = breaches(&agreement(&[7], &[8], 1), &t);
        assert!(one
            .iter()
            .any(|b| b.figure == "spearman" && b.value == "undefined"));
    }

    #[test]
    fn the_profile_note_names_section_11_only_when_profiles_differ() {
        use ScoringProfile::{Production, Spec};
        assert_eq!(profile_note(Production, Production), None);
        let note = profile_note(Spec, Production).unwrap();
        assert!(note.contains("§11") && note.contains("item 1"), "{note}");
    }
}
