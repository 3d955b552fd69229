//! Spec §5.2–5.3: the `weights.calculate` pipeline on hand-checked examples. Each expected
//! value is derived in the comments from the spec's formulas; tolerance 1e-12 absolute unless
//! stated.

use chrono::{DateTime, Duration, TimeZone, Utc};
use gaia_scoring::weights::{
    calculate_weights, BurnConfig, FallbackReason, NodeInfo, ScoreTableRow, SmoothingConfig,
    WeightsConfig, WeightsError, WeightsRequest, WeightsResult,
};

const TOL: f64 = 1e-12;
const B: f64 = 70.0;
const Q: f64 = 8.0;
const V: f64 = 0.3;
const K: f64 = 0.98;
const C: f64 = 0.01;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
}

/// A row `days_ago` old with the given (uid, score) entries, all other UIDs null.
fn row(days_ago: i64, entries: &[(usize, f64)]) -> ScoreTableRow {
    let mut scores = vec![None; 256];
    for &(uid, s) in entries {
        scores[uid] = Some(s);
    }
    ScoreTableRow {
        task_name: "weather".into(),
        task_id: format!("weather_scores_run{days_ago}_20261101T0000Z"),
        created_at: now() - Duration::days(days_ago),
        scores,
    }
}

fn nodes_with_ip(uids: &[u16]) -> Vec<NodeInfo> {
    uids.iter()
        .map(|&uid| NodeInfo {
            uid,
            hotkey: format!("hk{uid}"),
            ip: Some("1.2.3.4".into()),
            coldkey: None,
        })
        .collect()
}

fn no_burn() -> WeightsConfig {
    WeightsConfig {
        burn: BurnConfig {
            enabled: false,
            ..BurnConfig::default()
        },
        ..WeightsConfig::default()
    }
}

fn burn_to(uid: u16) -> WeightsConfig {
    WeightsConfig {
        burn: BurnConfig {
            uid: Some(uid),
            ..BurnConfig::default()
        },
        ..WeightsConfig::default()
    }
}

fn calc(rows: Vec<ScoreTableRow>, nodes: Vec<NodeInfo>, config: WeightsConfig) -> WeightsResult {
    calculate_weights(&WeightsRequest {
        now: now(),
        rows,
        nodes,
        active_validators: vec![],
        config,
    })
    .expect("valid request")
}

/// The transform of one normalised score (spec §5.2 step 5).
fn logistic(x: f64, m: f64) -> f64 {
    K / (1.0 + Q * (-B * (x - m)).exp()).powf(1.0 / V) + C * x
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= TOL, "{a} vs {b}");
}

#[test]
fn all_zero_scores_fall_back_to_uid_252() {
    let r = calc(
        vec![row(1, &[(3, 0.0), (4, 0.0)])],
        nodes_with_ip(&[3, 4]),
        no_burn(),
    );
    assert_eq!(r.fallback, Some(FallbackReason::NoPositiveScores));
    assert_eq!(r.weights[252], 1.0);
    assert_eq!(r.weights.iter().sum::<f64>(), 1.0);
    assert_eq!((r.uids, r.values), (vec![252], vec![65535]));
    // With the production burn going to UID 252 itself, nothing changes.
    let r = calc(vec![], nodes_with_ip(&[3]), burn_to(252));
    assert_eq!(r.fallback, Some(FallbackReason::NoRows));
    close(r.weights[252], 1.0);
    assert_eq!(r.burn_uid, Some(252));
}

#[test]
fn single_miner_takes_everything_then_burn_takes_75_percent() {
    // One positive UID: x = [1], M = percentile of [1] = 1, y = K/9^(1/V) + C, CV = 0 → the
    // contrast rule applies (× 1^1.3 = 1); normalised weight 1.
    let r = calc(vec![row(2, &[(7, 0.6)])], nodes_with_ip(&[7]), no_burn());
    assert_eq!(r.fallback, None);
    close(r.midpoint.unwrap(), 1.0);
    close(r.cv.unwrap(), 0.0);
    assert!(r.contrast_applied);
    close(r.weights[7], 1.0);
    // Burn to UID 200 at 0.75: w7 = 0.25, w200 = 0.75.
    // u16: scale = 65535 / 0.75 = 87380; 0.25 · 87380 = 21845 → dests [7, 200], [21845, 65535].
    let r = calc(vec![row(2, &[(7, 0.6)])], nodes_with_ip(&[7]), burn_to(200));
    close(r.pre_burn_weights[7], 1.0);
    close(r.weights[7], 0.25);
    close(r.weights[200], 0.75);
    assert_eq!(r.uids, vec![7, 200]);
    assert_eq!(r.values, vec![21845, 65535]);
}

#[test]
fn three_miners_hand_checked_transform() {
    // Means: uid 1 → 0.8, uid 2 → 0.4, uid 3 → 0.2 (one row). x = [1, 0.5, 0.25].
    // Unique positives [0.25, 0.5, 1] (3 ≥ 3): g = 2·0.8 = 1.6 → M = 0.5 + 0.5·0.6 = 0.8.
    let r = calc(
        vec![row(1, &[(1, 0.8), (2, 0.4), (3, 0.2)])],
        nodes_with_ip(&[1, 2, 3]),
        no_burn(),
    );
    close(r.midpoint.unwrap(), 0.8);
    let y = [logistic(1.0, 0.8), logistic(0.5, 0.8), logistic(0.25, 0.8)];
    let mean = y.iter().sum::<f64>() / 3.0;
    let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    close(r.cv.unwrap(), std / mean);
    assert!(!r.contrast_applied); // CV ≈ 1.4, far above 0.03
    let total: f64 = y.iter().sum();
    close(r.weights[1], y[0] / total);
    close(r.weights[2], y[1] / total);
    close(r.weights[3], y[2] / total);
}

#[test]
fn flat_distribution_triggers_the_contrast_rule() {
    // Means 0.9, 0.89991, 0.89982 → x = [1, 0.9999, 0.9998] (to rounding).
    // M = 0.9999 + 0.0001·0.6 = 0.99996; the y differ by ~1 %, CV < 0.03 → y_i · x_i^1.3.
    let scores = [0.9, 0.89991, 0.89982];
    let r = calc(
        vec![row(1, &[(10, scores[0]), (11, scores[1]), (12, scores[2])])],
        nodes_with_ip(&[10, 11, 12]),
        no_burn(),
    );
    let x: Vec<f64> = scores.iter().map(|s| s / 0.9).collect();
    let m = x[1] + (x[0] - x[1]) * 0.6;
    close(r.midpoint.unwrap(), m);
    let y: Vec<f64> = x.iter().map(|&xi| logistic(xi, m)).collect();
    let mean = y.iter().sum::<f64>() / 3.0;
    let cv = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0).sqrt() / mean;
    assert!(cv < 0.03, "fixture must be flat: cv {cv}");
    close(r.cv.unwrap(), cv);
    assert!(r.contrast_applied);
    let z: Vec<f64> = y.iter().zip(&x).map(|(yi, xi)| yi * xi.powf(1.3)).collect();
    let total: f64 = z.iter().sum();
    for (i, uid) in [10, 11, 12].into_iter().enumerate() {
        close(r.weights[uid], z[i] / total);
    }
}

#[test]
fn missing_runs_count_as_zero_in_the_mean() {
    // uid 1: 0.8 and 0.8 → 0.8; uid 2: 0.8 and null → 0.4; uid 3: NaN and 0.6 → 0.3.
    let mut r2 = row(3, &[(1, 0.8), (3, 0.6)]);
    r2.scores[2] = None;
    let r = calc(
        vec![row(1, &[(1, 0.8), (2, 0.8), (3, f64::NAN)]), r2],
        nodes_with_ip(&[1, 2, 3]),
        no_burn(),
    );
    assert_eq!(r.rows_used, 2);
    close(r.aggregated_scores[1], 0.8);
    close(r.aggregated_scores[2], 0.4);
    close(r.aggregated_scores[3], 0.3);
}

#[test]
fn rows_outside_the_window_or_of_another_task_are_ignored() {
    let mut other_task = row(1, &[(5, 0.9)]);
    other_task.task_name = "soil".into();
    let mut other_prefix = row(1, &[(5, 0.9)]);
    other_prefix.task_id = "geo_scores_1".into();
    let mut final_prefix = row(2, &[(6, 0.5)]);
    final_prefix.task_id = "final_weather_scores_x".into();
    let rows = vec![
        row(16, &[(5, 0.9)]), // older than 15 days
        row(15, &[(6, 0.5)]), // exactly 15 days: inside (created_at ≥ now − 15 d)
        other_task,
        other_prefix,
        final_prefix,
    ];
    let r = calc(rows, nodes_with_ip(&[5, 6]), no_burn());
    assert_eq!(r.rows_used, 2);
    close(r.aggregated_scores[5], 0.0);
    close(r.aggregated_scores[6], 0.5);
    close(r.weights[6], 1.0);
}

#[test]
fn uid_without_ip_gets_no_weight() {
    let mut nodes = nodes_with_ip(&[1, 2, 3]);
    nodes[1].ip = Some("0".into());
    nodes[2].ip = Some("  ".into());
    let r = calc(
        vec![row(1, &[(1, 0.5), (2, 0.9), (3, 0.9)])],
        nodes,
        no_burn(),
    );
    close(r.aggregated_scores[2], 0.0);
    close(r.aggregated_scores[3], 0.0);
    close(r.weights[1], 1.0);
    assert_eq!(r.uids, vec![1]);
}

#[test]
fn burn_uid_resolved_from_the_hotkey_or_skipped_with_a_warning() {
    let mut nodes = nodes_with_ip(&[1, 9]);
    nodes[1].hotkey = "burnkey".into();
    let mut cfg = WeightsConfig::default();
    cfg.burn.hotkey = "burnkey".into();
    let r = calc(vec![row(1, &[(1, 0.5)])], nodes.clone(), cfg.clone());
    assert_eq!(r.burn_uid, Some(9));
    close(r.weights[9], 0.75);
    close(r.weights[1], 0.25);
    cfg.burn.hotkey = "absent".into();
    let r = calc(vec![row(1, &[(1, 0.5)])], nodes, cfg);
    assert_eq!(r.burn_uid, None);
    close(r.weights[1], 1.0);
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn coldkey_smoothing_is_off_by_default_and_penalises_large_groups_when_on() {
    // Four UIDs share coldkey "ck": factor 1 − (4 − 3)·0.8/7 when enabled.
    let mut nodes = nodes_with_ip(&[1, 2, 3, 4, 5]);
    for n in nodes.iter_mut().take(4) {
        n.coldkey = Some("ck".into());
    }
    let rows = vec![row(1, &[(1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5), (5, 0.5)])];
    let off = calc(rows.clone(), nodes.clone(), no_burn());
    close(off.aggregated_scores[1], 0.5);
    let mut cfg = no_burn();
    cfg.smoothing = SmoothingConfig {
        enabled: true,
        ..SmoothingConfig::default()
    };
    let on = calc(rows, nodes, cfg);
    close(on.aggregated_scores[1], 0.5 * (1.0 - 0.8 / 7.0));
    close(on.aggregated_scores[5], 0.5);
    assert!(on.weights[5] > on.weights[1]);
}

#[test]
fn malformed_requests_are_errors() {
    let req = |rows, nodes, config| WeightsRequest {
        now: now(),
        rows,
        nodes,
        active_validators: vec![],
        config,
    };
    let mut short = row(1, &[]);
    short.scores.truncate(10);
    let e = calculate_weights(&req(vec![short], vec![], no_burn())).unwrap_err();
    assert!(matches!(e, WeightsError::RowLength { len: 10, .. }));
    let e = calculate_weights(&req(vec![], nodes_with_ip(&[300]), no_burn())).unwrap_err();
    assert_eq!(e, WeightsError::UidOutOfRange(300));
    let e = calculate_weights(&req(vec![], nodes_with_ip(&[3, 3]), no_burn())).unwrap_err();
    assert_eq!(e, WeightsError::DuplicateUid(3));
    let cfg = WeightsConfig {
        fallback_uid: 256,
        ..no_burn()
    };
    let e = calculate_weights(&req(vec![], vec![], cfg)).unwrap_err();
    assert_eq!(e, WeightsError::UidOutOfRange(256));
    let e = calculate_weights(&req(vec![], vec![], burn_to(999))).unwrap_err();
    assert_eq!(e, WeightsError::UidOutOfRange(999));
    let cfg = WeightsConfig {
        window_days: 0,
        ..no_burn()
    };
    let e = calculate_weights(&req(vec![], vec![], cfg)).unwrap_err();
    assert_eq!(e, WeightsError::InvalidWindow(0));
    // Issue 15 point 5: a burn rate outside [0, 1] is refused, not clamped.
    for rate in [1.5, -0.1] {
        let mut cfg = burn_to(1);
        cfg.burn.rate = rate;
        let e = calculate_weights(&req(vec![], vec![], cfg)).unwrap_err();
        assert!(matches!(
            e,
            WeightsError::SettingOutOfRange {
                field: "burn.rate",
                ..
            }
        ));
        assert!(e.to_string().contains("burn.rate"), "{e}");
    }
}

#[test]
fn request_with_defaults_parses_from_minimal_json() {
    let json = r#"{"now": "2026-11-28T00:00:00Z",
        "rows": [{"task_id": "weather_scores_a", "created_at": "2026-11-27T00:00:00Z",
                  "scores": [null, 0.5]}],
        "nodes": [{"uid": 1, "ip": "1.1.1.1"}]}"#;
    let mut req: WeightsRequest = serde_json::from_str(json).unwrap();
    assert_eq!(req.config, WeightsConfig::default());
    assert_eq!(req.rows[0].task_name, "weather");
    assert!(req.active_validators.is_empty());
    req.rows[0].scores.resize(256, None);
    let r = calculate_weights(&req).unwrap();
    // Default burn hotkey is not in this node list: burn skipped with a warning.
    close(r.weights[1], 1.0);
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn degenerate_transform_and_zero_burn_rate_are_reported() {
    // k = 0 and c = 0 make every transformed value 0: no usable weights → UID 252.
    let mut cfg = no_burn();
    cfg.transform.k = 0.0;
    cfg.transform.c = 0.0;
    let r = calc(
        vec![row(1, &[(1, 0.5), (2, 0.4)])],
        nodes_with_ip(&[1, 2]),
        cfg,
    );
    assert_eq!(r.fallback, Some(FallbackReason::DegenerateTransform));
    assert_eq!(r.uids, vec![252]);
    // A burn rate of 0 skips the burn with a warning; the weights stay as transformed.
    let mut cfg = burn_to(252);
    cfg.burn.rate = 0.0;
    let r = calc(vec![row(1, &[(1, 0.5)])], nodes_with_ip(&[1]), cfg);
    assert_eq!(r.burn_uid, None);
    assert_eq!(r.warnings.len(), 1);
    close(r.weights[1], 1.0);
}

#[test]
fn weights_file_takes_the_clock_only_when_now_is_absent() {
    use gaia_scoring::weights::WeightsFile;
    let clock = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400);
    let file: WeightsFile = serde_json::from_str(r#"{"rows": []}"#).unwrap();
    assert_eq!(
        file.into_request(clock).now,
        Utc.with_ymd_and_hms(1970, 1, 2, 0, 0, 0).unwrap()
    );
    let file: WeightsFile =
        serde_json::from_str(r#"{"now": "2026-11-28T00:00:00Z", "rows": []}"#).unwrap();
    assert_eq!(file.into_request(clock).now, now());
    // A node without an IP field has no IP.
    let node: NodeInfo = serde_json::from_str(r#"{"uid": 3}"#).unwrap();
    assert!(!node.has_ip());
}

/// §12-5: a UID with a score but no node row keeps its weight; a node row without an IP does not.
#[test]
fn a_uid_without_a_node_row_keeps_its_weight() {
    let mut nodes = nodes_with_ip(&[1]);
    nodes.push(NodeInfo {
        uid: 2,
        hotkey: "hk2".into(),
        ip: Some("0".into()),
        coldkey: None,
    });
    // uid 3 has no node row at all.
    let r = calc(
        vec![row(1, &[(1, 0.8), (2, 0.8), (3, 0.4)])],
        nodes,
        no_burn(),
    );
    assert_eq!(r.fallback, None);
    assert_eq!(r.aggregated_scores[2], 0.0, "node without IP");
    close(r.aggregated_scores[3], 0.4);
    assert!(
        r.weights[3] > 0.0 && r.weights[1] > r.weights[3],
        "{:?}",
        &r.weights[..4]
    );
    assert_eq!(r.uids, vec![1, 3]);
}

/// §12-5: the reference tests `nz_indices.any()`, false when UID 0 holds the only positive score.
#[test]
fn a_lone_positive_score_at_uid_0_falls_back_to_uid_252() {
    let r = calc(vec![row(1, &[(0, 0.9)])], nodes_with_ip(&[0]), no_burn());
    assert_eq!(r.fallback, Some(FallbackReason::OnlyUidZero));
    assert_eq!((r.uids, r.values), (vec![252], vec![65535]));
    // With a second positive UID the transform runs and UID 0 gets weight.
    let r = calc(
        vec![row(1, &[(0, 0.9), (5, 0.3)])],
        nodes_with_ip(&[0, 5]),
        no_burn(),
    );
    assert_eq!(r.fallback, None);
    assert!(r.weights[0] > r.weights[5], "{:?}", &r.weights[..6]);
}

/// §5.4 / §12-5: active validators lose their weight after the burn, except the burn UID; the
/// rest is renormalised and quantised.
#[test]
fn active_validators_get_weight_zero_except_the_burn_uid() {
    let rows = vec![row(1, &[(1, 0.8), (2, 0.4), (3, 0.2)])];
    let nodes = nodes_with_ip(&[1, 2, 3]);
    let base = calc(rows.clone(), nodes.clone(), burn_to(200));
    let r = calculate_weights(&WeightsRequest {
        now: now(),
        rows,
        nodes,
        active_validators: vec![2, 200, 77],
        config: burn_to(200),
    })
    .unwrap();
    assert_eq!(
        r.zeroed_validators,
        vec![2],
        "200 is the burn UID, 77 has no weight"
    );
    assert_eq!(
        r.pre_burn_weights, base.pre_burn_weights,
        "zeroed after the burn"
    );
    assert_eq!(r.weights[2], 0.0);
    let kept = base.weights[1] + base.weights[3] + base.weights[200];
    for uid in [1, 3, 200] {
        close(r.weights[uid], base.weights[uid] / kept);
    }
    assert_eq!(r.uids, vec![1, 3, 200]);
    assert_eq!(*r.values.last().unwrap(), 65535);
}
