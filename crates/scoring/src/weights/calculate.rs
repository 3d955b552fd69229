//! The `weights.calculate` pipeline (spec §5.2 steps 1–6, §5.3, §5.4, §12-5, chain.md §3.2):
//! select the rows of the window, average per UID, zero UIDs whose node has no IP, optional
//! coldkey smoothing, transform, fall back to UID 252 when degenerate, burn, zero the active
//! validators, quantise.
//!
//! One pure function of its request; each step lives in its own module.

use chrono::Duration;

use super::active::zero_active_validators;
use super::burn::apply_burn;
use super::quantize::quantize_dense;
use super::smoothing::apply_smoothing;
use super::transform::transform_scores;
use super::types::{
    FallbackReason, NodeInfo, ScoreTableRow, WeightsConfig, WeightsRequest, WeightsResult,
};
use super::WeightsError;

/// Number of UIDs in a score row and in the weight vector.
const NUM_UIDS: usize = 256;

/// Spec §5.2 steps 1–2: the rows of `rows` inside the window that match the task name and a
/// task-id prefix, and the per-UID arithmetic mean over them with `null`/NaN as 0 (so a run a
/// UID missed counts as 0). Returns the means and the number of rows used.
pub fn mean_scores(
    rows: &[ScoreTableRow],
    now: chrono::DateTime<chrono::Utc>,
    cfg: &WeightsConfig,
) -> Result<(Vec<f64>, usize), WeightsError> {
    if cfg.window_days <= 0 {
        return Err(WeightsError::InvalidWindow(cfg.window_days));
    }
    let since = now - Duration::days(cfg.window_days);
    let selected: Vec<&ScoreTableRow> = rows
        .iter()
        .filter(|r| r.task_name == "weather" && r.created_at >= since)
        .filter(|r| {
            cfg.task_id_prefixes
                .iter()
                .any(|p| r.task_id.starts_with(p.as_str()))
        })
        .collect();
    let mut sums = vec![0.0; NUM_UIDS];
    for row in &selected {
        if row.scores.len() != NUM_UIDS {
            return Err(WeightsError::RowLength {
                task_id: row.task_id.clone(),
                len: row.scores.len(),
            });
        }
        for (sum, score) in sums.iter_mut().zip(&row.scores) {
            *sum += score.filter(|s| !s.is_nan()).unwrap_or(0.0);
        }
    }
    let n = selected.len();
    if n > 0 {
        sums.iter_mut().for_each(|s| *s /= n as f64);
    }
    Ok((sums, n))
}

/// Compute the weights (handler `weights.calculate`).
///
/// Errors only on malformed input; every degenerate case (no rows, nothing positive, a
/// non-finite transform) gives weight 1.0 to `config.fallback_uid` and records the reason.
pub fn calculate_weights(req: &WeightsRequest) -> Result<WeightsResult, WeightsError> {
    let cfg = &req.config;
    check_uid(cfg.fallback_uid)?;
    if cfg.burn.enabled && !(0.0..=1.0).contains(&cfg.burn.rate) {
        return Err(WeightsError::SettingOutOfRange {
            field: "burn.rate",
            value: cfg.burn.rate,
            range: "[0, 1]",
        });
    }
    let nodes = index_nodes(&req.nodes)?;
    let (mut scores, rows_used) = mean_scores(&req.rows, req.now, cfg)?;

    // Step 3: non-finite and non-positive means, and UIDs whose node has no IP, get 0. A UID
    // with a score but no node row keeps it (§12-5: the reference only looks at rows it finds).
    for (uid, score) in scores.iter_mut().enumerate() {
        let served = nodes[uid].is_none_or(NodeInfo::has_ip);
        if !served || !score.is_finite() || *score <= 0.0 {
            *score = 0.0;
        }
    }
    // Step 4: optional coldkey smoothing (a no-op in production).
    let coldkeys: Vec<Option<String>> = nodes
        .iter()
        .map(|n| n.and_then(|n| n.coldkey.clone()))
        .collect();
    apply_smoothing(&mut scores, &coldkeys, &cfg.smoothing);

    let mut result = WeightsResult {
        weights: Vec::new(),
        pre_burn_weights: Vec::new(),
        uids: Vec::new(),
        values: Vec::new(),
        aggregated_scores: scores.clone(),
        rows_used,
        fallback: None,
        midpoint: None,
        cv: None,
        contrast_applied: false,
        burn_uid: None,
        zeroed_validators: Vec::new(),
        warnings: Vec::new(),
    };

    // Steps 5–6: transform or fall back.
    let transformed = if rows_used == 0 {
        Err(FallbackReason::NoRows)
    } else if !scores.iter().any(|&s| s > 0.0) {
        Err(FallbackReason::NoPositiveScores)
    } else if !scores.iter().skip(1).any(|&s| s > 0.0) {
        // §12-5: the reference tests `nz_indices.any()` on the indices of the positive scores,
        // which is false when the only one is UID 0.
        Err(FallbackReason::OnlyUidZero)
    } else {
        transform_scores(&scores, &cfg.transform).ok_or(FallbackReason::DegenerateTransform)
    };
    let pre_burn = match transformed {
        Ok(t) => {
            result.midpoint = Some(t.midpoint);
            result.cv = Some(t.cv);
            result.contrast_applied = t.contrast_applied;
            t.weights
        }
        Err(reason) => {
            result.fallback = Some(reason);
            let mut w = vec![0.0; NUM_UIDS];
            w[usize::from(cfg.fallback_uid)] = 1.0;
            w
        }
    };

    // Spec §5.3: burn.
    let mut weights = pre_burn.clone();
    if cfg.burn.enabled {
        match resolve_burn_uid(&req.nodes, cfg)? {
            Some(uid) => match apply_burn(&pre_burn, uid, cfg.burn.rate) {
                Some(burned) => {
                    weights = burned;
                    result.burn_uid = Some(uid);
                }
                None => result.warnings.push(format!(
                    "burn skipped: rate {} or total weight not positive",
                    cfg.burn.rate
                )),
            },
            None => result.warnings.push(format!(
                "burn skipped: burn hotkey {} not in the node list",
                cfg.burn.hotkey
            )),
        }
    }

    // Spec §5.4: active validators get no weight, except the burn UID.
    let burn_uid = result.burn_uid.or(cfg.burn.uid);
    result.zeroed_validators =
        zero_active_validators(&mut weights, &req.active_validators, burn_uid);

    // chain.md §3.2: u16 quantisation over node ids 0..256.
    let quantized = quantize_dense(&weights)?;
    result.uids = quantized.uids;
    result.values = quantized.values;
    result.weights = weights;
    result.pre_burn_weights = pre_burn;
    Ok(result)
}

/// The burn UID: the configured one, else the node whose hotkey is the burn hotkey.
fn resolve_burn_uid(nodes: &[NodeInfo], cfg: &WeightsConfig) -> Result<Option<u16>, WeightsError> {
    if let Some(uid) = cfg.burn.uid {
        check_uid(uid)?;
        return Ok(Some(uid));
    }
    Ok(nodes
        .iter()
        .find(|n| !n.hotkey.is_empty() && n.hotkey == cfg.burn.hotkey)
        .map(|n| n.uid))
}

/// Node per UID (index = UID), rejecting out-of-range and duplicate UIDs.
fn index_nodes(nodes: &[NodeInfo]) -> Result<Vec<Option<&NodeInfo>>, WeightsError> {
    let mut by_uid: Vec<Option<&NodeInfo>> = vec![None; NUM_UIDS];
    for node in nodes {
        check_uid(node.uid)?;
        let slot = &mut by_uid[usize::from(node.uid)];
        if slot.is_some() {
            return Err(WeightsError::DuplicateUid(node.uid));
        }
        *slot = Some(node);
    }
    Ok(by_uid)
}

fn check_uid(uid: u16) -> Result<(), WeightsError> {
    if usize::from(uid) < NUM_UIDS {
        Ok(())
    } else {
        Err(WeightsError::UidOutOfRange(uid))
    }
}
