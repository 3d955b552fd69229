//! Spec §4.4: per-lead scores, completeness gate and the overall blend, on hand-checked
//! examples. Expected values are derived in the comments; tolerance 1e-12 absolute (the
//! derivations are exact arithmetic on a handful of doubles).

use gaia_scoring::aggregate::{
    aggregate_overall, score_lead, AggregateError, BlendConfig, LeadMetrics, OverallOutcome,
    OverallRequest, OverallScore, VariableMetrics, EXPECTED_VARIABLES,
};

const TOL: f64 = 1e-12;

fn var(name: &str, skill: Option<f64>, acc: Option<f64>, rmse: Option<f64>) -> VariableMetrics {
    VariableMetrics {
        variable: name.to_string(),
        skill,
        acc,
        rmse,
    }
}

/// A lead where every variable has the same skill and ACC and the given RMSEs.
fn lead(hours: u32, skill: f64, acc: f64, rmses: [f64; 9]) -> LeadMetrics {
    let variables = EXPECTED_VARIABLES
        .iter()
        .zip(rmses)
        .map(|(v, r)| var(v, Some(skill), Some(acc), Some(r)))
        .collect();
    LeadMetrics {
        lead_hours: hours,
        variables,
    }
}

fn scored(req: &OverallRequest) -> OverallScore {
    match aggregate_overall(req).expect("valid request") {
        OverallOutcome::Scored(s) => s,
        other => panic!("expected a score, got {other:?}"),
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= TOL, "{a} vs {b}");
}

#[test]
fn two_leads_hand_checked() {
    // Lead 24: skill 0.5, ACC 0.6, RMSE 1..9.
    //   skill_norm = 0.5; acc_norm = (0.6 + 1) / 2 = 0.8
    //   r̃ = upper median of 1..9 = 5; terms 1/(1 + r/5) = 5/(5 + r)
    //   rmse_norm = (1/9) Σ_{r=1..9} 5/(5 + r)
    //   L = 0.6·0.5 + 0.3·0.8 + 0.1·rmse_norm
    let rmse_norm_24: f64 = (1..=9).map(|r| 5.0 / (5.0 + r as f64)).sum::<f64>() / 9.0;
    let l24 = 0.3 + 0.24 + 0.1 * rmse_norm_24;
    // Lead 48: skills 1.5 (→ 1), −0.2 (→ 0), seven × 0.4; ACC −1 everywhere; RMSE all 2.
    //   skill_norm = (1 + 0 + 7·0.4) / 9 = 3.8 / 9; acc_norm = 0; r̃ = 2 → every term 0.5
    //   L = 0.6·3.8/9 + 0 + 0.1·0.5
    let l48 = 0.6 * 3.8 / 9.0 + 0.05;
    let mut lead48 = lead(48, 0.4, -1.0, [2.0; 9]);
    lead48.variables[0].skill = Some(1.5);
    lead48.variables[1].skill = Some(-0.2);
    let req = OverallRequest {
        // given out of order: the result is sorted by lead
        leads: vec![
            lead48,
            lead(24, 0.5, 0.6, [1., 2., 3., 4., 5., 6., 7., 8., 9.]),
        ],
        day1_score: Some(0.1), // exactly the threshold: passes (≥)
        config: BlendConfig::default(),
    };
    let s = scored(&req);
    assert_eq!(
        s.leads.iter().map(|l| l.lead_hours).collect::<Vec<_>>(),
        vec![24, 48]
    );
    close(s.leads[0].skill_norm.unwrap(), 0.5);
    close(s.leads[0].acc_norm.unwrap(), 0.8);
    close(s.leads[0].rmse_norm.unwrap(), rmse_norm_24);
    close(s.leads[0].score, l24);
    close(s.leads[1].skill_norm.unwrap(), 3.8 / 9.0);
    close(s.leads[1].acc_norm.unwrap(), 0.0);
    close(s.leads[1].rmse_norm.unwrap(), 0.5);
    close(s.leads[1].score, l48);
    // ERA5_norm = (L24 + L48) / 10: the eight missing leads count as zero.
    close(s.era5_norm, (l24 + l48) / 10.0);
    close(s.completeness, 0.2);
    assert!(s.day1_pass);
    close(s.overall, 0.95 * (l24 + l48) / 10.0 + 0.05);
}

#[test]
fn perfect_forecast_on_all_ten_leads() {
    // skill 1, ACC 1, equal RMSEs → rmse_norm 0.5 (each term 1/(1 + 1)).
    // L = 0.6 + 0.3 + 0.05 = 0.95 per lead; ERA5_norm = 0.95; no Day-1 → overall = 0.95·0.95.
    let leads = (1..=10).map(|i| lead(24 * i, 1.0, 1.0, [3.0; 9])).collect();
    let s = scored(&OverallRequest {
        leads,
        day1_score: None,
        config: BlendConfig::default(),
    });
    close(s.era5_norm, 0.95);
    close(s.completeness, 1.0);
    assert!(!s.day1_pass);
    close(s.overall, 0.95 * 0.95);
}

#[test]
fn day1_threshold_and_non_finite_day1() {
    let base = |d| OverallRequest {
        leads: vec![lead(24, 0.0, -1.0, [1.0; 9])],
        day1_score: d,
        config: BlendConfig::default(),
    };
    // L = 0.6·0 + 0.3·0 + 0.1·0.5 = 0.05 → ERA5_norm = 0.005.
    for (d1, pass) in [
        (Some(0.0999), false),
        (Some(0.1), true),
        (Some(0.9), true),
        (None, false),
        (Some(f64::NEG_INFINITY), false), // spec §10.6: failed Day-1 stored as −∞
        (Some(f64::NAN), false),
    ] {
        let s = scored(&base(d1));
        assert_eq!(s.day1_pass, pass, "{d1:?}");
        close(s.overall, 0.95 * 0.005 + if pass { 0.05 } else { 0.0 });
    }
}

#[test]
fn blend_weights_are_normalised() {
    // 1.9 / 0.1 normalise to 0.95 / 0.05: same as the defaults.
    let mk = |config| OverallRequest {
        leads: vec![lead(72, 0.7, 0.2, [1.0; 9])],
        day1_score: Some(0.5),
        config,
    };
    let cfg = BlendConfig {
        era5_weight: 1.9,
        day1_weight: 0.1,
        ..BlendConfig::default()
    };
    close(
        scored(&mk(cfg)).overall,
        scored(&mk(BlendConfig::default())).overall,
    );
    let bad = BlendConfig {
        era5_weight: -1.0,
        ..BlendConfig::default()
    };
    assert!(matches!(
        aggregate_overall(&mk(bad)),
        Err(AggregateError::InvalidBlend { .. })
    ));
}

#[test]
fn missing_variable_fails_the_completeness_gate() {
    let mut l = lead(96, 0.5, 0.5, [1.0; 9]);
    l.variables.retain(|v| v.variable != "q");
    // a variable row without any finite metric does not count as present
    l.variables.push(var("q", None, Some(f64::NAN), None));
    l.variables.push(var("sp", Some(0.5), None, None));
    let req = OverallRequest {
        leads: vec![lead(24, 0.5, 0.5, [1.0; 9]), l],
        day1_score: Some(1.0),
        config: BlendConfig::default(),
    };
    match aggregate_overall(&req).unwrap() {
        OverallOutcome::Incomplete {
            lead_hours,
            missing,
            unexpected,
        } => {
            assert_eq!(lead_hours, 96);
            assert_eq!(missing, vec!["q".to_string()]);
            assert_eq!(unexpected, vec!["sp".to_string()]);
        }
        other => panic!("expected incomplete, got {other:?}"),
    }
}

#[test]
fn malformed_leads_are_errors() {
    let req = |leads| OverallRequest {
        leads,
        day1_score: None,
        config: BlendConfig::default(),
    };
    let r = aggregate_overall(&req(vec![lead(30, 0.5, 0.5, [1.0; 9])]));
    assert_eq!(r, Err(AggregateError::UnknownLead(30)));
    let r = aggregate_overall(&req(vec![lead(24, 0.5, 0.5, [1.0; 9]); 2]));
    assert_eq!(r, Err(AggregateError::DuplicateLead(24)));
}

#[test]
fn weight_fallbacks_when_terms_are_missing() {
    // No RMSE anywhere: L = 0.6·skill + 0.4·acc = 0.6·0.5 + 0.4·(0.2 + 1)/2 = 0.3 + 0.24.
    let mut l = lead(24, 0.5, 0.2, [1.0; 9]);
    l.variables.iter_mut().for_each(|v| v.rmse = None);
    let s = score_lead(&l);
    assert_eq!(s.rmse_norm, None);
    close(s.score, 0.54);
    // Only ACC: L = acc_norm = 0.6.
    l.variables.iter_mut().for_each(|v| v.skill = None);
    close(score_lead(&l).score, 0.6);
    // Only RMSE (all equal): L = rmse_norm = 0.5.
    l.variables.iter_mut().for_each(|v| {
        v.acc = None;
        v.rmse = Some(4.0);
    });
    close(score_lead(&l).score, 0.5);
    // Skill and RMSE but no ACC: skill alone = 0.8.
    l.variables.iter_mut().for_each(|v| v.skill = Some(0.8));
    close(score_lead(&l).score, 0.8);
    // Skill on only three variables: mean over those three (0.9, 0.3, 0.0 ← −2 clamped) = 0.4.
    let mut l = lead(24, 0.0, 0.0, [1.0; 9]);
    l.variables.iter_mut().for_each(|v| v.skill = None);
    l.variables[0].skill = Some(0.9);
    l.variables[1].skill = Some(0.3);
    l.variables[2].skill = Some(-2.0);
    close(score_lead(&l).skill_norm.unwrap(), 0.4);
}

#[test]
fn zero_median_rmse_scores_every_term_one_half() {
    // Five of nine RMSEs are 0 → r̃ = 0: every term is 1/(1+1) = 0.5, zero RMSE or not
    // (spec §12-16) → rmse_norm 0.5; skill 0 and ACC −1 add nothing → L_h = 0.1 · 0.5.
    let l = lead(24, 0.0, -1.0, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    let s = score_lead(&l);
    close(s.rmse_norm.unwrap(), 0.5);
    close(s.score, 0.1 * 0.5);
}

#[test]
fn outcome_serialises_with_a_status_tag() {
    let req = OverallRequest {
        leads: vec![],
        day1_score: Some(0.3),
        config: BlendConfig::default(),
    };
    let out = aggregate_overall(&req).unwrap();
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["status"], "scored");
    // No leads yet: ERA5_norm 0, overall = 0.05 from the Day-1 pass alone.
    assert!((json["overall"].as_f64().unwrap() - 0.05).abs() < TOL);
    let back: OverallOutcome = serde_json::from_value(json).unwrap();
    assert_eq!(back, out);
    // Defaults fill in a minimal request.
    let parsed: OverallRequest = serde_json::from_str(r#"{"leads": []}"#).unwrap();
    assert_eq!(parsed.config, BlendConfig::default());
}
