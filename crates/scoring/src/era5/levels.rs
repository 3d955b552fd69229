//! Mass weights of pressure levels: the normalised half-level thickness used to combine
//! per-level ERA5 metrics into one number per variable (spec §4.3 item 7).
//!
//! For levels sorted ascending `p_0 < … < p_{n−1}`, the thickness of an inner level is
//! `(p_{k+1} − p_{k−1}) / 2`; the ends use one-sided half differences `(p_1 − p_0) / 2` and
//! `(p_{n−1} − p_{n−2}) / 2`. The thicknesses are normalised to sum 1 and returned in the order
//! of the input levels. A single level gets weight 1.

/// The production's 13 pressure levels (hPa).
pub const ERA5_LEVELS_HPA: [f64; 13] = [
    50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 700.0, 850.0, 925.0, 1000.0,
];

/// Normalised thickness weights for `levels` (any order; weights follow the input order).
/// `None` when the levels are not finite and distinct.
pub fn thickness_weights(levels: &[f64]) -> Option<Vec<f64>> {
    let n = levels.len();
    if n == 0 || levels.iter().any(|l| !l.is_finite()) {
        return None;
    }
    if n == 1 {
        return Some(vec![1.0]);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| levels[a].total_cmp(&levels[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| levels[i]).collect();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let mut thick = vec![0.0; n];
    for k in 0..n {
        thick[k] = if k == 0 {
            (sorted[1] - sorted[0]) / 2.0
        } else if k == n - 1 {
            (sorted[n - 1] - sorted[n - 2]) / 2.0
        } else {
            (sorted[k + 1] - sorted[k - 1]) / 2.0
        };
    }
    let total: f64 = thick.iter().sum();
    let mut out = vec![0.0; n];
    for (k, &i) in order.iter().enumerate() {
        out[i] = thick[k] / total;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_by_hand() {
        // levels 100, 200, 400: thicknesses 50, 150, 100 -> /300
        let w = thickness_weights(&[400.0, 100.0, 200.0]).unwrap();
        assert!((w[0] - 100.0 / 300.0).abs() < 1e-15);
        assert!((w[1] - 50.0 / 300.0).abs() < 1e-15);
        assert!((w[2] - 150.0 / 300.0).abs() < 1e-15);
        assert_eq!(thickness_weights(&[500.0]).unwrap(), vec![1.0]);
        assert!(thickness_weights(&[]).is_none());
        assert!(thickness_weights(&[1.0, 1.0]).is_none());
        assert!(thickness_weights(&[f64::NAN, 1.0]).is_none());
        let all = thickness_weights(&ERA5_LEVELS_HPA).unwrap();
        assert!((all.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
